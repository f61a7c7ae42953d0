"""A seeded synthetic corpus of customer-support tickets.

Each ticket is built from phrases of its own category, phrases of *related*
categories (a refund ticket often talks about the package or the charge), shared
small talk and a few typos. That keeps the corpus learnable but not trivial: a
TF-IDF + linear model lands around 85-91%, so BlazingText and LDA results look like
real ones instead of a perfect score. The vocabulary is fixed (independent of the
seed) so the LDA word-count columns always mean the same words.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.datasets.formats import csv_bytes, write_splits
from engine.datasets.groundtruth import manifest_objects
from engine.datasets.split import rng_for, split_indices

__all__ = ["CATEGORIES", "VOCABULARY", "corpus", "tickets_bow_objects", "tickets_objects"]

CATEGORIES: tuple[str, ...] = ("billing", "login", "shipping", "refund", "technical", "account")
DOCUMENTS = 2400

_PHRASES: dict[str, tuple[str, ...]] = {
    "billing": (
        "i was charged twice this month",
        "my invoice shows the wrong amount",
        "why is my bill so high",
        "there is an unexpected fee on my statement",
        "my credit card was billed {amount} dollars",
        "the subscription price went up without notice",
        "please update the payment method on file",
        "i see a duplicate charge on my bank statement",
        "the tax on my invoice looks incorrect",
        "can i switch to annual billing",
        "my payment was declined but the card is valid",
        "the monthly plan costs more than advertised",
        "i need a copy of last month invoice",
        "the promo discount was not applied to my bill",
    ),
    "login": (
        "i cannot log in to my account",
        "the password reset email never arrives",
        "it says invalid password every time",
        "the two factor code is not accepted",
        "i am locked out after too many attempts",
        "the sign in page keeps loading",
        "my verification code expired",
        "login fails on my {device}",
        "i forgot my username",
        "the authentication link is broken",
        "my session expires right after i sign in",
        "cannot sign in with my google login",
    ),
    "shipping": (
        "my package has not arrived yet",
        "the tracking number shows no updates",
        "order {order} is still in transit",
        "the courier left the parcel at the wrong address",
        "delivery was scheduled for {day} but nothing came",
        "can you ship to a different address",
        "the shipment is stuck at the warehouse",
        "how long does express delivery take",
        "the box arrived crushed",
        "only part of my order was delivered",
        "the carrier says the address is invalid",
        "shipping is taking much longer than expected",
    ),
    "refund": (
        "i want my money back",
        "please refund order {order}",
        "i returned the item {days} days ago and got no refund",
        "the refund has not reached my card",
        "how do i return a damaged product",
        "i was promised a full refund",
        "cancel the order and refund me",
        "the return label does not work",
        "my refund request was rejected",
        "i need a refund for the duplicate charge",
        "the item is defective and i want to return it",
        "a partial refund is not enough",
    ),
    "technical": (
        "the app crashes when i open it",
        "i get error code {code} on startup",
        "the website is very slow today",
        "the page shows a blank screen",
        "the update broke the app on my {device}",
        "notifications stopped working",
        "the upload fails with a timeout",
        "the search feature returns nothing",
        "the app freezes on the checkout screen",
        "sync between devices is not working",
        "the dashboard does not load in my browser",
        "there is a bug in the latest version",
    ),
    "account": (
        "please change the email address on my account",
        "how do i delete my account",
        "i want to update my phone number",
        "can i merge two accounts",
        "please close my profile permanently",
        "my account was suspended without reason",
        "how do i change my username",
        "i need to update my personal details",
        "add a second user to my account",
        "i want to download all my personal data",
        "change the account owner name",
        "unsubscribe me from marketing emails",
    ),
}

#: Categories whose phrases a ticket borrows most often (the realistic confusions).
_NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "billing": ("refund", "account"),
    "login": ("account", "technical"),
    "shipping": ("refund",),
    "refund": ("billing", "shipping"),
    "technical": ("login",),
    "account": ("login", "billing"),
}

_OPENERS = ("hi", "hello", "hello team", "good morning", "dear support", "hey there")
_SMALL_TALK = (
    "i have been a customer for years",
    "this is really frustrating",
    "please help me",
    "i tried again yesterday",
    "nothing seems to work",
    "can someone look into this",
    "this happened again today",
    "i already contacted you before",
    "my friend has the same problem",
    "it has been {days} days",
    "i need this fixed today",
    "not sure what to do",
    "any update would be great",
    "i am very disappointed",
    "this is urgent",
)
_CLOSERS = ("thanks", "thank you", "regards", "asap please", "cheers", "thanks in advance")
_SLOTS: dict[str, tuple[str, ...]] = {
    "device": ("iphone", "android phone", "laptop", "tablet", "mac", "windows pc"),
    "day": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"),
}
_NUMBERS: dict[str, tuple[int, int]] = {
    "amount": (9, 300),
    "order": (10000, 100000),
    "days": (2, 22),
    "code": (100, 1000),
}
#: How an extra phrase is chosen: own category, a related one, or any.
_OWN, _NEIGHBOUR = 0.55, 0.30

_STOPWORDS = frozenset(
    "a about after all am an and any are at back be been but can cannot did do does every for from get got "
    "has have how i in is it me more much my no not nothing of on or please so some than that the there "
    "this to too two very was what when where why with would yet you".split()
)


def _vocabulary() -> tuple[str, ...]:
    texts = [phrase for phrases in _PHRASES.values() for phrase in phrases]
    texts += [*_OPENERS, *_SMALL_TALK, *_CLOSERS, *(value for values in _SLOTS.values() for value in values)]
    words = {word for text in texts for word in text.split() if word.isalpha()}
    return tuple(sorted(words - _STOPWORDS))


#: Column order of the ``tickets-bow`` word counts.
VOCABULARY: tuple[str, ...] = _vocabulary()


#: Uniform draws reserved per ticket; a ticket uses at most 33 of them.
_DRAWS_PER_TICKET = 48


class _Draws:
    """One ticket's uniform draws, taken from numpy in one block (scalar calls are slow)."""

    def __init__(self, values: list[float]) -> None:
        self._values = iter(values)

    def uniform(self) -> float:
        return next(self._values)

    def chance(self, probability: float) -> bool:
        return next(self._values) < probability

    def below(self, bound: int) -> int:
        return min(int(next(self._values) * bound), bound - 1)

    def pick(self, items: tuple[str, ...]) -> str:
        return items[self.below(len(items))]


def _fill(phrase: str, draws: _Draws) -> str:
    """Replace the (at most one) ``{slot}`` of a phrase with a drawn value."""
    if "{" not in phrase:
        return phrase
    slot = phrase[phrase.index("{") + 1 : phrase.index("}")]
    if slot in _NUMBERS:
        low, high = _NUMBERS[slot]
        value = str(low + draws.below(high - low))
    else:
        value = draws.pick(_SLOTS[slot])
    return phrase.replace("{" + slot + "}", value)


def _typo(word: str, draws: _Draws) -> str:
    """Swap, drop or double one letter, as hurried customers do."""
    position = draws.below(len(word) - 1)
    kind = draws.below(3)
    if kind == 0:
        return word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    if kind == 1:
        return word[:position] + word[position + 1 :]
    return word[:position] + word[position] + word[position:]


def _ticket(label: str, draws: _Draws) -> str:
    """Own phrase + up to two borrowed-or-own phrases + small talk, then typos."""
    sentences = [draws.pick(_PHRASES[label])]
    for _ in range(draws.below(3)):
        roll = draws.uniform()
        if roll < _OWN:
            source = label
        elif roll < _OWN + _NEIGHBOUR:
            source = draws.pick(_NEIGHBOURS[label])
        else:
            source = draws.pick(CATEGORIES)
        sentences.append(draws.pick(_PHRASES[source]))
    sentences += [draws.pick(_SMALL_TALK) for _ in range(draws.below(3))]
    sentences = list(dict.fromkeys(sentences))  # nobody repeats a sentence verbatim
    keys = [draws.uniform() for _ in sentences]
    parts = [sentence for _, sentence in sorted(zip(keys, sentences))]
    if draws.chance(0.7):
        parts.insert(0, draws.pick(_OPENERS))
    if draws.chance(0.6):
        parts.append(draws.pick(_CLOSERS))
    words = " ".join(_fill(part, draws) for part in parts).split()
    for _ in range(draws.below(3) if draws.chance(0.5) else 0):
        position = draws.below(len(words))
        if len(words[position]) > 3:
            words[position] = _typo(words[position], draws)
    return " ".join(words)


@lru_cache(maxsize=16)
def corpus(seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(texts, labels)`` of all tickets, balanced over the six categories."""
    rng = rng_for(seed, "tickets")
    labels = tuple(CATEGORIES[index] for index in rng.permutation(np.arange(DOCUMENTS) % len(CATEGORIES)))
    uniforms = rng.random((DOCUMENTS, _DRAWS_PER_TICKET)).tolist()
    texts = tuple(_ticket(label, _Draws(values)) for label, values in zip(labels, uniforms))
    return texts, labels


def tickets_objects(name: str, seed: int) -> dict[str, bytes]:
    """BlazingText ``__label__<category> <text>`` splits plus a Ground Truth manifest."""
    texts, labels = corpus(seed)

    def encode(rows: np.ndarray) -> bytes:
        return "".join(f"__label__{labels[row]} {texts[row]}\n" for row in rows.tolist()).encode("ascii")

    objects = write_splits(name, "txt", split_indices(DOCUMENTS, seed, "tickets"), encode)
    objects.update(manifest_objects(name, [{"source": text} for text in texts], labels, CATEGORIES))
    return objects


def word_counts(texts: tuple[str, ...]) -> np.ndarray:
    """``(documents, len(VOCABULARY))`` counts; typos and stopwords are not counted."""
    column = {word: index for index, word in enumerate(VOCABULARY)}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for word in text.split():
            if word in column:
                rows.append(row)
                cols.append(column[word])
    counts = np.zeros((len(texts), len(VOCABULARY)), dtype=np.int64)
    np.add.at(counts, (np.array(rows), np.array(cols)), 1)
    return counts


def tickets_bow_objects(name: str, seed: int) -> dict[str, bytes]:
    """Unlabelled word-count CSV in the same split as ``tickets``, plus the vocabulary."""
    texts, _ = corpus(seed)
    counts = word_counts(texts)
    objects = write_splits(
        name, "csv", split_indices(DOCUMENTS, seed, "tickets"), lambda rows: csv_bytes(None, counts[rows])
    )
    objects[f"{name}/vocabulary.txt"] = "".join(word + "\n" for word in VOCABULARY).encode("ascii")
    return objects
