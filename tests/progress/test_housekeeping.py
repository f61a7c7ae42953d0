"""Export to JSON (never overwriting) and reset (rows gone, file kept)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sagetutor.progress import SCHEMA_VERSION, ProgressError

from .conftest import T0


def fill(store):
    store.record_answer(pack_id="pack-a", question_id="q1", domain="Deployment", topics=["hosting"],
                        answer=["a", "b"], correct=False, score=0.5, seconds=40, at=T0)
    exam = store.start_exam(pack_id="pack-a", pack_hash="h1", question_ids=["q1", "q2"], seconds_allowed=600,
                            seed=3)
    store.save_exam_answer(exam.id, "q2", "c", True, 12)
    store.review("hosting", "again", at=T0)
    return exam


def test_export_writes_every_kind_of_progress_as_json(store, tmp_path):
    exam = fill(store)
    target = tmp_path / "mine.json"
    assert store.export(target) == target
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["format"] == "sagetutor-progress" and data["schema_version"] == SCHEMA_VERSION
    assert data["database"] == str(store.path)
    (a,) = data["answers"]
    assert (a["question_id"], a["answer"], a["correct"], a["score"], a["at"]) == (
        "q1", ["a", "b"], False, 0.5, "2025-03-01T09:00:00.000000+00:00")
    (e,) = data["exams"]
    assert (e["id"], e["answers"], e["flags"], e["seconds_remaining"], e["finished_at"]) == (
        exam.id, {"q2": "c"}, ["q2"], 600, None)
    (card,) = data["review_cards"]
    assert (card["topic"], card["last_rating"], card["reviews"]) == ("hosting", "again", 1)
    assert card["due"] == (T0 + timedelta(minutes=1)).isoformat(timespec="microseconds")
    assert "stability" in card["card"]
    assert [r["rating"] for r in data["review_log"]] == ["again"]


def test_export_never_overwrites_a_file(store, tmp_path):
    target = tmp_path / "mine.json"
    target.write_text("keep me")
    with pytest.raises(ProgressError, match="already exists"):
        store.export(target)
    assert target.read_text() == "keep me"


def test_export_into_a_missing_folder_is_a_progress_error(store, tmp_path):
    with pytest.raises(ProgressError, match="cannot write"):
        store.export(tmp_path / "no-such-folder" / "mine.json")


def test_reset_deletes_every_row_but_keeps_the_file(store):
    fill(store)
    store.reset()
    assert store.path.is_file()
    assert store.history() == [] and store.unfinished_exam() is None
    assert store.due_topics(at=T0 + timedelta(days=3650)) == []
    store.record_answer(pack_id="p", question_id="q", domain=None, topics=[], answer="a", correct=True,
                        score=1.0, seconds=1)
    assert len(store.history()) == 1
