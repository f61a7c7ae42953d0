"""The quiz runtime: a learner's answer, the plans it runs, and the outcome they see.

Headless (no UI imports; the TUI and the grader both use it)::

    from sagetutor.quiz.runtime import QuizRuntime
    rt = QuizRuntime.from_file("scenarios/saa-c03-sagemaker.yaml")
    result = rt.answer("nightly-scoring", "transform", seed=7)
    result["score"], result["runs"]["endpoint"]["outcome"]["bill"]["total"]

Given a question, a seed and a learner's answer, ``answer`` runs the plans the question's
requirements need - the chosen option's and the correct one's, and every option's when a
requirement compares options (``cost.total is minimal``) - each on a fresh
``Engine(seed)``, and returns a JSON-ready result: the score under the question's rule
(``sagetutor.quiz.scoring``), each run's outcome (``sagetutor.quiz.outcome``: timeline,
metrics, itemized bill, security facts, facts), each requirement met or not with the values
compared, the feedback, the explanation, the references and the related study notes.

* An option is run when it has a ``run`` of its own; its plan is the case study's ``run``,
  the question's, then the option's (``sagetutor.packs.model.option_plan``). An ordering
  question runs the items' steps in the learner's order, and in the right order. Matching
  questions have no runs.
* ``seed`` picks the params variant (``sagetutor.packs.params``) and seeds the engine;
  ``params`` overrides the variant (``validate --simulate`` goes through every one).
* Outcomes are cached (``sagetutor.quiz.cache``) under (pack content hash, question, params
  variant, seed, engine version), on disk and in memory, so an answered question is not
  simulated again and a changed pack or engine never serves a stale outcome.
* A plan with a step the engine cannot run (an unsupported labeling task or monitor kind) gets an outcome with
  ``"supported": false`` and its requirements are neither met nor failed (``met: null``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagetutor.packs import params as P
from sagetutor.packs.model import CaseStudy, Pack, option_plan
from sagetutor.quiz import cache as cache_mod
from sagetutor.quiz import outcome as outcome_mod
from sagetutor.quiz.scoring import ExamResult, ItemResult, correct_answer, exam_result, score_question

ORDER = "order:"
MEMORY_ENTRIES = 256


@dataclass
class Resolved:
    """A question as one params variant makes it: placeholders filled, validated."""

    question: Any  # SingleQuestion | MultiQuestion | OrderingQuestion | MatchingQuestion
    case: CaseStudy | None
    values: dict[str, Any]  # the variant's values (a case study's and the question's own, merged)

    @property
    def id(self) -> str:
        return self.question.id


def order_key(order: Sequence[str]) -> str:
    return ORDER + ",".join(order)


def content_dir() -> Path | None:
    """The study notes: inside the installed package, else the source checkout's ``content/``."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_bundled" / "content", package.parent / "content"):
        if candidate.is_dir():
            return candidate
    return None


def note_path(topic: str) -> Path | None:
    """The study note for a topic key (``content/<topic>.md``), if there is one."""
    folder = content_dir()
    if folder is None:
        return None
    p = folder / f"{topic}.md"
    return p if p.is_file() else None


class QuizRuntime:
    """Runs and caches the plans of one pack's questions."""

    def __init__(self, pack: Pack, content_hash: str | None = None, *, cache: cache_mod.OutcomeCache | None = None,
                 use_cache: bool = True, source: str | None = None):
        self.pack = pack
        self.content_hash = content_hash or cache_mod.content_hash(pack.model_dump_json())
        self.source = source
        self.cache = (cache or cache_mod.OutcomeCache()) if use_cache else None
        self._memory: OrderedDict[str, dict[str, dict]] = OrderedDict()
        self.simulated = 0  # plans this runtime ran on the engine (the rest came from a cache)

    @classmethod
    def from_text(cls, text: str, filename: str = "<pack>", **kw: Any) -> QuizRuntime:
        from sagetutor.packs import PackError, load_text

        result = load_text(text, filename)
        if not result.ok:
            raise PackError(result.problems)
        return cls(result.pack, cache_mod.content_hash(text), source=filename, **kw)

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> QuizRuntime:
        from sagetutor.packs import PackError, load_text

        raw = Path(path).read_bytes()
        result = load_text(raw.decode("utf-8-sig"), str(path))
        if not result.ok:
            raise PackError(result.problems)
        return cls(result.pack, cache_mod.content_hash(raw), source=str(path), **kw)

    # -- questions and variants ----------------------------------------------------------------
    def _find(self, qid: str) -> tuple[Any, CaseStudy | None]:
        for q in self.pack.questions:
            if q.id == qid:
                if isinstance(q, CaseStudy):
                    raise KeyError(f"{qid} is a case study: answer its questions "
                                   f"({', '.join(c.id for c in q.questions)})")
                return q, None
            if isinstance(q, CaseStudy):
                for c in q.questions:
                    if c.id == qid:
                        return c, q
        raise KeyError(f"no question {qid!r} in pack {self.pack.pack.id}")

    def item_ids(self) -> list[str]:
        return [q.id for q in self.pack.items()]

    def default_values(self, qid: str, seed: int) -> dict[str, Any]:
        """The params variant ``seed`` picks for a question (the case study's and its own)."""
        q, case = self._find(qid)
        values: dict[str, Any] = {}
        if case is not None and case.params:
            values.update(P.pick(case.params, seed, case.id))
        if q.params:
            values.update(P.pick(q.params, seed, q.id))
        return values

    def variants(self, qid: str) -> list[dict[str, Any]]:
        """Every params variant of a question (what ``validate --simulate`` runs); ``[{}]`` without params."""
        q, case = self._find(qid)
        merged = dict(case.params) if case is not None and case.params else {}
        merged.update(q.params or {})
        return list(P.all_variants(merged)) if merged else [{}]

    def resolve(self, qid: str, seed: int | None = None, params: Mapping[str, Any] | None = None) -> Resolved:
        """The question as the variant makes it (``params`` given, or picked from ``seed``)."""
        q, case = self._find(qid)
        seed = self.pack.pack.seed if seed is None else int(seed)
        values = dict(params) if params is not None else self.default_values(qid, seed)
        top = case if case is not None else q
        raw = top.raw
        if raw is None or not P.has_params(raw):
            return Resolved(q, case, values)
        from sagetutor.packs.loader import QUESTION

        if case is None:
            data = P.substitute(dict(raw), values)
            model = QUESTION.validate_python(data)
            model._raw = raw
            return Resolved(model, None, values)
        case_names = set(case.params or {})
        case_values = {k: v for k, v in values.items() if k in case_names}
        child_raw = next(c for c in raw["questions"] if isinstance(c, Mapping) and c.get("id") == qid)
        data = P.substitute({k: v for k, v in raw.items() if k != "questions"}, case_values)
        data["questions"] = [P.substitute(dict(child_raw), values)]
        model = QUESTION.validate_python(data)
        model._raw = raw
        return Resolved(model.questions[0], model, values)

    # -- plans -----------------------------------------------------------------------------------
    def plans(self, r: Resolved, keys: Iterable[str] | None = None) -> dict[str, list]:
        """Plan key -> the steps it runs, for the runnable plans of a question (or just ``keys``)."""
        q, case = r.question, r.case
        out: dict[str, list] = {}
        if q.type == "ordering":
            prefix = list(case.run or []) if case else []
            prefix += list(q.run or [])
            items = {o.id: o for o in q.options}
            wanted = list(keys) if keys is not None else [order_key(q.correct_order)]
            for key in wanted:
                order = key[len(ORDER):].split(",") if key.startswith(ORDER) else []
                if not order or any(i not in items for i in order):
                    continue
                out[key] = prefix + [s for i in order for s in (items[i].run or [])]
            return out
        if q.type not in ("single", "multi"):
            return out
        for o in q.options:
            if o.run and (keys is None or o.id in keys):
                out[o.id] = option_plan(q, o.id, case)
        return out

    @staticmethod
    def _comparative(q: Any) -> bool:
        return any(r.comparative for r in q.parsed_requirements)

    def needed(self, r: Resolved, answer: Any) -> list[str]:
        """The plan keys an answer needs: chosen and correct (all options when requirements compare them)."""
        q = r.question
        if q.type == "ordering":
            keys = [order_key(q.correct_order)]
            order = list(answer or [])
            if order and sorted(order) == sorted(q.correct_order):
                keys.insert(0, order_key(order))
            return list(dict.fromkeys(keys))
        if q.type not in ("single", "multi"):
            return []
        runnable = [o.id for o in q.options if o.run]
        if self._comparative(q):
            return runnable
        chosen = [] if answer is None else [answer] if isinstance(answer, str) else list(answer)
        want = set(chosen) | set(q.correct_ids)
        return [k for k in runnable if k in want]

    # -- outcomes --------------------------------------------------------------------------------
    def _key(self, r: Resolved, seed: int) -> tuple[str, dict]:
        return cache_mod.make_key(pack=self.content_hash, question=r.id, params=r.values, seed=seed,
                                  engine=cache_mod.engine_version())

    def outcomes(self, r: Resolved, keys: Iterable[str], seed: int) -> dict[str, dict]:
        """Outcomes of the given plans (from the caches, else simulated and cached)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        key, meta = self._key(r, seed)
        have = self._memory.get(key)
        if have is None:
            have = dict(self.cache.load(key)) if self.cache is not None else {}
        missing = [k for k in keys if k not in have]
        if missing:
            plans = self.plans(r, missing)
            fresh = False
            for k in missing:
                if k not in plans:
                    continue
                result = self._simulate(plans[k], seed)
                self.simulated += 1
                have[k] = result
                fresh = fresh or result.get("kind") != "internal-error"
            if fresh and self.cache is not None:
                self.cache.store(key, meta, {k: v for k, v in have.items() if v.get("kind") != "internal-error"})
        self._memory[key] = have
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)
        return {k: have[k] for k in keys if k in have}

    @staticmethod
    def _simulate(steps: list, seed: int) -> dict:
        try:
            return outcome_mod.simulate(steps, seed)  # JSON-native data: what the cache gives back, as is
        except Exception as e:  # a bug or an engine failure: say so, never a traceback for the learner
            return {"supported": False, "kind": "internal-error", "reason": f"{type(e).__name__}: {e}"}

    def simulate_all(self, qid: str, seed: int | None = None, params: Mapping[str, Any] | None = None
                     ) -> tuple[Resolved, dict[str, dict]]:
        """Every runnable plan of a question (every option with a run; the right order)."""
        seed = self.pack.pack.seed if seed is None else int(seed)
        r = self.resolve(qid, seed, params)
        return r, self.outcomes(r, list(self.plans(r)), seed)

    # -- answers ---------------------------------------------------------------------------------
    def answer(self, qid: str, answer: Any, seed: int | None = None, params: Mapping[str, Any] | None = None
               ) -> dict:
        """Score an answer and show what it does: see the module docstring for the result's shape.

        The result is plain JSON data (``json.dumps(result, sort_keys=True)`` is the same bytes for the
        same pack, question, answer, params and seed in any process); its outcomes are shared with the
        runtime's cache, so treat it as read-only."""
        seed = self.pack.pack.seed if seed is None else int(seed)
        r = self.resolve(qid, seed, params)
        q = r.question
        score = score_question(q, answer)
        keys = self.needed(r, answer)
        outs = self.outcomes(r, keys, seed)
        reqs = q.parsed_requirements
        runs: dict[str, Any] = {}
        chosen = self._chosen(q, answer)
        right = self._right(q)
        for key in keys:
            out = outs.get(key)
            if out is None:
                continue
            report = outcome_mod.requirement_report(reqs, key, outs) if reqs else []
            mets = [x["met"] for x in report]
            runs[key] = {"label": self._label(q, key), "chosen": key in chosen, "correct": key in right,
                         "outcome": out, "requirements": report,
                         "meets_all": None if any(m is None for m in mets) else all(mets)}
        result = {
            "pack": self.pack.pack.id, "question": q.id, "type": q.type, "title": q.title, "seed": seed,
            "params": r.values, "engine": cache_mod.engine_version(),
            "answer": self._normal(answer), "score": score, "correct": score == 1.0,
            "correct_answer": correct_answer(q), "scoring": q.scoring,
            "requirements": [x.text for x in reqs], "runs": runs,
            "feedback": self._feedback(q, answer), "explanation": q.explanation,
            "topics": list(q.topics), "references": list(q.references), "domain": q.domain,
            "notes": [{"topic": t, "file": f"{t}.md", "available": note_path(t) is not None} for t in q.topics],
        }
        return result

    def exam(self, answers: Mapping[str, Any], questions: Sequence[str] | None = None, seed: int | None = None
             ) -> ExamResult:
        """An exam's result: each question scored under its own rule (no simulation needed), the raw
        percentage of the scored items, the estimated scaled score, pass or fail and per-domain results
        (``sagetutor.quiz.scoring.exam_result`` with the pack's blueprint). ``questions`` are the items
        drawn (default: every item); an item missing from ``answers`` is unanswered and scores 0."""
        seed = self.pack.pack.seed if seed is None else int(seed)
        items = []
        for qid in questions if questions is not None else self.item_ids():
            q = self.resolve(qid, seed).question
            score = score_question(q, answers.get(qid)) if qid in answers else 0.0
            items.append(ItemResult(qid, q.domain, score, q.scored))
        return exam_result(items, self.pack.pack.blueprint)

    @staticmethod
    def _normal(answer: Any) -> Any:
        if answer is None or isinstance(answer, str | Mapping):
            return dict(answer) if isinstance(answer, Mapping) else answer
        return list(answer)

    @staticmethod
    def _chosen(q: Any, answer: Any) -> set[str]:
        if q.type == "ordering":
            return {order_key(list(answer))} if answer else set()
        if q.type in ("single", "multi"):
            return set() if answer is None else {answer} if isinstance(answer, str) else set(answer)
        return set()

    @staticmethod
    def _right(q: Any) -> set[str]:
        if q.type == "ordering":
            return {order_key(q.correct_order)}
        if q.type in ("single", "multi"):
            return set(q.correct_ids)
        return set()

    @staticmethod
    def _label(q: Any, key: str) -> str:
        if key.startswith(ORDER):
            texts = {o.id: o.text for o in q.options}
            return " -> ".join(texts.get(i, i) for i in key[len(ORDER):].split(","))
        return next((o.text for o in q.options if o.id == key), key)

    @staticmethod
    def _feedback(q: Any, answer: Any) -> list[dict]:
        if q.type in ("single", "multi"):
            chosen = QuizRuntime._chosen(q, answer)
            return [{"option": o.id, "text": o.feedback, "chosen": o.id in chosen, "correct": o.correct}
                    for o in q.options if o.id in chosen or o.correct]
        if q.type == "ordering":
            given = list(answer or [])
            return [{"option": o.id, "text": o.feedback, "position": o.position,
                     "placed": given.index(o.id) + 1 if o.id in given else None} for o in q.options]
        given = dict(answer or {})
        texts = {o.id: o.feedback for o in q.options}
        return [{"prompt": p.id, "answer": p.answer, "given": given.get(p.id),
                 "text": p.feedback or texts.get(p.answer, "")} for p in q.prompts]


# -- checking an answer key on the engine (validate --simulate) -------------------------------------


@dataclass
class KeyProblem:
    """The simulator disagrees with the answer key (or could not check it)."""

    question: str
    option: str | None  # option id, or an order key; None for the question
    message: str
    warning: bool = False  # could not be checked (a plan the engine cannot run yet)


def check_answer_key(rt: QuizRuntime, qid: str, seeds: Sequence[int]) -> list[KeyProblem]:
    """For every params variant at every seed: the correct option meets every requirement and no wrong
    option meets them all (the right order, for an ordering question)."""
    found: dict[tuple, tuple[KeyProblem, list[str]]] = {}

    def add(option: str | None, kind: str, message: str, where: str, warning: bool = False,
            group: str | None = None) -> None:
        k = (option, kind, group if group is not None else message)
        if k not in found:
            found[k] = (KeyProblem(qid, option, message, warning), [])
        found[k][1].append(where)

    for values in rt.variants(qid):
        for seed in seeds:
            r, outs = rt.simulate_all(qid, seed, values)
            q = r.question
            reqs = q.parsed_requirements
            where = f"seed {seed}" + ("" if not values else ", " + ", ".join(f"{k}={v!r}" for k, v in values.items()))
            for key, out in outs.items():
                if not out.get("supported", True):
                    if out.get("kind") == "internal-error":
                        add(key, "error", f"the plan failed to run: {out.get('reason')}", where)
                    else:
                        add(key, "unsupported", f"not simulated: {out.get('reason')}", where, warning=True)
            if not reqs:
                continue
            right = QuizRuntime._right(q)
            for key in outs:
                report = outcome_mod.requirement_report(reqs, key, outs)
                mets = [x["met"] for x in report]
                if any(m is None for m in mets):
                    continue
                label = "the right order" if key.startswith(ORDER) else f"option {key}"
                if key in right:
                    for x in report:
                        if not x["met"]:
                            shown = ", ".join(f"{n} = {_show(v, n)}" for n, v in x["values"].items())
                            among = x.get("among")
                            if among:
                                best = ", ".join(f"{o}: {_show(v, n)}" for o, vs in among.items()
                                                 for n, v in vs.items())
                                shown += f"; among the options that meet the rest: {best}"
                            add(key, "fails", f"{label} is marked correct but does not meet requirement "
                                              f"'{x['requirement']}'" + (f" ({shown})" if shown else ""), where,
                                group=x["requirement"])
                elif all(mets):
                    add(key, "meets", f"{label} is marked wrong but meets every requirement, so the simulator "
                                      "cannot tell it from the answer: add a requirement it fails or fix the answer "
                                      "key", where)
    out = []
    for problem, wheres in found.values():
        more = len(wheres) - 1
        problem.message += f" (at {wheres[0]}" + (f" and {more} more run{'s' if more > 1 else ''}" if more else "") + ")"
        out.append(problem)
    return out


def _show(value: Any, fact: str | None = None) -> str:
    """A fact's value as a learner reads it: $0.0207, 1h 02min, 4.5ms, 75.0%."""
    from sagetutor.packs.requirements import FACTS, Kind

    kind = FACTS[fact].kind if fact in FACTS else None
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and kind == Kind.MONEY:
        return f"${value:,.4f}"
    if isinstance(value, int | float) and kind == Kind.DURATION:
        v = float(value)
        if v < 1:
            return f"{v * 1000:.1f}ms"
        if v < 60:
            return f"{v:.1f}s"
        if v < 3600:
            return f"{int(v // 60)}min {int(v % 60):02d}s"
        return f"{int(v // 3600)}h {int(v % 3600 // 60):02d}min"
    if isinstance(value, int | float) and kind == Kind.FRACTION:
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if not isinstance(value, str) else f'"{value}"'
