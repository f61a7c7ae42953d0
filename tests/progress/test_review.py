"""Spaced repetition per topic (FSRS): ratings, due dates and the due list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sagetutor.progress import ProgressStore

from .conftest import T0


def test_again_is_due_sooner_than_good(store):
    again = store.review("spot-training", "again", at=T0)
    good = store.review("batch-transform", "good", at=T0)
    assert T0 < again < good
    assert again - T0 <= timedelta(minutes=10)


def test_good_reviews_push_the_topic_out_to_days(store):
    first = store.review("hosting", "good", at=T0)
    second = store.review("hosting", "good", at=first)
    assert second - first >= timedelta(days=1)
    assert store.review("hosting", "again", at=second) - second <= timedelta(minutes=10)


def test_due_topics_are_those_due_most_overdue_first(store):
    store.review("late", "again", at=T0)                          # due T0 + 1 min
    store.review("later", "good", at=T0)                          # due T0 + 10 min
    store.review("not-yet", "good", at=T0)
    store.review("not-yet", "good", at=T0 + timedelta(minutes=10))  # due in days
    due = store.due_topics(at=T0 + timedelta(hours=1))
    assert [d.topic for d in due] == ["late", "later"]
    assert (due[0].last_rating, due[0].reviews) == ("again", 1)
    assert due[0].due == T0 + timedelta(minutes=1) and due[0].due.tzinfo is not None
    assert store.due_topics(at=T0) == []


def test_review_counts_accumulate_per_topic(store):
    when = T0
    for rating in ("again", "hard", "good"):
        when = store.review("tuning", rating, at=when)
    (due,) = store.due_topics(at=when)
    assert (due.topic, due.reviews, due.last_rating) == ("tuning", 3, "good")


def test_an_unknown_rating_is_refused(store):
    with pytest.raises(ValueError, match="again, hard, good, easy"):
        store.review("tuning", "perfect", at=T0)
    assert store.due_topics(at=T0 + timedelta(days=999)) == []


@pytest.mark.parametrize(("correct", "slow", "flagged", "rating"), [
    (False, False, False, "again"),
    (False, True, True, "again"),
    (True, True, False, "hard"),
    (True, False, True, "hard"),
    (True, False, False, "good"),
])
def test_rating_for_turns_an_answer_into_a_rating(store, correct, slow, flagged, rating):
    assert store.rating_for(correct=correct, slow=slow, flagged=flagged) == rating
    assert ProgressStore.rating_for(correct=correct, slow=slow, flagged=flagged) == rating
