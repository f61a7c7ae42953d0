"""Batch transform throughput against parsing the same CSV with numpy and predicting directly.

In one run: an XGBoost model is trained on breast-cancer; a 100,000-row CSV (features only, made
from the test rows repeated with seeded jitter) is uploaded to S3; then, a few times each:

* raw: ``np.loadtxt`` on the CSV bytes and the model's ``predict_array`` (no formatting, no I/O);
* engine: CreateTransformJob (SplitType Line, MultiRecord) until Completed, wall time from the
  call to the job's end: reading the object, packing payloads, the endpoint's parse/predict/format
  code per request, writing the ``.out`` object, logs, virtual-time bookkeeping.

Target: engine rows/s >= 0.5 x raw rows/s (the default MaxPayloadInMB of 6).

    python benchmarks/transform_throughput.py [--rows 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine, artifacts  # noqa: E402
from engine.algorithms import BUILTINS  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
DATA = "s3://sagetutor-datasets"
TARGET = 0.5
DEFAULT_MB = 6
PAYLOADS = (DEFAULT_MB, 100)


def setup(rows: int) -> tuple[Engine, bytes, object]:
    eng = Engine(seed=7)
    sm, s3 = eng.client("sagemaker"), eng.client("s3")
    s3.create_bucket(Bucket="bench")
    sm.create_training_job(
        TrainingJobName="train", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": eng.image_uri("xgboost"), "TrainingInputMode": "File"},
        HyperParameters={"objective": "binary:logistic", "num_round": "50", "max_depth": "3"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"{DATA}/breast-cancer/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench/model"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    eng.run_until_idle()
    url = sm.describe_training_job(TrainingJobName="train")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    test = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")["Body"].read()
    x = np.loadtxt(io.BytesIO(test), delimiter=",", ndmin=2)[:, 1:]
    rng = np.random.default_rng(7)
    big = x[rng.integers(0, len(x), rows)] * rng.normal(1.0, 0.02, (rows, x.shape[1]))
    buf = io.BytesIO()
    np.savetxt(buf, big, delimiter=",", fmt="%.6g")
    data = buf.getvalue()
    s3.put_object(Bucket="bench", Key="score/input.csv", Body=data)
    bucket, key = url[5:].split("/", 1)
    _, payload, _ = artifacts.unpack(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return eng, data, BUILTINS["xgboost"].load_model(payload)


def raw(data: bytes, model) -> float:
    t = time.perf_counter()
    x = np.loadtxt(io.BytesIO(data), delimiter=",", ndmin=2)
    model.predict_array(x)
    return time.perf_counter() - t


def engine_job(eng: Engine, name: str, payload_mb: int) -> float:
    sm = eng.client("sagemaker")
    t = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name, ModelName="m", BatchStrategy="MultiRecord", MaxPayloadInMB=payload_mb,
        MaxConcurrentTransforms=max(1, 100 // payload_mb // 4),
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/score/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://bench/out/{name}/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1})
    eng.run_until_idle()
    elapsed = time.perf_counter() - t
    status = sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
    if status != "Completed":
        raise SystemExit(f"transform job {name} ended {status}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    eng, data, model = setup(args.rows)
    print(f"input: {args.rows:,} rows, {len(data) / 1e6:.1f} MB of CSV; XGBoost, 50 rounds of depth 3")
    raw(data, model)  # warm-ups: caches, the model's first load
    for mb in PAYLOADS:
        engine_job(eng, f"warm-{mb}", mb)
    # Interleaved repeats, so a change in the machine's load affects every variant alike.
    times: dict[str, list[float]] = {"raw": [], **{f"engine-{mb}": [] for mb in PAYLOADS}}
    for i in range(args.repeat):
        times["raw"].append(raw(data, model))
        for mb in PAYLOADS:
            times[f"engine-{mb}"].append(engine_job(eng, f"job-{mb}-{i}", mb))
    raw_rate = args.rows / statistics.median(times["raw"])
    print(f"raw    np.loadtxt + predict_array      median {statistics.median(times['raw']) * 1000:8.1f} ms  "
          f"{raw_rate:10,.0f} rows/s")
    ok = True
    for mb in PAYLOADS:
        median = statistics.median(times[f"engine-{mb}"])
        rate = args.rows / median
        ratio = rate / raw_rate
        print(f"engine transform, MaxPayloadInMB={mb:<3}   median {median * 1000:8.1f} ms  {rate:10,.0f} rows/s  "
              f"ratio {ratio:.2f}")
        if mb == DEFAULT_MB:
            ok = ratio >= TARGET
    print(f"target: engine >= {TARGET} x raw at the default MaxPayloadInMB={DEFAULT_MB}: "
          f"{'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
