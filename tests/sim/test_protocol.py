"""The client facade speaks boto3: validation, AWS's error codes and texts, waiters in virtual time."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ParamValidationError, WaiterError

from engine import Engine
from engine.clock import EPOCH
from tests.helpers import training_request, wait


def test_client_side_validation_raises_param_validation_error_like_boto3(eng, sm, s3):
    req = training_request(eng)
    req["HyperParameters"] = {"num_round": 10}  # an int: botocore rejects it before sending
    with pytest.raises(ParamValidationError, match="HyperParameters.num_round, value: 10, type: <class 'int'>"):
        sm.create_training_job(**req)


def test_bad_name_fails_the_pattern_check_with_aws_wording(eng, sm, s3):
    with pytest.raises(ClientError) as e:
        sm.create_training_job(**training_request(eng, name="bad_name!"))
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationException"
    assert err["Message"] == (
        "1 validation error detected: Value 'bad_name!' at 'trainingJobName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def test_enum_and_several_errors_are_counted(eng, sm, s3):
    req = training_request(eng, name="x" * 64, instance_type="ml.foo")
    with pytest.raises(ClientError) as e:
        sm.create_training_job(**req)
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("3 validation errors detected: ")  # length, pattern ({0,62}) and enum
    assert "at 'trainingJobName' failed to satisfy constraint: Member must have length less than or equal to 63" in msg
    assert "at 'resourceConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value set: [" in msg


def test_unknown_resource_is_validation_exception_not_resource_not_found(sm):
    with pytest.raises(ClientError) as e:
        sm.describe_training_job(TrainingJobName="nope")
    assert e.value.response["Error"] == {"Code": "ValidationException", "Message": "Requested resource not found."}
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_duplicate_name_is_resource_in_use_with_the_modeled_exception(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    with pytest.raises(sm.exceptions.ResourceInUse) as e:
        sm.create_training_job(**training_request(eng))
    assert "a training job with this name already exists (arn:aws:sagemaker:us-east-1:123456789012:training-job/job-1)" \
        in e.value.response["Error"]["Message"]


def test_clock_starts_at_the_epoch_and_is_utc(eng):
    assert eng.now == EPOCH
    assert eng.now.tzinfo is not None and eng.now.utcoffset().total_seconds() == 0
    eng.advance(90)
    assert (eng.now - EPOCH).total_seconds() == 90


def test_waiter_fast_forwards_virtual_time_not_wall_time(eng, sm, s3):
    sm.create_training_job(**training_request(eng))
    desc = wait(sm, "job-1")
    assert desc["TrainingJobStatus"] == "Completed"
    # botocore's waiter polls every 120 s, so the clock stands on a multiple of it past the creation.
    assert (eng.now - EPOCH).total_seconds() % 120 == 0
    assert eng.now >= desc["TrainingEndTime"]


def test_waiter_gives_up_after_the_same_simulated_time_as_aws(eng, sm, s3):
    eng.faults.spot_capacity("ml.m5.xlarge", available=False)
    sm.create_training_job(**training_request(eng, spot=True, max_run=3600, max_wait=20000))
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName="job-1", WaiterConfig={"Delay": 60, "MaxAttempts": 3})
    assert (eng.now - EPOCH).total_seconds() == 120  # two sleeps of 60 s between three attempts


def test_waiter_on_unknown_job_reports_the_error(sm):
    # botocore's waiter definition treats ValidationException as a terminal failure, as against AWS.
    with pytest.raises(WaiterError, match="terminal failure state: Matched expected service error code: "
                                          "ValidationException"):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="ghost")


def test_same_seed_same_calls_give_identical_results():
    def run() -> tuple:
        eng = Engine(seed=11)
        eng.client("s3").create_bucket(Bucket="my-bucket")
        sm = eng.client("sagemaker")
        sm.create_training_job(**training_request(eng, spot=True, checkpoint="s3://my-bucket/ckpt"))
        eng.faults.interrupt_spot(TrainingJobName="job-1", after_seconds=5)
        desc = wait(sm, "job-1")
        desc.pop("ResponseMetadata")
        model = eng.client("s3").get_object(Bucket="my-bucket", Key="output/job-1/output/model.tar.gz")["Body"].read()
        return repr(desc), model, [li.as_dict() for li in eng.bill()]

    assert run() == run()


def test_response_metadata_has_deterministic_request_ids():
    a = Engine(seed=3).client("sagemaker").list_training_jobs()["ResponseMetadata"]["RequestId"]
    b = Engine(seed=3).client("sagemaker").list_training_jobs()["ResponseMetadata"]["RequestId"]
    assert a == b and len(a) == 36


def test_unsimulated_operation_says_so(sm):
    with pytest.raises(ClientError) as e:
        sm.list_clusters()
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "does not simulate sagemaker.ListClusters" in e.value.response["Error"]["Message"]


def test_engine_never_imports_the_app():
    import subprocess
    import sys

    code = "import sys, engine; from engine import Engine; Engine(0); print('sagetutor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
