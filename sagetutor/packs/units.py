"""Quantities with units, as authors write them in requirements and plans.

Durations: ``250ms``, ``90s``, ``10min``, ``1.5h``, ``2d`` (a bare number in a plan is
seconds). Money: ``$5``, ``$0.25``. Fractions: ``95%`` or ``0.95``. Everything is
converted to one base unit: seconds, dollars, a fraction 0-1.
"""

from __future__ import annotations

import re

#: Duration units and their length in seconds.
DURATION_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

NUMBER = r"[0-9][0-9_]*(?:\.[0-9_]+)?"
_DURATION = re.compile(rf"^\s*({NUMBER})\s*([a-z]+)\s*$")

#: A duration string in a plan (what the JSON Schema accepts).
DURATION_PATTERN = rf"^\s*{NUMBER}\s*(ms|s|min|h|d)\s*$"

#: Units authors try that mean something else here, with the unit to write instead.
UNIT_HINTS = {"m": "min", "mins": "min", "minute": "min", "minutes": "min", "sec": "s", "secs": "s",
              "second": "s", "seconds": "s", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
              "day": "d", "days": "d", "msec": "ms", "millis": "ms"}


def number(text: str) -> float:
    return float(text.replace("_", ""))


def unit_error(unit: str) -> str:
    """A sentence for an unknown duration unit."""
    hint = UNIT_HINTS.get(unit)
    known = ", ".join(DURATION_UNITS)
    if hint:
        return f"unknown unit '{unit}': write '{hint}' (units: {known})"
    return f"unknown unit '{unit}' (units: {known})"


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``90.0``, ``"90s"``, ``"10min"``, ``"1.5h"``; ValueError with a plain sentence."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 10min or 2h, not true/false")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative ({value})")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 90s, 10min or 2h, got {type(value).__name__}")
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"'{value}' is not a duration: write a number and a unit, such as 90s, 10min or 2h")
    unit = m.group(2)
    if unit not in DURATION_UNITS:
        raise ValueError(unit_error(unit))
    return number(m.group(1)) * DURATION_UNITS[unit]


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 600 -> '10min', 5400 -> '90min', 0.1 -> '100ms'."""
    for unit in ("d", "h", "min", "s"):
        size = DURATION_UNITS[unit]
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"
