"""Grading a class: attempt files in, one ``Grade`` per file out, in gradebook order.

A teacher runs ``sagetutor grade PACK ATTEMPT_OR_DIR... --out DIR``; this module grades and
``sagetutor.grading.gradebook`` writes the files. What a caller may rely on:

* **The exam is reproduced, not trusted.** Each attempt's exam is drawn again with
  ``student_exam(pack, attempt.student, attempt.seed)``. Every question of it is scored with
  the quiz runtime's rules (``sagetutor.quiz.scoring.score_question``, under the question's
  own ``scoring``); a question not answered scores 0; unscored pilot items are left out of
  the score. The raw percentage becomes an *estimated* scaled score with the blueprint's
  ``pass_percent`` and ``pass_mark`` (``exam_result``), and ``passed`` compares that
  estimate with the pass mark: the blueprint's, or the teacher's ``pass_mark``. Scoring
  runs no simulation.
* **Every file gets a row; nothing stops the run.** A file that cannot be graded is a
  ``Grade`` with ``gradable=False`` and a ``reason`` that starts with one of:

  - ``malformed:`` the attempt file does not load (``AttemptError``'s reason);
  - ``duplicate student:`` the student's id is in more than one file that loads. The first
    of those files in gradebook order (file name, then path) is graded; each later one is
    not, and its reason names the graded file. The graded row's ``reason`` lists the others
    (a gradable row's reason is otherwise empty);
  - ``pack hash mismatch:`` the attempt was taken on another version of the pack;
  - ``answers outside the exam:`` answers to questions that are not in the exam drawn for
    the student and seed;
  - ``exam mismatch:`` the attempt lists other questions than the exam drawn for the student
    and seed (their order is not checked);
  - ``invalid answer:`` an answer with the wrong shape for its question, or an option, item
    or prompt the question does not have;
  - ``empty:`` no question answered.

* **Order.** ``grade_class`` yields grades sorted by student id, then file name, then path;
  a malformed file whose student cannot be read sorts first, with an empty id.
* **Cost.** The pack index and the pack's hash are computed once per ``ClassGrader``. Each
  file is read and graded once; the grades wait in a temporary spill file (memory holds only
  a sort key per file) until every file is read, because the order and the duplicates are
  known only then. ``jobs`` > 1 grades files in that many forked worker processes (Linux).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from sagetutor.grading import draw
from sagetutor.grading.attempt import FORMAT, MAX_BYTES, Attempt, AttemptError, load_attempt
from sagetutor.packs.loader import PackYamlLoader
from sagetutor.packs.model import Pack
from sagetutor.quiz.scoring import ExamResult, ItemResult, exam_result, score_question

NO_DOMAIN = "(none)"
#: How many problems of one attempt a reason lists before "and N more".
MAX_LISTED = 5
#: Attempt file names looked for in a folder.
PATTERNS = ("*.yaml", "*.yml")


class GradeUsageError(ValueError):
    """The grading run cannot start (a bad pass mark, a pack without its answer key)."""


@dataclass(frozen=True)
class QuestionGrade:
    """One question of a student's exam, as graded."""

    number: int  # 1-based place in the student's exam
    question_id: str
    domain: str | None
    scored: bool
    answer: Any  # as the attempt gave it (pack ids); None when unanswered
    score: float  # 0..1 under the question's own rule
    seconds: float | None = None
    flagged: bool = False

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def missed(self) -> bool:
        return self.score < 1.0


@dataclass(frozen=True)
class Grade:
    """One attempt file's row in the gradebook. The numbers are None when it is not gradable."""

    file: Path
    student: str
    gradable: bool
    reason: str = ""
    duplicate: bool = False  # a later file of a student graded from another file
    seed: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    questions: tuple[QuestionGrade, ...] = ()
    result: ExamResult | None = None
    pass_mark: int = 720
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # the exam's params variants

    @property
    def raw_score(self) -> float | None:
        return sum(q.score for q in self.questions if q.scored) if self.result else None

    @property
    def max_score(self) -> int | None:
        return self.result.scored_items if self.result else None

    @property
    def percent(self) -> float | None:
        return self.result.raw_percent if self.result else None

    @property
    def scaled(self) -> int | None:
        return self.result.scaled if self.result else None

    @property
    def passed(self) -> bool:
        return bool(self.gradable and self.result is not None and self.result.scaled >= self.pass_mark)

    def domain_percent(self, key: str) -> float | None:
        """Percent in a domain; None when not gradable or the exam had no scored item of it."""
        if self.result is None:
            return None
        for d in self.result.domains:
            if d.domain == key:
                return d.percent if d.items else None
        return None


@dataclass(frozen=True)
class _Item:
    question: Any
    option_ids: frozenset[str]
    prompt_ids: frozenset[str]


def excerpt(text: str | None, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    words = " ".join((text or "").split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _listed(things: Sequence[str]) -> str:
    shown = ", ".join(things[:MAX_LISTED])
    return shown + (f" and {len(things) - MAX_LISTED} more" if len(things) > MAX_LISTED else "")


def is_answered(answer: Any) -> bool:
    """False for None, "", [], {} and a matching answer with every prompt left empty."""
    if answer is None or answer == "":
        return False
    if isinstance(answer, Mapping):
        return any(v not in (None, "") for v in answer.values())
    if isinstance(answer, list | tuple):
        return bool(answer)
    return True


class ClassGrader:
    """Grades attempts on one pack (the teacher's, with its answer key). Build it once per run."""

    def __init__(self, pack: Pack, *, pass_mark: int | None = None):
        self.pack = pack
        self.blueprint = pack.pack.blueprint
        self.pack_hash = draw.pack_hash(pack)
        default_mark = self.blueprint.pass_mark if self.blueprint is not None else 720
        self.pass_mark = int(pass_mark) if pass_mark is not None else default_mark
        if not 100 <= self.pass_mark <= 1000:
            raise GradeUsageError(f"the pass mark is on the 100-1000 scale of the estimated scaled score; "
                                  f"{self.pass_mark} is outside it")
        self.index: dict[str, _Item] = {}
        for q in pack.items():
            self.index[q.id] = _Item(q, frozenset(o.id for o in getattr(q, "options", [])),
                                     frozenset(p.id for p in getattr(q, "prompts", [])))
        unkeyed = [q.id for q in pack.items() if q.type in ("single", "multi") and not q.correct_ids]
        if getattr(pack.pack, "student", False) or unkeyed:
            raise GradeUsageError(f"pack {pack.pack.id} has no answer key (a student pack?): grade with the "
                                  "teacher's pack, the one the student pack was exported from")
        self.domains = self._domains()

    def _domains(self) -> list[str]:
        """The gradebook's domain columns: the blueprint's domains, then any other the scored items use."""
        order = list(self.blueprint.domains) if self.blueprint is not None else []
        for item in self.index.values():
            if item.question.scored:
                key = item.question.domain or NO_DOMAIN
                if key not in order:
                    order.append(key)
        return order

    def question(self, qid: str) -> Any:
        return self.index[qid].question

    # -- one attempt ----------------------------------------------------------------------------
    def exam(self, student: str, seed: int) -> draw.StudentExam:
        """``draw.student_exam`` for this pack, with the pack's hash computed once per grader, not per call."""
        return draw.student_exam(self.pack, student, seed, digest=self.pack_hash)

    def grade_attempt(self, attempt: Attempt, file: Path) -> Grade:
        """Grade a loaded attempt: the pack hash, the exam, the answers, then the score."""
        base = {"file": Path(file), "student": attempt.student, "seed": attempt.seed, "pass_mark": self.pass_mark,
                "started_at": attempt.started_at.isoformat(), "ended_at": attempt.ended_at.isoformat()}
        if attempt.pack_hash != self.pack_hash:
            return Grade(gradable=False, reason=(
                f"pack hash mismatch: the attempt was taken on {attempt.pack_id} {attempt.pack_version} "
                f"(pack hash {attempt.pack_hash[:12]}), this is {self.pack.pack.id} {self.pack.pack.version} "
                f"(pack hash {self.pack_hash[:12]})"), **base)
        exam = self.exam(attempt.student, attempt.seed)
        drawn = tuple(exam.question_ids)
        in_exam = set(drawn)
        outside = [str(k) for k in attempt.answers if k not in in_exam]
        if outside:
            return Grade(gradable=False, reason=(
                f"answers outside the exam: {_listed(outside)} {'is' if len(outside) == 1 else 'are'} not in the "
                f"exam drawn for {attempt.student} at seed {attempt.seed}"), **base)
        if set(attempt.questions) != in_exam:
            extra = [q for q in attempt.questions if q not in in_exam]
            missing = [q for q in drawn if q not in set(attempt.questions)]
            parts = ([f"lists {_listed(extra)}, not drawn"] if extra else []) + \
                    ([f"lacks {_listed(missing)}, drawn"] if missing else [])
            return Grade(gradable=False, reason=(
                f"exam mismatch: the attempt {' and '.join(parts)} for {attempt.student} at seed {attempt.seed}"),
                **base)
        problems: list[str] = []
        graded: list[QuestionGrade] = []
        flags = set(attempt.flags)
        for number, qid in enumerate(drawn, 1):
            item = self.index[qid]
            q = item.question
            given = attempt.answers.get(qid)
            score = 0.0
            if is_answered(given):
                problem = _shape_problem(item, given)
                if problem is None:
                    try:
                        score = float(score_question(q, _scorable(q, given)))
                    except (ValueError, TypeError) as e:
                        problem = str(e)
                if problem is not None:
                    problems.append(f"{qid}: {problem}")
                    continue
            else:
                given = None
            graded.append(QuestionGrade(number, qid, q.domain, q.scored, given, score,
                                        _seconds(attempt.seconds.get(qid)), qid in flags))
        if problems:
            return Grade(gradable=False, reason=f"invalid answer: {_listed(problems)}", **base)
        if not any(g.answered for g in graded):
            return Grade(gradable=False, reason="empty: no question answered", **base)
        result = exam_result([ItemResult(g.question_id, g.domain, g.score, g.scored) for g in graded],
                             self.blueprint)
        params = {k: dict(v) for k, v in exam.params.items() if v}
        return Grade(gradable=True, questions=tuple(graded), result=result, params=params, **base)

    def grade_file(self, path: Path) -> Grade:
        """Read and grade one attempt file (never raises for a bad file: see the module docstring)."""
        path = Path(path)
        try:
            attempt = read_attempt(path)
        except AttemptError as e:
            return Grade(file=path, student=_raw_student(path), gradable=False, reason=f"malformed: {e}",
                         pass_mark=self.pass_mark)
        return self.grade_attempt(attempt, path)

    # -- a class -------------------------------------------------------------------------------
    def grade_class(self, paths: Iterable[Path], *, jobs: int = 1) -> Iterator[Grade]:
        """Every file's grade in gradebook order (student id, file name, path), duplicates resolved."""
        with tempfile.TemporaryFile(prefix="sagetutor-grades-") as spill:
            keys: list[tuple[str, str, str, bool, int]] = []  # student, name, path, loads, offset
            for path, student, loads, blob in self._graded(list(paths), jobs):
                keys.append((student, Path(path).name, str(path), loads, spill.tell()))
                spill.write(blob)
            keys.sort()
            graded_from: dict[str, str] = {}
            later: dict[str, list[str]] = {}
            for student, _name, path, loads, _offset in keys:
                if loads:
                    if student in graded_from:
                        later.setdefault(student, []).append(path)
                    else:
                        graded_from[student] = path
            for student, _name, path, loads, offset in keys:
                spill.seek(offset)
                grade: Grade = pickle.load(spill)
                if loads and student in later:
                    if graded_from[student] != path:
                        grade = Grade(file=grade.file, student=student, gradable=False, duplicate=True,
                                      seed=grade.seed, started_at=grade.started_at, ended_at=grade.ended_at,
                                      pass_mark=self.pass_mark,
                                      reason=f"duplicate student: {student} is graded from {graded_from[student]}, "
                                             "the first of their files; this later file is not graded")
                    else:
                        note = f"duplicate student: also in {_listed(later[student])} (not graded)"
                        grade = replace(grade, reason=f"{grade.reason}; {note}" if grade.reason else note)
                yield grade

    def _graded(self, paths: list[Path], jobs: int) -> Iterator[tuple[str, str, bool, bytes]]:
        if jobs > 1 and len(paths) >= 2 * jobs and "fork" in multiprocessing.get_all_start_methods():
            global _WORKER
            _WORKER = self
            try:
                with multiprocessing.get_context("fork").Pool(jobs) as pool:
                    yield from pool.imap(_grade_in_worker, [str(p) for p in paths], chunksize=8)
            finally:
                _WORKER = None
            return
        for p in paths:
            yield self._graded_one(p)

    def _graded_one(self, path: Path | str) -> tuple[str, str, bool, bytes]:
        grade = self.grade_file(Path(path))
        loads = not grade.reason.startswith("malformed:")
        return str(path), grade.student, loads, pickle.dumps(grade, protocol=pickle.HIGHEST_PROTOCOL)


_WORKER: ClassGrader | None = None


def _grade_in_worker(path: str) -> tuple[str, str, bool, bytes]:
    assert _WORKER is not None
    return _WORKER._graded_one(path)


def default_jobs() -> int:
    """Worker processes for a command-line run: up to 2, one per CPU this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus)) if sys.platform.startswith("linux") else 1


# -- reading attempt files --------------------------------------------------------------------


class _FastAttemptLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's parser with the pack loader's scalars (only true/false are booleans, dates stay text)."""

    yaml_implicit_resolvers = PackYamlLoader.yaml_implicit_resolvers

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str" \
                    or key_node.value in seen:
                raise _NotPlain
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


class _NotPlain(Exception):
    """The fast reader met something only ``load_attempt`` judges (a repeated key, a merge, a non-text key)."""


def read_attempt(path: Path) -> Attempt:
    """``load_attempt(path)``, faster: a plain, valid file is parsed by libyaml and validated by the
    ``Attempt`` model; anything else goes to ``load_attempt`` itself, so a refusal and its reason are
    always ``load_attempt``'s. (``load_attempt`` composes YAML in pure Python to keep line numbers:
    about 35 ms for a 65-question attempt against 2-3 ms here.)"""
    p = Path(path)
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8-sig")
        # tags (!) and anchors (&) are the careful reader's to judge: it refuses tags and counts aliases
        if len(raw) <= MAX_BYTES and "!" not in text and "&" not in text:
            data = yaml.load(text, Loader=_FastAttemptLoader)  # noqa: S506 (a safe loader)
            fmt = data.get("format") if isinstance(data, dict) else None
            if type(fmt) is int and fmt == FORMAT:
                return Attempt.model_validate(data)
    except Exception:  # noqa: BLE001 (any doubt: the careful reader decides and explains)
        pass
    return load_attempt(p)


def _raw_student(path: Path) -> str:
    """A malformed file's student id, when it still has a readable ``student: text`` (for sorting)."""
    try:
        data = yaml.load(Path(path).read_bytes()[:MAX_BYTES], Loader=_FastAttemptLoader)  # noqa: S506
    except Exception:  # noqa: BLE001
        return ""
    student = data.get("student") if isinstance(data, dict) else None
    return student.strip() if isinstance(student, str) else ""


# -- answers ---------------------------------------------------------------------------------


def _seconds(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v >= 0 else None


def _shape_problem(item: _Item, answer: Any) -> str | None:
    """Why ``answer`` cannot answer this question (its shape, or ids the question lacks), or None."""
    q = item.question
    if q.type == "single":
        if not isinstance(answer, str):
            return f"a single-answer question takes one option id, not {_short(answer)}"
        return None if answer in item.option_ids else f"{answer} is not an option of the question"
    if q.type in ("multi", "ordering"):
        what = "option ids" if q.type == "multi" else "item ids, first to last"
        if isinstance(answer, str):
            answer = [answer]
        if not isinstance(answer, list | tuple) or not all(isinstance(a, str) for a in answer):
            return f"a {q.type} question takes a list of {what}, not {_short(answer)}"
        unknown = sorted(set(answer) - item.option_ids)
        if unknown:
            return f"not {'options' if q.type == 'multi' else 'items'} of the question: {', '.join(unknown)}"
        if len(set(answer)) != len(answer):
            return f"{'an option' if q.type == 'multi' else 'an item'} is given twice"
        return None
    if q.type == "matching":
        if not isinstance(answer, Mapping) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                                      for k, v in answer.items()):
            return f"a matching question takes prompt id -> option id, not {_short(answer)}"
        bad_prompts = sorted(set(answer) - item.prompt_ids)
        if bad_prompts:
            return f"not prompts of the question: {', '.join(bad_prompts)}"
        bad = sorted({v for v in answer.values() if v not in (None, "") and v not in item.option_ids})
        if bad:
            return f"not options of the question: {', '.join(bad)}"
        return None
    return f"cannot grade a question of type {q.type}"


def _scorable(q: Any, answer: Any) -> Any:
    if q.type == "matching":
        return {k: v for k, v in answer.items() if v not in (None, "")}
    return answer


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def attempt_files(paths: Sequence[str | Path], *, exclude: Path | None = None) -> tuple[list[Path], list[str]]:
    """The attempt files a command line names: files as given, and ``*.yaml``/``*.yml`` in folders,
    recursively, skipping hidden names and anything under ``exclude`` (the output folder).
    Returns (files, problems): a missing path or a folder without attempt files is a problem."""
    files: list[Path] = []
    problems: list[str] = []
    skip = exclude.resolve() if exclude is not None else None
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for pattern in PATTERNS:
                for f in p.rglob(pattern):
                    if any(part.startswith(".") for part in f.relative_to(p).parts) or not f.is_file():
                        continue
                    if skip is not None and (skip == f.resolve().parent or skip in f.resolve().parents):
                        continue
                    found.append(f)
            if not found:
                problems.append(f"{raw}: no attempt files (*.yaml) in this folder")
            files.extend(sorted(found))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{raw}: no such file or folder")
    return list(dict.fromkeys(files)), problems
