"""The learner's persistent progress: answers, resumable timed exams, spaced repetition per
topic, export/reset, and errata (disputed questions) for pack authors.

Headless: the TUI imports this package, never the reverse (it must not import Textual).
See docs/progress.md.
"""

from __future__ import annotations

from .database import SCHEMA_VERSION
from .errata import add_dispute, disputes
from .errors import ProgressError
from .location import data_dir, default_path
from .records import AnswerRecord, DomainProgress, DueTopic, ExamSession
from .store import ProgressStore

__all__ = [
    "SCHEMA_VERSION",
    "AnswerRecord",
    "DomainProgress",
    "DueTopic",
    "ExamSession",
    "ProgressError",
    "ProgressStore",
    "add_dispute",
    "data_dir",
    "default_path",
    "disputes",
]
