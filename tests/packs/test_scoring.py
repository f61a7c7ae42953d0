"""Scoring rules on worked examples, and the estimated scaled score."""

from __future__ import annotations

import pytest

from sagetutor.quiz.scoring import (
    ItemResult,
    exam_result,
    scaled_estimate,
    score_choices,
    score_order,
    score_question,
    score_slots,
)

OPTIONS = ["a", "b", "c", "d", "e", "f"]
CORRECT = ["a", "b", "d"]


@pytest.mark.parametrize("selected,aon,net,cov,each", [
    # PrairieLearn's pl-checkbox formulas, 6 options, 3 correct (a, b, d)
    (["a", "b", "d"], 1, 1, 1, 1),
    (["a", "b", "c"], 0, 1 / 3, (2 / 3) * (2 / 3), 1 - 2 / 6),
    (["a", "b", "d", "e"], 0, 2 / 3, 1 * (3 / 4), 1 - 1 / 6),
    (["a"], 0, 1 / 3, 1 / 3, 1 - 2 / 6),
    (["c", "e"], 0, 0, 0, 1 / 6),
    (OPTIONS, 0, 0, 0.5, 0.5),
    ([], 0, 0, 0, 0),  # unanswered is wrong under every rule
])
def test_multiple_response_rules(selected, aon, net, cov, each):
    assert score_choices(selected, CORRECT, OPTIONS, "all_or_nothing") == aon
    assert score_choices(selected, CORRECT, OPTIONS, "net_correct") == pytest.approx(net)
    assert score_choices(selected, CORRECT, OPTIONS, "coverage") == pytest.approx(cov)
    assert score_choices(selected, CORRECT, OPTIONS, "each_answer") == pytest.approx(each)


def test_bad_answers_are_errors():
    with pytest.raises(ValueError, match="not options"):
        score_choices(["z"], CORRECT, OPTIONS)
    with pytest.raises(ValueError, match="unknown scoring rule"):
        score_choices(["a"], CORRECT, OPTIONS, "half")
    with pytest.raises(ValueError, match="twice"):
        score_order(["a", "a"], ["a", "b", "c"])


def test_ordering_partial_credit_per_position():
    right = ["model", "config", "endpoint", "invoke"]
    swapped = ["config", "model", "endpoint", "invoke"]  # two in place, two out
    assert score_order(right, right, "all_or_nothing") == 1
    assert score_order(swapped, right, "all_or_nothing") == 0
    assert score_order(swapped, right, "each_answer") == 0.5
    assert score_order(swapped, right, "net_correct") == 0
    assert score_order(swapped, right, "coverage") == 0.25
    rotated = ["invoke", "model", "config", "endpoint"]
    assert score_order(rotated, right, "each_answer") == 0
    assert score_order(["model", "config"], right, "each_answer") == 0.5  # two placed, two left empty
    assert score_order(["model", "config"], right, "coverage") == 0.5 * 1.0


def test_matching_partial_credit_per_prompt():
    key = {"fraud": "rcf", "churn": "xgboost", "segments": "kmeans", "demand": "deepar"}
    given = {"fraud": "rcf", "churn": "xgboost", "segments": "deepar"}  # demand left empty
    assert score_slots(given, key, "all_or_nothing") == 0
    assert score_slots(given, key, "each_answer") == 0.5
    assert score_slots(given, key, "net_correct") == 0.25
    assert score_slots(given, key, "coverage") == pytest.approx((2 / 4) * (2 / 3))
    assert score_slots(key, key, "net_correct") == 1
    assert score_slots({}, key, "each_answer") == 0


def test_score_question_follows_each_question_rule(starter):
    single = starter.question("nightly-scoring")
    assert score_question(single, "transform") == 1 and score_question(single, "endpoint") == 0
    assert score_question(single, None) == 0 and score_question(single, ["transform"]) == 1
    multi = starter.question("spot-with-checkpoints")  # all or nothing, as AWS
    assert score_question(multi, {"spot", "checkpoints"}) == 1
    assert score_question(multi, ["spot", "bigger"]) == 0
    ordering = starter.question("deployment-steps")  # scoring: each_answer
    assert score_question(ordering, ["config", "model", "endpoint", "invoke"]) == 0.5
    matching = starter.question("pick-an-algorithm")
    assert score_question(matching, {"fraud": "rcf", "churn": "xgboost", "segments": "kmeans",
                                     "demand": "deepar"}) == 1
    assert score_question(matching, {"fraud": "rcf"}) == 0
    with pytest.raises(ValueError, match="case study"):
        score_question(starter.question("clinic"), "x")
    with pytest.raises(ValueError, match="not an option"):
        score_question(single, "nope")


def test_multi_partial_rule_from_the_pack(variants_pack):
    q = variants_pack.question("everything")  # scoring: coverage, a and b correct of five
    assert score_question(q, ["a", "c"]) == pytest.approx((1 / 2) * (1 / 2))


@pytest.mark.parametrize("percent,scaled", [
    (0, 100), (72, 720), (100, 1000), (36, 410), (86, 860), (90, 900), (50, 531), (71.9, 719), (-5, 100), (120, 1000),
])
def test_scaled_estimate_is_piecewise_linear(percent, scaled):
    assert scaled_estimate(percent) == scaled


def test_scaled_estimate_with_another_pass_point():
    assert scaled_estimate(75, pass_percent=75, pass_mark=750) == 750
    assert scaled_estimate(0, 75, 750) == 100 and scaled_estimate(100, 75, 750) == 1000
    assert scaled_estimate(87.5, 75, 750) == 875
    with pytest.raises(ValueError):
        scaled_estimate(50, pass_percent=100)


def test_exam_result_by_domain(starter):
    items = [
        ItemResult("s1", "secure", 1.0), ItemResult("s2", "secure", 0.0), ItemResult("s3", "secure", 1.0),
        ItemResult("r1", "resilient", 1.0), ItemResult("p1", "performance", 0.5),
        ItemResult("c1", "cost", 1.0), ItemResult("c2", "cost", 1.0),
        ItemResult("pilot", "cost", 0.0, scored=False),
    ]
    result = exam_result(items, starter.pack.blueprint)
    assert result.scored_items == 7 and result.unscored_items == 1
    assert result.raw_percent == pytest.approx(100 * 5.5 / 7)
    assert result.scaled == scaled_estimate(100 * 5.5 / 7) == 786 and result.passed
    assert result.label == "estimated scaled score"
    assert [d.domain for d in result.domains] == ["secure", "resilient", "performance", "cost"]
    assert result.domain("secure").percent == pytest.approx(200 / 3)
    assert result.domain("cost").items == 2  # the pilot item does not count
    failing = exam_result([ItemResult("x", None, 0.0)], pass_percent=72, pass_mark=720)
    assert not failing.passed and failing.scaled == 100 and failing.domains[0].domain == "(none)"
