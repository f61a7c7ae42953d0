"""InvokeEndpoint per-call latency: the engine's in-process client against moto's, and against the model itself.

In one run, on the same CSV row of breast-cancer (an XGBoost model trained by the engine):

* engine: ``eng.client("sagemaker-runtime").invoke_endpoint(...)`` with the body read back: botocore
  validation and serialisation, the engine's server-side constraint checks, the endpoint's real
  prediction (CSV parsing, the model, the response format), simulated latency, CloudWatch
  metrics and invocation hooks;
* moto: the same call under ``moto.mock_aws`` (moto answers a canned body and does not check that
  the endpoint exists, so it does no inference at all);
* direct: the model's ``predict_array`` on the row, already parsed (the floor of a real prediction).

Calls are interleaved (engine, moto, direct, engine, ...) so load on the machine affects the three
alike, after the heap left by the set-up is frozen out of garbage collection (``gc.freeze``).
Target: the engine is no slower than moto per call at the median.

    python benchmarks/invoke_latency.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


def _engine_endpoint() -> tuple[Engine, str, object]:
    eng = Engine(seed=7)
    sm, s3 = eng.client("sagemaker"), eng.client("s3")
    s3.create_bucket(Bucket="bench")
    sm.create_training_job(
        TrainingJobName="xgb", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": eng.image_uri("xgboost"), "TrainingInputMode": "File"},
        HyperParameters={"objective": "binary:logistic", "num_round": "50", "max_depth": "3", "eta": "0.2"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://sagetutor-datasets/breast-cancer/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench/out"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="xgb")
    url = sm.describe_training_job(TrainingJobName="xgb")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"), "ModelDataUrl": url})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep")
    text = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")["Body"].read()
    row = text.decode().splitlines()[0].split(",", 1)[1]
    model = eng._world.services["sagemaker"].hosting.endpoints["ep"].variants[0].serving.predictors[0]
    return eng, row, model


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="timed calls of each kind (default 3000)")
    args = parser.parse_args()

    from moto import mock_aws

    eng, row, model = _engine_endpoint()
    rt = eng.client("sagemaker-runtime")
    x = np.array([[float(v) for v in row.split(",")]])
    engine_answer = float(rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=row)["Body"].read())
    assert abs(engine_answer - float(model.predict_array(x).ravel()[0])) < 1e-9, "the engine's answer is the model's"

    with mock_aws():
        import boto3

        moto_rt = boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing")
        calls = {
            "engine": lambda: rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=row)["Body"].read(),
            "moto": lambda: moto_rt.invoke_endpoint(EndpointName="ep", ContentType="text/csv", Body=row)["Body"].read(),
            "direct": lambda: model.predict_array(x),
        }
        for fn in calls.values():  # warm up: imports, caches, first-call costs
            for _ in range(200):
                fn()
        # Setup left a large heap (datasets, service models, moto's backends): keep the garbage
        # collector from rescanning it during the timed calls, as a process serving requests would.
        gc.collect()
        gc.freeze()
        samples: dict[str, list[float]] = {name: [] for name in calls}
        clock = time.perf_counter
        for _ in range(args.calls):
            for name, fn in calls.items():
                t = clock()
                fn()
                samples[name].append(clock() - t)

    figures = {name: _summary(s) for name, s in samples.items()}
    print(f"InvokeEndpoint, XGBoost on breast-cancer, one CSV row, {args.calls} interleaved calls each")
    print(f"{'':10} {'median ms':>10} {'p95 ms':>10}")
    for name, (median, p95) in figures.items():
        print(f"{name:10} {median:10.3f} {p95:10.3f}")
    engine, moto = figures["engine"][0], figures["moto"][0]
    print(f"engine / moto at the median: {engine / moto:.2f}; at p95: {figures['engine'][1] / figures['moto'][1]:.2f}")
    print(f"engine minus direct prediction (protocol, parsing, bookkeeping): {engine - figures['direct'][0]:.3f} ms")
    met = engine <= moto
    print(f"target (engine no slower than moto at the median): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
