"""Inference pipelines, multi-model endpoints, blue/green updates and latency metrics."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import DATA, ROLE, channel, training_request, wait


def endpoint(eng, sm, name: str, model: str, instance: str = "ml.m5.large") -> None:
    sm.create_endpoint_config(EndpointConfigName=f"{name}-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance, "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)


def test_inference_pipeline_chains_real_containers(eng, sm, s3):
    rt = eng.client("sagemaker-runtime")
    sm.create_training_job(**training_request(
        eng, name="pca", algorithm="pca", channels=[channel("train", f"{DATA}/blobs/train/", "text/csv;label_size=0")],
        hyperparameters={"feature_dim": "8", "num_components": "3", "mini_batch_size": "100"}))
    pca_url = wait(sm, "pca")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="pca", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("pca"), "ModelDataUrl": pca_url})
    endpoint(eng, sm, "pca-ep", "pca")
    rows = s3.get_object(Bucket="sagetutor-datasets", Key="blobs/train/part-00000.csv")["Body"].read().decode()
    projected = rt.invoke_endpoint(EndpointName="pca-ep", ContentType="text/csv", Accept="text/csv",
                                   Body=rows)["Body"].read()
    s3.put_object(Bucket="my-bucket", Key="projected/train.csv", Body=projected)
    sm.create_training_job(**training_request(
        eng, name="km", algorithm="kmeans", channels=[channel("train", "s3://my-bucket/projected/", "text/csv")],
        hyperparameters={"k": "5", "feature_dim": "3"}))
    km_url = wait(sm, "km")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="km", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("kmeans"), "ModelDataUrl": km_url})
    sm.create_model(ModelName="pipe", ExecutionRoleArn=ROLE, Containers=[
        {"Image": eng.image_uri("pca"), "ModelDataUrl": pca_url},
        {"Image": eng.image_uri("kmeans"), "ModelDataUrl": km_url}])
    assert [c["Image"] for c in sm.describe_model(ModelName="pipe")["Containers"]] == [
        eng.image_uri("pca"), eng.image_uri("kmeans")]
    endpoint(eng, sm, "km-ep", "km")
    endpoint(eng, sm, "pipe-ep", "pipe")
    sample = "\n".join(rows.splitlines()[:5])
    direct = rt.invoke_endpoint(EndpointName="km-ep", ContentType="text/csv", Accept="application/json",
                                Body="\n".join(projected.decode().splitlines()[:5]))["Body"].read()
    chained = rt.invoke_endpoint(EndpointName="pipe-ep", ContentType="text/csv", Accept="application/json",
                                 Body=sample)["Body"].read()
    assert json.loads(chained) == json.loads(direct)  # raw rows -> PCA -> K-Means == K-Means on PCA's output
    # The same pipeline in batch transform gives the endpoint's answers, row for row.
    s3.put_object(Bucket="my-bucket", Key="batch/in.csv", Body=sample)
    sm.create_transform_job(TransformJobName="pipe-batch", ModelName="pipe",
                            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                            "S3Uri": "s3://my-bucket/batch/"}},
                                            "ContentType": "text/csv", "SplitType": "Line"},
                            TransformOutput={"S3OutputPath": "s3://my-bucket/batch-out", "Accept": "text/csv",
                                             "AssembleWith": "Line"},
                            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="pipe-batch")
    batch = s3.get_object(Bucket="my-bucket", Key="batch-out/in.csv.out")["Body"].read()
    online = rt.invoke_endpoint(EndpointName="pipe-ep", ContentType="text/csv", Accept="text/csv",
                                Body=sample)["Body"].read()
    assert batch.split() == online.split()
    # A pipeline costs nothing extra: one hosting line per endpoint, priced by its instances only.
    eng.advance(3600)
    [pipe], [km] = eng.bill().for_resource("endpoint/pipe-ep"), eng.bill().for_resource("endpoint/km-ep")
    assert pipe.unit_price == km.unit_price


def test_multi_model_endpoint_loads_the_target_model(eng, sm, s3):
    for name in ("a", "b"):
        sm.create_training_job(**training_request(eng, name=name, output=f"s3://my-bucket/models-{name}"))
        wait(sm, name)
        data = s3.get_object(Bucket="my-bucket", Key=f"models-{name}/{name}/output/model.tar.gz")["Body"].read()
        s3.put_object(Bucket="my-bucket", Key=f"mme/{name}.tar.gz", Body=data)
    sm.create_model(ModelName="mme", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": eng.image_uri("xgboost"), "Mode": "MultiModel", "ModelDataUrl": "s3://my-bucket/mme/"})
    endpoint(eng, sm, "mme-ep", "mme")
    rt = eng.client("sagemaker-runtime")
    row = ",".join(["1.0"] * 30)
    r = rt.invoke_endpoint(EndpointName="mme-ep", ContentType="text/csv", Body=row, TargetModel="a.tar.gz")
    assert 0.0 <= float(r["Body"].read()) <= 1.0
    with pytest.raises(ClientError, match=r"Failed to download model data \(bucket: my-bucket, key: mme/c.tar.gz\)"):
        rt.invoke_endpoint(EndpointName="mme-ep", ContentType="text/csv", Body=row, TargetModel="c.tar.gz")
    with pytest.raises(ClientError, match="does not support multi-model endpoints"):
        sm.create_model(ModelName="mme-km", ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": eng.image_uri("kmeans"), "Mode": "MultiModel", "ModelDataUrl": "s3://my-bucket/mme/"})


def test_update_endpoint_is_blue_green_without_lost_requests(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": eng.image_uri("xgboost"),
                                                                            "ModelDataUrl": url})
    endpoint(eng, sm, "ep", "m")
    sm.create_endpoint_config(EndpointConfigName="bigger", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 2}])
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="bigger")
    rt = eng.client("sagemaker-runtime")
    statuses = set()
    for _ in range(12):  # keep calling through the update: every call is answered
        statuses.add(sm.describe_endpoint(EndpointName="ep")["EndpointStatus"])
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=",".join(["1.0"] * 30))
        eng.advance(60)
    assert statuses == {"Updating", "InService"}
    d = sm.describe_endpoint(EndpointName="ep")
    assert d["EndpointConfigName"] == "bigger" and d["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    lines = eng.bill().for_resource("endpoint/ep")
    assert [(li.instance_type, li.instance_count) for li in lines] == [("ml.m5.large", 1), ("ml.c5.xlarge", 2)]
    assert lines[1].start < lines[0].end  # both fleets were billed while the new one came up


def test_invocations_record_latency_metrics(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": eng.image_uri("xgboost"),
                                                                            "ModelDataUrl": url})
    endpoint(eng, sm, "ep", "m")
    rt = eng.client("sagemaker-runtime")
    for _ in range(5):
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=",".join(["1.0"] * 30))
    cw = eng.client("cloudwatch")
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    start = sm.describe_endpoint(EndpointName="ep")["CreationTime"]
    stat = lambda m, s: cw.get_metric_statistics(  # noqa: E731
        Namespace="AWS/SageMaker", MetricName=m, Dimensions=dims, StartTime=start, EndTime=eng.now + __import__(
            "datetime").timedelta(seconds=1), Period=86400, Statistics=[s])["Datapoints"][0][s]
    assert stat("Invocations", "Sum") == 5
    assert 500 < stat("ModelLatency", "Average") < 5000  # microseconds
    assert 1500 <= stat("OverheadLatency", "Minimum") <= stat("OverheadLatency", "Maximum") <= 4000
