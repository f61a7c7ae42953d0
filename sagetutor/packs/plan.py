"""The plan language (``run:``): named steps that map onto engine API calls.

A plan is a list of steps; a step is one kind with its arguments, on one line::

    run:
      - train: {algorithm: xgboost, instance: ml.m5.xlarge, spot: true, checkpoints: true}
      - interrupt_spot: 10min
      - deploy: {instance: ml.m5.large}
      - traffic: {per_minute: 120, minutes: 60}

Every argument has a default, so ``- deploy:`` alone is a step. A step that starts work
(training, an endpoint, a transform) does not wait for it: the next step runs at the same
virtual instant, a step that needs an earlier result (deploy needs the model) waits for it,
``wait`` and ``advance`` let time pass, and the plan ends when all work is done. So faults
(``interrupt_spot``, ``spot_capacity``) are injected as steps next to the work they hit.

Steps are named after their kind (``train``, then ``train-2`` ...) unless they set ``name``;
arguments such as ``model:``, ``endpoint:``, ``role:``, ``vpc:`` and ``kms_key:`` name an
earlier step, and default to the latest earlier step of the kind they need.

This module validates the kinds and their arguments (and what the engine would reject
outright: an unknown instance type, a serverless endpoint with an instance type...);
executing a plan on the engine belongs to the quiz runtime.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import operator
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    create_model,
    model_validator,
)

from sagetutor.packs.units import DURATION_PATTERN, parse_duration

# -- the engine's vocabulary (kept here so validating a pack never imports the engine; tests compare) --

#: Built-in algorithms (engine names, as ``eng.image_uri`` takes them) and ``sklearn`` script mode.
ALGORITHMS = ("blazingtext", "forecasting-deepar", "image-classification", "kmeans", "knn", "lda",
              "linear-learner", "pca", "randomcutforest", "xgboost", "sklearn")
#: Datasets in ``s3://sagetutor-datasets/`` (docs/datasets.md).
DATASETS = ("anomaly", "blobs", "breast-cancer", "breast-cancer-libsvm", "breast-cancer-parquet", "diabetes",
            "diabetes-libsvm", "digits", "digits-images", "iris", "tickets", "tickets-bow", "timeseries", "wine")
#: Interface and gateway VPC endpoints a ``network`` step may create.
VPC_ENDPOINTS = ("s3", "sagemaker.api", "sagemaker.runtime", "sts", "logs", "monitoring", "ecr.api", "ecr.dkr",
                 "kms", "states")
STEP_NAME_PATTERN = r"^[a-z][a-z0-9_-]*$"
_STEP_NAME = re.compile(STEP_NAME_PATTERN)


def _engine_data(name: str) -> dict | None:
    spec = importlib.util.find_spec("engine")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    return json.loads(path.read_text()) if path.is_file() else None


@functools.cache
def instance_tables() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Every instance type the engine knows, and the ones priced per use (training, hosting...)."""
    specs = _engine_data("instances.json") or {}
    prices = _engine_data("prices.json") or {}
    known = frozenset(specs.get("instances", {}))
    uses = {use: frozenset(table) for use, table in prices.get("hourly", {}).items()}
    return known, uses


def _instance_for(use: str):
    def check(value: str) -> str:
        known, uses = instance_tables()
        if not known:
            return value
        if value not in known:
            close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else " (see docs/prices.md for the instance table)"
            raise ValueError(f"{value} is not a SageMaker instance type{hint}")
        allowed = uses.get(use)
        if allowed is not None and value not in allowed:
            raise ValueError(f"{value} is not offered for {use} (see docs/prices.md for the {use} instances)")
        return value
    return check


def _instance(use: str, default: str | None):
    typ = Annotated[str, Field(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$",
                               description=f"SageMaker ML instance type for {use}, e.g. {default or 'ml.m5.large'}"),
                    AfterValidator(_instance_for(use))]
    return typ


Duration = Annotated[
    float, BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "pattern": DURATION_PATTERN}],
                    "description": "seconds, or a number with a unit: 250ms, 90s, 10min, 2h, 1d"}),
]
StepRef = Annotated[str, Field(pattern=STEP_NAME_PATTERN, description="the name of an earlier step")]
RefOrFlag = Annotated[bool | StepRef, Field(description="true (the latest earlier step of that kind), false, "
                                                        "or an earlier step's name")]
Algorithm = Literal[ALGORITHMS]  # type: ignore[valid-type]
Dataset = Literal[DATASETS]  # type: ignore[valid-type]
HyperValue = str | int | float | bool


class StepArgs(BaseModel):
    """Arguments of one step kind; ``None`` means all defaults, a scalar fills ``PRIMARY``."""

    model_config = ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False)
    KIND: ClassVar[str] = ""
    PRIMARY: ClassVar[str | None] = None
    #: argument -> step kinds it may name (a reference to an earlier step).
    REFS: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: reference arguments that, left out, fall back to the latest earlier step of those kinds.
    NEEDS: ClassVar[dict[str, tuple[str, ...]]] = {}

    name: StepRef | None = Field(None, description="a name for this step, for later steps to refer to "
                                                   "(default: the kind, then kind-2, kind-3...)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, Mapping) and cls.PRIMARY is not None:
            alias = cls.model_fields[cls.PRIMARY].alias or cls.PRIMARY
            return {alias: data}
        return data


_SECURITY_REFS = {"role": ("iam",), "vpc": ("network",), "kms_key": ("key",)}


class TrainArgs(StepArgs):
    KIND = "train"
    REFS = dict(_SECURITY_REFS)
    algorithm: Algorithm = Field("xgboost", description="built-in algorithm, or sklearn for script mode")
    dataset: Dataset = Field("breast-cancer", description="dataset in s3://sagetutor-datasets/ (train and "
                                                            "validation channels)")
    instance: _instance("training", "ml.m5.xlarge") = "ml.m5.xlarge"  # type: ignore[valid-type]
    count: int = Field(1, ge=1, le=100, description="instance count (distributed training)")
    spot: bool = Field(False, description="Managed Spot Training")
    checkpoints: bool = Field(False, description="CheckpointConfig to an S3 prefix (resume after a reclaim)")
    max_runtime: Duration | None = Field(None, description="MaxRuntimeInSeconds (default 1 day)")
    max_wait: Duration | None = Field(None, description="MaxWaitTimeInSeconds, Spot only (default 2 x max_runtime)")
    hyperparameters: dict[str, HyperValue] = Field(default_factory=dict, description="AWS hyperparameter names; "
                                                   "defaults are the algorithm's")
    nominal_rows: int | None = Field(None, ge=1, description="rows the dataset stands for (time and cost at "
                                                             "scale; the model trains on the real rows)")
    distribution: Literal["replicated", "sharded"] = Field(
        "replicated", description="S3DataDistributionType: FullyReplicated or ShardedByS3Key")
    input_mode: Literal["File", "Pipe", "FastFile"] = "File"
    role: StepRef | None = Field(None, description="an iam step's name (default: the account's SageMaker role)")
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = Field(False, description="encrypt the volume and output with a key step's customer "
                                                  "managed key")
    network_isolation: bool = False
    encrypt_inter_container: bool = False

    @model_validator(mode="after")
    def _spot(self) -> TrainArgs:
        if self.max_wait is not None and not self.spot:
            raise ValueError("max_wait applies to Managed Spot Training only: add spot: true or drop max_wait")
        if self.max_wait is not None and self.max_wait < (self.max_runtime or 86400):
            raise ValueError("max_wait must be at least max_runtime (MaxWaitTimeInSeconds >= "
                             "MaxRuntimeInSeconds; max_runtime defaults to 1 day)")
        if self.encrypt_inter_container and self.count == 1:
            raise ValueError("encrypt_inter_container only matters with count > 1 (traffic between instances)")
        return self


class InterruptSpotArgs(StepArgs):
    KIND = "interrupt_spot"
    PRIMARY = "after"
    REFS = {"job": ("train",)}
    NEEDS = {"job": ("train",)}
    job: StepRef | None = Field(None, description="the train step to hit (default: the latest)")
    after: Duration = Field(600.0, description="reclaim once the job has trained this long")


class SpotCapacityArgs(StepArgs):
    KIND = "spot_capacity"
    PRIMARY = "instance"
    instance: _instance("training", "ml.p3.2xlarge")  # type: ignore[valid-type]
    available: bool = Field(False, description="false: no Spot capacity for the type until set back to true")


class TuneArgs(StepArgs):
    KIND = "tune"
    REFS = {**_SECURITY_REFS, "warm_start": ("tune",)}
    algorithm: Algorithm = "xgboost"
    dataset: Dataset = "breast-cancer"
    instance: _instance("training", "ml.m5.xlarge") = "ml.m5.xlarge"  # type: ignore[valid-type]
    count: int = Field(1, ge=1, le=100, description="instances per training job")
    objective: str | None = Field(None, description="metric name, e.g. validation:auc (default: the algorithm's)")
    goal: Literal["maximize", "minimize"] | None = None
    strategy: Literal["bayesian", "random", "grid", "hyperband"] = "bayesian"
    max_jobs: int = Field(10, ge=1, le=500)
    max_parallel: int = Field(2, ge=1, le=100)
    ranges: dict[str, Annotated[str, Field(pattern=r"^\s*-?[0-9.eE+-]+\s*\.\.\s*-?[0-9.eE+-]+\s*(log)?\s*$")]
                 | list[HyperValue]] = Field(
        default_factory=dict, description='hyperparameter -> "low..high" (add " log" for a log scale) or a '
                                          'list of categorical values')
    spot: bool = False
    checkpoints: bool = False
    nominal_rows: int | None = Field(None, ge=1)
    early_stopping: bool = False
    warm_start: StepRef | None = None
    role: StepRef | None = None
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = False

    @model_validator(mode="after")
    def _limits(self) -> TuneArgs:
        if self.max_parallel > self.max_jobs:
            raise ValueError(f"max_parallel ({self.max_parallel}) cannot exceed max_jobs ({self.max_jobs})")
        if self.strategy == "grid" and any(not isinstance(r, list) for r in self.ranges.values()):
            raise ValueError("grid search takes categorical ranges only (lists of values)")
        return self


class DeployArgs(StepArgs):
    KIND = "deploy"
    REFS = {**_SECURITY_REFS, "model": ("train", "tune"), "pipeline": ("train", "tune")}
    NEEDS = {"model": ("train", "tune")}
    model: StepRef | None = Field(None, description="the train or tune step whose model to host (default: latest)")
    pipeline: list[StepRef] | None = Field(None, min_length=2, max_length=15,
                                           description="an inference pipeline: the models' steps in order")
    instance: _instance("hosting", "ml.m5.large") = "ml.m5.large"  # type: ignore[valid-type]
    count: int = Field(1, ge=1, le=100, description="InitialInstanceCount")
    serverless: bool = Field(False, description="ServerlessConfig instead of instances")
    memory: Literal[1024, 2048, 3072, 4096, 5120, 6144] | None = Field(None, description="serverless MemorySizeInMB")
    max_concurrency: int | None = Field(None, ge=1, le=200, description="serverless MaxConcurrency")
    async_: bool = Field(False, alias="async", description="AsyncInferenceConfig (queued requests, S3 output)")
    data_capture: bool = Field(False, description="DataCaptureConfig (needed by Model Monitor)")
    role: StepRef | None = None
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = False
    network_isolation: bool = False

    @model_validator(mode="after")
    def _shape(self) -> DeployArgs:
        given = self.model_fields_set
        if self.serverless:
            clash = sorted({"instance", "count"} & given)
            if clash:
                raise ValueError(f"a serverless endpoint has no {' or '.join(clash)}: drop "
                                 f"{', '.join(clash)} or serverless")
            if self.async_:
                raise ValueError("an endpoint is serverless or asynchronous, not both")
        else:
            clash = sorted({"memory", "max_concurrency"} & given)
            if clash:
                raise ValueError(f"{', '.join(clash)} apply to serverless endpoints only: add serverless: true")
        if self.model is not None and self.pipeline is not None:
            raise ValueError("give model (one container) or pipeline (several), not both")
        return self


class AutoscaleArgs(StepArgs):
    KIND = "autoscale"
    REFS = {"endpoint": ("deploy",)}
    NEEDS = {"endpoint": ("deploy",)}
    endpoint: StepRef | None = None
    min: int = Field(1, ge=1)
    max: int = Field(4, ge=1)
    target: float = Field(100.0, gt=0, description="target SageMakerVariantInvocationsPerInstance per minute")
    scale_out_cooldown: Duration = 60.0
    scale_in_cooldown: Duration = 300.0

    @model_validator(mode="after")
    def _bounds(self) -> AutoscaleArgs:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class InvokeArgs(StepArgs):
    KIND = "invoke"
    PRIMARY = "rows"
    REFS = {"endpoint": ("deploy",), "vpc": ("network",)}
    NEEDS = {"endpoint": ("deploy",)}
    endpoint: StepRef | None = None
    rows: int = Field(1, ge=1, le=1000, description="test rows in the request body")
    vpc: RefOrFlag = Field(False, description="call from an instance in a network step's subnet (true: the latest "
                                              "network step), so the request takes that subnet's route")
    dataset: Dataset | None = Field(None, description="default: the model's training dataset")
    accept: Literal["text/csv", "application/json", "application/jsonlines"] | None = None


class Drift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shift: float | None = Field(None, description="add this many standard deviations to the features")
    scale: float | None = Field(None, description="multiply the features")
    missing: float | None = Field(None, ge=0, le=1, description="blank this share of the values")
    features: list[Annotated[int, Field(ge=0)]] | None = Field(None, description="0-based feature columns (default all)")


class TrafficArgs(StepArgs):
    KIND = "traffic"
    REFS = {"endpoint": ("deploy",)}
    NEEDS = {"endpoint": ("deploy",)}
    endpoint: StepRef | None = None
    dataset: Dataset | None = None
    per_minute: Annotated[int, Field(ge=0)] | list[Annotated[int, Field(ge=0)]] = Field(
        60, description="requests per minute, or one rate per minute")
    minutes: int = Field(60, ge=1, le=60 * 24 * 31)
    drift: Drift | None = None


class TransformArgs(StepArgs):
    KIND = "transform"
    REFS = {**_SECURITY_REFS, "model": ("train", "tune")}
    NEEDS = {"model": ("train", "tune")}
    model: StepRef | None = None
    dataset: Dataset | None = None
    split: Literal["test", "validation", "train"] = "test"
    instance: _instance("transform", "ml.m5.xlarge") = "ml.m5.xlarge"  # type: ignore[valid-type]
    count: int = Field(1, ge=1, le=100)
    nominal_rows: int | None = Field(None, ge=1)
    strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    max_payload: int = Field(6, ge=0, le=100, description="MaxPayloadInMB")
    split_type: Literal["Line", "None", "RecordIO", "TFRecord"] = "Line"
    join_source: bool = Field(False, description="DataProcessing.JoinSource = Input")
    input_filter: str | None = Field(None, description='JSONPath, e.g. "$[1:]"')
    output_filter: str | None = None
    accept: Literal["text/csv", "application/json", "application/jsonlines"] | None = None
    role: StepRef | None = None
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = False


class LabelArgs(StepArgs):
    KIND = "label"
    REFS = {"role": ("iam",), "kms_key": ("key",)}
    dataset: Dataset = "digits-images"
    task: Literal["image_classification", "text_classification", "bounding_box", "semantic_segmentation",
                  "named_entity"] = "image_classification"
    workforce: Literal["private", "public", "vendor"] = Field(
        "private", description="private team, public (Mechanical Turk) or a vendor")
    workers_per_object: int = Field(3, ge=1, le=9)
    automated: bool = Field(False, description="automated data labeling (active learning)")
    objects: int | None = Field(None, ge=1, description="objects the dataset stands for")
    price_per_object: float | None = Field(None, gt=0, description="public workforce reward per object, dollars")
    role: StepRef | None = None
    kms_key: RefOrFlag = False

    @model_validator(mode="after")
    def _reward(self) -> LabelArgs:
        if self.price_per_object is not None and self.workforce != "public":
            raise ValueError("price_per_object is the public workforce's reward: set workforce: public")
        return self


class MonitorArgs(StepArgs):
    KIND = "monitor"
    REFS = {"endpoint": ("deploy",), "role": ("iam",)}
    NEEDS = {"endpoint": ("deploy",)}
    endpoint: StepRef | None = None
    kind: Literal["data_quality", "model_quality", "bias", "explainability"] = "data_quality"
    schedule: Literal["hourly", "daily"] = "hourly"
    baseline: Literal["train", "validation"] = Field("train", description="split the baseline is suggested from")
    instance: _instance("processing", "ml.m5.large") = "ml.m5.large"  # type: ignore[valid-type]
    role: StepRef | None = None


class NotebookArgs(StepArgs):
    KIND = "notebook"
    REFS = dict(_SECURITY_REFS)
    instance: _instance("notebook", "ml.t3.medium") = "ml.t3.medium"  # type: ignore[valid-type]
    volume: int = Field(5, ge=5, le=16384, description="VolumeSizeInGB")
    direct_internet: bool = Field(True, description="DirectInternetAccess Enabled (false: traffic through the VPC)")
    root_access: bool = True
    stop_when_idle: Duration | None = Field(None, description="a lifecycle configuration that stops the instance "
                                                              "after this much idle time")
    role: StepRef | None = None
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = False

    @model_validator(mode="after")
    def _internet(self) -> NotebookArgs:
        if not self.direct_internet and self.vpc is False:
            raise ValueError("direct_internet: false needs vpc (the notebook's traffic goes through the VPC)")
        return self


class StudioArgs(StepArgs):
    KIND = "studio"
    REFS = {"vpc": ("network",), "kms_key": ("key",), "role": ("iam",)}
    auth: Literal["iam", "sso"] = "iam"
    network: Literal["public_internet", "vpc_only"] = Field("public_internet", description="AppNetworkAccessType")
    users: int = Field(1, ge=1, le=100)
    role: StepRef | None = None
    vpc: RefOrFlag = False
    kms_key: RefOrFlag = False

    @model_validator(mode="after")
    def _vpc(self) -> StudioArgs:
        if self.network == "vpc_only" and self.vpc is False:
            raise ValueError("network: vpc_only needs vpc (a network step's subnets)")
        return self


class OrchestrateArgs(StepArgs):
    KIND = "orchestrate"
    REFS = {"steps": ("train", "tune", "transform", "deploy", "label", "monitor"), "role": ("iam",)}
    service: Literal["step_functions", "pipelines"] = Field("step_functions", description="AWS Step Functions "
                                                            "or SageMaker Pipelines")
    steps: list[StepRef] = Field(min_length=1, description="earlier steps the workflow runs, in order")
    schedule: Annotated[str, Field(pattern=r"^(rate|cron)\(.+\)$")] | None = Field(
        None, description="an EventBridge schedule, e.g. rate(1 day) or cron(0 2 * * ? *)")
    retries: int = Field(0, ge=0, le=10)
    role: StepRef | None = None


class NetworkArgs(StepArgs):
    KIND = "network"
    subnets: Literal["private", "public"] = "private"
    internet_gateway: bool = False
    nat_gateway: bool = False
    endpoints: list[Literal[VPC_ENDPOINTS]] = Field(  # type: ignore[valid-type]
        default_factory=list, description="VPC endpoints: s3 is a gateway endpoint, the others interface "
                                          "endpoints (PrivateLink)")

    @model_validator(mode="after")
    def _routes(self) -> NetworkArgs:
        if self.nat_gateway and not self.internet_gateway:
            raise ValueError("a NAT gateway reaches the internet through an internet gateway: add "
                             "internet_gateway: true")
        return self


_ACTION = r"^(\*|[a-z0-9-]+:[A-Za-z0-9*]+)$"
PolicyMap = dict[Annotated[str, Field(pattern=_ACTION)], str | list[str]]


class IamArgs(StepArgs):
    KIND = "iam"
    managed: list[str] = Field(default_factory=list, description="AWS managed policies to attach, e.g. "
                                                                 "AmazonSageMakerFullAccess")
    allow: PolicyMap = Field(default_factory=dict, description='action -> resource ARN(s), e.g. '
                                                               '"s3:GetObject": "arn:aws:s3:::data/*"')
    deny: PolicyMap = Field(default_factory=dict, description="explicit denies, same shape")
    trust: str = Field("sagemaker.amazonaws.com", description="the service that assumes the role")


class KeyArgs(StepArgs):
    KIND = "key"
    rotation: bool = Field(True, description="automatic yearly key rotation")
    users: list[StepRef] = Field(default_factory=list, description="iam steps whose roles the key policy allows "
                                                                   "(none: the default execution role)")


class WaitArgs(StepArgs):
    KIND = "wait"
    PRIMARY = "for_"
    for_: StepRef | Literal["all"] = Field("all", alias="for", description="a step whose work to wait for, or all")


class AdvanceArgs(StepArgs):
    KIND = "advance"
    PRIMARY = "by"
    by: Duration = Field(description="virtual time to let pass (endpoints keep billing, traffic keeps playing)")


class StopArgs(StepArgs):
    KIND = "stop"
    PRIMARY = "target"
    REFS = {"target": ("train", "tune", "transform", "label", "deploy", "notebook", "monitor", "studio")}
    target: StepRef = Field(description="the step whose resource to stop or delete")


ARGS: dict[str, type[StepArgs]] = {a.KIND: a for a in (
    TrainArgs, InterruptSpotArgs, SpotCapacityArgs, TuneArgs, DeployArgs, AutoscaleArgs, InvokeArgs,
    TrafficArgs, TransformArgs, LabelArgs, MonitorArgs, NotebookArgs, StudioArgs, OrchestrateArgs,
    NetworkArgs, IamArgs, KeyArgs, WaitArgs, AdvanceArgs, StopArgs)}
STEP_KINDS = tuple(ARGS)

#: Descriptions of arguments that several kinds share (or that need no more than a line).
_DESCRIBE = {
    "role": "an iam step's name: the execution role (default: the account's SageMaker role)",
    "endpoint": "the deploy step whose endpoint to use (default: the latest)",
    "model": "the train or tune step whose model to use (default: the latest)",
    "nominal_rows": "rows the dataset stands for (time and cost at scale)",
    "network_isolation": "EnableNetworkIsolation: the container makes no outbound calls",
    "dataset": "dataset in s3://sagetutor-datasets/ (default: the model's training dataset)",
    "accept": "the response content type (Accept)",
    "vpc": "run in a network step's VPC: true (the latest network step) or its name",
    "kms_key": "encrypt with a key step's customer managed KMS key: true (the latest) or its name",
    "input_mode": "TrainingInputMode: File, Pipe or FastFile",
    "encrypt_inter_container": "EnableInterContainerTrafficEncryption (distributed training)",
    "spot": "Managed Spot Training for the tuning job's training jobs",
    "checkpoints": "CheckpointConfig for the tuning job's training jobs",
    "algorithm": "built-in algorithm, or sklearn for script mode",
    "count": "instance count",
    "goal": "Maximize or Minimize the objective (default: by the metric)",
    "strategy": "tuning: bayesian, random, grid or hyperband; transform: BatchStrategy",
    "max_jobs": "MaxNumberOfTrainingJobs",
    "max_parallel": "MaxParallelTrainingJobs",
    "early_stopping": "TrainingJobEarlyStoppingType Auto",
    "warm_start": "a tune step to warm-start from (its parent tuning job)",
    "min": "MinCapacity (instances)",
    "max": "MaxCapacity (instances)",
    "scale_out_cooldown": "ScaleOutCooldown",
    "scale_in_cooldown": "ScaleInCooldown",
    "minutes": "virtual minutes of traffic",
    "drift": "change the rows before they are sent: shift, scale, missing, features",
    "split": "the dataset split to score",
    "split_type": "SplitType of the input",
    "output_filter": "JSONPath applied to the joined output",
    "task": "the labeling task type",
    "workers_per_object": "NumberOfHumanWorkersPerDataObject",
    "kind": "what the schedule monitors",
    "schedule": "how often the monitoring job runs",
    "root_access": "RootAccess for notebook users",
    "auth": "AuthMode of the Studio domain",
    "users": "user profiles to create",
    "retries": "retries of a failed step in the workflow",
    "subnets": "private subnets (no route to the internet) or public ones",
    "internet_gateway": "attach an internet gateway (a route to the internet)",
    "nat_gateway": "a NAT gateway for outbound internet from private subnets",
}
_KIND_DESCRIBE = {("key", "users"): "iam steps whose roles the key policy lets use the key",
                  ("studio", "users"): "user profiles to create",
                  ("transform", "strategy"): "BatchStrategy: MultiRecord or SingleRecord",
                  ("tune", "strategy"): "bayesian, random, grid or hyperband",
                  ("tune", "count"): "instances per training job",
                  ("train", "spot"): "Managed Spot Training",
                  ("train", "checkpoints"): "CheckpointConfig to an S3 prefix (resume after a reclaim)"}
for _kind, _args in ARGS.items():
    _changed = False
    for _name, _info in _args.model_fields.items():
        if not _info.description:
            _info.description = _KIND_DESCRIBE.get((_kind, _name)) or _DESCRIBE.get(_name)
            _changed = True
    if _changed:
        _args.model_rebuild(force=True)

#: kind -> (engine calls, what it is for, a one-line example). docs/pack-format.md shows this table.
STEP_DOCS: dict[str, tuple[str, str, str]] = {
    "train": ("sagemaker CreateTrainingJob (+ set_nominal_size)", "a training job on a built-in algorithm",
              "- train: {algorithm: xgboost, instance: ml.m5.xlarge, spot: true, checkpoints: true}"),
    "interrupt_spot": ("faults.interrupt_spot", "a Spot reclaim after some training time",
                       "- interrupt_spot: 10min"),
    "spot_capacity": ("faults.spot_capacity", "no Spot capacity for an instance type (or back)",
                      "- spot_capacity: {instance: ml.p3.2xlarge, available: false}"),
    "tune": ("sagemaker CreateHyperParameterTuningJob", "automatic model tuning",
             '- tune: {objective: "validation:auc", max_jobs: 20, ranges: {eta: "0.05..0.5", max_depth: "3..9"}}'),
    "deploy": ("sagemaker CreateModel, CreateEndpointConfig, CreateEndpoint", "a real-time, serverless or "
               "asynchronous endpoint (the three deployment steps)", "- deploy: {instance: ml.m5.large, count: 2}"),
    "autoscale": ("application-autoscaling RegisterScalableTarget, PutScalingPolicy",
                  "target tracking on invocations per instance", "- autoscale: {min: 1, max: 4, target: 200}"),
    "invoke": ("sagemaker-runtime InvokeEndpoint", "one request with test rows",
               "- invoke: {rows: 3, accept: application/json}"),
    "traffic": ("eng.traffic (InvokeEndpoint per request)", "client traffic over virtual minutes, optional drift",
                "- traffic: {per_minute: 600, minutes: 30, drift: {shift: 3.0}}"),
    "transform": ("sagemaker CreateTransformJob", "batch transform over a dataset split",
                  "- transform: {instance: ml.m5.xlarge, nominal_rows: 5000000}"),
    "label": ("sagemaker CreateLabelingJob", "a Ground Truth labeling job",
              "- label: {workforce: public, automated: true, objects: 100000}"),
    "monitor": ("sagemaker CreateDataQualityJobDefinition, CreateMonitoringSchedule",
                "Model Monitor on an endpoint (baseline + schedule)", "- monitor: {kind: data_quality, schedule: hourly}"),
    "notebook": ("sagemaker CreateNotebookInstance", "a notebook instance",
                 "- notebook: {instance: ml.t3.medium, stop_when_idle: 1h}"),
    "studio": ("sagemaker CreateDomain, CreateUserProfile", "a Studio domain and its users",
               "- studio: {auth: sso, network: vpc_only, vpc: true}"),
    "orchestrate": ("stepfunctions CreateStateMachine, StartExecution (or sagemaker CreatePipeline, "
                    "StartPipelineExecution)", "a workflow over earlier steps",
                    "- orchestrate: {service: step_functions, steps: [train, transform], schedule: rate(1 day)}"),
    "network": ("ec2 CreateVpc, CreateSubnet, CreateSecurityGroup, CreateVpcEndpoint (+ gateways)",
                "a VPC for the steps that set vpc", "- network: {endpoints: [s3, sagemaker.api, sagemaker.runtime]}"),
    "iam": ("iam CreateRole, AttachRolePolicy, PutRolePolicy", "an execution role for steps that set role",
            '- iam: {name: reader, allow: {"s3:GetObject": "arn:aws:s3:::sagetutor-datasets/*"}}'),
    "key": ("kms CreateKey", "a customer managed KMS key for steps that set kms_key", "- key: {rotation: true}"),
    "wait": ("the resource's waiter, or run_until_idle", "wait for a step's work (or all of it)", "- wait: train"),
    "advance": ("eng.advance", "let virtual time pass", "- advance: 8h"),
    "stop": ("StopTrainingJob, DeleteEndpoint, StopNotebookInstance, ... (by the target's kind)",
             "stop or delete a step's resource", "- stop: deploy"),
}


def _step_kind(value: Any) -> str | None:
    if isinstance(value, Mapping) and len(value) == 1:
        key = next(iter(value))
        return f"<{key}>" if isinstance(key, str) else None
    if isinstance(value, BaseModel):
        return f"<{getattr(value, 'KIND', '')}>"
    return None


class Step(BaseModel):
    """One plan step: ``{kind: arguments}``."""

    model_config = ConfigDict(extra="forbid")
    KIND: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def args(self) -> StepArgs:
        return getattr(self, self.KIND)

    @property
    def explicit_name(self) -> str | None:
        return self.args.name


def _make_step(kind: str, args: type[StepArgs]) -> type[Step]:
    cls_name = "".join(p.capitalize() for p in kind.split("_")) + "Step"
    doc = STEP_DOCS[kind]
    model = create_model(cls_name, __base__=Step,
                         **{kind: (args, Field(description=f"{doc[1]} ({doc[0]}). Example: {doc[2]}"))})
    model.KIND = kind
    return model


STEP_MODELS: dict[str, type[Step]] = {k: _make_step(k, a) for k, a in ARGS.items()}

AnyStep = Annotated[
    functools.reduce(operator.or_, (Annotated[m, Tag(f"<{k}>")] for k, m in STEP_MODELS.items())),
    Discriminator(_step_kind),
]
Plan = Annotated[list[AnyStep], Field(description="an engine plan: steps, one per line, e.g. "
                                                  "- train: {spot: true}")]


# -- names and references (over the data as written, so they are checked even when a step has errors) --

def step_kind(raw: Any) -> str | None:
    """The kind of a raw step (``{"train": {...}}`` -> ``"train"``), if it looks like one."""
    if isinstance(raw, Mapping) and len(raw) == 1:
        key = next(iter(raw))
        if isinstance(key, str) and key in ARGS:
            return key
    return None


def _raw_args(raw: Mapping) -> dict[str, Any]:
    kind = next(iter(raw))
    value = raw[kind]
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    primary = ARGS[kind].PRIMARY
    if primary is None:
        return {}
    field = ARGS[kind].model_fields[primary]
    return {field.alias or primary: value}


def step_names(steps: list[Any]) -> list[str | None]:
    """Each step's name: its ``name`` argument, else its kind, numbered from the second of a kind."""
    seen: dict[str, int] = {}
    names: list[str | None] = []
    for raw in steps:
        kind = step_kind(raw)
        if kind is None:
            names.append(None)
            continue
        explicit = _raw_args(raw).get("name")
        seen[kind] = seen.get(kind, 0) + 1
        if isinstance(explicit, str):
            names.append(explicit)
        else:
            names.append(kind if seen[kind] == 1 else f"{kind}-{seen[kind]}")
    return names


def check_references(steps: list[Any], first: int = 0) -> list[tuple[tuple, str]]:
    """Problems with step names and references in a plan, as (location, message).

    ``steps`` is the whole plan as it will run (a question's shared ``run`` followed by an
    option's); only problems in ``steps[first:]`` are reported, with locations relative to
    ``first`` (so a shared prefix's problems are reported once, by its own check).
    """
    problems: list[tuple[tuple, str]] = []
    names = step_names(steps)
    kinds = [step_kind(s) for s in steps]
    defined: dict[str, int] = {}
    unknown_before = False
    for i, raw in enumerate(steps):
        kind = kinds[i]
        mine = i >= first
        if kind is None:
            unknown_before = True  # an unrecognised step may be what later steps need: say nothing of them
            continue
        args = _raw_args(raw)
        spec = ARGS[kind]
        where = (i - first, kind)
        name = names[i]
        if name in defined and mine:
            loc = (*where, "name") if "name" in args else where
            problems.append((loc, f"two steps are named '{name}': give one of them another name"))
        for arg, wanted in spec.REFS.items():
            field = spec.model_fields[arg]
            key = field.alias or arg
            value = args.get(key)
            refs = value if isinstance(value, list) else [value]
            for j, ref in enumerate(refs):
                loc = (*where, key, j) if isinstance(value, list) else (*where, key)
                if ref is True:
                    if not any(kinds[k] in wanted for k in range(i)) and mine:
                        problems.append((loc, f"{key}: true needs an earlier {' or '.join(wanted)} step"))
                    continue
                if not isinstance(ref, str) or ref == "all":
                    continue
                if ref not in defined:
                    if not mine:
                        continue
                    later = ref in names[i + 1:]
                    known = [n for n, k in defined.items() if kinds[k] in wanted]
                    hint = difflib.get_close_matches(ref, known, n=1, cutoff=0.6)
                    msg = f"{key}: no earlier step is named '{ref}'"
                    if later:
                        msg += " (it comes later: steps run in order)"
                    elif hint:
                        msg += f" (did you mean '{hint[0]}'?)"
                    elif known:
                        msg += f" (earlier {' or '.join(wanted)} steps: {', '.join(known)})"
                    problems.append((loc, msg))
                elif kinds[defined[ref]] not in wanted and mine:
                    problems.append((loc, f"{key}: '{ref}' is a {kinds[defined[ref]]} step; {key} names a "
                                          f"{' or '.join(wanted)} step"))
        for arg, wanted in spec.NEEDS.items():
            key = spec.model_fields[arg].alias or arg
            if args.get(key) is None and not (kind == "deploy" and args.get("pipeline")) and mine \
                    and not unknown_before:
                if not any(kinds[k] in wanted for k in range(i)):
                    problems.append((where, f"{kind} needs an earlier {' or '.join(wanted)} step (for {key}); "
                                            f"add one before it or name one with {key}:"))
        if kind == "wait":
            target = args.get("for")
            if isinstance(target, str) and target != "all" and target not in defined and mine:
                problems.append(((*where, "for"), f"for: no earlier step is named '{target}'"))
        if isinstance(name, str):
            defined.setdefault(name, i)
    return problems
