"""Practice answers: history, the missed set and per-domain progress."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sagetutor.progress import DomainProgress

from .conftest import T0


def answer(store, qid, *, score, domain="Deployment", at=0, pack="pack-a", **kw):
    correct = None if score is None else score >= 1
    return store.record_answer(pack_id=pack, question_id=qid, domain=domain, topics=["hosting"], answer=kw.pop("answer", "a"),
                               correct=correct, score=score, seconds=12.5, at=T0 + timedelta(minutes=at), **kw)


def test_history_is_oldest_first_and_keeps_json_answers(store):
    answer(store, "q2", score=1.0, at=5, answer={"pairs": {"a": "1"}})
    first = answer(store, "q1", score=0.0, at=1, answer=["b", "c"], flagged=True)
    records = store.history()
    assert [r.question_id for r in records] == ["q1", "q2"]
    r = records[0]
    assert r.id == first and r.at == T0 + timedelta(minutes=1) and r.at.tzinfo is not None
    assert (r.answer, r.topics, r.correct, r.score, r.seconds, r.flagged, r.mode, r.exam_id) == (
        ["b", "c"], ["hosting"], False, 0.0, 12.5, True, "practice", None)
    assert records[1].answer == {"pairs": {"a": "1"}}


def test_history_filters_by_pack_and_question(store):
    answer(store, "q1", score=1.0, pack="pack-a")
    answer(store, "q1", score=1.0, pack="pack-b")
    answer(store, "q2", score=1.0, pack="pack-a")
    assert len(store.history("pack-a")) == 2
    assert [(r.pack_id, r.question_id) for r in store.history("pack-a", "q1")] == [("pack-a", "q1")]
    assert len(store.history(question_id="q1")) == 2


def test_missed_follows_each_questions_latest_scored_answer(store):
    answer(store, "fixed", score=0.0, at=1)
    answer(store, "fixed", score=1.0, at=2)
    answer(store, "forgot", score=1.0, at=1)
    answer(store, "forgot", score=0.0, at=2)
    answer(store, "partial", score=0.5, at=1)
    answer(store, "unscored-after-wrong", score=0.0, at=1)
    answer(store, "unscored-after-wrong", score=None, at=2)
    answer(store, "never-scored", score=None, at=1)
    assert store.missed("pack-a") == {"forgot", "partial", "unscored-after-wrong"}
    assert store.missed("other-pack") == set()


def test_domain_progress_counts_each_question_once_by_its_latest_answer(store):
    answer(store, "q1", score=0.0, at=1, domain="Deployment")
    answer(store, "q1", score=1.0, at=2, domain="Deployment")
    answer(store, "q2", score=0.0, at=3, domain="Deployment")
    answer(store, "q3", score=1.0, at=4, domain="Training")
    answer(store, "q4", score=1.0, at=5, domain=None)
    assert store.domain_progress("pack-a") == {
        "Deployment": DomainProgress(answered=2, correct=1, percent=50.0),
        "Training": DomainProgress(answered=1, correct=1, percent=100.0),
    }


def test_a_timestamp_without_time_zone_is_refused(store):
    with pytest.raises(ValueError, match="no time zone"):
        store.record_answer(pack_id="p", question_id="q", domain=None, topics=[], answer="a", correct=True,
                            score=1.0, seconds=1, at=datetime(2025, 1, 1))
    assert store.history() == []


def test_an_answer_that_is_not_json_is_refused_and_nothing_is_saved(store):
    with pytest.raises(ValueError, match="JSON"):
        answer(store, "q1", score=1.0, answer=object())
    assert store.history() == []
