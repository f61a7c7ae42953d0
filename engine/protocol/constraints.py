"""The checks botocore leaves to the server: max, pattern and enum.

botocore's ParamValidator checks only types, required members and minimums; AWS
checks the rest on the server and answers ``ValidationException`` with a message
of a fixed form, which this module reproduces::

    1 validation error detected: Value 'bad_name!' at 'trainingJobName' failed to
    satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
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
        checker = _checker(input_shape)
        if checker is not None:
            checker(params, "", out)
    return out


def check(input_shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise AWS's ``ValidationException`` listing every constraint the request breaks."""
    errors = constraint_errors(input_shape, params)
    if errors:
        n = len(errors)
        head = f"{n} validation error{'s' if n > 1 else ''} detected: "
        raise ServiceError("ValidationException", head + "; ".join(errors))


# -- compiled checkers -----------------------------------------------------------------------------
# ``_check`` walks the shape for every request. The compiled form does the same checks, with the
# same messages in the same order, but is built once per operation: members that cannot break a
# constraint (blobs, booleans, unconstrained strings...) are left out, and regexes are compiled
# up front. A request then costs a few dictionary lookups and the checks its values need.

Checker = Callable[[Any, str, list], None]
_compiled: dict[int, tuple[Shape, Checker | None]] = {}
_compile_lock = threading.Lock()


def _checker(shape: Shape) -> Checker | None:
    entry = _compiled.get(id(shape))
    if entry is None or entry[0] is not shape:
        with _compile_lock:
            entry = (shape, _build(shape, {}))
            _compiled[id(shape)] = entry  # the shape is kept alive with it, so its id is never reused
    return entry[1]


def _build(shape: Shape, building: dict[str, Any]) -> Checker | None:
    """A checker for ``shape`` (None when no value of it can break a constraint)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if shape.name in building:  # a recursive shape: defer to the checker being built
            slot = building[shape.name]
            return lambda value, path, out: slot[0](value, path, out) if slot[0] else None
        slot: list = [None]
        building[shape.name] = slot
        members = []
        for name, member in shape.members.items():
            c = _build(member, building)
            if c is not None:
                members.append((name, _camel(name), c))
        del building[shape.name]
        if not members:
            return None

        def structure(value, path, out):
            if not isinstance(value, dict):
                return
            for name, camel, c in members:
                v = value.get(name)
                if v is not None:
                    c(v, f"{path}.{camel}" if path else camel, out)

        slot[0] = structure
        return structure
    if kind in ("list", "map"):
        limit = meta.get("max")
        if kind == "list":
            item = _build(shape.member, building)
            if limit is None and item is None:
                return None

            def listing(value, path, out):
                if not isinstance(value, list):
                    return
                if limit is not None and len(value) > limit:
                    out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                               f"Member must have length less than or equal to {limit}")
                if item is not None:
                    for i, v in enumerate(value):
                        if v is not None:
                            item(v, f"{path}.{i + 1}.member", out)

            return listing
        key, val = _build(shape.key, building), _build(shape.value, building)
        if limit is None and key is None and val is None:
            return None

        def mapping(value, path, out):
            if not isinstance(value, dict):
                return
            if limit is not None and len(value) > limit:
                out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                           f"Member must have length less than or equal to {limit}")
            for k, v in value.items():
                if key is not None and k is not None:
                    key(k, f"{path}.{k}.key", out)
                if val is not None and v is not None:
                    val(v, f"{path}.{k}.value", out)

        return mapping
    if kind == "string":
        limit = meta.get("max")
        enum = shape.enum
        members = frozenset(enum) if enum else None
        pattern = meta.get("pattern") if not enum else None
        rx = _compile(pattern) if pattern else None
        if limit is None and members is None and rx is None:
            return None
        shown = f"[{', '.join(enum)}]" if enum else ""
        anchored = _anchored(pattern) if pattern else ""

        def string(value, path, out):
            if not isinstance(value, str):
                return
            if limit is not None and len(value) > limit:
                out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                           f"Member must have length less than or equal to {limit}")
            if members is not None and value not in members:
                out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                           f"Member must satisfy enum value set: {shown}")
            if rx is not None and rx.fullmatch(value) is None:
                out.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                           f"Member must satisfy regular expression pattern: {anchored}")

        return string
    if kind in ("integer", "long", "float", "double") and "max" in meta:
        limit = meta["max"]

        def number(value, path, out):
            if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
                out.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: "
                           f"Member must have value less than or equal to {limit}")

        return number
    return None
