"""The three deployment steps, real predictions, and an endpoint that bills while it stands."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import numpy as np
import pytest
from botocore.exceptions import ClientError

from engine import artifacts
from engine.algorithms import BUILTINS
from tests.helpers import ROLE, training_request, wait


@pytest.fixture
def model_url(eng, sm, s3) -> str:
    sm.create_training_job(**training_request(eng))
    return wait(sm, "job-1")["ModelArtifacts"]["S3ModelArtifacts"]


def deploy(eng, sm, url: str, name: str = "ep") -> None:
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName="c")


def test_endpoint_goes_creating_then_in_service_and_predicts_like_the_model(eng, sm, s3, model_url):
    deploy(eng, sm, model_url)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    rows = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")["Body"].read().decode()
    x = np.array([[float(v) for v in r.split(",")[1:]] for r in rows.splitlines()[:20]])
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in x)
    r = eng.client("sagemaker-runtime").invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=body)
    assert r["InvokedProductionVariant"] == "AllTraffic"
    served = np.array([float(v) for v in r["Body"].read().decode().split()])
    _, payload, _ = artifacts.unpack(s3.get_object(Bucket="my-bucket", Key="output/job-1/output/model.tar.gz")["Body"].read())
    direct = BUILTINS["xgboost"].load_model(payload).predict_array(x)
    np.testing.assert_allclose(served, direct.ravel(), rtol=1e-6)


def test_an_idle_endpoint_bills_per_second_until_deleted(eng, sm, s3, model_url):
    deploy(eng, sm, model_url)
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")
    eng.advance(3600)
    [line] = eng.bill().for_resource("endpoint/ep")
    assert line.usage_type == "hosting-instance-seconds" and line.quantity >= 3600
    sm.delete_endpoint(EndpointName="ep")
    eng.advance(7200)
    [after] = eng.bill().for_resource("endpoint/ep")
    assert after.quantity == line.quantity  # billing stopped at DeleteEndpoint
    with pytest.raises(ClientError, match='Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep"'):
        sm.describe_endpoint(EndpointName="ep")


def test_runtime_errors_are_aws_errors(eng, sm, s3, model_url):
    rt = eng.client("sagemaker-runtime")
    with pytest.raises(ClientError) as e:
        rt.invoke_endpoint(EndpointName="nope", ContentType="text/csv", Body="1,2")
    assert e.value.response["Error"] == {"Code": "ValidationError",
                                         "Message": "Endpoint nope of account 123456789012 not found."}
    deploy(eng, sm, model_url)
    with pytest.raises(ClientError, match="is not in service"):
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body="1,2")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")
    with pytest.raises(ClientError) as e:
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body="not,numbers")
    assert e.value.response["Error"]["Code"] == "ModelError"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert e.value.response["Error"]["Message"].startswith("Received client error (400) from primary with message")
    with pytest.raises(ClientError, match="has oversize body"):
        rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=b"1" * (6 * 1024 * 1024 + 1))


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def test_model_data_the_engine_did_not_write_is_never_loaded(eng, sm, s3, model_url):
    body = s3.get_object(Bucket="my-bucket", Key="output/job-1/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
        manifest = tar.extractfile("manifest.json").read()
    import hashlib
    import pickle

    evil = pickle.dumps({"not": "a model"})
    forged = json.loads(manifest)
    forged["sha256"] = hashlib.sha256(evil).hexdigest()
    s3.put_object(Bucket="my-bucket", Key="forged/model.tar.gz",
                  Body=_tarball({"manifest.json": json.dumps(forged).encode(), "model.bin": evil}))
    s3.put_object(Bucket="my-bucket", Key="plain/model.tar.gz", Body=_tarball({"xgboost-model": b"\x80\x04junk"}))
    cases = {"forged": "was not produced by this SageTutor engine", "plain": "was not written by SageTutor"}
    for prefix, message in cases.items():
        with pytest.raises(ClientError, match=message):
            sm.create_model(ModelName=f"m-{prefix}", ExecutionRoleArn=ROLE,
                            PrimaryContainer={"Image": eng.image_uri("xgboost"),
                                              "ModelDataUrl": f"s3://my-bucket/{prefix}/model.tar.gz"})


def test_an_archive_read_again_is_not_decompressed_again(monkeypatch):
    payload = b"model bytes " * 1000
    archive = artifacts.pack("model", "xgboost", payload, {"note": [1, 2]}, files={"code/x.txt": b"x"})
    manifest, got, files = artifacts.unpack(archive)
    assert (got, files, manifest["note"], manifest["algorithm"]) == (payload, {"code/x.txt": b"x"}, [1, 2], "xgboost")
    opened = []
    real = artifacts.gzip.GzipFile
    monkeypatch.setattr(artifacts.gzip, "GzipFile", lambda *a, **k: opened.append(1) or real(*a, **k))
    again = artifacts.unpack(archive)  # the same bytes object: remembered
    assert again == (manifest, payload, files) and again[0] is not manifest and opened == []
    assert artifacts.unpack(bytes(bytearray(archive))) == again and opened == [1]  # equal bytes, another object
