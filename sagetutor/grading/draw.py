"""Per-student exams: which questions, in which order, with which option order and params.

``student_exam(pack, student, seed)`` is a pure function of ``(pack_hash(pack), student,
seed)``: the same triple gives the same exam on any machine and in any process (every random
choice comes from ``random.Random`` seeded with a sha256 digest, never from Python's
``hash()``), and two students given the same seed get different draws and option orders.
A full pack and its student export have the same ``pack_hash``, so the teacher, holding the
full pack, rebuilds exactly the exam each student sat.

The draw follows the pack's blueprint (as the TUI's ``plan_exam`` does): ``questions`` items,
up to ``unscored`` of them the pack's pilot items (``scored: false``), the rest split across
the blueprint's domains by weight (largest remainder), a case study's questions always
together and in the pack's order. A pack with fewer items than the blueprint asks gives all of
them, and the time shrinks in the same ratio. Without a blueprint: every item, 2 minutes each.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagetutor.packs import params as P

#: Minutes per question when a pack has no blueprint (SAA-C03: 130 / 65).
MINUTES_PER_QUESTION = 2.0


def pack_hash(pack: Any) -> str:
    """sha256 (hex) of the pack's canonical key-free form (``student_pack.key_free``): the same for
    a full pack and its student export, and it changes when anything a student sees changes."""
    from sagetutor.grading.student_pack import key_free

    text = json.dumps(key_free(pack), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StudentExam:
    """One student's exam (see the module docstring)."""

    question_ids: tuple[str, ...]
    option_orders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    params: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()


def _rng(*parts: Any) -> random.Random:
    return random.Random(int.from_bytes(_digest(*parts), "big"))


@dataclass
class _Unit:
    ids: list[str]
    domain: str | None
    scored: bool


def _units(pack: Any) -> list[_Unit]:
    out = []
    for q in pack.questions:
        children = list(q.questions or []) if q.type == "case_study" else [q]
        if children:
            out.append(_Unit([c.id for c in children], children[0].domain, all(c.scored for c in children)))
    return out


def _quotas(weights: Mapping[str, float], n: int) -> dict[str, int]:
    total = sum(weights.values())
    if n <= 0 or total <= 0:
        return {k: 0 for k in weights}
    exact = {k: n * w / total for k, w in weights.items()}
    quota = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: -(exact[k] - quota[k]))[: n - sum(quota.values())]:
        quota[k] += 1
    return quota


def draw_questions(pack: Any, rng: random.Random) -> tuple[list[str], float]:
    """Question ids in presented order and the seconds allowed, drawn with ``rng`` (the TUI's exam too)."""
    units = _units(pack)
    bp = pack.pack.blueprint
    available = sum(len(u.ids) for u in units)
    want = bp.questions if bp is not None and bp.questions else available
    minutes = bp.minutes if bp is not None and bp.minutes else MINUTES_PER_QUESTION * want
    if available <= want:
        chosen = list(units)
    else:
        chosen: list[_Unit] = []
        taken = 0

        def take(pool: list[_Unit], limit: int) -> None:
            nonlocal taken
            for u in pool:
                if all(u is not c for c in chosen) and taken + len(u.ids) <= limit:
                    chosen.append(u)
                    taken += len(u.ids)

        pilots = [u for u in units if not u.scored]
        rng.shuffle(pilots)
        take(pilots, min(bp.unscored if bp is not None else 0, want))
        scored = [u for u in units if u.scored]
        rng.shuffle(scored)
        weights = dict(bp.domains) if bp is not None else {}
        for domain, quota in _quotas(weights, want - taken).items():
            take([u for u in scored if u.domain == domain], taken + quota)
        rest = [u for u in units if all(u is not c for c in chosen)]
        rng.shuffle(rest)
        take([u for u in rest if u.scored], want)
        take(rest, want)
    rng.shuffle(chosen)
    ids = [i for u in chosen for i in u.ids]
    seconds = float(minutes) * 60.0 * min(1.0, len(ids) / want) if want else 0.0
    return ids, seconds


def option_order(question: Any, rng: random.Random) -> tuple[str, ...]:
    """A question's option ids in a shuffled display order (from id order; ``pin: last`` stays last)."""
    options = list(getattr(question, "options", None) or [])
    pinned = sorted(o.id for o in options if getattr(o, "pin", None) == "last")
    free = sorted(o.id for o in options if getattr(o, "pin", None) != "last")
    rng.shuffle(free)
    return tuple(free + pinned)


def variant_seed(digest: str, student: str, seed: int) -> int:
    """The seed whose params variant a student gets (``sagetutor.packs.params.pick``)."""
    return int.from_bytes(_digest(digest, student, seed, "params")[:8], "big")


def student_exam(pack: Any, student: str, seed: int, *, digest: str | None = None) -> StudentExam:
    """The exam ``student`` sits with ``seed`` (deterministic in ``(pack_hash(pack), student, seed)``).

    ``digest`` is ``pack_hash(pack)`` when the caller has it already (a grader drawing a class's exams
    computes it once: it costs about 20 ms on a 65-question pack).
    """
    digest = digest or pack_hash(pack)
    ids, seconds = draw_questions(pack, _rng(digest, student, seed, "draw"))
    cases = {c.id: q for q in pack.questions if q.type == "case_study" for c in q.questions}
    vseed = variant_seed(digest, student, seed)
    orders: dict[str, tuple[str, ...]] = {}
    values: dict[str, dict] = {}
    for qid in ids:
        q = pack.question(qid)
        orders[qid] = option_order(q, _rng(digest, student, seed, "options", qid))
        case = cases.get(qid)
        v: dict[str, Any] = {}
        if case is not None and case.params:
            v.update(P.pick(case.params, vseed, case.id))
        if q.params:
            v.update(P.pick(q.params, vseed, q.id))
        values[qid] = v
    return StudentExam(tuple(ids), orders, values, seconds)
