"""Builders the tests share: requests as a learner would write them."""

from __future__ import annotations

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
DATA = "s3://sagetutor-datasets"


def channel(name: str, uri: str, content_type: str | None = None, distribution: str | None = None) -> dict:
    src = {"S3DataType": "S3Prefix", "S3Uri": uri}
    if distribution:
        src["S3DataDistributionType"] = distribution
    ch = {"ChannelName": name, "DataSource": {"S3DataSource": src}}
    if content_type:
        ch["ContentType"] = content_type
    return ch


def training_request(eng, name: str = "job-1", algorithm: str = "xgboost", *, hyperparameters=None,
                     channels=None, instance_type: str = "ml.m5.xlarge", count: int = 1, spot: bool = False,
                     max_run: int = 3600, max_wait: int | None = None, checkpoint: str | None = None,
                     role: str = ROLE, output: str = "s3://my-bucket/output") -> dict:
    """A CreateTrainingJob request as a learner would write it (XGBoost on breast-cancer by default)."""
    if hyperparameters is None:
        hyperparameters = {"objective": "binary:logistic", "num_round": "50", "max_depth": "3", "eta": "0.2",
                           "eval_metric": "auc"}
    if channels is None:
        channels = [channel("train", f"{DATA}/breast-cancer/train/", "text/csv"),
                    channel("validation", f"{DATA}/breast-cancer/validation/", "text/csv")]
    req = {
        "TrainingJobName": name,
        "RoleArn": role,
        "AlgorithmSpecification": {"TrainingImage": eng.image_uri(algorithm), "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_run},
    }
    if spot:
        req["EnableManagedSpotTraining"] = True
        req["StoppingCondition"]["MaxWaitTimeInSeconds"] = max_wait or max_run * 2
    if checkpoint:
        req["CheckpointConfig"] = {"S3Uri": checkpoint}
    return req


def wait(sm, name: str) -> dict:
    """Wait as a learner would; botocore's waiter raises on Failed, so a failed job is described too."""
    from botocore.exceptions import WaiterError

    try:
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)
    except WaiterError as e:
        if "Failed" not in str(e):
            raise
    return sm.describe_training_job(TrainingJobName=name)


def secondary_sequence(desc: dict) -> list[str]:
    return [t["Status"] for t in desc["SecondaryStatusTransitions"]]
