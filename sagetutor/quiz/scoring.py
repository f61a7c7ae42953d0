"""Scoring: one question's score from 0 to 1, and an exam's estimated scaled score.

Rules (a question's ``scoring``):

* ``all_or_nothing`` (the default, as AWS scores): 1 for exactly the right answer, else 0.
* PrairieLearn's partial-credit rules for multiple response (``pl-checkbox``), with ``t``
  right options chosen, ``c`` right options, ``n`` options chosen and ``N`` options shown:

  - ``net_correct``: (right chosen - wrong chosen) / c, never below 0;
  - ``coverage``: (t / c) x (t / n);
  - ``each_answer``: every option is a true/false decision worth 1/N.

* Ordering and matching score per position / prompt. Each slot (a position in the order,
  a prompt) is right, wrong, or left empty; with ``r`` right, ``w`` wrong and ``N`` slots:
  ``each_answer`` gives r / N, ``net_correct`` (r - w) / N floored at 0, ``coverage``
  (r / N) x (r / (r + w)) - the same formulas with every slot a decision.
* A single-answer question is one decision: right or wrong whatever the rule.
* An empty answer scores 0 under every rule (AWS counts an unanswered question as wrong).

An exam's raw percentage is the mean score of its scored items (unscored pilot items do
not count) and maps to the 100-1000 scale piecewise linearly: 0% -> 100,
``pass_percent`` -> ``pass_mark``, 100% -> 1000. AWS equates scores across exam forms, so
this number is only ever an *estimate* and is labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RULES = ("all_or_nothing", "net_correct", "coverage", "each_answer")
ESTIMATE_LABEL = "estimated scaled score"


def _rule(rule: str) -> str:
    if rule not in RULES:
        raise ValueError(f"unknown scoring rule {rule!r}; rules: {', '.join(RULES)}")
    return rule


def score_choices(selected: Iterable[str], correct: Collection[str], options: Collection[str],
                  rule: str = "all_or_nothing") -> float:
    """A multiple-response answer's score under ``rule`` (PrairieLearn's pl-checkbox formulas)."""
    _rule(rule)
    chosen = set(selected)
    right = set(correct)
    shown = set(options)
    unknown = chosen - shown
    if unknown:
        raise ValueError(f"not options of this question: {', '.join(sorted(unknown))}")
    if not right:
        raise ValueError("a question needs at least one correct option")
    if not chosen:
        return 0.0
    if chosen == right:
        return 1.0
    t = len(chosen & right)
    if rule == "all_or_nothing":
        return 0.0
    if rule == "net_correct":
        return max(0.0, (t - len(chosen - right)) / len(right))
    if rule == "coverage":
        return (t / len(right)) * (t / len(chosen))
    wrong_decisions = len(chosen - right) + len(right - chosen)
    return 1.0 - wrong_decisions / len(shown)


def score_slots(given: Mapping[Any, str | None], key: Mapping[Any, str], rule: str = "all_or_nothing") -> float:
    """Ordering and matching: each slot (position or prompt) right, wrong or empty."""
    _rule(rule)
    extra = set(given) - set(key)
    if extra:
        raise ValueError(f"not prompts or positions of this question: {', '.join(map(str, sorted(extra, key=str)))}")
    n = len(key)
    right = sum(1 for slot, answer in given.items() if answer is not None and answer == key[slot])
    wrong = sum(1 for slot, answer in given.items() if answer is not None and answer != key[slot])
    if right == n:
        return 1.0
    if rule == "all_or_nothing" or right + wrong == 0:
        return 0.0
    if rule == "each_answer":
        return right / n
    if rule == "net_correct":
        return max(0.0, (right - wrong) / n)
    return (right / n) * (right / (right + wrong))


def score_order(order: Sequence[str], correct_order: Sequence[str], rule: str = "all_or_nothing") -> float:
    """An ordering answer (item ids, first to last) against the right order."""
    if len(set(order)) != len(order):
        raise ValueError("an item appears twice in the order")
    unknown = set(order) - set(correct_order)
    if unknown:
        raise ValueError(f"not items of this question: {', '.join(sorted(unknown))}")
    if len(order) > len(correct_order):
        raise ValueError("more positions than items")
    given = {i: item for i, item in enumerate(order)}
    return score_slots(given, dict(enumerate(correct_order)), rule)


def correct_answer(question: Any) -> Any:
    """The right answer in the form ``score_question`` takes: an option id (single), option ids (multi),
    item ids in order (ordering), prompt id -> option id (matching)."""
    if question.type == "single":
        return question.correct_ids[0] if question.correct_ids else None
    if question.type == "multi":
        return list(question.correct_ids)
    if question.type == "ordering":
        return list(question.correct_order)
    return dict(question.answer_key)


def score_question(question: Any, answer: Any) -> float:
    """A loaded question's score (0-1) for a learner's answer, under the question's own rule.

    ``answer`` is an option id (single), a collection of option ids (multi), option ids in
    order (ordering), or prompt id -> option id (matching); None or empty is unanswered.
    """
    kind = getattr(question, "type", None)
    rule = getattr(question, "scoring", "all_or_nothing")
    option_ids = [o.id for o in getattr(question, "options", [])]
    if kind == "single":
        if answer is None or answer == "" or (isinstance(answer, Collection) and not isinstance(answer, str)
                                              and not answer):
            return 0.0
        if not isinstance(answer, str):
            picked = list(answer)
            if len(picked) != 1:
                raise ValueError("a single-answer question takes one option")
            answer = picked[0]
        if answer not in option_ids:
            raise ValueError(f"{answer!r} is not an option of {question.id}")
        return 1.0 if answer in question.correct_ids else 0.0
    if kind == "multi":
        chosen = [] if answer is None else [answer] if isinstance(answer, str) else list(answer)
        return score_choices(chosen, question.correct_ids, option_ids, rule)
    if kind == "ordering":
        return score_order(list(answer or []), question.correct_order, rule)
    if kind == "matching":
        given = dict(answer or {})
        bad = {v for v in given.values() if v is not None and v not in option_ids}
        if bad:
            raise ValueError(f"not options of {question.id}: {', '.join(sorted(bad))}")
        return score_slots(given, question.answer_key, rule)
    if kind == "case_study":
        raise ValueError("a case study is scored question by question: score each of its questions")
    raise ValueError(f"cannot score a question of type {kind!r}")


def scaled_estimate(percent: float, pass_percent: float = 72.0, pass_mark: int = 720) -> int:
    """The estimated scaled score (100-1000) for a raw percentage: 0 -> 100, pass -> pass_mark, 100 -> 1000."""
    if not 0 < pass_percent < 100:
        raise ValueError(f"pass_percent must be between 0 and 100, not {pass_percent}")
    if not 100 <= pass_mark <= 1000:
        raise ValueError(f"pass_mark must be between 100 and 1000, not {pass_mark}")
    p = min(100.0, max(0.0, float(percent)))
    if p <= pass_percent:
        value = 100 + (pass_mark - 100) * p / pass_percent
    else:
        value = pass_mark + (1000 - pass_mark) * (p - pass_percent) / (100 - pass_percent)
    return int(math.floor(value + 0.5 + 1e-9))


@dataclass(frozen=True)
class ItemResult:
    """One answered (or unanswered) item of an exam."""

    question_id: str
    domain: str | None
    score: float
    scored: bool = True


@dataclass(frozen=True)
class DomainResult:
    domain: str
    items: int
    points: float

    @property
    def percent(self) -> float:
        return 100.0 * self.points / self.items if self.items else 0.0


@dataclass(frozen=True)
class ExamResult:
    """An exam's outcome. ``scaled`` is an estimate (``label`` says so), never AWS's score."""

    raw_percent: float
    scaled: int
    pass_mark: int
    pass_percent: float
    passed: bool
    scored_items: int
    unscored_items: int
    domains: list[DomainResult] = field(default_factory=list)
    label: str = ESTIMATE_LABEL

    def domain(self, key: str) -> DomainResult:
        for d in self.domains:
            if d.domain == key:
                return d
        raise KeyError(key)


def exam_result(items: Iterable[ItemResult], blueprint: Any = None, pass_percent: float | None = None,
                pass_mark: int | None = None) -> ExamResult:
    """Raw percentage over scored items, the estimated scaled score, pass/fail and per-domain results.

    ``blueprint`` (a pack's ``Blueprint``) supplies pass_percent, pass_mark and the order of
    domains; explicit arguments win; the defaults are SAA-C03's 72% and 720.
    """
    items = list(items)
    pp = pass_percent if pass_percent is not None else getattr(blueprint, "pass_percent", 72.0)
    pm = pass_mark if pass_mark is not None else getattr(blueprint, "pass_mark", 720)
    scored = [i for i in items if i.scored]
    for i in items:
        if not 0.0 <= i.score <= 1.0:
            raise ValueError(f"score of {i.question_id} is {i.score}, outside 0..1")
    raw = 100.0 * sum(i.score for i in scored) / len(scored) if scored else 0.0
    order = list(getattr(blueprint, "domains", {}) or {})
    for i in scored:
        key = i.domain or "(none)"
        if key not in order:
            order.append(key)
    domains = []
    for key in order:
        mine = [i for i in scored if (i.domain or "(none)") == key]
        domains.append(DomainResult(key, len(mine), sum(i.score for i in mine)))
    scaled = scaled_estimate(raw, pp, pm)
    return ExamResult(raw_percent=raw, scaled=scaled, pass_mark=pm, pass_percent=pp, passed=scaled >= pm,
                      scored_items=len(scored), unscored_items=len(items) - len(scored), domains=domains)
