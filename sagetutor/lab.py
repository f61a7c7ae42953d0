"""The lab: one training job (and, if asked, its deployment) run live on a fresh engine.

A ``LabConfig`` says what to try (dataset, built-in, instances, Spot, checkpoints, the faults to
inject, the nominal size, how to deploy, the seed). A ``LabRun`` executes it on ``Engine(seed)``
through the public boto3-shaped clients only, a slice of virtual time at a time, so a screen can
show it as it happens::

    run = LabRun(LabConfig(spot=True, checkpoints=True, interrupt_after_minutes=10))
    run.start()
    while not run.done:
        snap = run.step(60)          # the virtual clock, statuses, timeline, logs, bill so far
    summary = run.summary()         # status, times, Spot savings, cost, metrics, predictions

What a caller may rely on:

* Deterministic: the same config (seed included) stepped with the same slices gives the same
  snapshots and an equal ``LabSummary``. ``LabRun.run()`` steps by ``TICK`` (60 s), as the screen
  does, so a headless run and a run on screen agree.
* The lab looks at the engine every slice, as a waiter polls: the next step of the story
  (CreateModel after the job completes, InvokeEndpoint once the endpoint is InService) happens
  at the first slice boundary after the condition holds.
* The engine posts a training job's per-round metrics, log lines and its bill line when an
  attempt ends (a reclaim or the end of the job), with the instants they belong to; running
  endpoints are charged up to now. Snapshots show exactly what the engine shows.
* Only injected faults happen: the engine's natural Spot reclaims are turned off.

No Textual here: ``sagetutor.tui.screens.lab`` is a thin face over this module.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sagetutor.quiz.runner import csv_dataset, csv_labelled, training_setup

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
BUCKET = "sagetutor-lab"
DATA = "sagetutor-datasets"
#: Resource names are fixed, so the engine's draws (keyed by name) repeat run after run.
JOB, MODEL, CONFIG, ENDPOINT, TRANSFORM = "lab-train", "lab-model", "lab-config", "lab-endpoint", "lab-transform"
#: Virtual seconds per slice when the lab runs by itself (a waiter's poll).
TICK = 60.0
#: A run never goes past this much virtual time (a safety net, not a limit a learner meets).
MAX_SECONDS = 7 * 86400
#: How many test rows the lab sends to an endpoint.
INVOKE_ROWS = 5

#: Built-ins the lab offers: the tabular ones, which read (and are served) CSV.
LAB_ALGORITHMS = ("xgboost", "linear-learner", "knn", "kmeans", "pca", "randomcutforest", "lda")
#: Built-ins that write checkpoints a Spot job resumes from (docs/algorithms.md).
CHECKPOINTING = frozenset({"xgboost", "image-classification"})
#: Training instances offered (those the price table has; see ``training_instances()``).
_TRAINING_SHORTLIST = ("ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge", "ml.c5.xlarge",
                       "ml.c5.2xlarge", "ml.c5.4xlarge", "ml.m4.xlarge", "ml.g4dn.xlarge", "ml.p3.2xlarge")
_DEPLOY_SHORTLIST = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge")
Deployment = Literal["none", "realtime", "serverless", "batch"]
DEPLOYMENTS: dict[str, str] = {"none": "none (training only)", "realtime": "real-time endpoint",
                               "serverless": "serverless endpoint", "batch": "batch transform"}
#: Timeline kinds the lab shows (not the per-request noise).
_EVENT_KINDS = ("status", "spot", "fault", "checkpoint", "billing", "lab")
_METRICS_LINE = re.compile(r"#metrics (\w+)=(\d+) (.*)$")


# -- the choices ------------------------------------------------------------------------------


def _catalog() -> dict:
    from engine.datasets import CATALOG

    return CATALOG


def datasets() -> tuple[str, ...]:
    """Datasets the lab offers: every dataset some lab algorithm trains on, in catalog order."""
    return tuple(name for name, info in _catalog().items() if set(info.algorithms) & set(LAB_ALGORITHMS))


def algorithms_for(dataset: str) -> tuple[str, ...]:
    """The lab's built-ins that train on ``dataset`` (the catalog's pairs, docs/datasets.md)."""
    info = _catalog().get(dataset)
    if info is None:
        return ()
    return tuple(a for a in LAB_ALGORITHMS if a in info.algorithms)


@functools.cache
def _priced() -> dict[str, frozenset[str]]:
    from sagetutor.packs.plan import instance_tables

    return instance_tables()[1]


def training_instances() -> tuple[str, ...]:
    table = _priced().get("training")
    return tuple(i for i in _TRAINING_SHORTLIST if table is None or i in table)


def deploy_instances(deployment: str = "realtime") -> tuple[str, ...]:
    table = _priced().get("transform" if deployment == "batch" else "hosting")
    return tuple(i for i in _DEPLOY_SHORTLIST if table is None or i in table)


def clock_text(seconds: float) -> str:
    """Virtual seconds since the start as ``HH:MM:SS``."""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def rows_text(rows: int | None) -> str:
    if rows is None:
        return "real size"
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if rows >= size:
            value = rows / size
            return f"{value:.0f}{suffix}" if value == int(value) else f"{value:.1f}{suffix}"
    return str(rows)


class LabConfig(BaseModel):
    """What to try. Every field has a default: the demo's story (Spot, checkpoints, a reclaim)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = Field("breast-cancer", description="a dataset of s3://sagetutor-datasets/ (see datasets())")
    algorithm: str = Field("xgboost", description="a built-in that trains on the dataset (algorithms_for)")
    instance_type: str = Field("ml.m5.xlarge", description="training instance type")
    instance_count: int = Field(1, ge=1, le=20, description="training instances")
    spot: bool = Field(True, description="Managed Spot training")
    checkpoints: bool = Field(True, description="CheckpointConfig to s3://sagetutor-lab/checkpoints/")
    max_runtime_minutes: int = Field(120, ge=1, le=5 * 24 * 60, description="MaxRuntimeInSeconds / 60")
    max_wait_minutes: int = Field(240, ge=1, le=5 * 24 * 60, description="MaxWaitTimeInSeconds / 60 (Spot)")
    interrupt_after_minutes: float | None = Field(
        10, gt=0, description="inject a Spot reclaim after this many minutes in Training (None: no reclaim)")
    no_capacity_minutes: float | None = Field(
        None, gt=0, description="no Spot capacity for the instance type for this many minutes from the start")
    nominal_rows: int | None = Field(20_000_000, ge=1, description="rows the training data stands for "
                                                                  "(None: its real size)")
    deployment: Deployment = Field("realtime", description="none, realtime, serverless or batch")
    deploy_instance: str = Field("ml.m5.large", description="endpoint or transform instance type")
    endpoint_minutes: int = Field(60, ge=0, le=7 * 24 * 60,
                                  description="how long the endpoint stands InService before the lab deletes it")
    seed: int = Field(7, description="the engine's seed")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if v not in datasets():
            raise ValueError(f"unknown dataset {v!r}; the lab has: {', '.join(datasets())}")
        return v

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, v: str) -> str:
        table = _priced().get("training")
        if table is not None and v not in table:
            raise ValueError(f"{v} is not offered for training (e.g. {', '.join(training_instances()[:4])})")
        return v

    @model_validator(mode="after")
    def _pairs(self) -> LabConfig:
        allowed = algorithms_for(self.dataset)
        if self.algorithm not in allowed:
            raise ValueError(f"{self.algorithm} does not train on {self.dataset}; choose one of: {', '.join(allowed)}")
        if self.deployment != "none":
            use = "transform" if self.deployment == "batch" else "hosting"
            table = _priced().get(use)
            if self.deployment != "serverless" and table is not None and self.deploy_instance not in table:
                raise ValueError(f"{self.deploy_instance} is not offered for {use}")
        return self

    def label(self) -> str:
        """One line for the compare table: ``xgboost/breast-cancer m5.xlarge x1 spot+ckpt reclaim@10m 20M ...``."""
        parts = [f"{self.algorithm}/{self.dataset}", f"{self.instance_type.removeprefix('ml.')} x{self.instance_count}"]
        if self.spot:
            parts.append("spot+ckpt" if self.checkpoints else "spot")
            if self.interrupt_after_minutes:
                parts.append(f"reclaim@{self.interrupt_after_minutes:g}m")
            if self.no_capacity_minutes:
                parts.append(f"nocap{self.no_capacity_minutes:g}m")
        else:
            parts.append("on-demand")
        parts.append(rows_text(self.nominal_rows))
        if self.deployment != "none":
            parts.append(self.deployment)
        parts.append(f"seed {self.seed}")
        return " ".join(parts)

    def notes(self) -> list[str]:
        """What this config will teach, before it runs (shown next to the form)."""
        out = []
        if not self.spot and (self.interrupt_after_minutes or self.no_capacity_minutes):
            out.append("On-demand jobs are never reclaimed: the injected Spot faults have no effect.")
        if self.spot and self.checkpoints and self.algorithm not in CHECKPOINTING:
            out.append(f"{self.algorithm} writes no checkpoints: after a reclaim it starts over.")
        if self.spot and self.algorithm not in CHECKPOINTING and self.max_wait_minutes > 60:
            out.append("AWS limits Spot jobs of built-ins that cannot checkpoint to a MaxWait of 60 minutes.")
        if self.spot and self.max_wait_minutes < self.max_runtime_minutes:
            out.append("Spot needs MaxWaitTimeInSeconds >= MaxRuntimeInSeconds.")
        if self.instance_count > 1 and self.algorithm in ("kmeans", "lda"):
            out.append(f"{self.algorithm} is single-instance: more than one instance fails the job.")
        return out


# -- what a run shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LabEvent:
    seconds: float
    resource: str  # the resource's name (the tail of its ARN), or "lab"
    kind: str  # status, spot, fault, checkpoint, billing, lab
    message: str

    @property
    def clock(self) -> str:
        return clock_text(self.seconds)

    def __str__(self) -> str:
        return f"{self.clock}  {self.resource:14} {self.message}"


@dataclass(frozen=True)
class LabBillLine:
    resource: str
    usage_type: str
    pricing_model: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class LabSnapshot:
    """The run at one virtual instant: what a screen redraws after each slice."""

    seconds: float
    phase: str  # created, training, deploying, serving, transforming, done
    job_status: str
    secondary_status: str
    status_message: str
    events: tuple[LabEvent, ...]
    logs: tuple[str, ...]
    bill: tuple[LabBillLine, ...]
    total: Decimal
    metrics: dict[str, float]
    objective: str
    objective_series: tuple[float, ...]
    endpoint_status: str | None
    done: bool

    @property
    def clock(self) -> str:
        return clock_text(self.seconds)


@dataclass(frozen=True)
class LabSummary:
    """A finished run, as kept for comparison. Equal for equal configs (the seed included)."""

    config: LabConfig
    status: str  # the job's TrainingJobStatus, or Rejected (the API refused the request)
    secondary_status: str
    failure_reason: str | None
    finished_seconds: float
    training_seconds: int | None
    billable_seconds: int | None
    spot_savings: float | None  # 1 - billable / training, as AWS reports it
    reclaims: int
    resumes: int
    training_cost: Decimal
    deployment_cost: Decimal
    total_cost: Decimal
    metrics: dict[str, float]
    objective: str
    objective_value: float | None
    deployment: str
    endpoint: str | None
    endpoint_status: str | None
    truth: tuple[str, ...] = ()
    predictions: tuple[str, ...] = ()
    transform_output: tuple[str, ...] = ()
    stopped_by_user: bool = False

    @property
    def label(self) -> str:
        return self.config.label()

    def lines(self) -> list[str]:
        """The summary as text (the screen's result panel, and ``docs/lab.md``'s example)."""
        out = [f"{self.label}", f"status {self.status}/{self.secondary_status} at {clock_text(self.finished_seconds)}"]
        if self.failure_reason:
            out.append(f"reason: {self.failure_reason}")
        if self.training_seconds is not None:
            t = f"TrainingTimeInSeconds {self.training_seconds}, BillableTimeInSeconds {self.billable_seconds}"
            if self.spot_savings is not None:
                t += f" -> Spot saved {self.spot_savings:.0%}"
            out.append(t)
        if self.reclaims:
            out.append(f"{self.reclaims} Spot reclaim(s), {self.resumes} resumed from a checkpoint")
        if self.objective_value is not None:
            out.append(f"{self.objective} = {self.objective_value:.4g}")
        out.append(f"cost: training ${self.training_cost:.4f}, deployment ${self.deployment_cost:.4f}, "
                   f"total ${self.total_cost:.4f}")
        if self.predictions:
            out.append("predictions: " + ", ".join(f"{t} -> {p}" if t else p
                                                   for t, p in zip(self.truth or ("",) * len(self.predictions),
                                                                   self.predictions)))
        if self.transform_output:
            out.append("transform output: " + ", ".join(self.transform_output))
        return out


# -- the run -------------------------------------------------------------------------------------


class LabRun:
    """One config executed on a fresh ``Engine(config.seed)``, slice by slice (see the module doc)."""

    def __init__(self, config: LabConfig):
        self.config = config
        self.engine: Any = None
        self.phase = "new"
        self.done = False
        self._notes: list[LabEvent] = []
        self._status = ("", "", "")
        self._endpoint_status: str | None = None
        self._deadlines: list[tuple[float, str]] = []  # (virtual second, what the lab does then)
        self._failure: str | None = None
        self._rejected = False
        self._stopped = False
        self._describe: dict = {}
        self._truth: tuple[str, ...] = ()
        self._predictions: tuple[str, ...] = ()
        self._transform_output: tuple[str, ...] = ()
        self._setup = training_setup(config.algorithm, config.dataset)
        self._summary: LabSummary | None = None

    # -- driving ----------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self.engine is not None

    @property
    def seconds(self) -> float:
        return self.engine.seconds if self.engine is not None else 0.0

    def start(self) -> LabSnapshot:
        """Make the engine, inject the faults and create the training job (at 00:00:00)."""
        if self.started:
            return self.snapshot()
        from engine import Engine

        c = self.config
        eng = self.engine = Engine(seed=c.seed)
        eng.faults.natural_spot_interruptions(False)
        self._client("s3").create_bucket(Bucket=BUCKET)
        if c.nominal_rows:
            eng.set_nominal_size(f"s3://{DATA}/{c.dataset}/", rows=c.nominal_rows)
        if c.spot and c.no_capacity_minutes:
            eng.faults.spot_capacity(c.instance_type, available=False)
            self._note(f"Injected: no Spot capacity for {c.instance_type} for {c.no_capacity_minutes:g} min")
            self._deadlines.append((c.no_capacity_minutes * 60, "capacity"))
        try:
            self._client("sagemaker").create_training_job(**self.training_request())
        except Exception as e:  # the API refused it: that is the lesson
            self._reject(e)
            return self.snapshot()
        if c.spot and c.interrupt_after_minutes:
            eng.faults.interrupt_spot(TrainingJobName=JOB, after_seconds=c.interrupt_after_minutes * 60)
            self._note(f"Injected: Spot reclaim after {c.interrupt_after_minutes:g} min in Training")
        self.phase = "training"
        self._poll()
        return self.snapshot()

    def step(self, seconds: float = TICK) -> LabSnapshot:
        """Let up to ``seconds`` of virtual time pass, acting on what happened; the snapshot after."""
        if not self.started:
            self.start()
        target = self.seconds + max(0.0, seconds)
        while not self.done and self.seconds < target:
            until = min([target] + [at for at, _ in self._deadlines])
            if until > self.seconds:
                self.engine.advance(until - self.seconds)
            for at, what in [d for d in self._deadlines if d[0] <= self.seconds]:
                self._deadlines.remove((at, what))
                self._deadline(what)
            self._poll()
            if self.seconds >= MAX_SECONDS and not self.done:
                self._failure = f"the lab stops runs after {clock_text(MAX_SECONDS)} of virtual time"
                self.stop()
        return self.snapshot()

    def run(self, tick: float = TICK) -> LabSummary:
        """Start and step by ``tick`` until done; the summary."""
        self.start()
        while not self.done:
            self.step(tick)
        return self.summary()

    def stop(self) -> LabSnapshot:
        """Stop what is running (StopTrainingJob, DeleteEndpoint, StopTransformJob) and finish the run."""
        if not self.started or self.done:
            self.done = True
            return self.snapshot()
        self._stopped = True
        sm = self._client("sagemaker")
        if self.phase == "training":
            try:
                sm.stop_training_job(TrainingJobName=JOB)
                self._note("StopTrainingJob")
            except Exception as e:
                self._note(f"StopTrainingJob refused: {_error_text(e)}")
            for _ in range(60):
                self.engine.advance(TICK)
                if self._job()["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                    break
        elif self.phase == "transforming":
            try:
                sm.stop_transform_job(TransformJobName=TRANSFORM)
                self._note("StopTransformJob")
            except Exception as e:
                self._note(f"StopTransformJob refused: {_error_text(e)}")
        if self.phase in ("deploying", "serving"):
            self._delete_endpoint()
        self._job()
        self._finish()
        return self.snapshot()

    # -- requests (the way sagetutor/demo.py builds them) ------------------------------------------
    def training_request(self) -> dict:
        c, setup = self.config, self._setup
        runtime, wait = c.max_runtime_minutes * 60, c.max_wait_minutes * 60
        req: dict[str, Any] = {
            "TrainingJobName": JOB, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": self._image(), "TrainingInputMode": "File"},
            "HyperParameters": dict(setup.hyperparameters),
            "InputDataConfig": [dict(ch) for ch in setup.channels],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
            "ResourceConfig": {"InstanceType": c.instance_type, "InstanceCount": c.instance_count,
                               "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
        }
        if c.spot:
            req["EnableManagedSpotTraining"] = True
            req["StoppingCondition"]["MaxWaitTimeInSeconds"] = wait
        if c.checkpoints:
            req["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/"}
        return req

    def _image(self) -> str:
        return self.engine.image_uri(self.config.algorithm) if self.engine is not None else self.config.algorithm

    def _client(self, name: str):
        return self.engine.client(name)

    # -- what happens between slices ---------------------------------------------------------------
    def _deadline(self, what: str) -> None:
        if what == "capacity":
            self.engine.faults.spot_capacity(self.config.instance_type, available=True)
            self._note(f"Spot capacity for {self.config.instance_type} is back")
        elif what == "delete":
            self._delete_endpoint()
            self._finish()

    def _poll(self) -> None:
        if self.done or self._rejected:
            return
        if self.phase == "training":
            d = self._job()
            if d["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                if d["TrainingJobStatus"] != "Completed" or self.config.deployment == "none" or self._stopped:
                    self._failure = d.get("FailureReason") or self._failure
                    self._finish()
                else:
                    self._deploy(d)
        elif self.phase == "deploying":
            ep = self._client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
            self._endpoint_status = ep["EndpointStatus"]
            if ep["EndpointStatus"] == "InService":
                self._invoke()
                self.phase = "serving"
                self._deadlines.append((self.seconds + self.config.endpoint_minutes * 60, "delete"))
                if self.config.endpoint_minutes == 0:
                    self._deadlines.clear()
                    self._delete_endpoint()
                    self._finish()
            elif ep["EndpointStatus"] == "Failed":
                self._failure = ep.get("FailureReason")
                self._finish()
        elif self.phase == "transforming":
            t = self._client("sagemaker").describe_transform_job(TransformJobName=TRANSFORM)
            self._endpoint_status = t["TransformJobStatus"]
            if t["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                if t["TransformJobStatus"] == "Completed":
                    self._read_transform()
                else:
                    self._failure = t.get("FailureReason")
                self._finish()

    def _job(self) -> dict:
        d = self._client("sagemaker").describe_training_job(TrainingJobName=JOB)
        self._describe = d
        self._status = (d["TrainingJobStatus"], d.get("SecondaryStatus", ""),
                        (d.get("SecondaryStatusTransitions") or [{}])[-1].get("StatusMessage", ""))
        return d

    def _deploy(self, job: dict) -> None:
        c = self.config
        sm = self._client("sagemaker")
        try:
            sm.create_model(ModelName=MODEL, ExecutionRoleArn=ROLE,
                            PrimaryContainer={"Image": self._image(),
                                              "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
            self._note("CreateModel")
            if c.deployment == "batch":
                sm.create_transform_job(**self.transform_request())
                self._note(f"CreateTransformJob on {csv_dataset(c.dataset)}/test/ ({c.deploy_instance})")
                self.phase = "transforming"
                return
            variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": MODEL}
            if c.deployment == "serverless":
                variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
            else:
                variant.update(InstanceType=c.deploy_instance, InitialInstanceCount=1)
            sm.create_endpoint_config(EndpointConfigName=CONFIG, ProductionVariants=[variant])
            sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIG)
            self._note("CreateEndpointConfig, CreateEndpoint" + (" (serverless)" if c.deployment == "serverless"
                                                                 else f" ({c.deploy_instance})"))
            self.phase = "deploying"
        except Exception as e:
            self._failure = f"deployment refused: {_error_text(e)}"
            self._note(self._failure)
            self._finish()

    def transform_request(self) -> dict:
        c = self.config
        src = csv_dataset(c.dataset)
        req: dict[str, Any] = {
            "TransformJobName": TRANSFORM, "ModelName": MODEL,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                               "S3Uri": f"s3://{DATA}/{src}/test/"}},
                               "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/transform/", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": c.deploy_instance, "InstanceCount": 1},
            "BatchStrategy": "MultiRecord",
        }
        if csv_labelled(src, "test"):
            req["DataProcessing"] = {"InputFilter": "$[1:]"}  # the label column is not a feature
        return req

    def _test_rows(self) -> tuple[list[str], list[str]]:
        """``INVOKE_ROWS`` test rows as (truths, feature lines)."""
        src = csv_dataset(self.config.dataset)
        s3 = self._client("s3")
        key = s3.list_objects_v2(Bucket=DATA, Prefix=f"{src}/test/")["Contents"][0]["Key"]
        lines = [ln for ln in s3.get_object(Bucket=DATA, Key=key)["Body"].read().decode().splitlines()
                 if ln.strip()][:INVOKE_ROWS]
        if csv_labelled(src, "test"):
            return [ln.split(",", 1)[0] for ln in lines], [ln.split(",", 1)[1] for ln in lines]
        return [], lines

    def _invoke(self) -> None:
        truth, rows = self._test_rows()
        try:
            r = self._client("sagemaker-runtime").invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv",
                                                                  Body="\n".join(rows))
        except Exception as e:
            self._note(f"InvokeEndpoint refused: {_error_text(e)}")
            return
        self._truth, self._predictions = tuple(truth), _predictions(r["Body"].read().decode())
        self._note(f"InvokeEndpoint with {len(rows)} test rows: " + ", ".join(self._predictions[:INVOKE_ROWS]))
        if self.config.endpoint_minutes:
            self._note(f"The endpoint stands for {self.config.endpoint_minutes} min, then the lab deletes it")

    def _read_transform(self) -> None:
        s3 = self._client("s3")
        objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="transform/").get("Contents", [])
        if not objects:
            return
        body = s3.get_object(Bucket=BUCKET, Key=objects[0]["Key"])["Body"].read().decode()
        out = _predictions(body)
        self._transform_output = out[:INVOKE_ROWS]
        self._note(f"Transform output s3://{BUCKET}/{objects[0]['Key']}: {len(body.splitlines())} lines")

    def _delete_endpoint(self) -> None:
        try:
            self._client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
            self._note("DeleteEndpoint (billing stops)")
        except Exception as e:
            self._note(f"DeleteEndpoint refused: {_error_text(e)}")
        self._endpoint_status = "Deleted"

    def _reject(self, e: Exception) -> None:
        self._rejected = True
        self._failure = _error_text(e)
        self._status = ("Rejected", "", self._failure)
        self._note(f"CreateTrainingJob refused: {self._failure}")
        self._finish()

    def _finish(self) -> None:
        self.phase = "done"
        self.done = True
        self._deadlines.clear()

    def _note(self, message: str) -> None:
        self._notes.append(LabEvent(self.seconds, "lab", "lab", message))

    # -- reading the engine ---------------------------------------------------------------------------
    def events(self) -> list[LabEvent]:
        """The engine's timeline (statuses, Spot, faults, checkpoints, billing) merged with the lab's notes."""
        if self.engine is None:
            return []
        out = [LabEvent(e.seconds, e.resource.rsplit("/", 1)[-1], e.kind, e.message)
               for e in self.engine.timeline() if e.kind in _EVENT_KINDS and ":key/" not in e.resource]
        # at one instant the lab's call comes before what the engine did about it
        return sorted(self._notes + out, key=lambda e: e.seconds)

    def logs(self) -> list[str]:
        if self.engine is None:
            return []
        return self.engine.logs_for("/aws/sagemaker/TrainingJobs", f"{JOB}/")

    def metric_history(self) -> list[dict[str, float]]:
        """Each unit's metrics from the job's ``#metrics`` log lines, in order (what is posted so far)."""
        out: dict[int, dict[str, float]] = {}
        for line in self.logs():
            m = _METRICS_LINE.search(line)
            if m:
                values = {}
                for part in m.group(3).split():
                    name, _, value = part.partition("=")
                    try:
                        values[name] = float(value)
                    except ValueError:
                        continue
                out[int(m.group(2))] = values  # a restarted job logs its units again: the latest wins
        return [out[k] for k in sorted(out)]

    def bill_lines(self) -> tuple[tuple[LabBillLine, ...], Decimal]:
        if self.engine is None:
            return (), Decimal(0)
        bill = self.engine.bill()
        lines = tuple(LabBillLine(li.resource_arn.split(":", 5)[-1], li.usage_type, li.pricing_model, li.quantity,
                                  li.unit, li.unit_price, li.amount) for li in bill)
        return lines, bill.total

    def snapshot(self) -> LabSnapshot:
        history = self.metric_history()
        metrics = dict(history[-1]) if history else {}
        final = {m["MetricName"]: m["Value"] for m in self._describe.get("FinalMetricDataList", [])}
        metrics.update(final)
        objective = self._setup.objective[0]
        series = tuple(h[objective] for h in history if objective in h)
        lines, total = self.bill_lines()
        status, secondary, message = self._status
        return LabSnapshot(self.seconds, self.phase, status, secondary, message, tuple(self.events()),
                           tuple(self.logs()), lines, total, metrics, objective, series, self._endpoint_status,
                           self.done)

    def summary(self) -> LabSummary:
        """The finished run (``ValueError`` while it still runs)."""
        if not self.done:
            raise ValueError("the run has not finished: step() until done, or stop() it")
        if self._summary is None:
            self._summary = self._make_summary()
        return self._summary

    def _make_summary(self) -> LabSummary:
        c, d = self.config, self._describe
        lines, total = self.bill_lines()
        training = sum((li.amount for li in lines if li.resource.startswith("training-job/")), Decimal(0))
        deployment = sum((li.amount for li in lines if li.resource.startswith(("endpoint/", "transform-job/"))),
                         Decimal(0))
        t, b = d.get("TrainingTimeInSeconds"), d.get("BillableTimeInSeconds")
        savings = (1 - b / t) if (c.spot and t and b is not None) else None
        events = self.events()
        metrics = {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])}
        objective = self._setup.objective[0]
        status, secondary, _ = self._status
        return LabSummary(
            config=c, status=status or "NotStarted", secondary_status=secondary,
            failure_reason=self._failure or d.get("FailureReason"), finished_seconds=self.seconds,
            training_seconds=t, billable_seconds=b, spot_savings=savings,
            reclaims=sum(1 for e in events if e.kind == "spot" and "reclaimed at" in e.message),
            resumes=sum(1 for e in events if e.kind == "spot" and e.message.startswith("Resumed from checkpoint")),
            training_cost=training, deployment_cost=deployment, total_cost=total, metrics=metrics,
            objective=objective, objective_value=metrics.get(objective), deployment=c.deployment,
            endpoint=ENDPOINT if c.deployment in ("realtime", "serverless") and self._endpoint_status else None,
            endpoint_status=self._endpoint_status, truth=self._truth, predictions=self._predictions,
            transform_output=self._transform_output, stopped_by_user=self._stopped)


def _error_text(e: Exception) -> str:
    response = getattr(e, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code', type(e).__name__)}: {err.get('Message', '')}"
    return f"{type(e).__name__}: {e}"


def _predictions(body: str) -> tuple[str, ...]:
    """A response body as short prediction strings: CSV/lines as they are, JSON records compacted."""
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return (text[:60],)
        records = data.get("predictions") if isinstance(data, dict) else None
        if isinstance(records, list):
            return tuple(_short(r) for r in records)
        return (_short(data),)
    parts = text.split("\n") if "\n" in text else text.split(",")
    return tuple(_short_number(p.strip()) for p in parts if p.strip())


def _short(record: Any) -> str:
    if isinstance(record, dict) and len(record) == 1:
        record = next(iter(record.values()))
    if isinstance(record, float):
        return f"{record:.4g}"
    if isinstance(record, list) and record and all(isinstance(v, (int, float)) for v in record):
        return "[" + " ".join(f"{v:.3g}" for v in record[:4]) + (" ..." if len(record) > 4 else "") + "]"
    return json.dumps(record, separators=(",", ":"))[:40]


def _short_number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text[:40]
    return f"{value:.4g}"


# -- kept runs ------------------------------------------------------------------------------------


@dataclass
class LabHistory:
    """Finished runs kept for comparison, oldest first (at most ``limit``)."""

    limit: int = 50
    runs: list[LabSummary] = field(default_factory=list)
    added: int = 0  # every run ever added (numbers stay stable when old ones drop off)

    def add(self, summary: LabSummary) -> int:
        """Keep ``summary``; its number (1-based, counting every run ever added)."""
        self.runs.append(summary)
        self.added += 1
        del self.runs[:-self.limit]
        return self.added

    def __iter__(self) -> Iterator[LabSummary]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, i: int) -> LabSummary:
        return self.runs[i]

    def clear(self) -> None:
        self.runs.clear()

    COLUMNS = ("#", "status", "time", "billable", "cost", "savings", "metric", "config")

    def rows(self) -> list[tuple[str, ...]]:
        """One text row per kept run, for a compare table (``COLUMNS``)."""
        out = []
        first = self.added - len(self.runs) + 1
        for i, s in enumerate(self.runs, first):
            metric = f"{s.objective.split(':')[-1]} {s.objective_value:.4g}" if s.objective_value is not None else "-"
            out.append((str(i), s.status + (" (you)" if s.stopped_by_user else ""),
                        clock_text(s.training_seconds) if s.training_seconds is not None else "-",
                        clock_text(s.billable_seconds) if s.billable_seconds is not None else "-",
                        f"${s.total_cost:.4f}",
                        f"{s.spot_savings:.0%}" if s.spot_savings is not None else "-", metric, s.label))
        return out
