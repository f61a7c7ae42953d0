"""``sagetutor demo``: the seed's story in one run.

Spot training of XGBoost on breast-cancer standing for 20 million rows, with a
reclaim injected after 10 minutes of training; the job resumes from its S3
checkpoint. Then the three deployment steps (CreateModel, CreateEndpointConfig,
CreateEndpoint), a few real predictions through InvokeEndpoint, an hour of the
endpoint standing idle, and the timeline and the itemized bill.
"""

from __future__ import annotations

from typing import TextIO

from engine import Engine

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
DATA = "s3://sagetutor-datasets/breast-cancer"


def _clock(eng: Engine, seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def run(seed: int, out: TextIO) -> int:
    eng = Engine(seed=seed)
    eng.faults.natural_spot_interruptions(False)
    sm, s3, rt = eng.client("sagemaker"), eng.client("s3"), eng.client("sagemaker-runtime")
    s3.create_bucket(Bucket="demo-bucket")
    eng.set_nominal_size(f"{DATA}/", rows=20_000_000)
    job = "demo-spot-xgboost"
    sm.create_training_job(
        TrainingJobName=job, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": eng.image_uri("xgboost"), "TrainingInputMode": "File"},
        HyperParameters={"objective": "binary:logistic", "num_round": "100", "max_depth": "4", "eta": "0.1",
                         "eval_metric": "auc"},
        InputDataConfig=[
            {"ChannelName": "train", "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{DATA}/train/"}}},
            {"ChannelName": "validation", "ContentType": "text/csv",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{DATA}/validation/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://demo-bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400},
        EnableManagedSpotTraining=True,
        CheckpointConfig={"S3Uri": "s3://demo-bucket/checkpoints/"},
    )
    eng.faults.interrupt_spot(TrainingJobName=job, after_seconds=600)
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job)
    d = sm.describe_training_job(TrainingJobName=job)
    auc = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}.get("validation:auc")
    out.write(f"Training job {job}: {d['TrainingJobStatus']}, validation:auc = {auc:.4f}\n")
    out.write(f"  TrainingTimeInSeconds {d['TrainingTimeInSeconds']}, BillableTimeInSeconds "
              f"{d['BillableTimeInSeconds']} -> Spot saved "
              f"{1 - d['BillableTimeInSeconds'] / d['TrainingTimeInSeconds']:.0%}\n\n")

    sm.create_model(ModelName="demo-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": eng.image_uri("xgboost"),
                                      "ModelDataUrl": d["ModelArtifacts"]["S3ModelArtifacts"]})
    sm.create_endpoint_config(EndpointConfigName="demo-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "demo-model", "InstanceType": "ml.m5.large",
         "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="demo-endpoint", EndpointConfigName="demo-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="demo-endpoint")
    rows = s3.get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")["Body"].read()
    first = rows.decode().splitlines()[:3]
    body = "\n".join(",".join(r.split(",")[1:]) for r in first)
    r = rt.invoke_endpoint(EndpointName="demo-endpoint", ContentType="text/csv", Body=body)
    preds = r["Body"].read().decode().split()
    out.write("InvokeEndpoint on three test rows (true label -> predicted probability):\n")
    for row, p in zip(first, preds):
        out.write(f"  {row.split(',')[0]} -> {float(p):.3f}\n")
    eng.advance(3600)  # the endpoint stands idle for an hour, and bills for it
    out.write("\nTimeline (virtual time since the start):\n")
    for e in eng.timeline():
        if e.kind in ("status", "spot", "fault", "checkpoint", "billing"):
            name = e.resource.rsplit("/", 1)[-1]
            out.write(f"  {_clock(eng, e.seconds)}  {name:22} {e.message}\n")
    out.write("\nItemized bill (USD, us-east-1):\n")
    out.write(eng.bill().format() + "\n")
    return 0
