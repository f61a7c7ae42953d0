"""The SageMaker Python SDK (v2) workflow against ``sagetutor serve``, with nothing but environment variables.

    sagetutor serve --port 4566 &
    export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
           AWS_DEFAULT_REGION=us-east-1 SAGEMAKER_SUPPRESS_V2_WARNING=1 \
           SAGEMAKER_USER_CONFIG_OVERRIDE=examples/sagemaker-sdk-config.yaml
    python examples/sdk_workflow.py            # needs `pip install "sagemaker<3"`, not SageTutor itself

Managed Spot training of the built-in XGBoost on ``s3://sagetutor-datasets/breast-cancer/`` with a
checkpoint location, a real-time endpoint answering CSV, a batch transform and a small tuning job
(docs/serve.md, "The SageMaker Python SDK"). Step names on the command line run only those steps:
``python examples/sdk_workflow.py train deploy``.
"""

from __future__ import annotations

import sys
import time

import sagemaker
from sagemaker.analytics import TrainingJobAnalytics
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
DATA = "s3://sagetutor-datasets/breast-cancer"
STEPS = sys.argv[1:] or ["train", "deploy", "transform", "tune"]


def step(name: str):
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"   ({time.monotonic() - started:.1f} s wall)", flush=True)


sess = sagemaker.Session()
bucket = sess.default_bucket()  # from the config file (else STS at a hard-coded URL); S3 HeadBucket, CreateBucket
image = sagemaker.image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")
print("image:", image, "bucket:", bucket)

est = Estimator(
    image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=sess,
    use_spot_instances=True, max_run=3600, max_wait=7200,
    checkpoint_s3_uri=f"s3://{bucket}/checkpoints/xgb-spot",
    hyperparameters={"objective": "binary:logistic", "num_round": 50, "max_depth": 3, "eta": 0.2,
                     "eval_metric": "auc"},
)
inputs = {"train": TrainingInput(f"{DATA}/train/", content_type="text/csv"),
          "validation": TrainingInput(f"{DATA}/validation/", content_type="text/csv")}

if "train" in STEPS or "deploy" in STEPS or "transform" in STEPS:
    t = step("Estimator.fit (Spot, checkpoints, logs)")
    est.fit(inputs, wait=True, logs="All")
    d = est.latest_training_job.describe()
    print("   status:", d["TrainingJobStatus"], "billable s:", d.get("BillableTimeInSeconds"),
          "training s:", d.get("TrainingTimeInSeconds"), "model:", est.model_data)
    print("   metrics:", {m["MetricName"]: round(m["Value"], 4) for m in d.get("FinalMetricDataList", [])})
    # CloudWatch GetMetricStatistics by TrainingJobName; est.training_job_analytics does the same for every metric
    # the algorithm could emit (and warns for each one this job did not)
    curve = TrainingJobAnalytics(est.latest_training_job.name, ["train:auc", "validation:auc"], sess).dataframe()
    print("   analytics:", curve.groupby("metric_name")["value"].last().round(4).to_dict() if len(curve) else
          "no points (a rerun resumes from the first run's final checkpoint and trains no round)")
    done(t)

features = [line.split(",", 1)[1] for line in
            sess.read_s3_file("sagetutor-datasets", "breast-cancer/test/part-00000.csv").splitlines()[:5]]

if "deploy" in STEPS:
    t = step("Estimator.deploy + Predictor.predict (CSV)")
    predictor = est.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                           serializer=CSVSerializer(), deserializer=CSVDeserializer())
    print("   endpoint:", predictor.endpoint_name)
    print("   predictions:", predictor.predict([[float(x) for x in f.split(",")] for f in features]))
    done(t)
    t = step("Predictor.delete_model + delete_endpoint")
    predictor.delete_model()  # first: it reads the model names from the endpoint config delete_endpoint removes
    predictor.delete_endpoint()
    done(t)

if "transform" in STEPS:
    t = step("Estimator.transformer().transform (batch)")
    sess.upload_string_as_file_body("\n".join(features) + "\n", bucket, "batch-in/test.csv")
    tr = est.transformer(instance_count=1, instance_type="ml.m5.large", output_path=f"s3://{bucket}/batch-out/",
                         accept="text/csv", assemble_with="Line")
    tr.transform(f"s3://{bucket}/batch-in/", content_type="text/csv", split_type="Line", wait=True, logs=False)
    print("   output:", sess.read_s3_file(bucket, "batch-out/test.csv.out").split())
    done(t)

if "tune" in STEPS:
    t = step("HyperparameterTuner.fit")
    tune_est = Estimator(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                         sagemaker_session=sess,
                         hyperparameters={"objective": "binary:logistic", "num_round": 50, "eval_metric": "auc"})
    tuner = HyperparameterTuner(
        tune_est, objective_metric_name="validation:auc", objective_type="Maximize",
        hyperparameter_ranges={"eta": ContinuousParameter(0.05, 0.5), "max_depth": IntegerParameter(2, 6)},
        max_jobs=4, max_parallel_jobs=2,
    )
    tuner.fit(inputs, wait=True)
    best = tuner.best_training_job()
    print("   best job:", best, tuner.describe()["HyperParameterTuningJobStatus"])
    attached = HyperparameterTuner.attach(tuner.latest_tuning_job.name, sagemaker_session=sess)
    print("   attached:", attached.best_training_job(), attached.estimator.instance_type)
    done(t)
