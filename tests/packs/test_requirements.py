"""The requirement language: parse, type-check, evaluate."""

from __future__ import annotations

import pytest

from sagetutor.packs.requirements import FACTS, MissingFact, RequirementError, check, evaluate, parse

OUTCOME = {
    "cost": {"total": 1.25, "training": 0.75, "hosting": 0.5},
    "time": {"total": 5 * 3600.0},
    "latency": {"p95": 0.080},
    "metric": {"validation:auc": 0.96},
    "spot": {"savings": 0.62, "interruptions": 1},
    "survived_interruption": True,
    "no_public_network_path": False,
    "encrypted_with_customer_managed_key": True,
    "status": "Completed",
    "error": "",
    "requests.sent": 100,
}


@pytest.mark.parametrize("text,met", [
    ("cost.total <= 5.00", True),
    ("cost.total <= $1", False),
    ("cost.total == $1.25", True),
    ("time.total < 6h", True),
    ("time.total < 300min", False),
    ("time.total <= 18000 s", True),
    ("latency.p95 < 100ms", True),
    ("latency.p95 < 0.05s", False),
    ('metric["validation:auc"] >= 0.95', True),
    ("spot.savings >= 60%", True),
    ("spot.savings >= 0.7", False),
    ("spot.interruptions == 1", True),
    ("requests.sent > 99", True),
    ("survived_interruption", True),
    ("not no_public_network_path", True),
    ("no_public_network_path == false", True),
    ("encrypted_with_customer_managed_key and survived_interruption", True),
    ("no_public_network_path or cost.total < $2", True),
    ("not (survived_interruption and cost.total < $1)", True),
    ('status == "Completed"', True),
    ("status != 'Failed'", True),
    ('error == ""', True),
    ("cost.training > cost.hosting", True),
])
def test_evaluate(text, met):
    assert evaluate(text, OUTCOME) is met


@pytest.mark.parametrize("text,column,message", [
    ("", 1, "empty requirement"),
    ("cost.total <=", 14, "expected a value after '<='"),
    ("cost.totl <= $5", 1, "unknown fact 'cost.totl' (did you mean 'cost.total'?)"),
    ("time.total < 6", 14, "give the unit, e.g. 6s, 6min or 6h"),
    ("time.total < 6 hours", 16, "unknown unit 'hours': write 'h'"),
    ("time.total < 6m", 15, "unknown unit 'm': write 'min'"),
    ("cost.total <= 6h", 15, "cost.total is money (dollars), but 6h is a duration"),
    ("latency.p95 < $1", 15, "is a duration, but $1 is money"),
    ("spot.savings >= 60", 17, "write 60% or 0.6"),
    ("requests.sent > 5%", 17, "write a plain number"),
    ("status == Completed", 11, "unknown fact 'Completed'"),
    ("status < \"Completed\"", 8, "compare it with == or !="),
    ("status", 1, "status is text: compare it"),
    ("cost.total", 1, "cost.total is money: compare it (cost.total <= $5)"),
    ("5 < 6", 1, "compares two constants"),
    ("cost.total = $5", 12, "use '==' to compare, not '='"),
    ("cost.total < $5 < $6", 17, "one comparison at a time"),
    ("survived_interruption is minimal", 1, "only numbers can be minimal"),
    ("cost.total is cheapest", 15, "expected 'minimal' or 'maximal'"),
    ("(cost.total < $5", 17, "'(' at column 1 is never closed"),
    ("metric.auc > 0.9", 1, 'write metric["auc"]'),
    ("metric[auc] > 0.9", 8, "quoted string"),
    ("cost.total < $5 and", 20, "ends too early"),
    ("cost.total & 5", 12, "unexpected character '&'"),
    ("time.total < cost.total", 14, "time.total is a duration but cost.total is money"),
    ("survived_interruption == 1", 26, "compare it with true or false"),
])
def test_parse_errors_have_a_column(text, column, message):
    with pytest.raises(RequirementError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.column == column
    assert str(info.value).startswith(f"column {column}: ")


def test_parse_reports_facts_and_comparative():
    r = parse('cost.total is minimal and metric["validation:auc"] >= 0.9')
    assert r.comparative and r.facts == {"cost.total", 'metric["validation:auc"]'}
    assert not parse("time.total < 1d").comparative


def test_missing_fact_raises():
    with pytest.raises(MissingFact):
        evaluate("latency.p99 < 1s", OUTCOME)
    assert evaluate("cost.total < $5", {"cost.total": 4.0})  # flat keys work too


def test_is_minimal_compares_options():
    outcomes = {"a": {"cost": {"total": 2.0}}, "b": {"cost": {"total": 1.0}}, "c": {"cost": {"total": 1.0}}}
    assert not evaluate("cost.total is minimal", outcomes["a"], outcomes)
    assert evaluate("cost.total is minimal", outcomes["b"], outcomes)  # ties both hold
    assert evaluate("cost.total is minimal", outcomes["c"], outcomes)
    assert evaluate("cost.total is maximal", outcomes["a"], outcomes)


def test_check_picks_the_cheapest_option_that_meets_the_rest():
    """The cheapest option fails the deadline, so 'minimal' goes to the cheapest that meets it."""
    outcomes = {
        "endpoint": {"cost": {"total": 9.0}, "time": {"total": 600.0}},
        "transform": {"cost": {"total": 0.3}, "time": {"total": 1200.0}},
        "notebook-by-hand": {"cost": {"total": 0.1}, "time": {"total": 30000.0}},
        "broken": {"cost": {"total": 0.0}},  # failed before it produced a time
    }
    reqs = ["time.total < 6h", "cost.total is minimal"]
    assert check(reqs, "transform", outcomes) == [True, True]
    assert check(reqs, "endpoint", outcomes) == [True, False]
    assert check(reqs, "notebook-by-hand", outcomes) == [False, False]
    assert check(reqs, "broken", outcomes) == [False, False]


def test_every_fact_has_a_kind_and_description():
    for name, info in FACTS.items():
        assert info.name == name and info.description
        parse(name if info.kind.value == "yes/no" else f"{name} != {_sample(info.kind.value)}")


def _sample(kind):
    return {"money": "$1", "duration": "1s", "fraction": "50%", "count": "1", "number": "1",
            "text": '"x"'}[kind]
