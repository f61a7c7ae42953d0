"""Callers have identities: every client call is authorised as AWS would, and every decision is a fact."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import ROLE, training_request

ACCOUNT = "123456789012"
TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


def make_role(eng, name: str, *statements: dict) -> str:
    iam = eng.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def session(name: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/sagetutor"


def test_default_caller_is_the_administrator_and_is_allowed(eng):
    ident = eng.client("sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    eng.client("sagemaker").list_training_jobs()
    last = eng.security().access[-1]
    assert (last.principal, last.action, last.allowed) == (ident["Arn"], "sagemaker:ListTrainingJobs", True)


def test_as_role_calls_as_an_assumed_role_session(eng):
    arn = make_role(eng, "Analyst", allow("sagemaker:List*"))
    ident = eng.client("sts", as_role=arn).get_caller_identity()
    assert ident["Arn"] == session("Analyst")


def test_as_role_naming_no_role_is_refused_before_any_call(eng):
    with pytest.raises(ValueError, match="as_role names no role"):
        eng.client("sagemaker", as_role=f"arn:aws:iam::{ACCOUNT}:role/Nobody")


def test_missing_permission_is_denied_with_aws_sentence(eng):
    arn = make_role(eng, "Analyst", allow("sagemaker:List*"))
    sm = eng.client("sagemaker", as_role=arn)
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    with pytest.raises(ClientError) as e:
        sm.create_training_job(**training_request(eng, "denied-job"))
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert err["Message"] == (
        f"User: {session('Analyst')} is not authorized to perform: sagemaker:CreateTrainingJob on resource: "
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/denied-job because no identity-based policy allows the "
        "sagemaker:CreateTrainingJob action")
    assert "denied-job" not in [j["TrainingJobName"] for j in eng.client("sagemaker").list_training_jobs()[
        "TrainingJobSummaries"]]
    denial = eng.security().denials[-1]
    assert (denial.principal, denial.action, denial.reason) == (
        session("Analyst"), "sagemaker:CreateTrainingJob", "no identity-based policy allows")


def test_explicit_deny_beats_an_allow(eng):
    arn = make_role(eng, "Capped", allow("sagemaker:*"), deny("sagemaker:CreateEndpoint"))
    sm = eng.client("sagemaker", as_role=arn)
    with pytest.raises(ClientError) as e:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    assert e.value.response["Error"]["Message"].endswith(
        "sagemaker:CreateEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep with an explicit "
        "deny in an identity-based policy")


def test_creating_a_job_needs_pass_role_on_its_execution_role(eng, s3):
    arn = make_role(eng, "NoPass", allow("sagemaker:*"))
    with pytest.raises(ClientError) as e:
        eng.client("sagemaker", as_role=arn).create_training_job(**training_request(eng, "j"))
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert f"is not authorized to perform: iam:PassRole on resource: {ROLE} because" in err["Message"]
    arn2 = make_role(eng, "WithPass", allow("sagemaker:*"), allow("iam:PassRole", ROLE, Condition={
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
    out = eng.client("sagemaker", as_role=arn2).create_training_job(**training_request(eng, "j"))
    assert out["TrainingJobArn"].endswith(":training-job/j")


def test_condition_on_vpc_subnets_denies_a_job_outside_a_vpc(eng, s3):
    arn = make_role(eng, "VpcOnly", allow("sagemaker:*"), allow("iam:PassRole", ROLE),
                    deny("sagemaker:CreateTrainingJob", Condition={"Null": {"sagemaker:VpcSubnets": "true"}}))
    with pytest.raises(ClientError) as e:
        eng.client("sagemaker", as_role=arn).create_training_job(**training_request(eng, "no-vpc"))
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]


def test_condition_on_volume_kms_key_is_read_from_the_request(eng, s3):
    arn = make_role(eng, "KeyRequired", allow("sagemaker:*"), allow("iam:PassRole", ROLE),
                    deny("sagemaker:CreateTrainingJob", Condition={"Null": {"sagemaker:VolumeKmsKey": "true"}}))
    sm = eng.client("sagemaker", as_role=arn)
    with pytest.raises(ClientError):
        sm.create_training_job(**training_request(eng, "plain"))
    key = eng.client("kms").create_key()["KeyMetadata"]["Arn"]
    req = training_request(eng, "keyed")
    req["ResourceConfig"]["VolumeKmsKeyId"] = key
    assert sm.create_training_job(**req)["TrainingJobArn"].endswith("keyed")


def test_bucket_policy_deny_refuses_an_identity_allow(eng, s3):
    arn = make_role(eng, "Reader", allow("s3:*"))
    s3.put_object(Bucket="my-bucket", Key="secret.csv", Body=b"1,2\n")
    s3.put_bucket_policy(Bucket="my-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": arn}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-bucket/*"}]}))
    reader = eng.client("s3", as_role=arn)
    with pytest.raises(ClientError) as e:
        reader.get_object(Bucket="my-bucket", Key="secret.csv")
    err = e.value.response["Error"]
    assert (err["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert err["Message"].endswith("with an explicit deny in a resource-based policy")
    assert reader.list_objects_v2(Bucket="my-bucket")["KeyCount"] == 1  # ListBucket is not denied


def test_bucket_policy_allow_suffices_for_a_principal_of_the_account(eng, s3):
    arn = make_role(eng, "NoS3")
    s3.put_object(Bucket="my-bucket", Key="shared.csv", Body=b"x")
    s3.put_bucket_policy(Bucket="my-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::my-bucket/*"}]}))
    assert eng.client("s3", as_role=arn).get_object(Bucket="my-bucket", Key="shared.csv")["Body"].read() == b"x"


def test_assume_role_honours_the_trust_policy(eng):
    sts = eng.client("sts")
    with pytest.raises(ClientError) as e:  # the default execution role trusts only sagemaker.amazonaws.com
        sts.assume_role(RoleArn=ROLE, RoleSessionName="me")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    arn = make_role(eng, "Assumable")
    out = sts.assume_role(RoleArn=arn, RoleSessionName="me")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Assumable/me"
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
