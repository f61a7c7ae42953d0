"""`sagetutor progress export` and `sagetutor progress reset`: output, confirmation, exit codes."""

from __future__ import annotations

import io
import json

import pytest

from sagetutor.cli import main
from sagetutor.progress import ProgressStore, default_path


@pytest.fixture
def saved(store):
    """A progress file holding one answer."""
    with store as s:
        s.record_answer(pack_id="p", question_id="q1", domain=None, topics=[], answer="a", correct=True,
                        score=1.0, seconds=1)
    return default_path()


def answers(path):
    with ProgressStore.open(path) as s:
        return len(s.history())


def test_export_writes_the_file_and_says_where(saved, tmp_path, capsys):
    target = tmp_path / "out.json"
    assert main(["progress", "export", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    assert len(json.loads(target.read_text())["answers"]) == 1


def test_export_refuses_to_overwrite(saved, tmp_path, capsys):
    target = tmp_path / "out.json"
    target.write_text("keep")
    assert main(["progress", "export", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "keep"


@pytest.mark.parametrize("reply", ["n\n", "\n", "", "maybe\n"])
def test_reset_without_a_yes_keeps_everything(saved, monkeypatch, capsys, reply):
    monkeypatch.setattr("sys.stdin", io.StringIO(reply))
    assert main(["progress", "reset"]) == 0
    out = capsys.readouterr().out
    assert f"Delete all progress in {saved}? [y/N]" in out and "nothing deleted" in out
    assert answers(saved) == 1


@pytest.mark.parametrize("reply", ["y\n", "YES\n"])
def test_reset_deletes_after_yes(saved, monkeypatch, capsys, reply):
    monkeypatch.setattr("sys.stdin", io.StringIO(reply))
    assert main(["progress", "reset"]) == 0
    assert f"deleted all progress in {saved}" in capsys.readouterr().out
    assert answers(saved) == 0 and saved.is_file()


def test_reset_yes_flag_skips_the_question(saved, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["progress", "reset", "--yes"]) == 0
    assert "[y/N]" not in capsys.readouterr().out
    assert answers(saved) == 0


def test_reset_with_no_database_creates_nothing(data_folder, capsys):
    assert main(["progress", "reset", "--yes"]) == 0
    assert "nothing to delete" in capsys.readouterr().out
    assert not default_path().exists()


@pytest.mark.parametrize("command", [["export", "out.json"], ["reset", "--yes"]])
def test_a_damaged_database_prints_its_message_and_exits_2(data_folder, tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    path = default_path()
    path.write_bytes(b"not a database at all" * 100)
    assert main(["progress", *command]) == 2
    captured = capsys.readouterr()
    assert str(path) in captured.err and "Move it aside" in captured.err and "Traceback" not in captured.err
    assert path.read_bytes() == b"not a database at all" * 100
    assert not (tmp_path / "out.json").exists()
