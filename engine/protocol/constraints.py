"""The checks botocore leaves to the server: max, pattern and enum.

botocore's ParamValidator checks only types, required members and minimums; AWS
checks the rest on the server and answers ``ValidationException`` with a message
of a fixed form, which this module reproduces::

    1 validation error detected: Value 'bad_name!' at 'trainingJobName' failed to
    satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from botocore.model import Shape

from engine.errors import ServiceError


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:  # Java-only syntax: leave it to the backend
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return str(value)
    return str(value)


def _check(shape: Shape, value: Any, path: str, out: list[str]) -> None:
    if value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], f"{path}.{_camel(name)}" if path else _camel(name), out)
        return
    if kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                       f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}.{i + 1}.member", out)
        return
    if kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                       f"Member must have length less than or equal to {meta['max']}")
        for k, v in value.items():
            _check(shape.key, k, f"{path}.{k}.key", out)
            _check(shape.value, v, f"{path}.{k}.value", out)
        return
    if kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                       f"Member must have length less than or equal to {meta['max']}")
        enum = shape.enum
        if enum and value not in enum:
            out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                       f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = meta.get("pattern")
        if pattern and not enum:
            rx = _compile(pattern)
            if rx is not None and rx.fullmatch(value) is None:
                out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                           f"Member must satisfy regular expression pattern: {_anchored(pattern)}")
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float) and not isinstance(value, bool):
        if "max" in meta and value > meta["max"]:
            out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                       f"Member must have value less than or equal to {meta['max']}")


def _anchored(pattern: str) -> str:
    return pattern if pattern.startswith("^") else "^" + pattern


def constraint_errors(input_shape: Shape | None, params: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if input_shape is not None:
        _check(input_shape, params, "", out)
    return out


def check(input_shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise AWS's ``ValidationException`` listing every constraint the request breaks."""
    errors = constraint_errors(input_shape, params)
    if errors:
        n = len(errors)
        head = f"{n} validation error{'s' if n > 1 else ''} detected: "
        raise ServiceError("ValidationException", head + "; ".join(errors))
