"""Loading pack files: safe YAML with line numbers, and every problem at once.

``load_file(path)`` and ``load_text(text, filename)`` return a ``LoadResult``: the ``Pack``
when the file is valid, and ``problems``, each a ``file:line:column: message`` with a plain
sentence, never a traceback. Everything is checked in one pass: YAML syntax, types, unknown
keys (with a did-you-mean), missing fields, duplicate ids, answer keys, references between
fields, requirements, params placeholders, and plans.

The YAML is read safely: only plain data (no tags that construct objects), booleans are
only ``true``/``false`` (``yes``/``no``/``on``/``off`` stay text) and dates stay text,
duplicate keys are errors, and the file's size, nesting and alias expansion are bounded.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from sagetutor.packs import params as P
from sagetutor.packs import plan as plan_mod
from sagetutor.packs.model import (
    CHILD_TYPES,
    ID_PATTERN,
    INHERITED,
    QUESTION_TYPES,
    SLUG_PATTERN,
    URL_PATTERN,
    Pack,
    PackInfo,
    Question,
)
from sagetutor.packs.requirements import RequirementError, parse

MAX_BYTES = 2 * 1024 * 1024
MAX_VALUES = 100_000
MAX_DEPTH = 60

QUESTION = TypeAdapter(Question)

# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a pack file; ``str()`` is ``file:line:column: message`` (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class LoadResult:
    file: str
    pack: Pack | None
    problems: list[Problem]
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.pack is not None


class PackError(ValueError):
    """A pack that does not load; ``problems`` holds every problem."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# -- safe YAML with marks --------------------------------------------------------------------------


class PackYamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars: only true/false are booleans, dates stay text."""

    yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers
             if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


PackYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                     re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int
    end_line: int
    style: str | None


class _Rejected:
    """Stands for a value whose tag was refused (already reported), so it is not reported again."""

    def __repr__(self) -> str:
        return "<rejected>"


REJECTED = _Rejected()


class _Fatal(Exception):
    def __init__(self, line: int, column: int, message: str):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


class _Builder:
    """Turns the composed node graph into plain data, recording where every value and key is."""

    def __init__(self, loader: PackYamlLoader):
        self.loader = loader
        self.marks: dict[tuple, Mark] = {}
        self.key_marks: dict[tuple, Mark] = {}
        self.problems: list[tuple[int, int, str]] = []
        self.count = 0
        self.stack: set[int] = set()

    @staticmethod
    def mark(node: yaml.Node) -> Mark:
        style = getattr(node, "style", None)
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1, node.end_mark.line + 1, style)

    def build(self, node: yaml.Node, path: tuple, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Fatal(node.start_mark.line + 1, node.start_mark.column + 1,
                         f"the file expands to more than {MAX_VALUES:,} values through aliases (*name): "
                         f"a pack cannot be that large (a 'billion laughs' file?)")
        if depth > MAX_DEPTH:
            raise _Fatal(node.start_mark.line + 1, node.start_mark.column + 1,
                         f"values nest more than {MAX_DEPTH} levels deep")
        mark = self.mark(node)
        self.marks.setdefault(path, mark)
        if node.tag not in _ALLOWED_TAGS:
            self.problems.append((mark.line, mark.column,
                                  f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed: "
                                  f"packs are plain data (text, numbers, true/false, lists, mappings)"))
            return REJECTED
        if id(node) in self.stack:
            raise _Fatal(mark.line, mark.column, "an alias refers to a value that contains it")
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            out: dict[str, Any] = {}
            first: dict[str, Mark] = {}
            merges = []
            for key_node, value_node in node.value:
                kmark = self.mark(key_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    merges.append(value_node)
                    continue
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _ALLOWED_TAGS:
                    self.problems.append((kmark.line, kmark.column, "a key must be plain text"))
                    continue
                key = self.loader.construct_object(key_node)
                if not isinstance(key, str):
                    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
                    self.problems.append((kmark.line, kmark.column,
                                          f"the key {shown} is not text: keys are names (quote it: '{shown}')"))
                    continue
                if key in first:
                    self.problems.append((kmark.line, kmark.column,
                                          f"the key '{key}' appears twice in this mapping (first at line "
                                          f"{first[key].line}); YAML would silently keep only the last"))
                    continue
                first[key] = kmark
                self.key_marks[(*path, key)] = kmark
                out[key] = self.build(value_node, (*path, key), depth + 1)
            for merge in merges:  # `<<: *base`: keys written here win over merged ones
                sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        m = self.mark(source)
                        self.problems.append((m.line, m.column, "'<<' merges mappings only (<<: *name)"))
                        continue
                    merged = self.build(source, path, depth + 1)
                    for key, value in merged.items():
                        out.setdefault(key, value)
            return out
        finally:
            self.stack.discard(id(node))


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    problem = (err.problem or str(err)).strip()
    if "'\\t'" in problem or "\\t" in problem:
        return "a tab character: YAML indents with spaces only"
    if "expected a single document" in (err.context or "") or "expected a single document" in problem:
        return "one pack per file: remove the '---' document separator"
    text = f"YAML syntax: {problem}"
    if problem.startswith("mapping values are not allowed"):
        return text + " (text that contains ': ' must be quoted)"
    if err.context:
        text += f" ({err.context}"
        if err.context_mark is not None and err.problem_mark is not None and \
                err.context_mark.line != err.problem_mark.line:
            text += f" at line {err.context_mark.line + 1}"
        text += ")"
    return text


def read_yaml(text: str) -> tuple[Any, _Builder | None, list[tuple[int, int, str]]]:
    """Plain data from YAML text, the builder holding marks, and fatal problems (line, column, message)."""
    loader = PackYamlLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            return None, None, [(line, col, _yaml_message(err))]
        except RecursionError:
            return None, None, [(1, 1, "values nest too deeply")]
        except yaml.YAMLError as err:
            return None, None, [(1, 1, f"YAML: {err}")]
        if node is None:
            return None, None, [(1, 1, "the file is empty: a pack has `pack:` and `questions:` (try "
                                       "`sagetutor pack new FILE`)")]
        builder = _Builder(loader)
        try:
            data = builder.build(node, ())
        except _Fatal as f:
            return None, None, [(f.line, f.column, f.message)]
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark
            return None, None, [(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, _yaml_message(err))]
        return data, builder, list(builder.problems)
    finally:
        loader.dispose()


# -- where things are --------------------------------------------------------------------------------


def _strip_tags(loc: tuple) -> tuple:
    return tuple(x for x in loc if not (isinstance(x, str) and x.startswith("<") and x.endswith(">")))


def _label(v: Any) -> str:
    return f"'{v}'" if isinstance(v, str) else str(v)


def _where(data: Any, path: tuple) -> str:
    """'question q1, option b, run step 2' for a path into the pack."""
    parts: list[str] = []
    node = data
    i = 0
    while i < len(path):
        key = path[i]
        if isinstance(node, Mapping) and key in node:
            child = node[key]
            nxt = path[i + 1] if i + 1 < len(path) else None
            if key in ("questions", "options", "prompts") and isinstance(child, list) and isinstance(nxt, int):
                if 0 <= nxt < len(child):
                    item = child[nxt]
                    ident = item.get("id") if isinstance(item, Mapping) else None
                    noun = {"questions": "question", "options": "option", "prompts": "prompt"}[key]
                    if key == "questions" and parts and parts[-1].startswith("question"):
                        parts.pop()
                    parts.append(f"{noun} {ident}" if isinstance(ident, str) and ident else f"{noun} {nxt + 1}")
                    node = item
                    i += 2
                    continue
            if key == "run" and isinstance(child, list) and isinstance(nxt, int):
                step = child[nxt] if 0 <= nxt < len(child) else None
                kind = plan_mod.step_kind(step)
                parts.append(f"run step {nxt + 1}" + (f" ({kind})" if kind else ""))
                node = step
                i += 2
                continue
            if key == "pack":
                parts.append("pack")
            elif key == "blueprint":
                parts[-1:] = ["blueprint"]
            node = child
            i += 1
            continue
        break
    return ", ".join(parts)


class _Report:
    def __init__(self, filename: str, data: Any, builder: _Builder, text: str):
        self.filename = filename
        self.indents = {i + 1: len(ln) - len(ln.lstrip(" ")) for i, ln in enumerate(text.splitlines())}
        self.data = data
        self.marks = builder.marks
        self.key_marks = builder.key_marks
        self.items: list[Problem] = [Problem(filename, ln, col, msg) for ln, col, msg in builder.problems]
        self.note = ""

    def locate(self, path: tuple, key: bool = False) -> Mark:
        if key and path in self.key_marks:
            return self.key_marks[path]
        p = path
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), Mark(1, 1, 1, None))

    def add(self, path: tuple, message: str, key: bool = False, offset: int | None = None,
            prefix: bool = True) -> None:
        mark = self.locate(path, key)
        line, col = mark.line, mark.column
        if offset is not None:
            line, col = self._inside(path, mark, offset)
        where = _where(self.data, path) if prefix else ""
        text = f"{where}: {message}" if where else message
        if self.note:  # a later params variant: only what the first variant did not already show
            if Problem(self.filename, line, col, text) in self.items:
                return
            text += self.note
        self.items.append(Problem(self.filename, line, col, text))

    def _inside(self, path: tuple, mark: Mark, offset: int) -> tuple[int, int]:
        """The position of character ``offset`` of a text scalar, where it can be known."""
        if path not in self.marks:
            return mark.line, mark.column
        if mark.style in (None, "", "'", '"') and mark.line == mark.end_line:
            return mark.line, mark.column + offset + (1 if mark.style in ("'", '"') else 0)
        value = self._value(path)
        if mark.style == "|" and isinstance(value, str):
            delta = value.count("\n", 0, offset)
            line = mark.line + 1 + delta
            start = value.rfind("\n", 0, offset) + 1
            indent = self.indents.get(line, 0)
            return line, indent + 1 + (offset - start)
        return mark.line, mark.column

    def _value(self, path: tuple) -> Any:
        node = self.data
        for k in path:
            try:
                node = node[k]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def first_line(self, path: tuple) -> int:
        return self.locate(path).line


# -- pydantic errors in plain words ----------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[tuple[Any, str | None]]:
    """Union members with their Tag (if any)."""
    out = []
    for arg in typing.get_args(tp):
        tag = None
        if typing.get_origin(arg) is typing.Annotated:
            for meta in typing.get_args(arg)[1:]:
                if type(meta).__name__ == "Tag":
                    tag = meta.tag
        out.append((_unwrap(arg), tag))
    return out


def _model_at(root: Any, loc: tuple) -> type[BaseModel] | None:
    """The model class a pydantic error location points into (for unknown-key suggestions)."""
    tp = _unwrap(root)
    for el in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            members = _members(tp)
            if isinstance(el, str) and el.startswith("<"):
                tp = next((m for m, t in members if t == el), None)
                continue
            candidates = [m for m, _ in members if m is not type(None)]
            tp = next((m for m in candidates if isinstance(m, type) and issubclass(m, BaseModel)
                       and isinstance(el, str) and _field_type(m, el) is not None), candidates[0] if candidates
                      else None)
            tp = _unwrap(tp)
            origin = typing.get_origin(tp)
        if tp is None:
            return None
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = _field_type(tp, el)
        elif origin is list and isinstance(el, int):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        models = [m for m, _ in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
        tp = models[0] if len(models) == 1 else None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_type(model: type[BaseModel], name: Any) -> Any:
    for fname, info in model.model_fields.items():
        if name in (fname, info.alias):
            return info.annotation if not info.metadata else typing.Annotated[(info.annotation, *info.metadata)]
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


#: (model, key) -> what to say when the key is unknown there.
_KEY_HINTS = {
    ("OrderItem", "correct"): "ordering items are placed by `position`, not marked correct",
    ("MatchOption", "correct"): "a matching question's key is each prompt's `answer`",
    ("ChoiceOption", "position"): "`position` belongs to ordering questions",
    ("SingleQuestion", "select"): "`select` belongs to type: multi",
    ("SingleQuestion", "prompts"): "`prompts` belong to type: matching",
    ("MultiQuestion", "prompts"): "`prompts` belong to type: matching",
    ("CaseStudy", "options"): "a case study has `questions:`, each with its own options",
}
_WHAT = {"string": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
         "list": "a list", "dict": "a mapping (key: value lines)", "model": "a mapping (key: value lines)",
         "model_attributes": "a mapping (key: value lines)"}
_PATTERNS = {
    ID_PATTERN: "ids use letters, digits, '-', '_' and '.', starting with a letter or digit",
    SLUG_PATTERN: "keys use lower-case letters, digits, '-' and '_'",
    URL_PATTERN: "a reference is a URL starting with https://",
    plan_mod.STEP_NAME_PATTERN: "step names use lower-case letters, digits, '-' and '_'",
    r"^[A-Z]{3}-C[0-9]{2}$": "an exam code looks like SAA-C03",
}


def _show(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"'{value}'" if len(value) < 60 else f"'{value[:57]}...'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _expected(ctx: Mapping) -> list[str]:
    return [a or b for a, b in re.findall(r"'([^']*)'|(\d+)", str(ctx.get("expected", "")))]


def _translate(err: Mapping, root: Any, loc: tuple) -> tuple[tuple, str, bool]:
    """(path in the data, message, point at the key?) for one pydantic error."""
    kind = err["type"]
    path = _strip_tags(loc)
    fld = path[-1] if path else ""
    inp = err.get("input")
    ctx = err.get("ctx") or {}
    if isinstance(fld, str):
        name = f"`{fld}`"
    elif isinstance(fld, int) and len(path) > 1 and isinstance(path[-2], str):
        name = f"`{path[-2]}` item {fld + 1}"
    elif isinstance(fld, int):
        name = f"item {fld + 1}"
    else:
        name = "the value"
    if kind == "missing":
        hint = {"feedback": " (say why this option is right or wrong)", "type": " (single, multi, ordering, "
                "matching or case_study)", "select": " (how many options are correct)",
                "position": " (the item's place in the right order)"}.get(fld, "")
        return path[:-1], f"missing {name}{hint}", False
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = _field_names(model) if model else []
        hint = _KEY_HINTS.get((model.__name__ if model else "", fld))
        if hint:
            return path, f"unknown key {name}: {hint}", True
        close = difflib.get_close_matches(str(fld), allowed, n=1, cutoff=0.6)
        if close:
            return path, f"unknown key {name} (did you mean `{close[0]}`?)", True
        return path, f"unknown key {name}; allowed here: {', '.join(allowed)}", True
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", "")).strip("<>")
        if "_step_kind" in str(ctx.get("discriminator", "")):
            close = difflib.get_close_matches(tag, plan_mod.STEP_KINDS, n=1, cutoff=0.6)
            hint = f" (did you mean `{close[0]}`?)" if close else f"; kinds: {', '.join(plan_mod.STEP_KINDS)}"
            return (*path, tag), f"unknown step kind `{tag}`{hint}", True
        is_child = len(path) >= 2 and path[-2] == "questions"
        allowed = CHILD_TYPES if is_child else QUESTION_TYPES
        if is_child and tag == "case_study":
            return (*path, "type"), "a case study's questions are single, multi, ordering or matching", False
        close = difflib.get_close_matches(tag, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; types: {', '.join(allowed)}"
        return (*path, "type"), f"unknown question type '{tag}'{hint}", False
    if kind == "union_tag_not_found":
        if "_step_kind" in str(ctx.get("discriminator", "")):
            if isinstance(inp, Mapping) and len(inp) > 1:
                return path, (f"a step is one kind with its arguments, but this one has {len(inp)} keys "
                              f"({', '.join(map(str, inp))}): indent the arguments under the kind, e.g. "
                              f"`- train: {{spot: true}}`"), False
            return path, "a step is `- kind: arguments`, e.g. `- train: {spot: true}` or `- wait: train`", False
        if not isinstance(inp, Mapping):
            return path, f"a question is a mapping (id:, type:, stem: ...), not {_show(inp)}", False
        if "type" in inp:
            return (*path, "type"), (f"`type` should be single, multi, ordering, matching or case_study, not "
                                     f"{_show(inp['type'])}"), False
        return path, "missing `type` (single, multi, ordering, matching or case_study)", False
    if kind == "literal_error":
        expected = _expected(ctx)
        if fld == "format":
            return path, f"this SageTutor reads pack format 1; this file says format: {inp}", False
        close = difflib.get_close_matches(str(inp), expected, n=1, cutoff=0.6) if isinstance(inp, str) else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return path, f"{name} must be {ctx.get('expected')}, not {_show(inp)}{hint}", False
    base = kind.removesuffix("_type").removesuffix("_parsing")
    if kind.endswith(("_type", "_parsing")) and base in _WHAT:
        extra = ""
        if base == "string" and isinstance(inp, int | float) and not isinstance(inp, bool):
            extra = f" (quote it: '{inp}')"
        if base == "bool" and isinstance(inp, str):
            extra = " (write true or false)"
        if base == "string" and isinstance(inp, Mapping) and len(inp) == 1:
            extra = " (a colon followed by a space starts a mapping: quote the text)"
        return path, f"{name} should be {_WHAT[base]}, not {_show(inp)}{extra}", False
    if kind == "int_from_float":
        return path, f"{name} should be a whole number, not {inp}", False
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str(ctx.get("pattern")), f"it must match {ctx.get('pattern')}")
        return path, f"{name} {_show(inp)} is not valid: {rule}", False
    if kind in ("too_short", "too_long"):
        what = "at least" if kind == "too_short" else "at most"
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        return path, f"{name} needs {what} {n} item{'s' if n != 1 else ''}", False
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds:
        word, key = bounds[kind]
        return path, f"{name} should be {word} {ctx.get(key)}, not {inp}", False
    if kind in ("value_error", "assertion_error"):
        msg = str(ctx.get("error", err.get("msg", "")))
        return path, msg, False
    return path, f"{name}: {err.get('msg')}", False


# -- the checks ----------------------------------------------------------------------------------------------


def _strings(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, (*path, i))
    elif isinstance(data, Mapping):
        for k, v in data.items():
            if k == "params":
                continue
            yield from _strings(v, (*path, k))


def _inherit(case: Mapping) -> tuple[dict, set[tuple]]:
    """A case study with its questions filled in from the case; and the (child, key) pairs filled."""
    out = dict(case)
    filled: set[tuple] = set()
    children = case.get("questions")
    if isinstance(children, list):
        new = []
        for j, child in enumerate(children):
            if isinstance(child, Mapping):
                c = dict(child)
                for key in INHERITED:
                    if key not in c and key in case:
                        c[key] = case[key]
                        filled.add((j, key))
                new.append(c)
            else:
                new.append(child)
        out["questions"] = new
    return out, filled


def _validation_variants(q: Mapping) -> list[tuple[dict, dict]]:
    """(substituted question, values that differ from the first variant) covering every params value."""
    own = q.get("params") if isinstance(q.get("params"), Mapping) else {}
    own = {k: v for k, v in own.items() if isinstance(v, list) and v}
    children = q.get("questions") if q.get("type") == "case_study" and isinstance(q.get("questions"), list) else []
    child_params = []
    for c in children:
        cp = c.get("params") if isinstance(c, Mapping) and isinstance(c.get("params"), Mapping) else {}
        child_params.append({k: v for k, v in cp.items() if isinstance(v, list) and v})
    cover_own = P.covering_variants(own)
    cover_children = [P.covering_variants(cp) for cp in child_params]
    width = max([len(cover_own), *(len(c) for c in cover_children)])
    out = []
    for i in range(width):
        values = cover_own[min(i, len(cover_own) - 1)]
        diff = {k: v for k, v in values.items() if i and v != cover_own[0].get(k)}
        try:
            if children:
                subs = []
                for j, c in enumerate(children):
                    cv = cover_children[j][min(i, len(cover_children[j]) - 1)]
                    if i:
                        diff.update({k: v for k, v in cv.items() if v != cover_children[j][0].get(k)})
                    subs.append(P.substitute(dict(c), {**values, **cv}) if isinstance(c, Mapping) else c)
                sub = P.substitute({k: v for k, v in q.items() if k != "questions"}, values)
                sub["questions"] = subs
            else:
                sub = P.substitute(dict(q), values)
        except (KeyError, ValueError, TypeError):
            continue  # placeholder problems are reported by _check_placeholders
        out.append((sub, diff))
    return out


class _Checker:
    def __init__(self, report: _Report, data: Mapping):
        self.r = report
        self.data = data
        blueprint = (data.get("pack") or {}).get("blueprint") if isinstance(data.get("pack"), Mapping) else None
        domains = blueprint.get("domains") if isinstance(blueprint, Mapping) else None
        self.domains = [d for d in domains if isinstance(d, str)] if isinstance(domains, Mapping) else []
        info = data.get("pack")
        #: A student pack (``student: true``) has no answer key, feedback, explanations or plans.
        self.student = isinstance(info, Mapping) and info.get("student") is True
        self.ids: dict[str, tuple] = {}

    # pack ------------------------------------------------------------------------------------------
    def pack(self, info: Any) -> PackInfo | None:
        if not isinstance(info, Mapping):
            self.r.add(("pack",), f"`pack` should be a mapping (format:, id:, title: ...), not {_show(info)}")
            return None
        result = None
        try:
            result = PackInfo.model_validate(info)
        except ValidationError as e:
            self.pydantic(e, ("pack",), PackInfo)
        bp = info.get("blueprint")
        if isinstance(bp, Mapping):
            doms = bp.get("domains")
            if isinstance(doms, Mapping) and doms and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                         for v in doms.values()):
                total = sum(doms.values())
                if abs(total - 100) > 0.01:
                    self.r.add(("pack", "blueprint", "domains"),
                               f"domain weights add up to {total:g}, not 100 (they are percentages)")
            q, u = bp.get("questions"), bp.get("unscored")
            if isinstance(q, int) and isinstance(u, int) and not isinstance(u, bool) and u >= q:
                self.r.add(("pack", "blueprint", "unscored"),
                           f"unscored ({u}) must be fewer than the questions drawn ({q})")
        return result

    def pydantic(self, err: ValidationError, prefix: tuple, root: Any) -> None:
        found = []
        for e in err.errors(include_url=False):
            if e.get("input") is REJECTED:
                continue
            path, msg, key = _translate(e, root, tuple(e["loc"]))
            found.append((e, path, msg, key))
        suggested = {(p[:-1], m.split("did you mean `")[1].split("`")[0]) for e, p, m, _ in found
                     if e["type"] == "extra_forbidden" and "did you mean `" in m}
        for e, path, msg, key in found:
            if e["type"] == "missing" and (path, _strip_tags(tuple(e["loc"]))[-1]) in suggested:
                continue  # the misspelt key says it
            self.r.add((*prefix, *path), msg, key=key)

    # questions --------------------------------------------------------------------------------------
    def question(self, i: int, raw: Any) -> Any:
        path = ("questions", i)
        if not isinstance(raw, Mapping):
            self.r.add(path, f"a question is a mapping (id:, type:, stem: ...), not {_show(raw)}")
            return None
        q, filled = _inherit(raw) if raw.get("type") == "case_study" else (dict(raw), set())
        self.placeholders(q, path)
        model = None
        for k, (sub, diff) in enumerate(_validation_variants(q)):
            if k:
                self.r.note = " (in the params variant where " + ", ".join(f"{n} = {v!r}" for n, v in diff.items()) + ")"
            try:
                m = QUESTION.validate_python(sub)
                if k == 0:
                    model = m
            except ValidationError as e:
                self.pydantic(e, path, Question)
            self.requirements(sub, raw, path, filled)
            self.plans(sub, path)
            if k == 0:
                self.shape(sub, path, filled)
        self.r.note = ""
        if model is not None:
            model._raw = q
        return model

    def ident(self, q: Mapping, path: tuple) -> None:
        qid = q.get("id")
        if isinstance(qid, str):
            if qid in self.ids:
                self.r.add((*path, "id"), f"the question id '{qid}' is used twice (first at line "
                                          f"{self.r.first_line(self.ids[qid])})", prefix=False)
            else:
                self.ids[qid] = (*path, "id")

    def shape(self, q: Mapping, path: tuple, filled: set[tuple]) -> None:
        self.ident(q, path)
        t = q.get("type")
        if t == "case_study":
            children = q.get("questions")
            if isinstance(children, list):
                if len(children) < 2:
                    self.r.add((*path, "questions"), f"a case study needs two or more questions; it has "
                                                     f"{len(children)}")
                for j, c in enumerate(children):
                    if isinstance(c, Mapping):
                        self.shape(c, (*path, "questions", j), {k for (cj, k) in filled if cj == j})
            self.domain(q, path, required=False)
            return
        self.domain(q, path, required=True, inherited="domain" in filled)
        opts = q.get("options")
        opts = [o for o in opts if isinstance(o, Mapping)] if isinstance(opts, list) else []
        self.unique(q.get("options"), (*path, "options"), "option")
        pins = [j for j, o in enumerate(q.get("options") or []) if isinstance(o, Mapping) and o.get("pin") == "last"]
        if len(pins) > 1:
            self.r.add((*path, "options", pins[1], "pin"), "only one option can be pinned last")
        n = len(opts)
        self.key_fields(q, path, t)
        correct = [o for o in opts if o.get("correct") is True]
        names = ", ".join(str(o.get("id")) for o in correct)
        if self.student:
            if t == "multi" and isinstance(q.get("select"), int) and n and q["select"] >= n:
                self.r.add((*path, "select"), f"select: {q['select']} leaves no wrong option among {n}")
            if t == "single" and n < 4:
                self.r.add((*path, "options"), f"a single-answer question needs at least 4 options (one right, "
                                               f"three or more distractors); it has {n}")
            elif t == "multi" and n < 5:
                self.r.add((*path, "options"), f"a multiple-response question needs at least 5 options; it has {n}")
            elif t == "ordering" and not 3 <= n <= 5:
                self.r.add((*path, "options"), f"an ordering question has 3 to 5 items; it has {n}")
            elif t == "matching":
                prompts = q.get("prompts")
                if isinstance(prompts, list) and not 3 <= len(prompts) <= 7:
                    self.r.add((*path, "prompts"), f"a matching question has 3 to 7 prompts; it has {len(prompts)}")
                self.unique(prompts, (*path, "prompts"), "prompt")
            return
        if t == "single":
            if n < 4:
                self.r.add((*path, "options"), f"a single-answer question needs at least 4 options (one right, "
                                               f"three or more distractors); it has {n}")
            if len(correct) != 1:
                where = (*path, "options", self._index(q, correct[1]), "correct") if len(correct) > 1 \
                    else (*path, "options")
                self.r.add(where, f"exactly one option must be correct: {len(correct)} are"
                                  + (f" ({names}); use type: multi with select: {len(correct)} for several"
                                     if len(correct) > 1 else " (mark the right one with correct: true)"))
            rule = q.get("scoring")
            if isinstance(rule, str) and rule != "all_or_nothing" and "scoring" not in filled:
                self.r.add((*path, "scoring"), f"scoring: {rule} has no effect on a single-answer question (one "
                                               f"decision): partial credit applies to multi, ordering and matching")
        elif t == "multi":
            if n < 5:
                self.r.add((*path, "options"), f"a multiple-response question needs at least 5 options; it has {n}")
            select = q.get("select")
            if isinstance(select, int) and not isinstance(select, bool):
                if len(correct) != select:
                    self.r.add((*path, "select"), f"select: {select}, but {len(correct)} option"
                                                  f"{'s are' if len(correct) != 1 else ' is'} correct"
                                                  + (f" ({names})" if correct else ""))
                elif n and select >= n:
                    self.r.add((*path, "select"), f"select: {select} leaves no wrong option among {n}")
        elif t == "ordering":
            if not 3 <= n <= 5:
                self.r.add((*path, "options"), f"an ordering question has 3 to 5 items; it has {n}")
            positions = [o.get("position") for o in opts]
            if all(isinstance(p, int) and not isinstance(p, bool) for p in positions) and n:
                seen: set[int] = set()
                for j, p in enumerate(positions):
                    if p in seen or not 1 <= p <= n:
                        why = f"position {p} is used twice" if p in seen else f"position {p} is outside 1..{n}"
                        self.r.add((*path, "options", self._index(q, opts[j]), "position"),
                                   f"{why}: the positions must be 1 to {n}, each once")
                        break
                    seen.add(p)
        elif t == "matching":
            prompts = q.get("prompts")
            prompts = [p for p in prompts if isinstance(p, Mapping)] if isinstance(prompts, list) else []
            if not 3 <= len(prompts) <= 7 and isinstance(q.get("prompts"), list):
                self.r.add((*path, "prompts"), f"a matching question has 3 to 7 prompts; it has {len(prompts)}")
            if n < 2 and isinstance(q.get("options"), list):
                self.r.add((*path, "options"), f"a matching question needs at least 2 options; it has {n}")
            self.unique(q.get("prompts"), (*path, "prompts"), "prompt")
            option_ids = [o.get("id") for o in opts if isinstance(o.get("id"), str)]
            for j, p in enumerate(q.get("prompts") or []):
                ans = p.get("answer") if isinstance(p, Mapping) else None
                if isinstance(ans, str) and ans not in option_ids:
                    close = difflib.get_close_matches(ans, option_ids, n=1, cutoff=0.6)
                    hint = f" (did you mean '{close[0]}'?)" if close else f" (options: {', '.join(option_ids)})"
                    self.r.add((*path, "prompts", j, "answer"), f"answer '{ans}' is not an option id{hint}")

    #: (where, field) -> what a normal pack must have there; a student pack must not have it.
    _KEYED = {"options": ("correct", "position", "feedback", "run"), "prompts": ("answer", "feedback"),
              "question": ("explanation", "run")}
    _MISSING_HINT = {"feedback": " (say why this option is right or wrong)",
                     "position": " (the item's place in the right order)"}

    def key_fields(self, q: Mapping, path: tuple, t: Any) -> None:
        """A normal pack's required key fields (feedback, position, answer); none of them in a student pack."""
        if self.student:
            for key in self._KEYED["question"]:
                if key in q:
                    self.r.add((*path, key), f"a student pack (student: true) carries no `{key}`: "
                                             f"`sagetutor pack export --for-students` removes it", key=True)
            for where in ("options", "prompts"):
                for j, item in enumerate(q.get(where) if isinstance(q.get(where), list) else []):
                    if not isinstance(item, Mapping):
                        continue
                    for key in self._KEYED[where]:
                        if key in item:
                            self.r.add((*path, where, j, key), f"a student pack (student: true) carries no "
                                                               f"answer key, feedback or plans: remove `{key}`",
                                       key=True)
            return
        required = {"single": {"options": ("feedback",)}, "multi": {"options": ("feedback",)},
                    "ordering": {"options": ("feedback", "position")}, "matching": {"options": ("feedback",),
                                                                                    "prompts": ("answer",)}}
        model = {"single": "ChoiceOption", "multi": "ChoiceOption", "ordering": "OrderItem", "matching": "MatchOption"}
        from sagetutor.packs import model as model_mod

        for where, keys in required.get(t, {}).items():
            cls = getattr(model_mod, "Prompt" if where == "prompts" else model[t])
            allowed = _field_names(cls)
            for j, item in enumerate(q.get(where) if isinstance(q.get(where), list) else []):
                if not isinstance(item, Mapping):
                    continue
                for key in keys:
                    if key in item:
                        continue
                    misspelt = any(difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6) == [key]
                                   for k in item if k not in allowed)
                    if not misspelt:
                        self.r.add((*path, where, j), f"missing `{key}`{self._MISSING_HINT.get(key, '')}")

    @staticmethod
    def _index(q: Mapping, item: Mapping) -> int:
        for j, o in enumerate(q.get("options") or []):
            if o is item:
                return j
        return 0

    def unique(self, items: Any, path: tuple, noun: str) -> None:
        seen: dict[str, int] = {}
        for j, item in enumerate(items if isinstance(items, list) else []):
            ident = item.get("id") if isinstance(item, Mapping) else None
            if not isinstance(ident, str):
                continue
            if ident in seen:
                self.r.add((*path, j, "id"), f"the {noun} id '{ident}' is used twice in this question (first at "
                                             f"line {self.r.first_line((*path, seen[ident], 'id'))})")
            else:
                seen[ident] = j

    def domain(self, q: Mapping, path: tuple, required: bool, inherited: bool = False) -> None:
        if not self.domains:
            return
        d = q.get("domain")
        if d is None:
            if required:
                self.r.add(path, f"missing `domain` (the blueprint's domains: {', '.join(self.domains)})")
            return
        if inherited or not isinstance(d, str) or d in self.domains:
            return
        close = difflib.get_close_matches(d, self.domains, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        self.r.add((*path, "domain"), f"domain '{d}' is not in the blueprint{hint}; its domains: "
                                      f"{', '.join(self.domains)}")

    # requirements ---------------------------------------------------------------------------------------
    def requirements(self, sub: Mapping, raw: Mapping, path: tuple, filled: set[tuple]) -> None:
        def one(reqs: Any, raw_reqs: Any, where: tuple) -> None:
            if not isinstance(reqs, list):
                return
            for j, text in enumerate(reqs):
                if not isinstance(text, str):
                    continue
                try:
                    parse(text)
                except RequirementError as e:
                    original = raw_reqs[j] if isinstance(raw_reqs, list) and j < len(raw_reqs) else None
                    offset = e.column - 1 if original == text else None
                    self.r.add((*where, "requirements", j), f"requirement '{text}': {e.message}",
                               offset=offset)

        one(sub.get("requirements"), raw.get("requirements"), path)
        if sub.get("type") == "case_study" and isinstance(sub.get("questions"), list):
            raw_children = raw.get("questions") if isinstance(raw.get("questions"), list) else []
            for j, c in enumerate(sub["questions"]):
                if isinstance(c, Mapping) and (j, "requirements") not in filled:
                    rc = raw_children[j] if j < len(raw_children) and isinstance(raw_children[j], Mapping) else {}
                    one(c.get("requirements"), rc.get("requirements"), (*path, "questions", j))

    # plans -----------------------------------------------------------------------------------------------
    def plans(self, q: Mapping, path: tuple, prefix: list | None = None) -> None:
        prefix = list(prefix or [])
        own = q.get("run") if isinstance(q.get("run"), list) else []
        for loc, msg in plan_mod.check_references(prefix + own, first=len(prefix)):
            self.r.add((*path, "run", *loc), msg)
        base = prefix + own
        if q.get("type") == "case_study":
            for j, c in enumerate(q.get("questions") or []):
                if isinstance(c, Mapping):
                    self.plans(c, (*path, "questions", j), base)
            return
        options = [(j, o) for j, o in enumerate(q.get("options") or []) if isinstance(o, Mapping)]
        if q.get("type") == "ordering":
            options.sort(key=lambda jo: jo[1].get("position") if isinstance(jo[1].get("position"), int) else 99)
        for j, o in options:
            steps = o.get("run") if isinstance(o.get("run"), list) else []
            for loc, msg in plan_mod.check_references(base + steps, first=len(base)):
                self.r.add((*path, "options", j, "run", *loc), msg)
            if q.get("type") == "ordering":
                base = base + steps

    # params --------------------------------------------------------------------------------------------
    def placeholders(self, q: Mapping, path: tuple, outer: Mapping | None = None) -> set[str]:
        """Check ${...} in a question (and a case's questions); returns the names it uses."""
        own = q.get("params") if isinstance(q.get("params"), Mapping) else {}
        self.param_values(own, (*path, "params"))
        scope = {**(outer or {}), **{k: v for k, v in own.items() if isinstance(v, list) and v}}
        used: set[str] = set()
        children = q.get("questions") if q.get("type") == "case_study" else None
        body = {k: v for k, v in q.items() if k != "questions"} if isinstance(children, list) else q
        for spath, text in _strings(body):
            full = (*path, *spath)
            if spath and spath[-1] == "id" and "${" in text:
                self.r.add(full, "ids cannot use ${...}: an id stays the same in every variant")
                continue
            bad = P.broken(text)
            if bad is not None:
                self.r.add(full, "'${' starts a placeholder that is not a name in braces: write ${name}, "
                                 "or $${ for a literal ${", offset=bad)
            for ref, spec, at in P.references(text):
                name, _, key = ref.partition(".")
                used.add(name)
                if name not in scope:
                    close = difflib.get_close_matches(name, list(scope), n=1, cutoff=0.6)
                    hint = f" (did you mean ${{{close[0]}}}?)" if close else \
                        (f"; params here: {', '.join(sorted(scope))}" if scope else "; this question has no params")
                    self.r.add(full, f"${{{ref}}} is not defined in params{hint}", offset=at)
                    continue
                values = scope[name]
                if key and not all(isinstance(v, Mapping) and key in v for v in values):
                    self.r.add(full, f"${{{ref}}}: not every value of {name} is a mapping with '{key}'", offset=at)
                    continue
                if not key and any(isinstance(v, Mapping) for v in values):
                    self.r.add(full, f"${{{name}}} holds mappings: write ${{{name}.key}}", offset=at)
                    continue
                if spec:
                    for v in values:
                        try:
                            format(P.resolve({name: v}, ref), spec)
                        except (ValueError, TypeError):
                            self.r.add(full, f"${{{ref}:{spec}}}: the format ':{spec}' does not suit the value "
                                             f"{v!r}", offset=at)
                            break
        if isinstance(children, list):
            for j, c in enumerate(children):
                if isinstance(c, Mapping):
                    used |= self.placeholders(c, (*path, "questions", j), scope)
        for name in own:
            if name not in used and not self.student:  # a student pack's plans and feedback are gone
                self.r.add((*path, "params", name), f"params `{name}` is never used as ${{{name}}}", key=True)
        return used - set(own)

    def param_values(self, params: Mapping, path: tuple) -> None:
        for name, values in params.items():
            if not isinstance(values, list) or not values:
                continue
            maps = [v for v in values if isinstance(v, Mapping)]
            if maps and len(maps) != len(values):
                self.r.add((*path, name), f"params `{name}` mixes mappings and plain values")
            elif maps:
                keys = set(maps[0])
                for k, v in enumerate(maps[1:], start=1):
                    if set(v) != keys:
                        self.r.add((*path, name, k), f"every value of params `{name}` has the same keys "
                                                     f"({', '.join(sorted(keys))})")
                        break


def load_text(text: str, filename: str = "<pack>") -> LoadResult:
    """Load a pack from YAML text; never raises for a bad pack (see ``LoadResult.problems``)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        size = len(text.encode("utf-8", "surrogatepass")) / 1024 / 1024
        return LoadResult(filename, None, [Problem(filename, 1, 1, f"the file is {size:.1f} MiB; a pack is at "
                                                                   f"most {MAX_BYTES // 1024 // 1024} MiB")])
    data, builder, fatal = read_yaml(text)
    if builder is None:
        return LoadResult(filename, None, [Problem(filename, ln, col, msg) for ln, col, msg in fatal])
    report = _Report(filename, data, builder, text)
    pack = _validate(data, report)
    problems = sorted(set(report.items))
    marks = {k: (m.line, m.column) for k, m in builder.marks.items()}
    return LoadResult(filename, pack if not problems else None, problems, marks)


def _validate(data: Any, report: _Report) -> Pack | None:
    if not isinstance(data, Mapping):
        report.add((), f"a pack is a mapping with `pack:` and `questions:`, not {_show(data)}", prefix=False)
        return None
    misspelt = set()
    for key in data:
        if key not in ("pack", "questions") and not (isinstance(key, str) and key.startswith("x-")):
            close = difflib.get_close_matches(str(key), ["pack", "questions"], n=1, cutoff=0.6)
            hint = f" (did you mean `{close[0]}`?)" if close else \
                "; a pack file has `pack:` and `questions:` (and x-... keys for YAML anchors)"
            report.add((key,), f"unknown key `{key}`{hint}", key=True, prefix=False)
            misspelt.update(close)
    checker = _Checker(report, data)
    info = None
    if "pack" not in data and "pack" not in misspelt:
        report.add((), "missing `pack:` (format: 1, id, title, version, exam ...)", prefix=False)
    else:
        info = checker.pack(data["pack"])
    questions = data.get("questions")
    models: list[Any] = []
    if "questions" not in data:
        if "questions" not in misspelt:
                report.add((), "missing `questions:` (a list of questions)", prefix=False)
    elif not isinstance(questions, list) or not questions:
        report.add(("questions",), f"`questions` should be a list of one or more questions, not {_show(questions)}",
                   prefix=False)
    else:
        models = [checker.question(i, q) for i, q in enumerate(questions)]
    if report.items or info is None or any(m is None for m in models):
        return None
    return Pack.model_construct(pack=info, questions=models)


def load_file(path: str | Path) -> LoadResult:
    """Load a pack file (at most 2 MiB, UTF-8)."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            return LoadResult(name, None, [Problem(name, 1, 1, f"the file is {size / 1024 / 1024:.1f} MiB; a pack "
                                                               f"is at most {MAX_BYTES // 1024 // 1024} MiB")])
        raw = p.read_bytes()
    except OSError as e:
        return LoadResult(name, None, [Problem(name, 1, 1, f"cannot read the file: {e.strerror or e}")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return LoadResult(name, None, [Problem(name, line, col, "the file is not UTF-8 text")])
    return load_text(text, name)


def read_pack(path: str | Path) -> Pack:
    """The pack in ``path``; raises ``PackError`` with every problem when it is not valid."""
    result = load_file(path)
    if not result.ok:
        raise PackError(result.problems)
    assert result.pack is not None
    return result.pack
