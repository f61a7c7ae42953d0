"""AWS's policy evaluation: explicit deny wins, then an allow, else the default deny."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from engine.services.iam import policy
from engine.services.iam.policy import evaluate, evaluator, trusts

BUCKET_OBJ = "arn:aws:s3:::data-bucket/train/part-0.csv"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_S3_READ = doc({"Effect": "Allow", "Action": ["s3:Get*", "s3:ListBucket"], "Resource": "arn:aws:s3:::data-bucket*"})


def test_allow_by_wildcard_action_and_resource():
    d = evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ])
    assert d.allowed and not d.explicit_deny


def test_action_names_are_case_insensitive_but_resources_are_not():
    assert evaluate("S3:getobject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ]).allowed
    assert not evaluate("s3:GetObject", "arn:aws:s3:::DATA-bucket/x", identity_policies=[ALLOW_S3_READ]).allowed


def test_missing_permission_is_the_default_deny():
    d = evaluate("s3:PutObject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ])
    assert not d.allowed and not d.explicit_deny
    assert d.reason == "no identity-based policy allows"


def test_explicit_deny_wins_over_any_allow():
    deny = doc({"Sid": "NoTrain", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::data-bucket/train/*"})
    d = evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ, deny])
    assert not d.allowed and d.explicit_deny and d.statement_sid == "NoTrain"


def test_bucket_policy_deny_decides_even_when_identity_allows():
    bucket_policy = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"})
    d = evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ], resource_policies=[bucket_policy],
                 principal="arn:aws:sts::123456789012:assumed-role/R/SageMaker")
    assert not d.allowed and d.reason == "an explicit deny in a resource-based policy"


def test_bucket_policy_allow_naming_the_role_suffices_in_the_same_account():
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/R"},
                         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"})
    d = evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[], resource_policies=[bucket_policy],
                 principal="arn:aws:sts::123456789012:assumed-role/R/SageMaker")
    assert d.allowed


def test_bucket_policy_naming_the_account_delegates_to_iam():
    bucket_policy = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"})
    who = "arn:aws:sts::123456789012:assumed-role/R/SageMaker"
    assert not evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[], resource_policies=[bucket_policy],
                        principal=who).allowed
    assert evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[ALLOW_S3_READ], resource_policies=[bucket_policy],
                    principal=who).allowed


def test_ip_address_and_for_any_value_operators():
    pol = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*",
               "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
              {"Effect": "Deny", "Action": "sagemaker:CreateTrainingJob", "Resource": "*",
               "Condition": {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": "ml.p*"}}})
    assert evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[pol], context={"aws:SourceIp": "203.0.113.10"})
    assert not evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[pol], context={"aws:SourceIp": "10.0.0.1"})
    d = evaluate("sagemaker:CreateTrainingJob", "*", identity_policies=[pol, doc({"Effect": "Allow", "Action": "*",
                                                                                   "Resource": "*"})],
                 context={"sagemaker:InstanceTypes": ["ml.m5.large", "ml.p3.2xlarge"]})
    assert not d.allowed and d.explicit_deny


def test_condition_on_vpc_endpoint():
    pol = doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*",
               "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}},
              {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    assert not evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[pol], context={"aws:SourceVpce": "vpce-other"})
    assert evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[pol], context={"aws:SourceVpce": "vpce-1a2b3c"})


def test_not_action_and_not_resource():
    pol = doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate("s3:GetObject", BUCKET_OBJ, identity_policies=[pol]).allowed
    assert not evaluate("iam:CreateRole", "*", identity_policies=[pol]).allowed
    assert not evaluate("s3:GetObject", "arn:aws:s3:::secret/k", identity_policies=[pol]).allowed


def test_an_evaluator_over_many_objects_decides_each_as_evaluate_does(monkeypatch):
    identity = [ALLOW_S3_READ, doc({"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::data-bucket/secret/*",
                                    "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}})]
    bucket = [doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                   "NotResource": ["arn:aws:s3:::data-bucket/train/*", "arn:aws:s3:::data-bucket/secret/*"]})]
    keys = [f"arn:aws:s3:::data-bucket/{k}" for k in ("train/a.csv", "secret/b.csv", "test/c.csv", "train/d.csv")]
    kwargs = dict(identity_policies=identity, resource_policies=bucket, principal="arn:aws:iam::1:role/r",
                  context={"aws:SourceVpce": "vpce-2"})
    expected = [evaluate("s3:GetObject", k, **kwargs) for k in keys]
    assert [(d.allowed, d.explicit_deny, d.statement_sid) for d in expected] == [
        (True, False, None), (False, True, "NoSecrets"), (False, True, None), (True, False, None)]
    calls = []
    holds = policy._conditions_hold
    monkeypatch.setattr(policy, "_conditions_hold", lambda block, ctx: calls.append(block) or holds(block, ctx))
    decide = evaluator("s3:GetObject", **kwargs)
    assert [decide(k) for k in keys] == expected
    assert len(calls) == 3  # each statement's conditions decided once, not once per object


def test_trust_policy_must_name_the_service():
    trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    assert not trusts(trust, "sagemaker.amazonaws.com")
    trust["Statement"][0]["Principal"]["Service"] = ["ec2.amazonaws.com", "sagemaker.amazonaws.com"]
    assert trusts(trust, "sagemaker.amazonaws.com")


def test_iam_client_round_trips_policies_and_simulates(eng):
    iam = eng.client("iam")
    trust = doc({"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"})
    arn = iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assert arn == "arn:aws:iam::123456789012:role/Reader"
    iam.put_role_policy(RoleName="Reader", PolicyName="read", PolicyDocument=json.dumps(ALLOW_S3_READ))
    got = iam.get_role_policy(RoleName="Reader", PolicyName="read")["PolicyDocument"]
    assert got == ALLOW_S3_READ  # botocore decodes IAM's URL-encoded JSON, as with real IAM
    res = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:GetObject", "s3:PutObject"],
                                        ResourceArns=[BUCKET_OBJ])["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in res] == [("s3:GetObject", "allowed"),
                                                                       ("s3:PutObject", "implicitDeny")]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="Reader", AssumeRolePolicyDocument=json.dumps(trust))
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName="Ghost")
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"


def test_default_execution_role_exists_and_trusts_sagemaker(eng):
    role = eng.client("iam").get_role(RoleName="SageMakerExecutionRole")["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert eng.client("sts").get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/admin"
