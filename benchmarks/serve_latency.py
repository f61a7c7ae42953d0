"""Per-call latency through boto3 over HTTP: ``sagetutor serve`` against moto's server mode.

Both servers run in this process on loopback ports, each behind werkzeug's threaded server:

* sagetutor: ``engine.server.Server`` (speed 0) with an XGBoost model really trained on breast-cancer
  behind an InService endpoint; ``invoke_endpoint`` runs the real prediction.
* moto: ``moto.server.ThreadedMotoServer`` with the same training job and endpoint created through
  its API; its ``invoke_endpoint`` answers a canned body (no model runs).

The same boto3 calls (``describe_training_job``, ``invoke_endpoint`` on one CSV row with the body
read back) alternate between the two servers so machine load affects both alike. Prints the
median and p95 per call and the ratio sagetutor / moto (target: at most 1.0 at the median).

``--load SECONDS`` then runs the load test (16 concurrent clients mixing describes, invokes and
creates; tests/serve/load.py) against sagetutor for that long and reports errors, throughput and
whether every created resource is listed exactly once.

    python benchmarks/serve_latency.py [--calls 300] [--load 30]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


def _clients(url: str):
    kw = dict(endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1",
              config=Config(retries={"max_attempts": 0}))
    return boto3.client("sagemaker", **kw), boto3.client("sagemaker-runtime", **kw)


def _moto_setup(url: str, image: str) -> None:
    sm, _ = _clients(url)
    kw = dict(endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    boto3.client("s3", **kw).create_bucket(Bucket="my-bucket")
    sm.create_training_job(
        TrainingJobName="load-train", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://my-bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    sm.create_model(ModelName="load-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": image, "ModelDataUrl": "s3://my-bucket/output/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName="load-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "load-model", "InstanceType": "ml.m5.large",
         "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="load-config")


def _stats(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs) * 1000, xs[int(0.95 * (len(xs) - 1))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300, help="calls per operation per server (default 300)")
    ap.add_argument("--load", type=float, default=0, metavar="SECONDS",
                    help="then run the 16-client load test for SECONDS (the issue's figure: 30)")
    args = ap.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    from engine import Engine
    from engine.server import Server
    from tests.serve import load

    srv = Server(Engine(seed=7), "127.0.0.1", 0, speed=0).start()
    load.deploy(srv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_url = f"http://127.0.0.1:{moto._server.server_port}"
    _moto_setup(moto_url, srv.engine.image_uri("xgboost"))
    row = ",".join(["1"] * 30)
    ours, theirs = _clients(srv.url), _clients(moto_url)
    ops = {
        "describe_training_job": lambda c: c[0].describe_training_job(TrainingJobName="load-train"),
        "invoke_endpoint": lambda c: c[1].invoke_endpoint(EndpointName="ep", ContentType="text/csv",
                                                          Body=row)["Body"].read(),
    }
    for op in ops.values():  # warm both
        for _ in range(20):
            op(ours), op(theirs)
    gc.collect()
    gc.freeze()
    print(f"{'operation':24} {'server':10} {'median ms':>10} {'p95 ms':>10}")
    for name, op in ops.items():
        t_ours, t_theirs = [], []
        for _ in range(args.calls):
            t = time.perf_counter()
            op(ours)
            t_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            op(theirs)
            t_theirs.append(time.perf_counter() - t)
        (mo, po), (mm, pm) = _stats(t_ours), _stats(t_theirs)
        print(f"{name:24} {'sagetutor':10} {mo:10.2f} {po:10.2f}")
        print(f"{name:24} {'moto':10} {mm:10.2f} {pm:10.2f}")
        print(f"{name:24} {'ratio':10} {mo / mm:10.2f} {po / pm:10.2f}   (sagetutor / moto; target <= 1.0)")
    moto.stop()
    if args.load:
        r = load.run(srv, row, clients=16, seconds=args.load)
        models, keys = load.listed(srv)
        created = [m for m in models if m.startswith("load-") and m != "load-model"]
        ok = sorted(created) == sorted(r.created_models) and sorted(keys) == sorted(r.created_keys)
        med, p95 = _stats(r.latencies) if r.latencies else (0, 0)
        print(f"load: 16 clients x {args.load:g} s: {r.calls} calls ({r.calls / args.load:.0f}/s), "
              f"{len(r.errors)} errors, per-call median {med:.1f} ms p95 {p95:.1f} ms, "
              f"{len(r.created_models)} models + {len(r.created_keys)} objects created, "
              f"{'all listed exactly once' if ok else 'MISMATCH in listed resources'}")
        for e in r.errors[:5]:
            print("  ", e)
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
