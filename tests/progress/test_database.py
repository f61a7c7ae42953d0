"""Where the database lives, and refusing (never touching) a file that is not ours to write."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from sagetutor.progress import SCHEMA_VERSION, ProgressError, ProgressStore, data_dir, default_path


def test_data_dir_is_the_environment_override_created_on_demand(data_folder):
    assert not data_folder.exists()
    assert data_dir() == data_folder and data_folder.is_dir()
    assert default_path() == data_folder / "progress.sqlite3"


def test_data_dir_defaults_to_the_platform_user_data_dir(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("SAGETUTOR_DATA_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, appauthor=None: str(tmp_path / app))
    assert data_dir() == tmp_path / "sagetutor"


def test_open_creates_a_wal_database_with_our_schema_version(store, data_folder):
    assert store.path == data_folder / "progress.sqlite3" and store.path.is_file()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_the_data(tmp_path):
    path = tmp_path / "p.sqlite3"
    with ProgressStore.open(path) as s:
        s.record_answer(pack_id="p", question_id="q", domain=None, topics=[], answer="a", correct=True,
                        score=1.0, seconds=1)
    with ProgressStore.open(path) as s:
        assert [r.question_id for r in s.history()] == ["q"]


def test_an_empty_file_becomes_a_new_database(tmp_path):
    path = tmp_path / "p.sqlite3"
    path.touch()
    with ProgressStore.open(path) as s:
        assert s.history() == []


def assert_refused_unchanged(path, *fragments):
    before = path.read_bytes()
    with pytest.raises(ProgressError) as info:
        ProgressStore.open(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists()
    return message


def test_a_file_of_random_bytes_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "progress.sqlite3"
    path.write_bytes(os.urandom(4096))
    assert_refused_unchanged(path, "not an SQLite database", "Move it aside", "has not changed it")


def test_a_newer_schema_version_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "progress.sqlite3"
    with ProgressStore.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert_refused_unchanged(path, "newer SageTutor", f"version {SCHEMA_VERSION + 1}", "Upgrade SageTutor")


def test_another_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "progress.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    assert_refused_unchanged(path, "not one of SageTutor's", "photos")


def test_a_database_missing_one_of_our_tables_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "progress.sqlite3"
    with ProgressStore.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("DROP TABLE review_cards")
    conn.commit()
    conn.close()
    assert_refused_unchanged(path, "missing the table review_cards")


def test_a_database_with_corrupted_pages_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "progress.sqlite3"
    with ProgressStore.open(path) as s:
        for i in range(200):
            s.record_answer(pack_id="p", question_id=f"q{i}", domain="d", topics=["t"], answer="x" * 200,
                            correct=True, score=1.0, seconds=1)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")  # checkpoint everything into the main file
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[3 * page:5 * page] = os.urandom(2 * page)
    path.write_bytes(bytes(data))
    assert_refused_unchanged(path, "Move it aside")


def test_the_progress_layer_does_not_import_textual():
    code = "import sys, sagetutor.progress; sys.exit(int('textual' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=os.getcwd()).returncode == 0
