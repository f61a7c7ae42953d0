"""Managed Spot training: AWS's four status sequences, checkpoint resume, and the bill."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from botocore.exceptions import ClientError

from tests.helpers import DATA, secondary_sequence, training_request, wait

HP = {"objective": "binary:logistic", "num_round": "100", "max_depth": "3", "eta": "0.1", "eval_metric": "auc"}


@pytest.fixture
def big(eng, s3):
    """Breast-cancer standing for 20 million rows, so training lasts long enough to be interrupted."""
    eng.set_nominal_size(f"{DATA}/breast-cancer/", rows=20_000_000)
    eng.faults.natural_spot_interruptions(False)
    return eng


def training_phases(d: dict) -> list[float]:
    return [(t["EndTime"] - t["StartTime"]).total_seconds() for t in d["SecondaryStatusTransitions"]
            if t["Status"] == "Training"]


def test_spot_without_interruption_bills_the_discounted_seconds(big, sm):
    sm.create_training_job(**training_request(big, hyperparameters=HP, spot=True))
    d = wait(sm, "job-1")
    assert secondary_sequence(d) == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert d["EnableManagedSpotTraining"] is True
    savings = 1 - d["BillableTimeInSeconds"] / d["TrainingTimeInSeconds"]
    assert 0.5 < savings < 0.91
    [li] = big.bill().for_resource("training-job/job-1")
    assert li.pricing_model == "spot" and li.quantity == d["BillableTimeInSeconds"]  # on-demand rate, billable seconds


def test_interrupted_then_recovered_resumes_from_the_checkpoint(big, sm, s3):
    req = training_request(big, hyperparameters=HP, spot=True, checkpoint="s3://my-bucket/checkpoints/job-1")
    sm.create_training_job(**req)
    big.faults.interrupt_spot(TrainingJobName="job-1", after_seconds=600)
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Completed"
    assert secondary_sequence(d) == ["Starting", "Downloading", "Training", "Interrupted", "Starting", "Downloading",
                                     "Training", "Uploading", "Completed"]
    # The checkpoint really is in S3 and holds the rounds done before the reclaim.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="checkpoints/job-1/")["Contents"]]
    first = keys[0]
    assert first.startswith("checkpoints/job-1/xgboost-checkpoint.")
    at_reclaim = int(first.rsplit(".", 1)[1])
    assert 0 < at_reclaim < 100
    body = s3.get_object(Bucket="my-bucket", Key=first)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
        assert json.loads(tar.extractfile("manifest.json").read())["unit"] == at_reclaim
    messages = [e.message for e in big.timeline()]
    assert f"Resumed from checkpoint at round {at_reclaim}" in messages
    # The second attempt trains only the remaining rounds.
    first_phase, second_phase = training_phases(d)
    assert second_phase < first_phase + 100  # (image download is part of both)
    # ... and its model is the model an uninterrupted job makes: earlier trees were kept.
    sm.create_training_job(**training_request(big, name="straight", hyperparameters=HP, spot=True))
    straight = wait(sm, "straight")
    auc = lambda x: [m["Value"] for m in x["FinalMetricDataList"] if m["MetricName"] == "validation:auc"][0]  # noqa: E731
    assert auc(d) == auc(straight)


def test_without_checkpoints_the_next_attempt_starts_over(big, sm, s3):
    sm.create_training_job(**training_request(big, name="ckpt", hyperparameters=HP, spot=True,
                                              checkpoint="s3://my-bucket/ckpt/"))
    sm.create_training_job(**training_request(big, name="none", hyperparameters=HP, spot=True))
    for name in ("ckpt", "none"):
        big.faults.interrupt_spot(TrainingJobName=name, after_seconds=600)
    with_ckpt, without = wait(sm, "ckpt"), wait(sm, "none")
    assert training_phases(without)[1] > training_phases(with_ckpt)[1] + 300
    assert without["BillableTimeInSeconds"] > with_ckpt["BillableTimeInSeconds"]
    assert not any("Resumed" in e.message for e in big.timeline() if e.resource.endswith("/none"))


def test_interrupted_until_max_wait_is_exceeded(big, sm, s3):
    sm.create_training_job(**training_request(big, hyperparameters=HP, spot=True, max_run=3600, max_wait=4000))
    big.faults.interrupt_spot(TrainingJobName="job-1", after_seconds=300)
    big.advance(700)  # the reclaim has happened by now
    big.faults.spot_capacity("ml.m5.xlarge", available=False)
    d = wait(sm, "job-1")
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")
    seq = secondary_sequence(d)
    assert seq[:4] == ["Starting", "Downloading", "Training", "Interrupted"]
    assert seq[-2:] == ["Stopping", "MaxWaitTimeExceeded"]
    assert round((d["TrainingEndTime"] - d["CreationTime"]).total_seconds()) == 4000


def test_capacity_never_acquired(big, sm):
    big.faults.spot_capacity("ml.p3.2xlarge", available=False)
    sm.create_training_job(**training_request(big, hyperparameters=HP, instance_type="ml.p3.2xlarge", spot=True,
                                              max_run=3600, max_wait=7200))
    d = wait(sm, "job-1")
    assert secondary_sequence(d) == ["Starting", "Stopping", "MaxWaitTimeExceeded"]
    assert d["SecondaryStatusTransitions"][0]["StatusMessage"] == (
        "Insufficient capacity error from EC2 while launching instances, retrying!")
    assert d["TrainingJobStatus"] == "Stopped" and "TrainingStartTime" not in d
    assert big.bill().for_resource("training-job/job-1") == []


def test_max_wait_must_cover_max_runtime(big, sm):
    req = training_request(big, hyperparameters=HP, spot=True, max_run=3600, max_wait=1800)
    with pytest.raises(ClientError, match="It must be present and be greater than or equal to MaxRuntimeInSeconds"):
        sm.create_training_job(**req)


def test_builtins_that_cannot_checkpoint_are_limited_to_an_hour_of_waiting(big, sm):
    req = training_request(big, algorithm="linear-learner", spot=True, max_run=3600, max_wait=7200,
                           hyperparameters={"predictor_type": "binary_classifier"})
    with pytest.raises(ClientError, match="less than or equal to 3600 for algorithm linear-learner"):
        sm.create_training_job(**req)


def test_injected_reclaim_has_no_effect_on_on_demand_jobs(big, sm):
    sm.create_training_job(**training_request(big, hyperparameters=HP))
    big.faults.interrupt_spot(TrainingJobName="job-1", after_seconds=60)
    d = wait(sm, "job-1")
    assert secondary_sequence(d) == ["Starting", "Downloading", "Training", "Uploading", "Completed"]


def test_natural_market_reclaims_are_seeded(eng, s3):
    """With the market on, a long GPU job is reclaimed at a seeded moment: same seed, same story."""
    from engine import Engine

    def story(seed: int) -> list[str]:
        e = Engine(seed=seed)
        e.client("s3").create_bucket(Bucket="my-bucket")
        e.set_nominal_size(f"{DATA}/breast-cancer/", rows=50_000_000)
        sm = e.client("sagemaker")
        sm.create_training_job(**training_request(e, hyperparameters=HP, spot=True, instance_type="ml.p3.2xlarge",
                                                  max_run=86400, checkpoint="s3://my-bucket/c/"))
        return secondary_sequence(wait(sm, "job-1"))

    assert story(5) == story(5)
