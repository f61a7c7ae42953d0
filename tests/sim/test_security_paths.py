"""Where a job's data travels, what blocks it, and which key encrypts it: run, and recorded as facts."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ConnectTimeoutError

from tests.helpers import ROLE, training_request, wait

ACCOUNT = "123456789012"
S3_SERVICE = "com.amazonaws.us-east-1.s3"


def private_network(eng, *, s3_endpoint: bool = False, runtime_endpoint: bool = False) -> dict:
    """A VPC with one private subnet (no internet route), its security group and optional endpoints."""
    ec2 = eng.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    group = ec2.create_security_group(GroupName="jobs", Description="training jobs", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    out = {"vpc": vpc, "subnet": subnet, "group": group, "route_table": rt}
    if s3_endpoint:
        out["s3_endpoint"] = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3_SERVICE, VpcEndpointType="Gateway",
                                                     RouteTableIds=[rt])["VpcEndpoint"]["VpcEndpointId"]
    if runtime_endpoint:
        out["runtime_endpoint"] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sagemaker.runtime", VpcEndpointType="Interface",
            SubnetIds=[subnet], SecurityGroupIds=[group], PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]
    return out


def in_vpc(req: dict, net: dict) -> dict:
    req["VpcConfig"] = {"Subnets": [net["subnet"]], "SecurityGroupIds": [net["group"]]}
    return req


# -- network paths ----------------------------------------------------------------------------
def test_a_job_in_a_private_subnet_without_a_route_to_s3_fails_to_download(eng, sm, s3):
    net = private_network(eng)
    sm.create_training_job(**in_vpc(training_request(eng, "no-route"), net))
    desc = wait(sm, "no-route")
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == (
        "ClientError: Data download failed:Please ensure that the subnet's route table has a route to an S3 VPC "
        "endpoint or a NAT device, and both the security groups and the subnet's network access control list "
        "(NACL) allow outbound traffic to S3.")
    assert desc["VpcConfig"] == {"Subnets": [net["subnet"]], "SecurityGroupIds": [net["group"]]}
    [t] = eng.security().transfers_of("training-job/no-route")
    assert (t.service, t.purpose, t.path) == ("s3", "input data", "none")


def test_the_same_job_with_an_s3_gateway_endpoint_trains_over_the_endpoint(eng, sm, s3):
    net = private_network(eng, s3_endpoint=True)
    sm.create_training_job(**in_vpc(training_request(eng, "via-endpoint"), net))
    desc = wait(sm, "via-endpoint")
    assert desc["TrainingJobStatus"] == "Completed"
    auc = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}["validation:auc"]
    assert auc > 0.9  # a real fit on breast-cancer
    transfers = eng.security().transfers_of("training-job/via-endpoint")
    assert {(t.purpose, t.path, t.via) for t in transfers} == {
        ("input data", "vpc-endpoint", net["s3_endpoint"]), ("model artifact", "vpc-endpoint", net["s3_endpoint"])}
    assert all(not t.public for t in transfers)
    assert [ln for ln in eng.bill() if ln.service == "ec2"] == []  # gateway endpoints are free


def test_a_job_without_vpc_config_uses_sagemakers_public_network(eng, sm, s3):
    sm.create_training_job(**training_request(eng, "public"))
    assert wait(sm, "public")["TrainingJobStatus"] == "Completed"
    paths = {t.path for t in eng.security().transfers_of("training-job/public")}
    assert paths == {"public-internet"}


def test_unknown_subnet_in_vpc_config_is_refused_at_create(eng, sm, s3):
    req = training_request(eng, "bad-subnet")
    req["VpcConfig"] = {"Subnets": ["subnet-0123456789abcdef0"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**req)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "subnet-0123456789abcdef0" in e.value.response["Error"]["Message"]


def test_bucket_policy_on_aws_source_vpce_admits_only_the_endpoint(eng, sm, s3):
    net = private_network(eng, s3_endpoint=True)
    s3.put_object(Bucket="my-bucket", Key="data/train.csv", Body=b"1,0.5\n0,0.1\n")
    s3.put_bucket_policy(Bucket="my-bucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OnlyThroughTheEndpoint", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::my-bucket/*",
         "Condition": {"StringNotEquals": {"aws:SourceVpce": net["s3_endpoint"]}}}]}))
    with pytest.raises(s3.exceptions.ClientError) as e:  # from the learner's laptop
        s3.get_object(Bucket="my-bucket", Key="data/train.csv")
    assert e.value.response["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    inside = eng.client("s3", from_subnet=net["subnet"])
    assert inside.get_object(Bucket="my-bucket", Key="data/train.csv")["Body"].read() == b"1,0.5\n0,0.1\n"
    last = [t for t in eng.security().transfers if t.purpose == "download"][-1]
    assert (last.path, last.via) == ("vpc-endpoint", net["s3_endpoint"])


def test_invoking_from_a_private_subnet_needs_the_runtime_interface_endpoint(eng):
    bare = private_network(eng)
    runtime = eng.client("sagemaker-runtime", from_subnet=bare["subnet"])
    with pytest.raises(ConnectTimeoutError):
        runtime.invoke_endpoint(EndpointName="any", Body=b"1,2", ContentType="text/csv")
    failed = eng.security().transfers[-1]
    assert (failed.service, failed.purpose, failed.path) == ("sagemaker.runtime", "invoke", "none")

    eng2 = type(eng)(seed=7)
    net = private_network(eng2, runtime_endpoint=True)
    runtime2 = eng2.client("sagemaker-runtime", from_subnet=net["subnet"])
    with pytest.raises(runtime2.exceptions.ClientError) as e:  # the call arrives: the endpoint does not exist
        runtime2.invoke_endpoint(EndpointName="any", Body=b"1,2", ContentType="text/csv")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    arrived = eng2.security().transfers[-1]
    assert (arrived.path, arrived.via) == ("vpc-endpoint", net["runtime_endpoint"])


# -- network isolation ----------------------------------------------------------------------------
CALL_OUT = b'''
import socket, sys, json, os
try:
    socket.create_connection(("pypi.org", 443), timeout=2)
    print("connected")
except OSError as e:
    print("outbound call failed:", e)
os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("ok")
print("validation accuracy: 1.0")
'''


@pytest.mark.parametrize("isolated", [True, False])
def test_network_isolation_blocks_a_script_mode_containers_outbound_call(eng, sm, s3, isolated):
    from tests.test_script_mode import script_job, upload_code

    upload_code(s3, {"train.py": CALL_OUT})
    req = script_job(eng, "callout", "train.py")
    req["EnableNetworkIsolation"] = isolated
    sm.create_training_job(**req)
    desc = wait(sm, "callout")
    assert desc["TrainingJobStatus"] == "Completed"
    assert desc.get("EnableNetworkIsolation", False) is isolated
    logs = "\n".join(eng.logs_for("/aws/sagemaker/TrainingJobs", "callout"))
    [call] = [t for t in eng.security().transfers_of("training-job/callout") if t.purpose == "outbound call"]
    if isolated:
        assert "Temporary failure in name resolution" in logs or "Network is unreachable" in logs
        assert call.path == "none" and call.reason.startswith("network isolation")
    else:
        assert "would have left through public-internet" in logs
        assert call.path == "public-internet"
    assert "connected" not in logs.split("outbound call failed")[0].split("\n")[-1]


# -- KMS ------------------------------------------------------------------------------------------
def customer_key(eng, *, users: list[str]) -> str:
    """A customer managed key whose policy lets the account's IAM decide and ``users`` use it directly."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
    if users:
        policy["Statement"].append({"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": users},
                                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*",
                                               "kms:CreateGrant", "kms:DescribeKey"], "Resource": "*"})
    return eng.client("kms").create_key(Policy=json.dumps(policy), Description="ml data")["KeyMetadata"]["Arn"]


def test_a_customer_managed_key_encrypts_the_volume_and_the_model_artifact(eng, sm, s3):
    key = customer_key(eng, users=[ROLE])
    req = training_request(eng, "cmk")
    req["ResourceConfig"]["VolumeKmsKeyId"] = key
    req["OutputDataConfig"]["KmsKeyId"] = key
    sm.create_training_job(**req)
    desc = wait(sm, "cmk")
    assert desc["TrainingJobStatus"] == "Completed"
    head = s3.head_object(Bucket="my-bucket", Key="output/cmk/output/model.tar.gz")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
    enc = {e.kind: e for e in eng.security().encryption_of("cmk")}
    assert enc["ml-volume"].key_arn == key and enc["ml-volume"].customer_managed
    assert enc["s3-object"].scheme == "SSE-KMS" and enc["s3-object"].customer_managed
    kms_lines = [ln for ln in eng.bill() if ln.service == "kms"]
    assert {ln.usage_type for ln in kms_lines} >= {"kms-requests"}


def test_a_job_whose_role_may_not_use_the_key_fails_naming_the_action(eng, sm, s3):
    key = customer_key(eng, users=[])  # only IAM decides, and the execution role has no kms permissions
    req = training_request(eng, "no-key")
    req["OutputDataConfig"]["KmsKeyId"] = key
    sm.create_training_job(**req)
    desc = wait(sm, "no-key")
    assert desc["TrainingJobStatus"] == "Failed"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/SageMakerExecutionRole/SageMaker"
    assert desc["FailureReason"] == (
        f"ClientError: Failed to upload model artifacts: AccessDeniedException: User: {session} is not authorized "
        f"to perform: kms:GenerateDataKey on resource: {key} because no identity-based policy allows the "
        "kms:GenerateDataKey action")
    denial = [a for a in eng.security().denials if a.action == "kms:GenerateDataKey"][-1]
    assert denial.on_behalf_of.endswith("training-job/no-key")


def test_default_output_encryption_is_the_aws_managed_s3_key(eng, sm, s3):
    sm.create_training_job(**training_request(eng, "default-key"))
    assert wait(sm, "default-key")["TrainingJobStatus"] == "Completed"
    head = s3.head_object(Bucket="my-bucket", Key="output/default-key/output/model.tar.gz")
    assert head["ServerSideEncryption"] == "aws:kms"
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in eng.client("kms").list_aliases()["Aliases"]}
    assert head["SSEKMSKeyId"].endswith(aliases["alias/aws/s3"])
    [obj] = [e for e in eng.security().encryption_of("default-key") if e.kind == "s3-object"]
    assert not obj.customer_managed
