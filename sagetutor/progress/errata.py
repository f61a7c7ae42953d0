"""Disputed questions: the learner's notes for a pack's author.

Each dispute is one JSON line appended to ``data_dir()/errata/<pack_id>.jsonl``, a plain file
the learner can read, edit and attach to an e-mail or an issue. One file per pack, because a
learner reports to each author separately. Appending a line (and never rewriting the file)
means a crash can at worst leave one incomplete last line, which ``disputes`` skips.

A line: ``{"at": ISO 8601 UTC, "pack_id", "pack_title", "pack_version", "question_id", "comment"}``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from .location import data_dir
from .store import iso, utc

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def errata_dir() -> Path:
    """``data_dir()/errata`` (created on demand)."""
    folder = data_dir() / "errata"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def errata_file(pack_id: str) -> Path:
    """The errata file of one pack. The pack id becomes the file name, so it must be a plain
    name (pack ids are slugs: letters, digits, '-', '_', '.')."""
    if not _SAFE_NAME.match(pack_id or "") or pack_id.endswith(".") or ".." in pack_id:
        raise ValueError(f"pack id {pack_id!r} cannot be used as a file name (letters, digits, '-', '_', '.')")
    return errata_dir() / f"{pack_id}.jsonl"


def add_dispute(pack_id: str, question_id: str, comment: str, *, pack_title: str = "", pack_version: str = "",
                at: datetime | None = None) -> Path:
    """Append one dispute to the pack's errata file and return that file's path."""
    path = errata_file(pack_id)
    entry = {"at": iso(utc(at)), "pack_id": pack_id, "pack_title": pack_title, "pack_version": pack_version,
             "question_id": question_id, "comment": comment.strip()}
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with path.open("a+b") as fh:
        # After a crash mid-write the last line may lack its newline: start on a fresh line.
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = "\n" + line
        fh.write(line.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    return path


def disputes(pack_id: str | None = None) -> list[dict]:
    """Disputes of one pack (or of every pack), oldest first. Lines that are not valid JSON
    objects (an interrupted write, a hand edit gone wrong) are skipped."""
    files = [errata_file(pack_id)] if pack_id is not None else sorted(errata_dir().glob("*.jsonl"))
    out: list[dict] = []
    for f in files:
        if not f.is_file():
            continue
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
    out.sort(key=lambda e: str(e.get("at", "")))
    return out
