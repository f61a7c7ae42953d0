"""Every executable step kind, on the engine through its boto3-shaped clients."""

from __future__ import annotations

import pytest

from sagetutor.quiz import outcome
from sagetutor.quiz.runner import BUCKET, aws_name, run_plan, step_names
from tests.quiz.conftest import plan


def simulate(*steps: dict, seed: int = 7) -> dict:
    out = outcome.simulate(plan(*steps), seed)
    assert out["supported"], out
    return out


def test_step_names_and_resource_names():
    steps = plan({"train": {}}, {"train": {}}, {"train": {"name": "big_one"}}, {"deploy": {"model": "train-2"}})
    assert step_names(steps) == ["train", "train-2", "big_one", "deploy"]
    assert aws_name("big_one") == "big-one" and aws_name("x" * 80) == "x" * 63


def test_an_iam_role_without_data_access_is_denied():
    out = simulate({"iam": {"name": "reader", "managed": ["AmazonSageMakerFullAccess"]}}, {"train": {"role": "reader"}})
    facts = out["facts"]
    assert facts["access_denied"] is True and facts["denials"] == 1 and facts["completed"] is False
    assert facts["status"] == "Failed"
    allowed = simulate({"iam": {"name": "reader", "managed": ["AmazonSageMakerFullAccess"],
                                "allow": {"s3:GetObject": "arn:aws:s3:::sagetutor-datasets/*"}}},
                       {"train": {"role": "reader"}})
    assert allowed["facts"]["access_denied"] is False and allowed["facts"]["status"] == "Completed"


def test_an_api_error_is_the_error_fact_and_the_plan_goes_on():
    out = simulate({"train": {"algorithm": "image-classification", "dataset": "digits-images",
                              "instance": "ml.m5.xlarge"}}, {"train": {"name": "other"}})
    assert out["facts"]["error"] == "ValidationException"
    assert out["errors"][0]["step"] == "train" and out["errors"][0]["operation"] == "create_training_job"
    assert [s["status"] for s in out["steps"]] == ["error", "ok"]
    assert out["facts"]["status"] == "Completed" and out["facts"]["completed"] is False


def test_tune_deploys_its_best_training_job():
    out = simulate({"tune": {"max_jobs": 4, "max_parallel": 2, "ranges": {"eta": "0.05..0.5 log", "max_depth": "3..6"}}},
                   {"deploy": {}}, {"invoke": 2})
    tuning = out["metrics"]["tuning"]["tune"]
    assert tuning["status"] == "Completed" and tuning["training_jobs"] == 4
    assert out["facts"]["metric"]["validation:auc"] == tuning["metrics"]["validation:auc"]
    assert out["facts"]["cost.tuning"] > 0 and out["facts"]["cost.training"] == 0.0
    assert out["facts"]["time.tuning"] > 0 and out["facts"]["requests.answered"] == 1


def test_labeling_a_few_objects_with_a_private_team():
    out = simulate({"label": {"objects": 40, "workforce": "private"}})
    facts = out["facts"]
    assert facts["status"] == "Completed" and facts["labeling.automated"] == 0.0
    assert facts["cost.labeling"] == facts["cost.total"] > 0  # the per-object fee
    assert out["metrics"]["labeling"]["label"]["TotalLabeled"] == 40


def test_monitor_finds_drift_in_drifted_traffic():
    drifted = simulate({"train": {}}, {"deploy": {"data_capture": True}}, {"monitor": {}},
                       {"traffic": {"per_minute": 4, "minutes": 60, "drift": {"shift": 3.0}}}, {"advance": "2h"})
    assert drifted["facts"]["drift_detected"] is True and drifted["facts"]["cost.monitoring"] > 0
    assert drifted["facts"]["status"] == "Scheduled"
    no_capture = simulate({"train": {}}, {"deploy": {}}, {"monitor": {}})
    assert no_capture["facts"]["error"] == "ValidationException"
    assert "DataCaptureConfig" in no_capture["errors"][0]["message"]


def test_autoscaling_scales_out_under_a_spike():
    rates = [50] * 5 + [300] * 10 + [20] * 5
    out = simulate({"train": {}}, {"deploy": {}}, {"autoscale": {"min": 1, "max": 4, "target": 100}},
                   {"traffic": {"per_minute": rates, "minutes": len(rates)}})
    assert out["facts"]["autoscaled"] is True and out["facts"]["instances.max"] >= 3
    assert out["metrics"]["endpoint_instances"]["endpoint/deploy"][0] == 1


def test_a_notebook_that_stops_when_idle_costs_an_hour_not_a_day():
    idle = simulate({"notebook": {"stop_when_idle": "1h"}}, {"advance": "8h"})
    left = simulate({"notebook": {}}, {"advance": "8h"})
    assert idle["facts"]["status"] == "Stopped" and left["facts"]["status"] == "InService"
    assert idle["facts"]["cost.notebook"] * 5 < left["facts"]["cost.notebook"]
    assert any("auto-stop" in n for n in idle["notes"])


def test_studio_apps_bill_until_deleted():
    out = simulate({"studio": {"users": 2}}, {"advance": "1h"}, {"stop": "studio"}, {"advance": "7h"})
    assert 0.05 < out["facts"]["cost.studio"] < 0.2  # two ml.t3.medium kernels for about an hour


def test_orchestrate_runs_earlier_steps_in_a_step_functions_workflow():
    out = simulate({"train": {}}, {"transform": {}}, {"orchestrate": {"steps": ["train", "transform"],
                                                                       "schedule": "rate(1 day)"}})
    facts = out["facts"]
    assert [s["status"] for s in out["steps"]] == ["deferred", "deferred", "ok"]
    assert facts["status"] == "Completed" and facts["completed"] is True
    assert facts["cost.orchestration"] > 0 and facts["cost.transform"] > 0 and facts["cost.training"] > 0
    assert any("EventBridge" in n for n in out["notes"])


def test_stop_and_wait():
    out = simulate({"train": {}}, {"deploy": {}}, {"wait": "deploy"}, {"stop": "deploy"}, {"advance": "2h"})
    assert out["facts"]["status"] == "Deleted" and out["facts"]["cost.hosting"] < 0.01
    stopped = simulate({"train": {"nominal_rows": 20000000}}, {"advance": "5min"}, {"stop": "train"})
    assert stopped["facts"]["status"] == "Stopped" and stopped["facts"]["completed"] is False


def test_spot_capacity_fault():
    out = simulate({"spot_capacity": "ml.p3.2xlarge"},
                   {"train": {"instance": "ml.p3.2xlarge", "spot": True, "max_runtime": "1h", "max_wait": "2h"}})
    assert out["facts"]["status"] == "Stopped" and out["facts"]["cost.total"] == 0.0
    assert out["facts"]["time.total"] == pytest.approx(7200, abs=1)


def test_invoke_an_asynchronous_endpoint_and_serverless_latency():
    out = simulate({"train": {}}, {"deploy": {"async": True}}, {"invoke": 2})
    assert out["facts"]["requests.answered"] == 1 and "latency.p50" not in out["facts"]
    cold = simulate({"train": {}}, {"deploy": {"serverless": True, "memory": 2048}}, {"invoke": 1})
    assert cold["facts"]["latency.p50"] > 1.0  # the first request waits for a cold start


def test_the_run_gives_its_clients_back():
    run = run_plan(plan({"train": {}}), 7)
    assert run.clients is not None
    assert run.client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] >= 1
    run.close()
    assert run.clients is None
    assert not run.eng._clients  # the pooled clients are no longer filed in the engine
    assert run.eng.client("sagemaker").describe_training_job(TrainingJobName="train")["TrainingJobStatus"] == \
        "Completed"
