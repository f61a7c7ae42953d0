"""The fixture packs' answer keys, confirmed on the engine; and the outcomes that confirm them."""

from __future__ import annotations

import pytest

from sagetutor.quiz.runtime import check_answer_key


@pytest.mark.parametrize("pack, question", [
    ("spot.yaml", "spot-checkpoints"), ("spot.yaml", "spot-two"), ("nightly.yaml", "nightly-scoring"),
    ("latency.yaml", "sparse-latency"), ("training-time.yaml", "train-within-the-hour"),
    ("flows.yaml", "serve-in-order"), ("flows.yaml", "clinic-scoring"), ("flows.yaml", "clinic-speed"),
])
def test_the_engine_confirms_the_answer_key(runtime, pack, question):
    rt = runtime(pack)
    assert [p for p in check_answer_key(rt, question, [rt.pack.pack.seed]) if not p.warning] == []


def test_spot_with_checkpoints_survives_for_the_least_money(runtime):
    rt = runtime("spot.yaml")
    result = rt.answer("spot-checkpoints", "on-demand")
    assert result["score"] == 0.0 and not result["correct"] and result["correct_answer"] == "spot-checkpoints"
    # a comparative requirement runs every option
    assert set(result["runs"]) == {"spot-checkpoints", "spot", "on-demand", "short-wait"}
    facts = {k: run["outcome"]["facts"] for k, run in result["runs"].items()}
    assert facts["spot-checkpoints"]["survived_interruption"] and facts["spot-checkpoints"]["resumed_from_checkpoint"]
    assert facts["spot"]["survived_interruption"] and not facts["spot"]["resumed_from_checkpoint"]
    assert facts["spot-checkpoints"]["cost.total"] < facts["spot"]["cost.total"] < facts["on-demand"]["cost.total"]
    assert facts["on-demand"]["spot.interruptions"] == 0 and not facts["on-demand"]["survived_interruption"]
    assert facts["short-wait"]["status"] == "Stopped" and facts["short-wait"]["cost.total"] < \
        facts["spot-checkpoints"]["cost.total"]  # cheapest of all, but it does not finish
    assert 0.5 < facts["spot-checkpoints"]["spot.savings"] < 0.91
    mine = result["runs"]["on-demand"]
    assert mine["chosen"] and not mine["correct"] and mine["meets_all"] is False
    assert [(r["requirement"], r["met"]) for r in mine["requirements"]] == [
        ("survived_interruption", False), ("cost.total is minimal", False)]
    right = result["runs"]["spot-checkpoints"]
    minimal = right["requirements"][1]
    assert minimal["met"] and minimal["values"] == {"cost.total": facts["spot-checkpoints"]["cost.total"]}
    assert set(minimal["among"]) == {"spot-checkpoints", "spot"}  # the options that survive
    assert [f["option"] for f in result["feedback"]] == ["spot-checkpoints", "on-demand"]


def test_nightly_scoring_endpoint_bills_all_day(runtime):
    rt = runtime("nightly.yaml")
    result = rt.answer("nightly-scoring", "transform")
    assert result["score"] == 1.0
    endpoint = result["runs"]["endpoint"]["outcome"]
    transform = result["runs"]["transform"]["outcome"]
    assert endpoint["facts"]["cost.hosting"] > 6.0  # a day of ml.m5.xlarge
    assert endpoint["facts"]["time.total"] > 86400
    assert transform["facts"]["cost.hosting"] == 0.0
    assert transform["facts"]["cost.transform"] < 0.05
    assert transform["facts"]["time.transform"] < 600
    assert transform["metrics"]["transform_seconds"]["transform"] == transform["facts"]["time.transform"]
    assert endpoint["facts"]["cost.total"] > 100 * transform["facts"]["cost.total"]


def test_latency_requirement_under_sparse_traffic(runtime):
    rt = runtime("latency.yaml")
    result = rt.answer("sparse-latency", "serverless")
    facts = {k: run["outcome"]["facts"] for k, run in result["runs"].items()}
    assert facts["real-time"]["latency.p95"] < 0.1
    assert facts["serverless"]["latency.p95"] > 1.0  # cold starts after ten idle minutes
    assert facts["serverless"]["cost.total"] < facts["real-time"]["cost.total"]
    assert "latency.p95" not in facts["async"]  # nothing answered in the request
    assert facts["async"]["requests.errors"] == facts["async"]["requests.sent"] == 10
    latency = result["runs"]["real-time"]["outcome"]["metrics"]["latency_ms"]
    assert latency["count"] == 10 and latency["p50"] <= latency["p95"] <= latency["max"]
    assert result["runs"]["serverless"]["requirements"][0] == {
        "requirement": "latency.p95 < 100ms", "met": False, "values": {"latency.p95": facts["serverless"]["latency.p95"]}}


def test_training_time_at_a_nominal_scale_in_every_variant(runtime):
    rt = runtime("training-time.yaml")
    assert rt.variants("train-within-the-hour") == [{"rows": 150000000}, {"rows": 200000000}]
    for values in rt.variants("train-within-the-hour"):
        r, outs = rt.simulate_all("train-within-the-hour", params=values)
        assert str(f"{values['rows']:,}") in r.question.stem
        times = {k: o["facts"]["time.training"] for k, o in outs.items()}
        assert times["m5-xlarge"] > 3600 > times["m5-4xlarge"] > times["m5-12xlarge"]
        costs = {k: o["facts"]["cost.total"] for k, o in outs.items()}
        assert costs["p3"] > 5 * costs["m5-4xlarge"]  # XGBoost on the CPU cores: the GPU adds cost, not speed


def test_ordering_runs_the_learners_order(runtime):
    rt = runtime("flows.yaml")
    result = rt.answer("serve-in-order", ["deploy", "train", "invoke"])
    assert result["score"] == pytest.approx(1 / 3)  # each_answer: only the last item in place
    wrong = result["runs"]["order:deploy,train,invoke"]
    right = result["runs"]["order:train,deploy,invoke"]
    assert wrong["chosen"] and right["correct"]
    assert wrong["meets_all"] is False and right["meets_all"] is True
    steps = {s["name"]: s for s in wrong["outcome"]["steps"]}
    assert steps["deploy"]["status"] == "skipped" and "no train or tune step before it" in steps["deploy"]["error"]
    assert wrong["outcome"]["facts"]["completed"] is False
    assert wrong["outcome"]["facts"]["status"] == "Completed"  # the last job of the plan: the training
    assert right["outcome"]["facts"]["requests.answered"] == 1
    assert result["runs"]["order:train,deploy,invoke"]["label"] == "Train the model -> Deploy an endpoint -> Call InvokeEndpoint"


def test_matching_and_private_training(runtime):
    rt = runtime("flows.yaml")
    result = rt.answer("pick-algorithms", {"fraud": "rcf", "churn": "xgboost", "segments": "blazingtext"})
    assert result["runs"] == {} and result["score"] == 0.0
    assert [f["given"] for f in result["feedback"]] == ["rcf", "xgboost", "blazingtext"]
    result = rt.answer("private-training", "default")
    vpc = result["runs"]["vpc"]["outcome"]["facts"]
    assert vpc["completed"] and vpc["no_public_network_path"] and vpc["network.blocked"] == 0
    default = result["runs"]["default"]
    assert default["outcome"]["facts"]["no_public_network_path"] is False
    assert default["outcome"]["security"]["encrypted_with_customer_managed_key"] is False
    public = rt.answer("private-training", "public")["runs"]["public"]["outcome"]["facts"]
    assert public["status"] == "Failed" and public["network.blocked"] == 1  # no public IP, no NAT, no endpoint


def test_case_study_question_inherits_run_params_and_requirements(runtime):
    rt = runtime("flows.yaml")
    values = rt.default_values("clinic-scoring", 7)
    assert set(values) == {"rows"}
    result = rt.answer("clinic-scoring", "endpoint")
    assert result["params"] == values
    assert result["requirements"] == ["completed", "cost.total is minimal"]
    assert f"{values['rows']:,}" in rt.resolve("clinic-scoring").question.stem
    notebook = result["runs"]["notebook"]["outcome"]["facts"]
    assert notebook["cost.notebook"] > 1.0 and notebook["cost.storage"] > 0  # compute and the ML volume
    assert result["notes"] == [{"topic": "batch-transform", "file": "batch-transform.md",
                                "available": result["notes"][0]["available"]}]


def test_an_exam_is_scored_without_simulating(runtime):
    rt = runtime("flows.yaml")
    result = rt.exam({"serve-in-order": ["train", "deploy", "invoke"], "clinic-scoring": "transform",
                      "pick-algorithms": {"fraud": "rcf", "churn": "xgboost", "segments": "kmeans"},
                      "clinic-speed": "single"})
    assert rt.simulated == 0
    assert result.scored_items == 5 and result.raw_percent == pytest.approx(60.0)  # 3 of 5; private-training unanswered
    assert result.label == "estimated scaled score" and result.scaled == 100 + round(620 * 60 / 72)
