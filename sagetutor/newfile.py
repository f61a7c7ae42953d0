"""Writing a file the learner or teacher named, without ever replacing one that is there."""

from __future__ import annotations

from pathlib import Path


class NotWritten(Exception):
    """Why a new file was not written: ``reason`` is "exists", "no folder" or "os" (then ``detail``)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def write_new(path: Path, text: str) -> Path:
    """Create ``path`` with ``text`` (UTF-8); ``NotWritten`` if it exists, its folder does not, or the OS refuses.

    The exclusive open also closes the race between the check and the write.
    """
    path = Path(path)
    if path.exists():
        raise NotWritten("exists")
    if not path.parent.is_dir():
        raise NotWritten("no folder")
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise NotWritten("exists") from None
    except OSError as e:
        raise NotWritten("os", str(e.strerror or e)) from None
    return path
