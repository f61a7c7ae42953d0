"""The packs the TUI offers: bundled, the learner's own folder, and paths from the command line.

No Textual here, so the catalog is testable on its own and the app stays a thin face over it.
A pack that does not load is still listed, with its problems, so the learner sees why it is
missing from practice instead of wondering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagetutor.packs.model import Pack
    from sagetutor.quiz.runtime import QuizRuntime


@dataclass
class PackEntry:
    path: Path
    origin: str  # "bundled", "yours" (the user pack folder) or "command line"
    pack: Pack | None = None
    content_hash: str = ""
    problems: list[str] = field(default_factory=list)
    _runtime: QuizRuntime | None = None

    @property
    def ok(self) -> bool:
        return self.pack is not None

    @property
    def pack_id(self) -> str:
        return self.pack.pack.id if self.pack is not None else self.path.stem

    @property
    def title(self) -> str:
        return self.pack.pack.title if self.pack is not None else self.path.name

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.pack.items()] if self.pack is not None else []

    def runtime(self) -> QuizRuntime:
        """The pack's quiz runtime (made once; outcomes are cached on disk by the runtime itself)."""
        if self._runtime is None:
            from sagetutor.quiz.runtime import QuizRuntime

            if self.pack is None:
                raise ValueError(f"{self.path}: the pack did not load: {self.problems[:1]}")
            self._runtime = QuizRuntime(self.pack, self.content_hash, source=str(self.path))
        return self._runtime


def load_entry(path: Path, origin: str) -> PackEntry:
    from sagetutor.packs import load_text
    from sagetutor.quiz.cache import content_hash

    try:
        raw = path.read_bytes()
    except OSError as e:
        return PackEntry(path, origin, problems=[f"{path}: cannot read it: {e.strerror or e}"])
    try:
        result = load_text(raw.decode("utf-8-sig"), str(path))
    except UnicodeDecodeError:
        return PackEntry(path, origin, problems=[f"{path}:1:1: the file is not UTF-8 text"])
    if not result.ok:
        return PackEntry(path, origin, problems=list(result.problems))
    return PackEntry(path, origin, result.pack, content_hash(raw))


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
