"""Where packs live: the bundled ones and the learner's own.

* Bundled packs ship with SageTutor: ``scenarios/`` in a source checkout, installed as
  ``sagetutor/_bundled/scenarios`` inside the package.
* User packs go in ``<user data dir>/packs``: ``platformdirs.user_data_dir("sagetutor")``,
  e.g. ``~/.local/share/sagetutor/packs`` on Linux (``$XDG_DATA_HOME`` is honoured),
  ``~/Library/Application Support/sagetutor/packs`` on macOS and
  ``%LOCALAPPDATA%\\sagetutor\\packs`` on Windows. ``sagetutor pack dir`` prints it.

A pack is any ``*.yaml`` or ``*.yml`` file directly in one of these folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "sagetutor"
STARTER = Path(__file__).with_name("starter.yaml")


def user_packs_dir() -> Path:
    """The folder for the learner's own packs (not created here): ``packs`` in the data folder.

    ``SAGETUTOR_DATA_DIR`` moves the whole data folder (progress, errata, packs), as for the progress store.
    """
    override = os.environ.get("SAGETUTOR_DATA_DIR")
    base = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    return base / "packs"


def bundled_packs_dir() -> Path | None:
    """The bundled packs: inside the installed package, else the source checkout's ``scenarios/``."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_bundled" / "scenarios", package.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    return None


def pack_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def all_pack_files() -> list[Path]:
    """Bundled packs first, then the user's, each folder sorted by name."""
    return pack_files(bundled_packs_dir()) + pack_files(user_packs_dir())


def starter_text() -> str:
    """The commented starter pack ``sagetutor pack new`` writes."""
    return STARTER.read_text(encoding="utf-8")
