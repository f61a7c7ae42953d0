"""Fixtures for the progress layer: a private data folder and a store opened in it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from sagetutor.progress import ProgressStore, default_path

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    """SAGETUTOR_DATA_DIR pointed at a fresh folder, so no test touches the real history."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SAGETUTOR_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory):
    """A new, empty progress database made once. Creating one costs a few fsyncs (~30 ms on a
    busy disk); copying it keeps the suite fast. test_database.py covers creation itself."""
    path = tmp_path_factory.mktemp("template") / "progress.sqlite3"
    ProgressStore.open(path).close()
    return path


@pytest.fixture
def store(data_folder, empty_database):
    """A store on an empty progress database at the default path."""
    shutil.copyfile(empty_database, default_path())
    s = ProgressStore.open()
    yield s
    s.close()
