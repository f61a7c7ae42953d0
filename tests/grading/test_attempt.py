"""Attempt files: YAML round trip, never an overwrite, plain reasons for bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sagetutor.grading.attempt import (
    FORMAT,
    Attempt,
    AttemptError,
    default_attempt_path,
    load_attempt,
    write_attempt,
)


def attempt(**kw) -> Attempt:
    data = dict(format=FORMAT, pack_id="quiz-flows", pack_version="1.0", pack_hash="ab" * 32, student="alice",
                seed=7, questions=["q1", "q2", "q3", "q4"],
                answers={"q1": "b", "q2": ["a", "c"], "q3": {"p1": "kmeans"}, "q4": ["c", "a", "b"]},
                flags=["q2"], seconds={"q1": 12.5, "q2": 3.0}, started_at=datetime(2025, 1, 31, 9, 0, tzinfo=UTC),
                ended_at=datetime(2025, 1, 31, 9, 40, 5, tzinfo=UTC))
    data.update(kw)
    return Attempt(**data)


def test_round_trip(tmp_path):
    a = attempt()
    path = write_attempt(a, tmp_path / "alice.attempt.yaml")
    assert path == tmp_path / "alice.attempt.yaml"
    assert load_attempt(path) == a
    assert "format: 1" in path.read_text()


def test_never_overwrites(tmp_path):
    path = tmp_path / "a.attempt.yaml"
    path.write_text("mine")
    with pytest.raises(AttemptError, match="already exists"):
        write_attempt(attempt(), path)
    assert path.read_text() == "mine"


def test_default_path():
    assert default_attempt_path("alice", "saa-c03-sagemaker") == Path("alice-saa-c03-sagemaker.attempt.yaml")
    assert default_attempt_path("../x y", "p").parent == Path(".")


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "x.attempt.yaml"
    p.write_text(text)
    return p


def good_text(tmp_path) -> str:
    return write_attempt(attempt(), tmp_path / "good.attempt.yaml").read_text()


@pytest.mark.parametrize("text, reason", [
    ("format: 1\npack_id: [unclosed\n", "not YAML"),
    ("", "empty"),
    ("- a\n- b\n", "not an attempt file"),
    ("format: 2\npack_id: x\n", "format 2 is newer than this SageTutor"),
    ("format: 0\n", "is not an attempt format"),
])
def test_reasons(tmp_path, text, reason):
    with pytest.raises(AttemptError, match=reason):
        load_attempt(write(tmp_path, text))


def test_missing_and_wrong_fields_with_lines(tmp_path):
    text = good_text(tmp_path)
    lines = [ln for ln in text.splitlines() if not ln.startswith("pack_hash")]
    with pytest.raises(AttemptError) as e:
        load_attempt(write(tmp_path, "\n".join(lines)))
    assert "missing `pack_hash`" in str(e.value)
    bad = text.replace("seed: 7", "seed: seven")
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if ln.startswith("seed:"))
    with pytest.raises(AttemptError) as e:
        load_attempt(write(tmp_path, bad))
    assert str(e.value) == f"line {line}: `seed` should be a whole number, not 'seven'"
    with pytest.raises(AttemptError, match="unknown field `score`"):
        load_attempt(write(tmp_path, text + "score: 1000\n"))


def test_answers_must_be_to_asked_questions(tmp_path):
    with pytest.raises(ValueError, match="not in `questions`"):
        attempt(answers={"zz": "a"})
    text = good_text(tmp_path).replace("flags: [q2]", "flags: [q9]")
    with pytest.raises(AttemptError, match="`flags` names question"):
        load_attempt(write(tmp_path, text))
    with pytest.raises(ValueError, match="should be an option id"):
        attempt(answers={"q1": 3})
