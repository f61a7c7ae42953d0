"""The packs the TUI offers: bundled, the learner's own folder, and paths from the command line.

No Textual here, so the catalog is testable on its own and the app stays a thin face over it.
A pack that does not load is still listed, with its problems, so the learner sees why it is
missing from practice instead of wondering.

Launching fast: parsing and validating a pack (safe YAML with line numbers, then the models)
takes a second or more for the bundled packs, and Home needs only what a pack is (id, title,
exam, its questions' ids, domains, topics and scope) or why it does not load. So ``discover``
reads each file's bytes and looks up a *summary* in the catalog cache (JSON, in the outcome
cache folder: ``$SAGETUTOR_CACHE_DIR/catalog`` or the user cache folder), keyed by the SHA-256
of the file's bytes, the SageTutor version and a digest of the pack loader's sources, so any
edit of the pack or of the loader is a new key. On a hit the entry is listed from the summary
and the full ``Pack`` is parsed when first needed (``PackEntry.pack``, thread-safe), or ahead
of time by ``PackEntry.load()`` in a worker (the app does so right after Home shows); on a miss
the pack is parsed now and its summary written. A damaged or foreign cache file is ignored and
rewritten; a folder that cannot be written just means no caching.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagetutor.packs.model import Pack
    from sagetutor.quiz.runtime import QuizRuntime

SUMMARY_FORMAT = 1
#: The loader's sources: a change in any of them may change what loads and how.
LOADER_SOURCES = ("loader.py", "model.py", "plan.py", "params.py", "requirements.py", "units.py", "schema.py")


@dataclass(frozen=True)
class QuestionInfo:
    """What Home and the filters need of a question (an answerable item of the pack)."""

    id: str
    domain: str | None
    topics: tuple[str, ...]
    scope: str | None


class PackEntry:
    """One pack file found: its ``pack`` (parsed when first needed) or its ``problems``.

    ``PackEntry(path, origin, pack, content_hash)`` wraps a pack already loaded;
    ``PackEntry.from_summary(...)`` one known from the catalog cache, loaded on demand.
    """

    def __init__(self, path: Path, origin: str, pack: Pack | None = None, content_hash: str = "",
                 problems: list[str] | None = None) -> None:
        self.path = path
        self.origin = origin  # "bundled", "yours" (the user pack folder) or "command line"
        self.content_hash = content_hash
        self.problems: list[str] = list(problems or [])
        self._pack = pack
        self._summary: dict | None = None
        self._lock = threading.Lock()
        self._runtime: QuizRuntime | None = None

    @classmethod
    def from_summary(cls, path: Path, origin: str, content_hash: str, summary: dict) -> PackEntry:
        entry = cls(path, origin, None, content_hash)
        entry._summary = summary
        return entry

    def __repr__(self) -> str:
        return f"PackEntry({str(self.path)!r}, {self.origin!r}, {'ok' if self.ok else 'broken'})"

    @property
    def ok(self) -> bool:
        return self._pack is not None or self._summary is not None

    @property
    def pack(self) -> Pack | None:
        """The parsed pack (None when it does not load); parsed now when only the summary was known."""
        if self._pack is None and self._summary is not None:
            self.load()
        return self._pack

    @property
    def loaded(self) -> bool:
        return self._pack is not None

    def load(self) -> None:
        """Parse the pack file now (thread-safe; a no-op once parsed). Home's summary said it loads; if
        the file changed since and no longer does, the entry becomes a broken one."""
        with self._lock:
            if self._pack is not None or self._summary is None:
                return
            fresh = load_entry(self.path, self.origin, cache=False)
            if fresh._pack is not None and fresh.content_hash == self.content_hash:
                self._pack = fresh._pack
            else:  # edited since discovery: trust what is on disk now
                self._pack = fresh._pack
                self.content_hash = fresh.content_hash
                self.problems = fresh.problems
                if fresh._pack is None:
                    self._summary = None

    @property
    def pack_id(self) -> str:
        if self._pack is not None:
            return self._pack.pack.id
        return self._summary["pack"]["id"] if self._summary is not None else self.path.stem

    @property
    def title(self) -> str:
        if self._pack is not None:
            return self._pack.pack.title
        return self._summary["pack"]["title"] if self._summary is not None else self.path.name

    @property
    def exam(self) -> str:
        if self._pack is not None:
            return str(self._pack.pack.exam)
        return str(self._summary["pack"]["exam"]) if self._summary is not None else ""

    @property
    def questions(self) -> list[QuestionInfo]:
        """The answerable questions, in order (from the summary until the pack is parsed)."""
        if self._pack is not None:
            return [QuestionInfo(q.id, q.domain, tuple(q.topics or ()), q.scope) for q in self._pack.items()]
        if self._summary is None:
            return []
        return [QuestionInfo(q["id"], q.get("domain"), tuple(q.get("topics") or ()), q.get("scope"))
                for q in self._summary["questions"]]

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def runtime(self) -> QuizRuntime:
        """The pack's quiz runtime (made once; outcomes are cached on disk by the runtime itself)."""
        if self._runtime is None:
            from sagetutor.quiz.runtime import QuizRuntime

            pack = self.pack
            if pack is None:
                raise ValueError(f"{self.path}: the pack did not load: {self.problems[:1]}")
            self._runtime = QuizRuntime(pack, self.content_hash, source=str(self.path))
        return self._runtime


# -- the summary cache ----------------------------------------------------------------------------


@functools.cache
def _loader_digest() -> str:
    import sagetutor

    h = hashlib.sha256(str(getattr(sagetutor, "__version__", "")).encode())
    root = Path(sagetutor.__file__).resolve().parent / "packs"
    for name in LOADER_SOURCES:
        try:
            h.update(name.encode() + b"\0" + (root / name).read_bytes())
        except OSError:
            h.update(name.encode() + b"\0-")
    return h.hexdigest()[:16]


def _summary_path(digest: str) -> Path:
    from sagetutor.quiz.cache import default_dir

    return default_dir() / "catalog" / f"{digest}-{_loader_digest()}.json"


def _read_summary(digest: str) -> dict | None:
    try:
        data = json.loads(_summary_path(digest).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT or data.get("hash") != digest:
        return None
    try:
        if data["ok"]:
            assert isinstance(data["pack"]["id"], str) and isinstance(data["pack"]["title"], str)
            assert all(isinstance(q["id"], str) for q in data["questions"])
        else:
            assert all(isinstance(p, str) for p in data["problems"])
    except (AssertionError, KeyError, TypeError):
        return None
    return data


def _write_summary(digest: str, data: dict) -> None:
    try:
        path = _summary_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass


def summarize(entry: PackEntry) -> dict:
    """The catalog cache's record of a parsed entry."""
    data: dict[str, Any] = {"format": SUMMARY_FORMAT, "hash": entry.content_hash, "ok": entry._pack is not None}
    if entry._pack is not None:
        info = entry._pack.pack
        data["pack"] = {"id": info.id, "title": info.title, "exam": str(info.exam)}
        data["questions"] = [{"id": q.id, "domain": q.domain, "topics": list(q.topics or ()), "scope": q.scope}
                             for q in entry._pack.items()]
    else:
        data["problems"] = [str(p) for p in entry.problems]
    return data


# -- finding and loading ----------------------------------------------------------------------------


def load_entry(path: Path, origin: str, *, cache: bool = True) -> PackEntry:
    """The entry of one pack file: from the catalog cache when ``cache`` and its summary is there, else parsed."""
    from sagetutor.quiz.cache import content_hash

    try:
        raw = path.read_bytes()
    except OSError as e:
        return PackEntry(path, origin, problems=[f"{path}: cannot read it: {e.strerror or e}"])
    digest = content_hash(raw)
    if cache:
        summary = _read_summary(digest)
        if summary is not None:
            if summary["ok"]:
                return PackEntry.from_summary(path, origin, digest, summary)
            return PackEntry(path, origin, content_hash=digest, problems=summary["problems"])
    entry = _parse(path, origin, raw, digest)
    if cache:
        _write_summary(digest, summarize(entry))
    return entry


def _parse(path: Path, origin: str, raw: bytes, digest: str) -> PackEntry:
    from sagetutor.packs import load_text

    try:
        result = load_text(raw.decode("utf-8-sig"), str(path))
    except UnicodeDecodeError:
        return PackEntry(path, origin, content_hash=digest, problems=[f"{path}:1:1: the file is not UTF-8 text"])
    if not result.ok:
        return PackEntry(path, origin, content_hash=digest, problems=list(result.problems))
    return PackEntry(path, origin, result.pack, digest)


def discover(extra: list[Path] | None = None) -> list[PackEntry]:
    """Bundled packs, then the learner's pack folder, then ``extra`` (files or folders), without repeats."""
    from sagetutor.packs import paths

    seen: set[Path] = set()
    out: list[PackEntry] = []

    def add(p: Path, origin: str) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(load_entry(p, origin))

    for p in paths.pack_files(paths.bundled_packs_dir()):
        add(p, "bundled")
    for p in paths.pack_files(paths.user_packs_dir()):
        add(p, "yours")
    for raw in extra or []:
        p = Path(raw)
        if p.is_dir():
            for f in paths.pack_files(p):
                add(f, "command line")
        else:
            add(p, "command line")
    return out
