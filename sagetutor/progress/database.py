"""Opening the progress database safely: check first, write only to a file that is ours.

The learner's history is the one thing SageTutor cannot regenerate, so a file we do not
recognise is never repaired, re-initialised or migrated behind the learner's back. Before the
first write we check, in this order:

1. the file starts with the SQLite header (otherwise: damaged, nothing is opened);
2. ``PRAGMA user_version`` is not newer than ``SCHEMA_VERSION`` (otherwise: written by a newer
   SageTutor, which may have changed the meaning of the tables);
3. ``PRAGMA quick_check`` says ``ok``;
4. the tables and columns of our schema are present (a version-0 file with no tables at all is
   an empty database and gets our schema).

Only then is an existing file switched to WAL. A missing or empty (0-byte) file is created, in WAL
mode from the start.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import ProgressError

SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB

DDL = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,                 -- ISO 8601, UTC
    pack_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    domain TEXT,
    topics TEXT NOT NULL,             -- JSON list of str
    answer TEXT NOT NULL,             -- JSON
    correct INTEGER,                  -- 1, 0 or NULL (not scored)
    score REAL,
    seconds REAL NOT NULL,
    flagged INTEGER NOT NULL,
    mode TEXT NOT NULL,
    exam_id INTEGER
);
CREATE INDEX IF NOT EXISTS answers_by_question ON answers (pack_id, question_id, at);
CREATE TABLE IF NOT EXISTS exams (
    id INTEGER PRIMARY KEY,
    pack_id TEXT NOT NULL,
    pack_hash TEXT NOT NULL,
    question_ids TEXT NOT NULL,       -- JSON list of str, in exam order
    seconds_allowed REAL NOT NULL,
    seconds_remaining REAL NOT NULL,
    seed INTEGER NOT NULL,
    student INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    abandoned_at TEXT,
    result TEXT                       -- JSON
);
CREATE TABLE IF NOT EXISTS exam_answers (
    exam_id INTEGER NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    answer TEXT,                      -- JSON, or NULL while unanswered
    flagged INTEGER NOT NULL DEFAULT 0,
    seconds_spent REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (exam_id, question_id)
);
CREATE TABLE IF NOT EXISTS review_cards (
    topic TEXT PRIMARY KEY,
    card TEXT NOT NULL,               -- JSON: fsrs.Card.to_dict()
    due TEXT NOT NULL,                -- ISO 8601, UTC (sorts as text)
    last_rating TEXT NOT NULL,
    reviews INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS review_log (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    at TEXT NOT NULL,
    rating TEXT NOT NULL,
    due TEXT NOT NULL
);
"""

COLUMNS = {
    "answers": {"id", "at", "pack_id", "question_id", "domain", "topics", "answer", "correct", "score",
                "seconds", "flagged", "mode", "exam_id"},
    "exams": {"id", "pack_id", "pack_hash", "question_ids", "seconds_allowed", "seconds_remaining", "seed",
              "student", "started_at", "finished_at", "abandoned_at", "result"},
    "exam_answers": {"exam_id", "question_id", "answer", "flagged", "seconds_spent"},
    "review_cards": {"topic", "card", "due", "last_rating", "reviews"},
    "review_log": {"id", "topic", "at", "rating", "due"},
}


def damaged(path: Path, detail: str) -> ProgressError:
    return ProgressError(
        f"{path} is not a usable SageTutor progress database ({detail}). SageTutor has not changed it. "
        f"Move it aside (for example rename it to {path.name}.damaged) and start SageTutor again to begin "
        f"a new progress file; keep the old file if you want to try to recover it with the sqlite3 tool."
    )


def newer(path: Path, version: int) -> ProgressError:
    return ProgressError(
        f"{path} was written by a newer SageTutor (progress format version {version}; this SageTutor "
        f"reads up to version {SCHEMA_VERSION}). SageTutor has not changed it. Upgrade SageTutor "
        f"(pip install --upgrade sagetutor), or set SAGETUTOR_DATA_DIR to another folder to keep a "
        f"separate progress file."
    )


def unusable(path: Path, e: BaseException) -> ProgressError:
    """A database error that is not damage: locked, read-only, disk full..."""
    code = getattr(e, "sqlite_errorcode", None)
    if code in _CORRUPT_CODES:
        return damaged(path, str(e))
    return ProgressError(f"{path}: cannot use the progress database: {e}. Nothing was changed by this "
                         f"attempt; check that the disk is not full or read-only and that no other "
                         f"program holds the file, then try again.")


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a checked progress database at ``path``, created if missing.

    Autocommit mode (``isolation_level=None``): the store opens each write transaction itself.
    Usable from the TUI's worker threads (the store serialises access with a lock).
    """
    path = Path(path)
    if path.is_dir():
        raise ProgressError(f"{path} is a folder, not a progress database file; remove it or set "
                            f"SAGETUTOR_DATA_DIR to another folder.")
    existing = path.is_file() and path.stat().st_size > 0
    if existing:
        _check_header(path)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ProgressError(f"cannot create the folder {path.parent} for {path.name}: "
                                f"{e.strerror or e}") from e
    try:
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise unusable(path, e) from e
    try:
        _prepare(conn, path, existing)
    except ProgressError:
        conn.close()
        raise
    except sqlite3.Error as e:
        conn.close()
        raise unusable(path, e) from e
    return conn


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as e:
        raise ProgressError(f"{path}: cannot read the progress database: {e.strerror or e}") from e
    if head != SQLITE_HEADER:
        raise damaged(path, "it is not an SQLite database")


def _prepare(conn: sqlite3.Connection, path: Path, existing: bool) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise newer(path, version)
    if existing:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise damaged(path, "integrity check failed: " + "; ".join(problems[:3]))
    if not existing:  # our own new file: WAL before the schema saves a rollback journal's syncs
        _journal(conn)
    tables = _tables(conn)
    if version == 0:
        if tables:
            raise damaged(path, "it is an SQLite database, but not one of SageTutor's: it has the tables "
                                + ", ".join(sorted(tables)))
        _create(conn)
    else:
        _check_tables(conn, path, tables)
    if existing:
        _journal(conn)
    conn.execute("PRAGMA foreign_keys=ON")


def _journal(conn: sqlite3.Connection) -> None:
    """WAL: a write is one append to the log, readers in a second window are never blocked, and
    a killed process leaves a log SQLite replays on the next open."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # pragma: no cover (e.g. a file system without shared memory)
        conn.execute("PRAGMA journal_mode=DELETE")
    # NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can lose
    # the last commits (a few seconds of timer saves), and never corrupts the file.
    conn.execute("PRAGMA synchronous=NORMAL")


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {r[0] for r in rows}


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have created the schema while we waited for the lock.
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            for statement in DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _check_tables(conn: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    missing = sorted(set(COLUMNS) - tables)
    if missing:
        raise damaged(path, "missing the table" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    for table, wanted in COLUMNS.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        lacking = sorted(wanted - have)
        if lacking:
            raise damaged(path, f"table {table} lacks the column" + ("s " if len(lacking) > 1 else " ")
                          + ", ".join(lacking))
