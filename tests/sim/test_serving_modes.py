"""Serverless and asynchronous endpoints: what they bill, when they are cold, where async results go."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from tests.helpers import ROLE, training_request, wait

SERVERLESS = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture
def model(eng, sm, s3) -> str:
    """A trained XGBoost model (breast-cancer) registered as "m"; returns its model data URL."""
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    return url


def rows(s3, n: int) -> list[str]:
    text = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")["Body"].read()
    return [line.split(",", 1)[1] for line in text.decode().splitlines()[:n]]


def serverless_endpoint(sm, name: str = "sl", **config) -> None:
    sm.create_endpoint_config(EndpointConfigName=f"{name}-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "ServerlessConfig": {**SERVERLESS, **config}}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)


def instance_endpoint(sm, name: str, count: int = 1, **extra) -> None:
    sm.create_endpoint_config(EndpointConfigName=f"{name}-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large",
         "InitialInstanceCount": count}], **extra)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)


def stat(eng, metric: str, statistic: str, dims: dict[str, str]) -> float | None:
    points = eng.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName=metric, Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=eng.now - timedelta(days=3), EndTime=eng.now + timedelta(minutes=2), Period=6 * 86400,
        Statistics=[statistic])["Datapoints"]
    return points[0][statistic] if points else None


def cost(eng, endpoint: str) -> Decimal:
    return sum((li.amount for li in eng.bill().for_resource(f"endpoint/{endpoint}")), Decimal(0))


# -- serverless ------------------------------------------------------------------------------------
def test_serverless_bills_only_while_serving_and_is_cold_after_idle(eng, sm, s3, model):
    rt = eng.client("sagemaker-runtime")
    serverless_endpoint(sm)
    variant = sm.describe_endpoint(EndpointName="sl")["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == SERVERLESS and "CurrentInstanceCount" not in variant
    eng.advance(3600)
    assert eng.bill().for_resource("endpoint/sl") == []  # standing idle costs nothing

    dims = {"EndpointName": "sl", "VariantName": "AllTraffic"}
    for row in rows(s3, 3):
        assert 0.0 <= float(rt.invoke_endpoint(EndpointName="sl", ContentType="text/csv", Body=row)["Body"].read()) <= 1
    assert stat(eng, "ModelSetupTime", "SampleCount", dims) == 1  # only the first request was cold
    assert 1_000_000 <= stat(eng, "ModelSetupTime", "Minimum", dims) <= 3_000_000  # microseconds
    lines = {li.usage_type: li for li in eng.bill().for_resource("endpoint/sl")}
    assert set(lines) == {"serverless-inference-compute", "serverless-inference-data"}
    compute = lines["serverless-inference-compute"]
    assert compute.unit == "GB-second" and compute.pricing_model == "serverless"
    assert compute.quantity == Decimal("0.006")  # 3 requests x 1 ms (billed per ms) x 2 GB
    before = [li.as_dict() for li in eng.bill()]

    eng.advance(6 * 3600)  # idle: no line grows, none appears
    assert [li.as_dict() for li in eng.bill()] == before

    rt.invoke_endpoint(EndpointName="sl", ContentType="text/csv", Body=rows(s3, 1)[0])
    assert stat(eng, "ModelSetupTime", "SampleCount", dims) == 2  # cold again after more than 10 idle minutes
    eng.advance(300)
    rt.invoke_endpoint(EndpointName="sl", ContentType="text/csv", Body=rows(s3, 1)[0])
    assert stat(eng, "ModelSetupTime", "SampleCount", dims) == 2  # 5 minutes later it is still warm
    assert stat(eng, "Invocations", "Sum", dims) == 5
    assert sum(li.quantity for li in eng.bill().for_resource("endpoint/sl")
               if li.usage_type == "serverless-inference-compute") == Decimal("0.010")


def test_serverless_cold_start_shows_in_traffic_latency(eng, sm, s3, model):
    serverless_endpoint(sm, MemorySizeInMB=6144)
    run = eng.traffic(EndpointName="sl", dataset="breast-cancer", per_minute=[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4],
                      minutes=13)
    eng.run_until_idle()
    assert run.answered == 8 and run.errors == {}
    cold = [ms for ms in run.latencies_ms if ms >= 1000]
    assert len(cold) == 2  # the first request, and the first after 11 idle minutes
    assert all(1000 <= ms <= 3000 for ms in cold)  # 6 GB starts quicker than the 1-3 s of 1 GB
    assert all(ms < 10 for ms in run.latencies_ms if ms < 1000)


def test_sparse_daily_workload_priced_three_ways(eng, sm, s3, model):
    """The same 120 requests a day: always-on endpoint, serverless, and batch-style (spin up, send, delete)."""
    day = [5 if minute % 60 == 0 else 0 for minute in range(24 * 60)]
    instance_endpoint(sm, "always-on")
    serverless_endpoint(sm, "serverless")
    runs = [eng.traffic(EndpointName=name, dataset="breast-cancer", per_minute=day, minutes=len(day))
            for name in ("always-on", "serverless")]
    eng.run_until_idle()
    assert [r.answered for r in runs] == [120, 120]
    instance_endpoint(sm, "batch")  # the day's requests in one go, then the instance is gone
    batch = eng.traffic(EndpointName="batch", dataset="breast-cancer", per_minute=[120], minutes=1)
    eng.run_until_idle()
    sm.delete_endpoint(EndpointName="batch")
    assert batch.answered == 120
    always_on, serverless, batch_style = (cost(eng, n) for n in ("always-on", "serverless", "batch"))
    assert Decimal(0) < serverless < batch_style < always_on
    assert always_on > Decimal("3.0")  # a day of ml.m5.large at about $0.134 an hour
    assert serverless < Decimal("0.01")  # milliseconds of compute, nothing while idle


def test_serverless_validation_errors(eng, sm, s3, model):
    sm.create_model(ModelName="pipe", ExecutionRoleArn=ROLE, Containers=[
        {"Image": eng.image_uri("xgboost"), "ModelDataUrl": model},
        {"Image": eng.image_uri("xgboost"), "ModelDataUrl": model}])

    def config(variants=None, **extra):
        variants = variants or [{"VariantName": "v", "ModelName": "m", "ServerlessConfig": dict(SERVERLESS)}]
        return lambda: sm.create_endpoint_config(EndpointConfigName="bad", ProductionVariants=variants, **extra)

    sc = dict(SERVERLESS)
    cases = [
        (config([{"VariantName": "v", "ModelName": "m", "ServerlessConfig": {**sc, "MemorySizeInMB": 1500}}]),
         "Member must be a multiple of 1024"),
        (config([{"VariantName": "v", "ModelName": "m", "ServerlessConfig": {**sc, "MemorySizeInMB": 8192}}]),
         "Member must have value less than or equal to 6144"),
        (config([{"VariantName": "v", "ModelName": "m", "ServerlessConfig": {**sc, "ProvisionedConcurrency": 6}}]),
         r"ProvisionedConcurrency \(6\) must be less than or equal to MaxConcurrency \(5\)"),
        (config(DataCaptureConfig={"InitialSamplingPercentage": 100, "DestinationS3Uri": "s3://my-bucket/capture",
                                   "CaptureOptions": [{"CaptureMode": "Input"}]}),
         "Serverless endpoints do not support data capture"),
        (config([{"VariantName": "a", "ModelName": "m", "ServerlessConfig": sc},
                 {"VariantName": "b", "ModelName": "m", "ServerlessConfig": sc}]),
         "Serverless endpoints support a single production variant"),
        (config([{"VariantName": "v", "ModelName": "pipe", "ServerlessConfig": sc}]),
         "Serverless endpoints do not support inference pipelines"),
        (config([{"VariantName": "v", "ModelName": "m", "ServerlessConfig": sc, "InstanceType": "ml.m5.large"}]),
         "specify either ServerlessConfig or InstanceType"),
        (config([{"VariantName": "v", "ModelName": "m", "ServerlessConfig": sc, "AcceleratorType": "ml.eia2.medium"}]),
         "serverless endpoints do not support GPUs"),
    ]
    for make, message in cases:
        with pytest.raises(ClientError, match=message) as e:
            make()
        assert e.value.response["Error"]["Code"] == "ValidationException"

    serverless_endpoint(sm)
    rt = eng.client("sagemaker-runtime")
    with pytest.raises(ClientError) as e:  # 4 MB for serverless, where real-time takes 6 MB
        rt.invoke_endpoint(EndpointName="sl", ContentType="text/csv", Body=b"1" * (4 * 1024 * 1024 + 1))
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"].endswith("has oversize body.")


def test_provisioned_concurrency_is_warm_and_billed_while_standing(eng, sm, s3, model):
    serverless_endpoint(sm, ProvisionedConcurrency=2)
    eng.advance(3600)
    [line] = eng.bill().for_resource("endpoint/sl")
    assert line.usage_type == "serverless-provisioned-concurrency-seconds" and line.instance_count == 2
    assert line.quantity >= 2 * 3600
    eng.client("sagemaker-runtime").invoke_endpoint(EndpointName="sl", ContentType="text/csv", Body=rows(s3, 1)[0])
    assert stat(eng, "ModelSetupTime", "SampleCount", {"EndpointName": "sl", "VariantName": "AllTraffic"}) is None


# -- asynchronous ---------------------------------------------------------------------------------------
ASYNC = {"OutputConfig": {"S3OutputPath": "s3://my-bucket/async-out/", "S3FailurePath": "s3://my-bucket/async-fail/"},
         "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}


def test_async_writes_output_and_failures(eng, sm, s3, model):
    instance_endpoint(sm, "async", AsyncInferenceConfig=ASYNC)
    assert sm.describe_endpoint(EndpointName="async")["AsyncInferenceConfig"] == ASYNC
    rt = eng.client("sagemaker-runtime")
    good = "\n".join(rows(s3, 5))
    s3.put_object(Bucket="my-bucket", Key="in/good.csv", Body=good)
    s3.put_object(Bucket="my-bucket", Key="in/bad.csv", Body="not,numbers")

    r = rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://my-bucket/in/good.csv",
                                 ContentType="text/csv", InferenceId="first")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert r["InferenceId"] == "first"
    assert r["OutputLocation"] == "s3://my-bucket/async-out/first.out"
    assert r["FailureLocation"] == "s3://my-bucket/async-fail/first-error.out"
    with pytest.raises(ClientError, match="NoSuchKey"):  # queued: nothing written yet
        s3.get_object(Bucket="my-bucket", Key="async-out/first.out")
    bad = rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://my-bucket/in/bad.csv",
                                   ContentType="text/csv")
    missing = rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://my-bucket/in/nothing.csv")
    eng.advance(10)

    out = s3.get_object(Bucket="my-bucket", Key="async-out/first.out")["Body"].read().decode().split()
    real_time = eng.client("sagemaker-runtime")
    instance_endpoint(sm, "rt")
    direct = real_time.invoke_endpoint(EndpointName="rt", ContentType="text/csv", Body=good)["Body"].read().decode()
    assert out == direct.split() and len(out) == 5  # the same real predictions as a real-time endpoint
    bad_key = bad["FailureLocation"].split("/", 3)[3]
    error = s3.get_object(Bucket="my-bucket", Key=bad_key)["Body"].read().decode()
    assert error.startswith("Received client error (400) from primary with message")
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket="my-bucket", Key=bad["OutputLocation"].split("/", 3)[3])
    assert "Failed to download input data" in s3.get_object(
        Bucket="my-bucket", Key=missing["FailureLocation"].split("/", 3)[3])["Body"].read().decode()

    with pytest.raises(ClientError, match="is an asynchronous endpoint"):
        rt.invoke_endpoint(EndpointName="async", ContentType="text/csv", Body=rows(s3, 1)[0])
    with pytest.raises(ClientError, match="is not configured for asynchronous inference"):
        rt.invoke_endpoint_async(EndpointName="rt", InputLocation="s3://my-bucket/in/good.csv")


def test_async_scales_to_zero_stops_billing_and_scales_out_for_new_requests(eng, sm, s3, model):
    instance_endpoint(sm, "async", AsyncInferenceConfig=ASYNC)
    aas, rt = eng.client("application-autoscaling"), eng.client("sagemaker-runtime")
    rid = "endpoint/async/variant/AllTraffic"
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION,
                                 MinCapacity=0, MaxCapacity=2)
    aas.put_scaling_policy(
        PolicyName="backlog", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 1.0, "ScaleInCooldown": 120, "ScaleOutCooldown": 120,
            "CustomizedMetricSpecification": {"MetricName": "ApproximateBacklogSizePerInstance",
                                              "Namespace": "AWS/SageMaker", "Statistic": "Average",
                                              "Dimensions": [{"Name": "EndpointName", "Value": "async"}]}})
    s3.put_object(Bucket="my-bucket", Key="in/x.csv", Body="\n".join(rows(s3, 3)))

    def count() -> int:
        return sm.describe_endpoint(EndpointName="async")["ProductionVariants"][0]["CurrentInstanceCount"]

    rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://my-bucket/in/x.csv", InferenceId="a")
    eng.advance(25 * 60)  # processed at once; then 15 empty minutes and the cooldown
    assert count() == 0
    activity = aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingActivities"][0]
    assert activity["Description"] == "Setting desired instance count to 0." and activity["StatusCode"] == "Successful"
    eng.run_until_idle()  # returns although the policy's evaluator keeps running
    billed = [li.as_dict() for li in eng.bill().for_resource("endpoint/async")]
    eng.advance(3 * 3600)
    assert [li.as_dict() for li in eng.bill().for_resource("endpoint/async")] == billed  # zero instances: no cost

    locations = [rt.invoke_endpoint_async(EndpointName="async", InputLocation="s3://my-bucket/in/x.csv")
                 ["OutputLocation"] for _ in range(3)]
    eng.advance(120)
    assert stat(eng, "HasBacklogWithoutCapacity", "Maximum", {"EndpointName": "async"}) == 1
    assert count() == 0  # queued, waiting for capacity
    eng.advance(15 * 60)
    assert count() >= 1
    for location in locations:  # the queued requests were processed once an instance came up
        assert len(s3.get_object(Bucket="my-bucket", Key=location.split("/", 3)[3])["Body"].read().split()) == 3
    lines = eng.bill().for_resource("endpoint/async")
    assert len(lines) == len(billed) + 1 and lines[-1].instance_count >= 1
    descriptions = [a["Description"] for a in aas.describe_scaling_activities(ServiceNamespace="sagemaker")
                    ["ScalingActivities"]]
    assert descriptions[0] == "Setting desired instance count to 2."  # ceil(3 queued / target 1), at most Max


def test_min_capacity_zero_is_allowed_for_async_only(eng, sm, s3, model):
    instance_endpoint(sm, "async", AsyncInferenceConfig=ASYNC)
    aas = eng.client("application-autoscaling")
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/async/variant/AllTraffic",
                                 ScalableDimension=DIMENSION, MinCapacity=0, MaxCapacity=1)
    [target] = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["MinCapacity"] == 0


# -- simulated traffic ----------------------------------------------------------------------------------
def test_traffic_answers_every_request_through_the_hooks_and_the_variant_weights(eng, sm, s3, model):
    sm.create_endpoint_config(EndpointConfigName="ab", ProductionVariants=[
        {"VariantName": "A", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
         "InitialVariantWeight": 3.0},
        {"VariantName": "B", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
         "InitialVariantWeight": 1.0}])
    sm.create_endpoint(EndpointName="ab", EndpointConfigName="ab")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ab")
    seen = []
    eng._world.services["sagemaker"].hosting.invocation_hooks.append(seen.append)
    start = eng.seconds
    run = eng.traffic(EndpointName="ab", dataset="breast-cancer", per_minute=[200, 0, 200], minutes=3)
    eng.run_until_idle()
    mine = [inv for inv in seen if inv.endpoint == "ab"]
    assert run.answered == len(mine) == 400 and len(run.latencies_ms) == 400
    assert [inv.seconds for inv in mine] == sorted(inv.seconds for inv in mine)
    assert mine[0].seconds == start and mine[199].seconds == start + 199 * 0.3  # spread over the minute
    assert mine[200].seconds == start + 120
    share = sum(inv.variant == "A" for inv in mine) / 400
    assert 0.68 <= share <= 0.82  # weights 3:1
    for inv in mine[:20]:  # each request got its own answer, the model's for its row
        assert inv.request.count(b",") == 29 and 0.0 <= float(inv.response) <= 1.0
        direct = eng.client("sagemaker-runtime").invoke_endpoint(EndpointName="ab", ContentType="text/csv",
                                                                 Body=inv.request)["Body"].read()
        assert direct == inv.response
    dims = {"EndpointName": "ab", "VariantName": "A"}
    assert stat(eng, "Invocations", "Sum", dims) == sum(inv.variant == "A" for inv in seen)


def test_a_hook_is_skipped_for_the_endpoints_it_does_not_want(eng, sm, model):
    sm.create_endpoint_config(EndpointConfigName="one", ProductionVariants=[
        {"VariantName": "A", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    for name in ("wanted", "other"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName="one")
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name)

    class Picky:
        def __init__(self):
            self.seen, self.asked = [], []

        def wants(self, endpoint):
            self.asked.append(endpoint)
            return endpoint == "wanted"

        def __call__(self, inv):
            self.seen.append(inv.endpoint)

    picky = Picky()
    eng._world.services["sagemaker"].hosting.invocation_hooks.append(picky)
    for name in ("wanted", "other"):
        eng.traffic(EndpointName=name, dataset="breast-cancer", per_minute=50, minutes=2)
    eng.run_until_idle()
    assert picky.seen == ["wanted"] * 100 and set(picky.asked) == {"wanted", "other"}
    runtime = eng.client("sagemaker-runtime")
    for name in ("other", "wanted"):  # a single request goes by the same rule
        runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=",".join(["0.5"] * 30))
    assert picky.seen == ["wanted"] * 101
