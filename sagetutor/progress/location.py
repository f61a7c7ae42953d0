"""Where the learner's progress lives.

``SAGETUTOR_DATA_DIR`` (when set and not empty) replaces the platform's user data folder, so
tests, the TUI's tests and a learner who wants a second profile can point SageTutor elsewhere
without touching the real history.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .errors import ProgressError

APP = "sagetutor"
ENV = "SAGETUTOR_DATA_DIR"
FILENAME = "progress.sqlite3"


def data_dir() -> Path:
    """The folder for progress and errata, created on demand.

    ``$SAGETUTOR_DATA_DIR`` if set, else ``platformdirs.user_data_dir("sagetutor")``: for
    example ``~/.local/share/sagetutor`` on Linux, ``~/Library/Application Support/sagetutor``
    on macOS and ``%LOCALAPPDATA%\\sagetutor`` on Windows.
    """
    override = os.environ.get(ENV, "").strip()
    folder = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        hint = f" (set by {ENV})" if override else f" (set {ENV} to use another folder)"
        raise ProgressError(f"cannot create the SageTutor data folder {folder}{hint}: {e.strerror or e}") from e
    return folder


def default_path() -> Path:
    """The progress database: ``data_dir() / "progress.sqlite3"``."""
    return data_dir() / FILENAME
