"""A bounded load against a running ``sagetutor serve``: N boto3 clients mixing describes, invokes and creates.

Shared by ``tests/serve/test_load.py`` (a few seconds) and ``benchmarks/serve_latency.py --load 30``.
Every thread has its own boto3 clients; each creates models and S3 objects under names of
its own, so afterwards every one must be listed exactly once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


@dataclass
class LoadResult:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    created_models: list[str] = field(default_factory=list)
    created_keys: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def deploy(srv, name: str = "ep") -> str:
    """Train XGBoost on breast-cancer and put it behind endpoint ``name`` (at any speed); returns the model's URL."""
    import urllib.request

    from tests.helpers import training_request

    kw = dict(endpoint_url=srv.url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    sm, s3 = boto3.client("sagemaker", **kw), boto3.client("s3", **kw)
    s3.create_bucket(Bucket="my-bucket")
    sm.create_training_job(**training_request(srv.engine, name="load-train"))
    urllib.request.urlopen(urllib.request.Request(f"{srv.url}/_sagetutor/run_until_idle", data=b"", method="POST"))
    url = sm.describe_training_job(TrainingJobName="load-train")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="load-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": srv.engine.image_uri("xgboost"), "ModelDataUrl": url})
    sm.create_endpoint_config(EndpointConfigName="load-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "load-model", "InstanceType": "ml.m5.large",
         "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName="load-config")
    urllib.request.urlopen(urllib.request.Request(f"{srv.url}/_sagetutor/run_until_idle", data=b"", method="POST"))
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    return url


def run(srv, row: str, *, clients: int = 16, seconds: float = 5.0, endpoint: str = "ep") -> LoadResult:
    """``clients`` threads for ``seconds``: describe_training_job, invoke_endpoint and, every 8th round, a create."""
    result = LoadResult()
    lock = threading.Lock()
    kw = dict(endpoint_url=srv.url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1",
              config=Config(retries={"max_attempts": 0}, max_pool_connections=4))
    session = boto3.session.Session()  # one session: its service models load once; each thread gets own clients
    made = [(session.client("sagemaker", **kw), session.client("sagemaker-runtime", **kw),
             session.client("s3", **kw)) for _ in range(clients)]
    deadline = time.monotonic() + seconds
    start = threading.Barrier(clients)

    def work(i: int) -> None:
        sm, rt, s3 = made[i]
        n, models, keys, lat, errors = 0, [], [], [], []
        start.wait()
        while time.monotonic() < deadline:
            try:
                t = time.perf_counter()
                sm.describe_training_job(TrainingJobName="load-train")
                t2 = time.perf_counter()
                body = rt.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=row)["Body"].read()
                lat += [t2 - t, time.perf_counter() - t2]
                float(body)
                n += 2
                if n % 16 == 0:
                    name = f"load-{i}-{n}"
                    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
                        "Image": srv.engine.image_uri("xgboost"),
                        "ModelDataUrl": "s3://my-bucket/output/load-train/output/model.tar.gz"})
                    models.append(name)
                    s3.put_object(Bucket="my-bucket", Key=f"load/{i}/{n}", Body=str(n).encode())
                    keys.append(f"load/{i}/{n}")
                    n += 2
            except Exception as e:  # noqa: BLE001 - the load test counts every failure
                errors.append(f"client {i}: {type(e).__name__}: {e}")
        with lock:
            result.calls += n
            result.created_models += models
            result.created_keys += keys
            result.latencies += lat
            result.errors += errors

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def listed(srv) -> tuple[list[str], list[str]]:
    """Every model name and every key under load/, as the server lists them (paginated)."""
    kw = dict(endpoint_url=srv.url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    sm, s3 = boto3.client("sagemaker", **kw), boto3.client("s3", **kw)
    models = [m["ModelName"] for p in sm.get_paginator("list_models").paginate() for m in p["Models"]]
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="my-bucket", Prefix="load/")
            for o in p.get("Contents", [])]
    return models, keys
