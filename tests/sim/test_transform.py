"""Batch transform: real predictions identical to the endpoint's, DataProcessing, statuses, limits, the bill."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError, WaiterError

from engine.services.sagemaker import jsonpath
from tests.helpers import ROLE, training_request, wait

TEST_KEY = "breast-cancer/test/part-00000.csv"


@pytest.fixture
def model(eng, sm, s3) -> str:
    """XGBoost trained on breast-cancer, registered as model "m" (what an endpoint and a job both use)."""
    sm.create_training_job(**training_request(eng))
    url = wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    return "m"


@pytest.fixture
def labelled(s3) -> list[str]:
    """The test split's rows: label first, then the 30 features."""
    return s3.get_object(Bucket="sagetutor-datasets", Key=TEST_KEY)["Body"].read().decode().splitlines()


def features(rows: list[str]) -> list[str]:
    return [r.split(",", 1)[1] for r in rows]


def put(s3, key: str, lines: list[str]) -> None:
    s3.put_object(Bucket="my-bucket", Key=key, Body="\n".join(lines) + "\n")


def read(s3, key: str) -> bytes:
    return s3.get_object(Bucket="my-bucket", Key=key)["Body"].read()


def job(sm, name: str, uri: str, out: str, *, content_type: str = "text/csv", split: str = "Line",
        instance_type: str = "ml.m5.large", count: int = 1, **extra) -> dict:
    inp = {"DataSource": {"S3DataSource": {"S3DataType": extra.pop("data_type", "S3Prefix"), "S3Uri": uri}},
           "ContentType": content_type, "SplitType": split}
    if "compression" in extra:
        inp["CompressionType"] = extra.pop("compression")
    output = {"S3OutputPath": out, "AssembleWith": extra.pop("assemble", "Line")}
    if "accept" in extra:
        output["Accept"] = extra.pop("accept")
    return sm.create_transform_job(TransformJobName=name, ModelName="m", TransformInput=inp, TransformOutput=output,
                                   TransformResources={"InstanceType": instance_type, "InstanceCount": count},
                                   **extra)


def finish(sm, name: str) -> dict:
    try:
        sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=name,
                                                                  WaiterConfig={"Delay": 60, "MaxAttempts": 600})
    except WaiterError as e:
        if "Failed" not in str(e):
            raise
    return sm.describe_transform_job(TransformJobName=name)


def endpoint(eng, sm, instance_type: str = "ml.m5.large") -> None:
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": instance_type, "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")


def invoke(eng, lines: list[str], content_type: str = "text/csv", accept: str | None = None) -> bytes:
    kw = {"Accept": accept} if accept else {}
    r = eng.client("sagemaker-runtime").invoke_endpoint(EndpointName="ep", ContentType=content_type,
                                                        Body="\n".join(lines), **kw)
    return r["Body"].read()


def duration(desc: dict) -> float:
    return (desc["TransformEndTime"] - desc["TransformStartTime"]).total_seconds()


# -- predictions ---------------------------------------------------------------------------------------


def test_the_out_object_holds_what_the_endpoint_answers_for_the_same_rows(eng, sm, s3, model, labelled):
    rows = features(labelled)
    put(s3, "batch/in/day-1/test.csv", rows)
    job(sm, "score", "s3://my-bucket/batch/in/", "s3://my-bucket/batch/out")
    desc = finish(sm, "score")
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    endpoint(eng, sm)
    served = invoke(eng, rows)
    out = read(s3, "batch/out/day-1/test.csv.out")  # <key relative to the input prefix>.out
    assert out == served  # byte for byte
    assert len(out.splitlines()) == len(rows)  # one prediction per input record
    head = s3.head_object(Bucket="my-bucket", Key="batch/out/day-1/test.csv.out")
    assert head["ContentType"] == "text/csv"


def test_multi_record_and_single_record_give_the_same_lines_single_record_takes_longer(eng, sm, s3, model, labelled):
    rows = features(labelled) * 60  # 5,100 records, about 1.3 MB: several 1 MB MultiRecord requests
    put(s3, "in/rows.csv", rows)
    job(sm, "multi", "s3://my-bucket/in/", "s3://my-bucket/multi/", BatchStrategy="MultiRecord", MaxPayloadInMB=1)
    job(sm, "single", "s3://my-bucket/in/", "s3://my-bucket/single/", BatchStrategy="SingleRecord")
    job(sm, "whole", "s3://my-bucket/in/", "s3://my-bucket/whole/", split="None", assemble="None")
    multi, single, whole = finish(sm, "multi"), finish(sm, "single"), finish(sm, "whole")
    assert {d["TransformJobStatus"] for d in (multi, single, whole)} == {"Completed"}
    assert multi["BatchStrategy"] == "MultiRecord" and multi["MaxPayloadInMB"] == 1
    lines = read(s3, "multi/rows.csv.out")
    assert lines == read(s3, "single/rows.csv.out") == read(s3, "whole/rows.csv.out")
    assert len(lines.splitlines()) == len(rows)
    logs = "\n".join(eng.logs_for("/aws/sagemaker/TransformJobs", "multi/"))
    assert "5,100 record(s) in 2 request(s)" in logs
    assert "5,100 record(s) in 5,100 request(s)" in "\n".join(eng.logs_for("/aws/sagemaker/TransformJobs", "single/"))
    # One request per record pays the per-request costs 5,100 times.
    work = [duration(d) - _startup(eng, d) for d in (multi, single)]
    assert work[1] > 5 * work[0]


def _startup(eng, desc: dict) -> float:
    """Seconds from TransformStartTime to the inference server's start, read from the job's log."""
    name = desc["TransformJobName"]
    for line in eng.logs_for("/aws/sagemaker/TransformJobs", f"{name}/"):
        if "Inference server started" in line:
            stamp = datetime.fromisoformat(line.split(" ", 1)[0] + "+00:00")
            return (stamp - desc["TransformStartTime"]).total_seconds()
    raise AssertionError("no start-up line")


def test_join_source_input_with_filters_gives_the_documented_csv_layout(eng, sm, s3, model, labelled):
    put(s3, "labelled/test.csv", labelled)  # label first: the model must not see it
    job(sm, "join", "s3://my-bucket/labelled/", "s3://my-bucket/join/",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    job(sm, "all", "s3://my-bucket/labelled/", "s3://my-bucket/all/",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input"})
    assert finish(sm, "join")["TransformJobStatus"] == "Completed"
    assert finish(sm, "all")["TransformJobStatus"] == "Completed"
    endpoint(eng, sm)
    predictions = invoke(eng, features(labelled)).decode().splitlines()
    labels = [r.split(",", 1)[0] for r in labelled]
    # OutputFilter $[0,-1]: the input's first column (the label) and the last (the prediction).
    assert read(s3, "join/test.csv.out").decode().splitlines() == [f"{y},{p}" for y, p in zip(labels, predictions)]
    # OutputFilter $ (default): every input column, then the output appended after them.
    assert read(s3, "all/test.csv.out").decode().splitlines() == [f"{r},{p}" for r, p in zip(labelled, predictions)]
    assert sm.describe_transform_job(TransformJobName="all")["DataProcessing"] == {
        "InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}


def test_json_lines_with_join_source_add_sagemaker_output(eng, sm, s3, model, labelled):
    records = [{"id": f"patient-{i}", "features": [float(v) for v in r.split(",")]}
               for i, r in enumerate(features(labelled))]
    put(s3, "json/in.jsonl", [json.dumps(r) for r in records])
    common = {"content_type": "application/jsonlines", "accept": "application/jsonlines"}
    job(sm, "joined", "s3://my-bucket/json/", "s3://my-bucket/joined/", **common,
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input"})
    job(sm, "picked", "s3://my-bucket/json/", "s3://my-bucket/picked/", **common,
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                        "OutputFilter": "$['id','SageMakerOutput']"})
    assert finish(sm, "joined")["TransformJobStatus"] == "Completed"
    assert finish(sm, "picked")["TransformJobStatus"] == "Completed"
    endpoint(eng, sm)
    served = invoke(eng, [json.dumps(r["features"]) for r in records], "application/jsonlines",
                    "application/jsonlines").decode().splitlines()
    joined = [json.loads(line) for line in read(s3, "joined/in.jsonl.out").decode().splitlines()]
    assert joined == [{**r, "SageMakerOutput": json.loads(p)} for r, p in zip(records, served)]
    picked = [json.loads(line) for line in read(s3, "picked/in.jsonl.out").decode().splitlines()]
    assert picked == [{"id": r["id"], "SageMakerOutput": json.loads(p)} for r, p in zip(records, served)]
    assert set(picked[0]["SageMakerOutput"]) == {"score"}


def test_gzip_objects_listed_by_a_manifest(eng, sm, s3, model, labelled):
    rows = features(labelled)
    s3.put_object(Bucket="my-bucket", Key="data/a/part-1.csv.gz", Body=gzip.compress(("\n".join(rows) + "\n").encode()))
    s3.put_object(Bucket="my-bucket", Key="data/a/ignored.csv", Body="not,listed\n")
    s3.put_object(Bucket="my-bucket", Key="manifests/m.json",
                  Body=json.dumps([{"prefix": "s3://my-bucket/data/"}, "a/part-1.csv.gz"]))
    job(sm, "gz", "s3://my-bucket/manifests/m.json", "s3://my-bucket/gz-out/", data_type="ManifestFile",
        compression="Gzip")
    assert finish(sm, "gz")["TransformJobStatus"] == "Completed"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="gz-out/")["Contents"]]
    assert keys == ["gz-out/a/part-1.csv.gz.out"]
    endpoint(eng, sm)
    assert read(s3, "gz-out/a/part-1.csv.gz.out") == invoke(eng, rows)


# -- statuses and times ---------------------------------------------------------------------------------


def test_status_sequence_times_and_logs(eng, sm, s3, model, labelled):
    put(s3, "in/test.csv", features(labelled))
    arn = job(sm, "nightly", "s3://my-bucket/in/", "s3://my-bucket/out/")["TransformJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:transform-job/nightly"
    first = sm.describe_transform_job(TransformJobName="nightly")
    assert first["TransformJobStatus"] == "InProgress"
    assert first["TransformStartTime"] == first["CreationTime"]  # provisioning starts (and bills) at once
    assert "TransformEndTime" not in first and "FailureReason" not in first
    eng.advance(30)
    assert sm.describe_transform_job(TransformJobName="nightly")["TransformJobStatus"] == "InProgress"
    assert not s3.list_objects_v2(Bucket="my-bucket", Prefix="out/").get("Contents")  # still launching
    desc = finish(sm, "nightly")
    assert desc["TransformJobStatus"] == "Completed"
    # provisioning (60-120 s on CPU) + 10 s preparing + 20 s image, then the work
    assert 90 <= duration(desc) <= 160
    statuses = [e.status for e in eng.timeline() if e.resource == arn and e.kind == "status"]
    assert statuses == ["InProgress", "Completed"]
    logs = eng.logs_for("/aws/sagemaker/TransformJobs", "nightly/i-")
    assert any("Launching ml.m5.large" in line for line in logs)
    assert any("s3://my-bucket/in/test.csv: 85 record(s)" in line for line in logs)


def test_stop_goes_stopping_then_stopped_and_billing_ends(eng, sm, s3, model, labelled):
    put(s3, "in/test.csv", features(labelled))
    arn = job(sm, "halt", "s3://my-bucket/in/", "s3://my-bucket/out/")["TransformJobArn"]
    eng.advance(40)
    sm.stop_transform_job(TransformJobName="halt")
    assert sm.describe_transform_job(TransformJobName="halt")["TransformJobStatus"] == "Stopping"
    desc = finish(sm, "halt")
    assert desc["TransformJobStatus"] == "Stopped"
    assert duration(desc) == 50  # 40 s, then 10 s to stop the instances
    assert not s3.list_objects_v2(Bucket="my-bucket", Prefix="out/").get("Contents")
    statuses = [e.status for e in eng.timeline() if e.resource == arn and e.kind == "status"]
    assert statuses == ["InProgress", "Stopping", "Stopped"]
    [line] = eng.bill().for_resource("transform-job/halt")
    assert line.quantity == 50
    with pytest.raises(ClientError, match="the transform job is in status Stopped"):
        sm.stop_transform_job(TransformJobName="halt")


# -- errors ------------------------------------------------------------------------------------------------


def _error(call) -> dict:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]


def test_payload_and_concurrency_limits_and_create_errors(eng, sm, s3, model, labelled):
    put(s3, "in/test.csv", features(labelled))
    uri, out = "s3://my-bucket/in/", "s3://my-bucket/out/"
    err = _error(lambda: job(sm, "j", uri, out, MaxPayloadInMB=101))
    assert err == {"Code": "ValidationException", "Message": "1 validation error detected: Value '101' at "
                   "'maxPayloadInMB' failed to satisfy constraint: Member must have value less than or equal to 100"}
    err = _error(lambda: job(sm, "j", uri, out, MaxConcurrentTransforms=20))  # x the default 6 MB
    assert err["Message"] == ("MaxConcurrentTransforms x MaxPayloadInMB must be less than or equal to 100 MB; "
                              "got 20 x 6 = 120 MB.")
    err = _error(lambda: job(sm, "j", uri, out, MaxConcurrentTransforms=3, MaxPayloadInMB=50))
    assert "got 3 x 50 = 150 MB" in err["Message"]
    err = _error(lambda: job(sm, "j", uri, out, split="None", BatchStrategy="MultiRecord"))
    assert err["Code"] == "ValidationException" and "requires SplitType Line" in err["Message"]
    err = _error(lambda: sm.create_transform_job(
        TransformJobName="j", ModelName="nope", TransformOutput={"S3OutputPath": out},
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1}))
    assert err["Message"] == 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/nope".'
    err = _error(lambda: job(sm, "j", "s3://my-bucket/nothing-here/", out))
    assert err["Message"].startswith('No S3 objects found under S3 URL "s3://my-bucket/nothing-here/"')
    err = _error(lambda: job(sm, "j", uri, out, DataProcessing={"InputFilter": "$.features"}))
    assert "only index-based JSONPaths" in err["Message"]
    err = _error(lambda: job(sm, "j", uri, out, DataProcessing={"InputFilter": "$..x"}))
    assert "deep scan" in err["Message"]
    job(sm, "j", uri, out, MaxConcurrentTransforms=2, MaxPayloadInMB=50)  # 100 MB: allowed
    err = _error(lambda: job(sm, "j", uri, out))
    assert err["Code"] == "ResourceInUse"
    assert err["Message"].endswith("(arn:aws:sagemaker:us-east-1:123456789012:transform-job/j)")
    err = _error(lambda: sm.describe_transform_job(TransformJobName="nope"))
    assert err == {"Code": "ValidationException", "Message": "Could not find requested job with name nope"}
    err = _error(lambda: job(sm, "bad-name!", uri, out))  # checked by the protocol layer, before the backend
    assert "failed to satisfy constraint" in err["Message"]


def test_a_malformed_row_fails_the_job_and_its_object_gets_no_output(eng, sm, s3, model, labelled):
    rows = features(labelled)
    put(s3, "in/a-good.csv", rows)
    bad = list(rows)
    bad[2] = bad[2].replace(",", ",abc,", 1)[:-1]  # a non-numeric value in the third record
    put(s3, "in/b-bad.csv", bad)
    job(sm, "fails", "s3://my-bucket/in/", "s3://my-bucket/out/", BatchStrategy="SingleRecord")
    job(sm, "fails-multi", "s3://my-bucket/in/", "s3://my-bucket/out-multi/")
    desc = finish(sm, "fails")
    assert desc["TransformJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("ClientError: s3://my-bucket/in/b-bad.csv: Bad HTTP status received from algorithm: 400")
    assert "record 3" in reason and "non-numeric value 'abc'" in reason
    with pytest.raises(WaiterError, match="Failed"):
        sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="fails")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="my-bucket", Prefix="out/")["Contents"]]
    assert keys == ["out/a-good.csv.out"]  # AWS writes only fully successful objects
    multi = finish(sm, "fails-multi")
    assert multi["TransformJobStatus"] == "Failed"
    assert "b-bad.csv" in multi["FailureReason"] and "request 1 (records 1-85)" in multi["FailureReason"]
    assert not s3.list_objects_v2(Bucket="my-bucket", Prefix="out-multi/b-bad").get("Contents")
    logs = "\n".join(eng.logs_for("/aws/sagemaker/TransformJobs", "fails/"))
    assert "ERROR ClientError: s3://my-bucket/in/b-bad.csv" in logs
    [summary] = sm.list_transform_jobs(StatusEquals="Failed", NameContains="fails-m")["TransformJobSummaries"]
    assert summary["FailureReason"] == multi["FailureReason"]


# -- the bill --------------------------------------------------------------------------------------------------


def test_transform_instances_bill_only_while_the_job_runs(eng, sm, s3, model, labelled):
    put(s3, "in/test.csv", features(labelled))
    job(sm, "billed", "s3://my-bucket/in/", "s3://my-bucket/out/", instance_type="ml.m5.xlarge", count=2)
    eng.advance(30)
    [running] = eng.bill().for_resource("transform-job/billed")
    assert running.quantity == 60  # 30 s x 2 instances so far, while provisioning
    desc = finish(sm, "billed")
    [line] = eng.bill().for_resource("transform-job/billed")
    seconds = round(duration(desc))
    assert line.usage_type == "transform-instance-seconds" and line.pricing_model == "on-demand"
    assert (line.instance_type, line.instance_count, line.unit) == ("ml.m5.xlarge", 2, "instance-second")
    assert line.quantity == seconds * 2
    assert str(line.unit_price) == "0.000074722222"  # $0.269 per hour (transform price for ml.m5.xlarge)
    eng.advance(86400)
    [after] = eng.bill().for_resource("transform-job/billed")
    assert after == line  # nothing after the job ended


def test_nightly_batch_costs_a_fraction_of_an_always_on_endpoint(eng, sm, s3, model, labelled):
    """The same 100,000 (nominal) predictions: an endpoint standing 24 h vs one transform job."""
    rows = features(labelled)
    put(s3, "nightly/in/rows.csv", rows)
    eng.set_nominal_size("s3://my-bucket/nightly/in/", rows=100_000)
    job(sm, "nightly", "s3://my-bucket/nightly/in/", "s3://my-bucket/nightly/out/", instance_type="ml.m5.large")
    batch = finish(sm, "nightly")
    assert batch["TransformJobStatus"] == "Completed"
    endpoint(eng, sm, "ml.m5.large")
    for _ in range(24):  # the endpoint answers the same rows through the day, and stands in between
        invoke(eng, rows)
        eng.advance(3600)
    [batch_line] = eng.bill().for_resource("transform-job/nightly")
    [endpoint_line] = eng.bill().for_resource("endpoint/ep")
    assert endpoint_line.quantity >= 24 * 3600
    assert batch_line.quantity < 600  # minutes, not a day
    assert batch_line.amount * 100 < endpoint_line.amount  # over 100x cheaper for the same predictions
    assert read(s3, "nightly/out/rows.csv.out") == invoke(eng, rows)


def test_nominal_size_makes_scoring_ten_million_rows_take_realistic_time(eng, sm, s3, model, labelled):
    rows = features(labelled)
    for name, nominal in (("small", None), ("big", 10_000_000)):
        put(s3, f"{name}/rows.csv", rows)
        if nominal:
            eng.set_nominal_size(f"s3://my-bucket/{name}/", rows=nominal)
        job(sm, name, f"s3://my-bucket/{name}/", f"s3://my-bucket/{name}-out/", instance_type="ml.m5.xlarge")
    small, big = finish(sm, "small"), finish(sm, "big")
    work = duration(big) - _startup(eng, big)
    assert duration(small) - _startup(eng, small) < 1
    assert 60 < work < 1800  # 10 million rows on one ml.m5.xlarge: minutes
    assert read(s3, "small-out/rows.csv.out") == read(s3, "big-out/rows.csv.out")  # same real predictions


def test_objects_are_spread_over_instances_one_object_is_not(eng, sm, s3, model, labelled):
    rows = features(labelled)
    for i in range(4):
        put(s3, f"four/part-{i}.csv", rows)
    put(s3, "one/all.csv", rows * 4)
    eng.set_nominal_size("s3://my-bucket/four/", rows=4_000_000)
    eng.set_nominal_size("s3://my-bucket/one/", rows=4_000_000)
    for name, prefix, count in (("four-on-1", "four", 1), ("four-on-4", "four", 4), ("one-on-4", "one", 4)):
        job(sm, name, f"s3://my-bucket/{prefix}/", f"s3://my-bucket/{name}/", instance_type="ml.m5.xlarge",
            count=count)
    work = {n: duration(d) - _startup(eng, d) for n in ("four-on-1", "four-on-4", "one-on-4")
            for d in [finish(sm, n)]}
    assert work["four-on-4"] < work["four-on-1"] / 3  # four objects, four instances
    assert work["one-on-4"] > work["four-on-1"] * 0.9  # one object keeps one instance busy, the rest idle


# -- list ------------------------------------------------------------------------------------------------------


def test_list_transform_jobs_filters_sorts_and_pages(eng, sm, s3, model, labelled):
    put(s3, "in/test.csv", features(labelled))
    for name in ("nightly-a", "nightly-b", "adhoc"):
        job(sm, name, "s3://my-bucket/in/", f"s3://my-bucket/{name}/")
        eng.advance(5)
    sm.stop_transform_job(TransformJobName="adhoc")
    eng.run_until_idle()

    def names(**kw):
        return [s["TransformJobName"] for s in sm.list_transform_jobs(**kw)["TransformJobSummaries"]]

    assert names() == ["adhoc", "nightly-b", "nightly-a"]  # newest first
    assert names(NameContains="NIGHTLY", SortBy="Name", SortOrder="Ascending") == ["nightly-a", "nightly-b"]
    assert names(StatusEquals="Stopped") == ["adhoc"]
    assert names(StatusEquals="Completed", SortBy="Name") == ["nightly-b", "nightly-a"]
    created = sm.describe_transform_job(TransformJobName="nightly-b")["CreationTime"]
    assert names(CreationTimeAfter=created - timedelta(seconds=1), CreationTimeBefore=created + timedelta(seconds=1)) \
        == ["nightly-b"]
    page = sm.list_transform_jobs(MaxResults=2)
    assert len(page["TransformJobSummaries"]) == 2
    rest = sm.list_transform_jobs(MaxResults=2, NextToken=page["NextToken"])
    assert [s["TransformJobName"] for s in rest["TransformJobSummaries"]] == ["nightly-a"] and "NextToken" not in rest
    summary = sm.list_transform_jobs(NameContains="adhoc")["TransformJobSummaries"][0]
    assert summary["TransformJobStatus"] == "Stopped" and "TransformEndTime" in summary


# -- SageMaker's JSONPath subset ----------------------------------------------------------------------------------


def test_jsonpath_subset():
    row = ["id", "a", "b", "c", "d", "e"]
    assert jsonpath.parse("$[1:4]").select(row) == ["a", "b", "c", "d"]  # second through fifth: end inclusive
    assert jsonpath.parse("$[:5]").select(row) == row  # first through sixth
    assert jsonpath.parse("$[2:]").select(row) == ["b", "c", "d", "e"]
    assert jsonpath.parse("$[-2:]").select(row) == ["d", "e"]
    assert jsonpath.parse("$[0,-1]").select(row) == ["id", "e"]
    assert jsonpath.parse("$[1]").select(row) == "a"
    assert jsonpath.parse("$[*]").select(row) == row
    assert jsonpath.parse("$[1:]").columns(6) == ((1, 2, 3, 4, 5), False)
    assert jsonpath.parse("$[-1]").columns(6) == ((5,), True)
    doc = {"id": 7, "features": [1, 2, 3], "meta": {"x": 1, "y": 2}, "SageMakerOutput": {"score": 0.5}}
    assert jsonpath.parse("$").select(doc) == doc
    assert jsonpath.parse("$.features").select(doc) == [1, 2, 3]
    assert jsonpath.parse("$.features[0:1]").select(doc) == [1, 2]
    assert jsonpath.parse("$.meta.*").select(doc) == [1, 2]
    assert jsonpath.parse("$['id','SageMakerOutput']").select(doc) == {"id": 7, "SageMakerOutput": {"score": 0.5}}
    assert jsonpath.parse("$.meta.['x']").select(doc) == 1
    assert jsonpath.parse("$.SageMakerOutput.score").select(doc) == 0.5
    for bad, message in (("features", "an expression starts with"), ("$..id", "deep scan"), ("$[?(@.x)]", "filter"),
                         ("$[1:2:3]", "no step"), ("$['a.b']", "nested children"), ("$[x]", "not an index")):
        with pytest.raises(jsonpath.JsonPathError, match=message):
            jsonpath.parse(bad)
    with pytest.raises(jsonpath.JsonPathError, match="outside the record's 6 element"):
        jsonpath.parse("$[9]").select(row)
    with pytest.raises(jsonpath.JsonPathError, match="no attribute 'nope'"):
        jsonpath.parse("$.nope").select(doc)
