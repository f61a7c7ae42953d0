"""The HTTP front's own contracts: callers by access key, multipart, the clock, state files, every protocol."""

from __future__ import annotations

import json

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from engine import Engine
from engine.server import state
from tests.helpers import training_request
from tests.serve.conftest import client, control

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
READ_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                     "Resource": "*"}]}


def test_the_access_key_selects_the_caller(serve):
    srv = serve()
    iam, sts = client(srv, "iam"), client(srv, "sts")
    assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/admin"  # unknown key: admin
    iam.create_role(RoleName="Analyst", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="Analyst", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY))
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/Analyst", RoleSessionName="s1")["Credentials"]
    analyst_sts = client(srv, "sts", key=creds["AccessKeyId"], aws_session_token=creds["SessionToken"])
    assert analyst_sts.get_caller_identity()["Arn"] == "arn:aws:sts::123456789012:assumed-role/Analyst/s1"
    analyst_s3 = client(srv, "s3", key=creds["AccessKeyId"], aws_session_token=creds["SessionToken"])
    analyst_s3.list_objects_v2(Bucket="sagetutor-datasets", MaxKeys=1)
    with pytest.raises(ClientError) as e:
        analyst_s3.put_object(Bucket="sagetutor-datasets", Key="x.csv", Body=b"1")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "assumed-role/Analyst/s1 is not authorized to perform: s3:PutObject" in e.value.response["Error"]["Message"]

    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = client(srv, "sts", key=key["AccessKeyId"])
    assert dev.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:user/dev"
    with pytest.raises(ClientError) as e:  # no policy yet: denied
        client(srv, "sagemaker", key=key["AccessKeyId"]).list_training_jobs()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    iam.attach_user_policy(UserName="dev", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    client(srv, "sagemaker", key=key["AccessKeyId"]).list_training_jobs()
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="dev")["AccessKeyMetadata"]] == [key["AccessKeyId"]]


def test_multipart_upload_through_upload_file(serve, tmp_path):
    srv = serve()
    s3 = client(srv, "s3")
    s3.create_bucket(Bucket="b")
    data = bytes(range(256)) * (9 * 4096)  # 9 MiB: two parts at boto3's default 8 MiB threshold
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3.upload_file(str(src), "b", "dir/big.bin", Config=TransferConfig(multipart_threshold=8 * 1024 * 1024))
    head = s3.head_object(Bucket="b", Key="dir/big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-2"')
    assert s3.get_object(Bucket="b", Key="dir/big.bin")["Body"].read() == data
    assert s3.get_object(Bucket="b", Key="dir/big.bin", Range="bytes=0-9")["Body"].read() == data[:10]
    up = s3.create_multipart_upload(Bucket="b", Key="aborted")["UploadId"]
    s3.upload_part(Bucket="b", Key="aborted", UploadId=up, PartNumber=1, Body=b"abc")
    assert [p["Size"] for p in s3.list_parts(Bucket="b", Key="aborted", UploadId=up)["Parts"]] == [3]
    s3.abort_multipart_upload(Bucket="b", Key="aborted", UploadId=up)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="b", Key="aborted", UploadId=up, PartNumber=2, Body=b"x")
    assert e.value.response["Error"]["Code"] == "NoSuchUpload"
    s3.delete_object(Bucket="b", Key="dir/big.bin")
    assert "Contents" not in s3.list_objects_v2(Bucket="b")
    s3.put_object(Bucket="b", Key="k1", Body=b"1")
    s3.put_object(Bucket="b", Key="k2", Body=b"2")
    deleted = s3.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "k1"}, {"Key": "k2"}]})["Deleted"]
    assert sorted(d["Key"] for d in deleted) == ["k1", "k2"]


def _run(srv) -> dict:
    sm, s3 = client(srv, "sagemaker"), client(srv, "s3")
    s3.create_bucket(Bucket="my-bucket")
    sm.create_training_job(**training_request(srv.engine))
    control(srv, "advance", seconds=120)
    mid = sm.describe_training_job(TrainingJobName="job-1")
    control(srv, "advance", seconds=3600)
    end = sm.describe_training_job(TrainingJobName="job-1")
    for d in (mid, end):
        d.pop("ResponseMetadata")
    return {"mid": mid, "end": end, "bill": control(srv, "bill", "GET")}


def test_at_speed_zero_the_clock_moves_only_when_asked_and_runs_are_deterministic(serve):
    a, b = serve(speed=0), serve(speed=0)
    t0 = control(a, "clock", "GET")
    assert t0["virtual_time"] == "2026-01-05T09:00:00Z" and t0["speed"] == 0
    ra, rb = _run(a), _run(b)
    assert ra == rb
    assert ra["mid"]["TrainingJobStatus"] == "InProgress" and ra["end"]["TrainingJobStatus"] == "Completed"
    assert control(a, "clock", "GET")["seconds"] == 3720
    health = control(a, "health", "GET")
    assert health["status"] == "ok" and health["seed"] == 7


def test_speed_runs_virtual_time_and_can_be_changed(serve):
    srv = serve(speed=0)
    control(srv, "speed", value=3600)
    import time

    time.sleep(0.3)
    assert control(srv, "clock", "GET")["seconds"] >= 600
    control(srv, "speed", value=0)
    frozen = control(srv, "clock", "GET")["seconds"]
    time.sleep(0.2)
    assert control(srv, "clock", "GET")["seconds"] == frozen


def test_control_calls_reject_bad_input(serve):
    srv = serve()
    with pytest.raises(AssertionError, match="404"):
        control(srv, "nope")
    with pytest.raises(AssertionError, match="seconds must be a number"):
        control(srv, "advance", seconds="soon")
    with pytest.raises(AssertionError, match="405"):
        control(srv, "advance", "GET")


def test_state_file_round_trip(serve, tmp_path):
    srv = serve()
    s3, iam = client(srv, "s3"), client(srv, "iam")
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="a/b.bin", Body=b"\x00\x01binary", Metadata={"owner": "me"})
    iam.create_role(RoleName="Analyst", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    path = tmp_path / "state.json"
    state.save(srv.engine, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == state.FORMAT
    fresh = Engine(seed=7)
    counts = state.load(fresh, path)
    assert counts["objects"] == 1 and counts["roles"] == 1 and counts["access_keys"] == 1
    obj = fresh.client("s3").get_object(Bucket="kept", Key="a/b.bin")
    assert obj["Body"].read() == b"\x00\x01binary" and obj["Metadata"] == {"owner": "me"}
    assert fresh.principal_for_key(key) == "arn:aws:iam::123456789012:user/dev"
    fresh.client("iam").get_role(RoleName="Analyst")
    # the shared datasets bucket is not copied into the file
    assert all(b["name"] != "sagetutor-datasets" or not b["objects"] for b in doc["s3"]["buckets"])
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a sagetutor serve state file"):
        state.load(Engine(seed=7), path)


def test_every_service_answers_in_its_protocol(serve):
    srv = serve()
    cw = client(srv, "cloudwatch")  # Smithy RPC v2 CBOR
    cw.put_metric_data(Namespace="App", MetricData=[{"MetricName": "m", "Value": 2.0, "Unit": "Count"}])
    assert cw.list_metrics(Namespace="App")["Metrics"][0]["MetricName"] == "m"
    ec2 = client(srv, "ec2")  # EC2 query
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    assert [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"]] == [vpc]
    kms = client(srv, "kms")  # JSON 1.1 with blobs
    key = kms.create_key(Description="k")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    logs = client(srv, "logs")
    logs.create_log_group(logGroupName="/app")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/app"]
    assert client(srv, "stepfunctions").list_state_machines()["stateMachines"] == []  # JSON 1.0
    assert client(srv, "ecr").describe_repositories()["repositories"] == []
    aas = client(srv, "application-autoscaling")
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert client(srv, "iam").get_role(RoleName="SageMakerExecutionRole")["Role"]["RoleName"] == \
        "SageMakerExecutionRole"  # query


def test_aws_endpoint_url_is_honoured_by_boto3(serve, monkeypatch):
    import boto3

    srv = serve()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    sm = boto3.session.Session(region_name="us-east-1").client("sagemaker")
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
