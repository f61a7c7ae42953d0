"""Application Auto Scaling on endpoint variants: the API's shapes and errors, and scaling under simulated traffic."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from tests.helpers import ROLE, training_request, wait

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/ep/variant/AllTraffic"
TRACKING = {"TargetValue": 100.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}


@pytest.fixture
def endpoint(eng, sm, s3) -> None:
    """An InService ml.m5.large endpoint "ep" (one instance) serving XGBoost on breast-cancer."""
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")


@pytest.fixture
def aas(eng):
    return eng.client("application-autoscaling")


def register(aas, lo: int = 1, hi: int = 4, rid: str = RID):
    return aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIMENSION,
                                        MinCapacity=lo, MaxCapacity=hi)


def put(aas, name: str = "invocations", config: dict | None = None):
    return aas.put_scaling_policy(PolicyName=name, ServiceNamespace="sagemaker", ResourceId=RID,
                                  ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
                                  TargetTrackingScalingPolicyConfiguration=config or TRACKING)


def counts(sm) -> tuple[str, int, int]:
    d = sm.describe_endpoint(EndpointName="ep")
    v = d["ProductionVariants"][0]
    return d["EndpointStatus"], v["CurrentInstanceCount"], v["DesiredInstanceCount"]


def test_register_put_describe_and_delete_shapes(eng, sm, aas, endpoint):
    arn = register(aas)["ScalableTargetARN"]
    assert re.fullmatch(r"arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/[0-9a-f]{36}", arn)
    [target] = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert {k: target[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension", "MinCapacity",
                                   "MaxCapacity", "ScalableTargetARN")} == {
        "ServiceNamespace": "sagemaker", "ResourceId": RID, "ScalableDimension": DIMENSION, "MinCapacity": 1,
        "MaxCapacity": 4, "ScalableTargetARN": arn}
    assert target["RoleARN"].endswith("/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
    assert target["CreationTime"] == eng.now

    out = put(aas)
    assert re.fullmatch(r"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:[0-9a-f-]{36}:resource/sagemaker/"
                        r"endpoint/ep/variant/AllTraffic:policyName/invocations", out["PolicyARN"])
    assert [a["AlarmName"].split("-")[:2] for a in out["Alarms"]] == [["TargetTracking", "endpoint/ep/variant/AllTraffic"]] * 2
    assert ["AlarmHigh" in out["Alarms"][0]["AlarmName"], "AlarmLow" in out["Alarms"][1]["AlarmName"]] == [True, True]
    [policy] = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RID)["ScalingPolicies"]
    assert policy["PolicyName"] == "invocations" and policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == TRACKING and policy["PolicyARN"] == out["PolicyARN"]
    assert put(aas, config={**TRACKING, "TargetValue": 70.0})["PolicyARN"] == out["PolicyARN"]  # an update, same ARN
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0][
        "TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    assert aas.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"] == []

    aas.delete_scaling_policy(PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=RID,
                              ScalableDimension=DIMENSION)
    with pytest.raises(ClientError) as e:
        aas.delete_scaling_policy(PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=RID,
                                  ScalableDimension=DIMENSION)
    assert e.value.response["Error"] == {
        "Code": "ObjectNotFoundException",
        "Message": "No scaling policy found for service namespace: sagemaker, resource ID: endpoint/ep/variant/"
                   "AllTraffic, scalable dimension: sagemaker:variant:DesiredInstanceCount, policy name: invocations"}
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIMENSION)
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    with pytest.raises(ClientError) as e:
        put(aas)
    assert e.value.response["Error"] == {
        "Code": "ObjectNotFoundException",
        "Message": "No scalable target registered for service namespace: sagemaker, resource ID: endpoint/ep/variant/"
                   "AllTraffic, scalable dimension: sagemaker:variant:DesiredInstanceCount"}
    with pytest.raises(ClientError, match="ObjectNotFoundException.*No scalable target found"):
        aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIMENSION)


def test_validation_errors(eng, sm, aas, endpoint):
    with pytest.raises(ClientError) as e:
        register(aas, lo=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "The minimum capacity 0 is not valid for endpoint/ep/variant/AllTraffic: a real-time endpoint variant must "
        "keep at least 1 instance. Only asynchronous endpoints (AsyncInferenceConfig) can scale to 0 instances.")
    cases = [
        (lambda: register(aas, lo=3, hi=2), "Minimum capacity cannot be larger than maximum capacity"),
        (lambda: register(aas, rid="endpoint/nope/variant/AllTraffic"), "does not exist"),
        (lambda: register(aas, rid="endpoint/ep/AllTraffic"), "Unsupported service namespace, resource type or "
                                                              "scalable dimension"),
        (lambda: aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID,
                                              ScalableDimension="sagemaker:variant:Nope", MinCapacity=1,
                                              MaxCapacity=2), "Member must satisfy enum value set"),
        (lambda: aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID,
                                              ScalableDimension=DIMENSION), "MinCapacity and MaxCapacity are required"),
    ]
    for call, message in cases:
        with pytest.raises(ClientError, match=message) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ValidationException"
    register(aas)
    for config, message in [({"TargetValue": 70.0}, "Exactly one of PredefinedMetricSpecification"),
                            ({"TargetValue": 70.0, "PredefinedMetricSpecification": {
                                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}, "is not valid for")]:
        with pytest.raises(ClientError, match=message):
            put(aas, config=config)


def test_a_spike_scales_out_and_back_in_after_the_cooldown(eng, sm, aas, endpoint):
    register(aas)
    put(aas)  # 100 invocations per instance per minute, default cooldowns (300 s)
    rates = [50] * 10 + [300] * 20 + [20] * 40
    run = eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=rates, minutes=len(rates))
    seen = []
    for _ in range(len(rates) + 2):
        seen.append(counts(sm))
        eng.advance(60)
    assert run.done and run.answered == sum(rates) and run.errors == {}
    assert ("Updating", 1, 3) in seen  # new instances provisioning; the old one keeps serving
    assert max(current for _, current, _ in seen) == 3
    assert seen[-1] == ("InService", 1, 1)
    first_three = next(i for i, s in enumerate(seen) if s[1] == 3)
    back_to_one = next(i for i, s in enumerate(seen) if i > first_three and s[1] == 1)
    assert back_to_one - 30 >= 15  # AlarmLow needs 15 quiet minutes after the spike

    activities = aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RID)["ScalingActivities"]
    assert [a["Description"] for a in activities] == ["Setting desired instance count to 1.",
                                                      "Setting desired instance count to 3."]  # newest first
    scale_in, scale_out = activities
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert scale_out["StatusMessage"] == ("Successfully set desired instance count to 3. Change successfully "
                                          "fulfilled by sagemaker.")
    assert re.fullmatch(r"monitor alarm TargetTracking-endpoint/ep/variant/AllTraffic-AlarmHigh-[0-9a-f-]{36} in "
                        r"state ALARM triggered policy invocations", scale_out["Cause"])
    assert "AlarmLow" in scale_in["Cause"]
    assert (scale_out["EndTime"] - scale_out["StartTime"]).total_seconds() >= 240  # launch + model set-up
    assert (scale_in["StartTime"] - scale_out["EndTime"]).total_seconds() >= 300  # the cooldown

    lines = eng.bill().for_resource("endpoint/ep")
    assert [(li.instance_type, li.instance_count) for li in lines] == [("ml.m5.large", 1), ("ml.m5.large", 3),
                                                                      ("ml.m5.large", 1)]
    assert lines[0].end == lines[1].start and lines[1].end == lines[2].start
    assert lines[1].quantity == 3 * (lines[1].end - lines[1].start)

    before = eng.seconds
    eng.run_until_idle()  # the evaluator never holds the clock: nothing is in progress, so this returns at once
    assert eng.seconds == before


def test_no_traffic_means_no_datapoints_and_no_scale_in(eng, sm, aas, endpoint):
    register(aas)
    put(aas, config={**TRACKING, "ScaleOutCooldown": 60})
    eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=[400] * 12, minutes=12)
    eng.advance(13 * 60)
    eng.advance(60 * 60)  # then silence: SageMaker emits no zero datapoints, so AlarmLow never fires
    assert counts(sm) == ("InService", 4, 4)
    [activity] = aas.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]
    assert activity["Description"] == "Setting desired instance count to 4."  # ceil(400 / 100), at most Max


def test_endpoint_updates_and_deletes_respect_scalable_targets(eng, sm, aas, endpoint):
    register(aas)
    sm.create_endpoint_config(EndpointConfigName="bigger", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1}])
    with pytest.raises(ClientError, match="registered with Application Auto Scaling"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="bigger")
    register(aas, lo=2, hi=4)  # raising the minimum scales out at once
    eng.run_until_idle()
    assert counts(sm) == ("InService", 2, 2)
    [activity] = aas.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]
    assert activity["Description"] == "Setting desired instance count to 2."
    sm.delete_endpoint(EndpointName="ep")  # deregisters the variant, as AWS does
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_step_scaling_policies_run_when_their_alarm_fires(eng, sm, aas, endpoint):
    from engine.services.autoscaling import execute_step_policy

    register(aas, lo=1, hi=3)
    arn = aas.put_scaling_policy(
        PolicyName="steps", ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIMENSION,
        PolicyType="StepScaling", StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 600,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 50.0,
                                 "ScalingAdjustment": 1},
                                {"MetricIntervalLowerBound": 50.0, "ScalingAdjustment": 2}]})["PolicyARN"]
    [policy] = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy["PolicyType"] == "StepScaling" and policy["Alarms"] == []
    world = eng._world  # CloudWatch alarms are not simulated yet: fire the policy as its alarm would
    assert execute_step_policy(world, arn, breach=10.0)
    eng.run_until_idle()
    assert counts(sm) == ("InService", 2, 2)
    assert not execute_step_policy(world, arn, breach=80.0)  # within the policy's cooldown
    eng.advance(600)
    assert execute_step_policy(world, arn, breach=80.0)
    eng.run_until_idle()
    assert counts(sm) == ("InService", 3, 3)  # +2, but never above MaxCapacity
