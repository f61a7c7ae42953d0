"""A small declarative hyperparameter spec with AWS's rules and wording.

AWS passes every hyperparameter as a string. Each built-in declares its
hyperparameters as ``Param`` rows (name, type, required, default, range or
choices) and ``Spec.parse`` turns the raw strings into typed values, failing
with an ``AlgorithmClientError`` whose text follows the built-ins' style:

* missing:  ``No value(s) were specified for 'k' which are required hyperparameter(s) for this algorithm.``
* unknown:  ``Additional hyperparameters are not allowed (u'foo' was unexpected)``
* invalid:  ``Hyperparameter 'num_trees': value '10' is out of range; allowed range is [50, 1000].``

Names starting with ``_`` or ``sagemaker_`` (``_tuning_objective_metric`` from
the tuner, ``sagemaker_*`` from the SDK) are always accepted and dropped.
Params marked ``ignored`` are accepted and validated as AWS does but have no
effect on SageTutor's scikit-learn implementation (each module says why).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.algorithms.base import AlgorithmClientError

_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    kind: ``int``, ``float``, ``bool``, ``str`` (free text), ``choice`` (one of
    ``choices``), ``list`` (comma-separated or JSON list of strings, each in
    ``choices`` when given), ``int_list`` (comma-separated integers).
    ``auto``: the literal string "auto" is also accepted (parsed as "auto").
    ``low``/``high``: inclusive bounds unless ``low_open``/``high_open``.
    """

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    auto: bool = False
    ignored: bool = False


def missing_error(names: list[str] | str, why: str = "") -> AlgorithmClientError:
    """AWS's wording for missing required hyperparameters (``why`` adds the condition, if any)."""
    if isinstance(names, str):
        names = [names]
    quoted = ", ".join(f"'{n}'" for n in names)
    text = f"No value(s) were specified for {quoted} which are required hyperparameter(s) for this algorithm."
    if why:
        text += f" ({why})"
    return AlgorithmClientError(text)


def invalid_error(name: str, value: Any, allowed: str) -> AlgorithmClientError:
    return AlgorithmClientError(f"Hyperparameter '{name}': value '{value}' is {allowed}.")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


class Spec:
    """The hyperparameters of one built-in; ``parse`` is all a module needs."""

    def __init__(self, *params: Param, reject_unknown: bool = True) -> None:
        self.params = {p.name: p for p in params}
        self.reject_unknown = reject_unknown

    def names(self) -> list[str]:
        return sorted(self.params)

    def parse(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        raw = {str(k): v for k, v in (raw or {}).items() if not _is_reserved(str(k))}
        unknown = sorted(k for k in raw if k not in self.params)
        if unknown and self.reject_unknown:
            listed = ", ".join(f"u'{k}'" for k in unknown)
            verb = "was" if len(unknown) == 1 else "were"
            raise AlgorithmClientError(f"Additional hyperparameters are not allowed ({listed} {verb} unexpected)")
        missing = [p.name for p in self.params.values() if p.required and _blank(raw.get(p.name))]
        if missing:
            raise missing_error(missing)
        out: dict[str, Any] = {}
        for p in self.params.values():
            value = raw.get(p.name)
            out[p.name] = p.default if _blank(value) else _convert(p, value)
        return out


def _is_reserved(name: str) -> bool:
    return name.startswith("_") or name.startswith("sagemaker_")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _convert(p: Param, value: Any) -> Any:
    text = str(value).strip()
    if p.auto and text.lower() == "auto":
        return "auto"
    if p.kind == "int":
        return _check_range(p, text, _to_int(p, text))
    if p.kind == "float":
        return _check_range(p, text, _to_float(p, text))
    if p.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise invalid_error(p.name, text, "not a valid boolean; use 'true' or 'false'")
    if p.kind == "choice":
        assert p.choices is not None
        for c in p.choices:
            if text == c or text.lower() == c.lower():
                return c
        raise invalid_error(p.name, text, f"not one of {list(p.choices)}")
    if p.kind == "list":
        items = _split_list(p, text)
        if p.choices is not None:
            for item in items:
                if item not in p.choices:
                    raise invalid_error(p.name, text, f"not a list of values from {list(p.choices)}")
        return items
    if p.kind == "int_list":
        return [_to_int(p, item, whole=text) for item in _split_list(p, text)]
    return text


def _split_list(p: Param, text: str) -> list[str]:
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            try:  # AWS docs write lists with single quotes: '["msd"]' or "['msd']"
                parsed = json.loads(text.replace("'", '"'))
            except ValueError:
                raise invalid_error(p.name, text, "not a valid list") from None
        if not isinstance(parsed, list):
            raise invalid_error(p.name, text, "not a valid list")
        items = [str(x).strip() for x in parsed]
    else:
        items = [x.strip() for x in text.split(",")]
    items = [x for x in items if x]
    if not items:
        raise invalid_error(p.name, text, "an empty list")
    return items


def _to_int(p: Param, text: str, whole: str | None = None) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        raise invalid_error(p.name, whole or text, "not a valid integer") from None
    if not math.isfinite(f) or not f.is_integer():
        raise invalid_error(p.name, whole or text, "not a valid integer")
    return int(f)


def _to_float(p: Param, text: str) -> float:
    try:
        f = float(text)
    except ValueError:
        raise invalid_error(p.name, text, "not a valid number") from None
    if not math.isfinite(f):
        raise invalid_error(p.name, text, "not a finite number")
    return f


def _check_range(p: Param, text: str, v: float) -> Any:
    too_low = p.low is not None and (v <= p.low if p.low_open else v < p.low)
    too_high = p.high is not None and (v >= p.high if p.high_open else v > p.high)
    if too_low or too_high:
        lo = "-inf" if p.low is None else _fmt(p.low)
        hi = "inf" if p.high is None else _fmt(p.high)
        left = "(" if p.low_open or p.low is None else "["
        right = ")" if p.high_open or p.high is None else "]"
        raise invalid_error(p.name, text, f"out of range; allowed range is {left}{lo}, {hi}{right}")
    return v
