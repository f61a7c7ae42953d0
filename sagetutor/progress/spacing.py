"""Spaced repetition per topic, on the FSRS scheduler of the ``fsrs`` package.

SageTutor schedules topics (``spot-training``, ``batch-transform``...), not single questions: a
pack has few questions per topic and re-asking the same question tests memory of the answer,
not of the idea. The TUI turns each scored answer into a rating (``rating_for``) for every
topic of the question.

Fuzzing is off so that the same history always gives the same schedule (a learner comparing
two days, and the tests, see stable due dates). FSRS's other defaults stand: 90% desired
retention, learning steps of 1 and 10 minutes, relearning step of 10 minutes.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler

RATINGS: dict[str, Rating] = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}

SCHEDULER = Scheduler(enable_fuzzing=False)


def parse_rating(rating: str) -> Rating:
    try:
        return RATINGS[rating.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"rating {rating!r} is not one of {', '.join(RATINGS)}") from None


def new_card(topic: str, at: datetime) -> Card:
    """A card never reviewed. Its id is derived from the topic (fsrs would otherwise use the
    clock and sleep a millisecond to keep ids apart)."""
    return Card(card_id=zlib.crc32(topic.encode("utf-8")), due=at)


def card_from_json(text: str) -> Card:
    return Card.from_dict(json.loads(text))


def card_to_json(card: Card) -> str:
    return json.dumps(card.to_dict(), sort_keys=True)


def review(card: Card, rating: str, at: datetime) -> Card:
    """The card after a review with ``rating`` at ``at`` (UTC)."""
    updated, _log = SCHEDULER.review_card(card, parse_rating(rating), review_datetime=at.astimezone(UTC))
    return updated


def rating_for(*, correct: bool, slow: bool, flagged: bool) -> str:
    """The FSRS rating an answer earns: wrong -> again; right but slow or flagged (the learner
    was unsure) -> hard; right -> good. "easy" is left to an explicit learner choice."""
    if not correct:
        return "again"
    if slow or flagged:
        return "hard"
    return "good"
