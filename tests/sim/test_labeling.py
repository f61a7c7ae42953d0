"""Ground Truth labeling jobs: simulated workers, consolidation, active learning, output manifest, bill."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine import Engine
from engine.pricing import unit_price
from tests.helpers import ROLE

DATA = "s3://sagetutor-datasets"
PUBLIC = "arn:aws:sagemaker:us-east-1:394669845002:workteam/public-crowd/default"
ALGORITHM = "arn:aws:sagemaker:us-east-1:027400017018:labeling-job-algorithm-specification/{}"
LAMBDA = "arn:aws:lambda:us-east-1:432418664414:function:{}"
METADATA_KEYS = ["confidence", "job-name", "class-name", "human-annotated", "creation-date", "type"]


def labeling_request(name: str = "job-1", dataset: str = "digits-images", *, manifest: str | None = None,
                     workers: int = 3, workteam: str = PUBLIC, price: tuple[int, int, int] | None = (0, 1, 2),
                     active: bool = False, concurrency: int | None = None, attribute: str = "label",
                     stopping: dict | None = None) -> dict:
    """A CreateLabelingJob request as a learner would write it (image classification of the digits by default)."""
    kind = "Image" if dataset.startswith("digits") else "Text"
    htc = {"WorkteamArn": workteam, "UiConfig": {"UiTemplateS3Uri": "s3://my-bucket/templates/task.liquid"},
           "PreHumanTaskLambdaArn": LAMBDA.format(f"PRE-{kind}MultiClass"),
           "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": LAMBDA.format(f"ACS-{kind}MultiClass")},
           "TaskTitle": "Which digit is this?", "TaskDescription": "Pick the digit shown in the image",
           "NumberOfHumanWorkersPerDataObject": workers, "TaskTimeLimitInSeconds": 300}
    if price is not None:
        htc["PublicWorkforceTaskPrice"] = {"AmountInUsd": {"Dollars": price[0], "Cents": price[1],
                                                           "TenthFractionsOfACent": price[2]}}
    if concurrency:
        htc["MaxConcurrentTaskCount"] = concurrency
    req = {"LabelingJobName": name, "LabelAttributeName": attribute,
           "InputConfig": {"DataSource": {"S3DataSource": {
               "ManifestS3Uri": manifest or f"{DATA}/{dataset}/manifest/input.manifest"}}},
           "OutputConfig": {"S3OutputPath": "s3://my-bucket/labels/"}, "RoleArn": ROLE,
           "LabelCategoryConfigS3Uri": f"{DATA}/{dataset}/manifest/label-categories.json",
           "HumanTaskConfig": htc}
    if active:
        algorithm = "image-classification" if kind == "Image" else "text-classification"
        req["LabelingJobAlgorithmsConfig"] = {"LabelingJobAlgorithmSpecificationArn": ALGORITHM.format(algorithm)}
    if stopping:
        req["StoppingConditions"] = stopping
    return req


def read(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def subset(s3, dataset: str, count: int) -> str:
    """The first ``count`` lines of a dataset's manifest, with their labels.json beside them, in my-bucket."""
    lines = read(s3, "sagetutor-datasets", f"{dataset}/manifest/input.manifest").decode().splitlines()[:count]
    truth = json.loads(read(s3, "sagetutor-datasets", f"{dataset}/manifest/labels.json"))
    s3.put_object(Bucket="my-bucket", Key=f"{dataset}-{count}/input.manifest", Body="\n".join(lines) + "\n")
    s3.put_object(Bucket="my-bucket", Key=f"{dataset}-{count}/labels.json",
                  Body=json.dumps({str(i): truth[str(i)] for i in range(count)}))
    return f"s3://my-bucket/{dataset}-{count}/input.manifest"


def output(s3, name: str) -> list[str]:
    return read(s3, "my-bucket", f"labels/{name}/manifests/output/output.manifest").decode().splitlines()


def scored(s3, dataset: str, lines: list[str]) -> list[tuple[dict, bool]]:
    """Each output line with whether its label is the true one; output lines keep the input's order."""
    inputs = [json.loads(x) for x in read(s3, "sagetutor-datasets", f"{dataset}/manifest/input.manifest").splitlines()]
    truth = json.loads(read(s3, "sagetutor-datasets", f"{dataset}/manifest/labels.json"))
    out, index = [], -1
    for raw in lines:
        rec = json.loads(raw)
        meta = rec["label-metadata"]
        bare = {k: v for k, v in rec.items() if not k.startswith("label")}
        index += 1
        while inputs[index] != bare:
            index += 1
        out.append((meta, meta["class-name"] == truth[str(index)]))
    return out


def accuracy(rows: list[tuple[dict, bool]], human: str | None = None) -> float:
    picked = [ok for meta, ok in rows if human is None or meta["human-annotated"] == human]
    return sum(picked) / len(picked)


def error(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    return e.value


# ----------------------------------------------------------------------------- the output manifest


def test_output_manifest_lines_have_exactly_aws_keys_and_types(eng, sm, s3):
    manifest = subset(s3, "digits-images", 200)
    arn = sm.create_labeling_job(**labeling_request("Digits-Job", manifest=manifest))["LabelingJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/digits-job"
    assert sm.describe_labeling_job(LabelingJobName="Digits-Job")["LabelingJobStatus"] == "Initializing"
    eng.run_until_idle()
    d = sm.describe_labeling_job(LabelingJobName="Digits-Job")
    assert d["LabelingJobStatus"] == "Completed"
    assert d["LabelingJobOutput"] == {
        "OutputDatasetS3Uri": "s3://my-bucket/labels/Digits-Job/manifests/output/output.manifest"}
    categories = [c["label"] for c in json.loads(read(s3, "sagetutor-datasets",
                                                      "digits-images/manifest/label-categories.json"))["labels"]]
    sources = read(s3, "my-bucket", "digits-images-200/input.manifest").decode().splitlines()
    lines = output(s3, "Digits-Job")
    assert len(lines) == 200
    for raw, src in zip(lines, sources):
        assert ": " not in raw and ", " not in raw  # compact JSON, one object per line
        rec = json.loads(raw)
        assert list(rec) == ["source-ref", "label", "label-metadata"]
        assert rec["source-ref"] == json.loads(src)["source-ref"]
        assert type(rec["label"]) is int
        meta = rec["label-metadata"]
        assert list(meta) == METADATA_KEYS
        assert type(meta["confidence"]) is float and 0.0 <= meta["confidence"] <= 1.0
        assert re.search(r'"confidence":\d\.\d\d,', raw)
        assert meta["job-name"] == "labeling-job/digits-job"
        assert meta["class-name"] == categories[rec["label"]]
        assert meta["human-annotated"] == "yes"
        assert meta["type"] == "groundtruth/image-classification"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", meta["creation-date"])
        assert d["CreationTime"].strftime("%Y-%m-%dT%H:%M:%S") <= meta["creation-date"] \
            <= d["LastModifiedTime"].strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_statuses_counters_and_timeline(eng, sm, s3):
    manifest = subset(s3, "digits-images", 100)
    sm.create_labeling_job(**labeling_request(manifest=manifest))
    d = sm.describe_labeling_job(LabelingJobName="job-1")
    assert d["LabelCounters"] == {"TotalLabeled": 0, "HumanLabeled": 0, "MachineLabeled": 0,
                                  "FailedNonRetryableError": 0, "Unlabeled": 100}
    assert d["JobReferenceCode"] and d["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"] == 3
    eng.run_until_idle()
    statuses = [e.status for e in eng.timeline() if e.kind == "status" and "labeling-job/job-1" in e.resource]
    assert statuses == ["Initializing", "InProgress", "Completed"]
    d = sm.describe_labeling_job(LabelingJobName="job-1")
    assert d["LabelCounters"]["HumanLabeled"] == d["LabelCounters"]["TotalLabeled"] == 100
    took = (d["LastModifiedTime"] - d["CreationTime"]).total_seconds()
    assert 60 < took < 6 * 3600  # minutes of simulated human work, from task times and workers
    [summary] = sm.list_labeling_jobs()["LabelingJobSummaryList"]
    assert summary["LabelingJobStatus"] == "Completed" and summary["WorkteamArn"] == PUBLIC
    assert eng.logs_for("/aws/sagemaker/LabelingJobs")


# ----------------------------------------------------------------------------- workers and consolidation


def test_three_public_crowd_workers_beat_one_and_one_worker_has_confidence_zero(eng, sm, s3):
    manifest = subset(s3, "digits-images", 400)
    sm.create_labeling_job(**labeling_request("one", manifest=manifest, workers=1))
    sm.create_labeling_job(**labeling_request("three", manifest=manifest, workers=3))
    eng.run_until_idle()
    one, three = output(s3, "one"), output(s3, "three")
    acc_one, acc_three = accuracy(scored(s3, "digits-images", one)), accuracy(scored(s3, "digits-images", three))
    assert acc_three > acc_one
    assert acc_three >= 0.97 and acc_one < 0.97
    assert all('"confidence":0.00,' in raw for raw in one)
    assert {json.loads(raw)["label-metadata"]["confidence"] for raw in one} == {0.0}
    confidences = [json.loads(raw)["label-metadata"]["confidence"] for raw in three]
    assert min(confidences) < 0.9 < max(confidences)


def test_private_team_is_more_accurate_than_one_public_worker_and_costs_no_task_fee(eng, sm, s3):
    member = {"CognitoMemberDefinition": {"UserPool": "us-east-1_Ab12Cd", "UserGroup": "labelers",
                                          "ClientId": "2abcdefghij"}}
    arn = sm.create_workteam(WorkteamName="experts", MemberDefinitions=[member],
                             Description="In-house labelers")["WorkteamArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/experts"
    team = sm.describe_workteam(WorkteamName="experts")["Workteam"]
    assert team["WorkteamArn"] == arn and team["SubDomain"].endswith(".labeling.us-east-1.sagemaker.aws")
    assert [t["WorkteamName"] for t in sm.list_workteams()["Workteams"]] == ["experts"]
    manifest = subset(s3, "digits-images", 400)
    sm.create_labeling_job(**labeling_request("private", manifest=manifest, workers=1, workteam=arn, price=None))
    sm.create_labeling_job(**labeling_request("public", manifest=manifest, workers=1))
    eng.run_until_idle()
    assert accuracy(scored(s3, "digits-images", output(s3, "private"))) > \
        accuracy(scored(s3, "digits-images", output(s3, "public")))
    assert {li.usage_type for li in eng.bill().for_resource("labeling-job/private")} == {"groundtruth-labeled-objects"}
    jobs = sm.list_labeling_jobs_for_workteam(WorkteamArn=arn)["LabelingJobSummaryList"]
    assert [j["LabelingJobName"] for j in jobs] == ["private"] and jobs[0]["LabelCounters"]["HumanLabeled"] == 400


def test_vendor_team_by_arn_pattern_bills_the_vendor_price(eng, sm, s3):
    vendor = "arn:aws:sagemaker:us-east-1:763104351884:workteam/vendor-crowd/acme-labeling"
    manifest = subset(s3, "digits-images", 100)
    sm.create_labeling_job(**labeling_request(manifest=manifest, workers=2, workteam=vendor, price=None))
    eng.run_until_idle()
    [task_line] = [li for li in eng.bill().for_resource("labeling-job/job-1") if li.unit == "task"]
    assert task_line.usage_type == "groundtruth-vendor-tasks" and task_line.quantity == 200
    bad = error(lambda: sm.create_labeling_job(**labeling_request(
        "job-2", manifest=manifest, workteam="arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/nobody")))
    assert bad.response["Error"]["Code"] == "ValidationException" and "does not exist" in str(bad)


# ----------------------------------------------------------------------------- automated data labeling


def test_active_learning_on_digits_labels_most_objects_by_machine_at_95_percent(eng, sm, s3):
    sm.create_labeling_job(**labeling_request(active=True, concurrency=200))
    eng.run_until_idle()
    d = sm.describe_labeling_job(LabelingJobName="job-1")
    c = d["LabelCounters"]
    assert d["LabelingJobStatus"] == "Completed"
    assert c["MachineLabeled"] > 0
    assert c["HumanLabeled"] <= 0.5 * 1797
    assert c["TotalLabeled"] == c["HumanLabeled"] + c["MachineLabeled"]
    assert c["TotalLabeled"] + c["FailedNonRetryableError"] + c["Unlabeled"] == 1797
    rows = scored(s3, "digits-images", output(s3, "job-1"))
    assert len(rows) == c["TotalLabeled"]
    assert sum(meta["human-annotated"] == "no" for meta, _ in rows) == c["MachineLabeled"]
    assert accuracy(rows, human="no") >= 0.95
    machine = [meta for meta, _ in rows if meta["human-annotated"] == "no"]
    assert all(m["type"] == "groundtruth/image-classification" and m["confidence"] > 0 for m in machine)
    # The bill: the per-object fee for every labeled object, the task price for human work only,
    # and the active-learning instances.
    lines = eng.bill().for_resource("labeling-job/job-1")
    [objects] = [li for li in lines if li.usage_type == "groundtruth-labeled-objects"]
    assert objects.unit == "object" and objects.quantity == c["TotalLabeled"]
    assert objects.amount == Decimal(c["TotalLabeled"]) * unit_price("groundtruth-object-first-50k").usd
    [tasks] = [li for li in lines if li.usage_type == "groundtruth-public-tasks"]
    assert tasks.quantity == 3 * c["HumanLabeled"] and tasks.unit_price == Decimal("0.012")
    assert {li.usage_type for li in lines} >= {"autolabel-training-seconds",
                                               "autolabel-inference-seconds"}


def test_active_learning_on_tickets_text_classification(eng, sm, s3):
    sm.create_labeling_job(**labeling_request("tickets", "tickets", active=True, concurrency=200))
    eng.run_until_idle()
    c = sm.describe_labeling_job(LabelingJobName="tickets")["LabelCounters"]
    assert c["MachineLabeled"] > 0 and c["TotalLabeled"] == 2400 and c["Unlabeled"] == 0
    lines = output(s3, "tickets")
    rec = json.loads(lines[0])
    assert list(rec) == ["source", "label", "label-metadata"]
    assert rec["label-metadata"]["type"] == "groundtruth/text-classification"
    rows = scored(s3, "tickets", lines)
    assert accuracy(rows, human="no") >= 0.95


def test_active_learning_needs_at_least_1250_objects(eng, sm, s3):
    manifest = subset(s3, "digits-images", 1249)
    e = error(lambda: sm.create_labeling_job(**labeling_request(manifest=manifest, active=True)))
    assert e.response["Error"]["Code"] == "ValidationException"
    assert "1,249" in str(e) and "1,250" in str(e)
    manifest = subset(s3, "digits-images", 1250)
    sm.create_labeling_job(**labeling_request(manifest=manifest, active=True))  # exactly the minimum is fine


def test_algorithm_arn_must_be_one_of_aws_arns(eng, sm, s3):
    req = labeling_request(active=True)
    req["LabelingJobAlgorithmsConfig"]["LabelingJobAlgorithmSpecificationArn"] = \
        "arn:aws:sagemaker:us-east-1:123456789012:labeling-job-algorithm-specification/image-classification"
    assert "027400017018" in str(error(lambda: sm.create_labeling_job(**req)))
    req = labeling_request(active=True)
    req["LabelingJobAlgorithmsConfig"]["LabelingJobAlgorithmSpecificationArn"] = ALGORITHM.format(
        "text-classification")
    assert "inconsistent" in str(error(lambda: sm.create_labeling_job(**req)))


def test_same_seed_gives_the_same_output_manifest_bytes():
    def run() -> tuple[bytes, str]:
        eng = Engine(seed=11)
        sm, s3 = eng.client("sagemaker"), eng.client("s3")
        s3.create_bucket(Bucket="my-bucket")
        sm.create_labeling_job(**labeling_request(active=True, concurrency=200))
        eng.run_until_idle()
        return read(s3, "my-bucket", "labels/job-1/manifests/output/output.manifest"), eng.bill().format()

    first, second = run(), run()
    assert first == second


# ----------------------------------------------------------------------------- validation


def test_task_price_must_be_one_of_aws_allowed_values(eng, sm, s3):
    manifest = subset(s3, "digits-images", 50)
    e = error(lambda: sm.create_labeling_job(**labeling_request(manifest=manifest, price=(0, 1, 3))))
    assert e.response["Error"]["Code"] == "ValidationException" and "0.013" in str(e) and "0.012" in str(e)
    e = error(lambda: sm.create_labeling_job(**labeling_request(manifest=manifest, price=None)))
    assert "PublicWorkforceTaskPrice is required" in str(e)
    sm.create_labeling_job(**labeling_request(manifest=manifest, price=(0, 3, 6)))  # 0.036 is allowed


def test_request_rules(eng, sm, s3):
    manifest = subset(s3, "digits-images", 50)
    e = error(lambda: sm.create_labeling_job(**labeling_request(manifest=manifest, attribute="label-metadata")))
    assert e.response["Error"]["Code"] == "ValidationException" and "-metadata" in str(e)
    e = error(lambda: sm.create_labeling_job(**labeling_request(manifest=manifest, workers=10)))
    assert "less than or equal to 9" in str(e)
    sm.create_labeling_job(**labeling_request("Job-A", manifest=manifest))
    e = error(lambda: sm.create_labeling_job(**labeling_request("job-a", manifest=manifest)))
    assert e.response["Error"]["Code"] == "ResourceInUse"
    e = error(lambda: sm.describe_labeling_job(LabelingJobName="nope"))
    assert e.response["Error"]["Message"] == "Requested resource not found."
    req = labeling_request("job-b", manifest=manifest)
    del req["LabelCategoryConfigS3Uri"]
    assert "LabelCategoryConfigS3Uri" in str(error(lambda: sm.create_labeling_job(**req)))
    req = labeling_request("job-c", manifest="s3://my-bucket/missing/input.manifest")
    assert "NoSuchKey" in str(error(lambda: sm.create_labeling_job(**req)))


def test_missing_labels_json_fails_the_job_and_says_why(eng, sm, s3):
    s3.put_object(Bucket="my-bucket", Key="mine/input.manifest", Body=b'{"source": "my card was charged twice"}\n')
    sm.create_labeling_job(**labeling_request("mine", "tickets", manifest="s3://my-bucket/mine/input.manifest"))
    eng.run_until_idle()
    d = sm.describe_labeling_job(LabelingJobName="mine")
    assert d["LabelingJobStatus"] == "Failed" and "labels.json" in d["FailureReason"]


# ----------------------------------------------------------------------------- stopping


def test_stop_gives_stopped_with_the_labels_so_far(eng, sm, s3):
    manifest = subset(s3, "digits-images", 600)
    sm.create_labeling_job(**labeling_request(manifest=manifest, concurrency=50))
    while sm.describe_labeling_job(LabelingJobName="job-1")["LabelCounters"]["HumanLabeled"] < 100:
        eng.advance(60)
    sm.stop_labeling_job(LabelingJobName="job-1")
    assert sm.describe_labeling_job(LabelingJobName="job-1")["LabelingJobStatus"] == "Stopping"
    eng.run_until_idle()
    d = sm.describe_labeling_job(LabelingJobName="job-1")
    c = d["LabelCounters"]
    assert d["LabelingJobStatus"] == "Stopped"
    assert 100 <= c["HumanLabeled"] < 600 and c["Unlabeled"] == 600 - c["TotalLabeled"] - c["FailedNonRetryableError"]
    assert len(output(s3, "job-1")) == c["TotalLabeled"]
    [objects] = [li for li in eng.bill().for_resource("labeling-job/job-1") if li.unit == "object"]
    assert objects.quantity == c["TotalLabeled"]
    e = error(lambda: sm.stop_labeling_job(LabelingJobName="job-1"))
    assert e.response["Error"]["Code"] == "ValidationException"


def test_stopping_conditions_stop_the_job(eng, sm, s3):
    manifest = subset(s3, "digits-images", 300)
    sm.create_labeling_job(**labeling_request("humans", manifest=manifest,
                                              stopping={"MaxHumanLabeledObjectCount": 40}))
    sm.create_labeling_job(**labeling_request("share", manifest=manifest,
                                              stopping={"MaxPercentageOfInputDatasetLabeled": 10}))
    eng.run_until_idle()
    humans = sm.describe_labeling_job(LabelingJobName="humans")
    share = sm.describe_labeling_job(LabelingJobName="share")
    assert humans["LabelingJobStatus"] == share["LabelingJobStatus"] == "Stopped"
    assert humans["LabelCounters"]["HumanLabeled"] == 40 and share["LabelCounters"]["TotalLabeled"] == 30
    assert len(output(s3, "humans")) == 40
