"""The gradebook writers: grades in, files a teacher imports or hands back.

``write_gradebook(grades, out, formats, book)`` streams grades (``sagetutor.grading.grade``)
into every chosen writer at once; nothing holds the whole class in memory.

======================  ===============================================================
format                  writes
======================  ===============================================================
``csv``                 ``gradebook.csv``: one row per attempt file, gradable or not
``gradescope``          ``gradescope/<student>.json`` in Gradescope's ``results.json`` schema
``junit``               ``junit.xml``: a ``testsuite`` per attempt file, a ``testcase`` per question
``feedback``            ``feedback/<student>.md``: each missed question, with what the
                        student's choice and the right answer do on the simulator
======================  ===============================================================

Per-student files (gradescope, feedback) are written for every attempt with a student id
except a duplicate student's later files: the student's graded file owns them. A student id
that is not a safe file name is written with unsafe characters as ``_`` plus the first 8 hex
digits of the id's sha256 (``a/b`` -> ``a_b-<hash>.json``). Files are overwritten; files of
students no longer graded are left as they are.

Numbers: ``raw_score`` is the sum of the scored questions' scores (partial credit as the
pack's rules give it, up to 4 decimals), ``max_score`` the number of scored questions, the
percents have two decimals, ``scaled_estimate`` is the 100-1000 *estimate*
(``sagetutor.quiz.scoring``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagetutor.grading.grade import NO_DOMAIN, ClassGrader, Grade, QuestionGrade, excerpt
from sagetutor.quiz.scoring import ESTIMATE_LABEL, correct_answer

FORMATS = ("csv", "gradescope", "junit", "feedback")
CSV_NAME = "gradebook.csv"
JUNIT_NAME = "junit.xml"
CSV_COLUMNS = ("student_id", "raw_score", "max_score", "percent", "scaled_estimate", "passed", "gradable", "reason")
#: Gradescope's visibility values (results.json, top level and per test).
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: Outcome timeline kinds always worth showing in feedback.
KEY_KINDS = {"spot", "checkpoint", "fault", "scaling", "error"}
#: Words of a status event that mark a resource's turning point.
KEY_STATUSES = ("Completed", "Failed", "Stopped", "InService", "Interrupted", "Deleted", "SUCCEEDED", "FAILED",
                "Violations")
TIMELINE_LINES = 8


def domain_column(key: str) -> str:
    """The gradebook column of a domain: ``domain_<key>`` (``domain_none`` for questions without one)."""
    return "domain_none" if key == NO_DOMAIN else f"domain_{key}"


def safe_name(student: str) -> str:
    """A file name stem for a student id: the id itself when it is safe, else a sanitised id plus a hash."""
    clean = re.sub(r"[^A-Za-z0-9._@+-]", "_", student)[:100]
    if clean == student and not student.startswith(".") and student:
        return student
    digest = hashlib.sha256(student.encode("utf-8")).hexdigest()[:8]
    return f"{clean.lstrip('.') or 'student'}-{digest}"


def number(value: float | None, places: int = 4) -> str:
    """``37``, ``36.5``, ``0.3333``; ``""`` for None."""
    if value is None:
        return ""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: Any) -> str:
    return _XML_BAD.sub("\ufffd", str(text))


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection): a leading = + - @ gets '."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass
class Book:
    """What the writers share: the grader (pack, index, domains, pass mark) and the pack file for feedback."""

    grader: ClassGrader
    pack_file: Path | None = None
    visibility: str = "after_due_date"
    runtime: Any = None  # a QuizRuntime, made on first use by the feedback writer
    _labels: dict = field(default_factory=dict, repr=False)  # (question, option) -> "id (text)"

    @property
    def pack(self) -> Any:
        return self.grader.pack

    def title(self, qid: str) -> str:
        q = self.grader.question(qid)
        return q.title or excerpt(q.stem, 70)

    def show(self, qid: str, answer: Any, params: Mapping[str, Any] | None = None) -> str:
        """An answer in words: option ids with their text (``transform`` (A batch transform job.))."""
        if answer is None or answer == [] or answer == {}:
            return "(not answered)"
        q = self.grader.question(qid)
        values = params or {}

        def opt(i: str) -> str:
            key = (qid, i)
            label = None if values else self._labels.get(key)
            if label is None:
                text = next((o.text for o in getattr(q, "options", []) if o.id == i), None)
                label = f"{i} ({excerpt(_fill(text, values), 60)})" if text else str(i)
                if not values:
                    self._labels[key] = label
            return label

        if q.type == "single":
            return opt(answer)
        if q.type == "multi":
            return "; ".join(opt(i) for i in ([answer] if isinstance(answer, str) else answer))
        if q.type == "ordering":
            return " -> ".join(opt(i) for i in answer)
        prompts = {p.id: p.text for p in q.prompts}
        return "; ".join(f"{excerpt(_fill(prompts.get(k, k), values), 40)} = {opt(v)}" for k, v in answer.items())


def _fill(text: str, values: Mapping[str, Any]) -> str:
    if "${" not in text or not values:
        return text
    from sagetutor.packs import params as P

    try:
        return str(P.substitute_text(text, values))
    except Exception:  # noqa: BLE001 (a placeholder this variant lacks: show the text as written)
        return text


# -- csv ---------------------------------------------------------------------------------------


class CsvWriter:
    """``gradebook.csv``: the columns of ``CSV_COLUMNS``, then one ``domain_<key>`` percent per domain."""

    def __init__(self, out: Path, book: Book):
        self.path = out / CSV_NAME
        self.book = book
        self.fh = self.path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow([*CSV_COLUMNS, *(domain_column(d) for d in book.grader.domains)])

    def add(self, g: Grade) -> None:
        self.writer.writerow([
            _cell(g.student), number(g.raw_score), "" if g.max_score is None else g.max_score, percent(g.percent),
            "" if g.scaled is None else g.scaled, "true" if g.passed else "false",
            "true" if g.gradable else "false", _cell(f"{g.file.name}: {g.reason}" if g.reason else ""),
            *(percent(g.domain_percent(d)) for d in self.book.grader.domains)])

    def close(self) -> list[Path]:
        self.fh.close()
        return [self.path]


# -- gradescope --------------------------------------------------------------------------------


class GradescopeWriter:
    """``gradescope/<student>.json``: Gradescope's ``results.json`` (score, output, visibility,
    stdout_visibility, extra_data, tests). ``score`` is the raw score; each test is a question with
    ``max_score`` 1 (0 for an unscored pilot item, tagged ``unscored``). The tests reveal the key,
    so they and the result are shown ``after_due_date`` by default; a not-gradable result says why
    and is ``visible`` (it reveals nothing, and the student can hand in a correct file)."""

    def __init__(self, out: Path, book: Book):
        if book.visibility not in VISIBILITIES:
            raise ValueError(f"visibility {book.visibility!r}: one of {', '.join(VISIBILITIES)}")
        self.dir = out / "gradescope"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.book = book
        self.written: list[Path] = []

    def add(self, g: Grade) -> None:
        if g.duplicate or not g.student:
            return
        path = self.dir / f"{safe_name(g.student)}.json"
        path.write_text(json.dumps(self.results(g), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.written.append(path)

    def results(self, g: Grade) -> dict:
        pack = self.book.pack.pack
        extra: dict[str, Any] = {"student": g.student, "file": g.file.name, "pack": pack.id,
                                 "pack_version": pack.version, "seed": g.seed, "gradable": g.gradable}
        if not g.gradable:
            extra["reason"] = g.reason
            return {"score": 0, "output": f"Not graded: {g.reason}", "visibility": "visible",
                    "stdout_visibility": "hidden", "extra_data": extra, "tests": []}
        assert g.result is not None
        extra.update({"max_score": g.max_score, "percent": round(g.percent or 0.0, 2),
                      "scaled_estimate": g.scaled, "scaled_label": ESTIMATE_LABEL, "pass_mark": g.pass_mark,
                      "passed": g.passed,
                      "domains": {d: round(p, 2) for d in self.book.grader.domains
                                  if (p := g.domain_percent(d)) is not None},
                      "started_at": g.started_at, "ended_at": g.ended_at})
        if g.reason:
            extra["note"] = g.reason
        tests = [self.test(g, q) for q in g.questions]
        output = (f"Raw score {number(g.raw_score)} of {g.max_score} ({percent(g.percent)}%). "
                  f"{ESTIMATE_LABEL.capitalize()}: {g.scaled} (pass mark {g.pass_mark}): "
                  f"{'passed' if g.passed else 'not passed'}. The scaled score is an estimate, not AWS's score.")
        return {"score": round(g.raw_score or 0.0, 4), "output": output, "visibility": self.book.visibility,
                "stdout_visibility": "hidden", "extra_data": extra, "tests": tests}

    def test(self, g: Grade, q: QuestionGrade) -> dict:
        question = self.book.grader.question(q.question_id)
        params = g.params.get(q.question_id)
        right = self.book.show(q.question_id, correct_answer(question), params)
        lines = [f"Your answer: {self.book.show(q.question_id, q.answer, params)}", f"Right answer: {right}"]
        if 0 < q.score < 1:
            lines.append(f"Partial credit under {question.scoring}: {number(q.score)}")
        if not q.scored:
            lines.append("Not scored: a pilot item, as AWS includes unscored items.")
        tags = [t for t in (q.domain, question.type, None if q.scored else "unscored") if t]
        return {"name": f"{q.number}. {self.book.title(q.question_id)} ({q.question_id})", "number": str(q.number),
                "score": round(q.score, 4) if q.scored else 0.0, "max_score": 1.0 if q.scored else 0.0,
                "output": "\n".join(lines), "tags": tags, "visibility": self.book.visibility}

    def close(self) -> list[Path]:
        return list(self.written)


# -- junit -------------------------------------------------------------------------------------


class JunitWriter:
    """``junit.xml``: ``<testsuites>`` with a ``<testsuite>`` per attempt file (named by the student id,
    the file and the numbers in ``<properties>``) and a ``<testcase>`` per question: a ``<failure>``
    when the question was missed (partial credit included), ``<skipped>`` when it was not answered or
    is an unscored pilot item. A not-gradable file is a suite with one ``<error>`` test case saying why.
    Suites are streamed to a temporary file; the totals go on ``<testsuites>`` at the end."""

    def __init__(self, out: Path, book: Book):
        self.path = out / JUNIT_NAME
        self.book = book
        self.body = tempfile.TemporaryFile("w+", encoding="utf-8", dir=out, prefix=".junit-", suffix=".part")
        self.totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        self.time = 0.0

    def add(self, g: Grade) -> None:
        pack = self.book.pack.pack
        suite = ET.Element("testsuite", name=_xml(g.student or g.file.name))
        props = ET.SubElement(suite, "properties")
        values = {"file": g.file.name, "student": g.student, "seed": g.seed, "gradable": str(g.gradable).lower(),
                  "raw_score": number(g.raw_score), "max_score": g.max_score, "percent": percent(g.percent),
                  "scaled_estimate": g.scaled, "pass_mark": g.pass_mark, "passed": str(g.passed).lower(),
                  "reason": g.reason}
        for name, value in values.items():
            if value not in (None, ""):
                ET.SubElement(props, "property", name=name, value=_xml(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        seconds = 0.0
        if not g.gradable:
            case = ET.SubElement(suite, "testcase", classname=_xml(pack.id), name="gradable", time="0")
            ET.SubElement(case, "error", message=_xml(g.reason), type="not-gradable").text = _xml(g.reason)
            counts["tests"], counts["errors"] = 1, 1
        for q in g.questions:
            counts["tests"] += 1
            seconds += q.seconds or 0.0
            case = ET.SubElement(suite, "testcase", classname=_xml(f"{pack.id}.{q.domain or 'none'}"),
                                 name=_xml(f"{q.question_id}: {self.book.title(q.question_id)}"),
                                 time=f"{q.seconds or 0.0:.3f}")
            if not q.scored or not q.answered:
                why = "not answered" if not q.answered else "not scored (pilot item)"
                if not q.scored:
                    why = "not scored (pilot item): " + ("not answered" if not q.answered else
                                                         "right" if not q.missed else "missed")
                ET.SubElement(case, "skipped", message=why)
                counts["skipped"] += 1
            elif q.missed:
                params = g.params.get(q.question_id)
                given = self.book.show(q.question_id, q.answer, params)
                right = self.book.show(q.question_id, correct_answer(self.book.grader.question(q.question_id)),
                                       params)
                kind = "partial-credit" if q.score > 0 else "wrong-answer"
                failure = ET.SubElement(case, "failure", type=kind,
                                        message=_xml(f"score {number(q.score)} of 1: answered {excerpt(given, 120)}"))
                failure.text = _xml(f"Your answer: {given}\nRight answer: {right}")
                counts["failures"] += 1
        for k, v in counts.items():
            suite.set(k, str(v))
            self.totals[k] += v
        suite.set("time", f"{seconds:.3f}")
        if g.started_at:
            suite.set("timestamp", g.started_at)
        self.time += seconds
        self.body.write("  " + ET.tostring(suite, encoding="unicode") + "\n")

    def close(self) -> list[Path]:
        pack = self.book.pack.pack
        head = ET.Element("testsuites", name=_xml(f"sagetutor grade {pack.id} {pack.version}"),
                          **{k: str(v) for k, v in self.totals.items()}, time=f"{self.time:.3f}")
        opening = ET.tostring(head, encoding="unicode").replace(" />", ">").replace("/>", ">")
        self.body.seek(0)
        with self.path.open("w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="utf-8"?>\n' + opening + "\n")
            shutil.copyfileobj(self.body, fh)
            fh.write("</testsuites>\n")
        self.body.close()
        return [self.path]


# -- feedback ----------------------------------------------------------------------------------


class FeedbackWriter:
    """``feedback/<student>.md``: the score, then each missed question (partial credit and unanswered
    included): its title and stem, the student's answer and the right one, and for each what it did
    on the simulator (``QuizRuntime.answer``: requirements met or not, cost, time, key timeline lines).

    Outcomes come through the quiz runtime's outcome cache (``sagetutor.quiz.cache``): only plans not
    cached yet are simulated. The engine seed is the pack's own seed, as in practice mode and
    ``validate --simulate``, so a class shares outcomes and a pack checked with ``validate --simulate``
    simulates nothing new; each student's params variant is their own."""

    def __init__(self, out: Path, book: Book):
        self.dir = out / "feedback"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.book = book
        self.written: list[Path] = []

    def runtime(self) -> Any:
        if self.book.runtime is None:
            from sagetutor.quiz import cache as cache_mod
            from sagetutor.quiz.runtime import QuizRuntime

            pack = self.book.pack
            content = cache_mod.content_hash(self.book.pack_file.read_bytes()) if self.book.pack_file else None
            self.book.runtime = QuizRuntime(pack, content, source=str(self.book.pack_file or pack.pack.id))
        return self.book.runtime

    def add(self, g: Grade) -> None:
        if g.duplicate or not g.student:
            return
        path = self.dir / f"{safe_name(g.student)}.md"
        path.write_text(self.render(g), encoding="utf-8")
        self.written.append(path)

    def render(self, g: Grade) -> str:
        pack = self.book.pack.pack
        lines = [f"# Feedback for {g.student}: {pack.title} ({pack.id} {pack.version})", ""]
        if not g.gradable:
            lines += [f"This attempt ({g.file.name}) was not graded: {g.reason}.", ""]
            return "\n".join(lines)
        lines += [f"Raw score {number(g.raw_score)} of {g.max_score} ({percent(g.percent)}%). "
                  f"{ESTIMATE_LABEL.capitalize()}: **{g.scaled}** (pass mark {g.pass_mark}): "
                  f"**{'passed' if g.passed else 'not passed'}**.", "",
                  "The scaled score is an estimate: AWS equates scores across exam forms.", ""]
        domains = [(d, p) for d in self.book.grader.domains if (p := g.domain_percent(d)) is not None]
        if domains:
            lines += ["| domain | percent |", "|---|---|", *(f"| {d} | {p:.1f}% |" for d, p in domains), ""]
        missed = [q for q in g.questions if q.missed]
        if not missed:
            lines += ["Every question right.", ""]
            return "\n".join(lines)
        lines += [f"## Missed questions ({len(missed)})", ""]
        for q in missed:
            lines += self.question(g, q)
        return "\n".join(lines)

    def question(self, g: Grade, q: QuestionGrade) -> list[str]:
        rt = self.runtime()
        params = g.params.get(q.question_id)
        result = rt.answer(q.question_id, q.answer, seed=self.book.pack.pack.seed, params=params or None)
        title = result.get("title") or self.book.title(q.question_id)
        resolved = rt.resolve(q.question_id, self.book.pack.pack.seed, params or None).question
        out = [f"### {q.number}. {title} (`{q.question_id}`)", ""]
        out += [f"> {excerpt(resolved.stem, 400)}", ""]
        if not q.scored:
            out += ["*A pilot item: not scored.*", ""]
        out += [f"- Your answer: {self.book.show(q.question_id, q.answer, params)}",
                f"- Right answer: {self.book.show(q.question_id, result['correct_answer'], params)}"]
        if q.score > 0:
            out.append(f"- Partial credit under {result['scoring']}: {number(q.score)} of 1")
        out.append("")
        runs = result.get("runs") or {}
        shown = [(k, r) for k, r in runs.items() if r.get("chosen") and not r.get("correct")]
        shown += [(k, r) for k, r in runs.items() if r.get("correct")]
        if not shown and q.answer is not None and result["type"] in ("single", "multi", "ordering"):
            out += ["Your choice runs no plan on the simulator.", ""]
        for key, run in shown:
            who = "The right answer" if run.get("correct") else "Your choice"
            if run.get("correct") and run.get("chosen"):
                who = "Your choice, and a right one"
            out += [f"#### {who}: {excerpt(run.get('label') or key, 100)}", ""]
            out += self.outcome(run)
        for fb in result.get("feedback") or []:
            if not fb.get("text"):
                continue
            if fb.get("chosen") and not fb.get("correct"):
                out.append(f"- Why not `{fb['option']}`: {excerpt(fb['text'], 300)}")
            elif "position" in fb and fb.get("placed") not in (None, fb["position"]):
                out.append(f"- `{fb['option']}` goes in place {fb['position']}, not {fb['placed']}: "
                           f"{excerpt(fb['text'], 300)}")
            elif "prompt" in fb and fb.get("given") not in (None, fb.get("answer")):
                out.append(f"- `{fb['prompt']}` matches `{fb['answer']}`, not `{fb['given']}`: "
                           f"{excerpt(fb['text'], 300)}")
        if result.get("explanation"):
            out += ["", f"**Why:** {excerpt(result['explanation'], 600)}"]
        if result.get("references"):
            out += ["", "References: " + ", ".join(result["references"])]
        out.append("")
        return out

    @staticmethod
    def outcome(run: Mapping[str, Any]) -> list[str]:
        from sagetutor.quiz.runtime import _show

        o = run.get("outcome") or {}
        if not o.get("supported", True):
            return [f"Not simulated: {o.get('reason', 'a step the simulator cannot run yet')}.", ""]
        out = []
        for rep in run.get("requirements") or []:
            mark = {True: "met", False: "NOT met", None: "not checked"}[rep.get("met")]
            values = ", ".join(f"{n} = {_show(v, n)}" for n, v in (rep.get("values") or {}).items())
            out.append(f"- {mark}: `{rep['requirement']}`" + (f" ({values})" if values else ""))
        bill = o.get("bill") or {}
        if bill:
            parts = ", ".join(f"{k} ${v:,.4f}" for k, v in sorted((bill.get("by_category") or {}).items(),
                                                                   key=lambda kv: -kv[1]) if v >= 0.00005)
            out.append(f"- Cost: ${float(bill.get('total_usd') or 0):,.4f}" + (f" ({parts})" if parts else ""))
        facts = o.get("facts") or {}
        if facts.get("time.total") is not None:
            out.append(f"- Time: {_show(facts['time.total'], 'time.total')}")
        events = key_events(o.get("timeline") or [])
        if events:
            out.append("- Timeline:")
            for e in events:
                out.append("  - ..." if e is None else
                           f"  - {e.get('time')} {e.get('resource')}: {excerpt(str(e.get('message', '')), 120)}")
        out.append("")
        return out

    def close(self) -> list[Path]:
        return list(self.written)


def key_events(timeline: list[Mapping[str, Any]], limit: int = TIMELINE_LINES) -> list[Mapping[str, Any] | None]:
    """The turning points of a run: Spot, checkpoint, fault and scaling events and the statuses that end
    a stage; the first and last ``limit // 2`` of them (None stands for the cut)."""
    keep = [e for e in timeline if e.get("kind") in KEY_KINDS
            or (e.get("kind") == "status" and any(s in str(e.get("status") or e.get("message") or "")
                                                  for s in KEY_STATUSES))]
    if not keep:
        keep = list(timeline)
    if len(keep) > limit:
        keep = [*keep[: limit // 2], None, *keep[-(limit // 2):]]
    return keep


# -- all at once -------------------------------------------------------------------------------

WRITERS = {"csv": CsvWriter, "gradescope": GradescopeWriter, "junit": JunitWriter, "feedback": FeedbackWriter}


@dataclass
class Summary:
    """What a run wrote and how the class did."""

    attempts: int = 0
    passed: int = 0
    failed: int = 0  # gradable, below the pass mark
    not_gradable: list[Grade] = field(default_factory=list)
    files: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every attempt gradable and at or above the pass mark (the command's exit status 0)."""
        return self.attempts > 0 and not self.not_gradable and self.failed == 0


def parse_formats(text: str | None) -> list[str]:
    """``"csv,junit"`` -> ``["csv", "junit"]``; None or empty: every format. Raises ValueError for unknown names."""
    if not text:
        return list(FORMATS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ValueError(f"unknown format {', '.join(unknown) or repr(text)}: formats are {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def write_gradebook(grades: Iterable[Grade], out: Path, formats: Iterable[str], book: Book) -> Summary:
    """Stream ``grades`` into each format's writer under ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writers = {name: WRITERS[name](out, book) for name in formats}
    summary = Summary()
    try:
        for g in grades:
            summary.attempts += 1
            if not g.gradable:
                summary.not_gradable.append(Grade(file=g.file, student=g.student, gradable=False, reason=g.reason))
            elif g.passed:
                summary.passed += 1
            else:
                summary.failed += 1
            for w in writers.values():
                w.add(g)
    finally:
        for name, w in writers.items():
            summary.files[name] = w.close()
    return summary


def grade_command(pack_path: str | Path, attempts: list[str], out: str | Path, formats: str | None = None,
                  pass_mark: int | None = None, jobs: int | None = None, stdout: Any = None,
                  stderr: Any = None) -> int:
    """``sagetutor grade``: 0 when every attempt is gradable and at or above the pass mark, 1 otherwise,
    2 for a usage error (a pack that does not load or has no answer key, a missing attempt path, no
    attempt files, an unknown format, a pass mark off the 100-1000 scale, an output path that is a file)."""
    import sys

    from sagetutor.grading.grade import GradeUsageError, attempt_files, default_jobs
    from sagetutor.packs import load_file

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def usage(message: str) -> int:
        print(f"sagetutor grade: {message}", file=stderr)
        return 2

    try:
        chosen = parse_formats(formats)
    except ValueError as e:
        return usage(str(e))
    out = Path(out)
    if out.exists() and not out.is_dir():
        return usage(f"--out {out}: a file, not a folder")
    pack_path = Path(pack_path)
    if not pack_path.is_file():
        return usage(f"{pack_path}: no such pack file")
    loaded = load_file(pack_path)
    if not loaded.ok or loaded.pack is None:
        for problem in loaded.problems:
            print(problem, file=stderr)
        return usage(f"{pack_path}: the pack does not load ({len(loaded.problems)} problem"
                     f"{'s' if len(loaded.problems) != 1 else ''})")
    try:
        grader = ClassGrader(loaded.pack, pass_mark=pass_mark)
    except GradeUsageError as e:
        return usage(str(e))
    files, problems = attempt_files(attempts, exclude=out)
    for problem in problems:
        print(f"sagetutor grade: {problem}", file=stderr)
    if any(p.endswith("no such file or folder") for p in problems):
        return 2
    if not files:
        return usage("no attempt files to grade")
    book = Book(grader, pack_file=pack_path)
    summary = write_gradebook(grader.grade_class(files, jobs=default_jobs() if jobs is None else jobs), out,
                              chosen, book)
    for g in summary.not_gradable:
        print(f"{g.file}: not gradable: {g.reason}", file=stdout)
    written = [str(p) for name in chosen for p in summary.files.get(name, [])
               if name in ("csv", "junit")] + [str(out / d) + "/" for d in ("gradescope", "feedback") if d in chosen]
    print(f"graded {summary.attempts} attempt file{'s' if summary.attempts != 1 else ''} on {grader.pack.pack.id} "
          f"{grader.pack.pack.version}: {summary.passed} passed, {summary.failed} below the pass mark "
          f"({grader.pass_mark}), {len(summary.not_gradable)} not gradable; wrote {', '.join(written)}",
          file=stdout)
    return 0 if summary.ok else 1
