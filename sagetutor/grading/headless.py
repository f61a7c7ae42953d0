"""``sagetutor exam --headless``: an exam in a plain terminal, written to an attempt file.

The student's exam is ``draw.student_exam(pack, student, seed)``; each question is printed as
plain text (a case study's scenario before its first question), with its options lettered
``a``, ``b``, ... in the student's option order, and the answer is read from a line:

=========  ==========  ===============================================================
type       example     rule
=========  ==========  ===============================================================
single     ``b``       one letter
multi      ``a,c``     exactly as many letters as the question says to choose
ordering   ``c,a,b``   every letter once, first to last
matching   ``1=b,2=a`` prompt number = option letter, each prompt at most once; prompts
                       left out stay unmatched
=========  ==========  ===============================================================

An empty line skips the question, ``?`` flags it (or unflags it) and asks again, anything else
invalid gets a one-line reason and is asked again. End of input (or Ctrl-C) ends the exam:
the questions not reached stay unanswered. When the exam's time is up the exam ends, and an
answer typed after that is not recorded. There is no score: grading is the teacher's.

``answers`` (``--answers FILE``) answers without asking: question id (a case study's question
ids) -> the same syntax written with the pack's option and prompt ids (``vpc-endpoint``,
``spot,checkpoints``, ``p1=kmeans,p2=xgboost``; YAML lists and mappings are taken too); a
leading ``?`` flags the question (``?b`` or ``?`` alone). Every answer is checked before
anything is written.

Seconds per question come from ``clock`` (``time.monotonic``); tests inject their own.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sagetutor.grading.attempt import FORMAT, Attempt
from sagetutor.grading.draw import StudentExam, pack_hash, student_exam

LETTERS = "abcdefghijklmnopqrstuvwxyz"
NUMBERS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE", 6: "SIX"}


class AnswerError(ValueError):
    """An answer that does not fit the question; ``str()`` is a one-line reason."""


@dataclass
class Shown:
    """A question as the student sees it: params filled, options in the student's order."""

    id: str
    type: str
    stem: str
    options: list[tuple[str, str]]  # (option id, text) in display order
    prompts: list[tuple[str, str]] = field(default_factory=list)  # (prompt id, text) in pack order
    select: int = 1
    case_id: str | None = None
    case_title: str | None = None
    case_stem: str | None = None

    @property
    def option_ids(self) -> list[str]:
        return [i for i, _ in self.options]

    def letter(self, option_id: str) -> str:
        return LETTERS[self.option_ids.index(option_id)]

    def letters(self) -> str:
        return f"a to {LETTERS[len(self.options) - 1]}" if self.options else "none"


def shown_questions(pack: Any, exam: StudentExam) -> list[Shown]:
    """Every question of ``exam`` as displayed (its params variant substituted)."""
    from sagetutor.quiz.runtime import QuizRuntime

    rt = QuizRuntime(pack, pack_hash(pack), use_cache=False)
    out = []
    for qid in exam.question_ids:
        r = rt.resolve(qid, params=exam.params.get(qid, {}))
        q = r.question
        texts = {o.id: o.text for o in q.options}
        order = exam.option_orders.get(qid) or tuple(texts)
        out.append(Shown(
            id=qid, type=q.type, stem=q.stem.strip(), options=[(i, texts[i].strip()) for i in order],
            prompts=[(p.id, p.text.strip()) for p in getattr(q, "prompts", [])],
            select=getattr(q, "select", 1), case_id=r.case.id if r.case is not None else None,
            case_title=(r.case.title if r.case is not None else None),
            case_stem=(r.case.stem.strip() if r.case is not None else None)))
    return out


# -- answers -----------------------------------------------------------------------------------------


def _parts(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()] if text.strip() else []


def _check_choice(shown: Shown, ids: list[str], how: str) -> Any:
    """``ids`` (pack ids) as the answer to ``shown``; ``how`` names them in messages (letters or ids)."""
    seen = set()
    for i in ids:
        if i in seen:
            raise AnswerError(f"{how(i)} is given twice")
        seen.add(i)
    n = len(shown.options)
    if shown.type == "single":
        if len(ids) != 1:
            raise AnswerError(f"choose one option ({len(ids)} given)")
        return ids[0]
    if shown.type == "multi":
        if len(ids) != shown.select:
            raise AnswerError(f"choose exactly {shown.select} options, separated by commas ({len(ids)} given)")
        return ids
    if shown.type == "ordering":
        if len(ids) != n:
            missing = [how(i) for i in shown.option_ids if i not in seen]
            raise AnswerError(f"put all {n} items in order, separated by commas (missing: {', '.join(missing)})")
        return ids
    raise AnswerError(f"unknown question type {shown.type}")


def parse_display(shown: Shown, text: str) -> Any:
    """An answer typed with display letters and prompt numbers -> the answer in pack ids."""
    text = text.strip().lower()
    if shown.type == "matching":
        return _parse_matching(shown, text, by_letter=True)
    ids = []
    for part in _parts(text):
        if len(part) != 1 or part not in LETTERS[: len(shown.options)]:
            if len(part) > 1 and all(c in LETTERS for c in part) and shown.type != "single":
                raise AnswerError(f"separate the letters with commas, e.g. {','.join(part)}")
            raise AnswerError(f"'{part}' is not an option letter ({shown.letters()})")
        ids.append(shown.option_ids[LETTERS.index(part)])
    return _check_choice(shown, ids, lambda i: f"'{shown.letter(i)}'")


def _parse_matching(shown: Shown, text: str, by_letter: bool) -> dict[str, str]:
    example = "1=b,2=a" if by_letter else f"{shown.prompts[0][0]}={shown.option_ids[0]}"
    prompt_ids = [p for p, _ in shown.prompts]
    out: dict[str, str] = {}
    for part in _parts(text):
        left, eq, right = part.partition("=")
        left, right = left.strip(), right.strip()
        if not eq or not left or not right:
            raise AnswerError(f"write prompt=option pairs separated by commas, e.g. {example}")
        if by_letter:
            if not left.isdigit() or not 1 <= int(left) <= len(prompt_ids):
                raise AnswerError(f"'{left}' is not a prompt number (1 to {len(prompt_ids)})")
            prompt = prompt_ids[int(left) - 1]
            if len(right) != 1 or right not in LETTERS[: len(shown.options)]:
                raise AnswerError(f"'{right}' is not an option letter ({shown.letters()})")
            option = shown.option_ids[LETTERS.index(right)]
        else:
            prompt, option = left, right
            if prompt not in prompt_ids:
                raise AnswerError(f"'{prompt}' is not a prompt id ({', '.join(prompt_ids)})")
            if option not in shown.option_ids:
                raise AnswerError(f"'{option}' is not an option id ({', '.join(sorted(shown.option_ids))})")
        if prompt in out:
            raise AnswerError(f"prompt {left} is matched twice")
        out[prompt] = option
    if not out:
        raise AnswerError(f"write prompt=option pairs separated by commas, e.g. {example}")
    return out


def parse_ids(shown: Shown, value: Any) -> Any:
    """An answer written with the pack's ids (``--answers``): text in the display syntax's shape, or
    a YAML list / mapping -> the answer in pack ids."""
    if shown.type == "matching":
        if isinstance(value, Mapping):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        return _parse_matching(shown, str(value), by_letter=False)
    ids = [str(v).strip() for v in value] if isinstance(value, list) else _parts(str(value))
    for i in ids:
        if i not in shown.option_ids:
            raise AnswerError(f"'{i}' is not an option id ({', '.join(sorted(shown.option_ids))})")
    return _check_choice(shown, ids, lambda i: f"'{i}'")


def read_answers_file(path: Path) -> dict[str, Any]:
    """The ``--answers`` YAML mapping (question id -> answer); ``AnswerError`` when it is not one."""
    from sagetutor.packs.loader import read_yaml

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise AnswerError(f"{path}: cannot read it: {getattr(e, 'strerror', None) or e}") from e
    if not text.strip():
        return {}
    data, _, problems = read_yaml(text)
    if problems:
        line, col, msg = problems[0]
        raise AnswerError(f"{path}:{line}:{col}: {msg}")
    if not isinstance(data, Mapping):
        raise AnswerError(f"{path}: should be a mapping of question id to answer (e.g. `nightly-scoring: b`)")
    return {str(k): v for k, v in data.items()}


# -- the exam ----------------------------------------------------------------------------------------


def _fmt_seconds(seconds: float) -> str:
    s = max(0, int(seconds + 0.999))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _instruction(shown: Shown) -> tuple[str, str]:
    """(what to do, an example) for a question type."""
    if shown.type == "single":
        return "Choose ONE", "b"
    if shown.type == "multi":
        return f"Choose {NUMBERS.get(shown.select, shown.select)}", ",".join(LETTERS[: shown.select])
    if shown.type == "ordering":
        return "Put the items in order, first to last", ",".join(reversed(LETTERS[: len(shown.options)]))
    return "Match each prompt with an option (an option may fit several prompts or none)", "1=b,2=a"


def render(shown: Shown, number: int, total: int, flagged: bool, left: float | None) -> str:
    """The question as plain text."""
    head = f"Question {number} of {total}"
    if left is not None:
        head += f"  ·  {_fmt_seconds(left)} left"
    if flagged:
        head += "  ·  flagged"
    lines = ["", "=" * 78, head, ""]
    lines += [shown.stem, ""]
    what, _ = _instruction(shown)
    lines.append(what + ":")
    if shown.type == "matching":
        for k, (_, text) in enumerate(shown.prompts, start=1):
            lines.append(f"  {k}. {text}")
        lines.append("Options:")
    for k, (_, text) in enumerate(shown.options):
        body = text.replace("\n", "\n     ")
        lines.append(f"  {LETTERS[k]}) {body}")
    return "\n".join(lines)


class _Input:
    """Lines from a stream; ``None`` at end of input (or Ctrl-C)."""

    def __init__(self, stream: TextIO, out: TextIO):
        self.stream, self.out = stream, out

    def ask(self, prompt: str) -> str | None:
        self.out.write(prompt)
        self.out.flush()
        try:
            if self.stream is sys.stdin and sys.stdin.isatty():
                return input()
            line = self.stream.readline()
        except (EOFError, KeyboardInterrupt):
            return None
        if line == "":
            return None
        return line.rstrip("\r\n")


def _attempt(pack: Any, student: str, seed: int, exam: StudentExam, answers: dict, flags: list[str],
             seconds: dict[str, float], started: datetime, ended: datetime) -> Attempt:
    order = list(exam.question_ids)
    return Attempt(format=FORMAT, pack_id=pack.pack.id, pack_version=pack.pack.version, pack_hash=pack_hash(pack),
                   student=student, seed=seed, questions=order,
                   answers={q: answers[q] for q in order if q in answers},
                   flags=[q for q in order if q in flags],
                   seconds={q: round(seconds[q], 3) for q in order if q in seconds},
                   started_at=started, ended_at=ended)


def run_exam(pack: Any, student: str, seed: int, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
             clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None,
             answers: Mapping[str, Any] | None = None) -> Attempt:
    """Sit the exam ``(pack, student, seed)`` and return the attempt (not written).

    Interactive from ``stdin`` unless ``answers`` is given (then ``AnswerError`` lists every answer
    that does not fit, one per line, and nothing is asked)."""
    out = stdout or sys.stdout
    now = now or (lambda: datetime.now(UTC))
    exam = student_exam(pack, student, seed)
    shown = shown_questions(pack, exam)
    if answers is not None:
        return _from_answers(pack, student, seed, exam, shown, answers, now)
    inp = _Input(stdin or sys.stdin, out)
    started = now()
    t0 = clock()
    given: dict[str, Any] = {}
    flags: list[str] = []
    spent: dict[str, float] = {}
    total = len(shown)
    out.write(f"{pack.pack.title} ({pack.pack.id} {pack.pack.version}): exam for {student}, seed {seed}\n"
              f"{total} questions in {_fmt_seconds(exam.seconds)}. Answer with letters: b  |  a,c  |  c,a,b  |  "
              f"1=b,2=a (matching).\nEmpty line: skip.  ?: flag for review.  End of input (Ctrl-D): end the exam.\n")
    case_shown = None
    ended_by = "finished"
    for k, s in enumerate(shown, start=1):
        left = exam.seconds - (clock() - t0) if exam.seconds else None
        if left is not None and left <= 0:
            ended_by = "time"
            break
        if s.case_id is not None and s.case_id != case_shown:
            title = f": {s.case_title}" if s.case_title else ""
            out.write(f"\n{'#' * 78}\nCase study{title}\n\n{s.case_stem}\n")
        case_shown = s.case_id
        entered = clock()
        out.write(render(s, k, total, s.id in flags, left) + "\n")
        _, example = _instruction(s)
        eof = False
        while True:
            line = inp.ask(f"Answer ({example}; empty to skip, ? to flag) > ")
            if line is None:
                eof = True
                break
            if line.strip() == "?":
                if s.id in flags:
                    flags.remove(s.id)
                    out.write("Unflagged.\n")
                else:
                    flags.append(s.id)
                    out.write("Flagged for review.\n")
                continue
            if not line.strip():
                given.pop(s.id, None)
                break
            try:
                answer = parse_display(s, line)
            except AnswerError as e:
                out.write(f"Not an answer: {e}. Try again.\n")
                continue
            if exam.seconds and clock() - t0 > exam.seconds:
                ended_by = "time"
                break
            given[s.id] = answer
            break
        spent[s.id] = spent.get(s.id, 0.0) + max(0.0, clock() - entered)
        if eof:
            ended_by = "eof"
            break
        if ended_by == "time":
            break
    if ended_by == "time":
        out.write("\nTime is up: the exam is over (an answer typed after the time is not recorded).\n")
    elif ended_by == "eof":
        out.write("\nEnd of input: the exam is over; the questions not reached stay unanswered.\n")
    return _attempt(pack, student, seed, exam, given, flags, spent, started, now())


def _from_answers(pack: Any, student: str, seed: int, exam: StudentExam, shown: list[Shown],
                  answers: Mapping[str, Any], now: Callable[[], datetime]) -> Attempt:
    started = now()
    by_id = {s.id: s for s in shown}
    known = {q.id for q in pack.items()}
    cases = {q.id for q in pack.questions if q.type == "case_study"}
    problems: list[str] = []
    given: dict[str, Any] = {}
    flags: list[str] = []
    for qid, value in answers.items():
        if qid in cases:
            problems.append(f"question {qid}: a case study: answer its questions by their own ids")
            continue
        if qid not in known:
            problems.append(f"question {qid}: no such question in pack {pack.pack.id}")
            continue
        if qid not in by_id:
            continue  # not drawn for this student: ignored
        if isinstance(value, str) and value.strip().startswith("?"):
            flags.append(qid)
            value = value.strip()[1:]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            given[qid] = parse_ids(by_id[qid], value)
        except AnswerError as e:
            problems.append(f"question {qid}: {e}")
    if problems:
        raise AnswerError("\n".join(problems))
    return _attempt(pack, student, seed, exam, given, flags, {q: 0.0 for q in exam.question_ids}, started, now())


def not_drawn(pack: Any, student: str, seed: int, answers: Mapping[str, Any]) -> list[str]:
    """Question ids in ``answers`` that the student's exam does not include."""
    drawn = set(student_exam(pack, student, seed).question_ids)
    known = {q.id for q in pack.items()}
    return [q for q in answers if q in known and q not in drawn]


# -- the command -------------------------------------------------------------------------------------

STUDENT_ID = re.compile(r"^[^\s/\\][^/\\\x00-\x1f]*$")


def sit(pack_path: str, student: str | None, seed: int | None, out: str | None, answers_path: str | None, *,
        stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic) -> int:
    """``sagetutor exam --headless``: 0 when the attempt is written, 1 for a problem (said on stderr)."""
    from sagetutor.grading.attempt import AttemptError, default_attempt_path, write_attempt
    from sagetutor.packs import load_file

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if not student or not student.strip() or not STUDENT_ID.match(student.strip()):
        print("--student ID is required with --headless: your id as your teacher gave it (no slashes)", file=stderr)
        return 1
    student = student.strip()
    result = load_file(pack_path)
    if not result.ok or result.pack is None:
        for p in result.problems:
            print(p, file=stderr)
        print(f"{pack_path}: not a valid pack; no exam taken", file=stderr)
        return 1
    pack = result.pack
    seed = pack.pack.seed if seed is None else seed
    target = Path(out) if out else default_attempt_path(student, pack.pack.id)
    if target.exists():
        print(f"{target}: already exists; not overwriting it (choose another file with --out)", file=stderr)
        return 1
    answers = None
    if answers_path:
        try:
            answers = read_answers_file(Path(answers_path))
        except AnswerError as e:
            print(e, file=stderr)
            return 1
        skipped = not_drawn(pack, student, seed, answers)
        if skipped:
            print(f"{answers_path}: not in {student}'s exam, ignored: {', '.join(skipped)}", file=stderr)
    try:
        attempt = run_exam(pack, student, seed, stdin=stdin, stdout=stdout, clock=clock, answers=answers)
    except AnswerError as e:
        for line in str(e).splitlines():
            print(f"{answers_path}: {line}", file=stderr)
        print(f"{answers_path}: no attempt written", file=stderr)
        return 1
    try:
        written = write_attempt(attempt, target)
    except AttemptError as e:
        print(e, file=stderr)
        return 1
    n = len(attempt.questions)
    print(f"\nAnswered {len(attempt.answers)} of {n} question{'s' if n != 1 else ''}"
          + (f", {len(attempt.flags)} flagged" if attempt.flags else "") + ".", file=stdout)
    print(f"Wrote your attempt to {written}: hand this file in to your teacher (no score is shown here).",
          file=stdout)
    return 0
