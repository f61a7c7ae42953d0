"""Training jobs really train, walk AWS's statuses, log, and bill."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine.pricing import hourly_price
from tests.helpers import DATA, channel, secondary_sequence, training_request, wait


def test_xgboost_really_trains_and_reports_validation_auc(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Completed" and d["SecondaryStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}
    assert metrics["validation:auc"] > 0.95
    assert secondary_sequence(d) == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    msgs = [t["StatusMessage"] for t in d["SecondaryStatusTransitions"]]
    assert msgs[-1] == "Training job completed"
    assert d["ModelArtifacts"]["S3ModelArtifacts"] == "s3://my-bucket/output/job-1/output/model.tar.gz"


def test_model_artifact_is_a_real_tarball_with_a_manifest(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    wait(sm, "job-1")
    body = s3.get_object(Bucket="my-bucket", Key="output/job-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names == ["manifest.json", "model.bin"]
    assert manifest["algorithm"] == "xgboost" and manifest["kind"] == "model" and manifest["units"] == 50


def test_on_demand_bill_is_training_seconds_times_count_at_the_hourly_rate(eng, sm, s3):
    sm.create_training_job(**training_request(eng, count=1, instance_type="ml.m5.xlarge"))
    d = wait(sm, "job-1")
    assert d["BillableTimeInSeconds"] == d["TrainingTimeInSeconds"]
    assert d["TrainingTimeInSeconds"] == round((d["TrainingEndTime"] - d["TrainingStartTime"]).total_seconds())
    [li] = eng.bill().for_resource("training-job/job-1")
    assert li.usage_type == "training-instance-seconds" and li.pricing_model == "on-demand"
    assert li.quantity == d["BillableTimeInSeconds"]
    rate = hourly_price("training", "ml.m5.xlarge").usd
    assert abs(li.amount - Decimal(d["BillableTimeInSeconds"]) * rate / 3600) < Decimal("0.000002")


def test_missing_required_hyperparameter_fails_at_run_time_with_client_error(eng, sm, s3):
    req = training_request(eng, hyperparameters={"objective": "binary:logistic"})
    sm.create_training_job(**req)  # accepted: built-ins check hyperparameters inside the job
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "InProgress"
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError: ") and "num_round" in d["FailureReason"]
    assert "FinalMetricDataList" not in d


def test_xgboost_reads_libsvm_by_default_and_says_so_for_csv(eng, sm, s3):
    chans = [channel("train", f"{DATA}/breast-cancer/train/")]
    sm.create_training_job(**training_request(eng, channels=chans))
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Failed"
    assert "Blankspace and colon not found in the file. ContentType by defaullt is in libsvm." in d["FailureReason"]
    chans = [channel("train", f"{DATA}/breast-cancer-libsvm/train/")]
    sm.create_training_job(**training_request(eng, name="job-2", channels=chans))
    assert wait(sm, "job-2")["TrainingJobStatus"] == "Completed"


def test_role_that_sagemaker_cannot_assume_is_rejected_at_create(eng, sm, s3):
    iam = eng.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="Ec2Only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        sm.create_training_job(**training_request(eng, role=arn))
    assert e.value.response["Error"]["Message"] == (
        f"Could not assume role {arn}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role.")


def test_role_without_read_access_fails_the_job_naming_action_and_resource(eng, sm, s3):
    iam = eng.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="NoData", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="NoData", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    sm.create_training_job(**training_request(eng, role=arn))
    d = wait(sm, "job-1")
    assert d["TrainingJobStatus"] == "Failed"
    # AmazonSageMakerFullAccess may list any bucket but read only buckets named *sagemaker*.
    assert ("is not authorized to perform: s3:GetObject on resource: "
            "arn:aws:s3:::sagetutor-datasets/breast-cancer/train/part-00000.csv") in d["FailureReason"]
    assert "assumed-role/NoData/SageMaker" in d["FailureReason"]
    assert eng.bill().for_resource("training-job/job-1")[0].quantity > 0  # instances ran until the failure


def test_empty_prefix_fails_with_aws_message(eng, sm, s3):
    chans = [channel("train", "s3://my-bucket/nothing-here/", "text/csv")]
    sm.create_training_job(**training_request(eng, channels=chans))
    d = wait(sm, "job-1")
    assert d["FailureReason"].startswith('ClientError: No S3 objects found under S3 URL "s3://my-bucket/nothing-here/"')


def test_gpu_only_builtin_is_rejected_on_a_cpu_instance(eng, sm, s3):
    req = training_request(eng, algorithm="image-classification",
                           hyperparameters={"num_classes": "10", "num_training_samples": "1257"},
                           channels=[channel("train", f"{DATA}/digits/train/", "text/csv"),
                                     channel("validation", f"{DATA}/digits/validation/", "text/csv")])
    with pytest.raises(ClientError, match="trains on GPU instances only"):
        sm.create_training_job(**req)


def test_nominal_size_scales_time_and_cost_but_not_the_model(eng, sm, s3):
    sm.create_training_job(**training_request(eng, name="small"))
    small = wait(sm, "small")
    eng.set_nominal_size(f"{DATA}/breast-cancer/", rows=20_000_000)
    sm.create_training_job(**training_request(eng, name="big"))
    big = wait(sm, "big")
    assert big["TrainingTimeInSeconds"] > 10 * small["TrainingTimeInSeconds"]
    [small_bill], [big_bill] = eng.bill().for_resource("/small"), eng.bill().for_resource("/big")
    assert big_bill.amount > 10 * small_bill.amount
    auc = lambda d: {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}["validation:auc"]  # noqa: E731
    assert auc(big) == auc(small)


def test_logs_and_metrics_go_to_cloudwatch(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    wait(sm, "job-1")
    logs = eng.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="job-1/")
    [stream] = streams["logStreams"]
    assert stream["logStreamName"].startswith("job-1/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"],
                                 startFromHead=True)["events"]
    text = [e["message"] for e in events]
    assert any("#metrics round=50" in m and "validation:auc=" in m for m in text)
    for e in events:  # "[2024-01-01:00:05:12:INFO] ...": each line stamped with its own event time
        stamp = datetime.fromtimestamp(e["timestamp"] / 1000, tz=UTC).strftime("%Y-%m-%d:%H:%M:%S")
        assert e["message"].startswith(f"[{stamp}:INFO] "), e
    cw = eng.client("cloudwatch")
    metrics = cw.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="validation:auc")["Metrics"]
    assert metrics[0]["Dimensions"] == [{"Name": "TrainingJobName", "Value": "job-1"}]
    d = sm.describe_training_job(TrainingJobName="job-1")
    stats = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="validation:auc",
                                     Dimensions=[{"Name": "TrainingJobName", "Value": "job-1"}],
                                     StartTime=d["CreationTime"], EndTime=eng.now, Period=86400,
                                     Statistics=["SampleCount", "Maximum"])["Datapoints"]
    assert stats[0]["SampleCount"] == 50 and stats[0]["Maximum"] > 0.95


def test_list_and_stop(eng, sm, s3):
    sm.create_training_job(**training_request(eng, name="a"))
    eng.advance(30)
    sm.create_training_job(**training_request(eng, name="b"))
    eng.advance(30)
    sm.stop_training_job(TrainingJobName="a")
    assert sm.describe_training_job(TrainingJobName="a")["TrainingJobStatus"] == "Stopping"
    eng.run_until_idle()
    a = sm.describe_training_job(TrainingJobName="a")
    assert (a["TrainingJobStatus"], a["SecondaryStatus"]) == ("Stopped", "Stopped")
    names = [s["TrainingJobName"] for s in sm.list_training_jobs()["TrainingJobSummaries"]]
    assert names == ["b", "a"]  # newest first
    assert [s["TrainingJobName"] for s in sm.list_training_jobs(StatusEquals="Stopped")["TrainingJobSummaries"]] == ["a"]
    with pytest.raises(ClientError, match="in status Stopped"):
        sm.stop_training_job(TrainingJobName="a")


def test_xgboost_trains_on_parquet_and_on_a_manifest(eng, sm, s3):
    chans = [channel("train", f"{DATA}/breast-cancer-parquet/train/", "application/x-parquet")]
    sm.create_training_job(**training_request(eng, name="pq", channels=chans))
    assert wait(sm, "pq")["TrainingJobStatus"] == "Completed"
    manifest = [{"prefix": f"{DATA}/breast-cancer/train/"}, "part-00000.csv", "part-00001.csv"]
    s3.put_object(Bucket="my-bucket", Key="two-parts.manifest", Body=json.dumps(manifest))
    ch = {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
        "S3DataType": "ManifestFile", "S3Uri": "s3://my-bucket/two-parts.manifest"}}}
    sm.create_training_job(**training_request(eng, name="mf", channels=[ch]))
    assert wait(sm, "mf")["TrainingJobStatus"] == "Completed"
    lines = eng.logs_for("/aws/sagemaker/TrainingJobs", "mf/")
    assert any("#metrics round=50" in line and "train:auc" in line for line in lines)


def test_a_unit_gate_sees_each_round_in_virtual_time_and_can_stop_the_job(eng, sm, s3):
    """The hook tuning jobs use for early stopping and Hyperband."""
    sm.create_training_job(**training_request(eng))
    job = eng._world.services["sagemaker"].training.jobs["job-1"]
    seen = []

    def gate(j, record):
        seen.append((record.unit, eng.seconds))
        return record.unit < 10

    job.unit_gate = gate
    d = wait(sm, "job-1")
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [u for u, _ in seen] == list(range(1, 11))
    assert seen[1][1] > seen[0][1]  # each round is seen at its own virtual instant
    assert d["ModelArtifacts"]["S3ModelArtifacts"].endswith("job-1/output/model.tar.gz")


def test_early_stopping_ends_the_job_early_in_virtual_time_and_on_the_bill(eng, sm, s3):
    eng.set_nominal_size(f"{DATA}/breast-cancer/", rows=2_000_000)
    hp = {"objective": "binary:logistic", "num_round": "300", "max_depth": "3", "eta": "0.3", "eval_metric": "logloss"}
    sm.create_training_job(**training_request(eng, name="full", hyperparameters=hp))
    sm.create_training_job(**training_request(eng, name="early", hyperparameters={**hp, "early_stopping_rounds": "5"}))
    full, early = wait(sm, "full"), wait(sm, "early")
    rounds = [int(line.split("round=")[1].split()[0]) for line in eng.logs_for("/aws/sagemaker/TrainingJobs", "early/")
              if "#metrics round=" in line]
    assert max(rounds) < 300
    assert early["TrainingTimeInSeconds"] < full["TrainingTimeInSeconds"] * max(rounds) / 300 + 200
    [f], [e] = eng.bill().for_resource("/full"), eng.bill().for_resource("/early")
    assert e.amount < f.amount


def test_incremental_training_continues_from_an_earlier_model(eng, sm, s3):
    hp = {"num_classes": "10", "num_training_samples": "1259", "epochs": "3", "image_shape": "1,8,8"}
    chans = [channel("train", f"{DATA}/digits/train/", "text/csv"), channel("validation", f"{DATA}/digits/validation/", "text/csv")]
    sm.create_training_job(**training_request(eng, name="first", algorithm="image-classification", hyperparameters=hp,
                                              channels=chans, instance_type="ml.p3.2xlarge"))
    first = wait(sm, "first")
    chans2 = chans + [channel("model", first["ModelArtifacts"]["S3ModelArtifacts"])]
    sm.create_training_job(**training_request(eng, name="more", algorithm="image-classification", hyperparameters=hp,
                                              channels=chans2, instance_type="ml.p3.2xlarge"))
    more = wait(sm, "more")
    acc = lambda d: [m["Value"] for m in d["FinalMetricDataList"] if m["MetricName"] == "validation:accuracy"][0]  # noqa: E731
    assert more["TrainingJobStatus"] == "Completed" and acc(more) >= acc(first)
    s3.put_object(Bucket="my-bucket", Key="junk/model.tar.gz", Body=b"not a model")
    sm.create_training_job(**training_request(eng, name="bad", algorithm="image-classification", hyperparameters=hp,
                                              channels=chans + [channel("model", "s3://my-bucket/junk/")],
                                              instance_type="ml.p3.2xlarge"))
    assert "The model channel must hold a model.tar.gz" in wait(sm, "bad")["FailureReason"]


def test_printed_bill_keeps_long_names_whole_and_its_columns_aligned(eng, sm, s3):
    name = "a-training-job-whose-name-is-longer-than-the-old-34-character-cut"[:63]
    sm.create_training_job(**training_request(eng, name=name))
    wait(sm, name)
    lines = eng.bill().format().splitlines()
    [row] = [line for line in lines if name in line]
    assert f"training-job/{name} " in row and "on-demand" in row
    amount = eng.bill().for_resource(f"/{name}")[0].amount
    assert row.endswith(f" {amount}") and lines[-1].startswith("total")
    assert len({len(line) for line in lines[:-1]}) == 1  # every row as wide as the header: columns line up
