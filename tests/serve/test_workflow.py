"""A SageMaker workflow end to end through ``sagetutor serve`` with unmodified boto3 clients."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers import DATA, ROLE, channel, training_request
from tests.serve.conftest import client, control

TEST_KEY = "breast-cancer/test/part-00000.csv"
HP = {"objective": "binary:logistic", "num_round": "200", "max_depth": "3", "eta": "0.2", "eval_metric": "auc"}
QUICK = {"Delay": 1, "MaxAttempts": 60}


def test_spot_training_to_endpoint_transform_and_tuning(serve):
    srv = serve(speed=600)  # 10 virtual minutes per second: boto3's waiters with Delay=1 finish in seconds
    eng = srv.engine
    sm, s3, rt = client(srv, "sagemaker"), client(srv, "s3"), client(srv, "sagemaker-runtime")

    # Data: our own bucket, with the training split copied through GetObject/PutObject.
    s3.create_bucket(Bucket="my-bucket")
    rows = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/train/part-00000.csv")["Body"].read()
    s3.put_object(Bucket="my-bucket", Key="data/train/part-00000.csv", Body=rows, ContentType="text/csv")
    assert s3.head_object(Bucket="my-bucket", Key="data/train/part-00000.csv")["ContentLength"] == len(rows)

    # Managed Spot training with checkpoints, reclaimed once (injected through the control call).
    control(srv, "faults/natural_spot_interruptions", enabled=False)
    control(srv, "nominal_size", s3_uri_prefix="s3://my-bucket/data/", rows=2_000_000)
    req = training_request(eng, hyperparameters=HP, spot=True, checkpoint="s3://my-bucket/checkpoints/job-1",
                           channels=[channel("train", "s3://my-bucket/data/train/", "text/csv"),
                                     channel("validation", f"{DATA}/breast-cancer/validation/", "text/csv")])
    arn = sm.create_training_job(**req)["TrainingJobArn"]
    assert arn.endswith(":training-job/job-1")
    control(srv, "faults/interrupt_spot", TrainingJobName="job-1", after_seconds=120)
    started = time.monotonic()
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="job-1", WaiterConfig=QUICK)
    assert time.monotonic() - started < 30
    d = sm.describe_training_job(TrainingJobName="job-1")
    assert d["TrainingJobStatus"] == "Completed"
    assert [t["Status"] for t in d["SecondaryStatusTransitions"]].count("Interrupted") == 1
    assert d["BillableTimeInSeconds"] < d["TrainingTimeInSeconds"]
    assert d["CreationTime"].tzinfo is not None and d["TrainingEndTime"] > d["TrainingStartTime"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="checkpoints/job-1/")["Contents"]]
    assert len(keys) >= 2  # the checkpoint at the reclaim and the final one
    assert any(s["TrainingJobName"] == "job-1" for s in sm.list_training_jobs()["TrainingJobSummaries"])

    # Deploy: model, endpoint config, endpoint; the waiter again.
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"),
                                      "ModelDataUrl": d["ModelArtifacts"]["S3ModelArtifacts"]})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=QUICK)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"

    test_rows = s3.get_object(Bucket="sagetutor-datasets", Key=TEST_KEY)["Body"].read().decode().splitlines()[:5]
    features = [r.split(",", 1)[1] for r in test_rows]
    r = rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body="\n".join(features))
    assert r["ContentType"] == "text/csv" and r["InvokedProductionVariant"] == "AllTraffic"
    csv_scores = [float(x) for x in r["Body"].read().decode().split()]
    assert len(csv_scores) == 5 and all(0 <= p <= 1 for p in csv_scores)
    body = json.dumps({"instances": [{"features": [float(x) for x in f.split(",")]} for f in features]})
    r = rt.invoke_endpoint(EndpointName="ep", ContentType="application/json", Accept="application/json", Body=body)
    assert r["ContentType"] == "application/json"
    json_scores = [p["score"] for p in json.loads(r["Body"].read())["predictions"]]
    assert json_scores == pytest.approx(csv_scores, abs=1e-6)
    labels = [int(float(row.split(",", 1)[0])) for row in test_rows]
    assert sum((p > 0.5) == bool(y) for p, y in zip(csv_scores, labels)) >= 4  # it really learned

    # Batch transform over the test split.
    s3.put_object(Bucket="my-bucket", Key="batch/in.csv", Body="\n".join(features) + "\n")
    sm.create_transform_job(
        TransformJobName="t", ModelName="m",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://my-bucket/batch/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://my-bucket/batch-out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="t", WaiterConfig=QUICK)
    assert sm.describe_transform_job(TransformJobName="t")["TransformJobStatus"] == "Completed"
    out = s3.get_object(Bucket="my-bucket", Key="batch-out/in.csv.out")["Body"].read().decode().split()
    assert [float(x) for x in out] == pytest.approx(csv_scores, abs=1e-6)

    # A small tuning job, run to the end through the control call.
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune",
        HyperParameterTuningJobConfig={
            "Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ParameterRanges": {"ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.05", "MaxValue": "0.5", "ScalingType": "Linear"}]}},
        TrainingJobDefinition={
            "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "20", "eval_metric": "auc"},
            "AlgorithmSpecification": {"TrainingImage": eng.image_uri("xgboost"), "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [channel("train", f"{DATA}/breast-cancer/train/", "text/csv"),
                                channel("validation", f"{DATA}/breast-cancer/validation/", "text/csv")],
            "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600}})
    control(srv, "run_until_idle")
    t = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert t["HyperParameterTuningJobStatus"] == "Completed"
    assert t["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.9
    kids = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    assert len(kids["TrainingJobSummaries"]) == 3

    # Paginators work over the wire too.
    names = [m["ModelName"] for page in sm.get_paginator("list_models").paginate() for m in page["Models"]]
    assert names == ["m"]

    # The bill: Spot training, the endpoint, the transform, the tuning children.
    bill = control(srv, "bill", "GET")
    usage = {line["usage_type"] for line in bill["lines"]}
    assert float(bill["total"]) > 0 and any("training" in u for u in usage) and any("hosting" in u for u in usage)
    assert any(line["pricing_model"] == "spot" for line in bill["lines"])


def _code(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_errors_come_back_as_aws_sends_them(serve):
    srv = serve()
    eng = srv.engine
    sm, s3, rt, iam = (client(srv, n) for n in ("sagemaker", "s3", "sagemaker-runtime", "iam"))
    assert _code(lambda: sm.describe_training_job(TrainingJobName="nope")) == (
        "ValidationException", "Requested resource not found.", 400)
    code, msg, status = _code(lambda: sm.create_training_job(**training_request(eng, name="bad_name!")))
    assert code == "ValidationException" and "bad_name!" in msg and status == 400
    code, _, status = _code(lambda: sm.describe_endpoint(EndpointName="nope"))
    assert code == "ValidationException" and status == 400
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_object(Bucket="no-such-bucket", Key="k")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="sagetutor-datasets", Key="nope")
    assert _code(lambda: s3.head_object(Bucket="sagetutor-datasets", Key="nope"))[0] == "404"
    s3.create_bucket(Bucket="b")
    with pytest.raises(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="b")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="nope")
    code, msg, status = _code(lambda: rt.invoke_endpoint(EndpointName="nope", ContentType="text/csv", Body=b"1"))
    assert status == 400 and "nope" in msg
    code, msg, _ = _code(lambda: client(srv, "ec2").describe_vpcs(VpcIds=["vpc-nope"]))
    assert code == "InvalidVpcID.NotFound"


def test_invoke_payload_over_6_mib_is_sagemakers_error_and_over_the_http_bound_is_413(serve):
    srv = serve(max_body=7 * 1024 * 1024)
    eng = srv.engine
    sm, rt, s3 = client(srv, "sagemaker"), client(srv, "sagemaker-runtime"), client(srv, "s3")
    s3.create_bucket(Bucket="my-bucket")
    sm.create_training_job(**training_request(eng))
    control(srv, "run_until_idle")
    url = sm.describe_training_job(TrainingJobName="job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    control(srv, "run_until_idle")
    code, msg, status = _code(lambda: rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv",
                                                         Body=b"1," * (3 * 1024 * 1024 + 1)))
    assert (code, status) == ("ValidationError", 400) and msg.endswith("has oversize body.")
    with pytest.raises(rt.exceptions.ValidationError):
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=b"1," * (3 * 1024 * 1024 + 1))
    code, _, status = _code(lambda: s3.put_object(Bucket="my-bucket", Key="big", Body=b"x" * (8 * 1024 * 1024)))
    assert status == 413
