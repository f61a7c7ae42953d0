"""What the progress store hands back: plain snapshots, detached from the database.

Changing a record changes nothing on disk; the store's methods are the only way to write.
Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AnswerRecord:
    """One answer the learner gave, in practice or in an exam.

    ``answer`` is the JSON value that was stored (a list, dict, str, number or None).
    ``correct`` and ``score`` are None when the answer was not scored (for example an exam
    answer recorded before the exam was graded).
    """

    id: int
    at: datetime
    pack_id: str
    question_id: str
    domain: str | None
    topics: list[str]
    answer: Any
    correct: bool | None
    score: float | None
    seconds: float
    flagged: bool
    mode: str
    exam_id: int | None

    @property
    def effective_score(self) -> float | None:
        """``score``, else 1.0/0.0 from ``correct``, else None (not scored)."""
        if self.score is not None:
            return self.score
        if self.correct is None:
            return None
        return 1.0 if self.correct else 0.0


@dataclass(frozen=True)
class DomainProgress:
    """How far the learner is in one exam domain of a pack.

    Counts questions, not attempts: each question counts once, by its latest scored answer,
    so the figure shows what the learner knows now rather than how often they failed before.
    ``percent`` is 0-100 (0 when nothing is answered).
    """

    answered: int
    correct: int
    percent: float


@dataclass(frozen=True)
class DueTopic:
    """A topic whose spaced-repetition review is due. ``last_rating`` is again/hard/good/easy."""

    topic: str
    due: datetime
    last_rating: str
    reviews: int


@dataclass
class ExamSession:
    """A timed exam as last saved: enough to resume it after the app was closed or killed.

    ``answers`` holds only the questions that have an answer; ``flags`` the flagged question
    ids; ``seconds_spent`` the total time on each visited question. ``seconds_remaining`` is
    the value of the last ``set_remaining`` (the time between that save and a crash is given
    back to the learner). An exam is open while ``finished_at`` and ``abandoned_at`` are None.
    ``result`` is the summary passed to ``finish_exam``.
    """

    id: int
    pack_id: str
    pack_hash: str
    question_ids: list[str]
    answers: dict[str, Any] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    seconds_spent: dict[str, float] = field(default_factory=dict)
    seconds_allowed: float = 0.0
    seconds_remaining: float = 0.0
    seed: int = 0
    student: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict | None = None
    abandoned_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True while the exam can still be resumed and answered."""
        return self.finished_at is None and self.abandoned_at is None
