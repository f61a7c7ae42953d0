"""InstanceCount > 1: sharding really splits the data, time follows the parallel efficiency, the bill multiplies."""

from __future__ import annotations

import pytest

from engine import timing
from tests.helpers import DATA, channel, training_request, wait

LL = {"predictor_type": "binary_classifier", "epochs": "10", "mini_batch_size": "100"}


@pytest.fixture
def scaled(eng, s3):
    eng.set_nominal_size(f"{DATA}/breast-cancer/", rows=20_000_000)
    return eng


def run(eng, sm, name: str, count: int, distribution: str | None, algorithm: str = "linear-learner", hp=LL) -> dict:
    chans = [channel("train", f"{DATA}/breast-cancer/train/", "text/csv", distribution),
             channel("validation", f"{DATA}/breast-cancer/validation/", "text/csv")]
    sm.create_training_job(**training_request(eng, name=name, algorithm=algorithm, hyperparameters=hp,
                                              channels=chans, count=count))
    return wait(sm, name)


def train_seconds(d: dict) -> float:
    [t] = [t for t in d["SecondaryStatusTransitions"] if t["Status"] == "Training"]
    return (t["EndTime"] - t["StartTime"]).total_seconds()


def test_sharded_data_parallel_training_is_faster_by_the_documented_efficiency(scaled, sm):
    one = run(scaled, sm, "one", 1, None)
    four = run(scaled, sm, "four", 4, "ShardedByS3Key")
    assert four["TrainingJobStatus"] == "Completed"
    image = 20.0  # the training image download is part of the Training status
    speedup = (train_seconds(one) - image) / (train_seconds(four) - image)
    assert speedup == pytest.approx(4 * timing.efficiency(4), rel=0.02)
    streams = scaled.client("logs").describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                                         logStreamNamePrefix="four/")["logStreams"]
    assert [s["logStreamName"].split("/")[1][:6] for s in streams] == ["algo-1", "algo-2", "algo-3", "algo-4"]
    assert any("algo-3 of 4 (ml.m5.xlarge): starting training" in line and "1 train object(s) (ShardedByS3Key)"
               in line for line in scaled.logs_for("/aws/sagemaker/TrainingJobs", "four/algo-3"))
    acc = {m["MetricName"]: m["Value"] for m in four["FinalMetricDataList"]}
    assert acc["validation:binary_classification_accuracy"] > 0.9  # averaged models still predict well


def test_fully_replicated_gives_no_speed_up_but_costs_every_instance(scaled, sm):
    one = run(scaled, sm, "one", 1, None)
    rep = run(scaled, sm, "rep", 4, "FullyReplicated")
    # Every instance chews through the whole data set: no speed-up, communication overhead on top.
    assert train_seconds(one) < train_seconds(rep) <= 20 + (train_seconds(one) - 20) / timing.efficiency(4)
    [b1], [b4] = scaled.bill().for_resource("/one"), scaled.bill().for_resource("/rep")
    assert b4.instance_count == 4 and b4.quantity == 4 * rep["BillableTimeInSeconds"]
    assert b4.amount > 3 * b1.amount


def test_single_instance_builtin_fails_on_two_instances_as_aws_documents(eng, sm, s3):
    hp = {"k": "5", "feature_dim": "8"}
    chans = [channel("train", f"{DATA}/blobs/train/", "text/csv;label_size=0", "ShardedByS3Key")]
    sm.create_training_job(**training_request(eng, algorithm="kmeans", hyperparameters=hp, channels=chans, count=2))
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: ") and "single" in d["FailureReason"].lower()


def test_more_instances_than_objects_is_logged(eng, sm, s3):
    chans = [channel("train", f"{DATA}/breast-cancer/validation/", "text/csv", "ShardedByS3Key")]
    sm.create_training_job(**training_request(eng, algorithm="linear-learner", hyperparameters=LL, channels=chans,
                                              count=2))
    wait(sm, "job-1")
    lines = eng.logs_for("/aws/sagemaker/TrainingJobs", "job-1/")
    assert any("1 S3 objects for 2 instances" in line for line in lines)
