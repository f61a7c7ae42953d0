"""`sagetutor schema`, `validate` and `pack new`: output and exit codes."""

from __future__ import annotations

import json

from sagetutor.cli import main
from sagetutor.packs.paths import STARTER, starter_text

from .conftest import BROKEN, HERE


def test_schema_prints_json(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].endswith("2020-12/schema")


def test_validate_good_pack(capsys):
    assert main(["validate", str(STARTER), str(HERE / "good")]) == 0
    out = capsys.readouterr().out
    assert f"{STARTER}: ok, 6 questions" in out and "variants.yaml: ok" in out


def test_validate_bad_pack_prints_every_problem(capsys):
    bad = HERE / "broken" / "undefined-param.yaml"
    assert main(["validate", str(STARTER), str(bad)]) == 1
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith(str(bad))]
    assert lines == [f"{bad}:17:7: question q1: params `rows` is never used as ${{rows}}",
                     f"{bad}:18:55: question q1: ${{row}} is not defined in params (did you mean ${{rows}}?)"]
    assert "1 of 2 packs not valid (2 problems)" in captured.err


def test_validate_the_whole_corpus_fails(capsys):
    assert main(["validate", "-q", str(HERE / "broken")]) == 1
    out = capsys.readouterr().out
    assert "ok," not in out and len(out.splitlines()) >= len(BROKEN)


def test_validate_missing_path(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path / 'nope.yaml'}: no such file or folder\n"
    assert captured.err == "1 of 1 pack not valid (1 problem)\n"


def test_pack_new_writes_the_starter_and_never_overwrites(capsys, tmp_path):
    target = tmp_path / "mine.yaml"
    assert main(["pack", "new", str(target)]) == 0
    assert target.read_text() == starter_text()
    assert main(["validate", str(target)]) == 0
    target.write_text("my work")
    assert main(["pack", "new", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "my work"
    assert main(["pack", "new", str(tmp_path / "no" / "dir.yaml")]) == 1


def test_pack_dir_is_under_the_user_data_dir(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["pack", "dir"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("packs") and "sagetutor" in out


def test_demo_is_still_a_command():
    from sagetutor.cli import _parser

    assert _parser().parse_args(["demo", "--seed", "3"]).seed == 3
