"""Attempt files: what a student hands in after an exam, graded later by the teacher.

An attempt is a small YAML file (format 1) that names the pack (id, version and the key-free
``pack_hash`` of ``sagetutor.grading.draw``), the student, the seed, the questions in the
order they were presented, the answers in the pack's own ids, the flags, the seconds spent on
each question and when the exam started and ended. It holds no score: grading is the
teacher's (``sagetutor grade``). docs/classroom.md ("Attempt files") describes the fields.

What a caller may rely on:

* ``load_attempt(path)`` returns an ``Attempt`` or raises ``AttemptError`` whose ``str()`` is
  one plain reason (no path: callers say which file), e.g. ``not YAML (line 3, column 7: ...)``,
  ``format 2 is newer than this SageTutor (it reads attempt format 1): update SageTutor``, or
  ``line 4: `seed` should be a whole number``, several reasons joined by ``; ``.
* ``write_attempt(attempt, path)`` writes YAML and never overwrites a file (``AttemptError``).
* Answers use pack ids: single ``"opt-id"``; multi ``["a", "c"]``; ordering ``["c", "a", "b"]``;
  matching ``{"p1": "kmeans"}`` (unmatched prompts absent); a skipped question is absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sagetutor.newfile import NotWritten, write_new

FORMAT = 1
#: The file name suffix of attempt files.
SUFFIX = ".attempt.yaml"
MAX_BYTES = 2 * 1024 * 1024


class AttemptError(Exception):
    """An attempt file that cannot be read or written; ``str()`` is a plain reason."""


def _answer_shape(qid: str, value: Any) -> Any:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return value
    if isinstance(value, Mapping) and value and all(isinstance(k, str) and isinstance(v, str) and v
                                                   for k, v in value.items()):
        return dict(value)
    raise ValueError(f"the answer to {qid} should be an option id, a list of option ids, or a mapping of prompt "
                     f"id to option id, not {value!r}")


class Attempt(BaseModel):
    """One student's sitting of one exam (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    format: int = Field(description="the attempt format: 1")
    pack_id: str = Field(min_length=1)
    pack_version: str = Field(min_length=1)
    pack_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="draw.pack_hash of the pack (key-free)")
    student: str = Field(min_length=1, max_length=200)
    seed: int
    questions: list[str] = Field(description="the student's exam, in the order presented")
    answers: dict[str, Any] = Field(default_factory=dict, description="question id -> answer in pack ids")
    flags: list[str] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict, description="question id -> seconds spent on it")
    started_at: datetime
    ended_at: datetime

    @field_validator("student")
    @classmethod
    def _student(cls, v: str) -> str:
        if v != v.strip() or any(ord(c) < 32 for c in v):
            raise ValueError("a student id has no leading or trailing spaces and no control characters")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Attempt:
        if self.format != FORMAT:
            raise ValueError(f"format should be {FORMAT}, not {self.format}")
        asked = set(self.questions)
        if len(asked) != len(self.questions):
            dup = next(q for q in self.questions if self.questions.count(q) > 1)
            raise ValueError(f"question {dup} is listed twice in `questions`")
        for field, keys in (("answers", self.answers), ("flags", self.flags), ("seconds", self.seconds)):
            stray = [k for k in keys if k not in asked]
            if stray:
                raise ValueError(f"`{field}` names question(s) not in `questions`: {', '.join(map(str, stray))}")
        self.answers = {q: _answer_shape(q, a) for q, a in self.answers.items()}
        return self


def default_attempt_path(student: str, pack_id: str) -> Path:
    """``./<student>-<pack id>.attempt.yaml`` (characters unsafe in a file name become ``_``)."""
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", student).lstrip(".") or "student"
    return Path(f"{safe}-{pack_id}{SUFFIX}")


# -- writing ---------------------------------------------------------------------------------


def dump_attempt(attempt: Attempt) -> str:
    """The attempt as YAML text (fields in the model's order, times as ISO 8601)."""
    data = attempt.model_dump(mode="json")
    head = (f"# SageTutor attempt (format {FORMAT}): {attempt.student} on {attempt.pack_id} {attempt.pack_version}.\n"
            f"# Hand this file in as it is; the teacher grades it with `sagetutor grade`.\n")
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def write_attempt(attempt: Attempt, path: Path) -> Path:
    """Write ``attempt`` to ``path`` as YAML; never overwrites (``AttemptError``). Returns the path."""
    path = Path(path)
    try:
        return write_new(path, dump_attempt(attempt))
    except NotWritten as e:
        if e.reason == "exists":
            raise AttemptError(f"{path} already exists; not overwriting it (choose another file with --out)") from None
        if e.reason == "no folder":
            raise AttemptError(f"the folder {path.parent} does not exist") from None
        raise AttemptError(f"cannot write {path}: {e.detail}") from None


# -- reading ---------------------------------------------------------------------------------


def _line(marks: Mapping[tuple, Any], loc: tuple) -> int | None:
    p = tuple(loc)
    while p:
        if p in marks:
            return marks[p].line
        p = p[:-1]
    return None


def _describe(err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc") or ())
    kind = err.get("type", "")
    name = f"`{loc[0]}`" if loc else "the attempt"
    if len(loc) > 1:
        name += " " + " ".join(str(x) for x in loc[1:])
    if kind == "missing":
        return f"missing {name}"
    if kind == "extra_forbidden":
        return f"unknown field {name}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{name} should be a whole number, not {err.get('input')!r}"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"{name} should be a time like 2025-01-31T09:00:00Z, not {err.get('input')!r}"
    if kind == "value_error":
        msg = str((err.get("ctx") or {}).get("error", err.get("msg", "")))
        return msg if not loc else f"{name}: {msg}"
    return f"{name}: {err.get('msg')}"


def parse_attempt(text: str) -> Attempt:
    """An ``Attempt`` from YAML text; raises ``AttemptError``."""
    from sagetutor.packs.loader import read_yaml

    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise AttemptError("too large for an attempt file (more than 2 MiB)")
    data, builder, fatal = read_yaml(text)
    if fatal:
        line, col, msg = fatal[0]
        if msg.startswith("the file is empty"):
            raise AttemptError("the file is empty: not an attempt file")
        if builder is None:
            raise AttemptError(f"not YAML (line {line}, column {col}: {msg.removeprefix('YAML syntax: ')})")
        raise AttemptError("; ".join(f"line {ln}: {m}" for ln, _, m in fatal))
    if not isinstance(data, Mapping):
        raise AttemptError("not an attempt file: an attempt is a YAML mapping (format:, pack_id:, student: ...)")
    fmt = data.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        raise AttemptError(f"format {fmt} is newer than this SageTutor (it reads attempt format {FORMAT}): "
                           f"update SageTutor")
    if "format" in data and (not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < FORMAT):
        raise AttemptError(f"format {fmt!r} is not an attempt format (this SageTutor reads format {FORMAT})")
    try:
        return Attempt.model_validate(dict(data))
    except ValidationError as e:
        marks = builder.marks if builder is not None else {}
        reasons = []
        for err in e.errors(include_url=False):
            line = _line(marks, tuple(err.get("loc") or ()))
            text_ = _describe(err)
            reasons.append(f"line {line}: {text_}" if line else text_)
        raise AttemptError("; ".join(reasons)) from None


def load_attempt(path: Path) -> Attempt:
    """The attempt in ``path`` (YAML); raises ``AttemptError`` with a plain reason."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise AttemptError(f"cannot read it: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AttemptError("not YAML (the file is not UTF-8 text)") from None
    return parse_attempt(text)
