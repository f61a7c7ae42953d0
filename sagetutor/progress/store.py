"""The learner's persistent progress: answers, resumable timed exams and review schedules.

One SQLite database (``default_path()``), opened through ``database.connect`` so that a damaged
file or one from a newer SageTutor is refused, never modified. Every write method is one
transaction: when the app is killed, everything saved before is on disk, and at most the
answer being typed is lost. The TUI saves exam answers as they are chosen and the remaining
time every few seconds, so ``unfinished_exam`` can offer to resume with the time left.

A store can be shared by the TUI's worker threads: one lock serialises its use of the
connection. Two stores (two windows, or a second open after a crash left the first one
dangling) can use the same file; SQLite's locking and WAL keep them consistent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import spacing
from .database import SCHEMA_VERSION, connect, unusable
from .errors import ProgressError
from .location import default_path
from .records import AnswerRecord, DomainProgress, DueTopic, ExamSession

EXPORT_FORMAT = "sagetutor-progress"


def utc(at: datetime | None) -> datetime:
    """``at`` in UTC, or now. A naive datetime is refused: its zone would be a guess."""
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamp {at.isoformat()} has no time zone; pass a timezone-aware datetime "
                         f"(e.g. datetime.now(UTC))")
    return at.astimezone(UTC)


def iso(at: datetime) -> str:
    """One fixed ISO 8601 form, so stored timestamps sort correctly as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be JSON data (lists, dicts, str, numbers, bool, None): {e}") from None


class ProgressStore:
    """The progress database of one learner. Open it with ``ProgressStore.open()``."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None) -> ProgressStore:
        """Open (creating if missing) the database at ``path``, default ``default_path()``.

        Raises ``ProgressError`` if the file is not SQLite, fails its integrity check, lacks
        SageTutor's tables, or was written by a newer SageTutor; the file is then left exactly
        as it was.
        """
        path = Path(path) if path is not None else default_path()
        return cls(connect(path), path)

    def close(self) -> None:
        """Close the connection. Everything was already committed by each write."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ProgressStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so a concurrent writer waits instead of failing midway."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise unusable(self.path, e) from e
            try:
                yield self._conn
            except BaseException as e:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:  # pragma: no cover (the connection is already broken)
                    pass
                if isinstance(e, sqlite3.Error):
                    raise unusable(self.path, e) from e
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as e:  # pragma: no cover
                raise unusable(self.path, e) from e

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise unusable(self.path, e) from e

    # -- answers ------------------------------------------------------------------------------

    def record_answer(self, *, pack_id: str, question_id: str, domain: str | None, topics: list[str], answer: Any,
                      correct: bool | None, score: float | None, seconds: float, flagged: bool = False,
                      mode: str = "practice", exam_id: int | None = None, at: datetime | None = None) -> int:
        """Append one answer to the history and return its id.

        ``correct``/``score`` None means "not scored"; such answers do not count in ``missed`` or
        ``domain_progress``. For a graded exam, the caller records each question's answer with
        ``mode="exam"`` and the ``exam_id``, next to ``finish_exam``: the store does not grade.
        """
        row = (iso(utc(at)), pack_id, question_id, domain, to_json(list(topics), "topics"),
               to_json(answer, f"the answer to {question_id}"),
               None if correct is None else int(bool(correct)), None if score is None else float(score),
               float(seconds), int(bool(flagged)), mode, exam_id)
        with self._write() as c:
            cur = c.execute("INSERT INTO answers (at, pack_id, question_id, domain, topics, answer, correct, score, "
                            "seconds, flagged, mode, exam_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
            return int(cur.lastrowid)

    def history(self, pack_id: str | None = None, question_id: str | None = None) -> list[AnswerRecord]:
        """Recorded answers, oldest first, optionally for one pack and/or one question."""
        where, params = [], []
        if pack_id is not None:
            where.append("pack_id = ?")
            params.append(pack_id)
        if question_id is not None:
            where.append("question_id = ?")
            params.append(question_id)
        sql = ("SELECT id, at, pack_id, question_id, domain, topics, answer, correct, score, seconds, flagged, mode, "
               "exam_id FROM answers" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY at, id")
        return [_answer(r) for r in self._read(sql, tuple(params))]

    def _latest_scored(self, pack_id: str) -> dict[str, AnswerRecord]:
        latest: dict[str, AnswerRecord] = {}
        for rec in self.history(pack_id):
            if rec.effective_score is not None:
                latest[rec.question_id] = rec
        return latest

    def missed(self, pack_id: str) -> set[str]:
        """Question ids whose latest scored answer was not fully right (score < 1): the
        "retry what I missed" set. A later right answer takes a question out of it."""
        return {qid for qid, rec in self._latest_scored(pack_id).items() if (rec.effective_score or 0.0) < 1.0}

    def domain_progress(self, pack_id: str) -> dict[str, DomainProgress]:
        """Per exam domain: questions answered and fully right, by each question's latest scored
        answer. Answers recorded without a domain are not counted."""
        counts: dict[str, list[int]] = {}
        for rec in self._latest_scored(pack_id).values():
            if rec.domain is None:
                continue
            n = counts.setdefault(rec.domain, [0, 0])
            n[0] += 1
            n[1] += int((rec.effective_score or 0.0) >= 1.0)
        return {d: DomainProgress(answered=a, correct=c, percent=100.0 * c / a if a else 0.0)
                for d, (a, c) in sorted(counts.items())}

    # -- timed exams --------------------------------------------------------------------------

    def start_exam(self, *, pack_id: str, pack_hash: str, question_ids: list[str], seconds_allowed: float,
                   seed: int, student: bool = False) -> ExamSession:
        """Create an exam with the full time remaining and return it.

        ``pack_hash`` lets the TUI notice, on resume, that the pack changed since the exam began.
        Earlier unfinished exams are left as they are (``abandon_exam`` them if they should not
        be offered again).
        """
        if len(set(question_ids)) != len(question_ids):
            raise ValueError("question_ids has duplicates")
        with self._write() as c:
            cur = c.execute("INSERT INTO exams (pack_id, pack_hash, question_ids, seconds_allowed, seconds_remaining, "
                            "seed, student, started_at) VALUES (?,?,?,?,?,?,?,?)",
                            (pack_id, pack_hash, to_json(list(question_ids), "question_ids"), float(seconds_allowed),
                             float(seconds_allowed), int(seed), int(bool(student)), iso(utc(None))))
            exam_id = int(cur.lastrowid)
        return self.exam(exam_id)

    def _open_exam(self, c: sqlite3.Connection, exam_id: int, question_id: str | None = None) -> None:
        row = c.execute("SELECT question_ids, finished_at, abandoned_at FROM exams WHERE id = ?", (exam_id,)).fetchone()
        if row is None:
            raise ProgressError(f"there is no exam {exam_id} in {self.path}")
        if row[1] is not None:
            raise ProgressError(f"exam {exam_id} is finished; its answers can no longer change")
        if row[2] is not None:
            raise ProgressError(f"exam {exam_id} was abandoned; its answers can no longer change")
        if question_id is not None and question_id not in json.loads(row[0]):
            raise ValueError(f"question {question_id!r} is not in exam {exam_id}")

    def save_exam_answer(self, exam_id: int, question_id: str, answer: Any, flagged: bool,
                         seconds_spent: float) -> None:
        """Save the learner's current answer to one exam question (None clears it).

        ``seconds_spent`` is the total time on this question so far, not an increment, so saving
        twice is harmless. Raises ``ProgressError`` for an exam that is finished or abandoned.
        """
        value = None if answer is None else to_json(answer, f"the answer to {question_id}")
        with self._write() as c:
            self._open_exam(c, exam_id, question_id)
            c.execute("INSERT INTO exam_answers (exam_id, question_id, answer, flagged, seconds_spent) "
                      "VALUES (?,?,?,?,?) ON CONFLICT (exam_id, question_id) DO UPDATE SET "
                      "answer = excluded.answer, flagged = excluded.flagged, seconds_spent = excluded.seconds_spent",
                      (exam_id, question_id, value, int(bool(flagged)), float(seconds_spent)))

    def set_flag(self, exam_id: int, question_id: str, flagged: bool) -> None:
        """Flag or unflag an exam question for review, keeping its answer and time."""
        with self._write() as c:
            self._open_exam(c, exam_id, question_id)
            c.execute("INSERT INTO exam_answers (exam_id, question_id, flagged) VALUES (?,?,?) "
                      "ON CONFLICT (exam_id, question_id) DO UPDATE SET flagged = excluded.flagged",
                      (exam_id, question_id, int(bool(flagged))))

    def set_remaining(self, exam_id: int, seconds_remaining: float) -> None:
        """Save the time left (clamped at 0). The TUI calls this every few seconds, so a crash
        gives back at most those seconds. A late timer tick after the exam was finished or
        abandoned changes nothing and is not an error."""
        with self._write() as c:
            cur = c.execute("UPDATE exams SET seconds_remaining = ? WHERE id = ? AND finished_at IS NULL "
                            "AND abandoned_at IS NULL", (max(0.0, float(seconds_remaining)), exam_id))
            if cur.rowcount == 0 and c.execute("SELECT 1 FROM exams WHERE id = ?", (exam_id,)).fetchone() is None:
                raise ProgressError(f"there is no exam {exam_id} in {self.path}")

    def unfinished_exam(self, pack_id: str | None = None) -> ExamSession | None:
        """The most recently started exam that is neither finished nor abandoned, to offer to
        resume. Its ``seconds_remaining`` may be 0 (time ran out while the app was closed): the
        TUI should then go straight to finishing it."""
        sql = "SELECT id FROM exams WHERE finished_at IS NULL AND abandoned_at IS NULL"
        params: tuple = ()
        if pack_id is not None:
            sql += " AND pack_id = ?"
            params = (pack_id,)
        rows = self._read(sql + " ORDER BY started_at DESC, id DESC LIMIT 1", params)
        return self.exam(rows[0][0]) if rows else None

    def abandon_exam(self, exam_id: int) -> None:
        """Stop offering the exam for resume. Its saved answers are kept (and exported)."""
        with self._write() as c:
            row = c.execute("SELECT finished_at, abandoned_at FROM exams WHERE id = ?", (exam_id,)).fetchone()
            if row is None:
                raise ProgressError(f"there is no exam {exam_id} in {self.path}")
            if row[0] is not None:
                raise ProgressError(f"exam {exam_id} is finished; it cannot be abandoned")
            if row[1] is None:
                c.execute("UPDATE exams SET abandoned_at = ? WHERE id = ?", (iso(utc(None)), exam_id))

    def finish_exam(self, exam_id: int, result: dict) -> None:
        """Mark the exam finished with its graded summary (JSON data: score estimate, per
        domain...). Record the per-question answers with ``record_answer(mode="exam")``."""
        value = to_json(result, "the exam result")
        with self._write() as c:
            self._open_exam(c, exam_id)
            c.execute("UPDATE exams SET finished_at = ?, result = ? WHERE id = ?", (iso(utc(None)), value, exam_id))

    def exam(self, exam_id: int) -> ExamSession:
        """The exam as last saved. ``ProgressError`` if there is no such exam."""
        with self._lock:
            rows = self._read("SELECT id, pack_id, pack_hash, question_ids, seconds_allowed, seconds_remaining, seed, "
                              "student, started_at, finished_at, abandoned_at, result FROM exams WHERE id = ?",
                              (exam_id,))
            if not rows:
                raise ProgressError(f"there is no exam {exam_id} in {self.path}")
            answers = self._read("SELECT question_id, answer, flagged, seconds_spent FROM exam_answers "
                                 "WHERE exam_id = ?", (exam_id,))
        return _exam(rows[0], answers)

    def _exams(self) -> list[ExamSession]:
        with self._lock:
            rows = self._read("SELECT id, pack_id, pack_hash, question_ids, seconds_allowed, seconds_remaining, seed, "
                              "student, started_at, finished_at, abandoned_at, result FROM exams ORDER BY id")
            answers = self._read("SELECT exam_id, question_id, answer, flagged, seconds_spent FROM exam_answers")
        by_exam: dict[int, list[tuple]] = {}
        for a in answers:
            by_exam.setdefault(a[0], []).append(a[1:])
        return [_exam(r, by_exam.get(r[0], [])) for r in rows]

    # -- spaced repetition --------------------------------------------------------------------

    def review(self, topic: str, rating: str, at: datetime | None = None) -> datetime:
        """Rate the learner's recall of ``topic`` ("again", "hard", "good", "easy") and return
        when it is next due. A topic never reviewed starts as a new FSRS card."""
        when = utc(at)
        spacing.parse_rating(rating)  # refuse a bad rating before opening a transaction
        with self._write() as c:
            row = c.execute("SELECT card, reviews FROM review_cards WHERE topic = ?", (topic,)).fetchone()
            card = spacing.card_from_json(row[0]) if row else spacing.new_card(topic, when)
            card = spacing.review(card, rating, when)
            due = card.due.astimezone(UTC)
            c.execute("INSERT INTO review_cards (topic, card, due, last_rating, reviews) VALUES (?,?,?,?,1) "
                      "ON CONFLICT (topic) DO UPDATE SET card = excluded.card, due = excluded.due, "
                      "last_rating = excluded.last_rating, reviews = review_cards.reviews + 1",
                      (topic, spacing.card_to_json(card), iso(due), rating.strip().lower()))
            c.execute("INSERT INTO review_log (topic, at, rating, due) VALUES (?,?,?,?)",
                      (topic, iso(when), rating.strip().lower(), iso(due)))
        return due

    def due_topics(self, at: datetime | None = None) -> list[DueTopic]:
        """Topics due at ``at`` (default now), most overdue first."""
        rows = self._read("SELECT topic, due, last_rating, reviews FROM review_cards WHERE due <= ? "
                          "ORDER BY due, topic", (iso(utc(at)),))
        return [DueTopic(topic=t, due=parse_time(d), last_rating=r, reviews=n) for t, d, r, n in rows]

    @staticmethod
    def rating_for(*, correct: bool, slow: bool, flagged: bool) -> str:
        """The rating an answer earns: wrong -> "again"; right but slow or flagged -> "hard";
        right -> "good". (A static method: callable on the class or on a store.)"""
        return spacing.rating_for(correct=correct, slow=slow, flagged=flagged)

    # -- housekeeping -------------------------------------------------------------------------

    def export(self, path: Path) -> Path:
        """Write everything to a new JSON file at ``path`` and return it.

        Never overwrites: an existing file gives ``ProgressError``. The JSON holds
        ``format``, ``schema_version``, ``exported_at``, ``database``, ``answers``, ``exams``,
        ``review_cards`` (with each FSRS card) and ``review_log``.
        """
        path = Path(path)
        with self._lock:
            data = {
                "format": EXPORT_FORMAT,
                "schema_version": SCHEMA_VERSION,
                "exported_at": iso(utc(None)),
                "database": str(self.path),
                "answers": [_answer_json(r) for r in self.history()],
                "exams": [_exam_json(e) for e in self._exams()],
                "review_cards": [{"topic": t, "due": d, "last_rating": r, "reviews": n, "card": json.loads(card)}
                                 for t, card, d, r, n in self._read(
                                     "SELECT topic, card, due, last_rating, reviews FROM review_cards ORDER BY topic")],
                "review_log": [{"topic": t, "at": a, "rating": r, "due": d}
                               for t, a, r, d in self._read("SELECT topic, at, rating, due FROM review_log ORDER BY id")],
            }
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        try:
            fh = path.open("x", encoding="utf-8")
        except FileExistsError:
            raise ProgressError(f"{path} already exists; not overwriting it (choose another file name)") from None
        except OSError as e:
            raise ProgressError(f"{path}: cannot write the export: {e.strerror or e}") from e
        try:
            with fh:
                fh.write(text)
        except OSError as e:
            path.unlink(missing_ok=True)
            raise ProgressError(f"{path}: cannot write the export: {e.strerror or e}") from e
        return path

    def reset(self) -> None:
        """Delete every answer, exam and review card, in one transaction. The file stays (and
        the errata files, which are the learner's reports to pack authors, are not touched)."""
        with self._write() as c:
            for table in ("exam_answers", "exams", "answers", "review_log", "review_cards"):
                c.execute(f"DELETE FROM {table}")


def _answer(r: tuple) -> AnswerRecord:
    return AnswerRecord(id=r[0], at=parse_time(r[1]), pack_id=r[2], question_id=r[3], domain=r[4],
                        topics=json.loads(r[5]), answer=json.loads(r[6]),
                        correct=None if r[7] is None else bool(r[7]), score=r[8], seconds=r[9],
                        flagged=bool(r[10]), mode=r[11], exam_id=r[12])


def _exam(r: tuple, answers: list[tuple]) -> ExamSession:
    return ExamSession(
        id=r[0], pack_id=r[1], pack_hash=r[2], question_ids=json.loads(r[3]),
        answers={q: json.loads(a) for q, a, _f, _s in answers if a is not None},
        flags={q for q, _a, f, _s in answers if f},
        seconds_spent={q: s for q, _a, _f, s in answers if s},
        seconds_allowed=r[4], seconds_remaining=r[5], seed=r[6], student=bool(r[7]),
        started_at=parse_time(r[8]), finished_at=parse_time(r[9]), abandoned_at=parse_time(r[10]),
        result=None if r[11] is None else json.loads(r[11]),
    )


def _time_json(at: datetime | None) -> str | None:
    return None if at is None else iso(at)


def _answer_json(rec: AnswerRecord) -> dict:
    return {"id": rec.id, "at": iso(rec.at), "pack_id": rec.pack_id, "question_id": rec.question_id,
            "domain": rec.domain, "topics": rec.topics, "answer": rec.answer, "correct": rec.correct,
            "score": rec.score, "seconds": rec.seconds, "flagged": rec.flagged, "mode": rec.mode,
            "exam_id": rec.exam_id}


def _exam_json(e: ExamSession) -> dict:
    return {"id": e.id, "pack_id": e.pack_id, "pack_hash": e.pack_hash, "question_ids": e.question_ids,
            "answers": e.answers, "flags": sorted(e.flags), "seconds_spent": e.seconds_spent,
            "seconds_allowed": e.seconds_allowed, "seconds_remaining": e.seconds_remaining, "seed": e.seed,
            "student": e.student, "started_at": _time_json(e.started_at), "finished_at": _time_json(e.finished_at),
            "abandoned_at": _time_json(e.abandoned_at), "result": e.result}
