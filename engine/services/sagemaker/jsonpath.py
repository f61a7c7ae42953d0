"""SageMaker's JSONPath subset for batch transform ``DataProcessing`` filters.

The operators the Developer Guide lists (batch-transform-data-processing), and no others:

=================  ==================================================  ============================
``$``              the root; every expression starts with it           ``$``
``.name``          a dot-notated child                                  ``$.features``
``*``              wildcard: every child of an object or array          ``$.id.*``, ``$[*]``
``['a','b']``      one or more bracket-notated children                 ``$['id','SageMakerOutput']``
``[n(,n)]``        one or more indexes; negative counts from the end    ``$[0]``, ``$[1,3,5]``, ``$[-1]``
``[start:end]``    a slice; start or end may be omitted                 ``$[2:5]``, ``$[:5]``, ``$[2:]``
=================  ==================================================  ============================

**Slices include their end.** The Developer Guide describes ``$[1:4]`` as "the second through fifth
columns" and ``[:5]`` as "the first column (index 0) through the sixth column", i.e. the element at
``end`` is selected too (unlike Python slices, and unlike Jayway JsonPath). This module follows
SageMaker's description; negative bounds count from the end (``$[-3:-1]`` is the last three).

Results follow Jayway JsonPath, which SageMaker's filters are built on: a *definite* path (only
single names, single indexes and bracketed name lists) selects one value; a path with a wildcard,
several indexes or a slice selects a list. ``['a','b']`` selects an object holding just those
members (the form ``$['id','SageMakerOutput']`` relies on). An explicit index outside the array
is an error, as SageMaker reports "indexes that aren't within the dimension size" as one; a slice
is clipped to the array.

For CSV data each row is a JSON array of its (text) cells, so only index-based paths apply:
``JsonPath.columns(width)`` turns such a path into the column positions it selects, once per row
width, so filtering a million rows is a list lookup per row rather than a tree walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class JsonPathError(ValueError):
    """An expression outside SageMaker's subset, or a path that does not fit the record."""


@dataclass(frozen=True)
class Step:
    kind: str  # "name", "names", "index", "indexes", "slice", "wild"
    names: tuple[str, ...] = ()
    indexes: tuple[int, ...] = ()
    start: int | None = None
    end: int | None = None

    @property
    def by_index(self) -> bool:
        return self.kind in ("index", "indexes", "slice", "wild")

    @property
    def definite(self) -> bool:
        return self.kind in ("name", "names", "index")


_NAME = re.compile(r"[^.\[\]\s'\"*]+")
_INT = re.compile(r"-?\d+")


def _bracket(expr: str, body: str) -> Step:
    body = body.strip()
    if body == "*":
        return Step("wild")
    if body.startswith(("'", '"')):
        names = []
        for part in _split_names(expr, body):
            names.append(part)
        return Step("name", names=tuple(names)) if len(names) == 1 else Step("names", names=tuple(names))
    if ":" in body:
        parts = [p.strip() for p in body.split(":")]
        if len(parts) != 2:
            raise JsonPathError(f"Invalid JSONPath {expr!r}: slices take [start:end] (no step)")
        bounds = []
        for p in parts:
            if p == "":
                bounds.append(None)
            elif _INT.fullmatch(p):
                bounds.append(int(p))
            else:
                raise JsonPathError(f"Invalid JSONPath {expr!r}: slice bound {p!r} is not an integer")
        return Step("slice", start=bounds[0], end=bounds[1])
    items = [p.strip() for p in body.split(",")]
    if not items or not all(_INT.fullmatch(p) for p in items):
        raise JsonPathError(f"Invalid JSONPath {expr!r}: [{body}] is not an index, an index list, a slice, "
                            "'*' or a list of quoted names (filters and scripts are not supported)")
    idx = tuple(int(p) for p in items)
    return Step("index", indexes=idx) if len(idx) == 1 else Step("indexes", indexes=idx)


def _split_names(expr: str, body: str) -> list[str]:
    names = []
    i = 0
    while i < len(body):
        q = body[i]
        if q not in "'\"":
            raise JsonPathError(f"Invalid JSONPath {expr!r}: expected a quoted name in [{body}]")
        j = body.find(q, i + 1)
        if j < 0:
            raise JsonPathError(f"Invalid JSONPath {expr!r}: unterminated name in [{body}]")
        name = body[i + 1:j]
        if "." in name or "[" in name:
            raise JsonPathError(f"Invalid JSONPath {expr!r}: nested children inside a bracket list are not "
                                f"supported ({name!r})")
        names.append(name)
        i = j + 1
        while i < len(body) and body[i] == " ":
            i += 1
        if i < len(body):
            if body[i] != ",":
                raise JsonPathError(f"Invalid JSONPath {expr!r}: expected ',' between names in [{body}]")
            i += 1
            while i < len(body) and body[i] == " ":
                i += 1
    return names


@lru_cache(maxsize=256)
def parse(expr: str) -> JsonPath:
    """Compile an expression (cached); JsonPathError if it is outside SageMaker's subset."""
    if expr is None or not expr.strip():
        raise JsonPathError("Invalid JSONPath '': an expression starts with '$'")
    text = expr.strip()
    if not text.startswith("$"):
        raise JsonPathError(f"Invalid JSONPath {expr!r}: an expression starts with '$' (the root)")
    steps: list[Step] = []
    i = 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == ".":
            if text.startswith("..", i):
                raise JsonPathError(f"Invalid JSONPath {expr!r}: deep scan '..' is not supported")
            i += 1
            if i < n and text[i] == "*":
                steps.append(Step("wild"))
                i += 1
                continue
            if i < n and text[i] == "[":
                continue  # "$.field.['a','b']" is written with a dot before the bracket
            m = _NAME.match(text, i)
            if not m:
                raise JsonPathError(f"Invalid JSONPath {expr!r}: expected a name after '.' at position {i}")
            steps.append(Step("name", names=(m.group(0),)))
            i = m.end()
        elif c == "[":
            j = _closing(text, i, expr)
            body = text[i + 1:j]
            if body.startswith("?") or body.startswith("("):
                raise JsonPathError(f"Invalid JSONPath {expr!r}: filter and script expressions are not supported")
            steps.append(_bracket(expr, body))
            i = j + 1
        else:
            raise JsonPathError(f"Invalid JSONPath {expr!r}: unexpected {c!r} at position {i}")
    return JsonPath(text, tuple(steps))


def _closing(text: str, i: int, expr: str) -> int:
    quote = None
    for j in range(i + 1, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise JsonPathError(f"Invalid JSONPath {expr!r}: '[' at position {i} is not closed")


def _index(i: int, size: int, expr: str) -> int:
    k = i + size if i < 0 else i
    if not 0 <= k < size:
        raise JsonPathError(f"JSONPath {expr} selects index {i}, outside the record's {size} element(s)")
    return k


def _slice(step: Step, size: int) -> range:
    start = 0 if step.start is None else step.start
    if start < 0:
        start += size
    end = size - 1 if step.end is None else step.end
    if end < 0:
        end += size
    start = max(0, start)
    end = min(size - 1, end)  # inclusive, as SageMaker describes $[1:4]
    return range(start, end + 1)


@dataclass(frozen=True)
class JsonPath:
    expr: str
    steps: tuple[Step, ...]

    @property
    def identity(self) -> bool:
        """``$``: the whole record (the default filter, which costs nothing)."""
        return not self.steps

    @property
    def definite(self) -> bool:
        return all(s.definite for s in self.steps)

    @property
    def index_only(self) -> bool:
        return all(s.by_index for s in self.steps)

    def __str__(self) -> str:
        return self.expr

    # -- CSV rows: flat arrays of cells ---------------------------------------------------
    def check_csv(self, what: str) -> None:
        """CSV rows are flat arrays: one index-based step at most."""
        if not self.index_only:
            raise JsonPathError(f"{what} {self.expr}: for CSV data each row is a JSON array, so only index-based "
                                "JSONPaths such as $[0], $[1:] or $[0,-1] apply")
        if len(self.steps) > 1:
            raise JsonPathError(f"{what} {self.expr}: a CSV row is a flat array of values; it has no nested "
                                "elements to select")

    def columns(self, width: int) -> tuple[tuple[int, ...], bool]:
        """(column positions, whether one scalar is selected) for a CSV row of ``width`` cells."""
        return _columns(self, width)

    # -- JSON values ------------------------------------------------------------------------
    def select(self, value: Any) -> Any:
        nodes = [value]
        definite = True
        for step in self.steps:
            out: list[Any] = []
            for node in nodes:
                out.extend(self._apply(step, node))
            nodes = out
            definite = definite and step.definite
        if definite:
            if not nodes:
                raise JsonPathError(f"JSONPath {self.expr} selects nothing in the record")
            return nodes[0]
        return nodes

    def _apply(self, step: Step, node: Any) -> list[Any]:
        kind = step.kind
        if kind == "name":
            name = step.names[0]
            if isinstance(node, dict):
                if name in node:
                    return [node[name]]
                if self.definite:
                    raise JsonPathError(f"JSONPath {self.expr}: the record has no attribute {name!r}")
                return []
            if self.definite:
                raise JsonPathError(f"JSONPath {self.expr}: .{name} applied to a {_kind(node)}, not an object")
            return []
        if kind == "names":
            if not isinstance(node, dict):
                raise JsonPathError(f"JSONPath {self.expr}: {list(step.names)} applied to a {_kind(node)}, "
                                    "not an object")
            return [{k: node[k] for k in step.names if k in node}]
        if kind == "wild":
            if isinstance(node, dict):
                return list(node.values())
            if isinstance(node, list):
                return list(node)
            return []
        if not isinstance(node, list):
            if self.definite:
                raise JsonPathError(f"JSONPath {self.expr}: an index applied to a {_kind(node)}, not an array")
            return []
        if kind in ("index", "indexes"):
            return [node[_index(i, len(node), self.expr)] for i in step.indexes]
        return [node[k] for k in _slice(step, len(node))]


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if v is None:
        return "null"
    return "number" if not isinstance(v, bool) else "boolean"


@lru_cache(maxsize=1024)
def _columns(path: JsonPath, width: int) -> tuple[tuple[int, ...], bool]:
    if not path.steps:
        return tuple(range(width)), False
    step = path.steps[0]
    if step.kind == "wild":
        return tuple(range(width)), False
    if step.kind == "slice":
        return tuple(_slice(step, width)), False
    cols = tuple(_index(i, width, path.expr) for i in step.indexes)
    return cols, step.kind == "index"
