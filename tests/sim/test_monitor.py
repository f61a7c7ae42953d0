"""Model Monitor data quality: capture, a real baseline, hourly executions that find real drift."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import numpy as np
import pytest
from botocore.exceptions import ClientError, WaiterError

from engine import Engine
from engine.services.sagemaker.monitor import MODEL_MONITOR_IMAGE
from tests.helpers import ROLE, training_request, wait

CAPTURE = "s3://my-bucket/capture"
TRAIN = "s3://sagetutor-datasets/breast-cancer/train/"
CLUSTER = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
HOUR = 3600


def deploy(eng, sm, *, capture: dict | None = None, name: str = "ep") -> None:
    """Train XGBoost on breast-cancer and deploy it with data capture (100%, CSV as CSV by default)."""
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    if capture is None:
        capture = {"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": CAPTURE,
                   "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                   "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}}
    sm.create_endpoint_config(EndpointConfigName="c", DataCaptureConfig=capture, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName="c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name)


def suggest_baseline(sm, name: str = "baseline", data: str = TRAIN, header: bool = False,
                     out: str = "s3://my-bucket/baseline") -> dict:
    """What sagemaker.model_monitor.DefaultModelMonitor.suggest_baseline sends."""
    sm.create_processing_job(
        ProcessingJobName=name, RoleArn=ROLE, AppSpecification={"ImageUri": MODEL_MONITOR_IMAGE},
        ProcessingResources={"ClusterConfig": CLUSTER},
        ProcessingInputs=[{"InputName": "baseline_dataset_input", "S3Input": {
            "S3Uri": data, "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
            "S3Uri": out, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        Environment={"dataset_format": json.dumps({"csv": {"header": header, "output_columns_position": "START"}}),
                     "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                     "output_path": "/opt/ml/processing/output", "publish_cloudwatch_metrics": "Disabled"})
    try:
        sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=name)
    except WaiterError as e:  # botocore's waiter raises on Failed; describe it anyway
        if "Failed" not in str(e):
            raise
    return sm.describe_processing_job(ProcessingJobName=name)


def hourly_schedule(sm, name: str = "dq-hourly", endpoint: str = "ep") -> None:
    sm.create_data_quality_job_definition(
        JobDefinitionName="dq", RoleArn=ROLE,
        DataQualityBaselineConfig={"ConstraintsResource": {"S3Uri": "s3://my-bucket/baseline/constraints.json"},
                                   "StatisticsResource": {"S3Uri": "s3://my-bucket/baseline/statistics.json"}},
        DataQualityAppSpecification={"ImageUri": MODEL_MONITOR_IMAGE},
        DataQualityJobInput={"EndpointInput": {"EndpointName": endpoint,
                                               "LocalPath": "/opt/ml/processing/input/endpoint"}},
        DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://my-bucket/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        JobResources={"ClusterConfig": CLUSTER}, StoppingCondition={"MaxRuntimeInSeconds": 1800})
    sm.create_monitoring_schedule(MonitoringScheduleName=name, MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinitionName": "dq", "MonitoringType": "DataQuality"})


def to_next_hour(eng) -> None:
    eng.advance(HOUR - eng.seconds % HOUR)


def read_json(s3, uri: str) -> dict:
    bucket, _, key = uri[5:].partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def train_rows(s3) -> np.ndarray:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="sagetutor-datasets", Prefix="breast-cancer/train/")["Contents"]]
    text = "".join(s3.get_object(Bucket="sagetutor-datasets", Key=k)["Body"].read().decode() for k in keys)
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line])


def an_hour_of(eng, sm, s3, drift=None, per_minute: int = 4, schedule: str = "dq-hourly") -> tuple[dict, dict]:
    """Send an hour of traffic from the top of an hour, let the next execution run; its summary and violations."""
    to_next_hour(eng)
    run = eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=per_minute, minutes=60, drift=drift)
    to_next_hour(eng)
    top = eng.now
    eng.advance(1)  # past the top of the hour: the schedule's execution starts
    eng.run_until_idle()
    assert run.done and run.answered == 60 * per_minute
    [last] = sm.list_monitoring_executions(MonitoringScheduleName=schedule, MaxResults=1)["MonitoringExecutionSummaries"]
    assert last["ScheduledTime"] == top
    hh = last["ScheduledTime"].strftime("%Y/%m/%d/%H")
    report = f"s3://my-bucket/reports/ep/{schedule}/{hh}"
    return last, read_json(s3, f"{report}/constraint_violations.json")


def checks(violations: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for v in violations["violations"]:
        out.setdefault(v["constraint_check_type"], set()).add(v["feature_name"])
    return out


# ----------------------------------------------------------------------------- data capture


def test_capture_writes_aws_json_lines_per_hour_of_virtual_time(eng, sm, s3):
    deploy(eng, sm)
    to_next_hour(eng)
    hour = eng.now
    run = eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=5, minutes=10)
    eng.advance(10 * 60 + 300)  # captures are flushed every 5 virtual minutes
    assert run.answered == 50
    prefix = f"capture/ep/AllTraffic/{hour:%Y/%m/%d/%H}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="capture/")["Contents"]]
    assert keys and all(k.startswith(prefix) for k in keys)
    assert all(re.fullmatch(r"\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl", k[len(prefix):]) for k in keys)
    lines = [json.loads(line) for k in keys
             for line in s3.get_object(Bucket="my-bucket", Key=k)["Body"].read().decode().splitlines()]
    assert len(lines) == 50
    ids = set()
    for rec in lines:
        assert set(rec) == {"captureData", "eventMetadata", "eventVersion"} and rec["eventVersion"] == "0"
        inp, out = rec["captureData"]["endpointInput"], rec["captureData"]["endpointOutput"]
        assert (inp["mode"], inp["encoding"], inp["observedContentType"]) == ("INPUT", "CSV", "text/csv")
        assert out["mode"] == "OUTPUT" and out["observedContentType"].startswith("text/csv")
        assert len(inp["data"].split(",")) == 30
        assert 0.0 <= float(base64.b64decode(out["data"]) if out["encoding"] == "BASE64" else out["data"]) <= 1.0
        assert re.fullmatch(r"2026-01-05T\d\d:\d\d:\d\dZ", rec["eventMetadata"]["inferenceTime"])
        assert rec["eventMetadata"]["inferenceTime"].startswith(f"{hour:%Y-%m-%dT%H}")
        ids.add(rec["eventMetadata"]["eventId"])
    assert len(ids) == 50
    # Another hour of traffic goes to the next hour's folder.
    to_next_hour(eng)
    eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=2, minutes=3)
    eng.advance(600)
    later = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="capture/")["Contents"]]
    assert {k.split("/")[6] for k in later} == {f"{hour:%H}", f"{eng.now:%H}"}


def test_sampling_is_seeded_and_without_content_type_headers_payloads_are_base64():
    def captured(seed: int) -> list[dict]:
        eng = Engine(seed=seed)
        sm, s3 = eng.client("sagemaker"), eng.client("s3")
        s3.create_bucket(Bucket="my-bucket")
        deploy(eng, sm, capture={"InitialSamplingPercentage": 30, "DestinationS3Uri": CAPTURE + "/",
                                 "CaptureOptions": [{"CaptureMode": "Input"}]})
        eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=10, minutes=20)
        eng.advance(25 * 60)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="capture/ep/")["Contents"]]
        return [json.loads(line) for k in keys
                for line in s3.get_object(Bucket="my-bucket", Key=k)["Body"].read().decode().splitlines()]

    first, again = captured(3), captured(3)
    assert 0.2 * 200 <= len(first) <= 0.4 * 200
    assert [r["eventMetadata"] for r in first] == [r["eventMetadata"] for r in again]
    rec = first[0]["captureData"]
    assert set(rec) == {"endpointInput"}  # CaptureMode Input only
    assert rec["endpointInput"]["encoding"] == "BASE64"  # AWS: no CaptureContentTypeHeader -> base64
    assert len(base64.b64decode(rec["endpointInput"]["data"]).decode().split(",")) == 30


# ----------------------------------------------------------------------------- baselining


def test_baseline_job_writes_aws_statistics_and_constraints_that_match_numpy(eng, sm, s3):
    desc = suggest_baseline(sm)
    assert desc["ProcessingJobStatus"] == "Completed"
    assert desc["ProcessingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/baseline"
    assert desc["ProcessingStartTime"] < desc["ProcessingEndTime"]
    assert desc["AppSpecification"]["ImageUri"].startswith("156813124566.dkr.ecr.us-east-1.amazonaws.com/")
    stats = read_json(s3, "s3://my-bucket/baseline/statistics.json")
    cons = read_json(s3, "s3://my-bucket/baseline/constraints.json")
    x = train_rows(s3)  # the label is column _c0: AWS's baseline on training data includes it
    assert stats["version"] == 0.0 and stats["dataset"]["item_count"] == len(x) == 399
    assert [f["name"] for f in stats["features"]] == [f"_c{i}" for i in range(31)]
    assert stats["features"][0]["inferred_type"] == "Integral"
    assert {f["inferred_type"] for f in stats["features"][1:]} == {"Fractional"}
    for i, f in enumerate(stats["features"]):
        ns = f["numerical_statistics"]
        assert ns["common"] == {"num_present": 399, "num_missing": 0}
        assert ns["mean"] == pytest.approx(x[:, i].mean(), rel=1e-12)
        assert ns["sum"] == pytest.approx(x[:, i].sum(), rel=1e-12)
        assert ns["std_dev"] == pytest.approx(x[:, i].std(), rel=1e-9)
        assert (ns["min"], ns["max"]) == (x[:, i].min(), x[:, i].max())
        kll = ns["distribution"]["kll"]
        assert sum(b["count"] for b in kll["buckets"]) == 399
        assert kll["buckets"][0]["lower_bound"] == x[:, i].min() and kll["buckets"][-1]["upper_bound"] == x[:, i].max()
        assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
        assert sorted(kll["sketch"]["data"][0]) == sorted(x[:, i].tolist())  # under k values: all of them
    assert cons["features"][0] == {"name": "_c0", "inferred_type": "Integral", "completeness": 1.0,
                                   "num_constraints": {"is_non_negative": True}}
    dc = cons["monitoring_config"]["distribution_constraints"]
    assert (dc["comparison_threshold"], dc["comparison_method"]) == (0.1, "Robust")
    # Time and cost, like a training job: instance seconds from start to end, at the processing rate.
    [bill_line] = eng.bill().for_resource("processing-job/baseline")
    seconds = (desc["ProcessingEndTime"] - desc["ProcessingStartTime"]).total_seconds()
    assert bill_line.usage_type == "processing-instance-seconds" and bill_line.quantity == round(seconds)
    assert any("Analysed 399 records of 31 columns" in m for m in eng.logs_for("/aws/sagemaker/ProcessingJobs"))
    [summary] = sm.list_processing_jobs()["ProcessingJobSummaries"]
    assert (summary["ProcessingJobName"], summary["ProcessingJobStatus"]) == ("baseline", "Completed")


def test_a_csv_header_names_the_features(eng, sm, s3):
    s3.put_object(Bucket="my-bucket", Key="data/with-header.csv",
                  Body="label,radius,texture\n1,17.5,10.2\n0,20.1,\n1,12.0,14.9\n")
    suggest_baseline(sm, data="s3://my-bucket/data/", header=True)
    stats = read_json(s3, "s3://my-bucket/baseline/statistics.json")
    cons = read_json(s3, "s3://my-bucket/baseline/constraints.json")
    assert stats["dataset"]["item_count"] == 3
    assert [(f["name"], f["inferred_type"]) for f in stats["features"]] == [
        ("label", "Integral"), ("radius", "Fractional"), ("texture", "Fractional")]
    texture = stats["features"][2]["numerical_statistics"]
    assert texture["common"] == {"num_present": 2, "num_missing": 1} and texture["mean"] == pytest.approx(12.55)
    assert cons["features"][2]["completeness"] == pytest.approx(2 / 3)


def test_processing_job_errors_and_stop(eng, sm, s3):
    with pytest.raises(ClientError, match="Model Monitor analyzer image"):
        sm.create_processing_job(ProcessingJobName="p", RoleArn=ROLE,
                                 AppSpecification={"ImageUri": eng.image_uri("xgboost")},
                                 ProcessingResources={"ClusterConfig": CLUSTER})
    failed = suggest_baseline(sm, name="nothing-there", data="s3://my-bucket/missing/")
    assert failed["ProcessingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith('ClientError: No S3 objects found under S3 URL "s3://my-bucket/missing/"')
    with pytest.raises(ClientError) as e:
        suggest_baseline(sm, name="nothing-there")
    assert e.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError, match="Could not find requested job with name nope"):
        sm.describe_processing_job(ProcessingJobName="nope")
    sm.create_processing_job(ProcessingJobName="stopped", RoleArn=ROLE,
                             AppSpecification={"ImageUri": MODEL_MONITOR_IMAGE + ":latest"},
                             ProcessingResources={"ClusterConfig": CLUSTER},
                             ProcessingInputs=[{"InputName": "in", "S3Input": {
                                 "S3Uri": TRAIN, "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix"}}],
                             ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                                 "S3Uri": "s3://my-bucket/stopped", "LocalPath": "/opt/ml/processing/output",
                                 "S3UploadMode": "EndOfJob"}}]})
    eng.advance(150)  # launched, not finished
    sm.stop_processing_job(ProcessingJobName="stopped")
    eng.run_until_idle()
    assert sm.describe_processing_job(ProcessingJobName="stopped")["ProcessingJobStatus"] == "Stopped"
    assert "Contents" not in s3.list_objects_v2(Bucket="my-bucket", Prefix="stopped/")
    [charge] = eng.bill().for_resource("processing-job/stopped")
    assert 0 < charge.quantity < 150


# ----------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_drift_is_found_in_drifted_traffic_and_never_in_undrifted(seed):
    eng = Engine(seed=seed)
    sm, s3 = eng.client("sagemaker"), eng.client("s3")
    s3.create_bucket(Bucket="my-bucket")
    deploy(eng, sm)
    suggest_baseline(sm)
    hourly_schedule(sm)
    last, violations = an_hour_of(eng, sm, s3)
    assert last["MonitoringExecutionStatus"] == "Completed", violations
    assert violations == {"violations": []}
    last, violations = an_hour_of(eng, sm, s3, drift={"shift": 3.0, "features": [0, 4]})
    assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert checks(violations) == {"baseline_drift_check": {"_c1", "_c5"}}  # features 0 and 4 follow the label
    for v in violations["violations"]:
        assert re.fullmatch(r"Baseline drift distance: 0\.\d+ exceeds threshold: 0\.1", v["description"])


def test_hourly_schedule_end_to_end(eng, sm, s3):
    deploy(eng, sm)
    suggest_baseline(sm)
    hourly_schedule(sm)
    desc = sm.describe_monitoring_schedule(MonitoringScheduleName="dq-hourly")
    assert desc["MonitoringScheduleStatus"] == "Pending" and "LastMonitoringExecutionSummary" not in desc
    before = eng.now
    eng.run_until_idle()  # a standing schedule is not work in progress
    assert eng.now == before
    eng.advance(60)
    assert sm.describe_monitoring_schedule(MonitoringScheduleName="dq-hourly")["MonitoringScheduleStatus"] == "Scheduled"
    dq = sm.describe_data_quality_job_definition(JobDefinitionName="dq")
    assert dq["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "ep"

    # The first top of the hour finds no captured data: AWS's "Job inputs had no data", no processing job.
    to_next_hour(eng)
    eng.advance(1)
    eng.run_until_idle()
    last = sm.describe_monitoring_schedule(MonitoringScheduleName="dq-hourly")["LastMonitoringExecutionSummary"]
    assert (last["MonitoringExecutionStatus"], last["FailureReason"]) == ("Failed", "Job inputs had no data")
    assert "ProcessingJobArn" not in last and last["ScheduledTime"].minute == 0

    last, violations = an_hour_of(eng, sm, s3)
    assert last["MonitoringExecutionStatus"] == "Completed" and violations["violations"] == []
    job = sm.describe_processing_job(ProcessingJobName=last["ProcessingJobArn"].split("/")[-1])
    assert job["ProcessingJobStatus"] == "Completed" and job["MonitoringScheduleArn"].endswith("dq-hourly")
    assert job["ExitMessage"] == "Completed: Job completed successfully with no violations."
    assert timedelta(0) < job["ProcessingStartTime"] - last["ScheduledTime"] < timedelta(minutes=25)
    hh = last["ScheduledTime"].strftime("%Y/%m/%d/%H")
    stats = read_json(s3, f"s3://my-bucket/reports/ep/dq-hourly/{hh}/statistics.json")
    assert stats["dataset"]["item_count"] == 240 and len(stats["features"]) == 31
    assert stats["features"][0]["name"] == "_c0"  # the model's output, merged where the label was

    last, violations = an_hour_of(eng, sm, s3, drift={"missing": 0.3})
    assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"
    found = checks(violations)
    assert found["completeness_check"] == {f"_c{i}" for i in range(1, 31)}
    assert "baseline_drift_check" not in found
    v = next(v for v in violations["violations"] if v["constraint_check_type"] == "completeness_check")
    assert re.fullmatch(r"Data completeness requirement is not met\. Expected: 100\.0%, Observed: \d+\.\d+%\.",
                        v["description"])

    # Every hour runs; the hours between the traffic had nothing to analyse.
    execs = sm.list_monitoring_executions(MonitoringScheduleName="dq-hourly", SortOrder="Ascending")
    assert [e["MonitoringExecutionStatus"] for e in execs["MonitoringExecutionSummaries"]] == [
        "Failed", "Failed", "Completed", "Failed", "CompletedWithViolations"]
    # Executions are processing jobs on the bill; the endpoint keeps billing too.
    usage = eng.bill().by_usage()
    assert set(usage) >= {"processing-instance-seconds", "hosting-instance-seconds", "training-instance-seconds"}
    assert len([li for li in eng.bill() if li.usage_type == "processing-instance-seconds"]) == 3  # baseline + 2
    # Per-feature metrics, as AWS publishes them.
    cw = eng.client("cloudwatch")
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]}
    assert {"feature_baseline_drift__c1", "feature_non_null__c1"} <= names

    # Stop: the next hours pass without executions; Start: they resume; Delete: gone.
    def count() -> int:
        return len(sm.list_monitoring_executions(EndpointName="ep", MaxResults=100)["MonitoringExecutionSummaries"])

    sm.stop_monitoring_schedule(MonitoringScheduleName="dq-hourly")
    assert sm.describe_monitoring_schedule(MonitoringScheduleName="dq-hourly")["MonitoringScheduleStatus"] == "Stopped"
    eng.advance(2 * HOUR)
    eng.run_until_idle()
    assert count() == 5
    sm.start_monitoring_schedule(MonitoringScheduleName="dq-hourly")
    to_next_hour(eng)
    eng.advance(1)
    eng.run_until_idle()
    assert count() == 6
    before = eng.now
    eng.run_until_idle()
    assert eng.now == before
    sm.delete_monitoring_schedule(MonitoringScheduleName="dq-hourly")
    with pytest.raises(ClientError) as e:
        sm.describe_monitoring_schedule(MonitoringScheduleName="dq-hourly")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
    eng.advance(2 * HOUR)
    assert count() == 6


def test_inline_job_definition_from_the_baselining_job_name(eng, sm, s3):
    deploy(eng, sm)
    suggest_baseline(sm)
    sm.create_monitoring_schedule(MonitoringScheduleName="inline", MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinition": {
            "BaselineConfig": {"BaseliningJobName": "baseline"},
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input"}}],
            "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                "S3Uri": "s3://my-bucket/reports", "LocalPath": "/opt/ml/processing/output"}}]},
            "MonitoringResources": {"ClusterConfig": CLUSTER},
            "MonitoringAppSpecification": {"ImageUri": MODEL_MONITOR_IMAGE},
            "RoleArn": ROLE}})
    last, violations = an_hour_of(eng, sm, s3, drift={"shift": 3.0}, schedule="inline")
    assert last["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert checks(violations)["baseline_drift_check"] == {f"_c{i}" for i in range(1, 31)}


def test_schedule_validation(eng, sm, s3):
    deploy(eng, sm, capture={"EnableCapture": False, "InitialSamplingPercentage": 100, "DestinationS3Uri": CAPTURE,
                             "CaptureOptions": [{"CaptureMode": "InputAndOutput"}]})
    suggest_baseline(sm)
    with pytest.raises(ClientError, match="does not capture data"):
        hourly_schedule(sm)
    with pytest.raises(ClientError, match="Invalid ScheduleExpression"):
        sm.create_monitoring_schedule(MonitoringScheduleName="bad", MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "rate(5 minutes)"}, "MonitoringJobDefinitionName": "dq"})
    with pytest.raises(ClientError) as e:
        sm.describe_data_quality_job_definition(JobDefinitionName="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFound"
