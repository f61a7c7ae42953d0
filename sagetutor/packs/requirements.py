"""The requirement language: a question's constraints as checkable facts over run outcomes.

A requirement is one line, such as::

    cost.total <= $5
    time.total < 6h
    latency.p95 < 100ms
    metric["validation:auc"] >= 0.95
    survived_interruption
    not access_denied
    status == "Completed"
    cost.total is minimal

Grammar (whitespace is free; keywords are lower case)::

    requirement := or
    or          := and ("or" and)*
    and         := unary ("and" unary)*
    unary       := "not" unary | "(" or ")" | test
    test        := value [ op value ] | fact "is" ("minimal" | "maximal")
    op          := "<" | "<=" | ">" | ">=" | "==" | "!="
    value       := fact | number [unit] | "$" number | string | "true" | "false"
    fact        := name ("." name)* | "metric" "[" string "]"
    unit        := "ms" | "s" | "min" | "h" | "d" | "%"

Facts have a kind (money, duration, fraction, count, number, yes/no, text) and the parser
checks that each comparison makes sense: a duration is compared with a duration written
with its unit (``6h``, never a bare ``6``), money with dollars (``$5`` or ``5.00``), a
fraction with ``95%`` or ``0.95``, text only with ``==``/``!=``.

``fact is minimal`` (or ``maximal``) compares options: it holds for an option whose value
is the smallest among the options that meet the question's other requirements (see
``check``), which is what "the MOST cost-effective solution that meets the requirements"
means on the exam.

In an outcome dict every duration is in seconds, money in dollars, fractions 0-1; facts are
looked up as a flat key (``{"cost.total": 1.2}``) or nested (``{"cost": {"total": 1.2}}``);
``metric["x"]`` reads ``outcome["metric"]["x"]``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sagetutor.packs.units import DURATION_UNITS, UNIT_HINTS, number


class Kind(StrEnum):
    MONEY = "money"
    DURATION = "duration"
    FRACTION = "fraction"
    COUNT = "count"
    NUMBER = "number"
    BOOL = "yes/no"
    TEXT = "text"


@dataclass(frozen=True)
class FactInfo:
    name: str
    kind: Kind
    description: str


def _facts(kind: Kind, **described: str) -> dict[str, FactInfo]:
    return {name.replace("__", "."): FactInfo(name.replace("__", "."), kind, d) for name, d in described.items()}


#: Every fact a requirement may name, with its kind and what it means.
FACTS: dict[str, FactInfo] = {
    **_facts(Kind.MONEY,
             cost__total="the whole bill of the plan, in dollars",
             cost__training="training jobs (Spot discount applied)",
             cost__tuning="the training jobs of hyperparameter tuning",
             cost__hosting="real-time, serverless and asynchronous endpoints",
             cost__transform="batch transform jobs",
             cost__labeling="Ground Truth labeling (per object and workforce)",
             cost__notebook="notebook instances",
             cost__studio="Studio apps",
             cost__monitoring="Model Monitor schedules and baselining",
             cost__network="NAT gateways, VPC endpoints, data transfer",
             cost__storage="S3, ECR and ML storage volumes",
             cost__encryption="KMS keys and requests (customer managed keys by the month; requests, including "
                              "those S3 makes for SSE-KMS objects)",
             cost__orchestration="Step Functions transitions and pipelines"),
    **_facts(Kind.DURATION,
             time__total="virtual time from the plan's first step until its work is done",
             time__training="a training job's TrainingTimeInSeconds (waits for capacity included)",
             time__tuning="the tuning job, start to end",
             time__transform="the batch transform job, start to end",
             time__labeling="the labeling job, start to end",
             time__deploy="CreateEndpoint to InService",
             latency__p50="median model latency of the requests sent",
             latency__p95="95th percentile latency",
             latency__p99="99th percentile latency",
             latency__max="slowest request",
             latency__mean="mean latency"),
    **_facts(Kind.COUNT,
             requests__sent="requests sent to endpoints (invoke and traffic steps)",
             requests__answered="requests answered with a prediction",
             requests__errors="requests that failed (throttled, timed out, errors)",
             spot__interruptions="Spot reclaims the training jobs went through",
             instances__max="the most endpoint instances in service at once",
             denials="API calls denied by IAM",
             network__blocked="transfers to AWS services that found no network path (a job, notebook, Studio app "
                              "or caller that could not reach S3 or an AWS API)"),
    **_facts(Kind.FRACTION,
             requests__error_rate="failed requests / requests sent",
             spot__savings="1 - BillableTimeInSeconds / TrainingTimeInSeconds",
             labeling__automated="share of the objects labeled by automated data labeling"),
    **_facts(Kind.BOOL,
             completed="every job of the plan ended Completed (endpoints InService)",
             survived_interruption="a Spot reclaim happened and the job still completed",
             resumed_from_checkpoint="an attempt after a reclaim resumed from an S3 checkpoint",
             no_public_network_path="no transfer of the plan took a public path (SageMaker's internet-connected "
                                    "network, an internet gateway or a NAT gateway); see docs/security.md",
             encrypted_with_customer_managed_key="every volume and every object the plan's jobs wrote is encrypted "
                                                "with a customer managed KMS key",
             encrypted_in_transit="inter-container traffic encryption on every distributed job",
             network_isolation="containers run with network isolation",
             access_denied="some API call of the plan was denied by IAM",
             drift_detected="Model Monitor reported a violation",
             autoscaled="the endpoint scaled out at least once"),
    **_facts(Kind.TEXT,
             status="final status of the plan's last job or endpoint (e.g. Completed, Failed, InService)",
             error="error code of the first API call that failed, or \"\" when none did"),
}
METRIC = "metric"

_KIND_WORDS = {Kind.MONEY: "money", Kind.DURATION: "a duration", Kind.FRACTION: "a fraction",
                        Kind.COUNT: "a count", Kind.NUMBER: "a number", Kind.BOOL: "yes/no",
                        Kind.TEXT: "text"}


class RequirementError(ValueError):
    """A requirement that does not parse or does not type-check; ``column`` is 1-based."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


class MissingFact(KeyError):
    """The outcome has no value for a fact the requirement needs."""


# -- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    name: str
    key: str | None = None  # metric["key"]
    column: int = 1

    @property
    def kind(self) -> Kind:
        return Kind.NUMBER if self.name == METRIC else FACTS[self.name].kind

    def __str__(self) -> str:
        return f'{self.name}["{self.key}"]' if self.key is not None else self.name


@dataclass(frozen=True)
class Literal:
    value: object
    kind: Kind | None  # None: a bare number (its kind comes from the fact it meets)
    text: str
    column: int = 1


@dataclass(frozen=True)
class Compare:
    op: str
    left: Fact | Literal
    right: Fact | Literal


@dataclass(frozen=True)
class Extreme:
    fact: Fact
    which: str  # "minimal" | "maximal"


@dataclass(frozen=True)
class Truth:
    fact: Fact


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | Extreme | Truth | Not | And | Or


@dataclass(frozen=True)
class Requirement:
    """A parsed, type-checked requirement."""

    text: str
    root: Node
    facts: frozenset[str] = field(default_factory=frozenset)

    @property
    def comparative(self) -> bool:
        """True when it compares options (``is minimal`` / ``is maximal``)."""
        return _has_extreme(self.root)

    def __str__(self) -> str:
        return self.text


def _has_extreme(node: Node) -> bool:
    if isinstance(node, Extreme):
        return True
    if isinstance(node, Not):
        return _has_extreme(node.item)
    if isinstance(node, And | Or):
        return any(_has_extreme(i) for i in node.items)
    return False


# -- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<money>\$\s*[0-9][0-9_]*(?:\.[0-9_]+)?)
  | (?P<num>[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<punct>[()\[\]%])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)

KEYWORDS = {"and", "or", "not", "is", "minimal", "maximal", "true", "false"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    col: int  # 1-based


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = " (placeholders are filled in from params before checking)" if ch == "$" else ""
            raise RequirementError(f"unexpected character '{ch}'{hint}", pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at_word(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == word

    def describe(self, t: _Tok) -> str:
        return "the end" if t.kind == "end" else f"'{t.text}'"

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise RequirementError("empty requirement: write a fact, e.g. cost.total <= $5", 1)
        node = self.or_()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "op":
                raise RequirementError("one comparison at a time: join them with 'and'", t.col)
            raise RequirementError(f"expected 'and', 'or' or the end, found {self.describe(t)}", t.col)
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.at_word("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.at_word("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        if self.at_word("not"):
            self.take()
            return Not(self.unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            open_ = self.take()
            node = self.or_()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise RequirementError(f"'(' at column {open_.col} is never closed", self.tok.col)
            self.take()
            return node
        return self.test()

    def test(self) -> Node:
        left = self.value()
        if self.at_word("is"):
            is_tok = self.take()
            if not isinstance(left, Fact):
                raise RequirementError("'is minimal' needs a fact on its left", is_tok.col)
            t = self.take()
            if t.kind == "name" and t.text in ("minimal", "maximal"):
                if left.kind not in (Kind.MONEY, Kind.DURATION, Kind.FRACTION, Kind.COUNT, Kind.NUMBER):
                    raise RequirementError(f"{left} is {_KIND_WORDS[left.kind]}; only numbers can be "
                                           f"minimal or maximal", left.column)
                return Extreme(left, t.text)
            raise RequirementError(f"expected 'minimal' or 'maximal' after 'is', found {self.describe(t)}"
                                   f"{_suggest(t.text, ['minimal', 'maximal'])}", t.col)
        if self.tok.kind == "op":
            op_tok = self.take()
            if op_tok.text == "=":
                raise RequirementError("use '==' to compare, not '='", op_tok.col)
            if self.tok.kind == "end":
                raise RequirementError(f"expected a value after '{op_tok.text}'", self.tok.col)
            right = self.value()
            return _check_compare(op_tok, left, right)
        if isinstance(left, Literal):
            raise RequirementError(f"{left.text} alone is not a requirement: compare a fact with it, "
                                   f"e.g. cost.total <= $5", left.column)
        if left.kind != Kind.BOOL:
            raise RequirementError(f"{left} is {_KIND_WORDS[left.kind]}: compare it "
                                   f"({_example(left)})", left.column)
        return Truth(left)

    def value(self) -> Fact | Literal:
        t = self.take()
        if t.kind == "money":
            return Literal(number(t.text[1:].strip()), Kind.MONEY, t.text, t.col)
        if t.kind == "num":
            value = number(t.text)
            nxt = self.tok
            if nxt.kind == "punct" and nxt.text == "%":
                self.take()
                return Literal(value / 100.0, Kind.FRACTION, t.text + "%", t.col)
            if nxt.kind == "name" and nxt.text not in KEYWORDS:
                if nxt.text in DURATION_UNITS:
                    self.take()
                    return Literal(value * DURATION_UNITS[nxt.text], Kind.DURATION, t.text + nxt.text, t.col)
                if nxt.text in UNIT_HINTS or nxt.col == t.col + len(t.text):
                    hint = UNIT_HINTS.get(nxt.text)
                    fix = f": write '{hint}'" if hint else ""
                    raise RequirementError(f"unknown unit '{nxt.text}'{fix} (units: ms, s, min, h, d, %, "
                                           f"and $ before money)", nxt.col)
            return Literal(value, None, t.text, t.col)
        if t.kind == "str":
            body = t.text[1:-1].encode().decode("unicode_escape") if "\\" in t.text else t.text[1:-1]
            return Literal(body, Kind.TEXT, t.text, t.col)
        if t.kind == "name":
            if t.text in ("true", "false"):
                return Literal(t.text == "true", Kind.BOOL, t.text, t.col)
            if t.text in KEYWORDS:
                raise RequirementError(f"expected a fact or a value, found the keyword '{t.text}'", t.col)
            if t.text == METRIC:
                return self.metric(t)
            if t.text not in FACTS:
                if t.text.startswith("metric."):
                    raise RequirementError(f'write metric["{t.text[7:]}"] for a training metric', t.col)
                raise RequirementError(f"unknown fact '{t.text}'{_suggest(t.text, [*FACTS, METRIC])}", t.col)
            return Fact(t.text, None, t.col)
        if t.kind == "end":
            raise RequirementError("the requirement ends too early: expected a fact or a value", t.col)
        raise RequirementError(f"expected a fact or a value, found {self.describe(t)}", t.col)

    def metric(self, t: _Tok) -> Fact:
        if not (self.tok.kind == "punct" and self.tok.text == "["):
            raise RequirementError('metric needs a name: metric["validation:auc"]', self.tok.col)
        self.take()
        key = self.take()
        if key.kind != "str":
            raise RequirementError('the metric name is a quoted string: metric["validation:auc"]', key.col)
        if not (self.tok.kind == "punct" and self.tok.text == "]"):
            raise RequirementError("expected ']' after the metric name", self.tok.col)
        self.take()
        return Fact(METRIC, key.text[1:-1], t.col)


def _example(fact: Fact) -> str:
    return {Kind.MONEY: f"{fact} <= $5", Kind.DURATION: f"{fact} < 6h", Kind.FRACTION: f"{fact} >= 50%",
            Kind.COUNT: f"{fact} == 0", Kind.NUMBER: f"{fact} >= 0.9",
            Kind.TEXT: f'{fact} == "Completed"'}.get(fact.kind, str(fact))


def _check_compare(op_tok: _Tok, left: Fact | Literal, right: Fact | Literal) -> Compare:
    op = op_tok.text
    if isinstance(left, Literal) and isinstance(right, Literal):
        raise RequirementError("this compares two constants; one side must be a fact", left.column)
    fact = left if isinstance(left, Fact) else right
    other = right if fact is left else left
    kind = fact.kind
    if kind in (Kind.TEXT, Kind.BOOL) and op not in ("==", "!="):
        raise RequirementError(f"{fact} is {_KIND_WORDS[kind]}: compare it with == or !=", op_tok.col)
    if isinstance(other, Fact):
        if other.kind != kind:
            raise RequirementError(f"{fact} is {_KIND_WORDS[kind]} but {other} is "
                                   f"{_KIND_WORDS[other.kind]}", other.column)
        return Compare(op, left, right)
    lit = other
    if kind == Kind.DURATION:
        if lit.kind is None:
            raise RequirementError(f"{fact} is a duration: give the unit, e.g. {lit.text}s, {lit.text}min "
                                   f"or {lit.text}h", lit.column)
        if lit.kind != Kind.DURATION:
            raise RequirementError(f"{fact} is a duration, but {lit.text} is {_KIND_WORDS[lit.kind]}",
                                   lit.column)
    elif kind == Kind.MONEY:
        if lit.kind not in (None, Kind.MONEY):
            raise RequirementError(f"{fact} is money (dollars), but {lit.text} is "
                                   f"{_KIND_WORDS[lit.kind]}", lit.column)
    elif kind == Kind.FRACTION:
        if lit.kind not in (None, Kind.FRACTION):
            raise RequirementError(f"{fact} is a fraction, but {lit.text} is {_KIND_WORDS[lit.kind]}",
                                   lit.column)
        if lit.kind is None and not 0 <= float(lit.value) <= 1:  # type: ignore[arg-type]
            raise RequirementError(f"{fact} is a fraction from 0 to 1: write {lit.text}% or "
                                   f"{float(lit.value) / 100:g}", lit.column)  # type: ignore[arg-type]
    elif kind in (Kind.COUNT, Kind.NUMBER):
        if lit.kind is not None:
            raise RequirementError(f"{fact} is {_KIND_WORDS[kind]}: write a plain number, not "
                                   f"{lit.text}", lit.column)
    elif kind == Kind.TEXT:
        if lit.kind != Kind.TEXT:
            raise RequirementError(f'{fact} is text: quote the value, e.g. {fact} == "Completed"', lit.column)
    elif kind == Kind.BOOL:
        if lit.kind != Kind.BOOL:
            raise RequirementError(f"{fact} is yes/no: compare it with true or false (or write just "
                                   f"'{fact}' or 'not {fact}')", lit.column)
    return Compare(op, left, right)


def _collect(node: Node, out: set[str]) -> None:
    if isinstance(node, Compare):
        for side in (node.left, node.right):
            if isinstance(side, Fact):
                out.add(str(side))
    elif isinstance(node, Extreme | Truth):
        out.add(str(node.fact))
    elif isinstance(node, Not):
        _collect(node.item, out)
    elif isinstance(node, And | Or):
        for i in node.items:
            _collect(i, out)


def parse(text: str) -> Requirement:
    """Parse and type-check one requirement; raises ``RequirementError`` with a 1-based column."""
    if not isinstance(text, str):
        raise RequirementError("a requirement is a line of text, e.g. cost.total <= $5", 1)
    root = _Parser(text).parse()
    facts: set[str] = set()
    _collect(root, facts)
    return Requirement(text, root, frozenset(facts))


# -- evaluation --------------------------------------------------------------------------------


def lookup(outcome: Mapping, fact: Fact) -> object:
    """The fact's value in an outcome; ``MissingFact`` when the outcome has none."""
    if fact.name == METRIC:
        for key in ("metric", "metrics"):
            metrics = outcome.get(key)
            if isinstance(metrics, Mapping) and fact.key in metrics:
                return metrics[fact.key]
        raise MissingFact(str(fact))
    if fact.name in outcome:
        return outcome[fact.name]
    node: object = outcome
    for part in fact.name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise MissingFact(str(fact))
        node = node[part]
    return node


def _value(side: Fact | Literal, outcome: Mapping) -> object:
    return lookup(outcome, side) if isinstance(side, Fact) else side.value


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _eval(node: Node, outcome: Mapping, others: Sequence[Mapping]) -> bool:
    if isinstance(node, Truth):
        return bool(lookup(outcome, node.fact))
    if isinstance(node, Not):
        return not _eval(node.item, outcome, others)
    if isinstance(node, And):
        return all(_eval(i, outcome, others) for i in node.items)
    if isinstance(node, Or):
        return any(_eval(i, outcome, others) for i in node.items)
    if isinstance(node, Compare):
        a, b = _value(node.left, outcome), _value(node.right, outcome)
        if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
            a, b = float(a), float(b)
            if node.op in ("==", "!=", "<=", ">="):
                if _close(a, b):
                    return node.op in ("==", "<=", ">=")
        return bool(_OPS[node.op](a, b))
    if isinstance(node, Extreme):
        mine = float(lookup(outcome, node.fact))  # type: ignore[arg-type]
        values = []
        for other in others:
            try:
                values.append(float(lookup(other, node.fact)))  # type: ignore[arg-type]
            except MissingFact:
                continue
        if node.which == "minimal":
            return all(mine < v or _close(mine, v) for v in values)
        return all(mine > v or _close(mine, v) for v in values)
    raise TypeError(f"not a requirement node: {node!r}")


def evaluate(requirement: Requirement | str, outcome: Mapping, all_outcomes: Mapping[str, Mapping] | None = None
             ) -> bool:
    """Whether ``outcome`` meets ``requirement``.

    ``all_outcomes`` (option id -> outcome) is what ``is minimal``/``is maximal`` compares
    against; outcomes lacking the fact are left out of the comparison. Raises ``MissingFact``
    when ``outcome`` itself lacks a fact the requirement names.
    """
    req = parse(requirement) if isinstance(requirement, str) else requirement
    return _eval(req.root, outcome, list((all_outcomes or {}).values()))


def check(requirements: Sequence[Requirement | str], option: str, all_outcomes: Mapping[str, Mapping]
          ) -> list[bool]:
    """Each requirement met or not by ``option``'s outcome, as the quiz reports them.

    Plain requirements are evaluated on the option's own outcome (a missing fact counts as
    not met). A comparative one (``cost.total is minimal``) holds when the option meets every
    plain requirement and its value is the extreme among the options that also meet them all.
    """
    reqs = [parse(r) if isinstance(r, str) else r for r in requirements]
    plain = [r for r in reqs if not r.comparative]

    def meets_plain(outcome: Mapping) -> bool:
        try:
            return all(_eval(r.root, outcome, ()) for r in plain)
        except MissingFact:
            return False

    qualifying = {k: o for k, o in all_outcomes.items() if meets_plain(o)}
    mine = all_outcomes[option]
    result = []
    for r in reqs:
        try:
            if r.comparative:
                result.append(option in qualifying and _eval(r.root, mine, list(qualifying.values())))
            else:
                result.append(_eval(r.root, mine, ()))
        except MissingFact:
            result.append(False)
    return result


def grammar_description() -> str:
    """A paragraph for the JSON Schema and the docs: the grammar in brief and every fact."""
    by_kind: dict[Kind, list[str]] = {}
    for f in FACTS.values():
        by_kind.setdefault(f.kind, []).append(f.name)
    kinds = "; ".join(f"{_KIND_WORDS[k]}: {', '.join(v)}" for k, v in by_kind.items())
    return ("A requirement: a fact compared with a value (cost.total <= $5, time.total < 6h, latency.p95 < "
            "100ms, metric[\"validation:auc\"] >= 0.95, spot.savings >= 50%, status == \"Completed\"), a yes/no "
            "fact alone (survived_interruption), 'fact is minimal|maximal' (compares the options), joined with "
            "and / or / not and parentheses. Units: ms, s, min, h, d, %, $ before money. Facts by kind - "
            f"{kinds}; and metric[\"name\"] (a number).")
