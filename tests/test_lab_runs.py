"""The lab's runs without a UI: Spot reclaims and resumes, restarts, determinism, deployment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from sagetutor.lab import (
    CHECKPOINTING,
    LabConfig,
    LabHistory,
    LabRun,
    LabSummary,
    algorithms_for,
    clock_text,
    datasets,
)

#: The demo's story, trimmed: XGBoost on breast-cancer standing for 20M rows, Spot, a reclaim at 10 min.
SPOT = dict(dataset="breast-cancer", algorithm="xgboost", instance_type="ml.m5.xlarge", spot=True,
            nominal_rows=20_000_000, interrupt_after_minutes=10, deployment="none", seed=7)


@pytest.fixture(scope="module")
def resumed() -> LabRun:
    run = LabRun(LabConfig(**SPOT, checkpoints=True))
    run.run()
    return run


@pytest.fixture(scope="module")
def restarted() -> LabRun:
    run = LabRun(LabConfig(**SPOT, checkpoints=False))
    run.run()
    return run


def test_spot_with_checkpoints_resumes(resumed):
    s = resumed.summary()
    messages = [e.message for e in resumed.events()]
    assert any(m.startswith("Spot capacity reclaimed at round") for m in messages)
    assert any(m.startswith("Resumed from checkpoint at round") for m in messages)
    assert s.status == "Completed" and s.reclaims == 1 and s.resumes == 1
    assert s.billable_seconds < s.training_seconds
    assert s.spot_savings > 0
    assert s.objective == "validation:auc" and s.objective_value > 0.9
    assert s.training_cost > 0 and s.total_cost >= s.training_cost


def test_without_checkpoints_the_job_starts_over(resumed, restarted):
    s = restarted.summary()
    messages = [e.message for e in restarted.events()]
    assert any(m.startswith("Spot capacity reclaimed at round") for m in messages)
    assert not any("Resumed from checkpoint" in m for m in messages)
    assert sum("starting training for 50 rounds" in line for line in restarted.logs()) == 2
    assert s.status == "Completed" and s.reclaims == 1 and s.resumes == 0
    # every round is trained again: longer, and more billed, than resuming
    assert s.training_seconds > resumed.summary().training_seconds
    assert s.billable_seconds > resumed.summary().billable_seconds
    assert s.objective_value == pytest.approx(resumed.summary().objective_value)


def test_same_seed_same_summary(resumed):
    again = LabRun(LabConfig(**SPOT, checkpoints=True)).run()
    assert again == resumed.summary()


def test_snapshots_show_the_run_as_it_goes():
    run = LabRun(LabConfig(**SPOT, checkpoints=True))
    first = run.start()
    assert first.seconds == 0 and first.job_status == "InProgress" and first.phase == "training"
    assert first.total == 0 and not first.done
    snaps = [run.step(60) for _ in range(15)]
    assert [s.seconds for s in snaps] == [60.0 * i for i in range(1, 16)]
    assert snaps[-1].secondary_status in ("Interrupted", "Starting")
    assert any("reclaimed" in e.message for e in snaps[-1].events)
    assert snaps[-1].objective_series  # the rounds of the first attempt are posted at the reclaim
    while not run.done:
        last = run.step(600)
    assert last.done and last.total > 0 and any(li.resource == "training-job/lab-train" for li in last.bill)


def test_realtime_deployment_makes_an_endpoint_and_a_hosting_line():
    run = LabRun(LabConfig(dataset="iris", algorithm="xgboost", spot=False, nominal_rows=None,
                           interrupt_after_minutes=None, deployment="realtime", endpoint_minutes=30, seed=3))
    s = run.run()
    assert s.status == "Completed" and s.endpoint == "lab-endpoint"
    assert any(e.message.startswith("Endpoint is InService") for e in run.events())
    assert len(s.predictions) == 5 and len(s.truth) == 5
    _, total = run.bill_lines()
    hosting = [li for li in run.bill_lines()[0] if li.usage_type == "hosting-instance-seconds"]
    assert hosting and hosting[0].resource == "endpoint/lab-endpoint" and hosting[0].amount > 0
    assert hosting[0].quantity >= 30 * 60  # it stood InService for the 30 minutes asked, then was deleted
    assert s.deployment_cost == hosting[0].amount and s.total_cost == total
    assert s.spot_savings is None and s.billable_seconds == s.training_seconds


def test_batch_transform_writes_predictions():
    s = LabRun(LabConfig(dataset="diabetes", algorithm="linear-learner", spot=False, nominal_rows=None,
                         interrupt_after_minutes=None, deployment="batch", seed=5)).run()
    assert s.status == "Completed" and len(s.transform_output) == 5 and s.deployment_cost > 0


def test_a_refused_request_ends_the_run_with_the_reason():
    # a built-in that cannot checkpoint may wait for Spot at most an hour: the API says so
    s = LabRun(LabConfig(dataset="blobs", algorithm="kmeans", max_wait_minutes=240, deployment="none")).run()
    assert s.status == "Rejected" and "3600" in s.failure_reason and s.total_cost == Decimal(0)


def test_stop_ends_a_running_job():
    run = LabRun(LabConfig(**SPOT, checkpoints=True))
    run.start()
    run.step(300)
    run.stop()
    s = run.summary()
    assert run.done and s.stopped_by_user and s.status == "Stopped"


def test_config_checks_pairs_and_names():
    assert "xgboost" in algorithms_for("breast-cancer") and algorithms_for("blobs") == ("kmeans", "pca")
    assert "timeseries" not in datasets()
    with pytest.raises(ValidationError, match="does not train on"):
        LabConfig(dataset="iris", algorithm="kmeans")
    with pytest.raises(ValidationError, match="not offered for training"):
        LabConfig(instance_type="ml.t2.medium")
    with pytest.raises(ValidationError):
        LabConfig(instance_count=0)
    notes = LabConfig(algorithm="linear-learner", checkpoints=True).notes()
    assert any("starts over" in n for n in notes) and "linear-learner" not in CHECKPOINTING
    assert clock_text(3725) == "01:02:05"


def test_history_keeps_runs_for_comparison(resumed, restarted):
    h = LabHistory(limit=2)
    for s in (resumed.summary(), restarted.summary(), resumed.summary()):
        assert isinstance(s, LabSummary)
        h.add(s)
    assert len(h) == 2 and h.added == 3
    rows = h.rows()
    assert [r[0] for r in rows] == ["2", "3"]
    assert rows[1][1] == "Completed" and rows[1][5].endswith("%") and "spot+ckpt" in rows[1][-1]
