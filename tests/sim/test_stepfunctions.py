"""Step Functions: ASL state machines orchestrating SageMaker in virtual time, with AWS's history and errors."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine.clock import EPOCH
from engine.pricing import unit_price
from engine.services import asl
from engine.services.sagemaker.transform import Transform
from tests.helpers import ROLE, training_request

SAGEMAKER = "arn:aws:states:::sagemaker:"


def train_parameters(eng, **kw) -> dict:
    """A CreateTrainingJob request for the integration: the job is named after the execution."""
    params = training_request(eng, **kw)
    del params["TrainingJobName"]
    params["TrainingJobName.$"] = "$$.Execution.Name"
    return params


def deploy_states(end: dict) -> dict:
    """createModel -> createEndpointConfig -> createEndpoint, from the training step's selected result."""
    return {
        "CreateModel": {"Type": "Task", "Resource": SAGEMAKER + "createModel",
                        "Parameters": {"ModelName.$": "$.training.job", "ExecutionRoleArn": ROLE,
                                       "PrimaryContainer": {"Image.$": "$.image",
                                                            "ModelDataUrl.$": "$.training.model"}},
                        "ResultPath": "$.model", "Next": "CreateEndpointConfig"},
        "CreateEndpointConfig": {"Type": "Task", "Resource": SAGEMAKER + "createEndpointConfig",
                                 "Parameters": {"EndpointConfigName.$": "$.training.job",
                                                "ProductionVariants": [{"VariantName": "AllTraffic",
                                                                        "ModelName.$": "$.training.job",
                                                                        "InstanceType": "ml.m5.large",
                                                                        "InitialInstanceCount": 1}]},
                                 "ResultPath": "$.config", "Next": "CreateEndpoint"},
        "CreateEndpoint": {"Type": "Task", "Resource": SAGEMAKER + "createEndpoint",
                           "Parameters": {"EndpointName.$": "$.endpoint",
                                          "EndpointConfigName.$": "$.training.job"},
                           "ResultPath": "$.endpointArn", **end},
    }


def pipeline(eng, threshold: float = 0.9, catch: bool = False, **train) -> dict:
    train_state = {
        "Type": "Task", "Resource": SAGEMAKER + "createTrainingJob.sync", "Parameters": train_parameters(eng, **train),
        "ResultSelector": {"job.$": "$.TrainingJobName", "model.$": "$.ModelArtifacts.S3ModelArtifacts",
                           "auc.$": "$.FinalMetricDataList[?(@.MetricName == 'validation:auc')].Value"},
        "ResultPath": "$.training", "Next": "Evaluate"}
    if catch:
        train_state["Catch"] = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure",
                                 "Next": "TrainingFailed"}]
    states = {
        "Train": train_state,
        "Evaluate": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.training.auc[0]", "IsNumeric": True},
                     {"Variable": "$.training.auc[0]", "NumericGreaterThan": threshold}], "Next": "CreateModel"}],
            "Default": "NotGoodEnough"},
        "NotGoodEnough": {"Type": "Fail", "Error": "ModelQualityTooLow", "Cause": "validation:auc is not above "
                                                                                 f"{threshold}"},
        "TrainingFailed": {"Type": "Pass", "Parameters": {"alert": "training failed",
                                                          "reason.$": "States.StringToJson($.failure.Cause)"},
                           "OutputPath": "$.reason.FailureReason", "End": True},
        **deploy_states({"End": True}),
    }
    if not catch:
        del states["TrainingFailed"]
    return {"Comment": "train -> evaluate -> deploy", "StartAt": "Train", "States": states}


@pytest.fixture
def sfn(eng):
    return eng.client("stepfunctions")


def run(eng, sfn, definition: dict, name: str = "run-1", data: dict | None = None,
        machine: str = "pipeline") -> str:
    arn = sfn.create_state_machine(name=machine, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(data or {}))["executionArn"]
    eng.run_until_idle()
    return ex


def history(sfn, ex: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]


def steps(events: list[dict]) -> list[tuple[str, str | None]]:
    """(event type, state name) for the events that name a state."""
    out = []
    for e in events:
        d = e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}
        out.append((e["type"], d.get("name")))
    return out


def test_train_evaluate_deploy_succeeds_with_aws_history(eng, sm, s3, sfn):
    data = {"image": eng.image_uri("xgboost"), "endpoint": "churn-ep"}
    ex = run(eng, sfn, pipeline(eng), data=data)
    d = sfn.describe_execution(executionArn=ex)
    assert d["status"] == "SUCCEEDED", d
    job = sm.describe_training_job(TrainingJobName="run-1")
    auc = next(m["Value"] for m in job["FinalMetricDataList"] if m["MetricName"] == "validation:auc")
    assert auc > 0.9
    out = json.loads(d["output"])
    assert out["training"] == {"job": "run-1", "model": job["ModelArtifacts"]["S3ModelArtifacts"], "auc": [auc]}
    assert out["endpointArn"]["EndpointArn"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-ep"

    events = history(sfn, ex)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["previousEventId"] for e in events] == [0, 0] + list(range(2, len(events)))
    task = ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    assert [t for t, _ in steps(events)] == (
        ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
         "TaskStateExited", "ChoiceStateEntered", "ChoiceStateExited"]
        + ["TaskStateEntered", *task, "TaskStateExited"] * 3 + ["ExecutionSucceeded"])
    assert [n for t, n in steps(events) if t.endswith("Entered")] == [
        "Train", "Evaluate", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    # Virtual timestamps: the .sync task succeeds at the instant the job ends; the rest follows at once.
    assert events[0]["timestamp"] == d["startDate"] == EPOCH  # the execution started at the clock's zero
    submitted, succeeded = events[4], events[5]
    assert submitted["timestamp"] == events[0]["timestamp"]
    assert succeeded["timestamp"] == job["TrainingEndTime"] > submitted["timestamp"]
    assert events[-1]["timestamp"] == d["stopDate"] == job["TrainingEndTime"]
    scheduled = events[2]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"], scheduled["region"]) == (
        "sagemaker", "createTrainingJob.sync", "us-east-1")
    assert json.loads(scheduled["parameters"])["TrainingJobName"] == "run-1"
    sync_output = json.loads(succeeded["taskSucceededEventDetails"]["output"])
    assert sync_output["TrainingJobStatus"] == "Completed"  # the DescribeTrainingJob response ...
    assert sync_output["TrainingEndTime"] == int(job["TrainingEndTime"].timestamp() * 1000)  # ... epoch millis
    model_output = json.loads(events[12]["taskSucceededEventDetails"]["output"])
    assert model_output["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/run-1"
    assert model_output["SdkHttpMetadata"]["HttpStatusCode"] == 200

    sm.get_waiter("endpoint_in_service").wait(EndpointName="churn-ep")
    [line] = eng.bill().for_resource("execution:pipeline:run-1")
    per_transition = unit_price("step-functions-transition-1k").usd / Decimal(1000)
    assert (line.usage_type, line.quantity, line.unit_price) == ("state-transitions", 5, per_transition)
    listed = sfn.list_executions(stateMachineArn=d["stateMachineArn"])["executions"]
    assert [(x["name"], x["status"]) for x in listed] == [("run-1", "SUCCEEDED")]


def test_a_model_below_the_threshold_is_not_deployed(eng, sm, s3, sfn):
    ex = run(eng, sfn, pipeline(eng, threshold=0.9999), data={"image": eng.image_uri("xgboost"), "endpoint": "e"})
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "ModelQualityTooLow",
                                                     "validation:auc is not above 0.9999")
    assert [t for t, _ in steps(history(sfn, ex))][-3:] == ["ChoiceStateExited", "FailStateEntered",
                                                            "ExecutionFailed"]
    assert sm.list_models()["Models"] == []


def test_a_failing_training_job_goes_to_the_catch_branch(eng, sm, s3, sfn):
    bad = {"objective": "binary:logistic", "num_round": "many", "eval_metric": "auc"}
    ex = run(eng, sfn, pipeline(eng, catch=True, hyperparameters=bad),
             data={"image": eng.image_uri("xgboost"), "endpoint": "e"})
    d = sfn.describe_execution(executionArn=ex)
    job = sm.describe_training_job(TrainingJobName="run-1")
    assert job["TrainingJobStatus"] == "Failed"
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == job["FailureReason"]
    events = history(sfn, ex)
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "States.TaskFailed"
    assert json.loads(failed["cause"])["FailureReason"] == job["FailureReason"]
    assert [n for t, n in steps(events) if t.endswith("Entered")] == ["Train", "TrainingFailed"]
    assert [t for t, _ in steps(events)][5:8] == ["TaskFailed", "TaskStateExited", "PassStateEntered"]


def test_retry_backs_off_in_virtual_time_then_catch_handles_the_error(eng, sm, sfn):
    retrying = {
        "StartAt": "CreateModel",
        "States": {
            "CreateModel": {"Type": "Task", "Resource": SAGEMAKER + "createModel",
                            "Parameters": {"ModelName": "m", "ExecutionRoleArn": ROLE,
                                           "PrimaryContainer": {"Image": eng.image_uri("xgboost"),
                                                                "ModelDataUrl": "s3://nowhere/model.tar.gz"}},
                            "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "IntervalSeconds": 2,
                                       "BackoffRate": 3, "MaxAttempts": 3}],
                            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Give up"}],
                            "End": True},
            "Give up": {"Type": "Fail", "Error": "DeployFailed", "CausePath": "$.error.Cause"},
        },
    }
    ex = run(eng, sfn, retrying)
    events = history(sfn, ex)
    scheduled = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    assert len(scheduled) == len(failed) == 4  # the first attempt and MaxAttempts retries
    waits = [b - a["timestamp"] for a, b in zip(failed, scheduled[1:])]
    assert waits == [timedelta(seconds=2), timedelta(seconds=6), timedelta(seconds=18)]
    error = failed[-1]["taskFailedEventDetails"]
    assert error["error"] == "SageMaker.AmazonSageMakerException"
    assert error["cause"].startswith("Could not find model data at s3://nowhere/model.tar.gz. (Service: "
                                     "AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID:")
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], d["error"], d["cause"]) == ("FAILED", "DeployFailed", error["cause"])
    assert d["stopDate"] - d["startDate"] == timedelta(seconds=26)
    [line] = eng.bill().for_resource(":run-1")
    assert line.quantity == 2 + 3  # two states entered, three retries


def test_an_invalid_definition_is_refused_with_invalid_definition(eng, sfn):
    cases = [
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "C": {"Type": "Succeed"}}},
         "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'"),
        ({"States": {"A": {"Type": "Succeed"}}},
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /'"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}},
         "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at /States'"),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": SAGEMAKER + "createModel.sync", "End": True}}},
         "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided "
         "arn:aws:states:::sagemaker:createModel.sync is not recognized. The value is not a valid resource ARN, or "
         "the resource is not available in this region. at /States/A/Resource'"),
    ]
    for definition, message in cases:
        with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
            sfn.create_state_machine(name="bad", definition=json.dumps(definition), roleArn=ROLE)
        assert e.value.response["Error"]["Message"] == message
    two = {"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1,
                                                                            "Next": "Nope"}], "Default": "Gone"},
                                      "B": {"Type": "Succeed"}}}
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="bad", definition=json.dumps(two), roleArn=ROLE)
    assert e.value.response["Error"]["Message"] == (  # several problems: each quoted, as AWS lists them
        "Invalid State Machine Definition: ''MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at "
        "/States/A/Choices/0/Next', 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Gone at /States/A/Default''")
    with pytest.raises(ClientError, match="INVALID_JSON_DESCRIPTION"):
        sfn.create_state_machine(name="bad", definition="{", roleArn=ROLE)
    assert sfn.list_state_machines()["stateMachines"] == []


def test_stop_execution_aborts_and_stops_the_training_job(eng, sm, s3, sfn):
    arn = sfn.create_state_machine(name="train", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Train", "States": {"Train": {"Type": "Task", "Resource": SAGEMAKER + "createTrainingJob.sync",
                                                 "Parameters": train_parameters(eng), "End": True}}}))["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, name="run-1")["executionArn"]
    eng.advance(30)
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=ex, error="Operator", cause="wrong data")
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Operator", "wrong data")
    assert history(sfn, ex)[-1]["type"] == "ExecutionAborted"
    eng.run_until_idle()
    assert sm.describe_training_job(TrainingJobName="run-1")["TrainingJobStatus"] == "Stopped"


def test_create_training_job_without_sync_returns_at_once(eng, sm, s3, sfn):
    ex = run(eng, sfn, {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": SAGEMAKER + "createTrainingJob", "Parameters": train_parameters(eng),
        "OutputPath": "$.TrainingJobArn", "End": True}}})
    d = sfn.describe_execution(executionArn=ex)
    assert json.loads(d["output"]) == "arn:aws:sagemaker:us-east-1:123456789012:training-job/run-1"
    assert d["stopDate"] == d["startDate"]  # it did not wait for the job
    assert sm.describe_training_job(TrainingJobName="run-1")["TrainingJobStatus"] == "Completed"  # ran on its own


def test_batch_scoring_pipeline_with_transform_sync(eng, sm, s3, sfn):
    if not hasattr(Transform, "create_transform_job"):
        pytest.skip("batch transform (engine/services/sagemaker/transform.py) is not implemented yet")
    definition = {"StartAt": "Train", "States": {
        "Train": {"Type": "Task", "Resource": SAGEMAKER + "createTrainingJob.sync",
                  "Parameters": train_parameters(eng),
                  "ResultSelector": {"job.$": "$.TrainingJobName", "model.$": "$.ModelArtifacts.S3ModelArtifacts"},
                  "ResultPath": "$.training", "Next": "CreateModel"},
        "CreateModel": {**deploy_states({})["CreateModel"], "Next": "Score"},
        "Score": {"Type": "Task", "Resource": SAGEMAKER + "createTransformJob.sync",
                  "Parameters": {"TransformJobName.$": "States.Format('{}-score', $$.Execution.Name)",
                                 "ModelName.$": "$.training.job",
                                 "TransformInput": {"DataSource": {"S3DataSource": {
                                     "S3DataType": "S3Prefix", "S3Uri": "s3://sagetutor-datasets/breast-cancer/test/"}},
                                     "ContentType": "text/csv", "SplitType": "Line"},
                                 "DataProcessing": {"InputFilter": "$[1:]"},  # the test split's first column is the label
                                 "TransformOutput": {"S3OutputPath": "s3://my-bucket/scores/"},
                                 "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
                  "OutputPath": "$.TransformJobStatus", "End": True}}}
    ex = run(eng, sfn, definition, data={"image": eng.image_uri("xgboost")})
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], json.loads(d.get("output", "null"))) == ("SUCCEEDED", "Completed"), d
    job = sm.describe_transform_job(TransformJobName="run-1-score")
    [done] = [e for e in history(sfn, ex) if e["type"] == "TaskSucceeded"][-1:]
    assert done["timestamp"] - job["TransformEndTime"] < timedelta(seconds=5 + 1)  # noticed within a poll


def test_state_machine_api_errors(eng, sfn):
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist, match=f"State Machine Does Not Exist: '{missing}'"):
        sfn.describe_state_machine(stateMachineArn=missing)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="has space", definition='{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}',
                                 roleArn=ROLE)
    ok = '{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","Next":"W"},' \
         '"W":{"Type":"Wait","Seconds":90,"Next":"S"},"S":{"Type":"Succeed","OutputPath":"$.r"}}}'
    arn = sfn.create_state_machine(name="ok", definition=ok, roleArn=ROLE)["stateMachineArn"]
    assert sfn.create_state_machine(name="ok", definition=ok, roleArn=ROLE)["stateMachineArn"] == arn  # idempotent
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name="ok", definition=ok.replace("90", "91"), roleArn=ROLE)
    ex = sfn.start_execution(stateMachineArn=arn, name="e1", input='{"in": true}')["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="e1", input='{"other": 1}')
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, name="e2", input="{nope")
    eng.run_until_idle()
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], json.loads(d["output"])) == ("SUCCEEDED", {"x": 1})
    assert d["stopDate"] - d["startDate"] == timedelta(seconds=90)
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex, reverseOrder=True)["events"]]
    assert types[:3] == ["ExecutionSucceeded", "SucceedStateExited", "SucceedStateEntered"]
    assert "WaitStateExited" in types
    page = sfn.get_execution_history(executionArn=ex, maxResults=2, includeExecutionData=False)
    assert len(page["events"]) == 2 and "nextToken" in page
    assert "input" not in page["events"][0]["executionStartedEventDetails"]
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_paths_intrinsics_and_choice_rules():
    data = {"metrics": [{"MetricName": "train:auc", "Value": 1.0}, {"MetricName": "validation:auc", "Value": 0.93}],
            "name": "job", "n": 3, "when": "2026-01-05T10:00:00Z", "flag": True}
    ctx = {"Execution": {"Name": "run-7"}}
    assert asl.compile_path("$.metrics[?(@.MetricName == 'validation:auc')].Value").find(data) == [0.93]
    assert asl.compile_path("$.metrics[-1].MetricName").find(data) == "validation:auc"
    assert asl.compile_path("$..Value").find(data) == [1.0, 0.93]
    assert asl.compile_path("$.metrics[0:1]").find(data) == [data["metrics"][0]]
    assert asl.render({"job.$": "States.Format('{}-{}', $$.Execution.Name, $.n)", "k": {"v.$": "$.name"}},
                      data, ctx) == {"job": "run-7-3", "k": {"v": "job"}}
    assert asl.put("$.a.b", {"x": 1}, 2) == {"x": 1, "a": {"b": 2}}
    assert asl.put(None, {"x": 1}, 2) == {"x": 1}
    with pytest.raises(asl.RuntimeFailure, match="could not be found in the input"):
        asl.render({"v.$": "$.missing"}, data, ctx)
    rule = {"Or": [{"Variable": "$.n", "NumericGreaterThanEquals": 4},
                   {"And": [{"Variable": "$.name", "StringMatches": "j*"},
                            {"Not": {"Variable": "$.flag", "BooleanEquals": False}},
                            {"Variable": "$.when", "TimestampGreaterThan": "2026-01-05T09:00:00Z"},
                            {"Variable": "$.nothing", "IsPresent": False}]}]}
    assert asl.evaluate_rule(rule, data, ctx) is True
    assert asl.evaluate_rule({"Variable": "$.name", "NumericEquals": 3}, data, ctx) is False  # a type mismatch
    with pytest.raises(asl.RuntimeFailure, match="The choice state's condition path references an invalid value"):
        asl.evaluate_rule({"Variable": "$.nothing", "NumericEquals": 3}, data, ctx)
    assert asl.error_matches(["States.TaskFailed"], "SageMaker.AmazonSageMakerException")
    assert not asl.error_matches(["States.TaskFailed"], "States.Timeout")
