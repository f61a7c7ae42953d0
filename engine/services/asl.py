"""Amazon States Language: definitions, paths, intrinsic functions and Choice rules.

Everything here is pure (no clock, no services): ``parse`` validates a definition the way
CreateStateMachine does and returns it; the execution engine (``engine.services.stepfunctions``)
walks it in virtual time and uses the helpers below for the data flow of each state::

    raw input -> InputPath -> Parameters -> (the task) -> ResultSelector -> ResultPath -> OutputPath

Paths are Step Functions' JsonPath (Jayway's syntax): ``$`` the state's input and ``$$`` the
context object; ``.name``, ``['name']``, ``[n]`` (negative counts from the end), ``[*]``, ``.*``,
``[a:b]`` (end excluded), ``..name`` (deep scan), ``[n,m]``, ``['a','b']`` and filters
``[?(@.Name == 'x')]`` (``==, !=, <, <=, >, >=``, ``&&``, ``||``, or a bare ``@.x`` for presence).
A *definite* path (names and single indexes only) selects one value; any other selects a list.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

# ----------------------------------------------------------------------------- errors


class DefinitionError(Exception):
    """CreateStateMachine's ``InvalidDefinition``: one or more ``CODE: text at /pointer`` entries."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems

    @property
    def message(self) -> str:
        if len(self.problems) == 1:
            return f"Invalid State Machine Definition: '{self.problems[0]}'"
        return "Invalid State Machine Definition: '" + ", ".join(f"'{p}'" for p in self.problems) + "'"


class PathError(ValueError):
    """A path that is not valid JsonPath syntax."""


class NotFound(Exception):  # noqa: N818 (a signal, not a failure)
    """A definite path matched nothing."""


class StatesError(Exception):
    """A named error a state reports; Retry and Catch may handle it."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class RuntimeFailure(Exception):
    """``States.Runtime``: fails the execution; neither Retry nor Catch (not even States.ALL) handles it."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def dumps(value: Any) -> str:
    """JSON as Step Functions writes it in histories and outputs: compact, keys in the order given."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ----------------------------------------------------------------------------- JsonPath


@dataclass(frozen=True)
class _Step:
    kind: str  # name, names, index, indexes, wild, slice, filter, deep
    arg: Any = None


_NAME = re.compile(r"[^.\[\]()'\"\s=!<>&|,]+")


@lru_cache(maxsize=2048)
def compile_path(text: str) -> Path:
    return Path(text)


class Path:
    """A compiled JsonPath; ``find`` returns one value (definite paths) or a list."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text.startswith("$"):
            raise PathError(f"The value for the field must be a valid JSONPath: '{text}'")
        self.text = text
        self.context = text.startswith("$$")
        self.steps = tuple(_parse_steps(text, 2 if self.context else 1))
        self.definite = all(s.kind in ("name", "index") for s in self.steps)

    @property
    def reference(self) -> bool:
        """A Reference Path (the only kind ResultPath and Choice variables may use)."""
        return self.definite

    def find(self, data: Any) -> Any:
        nodes = [data]
        for step in self.steps:
            nodes = _apply(step, nodes)
            if self.definite and not nodes:
                raise NotFound(self.text)
        if self.definite:
            if not nodes:
                raise NotFound(self.text)
            return nodes[0]
        return nodes

    def keys(self) -> list[str | int]:
        """The steps of a reference path as keys (for ResultPath)."""
        return [s.arg for s in self.steps]


def _parse_steps(text: str, i: int) -> list[_Step]:
    steps: list[_Step] = []
    n = len(text)
    while i < n:
        if text.startswith("..", i):
            i += 2
            if i < n and text[i] == "[":
                j = _closing(text, i)
                inner = _bracket(text[i + 1:j], text)
                if inner.kind not in ("name", "names", "wild"):
                    raise PathError(f"Invalid path '{text}'")
                steps.append(_Step("deep", inner))
                i = j + 1
                continue
            m = _NAME.match(text, i)
            if text.startswith("*", i):
                steps.append(_Step("deep", _Step("wild")))
                i += 1
            elif m:
                steps.append(_Step("deep", _Step("name", m.group())))
                i = m.end()
            else:
                raise PathError(f"Invalid path '{text}'")
        elif text[i] == ".":
            i += 1
            if text.startswith("*", i):
                steps.append(_Step("wild"))
                i += 1
                continue
            m = _NAME.match(text, i)
            if not m:
                raise PathError(f"Invalid path '{text}'")
            steps.append(_Step("name", m.group()))
            i = m.end()
        elif text[i] == "[":
            j = _closing(text, i)
            steps.append(_bracket(text[i + 1:j], text))
            i = j + 1
        else:
            raise PathError(f"Invalid path '{text}'")
    return steps


def _closing(text: str, i: int) -> int:
    depth, quote = 0, None
    for j in range(i, len(text)):
        c = text[j]
        if quote:
            if c == "\\":
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth == 0:
                if c != "]":
                    raise PathError(f"Invalid path '{text}'")
                return j
    raise PathError(f"Invalid path '{text}'")


def _split_top(s: str, sep: str) -> list[str]:
    parts, depth, quote, cur = [], 0, None, []
    i = 0
    while i < len(s):
        c = s[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            cur.append(c)
        elif c in "([":
            depth += 1
            cur.append(c)
        elif c in ")]":
            depth -= 1
            cur.append(c)
        elif depth == 0 and s.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unquote(s: str) -> str | None:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", s[1:-1])
    return None


def _bracket(inner: str, text: str) -> _Step:
    inner = inner.strip()
    if inner == "*":
        return _Step("wild")
    if inner.startswith("?(") and inner.endswith(")"):
        return _Step("filter", _compile_filter(inner[2:-1], text))
    parts = _split_top(inner, ",")
    names = [_unquote(p) for p in parts]
    if all(nm is not None for nm in names):
        return _Step("name", names[0]) if len(names) == 1 else _Step("names", tuple(names))
    if ":" in inner and len(parts) == 1:
        bounds = inner.split(":")
        if len(bounds) > 3:
            raise PathError(f"Invalid path '{text}'")
        try:
            vals = [int(b) if b.strip() else None for b in bounds]
        except ValueError:
            raise PathError(f"Invalid path '{text}'") from None
        return _Step("slice", tuple(vals + [None] * (3 - len(vals))))
    try:
        idx = [int(p) for p in parts]
    except ValueError:
        raise PathError(f"Invalid path '{text}'") from None
    return _Step("index", idx[0]) if len(idx) == 1 else _Step("indexes", tuple(idx))


def _apply(step: _Step, nodes: list) -> list:
    out: list = []
    for node in nodes:
        k = step.kind
        if k == "name":
            if isinstance(node, dict) and step.arg in node:
                out.append(node[step.arg])
        elif k == "names":
            if isinstance(node, dict):
                out += [node[nm] for nm in step.arg if nm in node]
        elif k == "index":
            if isinstance(node, list) and -len(node) <= step.arg < len(node):
                out.append(node[step.arg])
        elif k == "indexes":
            if isinstance(node, list):
                out += [node[i] for i in step.arg if -len(node) <= i < len(node)]
        elif k == "wild":
            if isinstance(node, dict):
                out += list(node.values())
            elif isinstance(node, list):
                out += node
        elif k == "slice":
            if isinstance(node, list):
                a, b, c = step.arg
                out += node[slice(a, b, c)]
        elif k == "filter":
            items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
            out += [item for item in items if step.arg(item)]
        elif k == "deep":
            out += _apply(step.arg, _descendants(node))
    return out


def _descendants(node: Any) -> list:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += _descendants(v)
    elif isinstance(node, list):
        for v in node:
            out += _descendants(v)
    return out


_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _compile_filter(expr: str, text: str):
    """A filter predicate over ``@``: comparisons joined by ``&&`` / ``||`` (no other nesting)."""
    ors = [[_compile_cmp(c.strip(), text) for c in _split_top(o, "&&")] for o in _split_top(expr, "||")]

    def pred(item: Any) -> bool:
        return any(all(c(item) for c in conj) for conj in ors)

    return pred


def _operand(s: str, text: str):
    s = s.strip()
    if s.startswith("@"):
        p = Path("$" + s[1:])
        return lambda item: _safe_find(p, item)
    lit = _unquote(s)
    if lit is not None:
        return lambda item: lit
    try:
        value = json.loads(s)
    except ValueError:
        raise PathError(f"Invalid path '{text}'") from None
    return lambda item: value


_MISSING = object()


def _safe_find(p: Path, item: Any) -> Any:
    try:
        return p.find(item)
    except NotFound:
        return _MISSING


def _compile_cmp(s: str, text: str):
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1].strip()
    for op in _OPS:
        parts = _split_top(s, op)
        if len(parts) == 2:
            left, right = _operand(parts[0], text), _operand(parts[1], text)

            def cmp(item, left=left, right=right, op=op):
                a, b = left(item), right(item)
                if a is _MISSING or b is _MISSING:
                    return False
                if op == "==":
                    return _same(a, b)
                if op == "!=":
                    return not _same(a, b)
                if _is_number(a) and _is_number(b) or isinstance(a, str) and isinstance(b, str):
                    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
                return False

            return cmp
    operand = _operand(s, text)
    return lambda item: operand(item) is not _MISSING


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# ----------------------------------------------------------------------------- data flow


def select(path: str | None, data: Any, context: dict, what: str) -> Any:
    """InputPath / OutputPath: null gives ``{}``; a path that matches nothing is States.Runtime."""
    if path is None:
        return {}
    p = compile_path(path)
    try:
        return p.find(context if p.context else data)
    except NotFound:
        raise RuntimeFailure(f"Invalid path '{path}' : No results for path: {_bracketed(p)}") from None


def _bracketed(p: Path) -> str:
    out = "$$" if p.context else "$"
    for s in p.steps:
        if s.kind == "name":
            out += f"['{s.arg}']"
        elif s.kind == "index":
            out += f"[{s.arg}]"
    return out


def put(path: str | None, data: Any, result: Any) -> Any:
    """ResultPath: ``$`` replaces the input, null discards the result, ``$.a.b`` sets a field of a copy."""
    if path is None:
        return data
    p = compile_path(path)
    if not p.steps:
        return result
    if not isinstance(data, dict):
        raise StatesError("States.ResultPathMatchFailure",
                          f"Unable to apply ResultPath \"{path}\" to input {dumps(data)}")
    root = copy.deepcopy(data)
    node = root
    keys = p.keys()
    for key in keys[:-1]:
        if isinstance(node, dict):
            nxt = node.get(key)
            if nxt is None:
                nxt = node[key] = {}
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            nxt = node[key]
        else:
            nxt = None
        if not isinstance(nxt, dict | list):
            raise StatesError("States.ResultPathMatchFailure",
                              f"Unable to apply ResultPath \"{path}\" to input {dumps(data)}")
        node = nxt
    last = keys[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = result
    elif isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        node[last] = result
    else:
        raise StatesError("States.ResultPathMatchFailure",
                          f"Unable to apply ResultPath \"{path}\" to input {dumps(data)}")
    return root


def render(template: Any, data: Any, context: dict) -> Any:
    """Parameters / ResultSelector: fields named ``x.$`` take the value of a path or intrinsic function."""
    if isinstance(template, dict):
        out = {}
        for k, v in template.items():
            if k.endswith(".$"):
                out[k[:-2]] = _evaluate(v, data, context, k)
            else:
                out[k] = render(v, data, context)
        return out
    if isinstance(template, list):
        return [render(v, data, context) for v in template]
    return template


def _evaluate(expr: str, data: Any, context: dict, field_name: str) -> Any:
    if expr.startswith("States."):
        return intrinsic(expr, data, context)
    p = compile_path(expr)
    try:
        return p.find(context if p.context else data)
    except NotFound:
        where = context if p.context else data
        raise RuntimeFailure(f"The JSONPath '{expr}' specified for the field '{field_name}' could not be found "
                             f"in the input '{dumps(where)}'") from None


# ----------------------------------------------------------------------------- intrinsic functions

INTRINSICS = ("States.Format", "States.StringToJson", "States.JsonToString", "States.Array", "States.ArrayGetItem",
              "States.ArrayLength", "States.ArrayContains", "States.ArrayRange", "States.MathAdd",
              "States.StringSplit", "States.Base64Encode", "States.Base64Decode", "States.UUID")


def _parse_call(expr: str) -> tuple[str, list[str]]:
    m = re.match(r"(States\.[A-Za-z0-9]+)\((.*)\)$", expr.strip(), re.S)
    if not m:
        raise PathError(f"The value '{expr}' is not a valid intrinsic function")
    name, inner = m.group(1), m.group(2).strip()
    if name not in INTRINSICS:
        raise PathError(f"The intrinsic function {name} is not supported")
    args = [a.strip() for a in _split_top(inner, ",")] if inner else []
    return name, args


def check_intrinsic(expr: str) -> None:
    name, args = _parse_call(expr)
    for a in args:
        if a.startswith("States."):
            check_intrinsic(a)
        elif a.startswith("$"):
            compile_path(a)


def _arg(a: str, data: Any, context: dict) -> Any:
    if a.startswith("States."):
        return intrinsic(a, data, context)
    if a.startswith("$"):
        p = compile_path(a)
        try:
            return p.find(context if p.context else data)
        except NotFound:
            raise RuntimeFailure(f"The JsonPath argument for the field '{a}' could not be found in the input "
                                 f"'{dumps(context if p.context else data)}'") from None
    lit = _unquote(a)
    if lit is not None and a.startswith("'"):
        return lit
    try:
        return json.loads(a)
    except ValueError:
        raise RuntimeFailure(f"The argument '{a}' is not a valid intrinsic function argument") from None


def intrinsic(expr: str, data: Any, context: dict) -> Any:
    try:
        name, raw = _parse_call(expr)
    except PathError as e:
        raise RuntimeFailure(str(e)) from None
    args = [_arg(a, data, context) for a in raw]

    def fail(msg: str):
        raise StatesError("States.IntrinsicFailure", f"Invalid arguments in {name}: {msg}")

    if name == "States.Format":
        if not args or not isinstance(args[0], str):
            fail("the first argument must be a string")
        pieces = re.split(r"(?<!\\)\{\}", args[0])
        if len(pieces) - 1 != len(args) - 1:
            fail("the number of arguments does not match the number of {} placeholders")
        out = pieces[0]
        for value, piece in zip(args[1:], pieces[1:]):
            out += (value if isinstance(value, str) else dumps(value)) + piece
        return out.replace("\\{", "{").replace("\\}", "}")
    if name == "States.StringToJson":
        try:
            return json.loads(args[0])
        except (ValueError, TypeError, IndexError):
            fail("the argument is not a JSON string")
    if name == "States.JsonToString":
        return dumps(args[0]) if args else fail("one argument is required")
    if name == "States.Array":
        return list(args)
    if name == "States.ArrayGetItem":
        if len(args) != 2 or not isinstance(args[0], list) or not isinstance(args[1], int):
            fail("expected an array and an index")
        if not 0 <= args[1] < len(args[0]):
            fail(f"index {args[1]} is out of bounds")
        return args[0][args[1]]
    if name == "States.ArrayLength":
        return len(args[0]) if args and isinstance(args[0], list) else fail("expected an array")
    if name == "States.ArrayContains":
        return any(_same(x, args[1]) for x in args[0]) if len(args) == 2 and isinstance(args[0], list) \
            else fail("expected an array and a value")
    if name == "States.ArrayRange":
        if len(args) != 3 or not all(isinstance(a, int) for a in args) or args[2] == 0:
            fail("expected three integers (start, end, non-zero step)")
        a, b, c = args
        return list(range(a, b + (1 if c > 0 else -1), c))
    if name == "States.MathAdd":
        if len(args) != 2 or not all(_is_number(a) for a in args):
            fail("expected two numbers")
        return args[0] + args[1]
    if name == "States.StringSplit":
        if len(args) != 2 or not all(isinstance(a, str) for a in args):
            fail("expected two strings")
        return [p for p in re.split("|".join(re.escape(c) for c in args[1]), args[0]) if p] if args[1] else [args[0]]
    if name == "States.Base64Encode":
        return base64.b64encode(str(args[0]).encode()).decode()
    if name == "States.Base64Decode":
        try:
            return base64.b64decode(str(args[0]), validate=True).decode()
        except ValueError:
            fail("the argument is not base64")
    if name == "States.UUID":
        # Deterministic: derived from the execution and the state, never from a random source.
        seed = f"{context.get('Execution', {}).get('Id')}|{context.get('State', {}).get('Name')}|" \
               f"{context.get('State', {}).get('EnteredTime')}|{context.get('State', {}).get('RetryCount')}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    fail("unsupported")  # pragma: no cover


# ----------------------------------------------------------------------------- Choice rules

_COMPARATORS = {
    "StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
    "StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "string",
    "NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
    "NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
    "BooleanEquals": "boolean",
    "TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
    "TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
    "IsNull": "boolean", "IsPresent": "boolean", "IsNumeric": "boolean", "IsString": "boolean",
    "IsBoolean": "boolean", "IsTimestamp": "boolean",
}
COMPARISONS = {**_COMPARATORS, **{k + "Path": "path" for k in _COMPARATORS
                                   if not k.startswith("Is") and k != "StringMatches"}}


def _timestamp(v: Any) -> datetime | None:
    if not isinstance(v, str) or "T" not in v:
        return None
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def _compare(op: str, a: Any, b: Any) -> bool:
    base = op[:-4] if op.endswith("Path") else op
    kind = _COMPARATORS[base]
    if base == "StringMatches":
        if not isinstance(a, str):
            return False
        pattern = re.escape(b).replace(r"\\\*", "\0").replace(r"\*", ".*").replace("\0", r"\*")
        return re.fullmatch(pattern, a, re.S) is not None
    if kind == "string":
        if not (isinstance(a, str) and isinstance(b, str)):
            return False
    elif kind == "number":
        if not (_is_number(a) and _is_number(b)):
            return False
    elif kind == "boolean":
        if not (isinstance(a, bool) and isinstance(b, bool)):
            return False
    elif kind == "timestamp":
        a, b = _timestamp(a), _timestamp(b)
        if a is None or b is None:
            return False
    rel = base.removeprefix("String").removeprefix("Numeric").removeprefix("Boolean").removeprefix("Timestamp")
    return {"Equals": lambda: a == b, "LessThan": lambda: a < b, "GreaterThan": lambda: a > b,
            "LessThanEquals": lambda: a <= b, "GreaterThanEquals": lambda: a >= b}[rel]()


def evaluate_rule(rule: dict, data: Any, context: dict) -> bool:
    if "And" in rule:
        return all(evaluate_rule(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context)
    var = rule["Variable"]
    op = next(k for k in rule if k in COMPARISONS)
    p = compile_path(var)
    try:
        value = p.find(context if p.context else data)
    except NotFound:
        if op == "IsPresent":
            return rule[op] is False
        raise RuntimeFailure(f"Invalid path '{var}': The choice state's condition path references an invalid "
                             "value.") from None
    if op == "IsPresent":
        return rule[op] is True
    if op.startswith("Is"):
        test = {"IsNull": value is None, "IsNumeric": _is_number(value), "IsString": isinstance(value, str),
                "IsBoolean": isinstance(value, bool), "IsTimestamp": _timestamp(value) is not None}[op]
        return test == rule[op]
    other = rule[op]
    if op.endswith("Path"):
        q = compile_path(other)
        try:
            other = q.find(context if q.context else data)
        except NotFound:
            raise RuntimeFailure(f"Invalid path '{rule[op]}': The choice state's condition path references an "
                                 "invalid value.") from None
    return _compare(op, value, other)


def error_matches(names: list[str], error: str) -> bool:
    """Whether a retrier's or catcher's ErrorEquals handles ``error``."""
    for n in names:
        if n == error or n == "States.ALL":
            return True
        if n == "States.TaskFailed" and error != "States.Timeout":
            return True
    return False


# ----------------------------------------------------------------------------- definitions

STATE_FIELDS = {
    "Task": {"Type", "Comment", "Next", "End", "Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath",
             "OutputPath", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
             "HeartbeatSecondsPath", "Credentials"},
    "Pass": {"Type", "Comment", "Next", "End", "Result", "ResultPath", "Parameters", "InputPath", "OutputPath"},
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Wait": {"Type", "Comment", "Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath",
             "OutputPath"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
}
UNSIMULATED_TYPES = {"Parallel", "Map"}


@dataclass(frozen=True)
class Resource:
    arn: str
    service: str  # "sagemaker"
    action: str  # "createTrainingJob"
    sync: bool

    @property
    def name(self) -> str:
        return self.action + (".sync" if self.sync else "")


@dataclass
class Definition:
    start_at: str
    states: dict[str, dict]
    timeout_seconds: int | None = None
    resources: dict[str, Resource] = field(default_factory=dict)  # state name -> parsed Resource


class _Checker:
    def __init__(self, resource_parser):
        self.problems: list[str] = []
        self.resource_parser = resource_parser

    def add(self, code: str, text: str, at: str) -> None:
        self.problems.append(f"{code}: {text} at {at or '/'}")

    def schema(self, text: str, at: str) -> None:
        self.add("SCHEMA_VALIDATION_FAILED", text, at)

    def path(self, value: Any, at: str, *, reference: bool = False, nullable: bool = True,
             context_ok: bool = True) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            self.schema("The value must be a string or null", at)
            return
        try:
            p = compile_path(value)
        except PathError:
            self.add("INVALID_JSON_PATH" if not reference else "INVALID_REFERENCE_PATH",
                     f"The value for the field must be a valid {'Reference' if reference else 'JSON'}Path: "
                     f"'{value}'", at)
            return
        if reference and (not p.reference or p.context):
            self.add("INVALID_REFERENCE_PATH",
                     f"The value for the field must be a valid ReferencePath: '{value}'", at)
        elif p.context and not context_ok:
            self.schema(f"The value '{value}' may not refer to the context object", at)

    def template(self, value: Any, at: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k.endswith(".$"):
                    if not isinstance(v, str):
                        self.schema(f"The value for the field '{k}' must be a STRING that contains a JSONPath "
                                    "but was a " + type(v).__name__.upper(), f"{at}/{k}")
                    elif v.startswith("States."):
                        try:
                            check_intrinsic(v)
                        except PathError as e:
                            self.schema(str(e), f"{at}/{k}")
                    else:
                        try:
                            compile_path(v)
                        except PathError:
                            self.add("INVALID_JSON_PATH", f"The value for the field '{k}' must be a valid JSONPath "
                                     f"or a valid intrinsic function call", f"{at}/{k}")
                else:
                    self.template(v, f"{at}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.template(v, f"{at}/{i}")


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse(text: str, resource_parser) -> Definition:
    """Validate a definition as CreateStateMachine does; DefinitionError lists every problem.

    ``resource_parser(arn)`` returns a ``Resource`` or a problem text for the Task's Resource.
    """
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise DefinitionError([f"INVALID_JSON_DESCRIPTION: {e}"]) from None
    c = _Checker(resource_parser)
    if not isinstance(doc, dict):
        raise DefinitionError(["SCHEMA_VALIDATION_FAILED: The definition must be a JSON object at /"])
    missing = [k for k in ("StartAt", "States") if k not in doc]
    if missing:
        c.schema(f"These fields are required: [{', '.join(missing)}]", "/")
    for k in doc:
        if k not in ("StartAt", "States", "Comment", "TimeoutSeconds", "Version", "QueryLanguage"):
            c.schema(f"Field '{k}' is not supported", "/")
    if doc.get("QueryLanguage", "JSONPath") != "JSONPath":
        c.schema("SageTutor interprets JSONPath state machines only (QueryLanguage JSONata is not simulated)",
                 "/QueryLanguage")
    states = doc.get("States")
    if "States" in doc and (not isinstance(states, dict) or not states):
        c.schema("The field 'States' must be a non-empty object", "/States")
        states = {}
    states = states or {}
    start = doc.get("StartAt")
    if "StartAt" in doc and not isinstance(start, str):
        c.schema("The value for the field 'StartAt' must be a STRING", "/StartAt")
    elif isinstance(start, str) and states and start not in states:
        c.add("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {start}", "/StartAt")
    timeout = doc.get("TimeoutSeconds")
    if timeout is not None and (not _int(timeout) or timeout < 1):
        c.schema("The value for the field 'TimeoutSeconds' must be a positive integer", "/TimeoutSeconds")
    resources: dict[str, Resource] = {}
    edges: dict[str, list[str]] = {}
    terminal = False
    for name, st in states.items():
        at = f"/States/{name}"
        if len(name) > 80:
            c.schema("State names must be at most 80 characters long", at)
        if not isinstance(st, dict):
            c.schema("The value for a state must be an OBJECT", at)
            continue
        kind = st.get("Type")
        if kind is None:
            c.schema("These fields are required: [Type]", at)
            continue
        if kind in UNSIMULATED_TYPES:
            c.schema(f"SageTutor does not simulate {kind} states yet", f"{at}/Type")
            continue
        if kind not in STATE_FIELDS:
            c.schema(f"The value '{kind}' is not a valid state type", f"{at}/Type")
            continue
        for k in st:
            if k not in STATE_FIELDS[kind]:
                c.schema(f"Field '{k}' is not supported for a {kind} state", at)
        nexts = _check_state(c, name, kind, st, at, states, resources)
        edges[name] = nexts
        if kind in ("Succeed", "Fail") or st.get("End") is True:
            terminal = True
    if states and not terminal:
        c.add("MISSING_END_STATE", "Workflow has no terminal state", "/States")
    if isinstance(start, str) and start in states and not c.problems:
        seen, todo = set(), [start]
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            todo += [t for t in edges.get(s, []) if t in states]
        for name in states:
            if name not in seen:
                c.add("UNREACHABLE_STATE", f"State \"{name}\" is not reachable.", f"/States/{name}")
    if c.problems:
        raise DefinitionError(c.problems)
    return Definition(start, states, timeout, resources)


def _check_state(c: _Checker, name: str, kind: str, st: dict, at: str, states: dict,
                 resources: dict[str, Resource]) -> list[str]:
    nexts: list[str] = []

    def target(value: Any, where: str) -> None:
        if not isinstance(value, str):
            c.schema("The value for the field must be a STRING", where)
        elif value not in states:
            c.add("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {value}", where)
        else:
            nexts.append(value)

    if kind in ("Task", "Pass", "Wait"):
        has_next, end = "Next" in st, st.get("End")
        if has_next and end is True:
            c.schema("Only one of these fields may be set: [Next, End]", at)
        elif not has_next and end is not True:
            c.schema("Exactly one of these fields is required: [Next, End]" if end is None
                     else "The value for the field 'End' must be true", at)
        if has_next:
            target(st["Next"], f"{at}/Next")
    for key in ("InputPath", "OutputPath"):
        if key in st:
            c.path(st[key], f"{at}/{key}")
    if "ResultPath" in st:
        c.path(st["ResultPath"], f"{at}/ResultPath", reference=True)
    for key in ("Parameters", "ResultSelector"):
        if key in st:
            if not isinstance(st[key], dict):
                c.schema(f"The value for the field '{key}' must be an OBJECT", f"{at}/{key}")
            else:
                c.template(st[key], f"{at}/{key}")
    if kind == "Task":
        res = st.get("Resource")
        if not isinstance(res, str):
            c.schema("These fields are required: [Resource]", at)
        else:
            parsed = c.resource_parser(res)
            if isinstance(parsed, str):
                c.schema(parsed, f"{at}/Resource")
            else:
                resources[name] = parsed
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            if key in st and (not _int(st[key]) or st[key] < 1):
                c.schema(f"The value for the field '{key}' must be a positive integer", f"{at}/{key}")
        for key in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if key in st:
                c.path(st[key], f"{at}/{key}", reference=True, nullable=False)
        _check_retry(c, st.get("Retry"), f"{at}/Retry")
        catches = st.get("Catch")
        if catches is not None:
            if not isinstance(catches, list):
                c.schema("The value for the field 'Catch' must be an ARRAY", f"{at}/Catch")
            else:
                for i, catcher in enumerate(catches):
                    cat = f"{at}/Catch/{i}"
                    if not isinstance(catcher, dict):
                        c.schema("The value must be an OBJECT", cat)
                        continue
                    _check_errors(c, catcher.get("ErrorEquals"), cat, last=i == len(catches) - 1)
                    for k in catcher:
                        if k not in ("ErrorEquals", "Next", "ResultPath", "Comment"):
                            c.schema(f"Field '{k}' is not supported for a catcher", cat)
                    if "Next" not in catcher:
                        c.schema("These fields are required: [Next]", cat)
                    else:
                        target(catcher["Next"], f"{cat}/Next")
                    if "ResultPath" in catcher:
                        c.path(catcher["ResultPath"], f"{cat}/ResultPath", reference=True)
    elif kind == "Pass":
        pass
    elif kind == "Choice":
        if "Next" in st or "End" in st:
            c.schema("A Choice state may not have the fields Next or End", at)
        choices = st.get("Choices")
        if not isinstance(choices, list) or not choices:
            c.schema("The field 'Choices' must be a non-empty array", f"{at}/Choices")
        else:
            for i, rule in enumerate(choices):
                where = f"{at}/Choices/{i}"
                _check_rule(c, rule, where, top=True)
                if isinstance(rule, dict):
                    if "Next" not in rule:
                        c.schema("These fields are required: [Next]", where)
                    else:
                        target(rule["Next"], f"{where}/Next")
        if "Default" in st:
            target(st["Default"], f"{at}/Default")
    elif kind == "Wait":
        given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in st]
        if len(given) != 1:
            c.schema("Exactly one of these fields is required: [Seconds, SecondsPath, Timestamp, TimestampPath]", at)
        if "Seconds" in st and (not _int(st["Seconds"]) or st["Seconds"] < 0):
            c.schema("The value for the field 'Seconds' must be a non-negative integer", f"{at}/Seconds")
        if "Timestamp" in st and _timestamp(st["Timestamp"]) is None:
            c.schema("The value for the field 'Timestamp' must be an ISO-8601 timestamp", f"{at}/Timestamp")
        for key in ("SecondsPath", "TimestampPath"):
            if key in st:
                c.path(st[key], f"{at}/{key}", reference=True, nullable=False)
    elif kind == "Fail":
        for key in ("Error", "Cause"):
            if key in st and not isinstance(st[key], str):
                c.schema(f"The value for the field '{key}' must be a STRING", f"{at}/{key}")
            if key in st and key + "Path" in st:
                c.schema(f"Only one of these fields may be set: [{key}, {key}Path]", at)
        for key in ("ErrorPath", "CausePath"):
            if key in st:
                c.path(st[key], f"{at}/{key}", nullable=False)
    return nexts


def _check_errors(c: _Checker, names: Any, at: str, last: bool) -> None:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        c.schema("The field 'ErrorEquals' must be a non-empty array of strings", f"{at}/ErrorEquals")
        return
    if "States.ALL" in names and (len(names) > 1 or not last):
        c.schema("Error name 'States.ALL' must appear alone in the last retrier or catcher", f"{at}/ErrorEquals")


def _check_retry(c: _Checker, retry: Any, at: str) -> None:
    if retry is None:
        return
    if not isinstance(retry, list):
        c.schema("The value for the field 'Retry' must be an ARRAY", at)
        return
    for i, r in enumerate(retry):
        where = f"{at}/{i}"
        if not isinstance(r, dict):
            c.schema("The value must be an OBJECT", where)
            continue
        _check_errors(c, r.get("ErrorEquals"), where, last=i == len(retry) - 1)
        for k in r:
            if k not in ("ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                         "JitterStrategy", "Comment"):
                c.schema(f"Field '{k}' is not supported for a retrier", where)
        if "IntervalSeconds" in r and (not _int(r["IntervalSeconds"]) or r["IntervalSeconds"] < 1):
            c.schema("The value for the field 'IntervalSeconds' must be a positive integer", f"{where}/IntervalSeconds")
        if "MaxAttempts" in r and (not _int(r["MaxAttempts"]) or r["MaxAttempts"] < 0):
            c.schema("The value for the field 'MaxAttempts' must be a non-negative integer", f"{where}/MaxAttempts")
        rate = r.get("BackoffRate", 2.0)
        if not _is_number(rate) or rate < 1.0:
            c.schema("The value for the field 'BackoffRate' must be a number greater than or equal to 1.0",
                     f"{where}/BackoffRate")
        if "MaxDelaySeconds" in r and (not _int(r["MaxDelaySeconds"]) or r["MaxDelaySeconds"] < 1):
            c.schema("The value for the field 'MaxDelaySeconds' must be a positive integer", f"{where}/MaxDelaySeconds")
        if r.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
            c.schema("The value for the field 'JitterStrategy' must be one of [FULL, NONE]", f"{where}/JitterStrategy")


def _check_rule(c: _Checker, rule: Any, at: str, top: bool) -> None:
    if not isinstance(rule, dict):
        c.schema("A choice rule must be an OBJECT", at)
        return
    if not top and "Next" in rule:
        c.schema("Field 'Next' is only allowed in a top-level choice rule", at)
    boolean = [k for k in ("And", "Or", "Not") if k in rule]
    ops = [k for k in rule if k in COMPARISONS]
    if boolean:
        if len(boolean) > 1 or ops or "Variable" in rule:
            c.schema("A choice rule must have exactly one of a comparison operator, And, Or or Not", at)
            return
        op = boolean[0]
        if op == "Not":
            _check_rule(c, rule["Not"], f"{at}/Not", top=False)
        elif not isinstance(rule[op], list) or not rule[op]:
            c.schema(f"The value for the field '{op}' must be a non-empty array", f"{at}/{op}")
        else:
            for i, r in enumerate(rule[op]):
                _check_rule(c, r, f"{at}/{op}/{i}", top=False)
        return
    if "Variable" not in rule:
        c.schema("These fields are required: [Variable]", at)
    else:
        c.path(rule["Variable"], f"{at}/Variable", nullable=False)
    if len(ops) != 1:
        c.schema("A choice rule must have exactly one comparison operator", at)
        return
    for k in rule:
        if k not in ("Variable", "Next", "Comment", ops[0]):
            c.schema(f"Field '{k}' is not supported in a choice rule", at)
    op, value = ops[0], rule[ops[0]]
    kind = COMPARISONS[op]
    ok = {"string": isinstance(value, str), "number": _is_number(value) and math.isfinite(value),
          "boolean": isinstance(value, bool), "timestamp": _timestamp(value) is not None,
          "path": isinstance(value, str)}[kind]
    if not ok:
        c.schema(f"The value for the field '{op}' must be a valid {kind}", f"{at}/{op}")
    elif kind == "path":
        c.path(value, f"{at}/{op}", nullable=False)
