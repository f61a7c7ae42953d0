"""Training jobs: one SimPy process per job, read top to bottom in ``_life``.

A job walks AWS's documented secondary statuses (Starting -> Downloading ->
Training -> Uploading -> Completed) in virtual time while its algorithm really
trains on the real data. A Spot reclaim is a SimPy ``Interrupt``; with a
checkpoint configuration the algorithm's state is really written to S3 and the
next attempt really continues from it. Billing follows AWS: on-demand jobs bill
their training time; Spot jobs report BillableTimeInSeconds reduced by the Spot
discount, and the bill charges billable seconds x instance count at the
on-demand rate (never discounted twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import simpy

from engine import artifacts, timing
from engine.algorithms import BUILTINS
from engine.algorithms.base import AlgorithmClientError, AlgorithmError, ChannelData, Trainer
from engine.bill import line, per_second
from engine.errors import ServiceError, not_found, resource_in_use, validation
from engine.pricing import hourly_price, instance_spec
from engine.services.s3 import parse_uri
from engine.services.sagemaker import access, images, inputs, listing

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
NO_CHECKPOINT_MAX_WAIT = 3600


class _Failed(Exception):
    """Ends a job as Failed with AWS's FailureReason text."""


@dataclass
class Reason:
    """Why the job's process was interrupted."""

    kind: str  # "spot", "stop", "maxwait"


@dataclass
class Attempt:
    number: int
    acquired_at: float | None = None
    ended_at: float | None = None

    @property
    def running_seconds(self) -> float:
        if self.acquired_at is None or self.ended_at is None:
            return 0.0
        return self.ended_at - self.acquired_at


@dataclass
class _Run:
    """What one job's attempts share: the runner, the downloaded data, the current trainer."""

    runner: Any
    spec: Any
    max_run: float
    ran: float = 0.0  # instance seconds used by earlier attempts (MaxRuntime counts them)
    data: Any = None
    trainer: Trainer | None = None
    start_state: bytes | None = None  # the checkpoint this attempt started from


@dataclass
class TrainingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    status: str = "InProgress"
    secondary: str = "Starting"
    transitions: list[dict[str, Any]] = field(default_factory=list)
    last_modified: float = 0.0
    start: float | None = None  # TrainingStartTime (first download)
    end: float | None = None
    failure: str | None = None
    final_metrics: dict[str, float] = field(default_factory=dict)
    metric_time: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    training_status_seconds: float = 0.0  # cumulative seconds of training work (injected reclaims count these)
    billable: int | None = None
    model_uri: str | None = None
    process: simpy.Process | None = None
    in_training_since: float | None = None
    units_done: int = 0
    units_total: int = 0
    unit_name: str = "epoch"
    in_training_phase: bool = False
    resumed_from: int | None = None
    discount: float = 0.0
    stop_requested: bool = False
    #: Optional ``(job, UnitRecord) -> bool``: when set, training runs unit by unit and stops when it says False.
    unit_gate: Any = None
    #: Every unit's metrics so far (each a UnitRecord), as the algorithm reported them.
    unit_records: list = field(default_factory=list)

    @property
    def spot(self) -> bool:
        return bool(self.request.get("EnableManagedSpotTraining"))

    @property
    def instance_type(self) -> str:
        return self.request["ResourceConfig"]["InstanceType"]

    @property
    def instance_count(self) -> int:
        return self.request["ResourceConfig"]["InstanceCount"]


def _line(when: datetime, message: str) -> str:
    """A training log line, ``[2024-01-01:00:05:00:INFO] message``: the stamp is ``strftime("%Y-%m-%d:%H:%M:%S")``
    spelled out, without strftime's cost (a line per epoch or boosting round)."""
    return (f"[{when.year:04d}-{when.month:02d}-{when.day:02d}:{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
            f":INFO] {message}")


class Training:
    """The training-job half of the SageMaker backend."""

    def __init__(self, world):
        self.world = world
        self.jobs: dict[str, TrainingJob] = {}
        world.faults._listeners.append(self._on_fault)

    # -- helpers -----------------------------------------------------------------
    @property
    def clock(self):
        return self.world.clock

    def _s3(self):
        return self.world.services["s3"]

    def _iam(self):
        return self.world.services["iam"]

    def _logs(self):
        return self.world.services["logs"]

    def _cw(self):
        return self.world.services["cloudwatch"]

    def _job(self, name: str) -> TrainingJob:
        job = self.jobs.get(name)
        if job is None:
            raise not_found()
        return job

    def _transition(self, job: TrainingJob, secondary: str, message: str, status: str | None = None) -> None:
        now = self.clock.seconds
        if job.transitions and job.transitions[-1]["Status"] == secondary:
            job.transitions[-1]["StatusMessage"] = message
        else:
            if job.transitions:
                job.transitions[-1]["EndTime"] = now
            job.transitions.append({"Status": secondary, "StartTime": now, "StatusMessage": message})
        job.secondary = secondary
        if status:
            job.status = status
        job.last_modified = now
        self.world.event(job.arn, "status", message, f"{job.status}/{secondary}")

    def _log(self, job: TrainingJob, message: str, instance: int = 1, at: float | None = None) -> None:
        ts = self.clock.at(self.clock.seconds if at is None else at)
        self._logs().write(LOG_GROUP, self._stream(job, instance), _line(ts, message), at_seconds=at)

    def _stream(self, job: TrainingJob, instance: int = 1) -> str:
        return f"{job.name}/algo-{instance}-{int(self.clock.at(job.created).timestamp())}"

    # -- validation at Create ----------------------------------------------------
    def _resolve_image(self, req: dict) -> images.Image:
        spec = req.get("AlgorithmSpecification")
        if not spec:
            raise validation("AlgorithmSpecification is required for this training job.")
        if spec.get("AlgorithmName") and spec.get("TrainingImage"):
            raise validation("Only one of AlgorithmName or TrainingImage may be specified.")
        if spec.get("AlgorithmName"):
            raise validation(f"Algorithm {spec['AlgorithmName']} does not exist. SageTutor supports built-in "
                             "algorithms by TrainingImage (see engine.image_uri).")
        uri = spec.get("TrainingImage")
        if not uri:
            raise validation("Either AlgorithmName or TrainingImage must be specified.")
        image = images.resolve(uri, self.world.account)
        if image is None:
            raise validation(f"Failed to find image {uri}. Use engine.image_uri(...) for a built-in algorithm or "
                             "push your own image to this account's ECR.")
        if image.kind == "custom":
            ecr = self.world.services.get("ecr")
            if ecr is None or ecr.resolve_image(image.repository, image.tag) is None:
                raise validation(f"Requested image {uri} not found.")
        return image

    def _validate(self, req: dict) -> images.Image:
        name = req["TrainingJobName"]
        arn = self.world.arn("sagemaker", f"training-job/{name.lower()}")
        if name in self.jobs:
            raise resource_in_use("Training job names must be unique within an AWS account and region, and a "
                                  f"training job with this name already exists ({arn})")
        for key in ("ResourceConfig", "StoppingCondition"):
            if key not in req:
                raise validation(f"{key} is required for this training job.")
        image = self._resolve_image(req)
        rc = req["ResourceConfig"]
        if "InstanceType" not in rc or not rc.get("InstanceCount"):
            raise validation("ResourceConfig must specify InstanceType and an InstanceCount of at least 1.")
        access.placement(self.world, req.get("VpcConfig"))
        access.check_volume_key(rc["InstanceType"], rc.get("VolumeKmsKeyId"))
        role = req["RoleArn"]
        if not self._iam().can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows "
                             "principal 'sagemaker.amazonaws.com' to assume the role.")
        stop = req["StoppingCondition"]
        max_run = stop.get("MaxRuntimeInSeconds", 86400)
        if req.get("EnableManagedSpotTraining"):
            max_wait = stop.get("MaxWaitTimeInSeconds")
            if max_wait is None or max_wait < max_run:
                raise validation("Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal "
                                 "to MaxRuntimeInSeconds")
            if image.kind == "builtin" and not BUILTINS[image.algorithm].capabilities.checkpointing \
                    and max_wait > NO_CHECKPOINT_MAX_WAIT:
                raise validation(f"MaxWaitTimeInSeconds must be less than or equal to {NO_CHECKPOINT_MAX_WAIT} "
                                 f"for algorithm {image.algorithm}, which does not support checkpointing.")
        elif "MaxWaitTimeInSeconds" in stop:
            raise validation("MaxWaitTimeInSeconds can only be specified when EnableManagedSpotTraining is true.")
        if max_run > 28 * 86400:
            raise validation("MaxRuntimeInSeconds must be less than or equal to 2419200 (28 days).")
        if image.kind == "builtin":
            algo = BUILTINS[image.algorithm]
            spec = instance_spec(rc["InstanceType"])
            if algo.capabilities.processors == frozenset({"gpu"}) and not timing.is_gpu(spec):
                raise validation(f"Instance type {rc['InstanceType']} is not supported by algorithm "
                                 f"{image.algorithm}: it trains on GPU instances only (for example ml.p3.2xlarge "
                                 "or ml.g4dn.xlarge).")
            names = {c["ChannelName"] for c in req.get("InputDataConfig", [])}
            missing = [c for c in algo.capabilities.required_channels if c not in names]
            if missing:
                raise validation(f"Algorithm {image.algorithm} requires the channel(s) {', '.join(missing)} "
                                 f"in InputDataConfig; got {sorted(names) or 'none'}.")
        for ch in req.get("InputDataConfig", []):
            if ch["DataSource"].get("S3DataSource") is None:
                raise validation(f"Channel {ch['ChannelName']}: only S3DataSource is supported.")
        return image

    # -- API -------------------------------------------------------------------
    def create_training_job(self, req: dict, call) -> dict:
        image = self._validate(req)
        name = req["TrainingJobName"]
        job = TrainingJob(name, self.world.arn("sagemaker", f"training-job/{name.lower()}"), req, self.clock.seconds)
        job.last_modified = job.created
        self.jobs[name] = job
        self._transition(job, "Starting", "Starting the training job.")
        job.process = self.clock.start(self._life(job, image))
        return {"TrainingJobArn": job.arn}

    def describe_training_job(self, req: dict, call) -> dict:
        return self.describe(self._job(req["TrainingJobName"]))

    def describe(self, job: TrainingJob) -> dict:
        at = self.clock.at
        r = job.request
        out: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": job.arn,
            "ModelArtifacts": {"S3ModelArtifacts": job.model_uri} if job.model_uri else {},
            "TrainingJobStatus": job.status,
            "SecondaryStatus": job.secondary,
            "HyperParameters": dict(r.get("HyperParameters", {})),
            "AlgorithmSpecification": self._algorithm_specification(r["AlgorithmSpecification"]),
            "RoleArn": r["RoleArn"],
            "InputDataConfig": r.get("InputDataConfig", []),
            "OutputDataConfig": {"KmsKeyId": "", **r["OutputDataConfig"]},  # AWS sends "" when none was given
            "ResourceConfig": {"VolumeSizeInGB": 30, **r["ResourceConfig"]},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400, **r["StoppingCondition"]},
            "CreationTime": at(job.created),
            "LastModifiedTime": at(job.last_modified),
            "SecondaryStatusTransitions": [
                {**t, "StartTime": at(t["StartTime"]), **({"EndTime": at(t["EndTime"])} if "EndTime" in t else {})}
                for t in job.transitions],
            "EnableNetworkIsolation": r.get("EnableNetworkIsolation", False),
            "EnableInterContainerTrafficEncryption": r.get("EnableInterContainerTrafficEncryption", False),
            "EnableManagedSpotTraining": job.spot,
        }
        if not out["HyperParameters"]:
            del out["HyperParameters"]
        if "CheckpointConfig" in r:
            out["CheckpointConfig"] = r["CheckpointConfig"]
        for key in ("VpcConfig", "Environment", "RetryStrategy", "Tags"):
            if key in r and key != "Tags":
                out[key] = r[key]
        if job.start is not None:
            out["TrainingStartTime"] = at(job.start)
        if job.end is not None:
            out["TrainingEndTime"] = at(job.end)
            if job.start is not None:
                out["TrainingTimeInSeconds"] = max(1, int(round(job.end - job.start)))
            if job.billable is not None:
                out["BillableTimeInSeconds"] = job.billable
        if job.failure:
            out["FailureReason"] = job.failure
        if job.final_metrics:
            ts = at(job.metric_time if job.metric_time is not None else self.clock.seconds)
            out["FinalMetricDataList"] = [{"MetricName": k, "Value": float(v), "Timestamp": ts}
                                          for k, v in job.final_metrics.items()]
        return out

    def _algorithm_specification(self, spec: dict) -> dict:
        """As DescribeTrainingJob answers it: a built-in's own metric definitions when the request named none."""
        out = {"TrainingInputMode": "File", **spec}
        if "MetricDefinitions" not in out and out.get("TrainingImage"):
            image = images.resolve(out["TrainingImage"], self.world.account)
            if image is not None and image.kind == "builtin":
                out["MetricDefinitions"] = [
                    {"Name": m.name, "Regex": rf"#quality_metric: host=\S+, {re.escape(m.name)} <score>=(\S+)"}
                    for m in BUILTINS[image.algorithm].metrics]
        return out

    def list_training_jobs(self, req: dict, call) -> dict:
        jobs = listing.select(list(self.jobs.values()), req, self.clock)
        page, more = listing.page(jobs, req)
        summaries = []
        for j in page:
            s = {"TrainingJobName": j.name, "TrainingJobArn": j.arn, "CreationTime": self.clock.at(j.created),
                 "LastModifiedTime": self.clock.at(j.last_modified), "TrainingJobStatus": j.status,
                 "SecondaryStatus": j.secondary}
            if j.end is not None:
                s["TrainingEndTime"] = self.clock.at(j.end)
            summaries.append(s)
        return {"TrainingJobSummaries": summaries, **more}

    def stop_training_job(self, req: dict, call) -> dict:
        job = self._job(req["TrainingJobName"])
        if job.status != "InProgress":
            raise validation(f"The request was rejected because the training job is in status {job.status}.")
        job.stop_requested = True
        self._transition(job, "Stopping", "Stopping the training job.", "Stopping")
        if job.process is not None and job.process.is_alive:
            job.process.interrupt(Reason("stop"))
        return {}

    # -- faults -----------------------------------------------------------------
    def _on_fault(self, job_name: str | None) -> None:
        """A fault was injected: a job already in Training gets its reclaim timer now."""
        if job_name is None:
            return
        job = self.jobs.get(job_name)
        if job is not None and job.in_training_since is not None and job.spot:
            self._arm_injected(job, len(job.attempts))

    def _arm_injected(self, job: TrainingJob, attempt: int) -> None:
        spent = job.training_status_seconds + (self.clock.seconds - (job.in_training_since or self.clock.seconds))
        for after in self.world.faults.pending_interrupts(job.name):
            delay = max(0.0, after - spent)
            self.clock.env.process(self._reclaim_timer(job, attempt, delay, injected=after))

    def _reclaim_timer(self, job: TrainingJob, attempt: int, delay: float, injected: float | None = None):
        yield self.clock.env.timeout(delay)
        if job.status != "InProgress" or len(job.attempts) != attempt or job.process is None or not job.process.is_alive:
            return
        if job.attempts[-1].ended_at is not None:
            return
        if injected is not None:
            if injected not in self.world.faults.pending_interrupts(job.name):
                return
            self.world.faults.consume_interrupt(job.name, injected)
            self.world.event(job.arn, "fault", f"Injected Spot reclaim after {injected:g} s in Training")
        job.process.interrupt(Reason("spot"))

    def _maxwait_timer(self, job: TrainingJob, seconds: float):
        yield self.clock.env.timeout(seconds)
        if job.status == "InProgress" and job.process is not None and job.process.is_alive:
            job.process.interrupt(Reason("maxwait"))

    # -- the job's life ------------------------------------------------------------
    def _life(self, job: TrainingJob, image: images.Image):
        """Attempts until the job completes, fails or is stopped; a Spot reclaim starts a new attempt."""
        env = self.clock.env
        spec = instance_spec(job.instance_type)
        stop = job.request["StoppingCondition"]
        run = _Run(runner=None, spec=spec, max_run=stop.get("MaxRuntimeInSeconds", 86400))
        if job.spot:
            env.process(self._maxwait_timer(job, stop["MaxWaitTimeInSeconds"]))
            job.discount = self.world.spot.market(job.instance_type).discount
        try:
            self._volume_key(job)
            runner = run.runner = self._runner(image, job)
            while True:
                attempt = Attempt(len(job.attempts) + 1)
                job.attempts.append(attempt)
                try:
                    yield from self._attempt(job, attempt, run)
                    return
                except simpy.Interrupt as intr:
                    if not (isinstance(intr.cause, Reason) and intr.cause.kind == "spot"):
                        raise
                attempt.ended_at = self.clock.seconds
                run.ran += attempt.running_seconds
                training = job.units_total > 0 and job.in_training_phase
                unit = f"{job.unit_name} {job.units_done}" if training else "start-up (before training)"
                if run.trainer is not None:
                    self._checkpoint(job, runner, run.trainer)
                self._transition(job, "Interrupted",
                                 "Spot capacity was reclaimed; the job restarts when capacity returns.")
                self._log(job, f"Spot interruption at {unit}")
                total = f" of {job.units_total}" if training else ""
                self.world.event(job.arn, "spot", f"Spot capacity reclaimed at {unit}{total}")
                job.in_training_phase = False
                run.trainer = None  # the instances and their memory are gone
                yield env.timeout(self.world.spot.reacquire_delay(job.instance_type, job.name, attempt.number))
        except simpy.Interrupt as intr:
            kind = intr.cause.kind if isinstance(intr.cause, Reason) else "stop"
            yield from self._interrupted_end(job, run.runner, run.trainer, spec, kind)
        except _Failed as failure:
            self._fail(job, str(failure))
        except (AlgorithmClientError, ValueError) as e:
            self._fail(job, f"ClientError: {e}")
        except AlgorithmError as e:
            self._fail(job, f"AlgorithmError: {e}")

    def _volume_key(self, job: TrainingJob) -> None:
        """SageMaker grants the instances' volumes use of VolumeKmsKeyId, with the job's role."""
        key = job.request["ResourceConfig"].get("VolumeKmsKeyId")
        if key:
            use = access.use_key(self.world, job.request["RoleArn"], key, "kms:CreateGrant", job.arn)
            if not use.allowed:
                raise _Failed(f"ClientError: Could not use the volume KMS key {key}: {use.code}: {use.message}")
        access.record_volume(self.world, job.arn, "ml-volume", key)

    def _attempt(self, job: TrainingJob, attempt: Attempt, run: _Run):
        env = self.clock.env
        spec, runner, count = run.spec, run.runner, job.instance_count
        # Starting: get capacity, launch and prepare the instances.
        if job.spot:
            warned = False
            while not self.world.faults.capacity_available(job.instance_type):
                if not warned:
                    self._transition(job, "Starting",
                                     "Insufficient capacity error from EC2 while launching instances, retrying!")
                    self.world.event(job.arn, "spot", f"No Spot capacity for {job.instance_type}; retrying")
                    warned = True
                yield env.timeout(60)
        self._transition(job, "Starting", "Launching requested ML instances.")
        u = self.world.spot.draw(job.instance_type, job.name, attempt.number, "provision")
        yield env.timeout(timing.provision_seconds(spec, u))
        self._transition(job, "Starting", "Preparing the instances for training.")
        yield env.timeout(10)
        attempt.acquired_at = self.clock.seconds
        if job.start is None:
            job.start = attempt.acquired_at
        if job.spot and self.world.faults.natural_interruptions:
            delay = self.world.spot.seconds_to_reclaim(job.instance_type, job.name, attempt.number)
            env.process(self._reclaim_timer(job, attempt.number, delay))
        # Downloading: really read the channels, as the execution role.
        self._transition(job, "Downloading", "Downloading input data")
        if run.data is None:
            try:
                run.data = self._download(job)
            except _Failed:
                yield env.timeout(5)  # the instances tried before they failed: AWS bills that time
                raise
        data = run.data
        streaming = job.request["AlgorithmSpecification"].get("TrainingInputMode", "File") != "File"
        yield env.timeout(timing.download_seconds(data.nominal_bytes, spec, count, data.sharded, streaming))
        self._transition(job, "Training", "Downloading the training image.")
        yield env.timeout(timing.image_seconds(spec))
        self._transition(job, "Training", "Training image download completed. Training in progress.")
        # Training: hyperparameters and data are checked inside the job, as AWS does.
        trainer = run.trainer = self._new_trainer(job, runner, data)
        plural = "" if trainer.total_units == 1 else "s"
        for host in range(1, count + 1):
            share = ""
            if data.shards is not None:
                mode = "ShardedByS3Key" if data.sharded else "FullyReplicated"
                share = f"; {len(data.shards[host - 1].objects)} train object(s) ({mode})"
            self._log(job, f"algo-{host} of {count} ({job.instance_type}): starting training for "
                           f"{trainer.total_units} {trainer.unit_name}{plural}{share}", instance=host)
        run.start_state = None
        if job.request.get("CheckpointConfig") and runner.capabilities.checkpointing:
            resumed = self._restore_checkpoint(job, runner, trainer, run)
            if resumed:
                self._log(job, f"Resuming from checkpoint at {trainer.unit_name} {resumed}")
                self.world.event(job.arn, "spot", f"Resumed from checkpoint at {trainer.unit_name} {resumed}")
        job.units_done, job.units_total, job.unit_name = trainer.done_units, trainer.total_units, trainer.unit_name
        job.in_training_phase = True
        per_unit = timing.unit_seconds(trainer.work_per_unit(), data.scale, spec, count, data.sharded,
                                       runner.capabilities.gpu_accelerated, streaming)
        budget = run.max_run - run.ran - (self.clock.seconds - attempt.acquired_at)
        first = trainer.done_units
        t0 = job.in_training_since = self.clock.seconds
        if job.spot:
            self._arm_injected(job, attempt.number)
        try:
            if job.unit_gate is not None:
                stopped = yield from self._gated(job, trainer, per_unit, budget, t0)
                if stopped:
                    yield from self._upload(job, runner, trainer, spec)
                    attempt.ended_at = self.clock.seconds
                    self._finish(job, "Stopped", "Stopped", "Training job stopped early by the tuning job")
                    return
                records, planned = [], 0.0
            else:
                # The real work first, so virtual time follows the units really trained (early stopping
                # included); a reclaim or a stop mid-way re-trains up to the instant it lands.
                records = trainer.fit_until(trainer.total_units)
                planned = (trainer.done_units - first) * per_unit
                yield env.timeout(max(0.0, min(planned, budget)))
        except simpy.Interrupt as intr:
            units = min(len(records), int((self.clock.seconds - t0) // per_unit)) if job.unit_gate is None else 0
            if job.unit_gate is None:
                kind = intr.cause.kind if isinstance(intr.cause, Reason) else "stop"
                needs_model = kind == "stop" or (kind == "spot" and job.request.get("CheckpointConfig")
                                                 and runner.capabilities.checkpointing)
                run.trainer = self._retrained(job, runner, data, run, first + units) if needs_model else None
                self._record(job, trainer.unit_name, records[:units], first, t0, per_unit)
            raise
        finally:
            job.training_status_seconds += self.clock.seconds - t0
            job.in_training_since = None
        if planned > budget:
            units = int(budget // per_unit)
            trainer = run.trainer = self._retrained(job, runner, data, run, first + units)
            self._record(job, trainer.unit_name, records[:units], first, t0, per_unit)
            yield from self._upload(job, runner, trainer, spec)
            attempt.ended_at = self.clock.seconds
            self._finish(job, "Stopped", "MaxRuntimeExceeded", "Training job exceeded MaxRuntimeInSeconds provided")
            return
        self._record(job, trainer.unit_name, records, first, t0, per_unit)
        self._checkpoint(job, runner, trainer)
        yield from self._upload(job, runner, trainer, spec)
        attempt.ended_at = self.clock.seconds
        self._finish(job, "Completed", "Completed", "Training job completed")

    def _retrained(self, job: TrainingJob, runner, data, run: _Run, units: int) -> Trainer:
        """A trainer as it stood after ``units`` units: same start (checkpoint or scratch), same data."""
        trainer = self._new_trainer(job, runner, data)
        if run.start_state is not None:
            trainer.restore(run.start_state)
        if units > trainer.done_units:
            trainer.fit_until(units)
        return trainer

    def _gated(self, job: TrainingJob, trainer: Trainer, per_unit: float, budget: float, t0: float):
        """Train unit by unit, asking ``job.unit_gate(job, record)`` after each whether to go on.

        Used by tuning jobs (early stopping, Hyperband), which must see each epoch's
        metrics at its virtual instant. Returns True when the gate stopped the job.
        """
        while trainer.done_units < trainer.total_units:
            if self.clock.seconds - t0 + per_unit > budget:
                yield self.clock.env.timeout(max(0.0, budget - (self.clock.seconds - t0)))
                return False
            yield self.clock.env.timeout(per_unit)
            start = trainer.done_units
            self._train_units(job, trainer, start + 1, self.clock.seconds - per_unit, per_unit)
            record = job.unit_records[-1] if job.unit_records else None
            if trainer.done_units == start:  # the algorithm stopped early by itself
                return False
            if record is not None and not job.unit_gate(job, record):
                self.world.event(job.arn, "status", f"Stopped early at {trainer.unit_name} {trainer.done_units}")
                return True
        return False

    def _interrupted_end(self, job, runner, trainer, spec, kind: str):
        """Stop or MaxWait reached outside the training wait."""
        attempt = job.attempts[-1] if job.attempts else None
        if attempt is not None and attempt.acquired_at is not None and attempt.ended_at is None:
            attempt.ended_at = self.clock.seconds
        if kind == "maxwait":
            self._transition(job, "Stopping", "Stopping the training job.", "Stopping")
            self._finish(job, "Stopped", "MaxWaitTimeExceeded",
                         "Training job exceeded MaxWaitTimeInSeconds provided")
            return
        if trainer is not None and trainer.done_units > 0:
            try:
                yield from self._upload(job, runner, trainer, spec)
            except simpy.Interrupt:
                pass
        self._finish(job, "Stopped", "Stopped", "Training job stopped")

    def _runner(self, image: images.Image, job: TrainingJob):
        if image.kind == "builtin":
            return BUILTINS[image.algorithm]
        from engine.services.sagemaker import containers  # script mode / BYOC

        return containers.runner_for(image, self.world, job.request)

    # -- data ---------------------------------------------------------------------
    @dataclass
    class _Data:
        channels: dict[str, ChannelData]
        shards: list[ChannelData] | None
        sharded: bool
        real_bytes: int
        nominal_bytes: float
        scale: float

    def _download(self, job: TrainingJob) -> _Data:
        s3 = self._s3()
        principal = self._iam().session_arn(job.request["RoleArn"])
        channels: dict[str, ChannelData] = {}
        shards = None
        sharded = False
        total = 0
        scale = 1.0
        count = job.instance_count
        vpc = job.request.get("VpcConfig")
        try:
            net = access.reach_s3(self.world, job.arn, vpc, "input data")
        except access.NoRoute:
            raise _Failed("ClientError: Data download failed:" + access.NO_S3_ROUTE) from None
        for ch in job.request.get("InputDataConfig", []):
            src = ch["DataSource"]["S3DataSource"]
            uri = src["S3Uri"]
            bucket, prefix = parse_uri(uri)
            objects = []
            try:
                listed = inputs.list_objects(s3, uri, src["S3DataType"], job.request["RoleArn"], self.world.region,
                                             principal, net, job.arn)
            except inputs.InputError as e:
                raise _Failed(f"ClientError: {e}") from None
            get_object = s3.authorizer(principal, "s3:GetObject", context=net, on_behalf_of=job.arn)
            for obj_bucket, key, _ in listed:
                d = get_object(obj_bucket, key)
                if not d.allowed:
                    raise _Failed("ClientError: " + inputs.denied(principal, "s3:GetObject",
                                                                  f"arn:aws:s3:::{obj_bucket}/{key}", d))
                try:
                    obj = s3.get(obj_bucket, key)
                except ServiceError:
                    raise _Failed(f"ClientError: Data download failed: s3://{obj_bucket}/{key} does not exist") from None
                use = s3.kms_for_get(principal, obj, on_behalf_of=job.arn)
                if use is not None and not use.allowed:
                    raise _Failed(f"ClientError: Data download failed: {use.code}: {use.message}")
                objects.append((key, obj.data))
            if ch["ChannelName"] == "model":  # incremental training: an earlier model.tar.gz, verified
                objects = [(key, self._model_payload(f"s3://{bucket}/{key}", body)) for key, body in objects]
            data = ChannelData(ch["ChannelName"], ch.get("ContentType"), objects)
            channels[ch["ChannelName"]] = data
            size = sum(len(b) for _, b in objects)
            total += size
            if ch["ChannelName"] == "train":
                nominal = self.world.nominal_for(uri)
                if nominal:
                    real = sum(b.count(b"\n") for _, b in objects) or len(objects)
                    scale = max(1.0, nominal / max(1, real))
                if count > 1:
                    if src.get("S3DataDistributionType", "FullyReplicated") == "ShardedByS3Key":
                        sharded = True
                        shards = [ChannelData("train", data.content_type, objects[i::count]) for i in range(count)]
                        if len(objects) < count:
                            self._log(job, f"Warning: {len(objects)} S3 objects for {count} instances: some "
                                           "instances get no data (ShardedByS3Key)")
                    else:
                        shards = [data for _ in range(count)]
        access.carry_s3(self.world, job.arn, vpc, "input data", int(total * scale))
        return self._Data(channels, shards, sharded, total, total * scale, scale)

    @staticmethod
    def _model_payload(uri: str, body: bytes) -> bytes:
        try:
            _, payload, _ = artifacts.unpack(body, uri)
        except artifacts.ArtifactError as e:
            raise _Failed(f"ClientError: The model channel must hold a model.tar.gz this engine trained: {e}") from None
        return payload

    # -- training, checkpoints, artifacts ----------------------------------------------
    def _new_trainer(self, job: TrainingJob, runner, data) -> Trainer:
        hp = runner.parse_hyperparameters(dict(job.request.get("HyperParameters", {})))
        seed = (self.world.seed * 1_000_003 + sum(job.name.encode())) % (2**31)
        return runner.trainer(hp, data.channels, data.shards, seed, job.instance_count)

    def _train_units(self, job: TrainingJob, trainer: Trainer, until: int, t0: float, per_unit: float) -> None:
        """Really train up to ``until`` units; log and record each unit at its virtual instant."""
        first = trainer.done_units
        if until > first:
            self._record(job, trainer.unit_name, trainer.fit_until(until), first, t0, per_unit)

    def _record(self, job: TrainingJob, unit_name: str, records: list, first: int, t0: float, per_unit: float) -> None:
        """Log each unit's metrics and put them on CloudWatch at the instant the unit ended.

        Algorithm metrics carry the dimension ``TrainingJobName`` (``Host``, ``<job>/algo-1``, is for
        instance metrics such as CPUUtilization): the SageMaker Python SDK's TrainingJobAnalytics and
        AWS's own example notebooks read them by the job's name.
        """
        job.unit_records.extend(records)
        cw = self._cw()
        dims = {"TrainingJobName": job.name}
        series: dict[str, Any] = {}
        lines: list[tuple[datetime, str]] = []
        for rec in records:
            at = t0 + (rec.unit - first) * per_unit
            if rec.metrics:
                when = self.clock.at(at)
                parts = " ".join(f"{k}={v:.6g}" for k, v in rec.metrics.items())
                lines.append((when, _line(when, f"#metrics {unit_name}={rec.unit} {parts}")))
                ts = when.timestamp()
                for k, v in rec.metrics.items():
                    sr = series.get(k)
                    if sr is None:
                        sr = series[k] = cw.series_for(METRIC_NAMESPACE, k, dims)
                    sr.points.append((ts, float(v)))
            job.units_done = rec.unit
        self._logs().write_many(LOG_GROUP, self._stream(job), lines)

    def _checkpoint_prefix(self, job: TrainingJob) -> tuple[str, str]:
        bucket, prefix = parse_uri(job.request["CheckpointConfig"]["S3Uri"])
        return bucket, prefix.rstrip("/") + "/" if prefix else ""

    def _checkpoint(self, job: TrainingJob, runner, trainer: Trainer) -> None:
        """Write the algorithm's state to CheckpointConfig.S3Uri (what SageMaker syncs from /opt/ml/checkpoints)."""
        if not job.request.get("CheckpointConfig") or not runner.capabilities.checkpointing or trainer.done_units == 0:
            return
        bucket, prefix = self._checkpoint_prefix(job)
        s3 = self._s3()
        if bucket not in s3.buckets:
            return
        principal = self._iam().session_arn(job.request["RoleArn"])
        key = f"{prefix}{runner.name}-checkpoint.{trainer.done_units:06d}"
        try:
            access.reach_s3(self.world, job.arn, job.request.get("VpcConfig"), "checkpoint")
        except access.NoRoute as e:
            self._log(job, f"Could not upload checkpoint to s3://{bucket}/{key}: {e}")
            return
        if not s3.authorize(principal, "s3:PutObject", bucket, key, on_behalf_of=job.arn).allowed:
            self._log(job, f"Could not upload checkpoint to s3://{bucket}/{key}: AccessDenied")
            return
        data = artifacts.pack("checkpoint", runner.name, trainer.state(), {"unit": trainer.done_units,
                                                                           "job": job.name})
        s3.put_bytes(bucket, key, data, "application/x-tar")
        self.world.event(job.arn, "checkpoint", f"Checkpoint written at {trainer.unit_name} {trainer.done_units}: "
                                                f"s3://{bucket}/{key}")

    def _restore_checkpoint(self, job: TrainingJob, runner, trainer: Trainer, run: _Run) -> int | None:
        bucket, prefix = self._checkpoint_prefix(job)
        s3 = self._s3()
        if bucket not in s3.buckets:
            return None
        stem = f"{prefix}{runner.name}-checkpoint."
        keys = [k for k in s3.list_keys(bucket, stem)]
        if not keys:
            return None
        key = keys[-1]
        try:
            manifest, payload, _ = artifacts.unpack(s3.get(bucket, key).data, f"checkpoint s3://{bucket}/{key}")
        except artifacts.ArtifactError as e:
            self._log(job, f"Ignoring checkpoint: {e}")
            return None
        trainer.restore(payload)
        run.start_state = payload
        job.resumed_from = trainer.done_units
        return trainer.done_units

    def _upload(self, job: TrainingJob, runner, trainer: Trainer, spec):
        self._transition(job, "Uploading", "Uploading generated training model")
        out = job.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, prefix = parse_uri(out + "/")
        key = f"{prefix}{job.name}/output/model.tar.gz"
        s3 = self._s3()
        principal = self._iam().session_arn(job.request["RoleArn"])
        model = trainer.model()
        payload = model.to_bytes()
        extra = {"job": job.name, "units": trainer.done_units, "hyperparameters": job.request.get("HyperParameters", {})}
        data = artifacts.pack("model", runner.name, payload, extra)
        yield self.clock.env.timeout(timing.upload_seconds(len(data), spec))
        if bucket not in s3.buckets:
            raise _Failed(f"ClientError: Failed to upload model artifacts to s3://{bucket}/{key}: The specified "
                          "bucket does not exist")
        try:
            net = access.reach_s3(self.world, job.arn, job.request.get("VpcConfig"), "model artifact")
            access.carry_s3(self.world, job.arn, job.request.get("VpcConfig"), "model artifact", len(data))
        except access.NoRoute:
            raise _Failed("ClientError: Failed to upload model artifacts: " + access.NO_S3_ROUTE) from None
        out_key = job.request["OutputDataConfig"].get("KmsKeyId")
        use = s3.kms_for_put(principal, bucket, "aws:kms", out_key, on_behalf_of=job.arn)
        if use is not None and not use.allowed:
            raise _Failed(f"ClientError: Failed to upload model artifacts: {use.code}: {use.message}")
        key_arn = use.key_arn if use is not None else None
        d = s3.authorize(principal, "s3:PutObject", bucket, key,
                         context={**net, **access.s3_context("aws:kms", key_arn)}, on_behalf_of=job.arn)
        if not d.allowed:
            raise _Failed(f"ClientError: Failed to upload model artifacts: AccessDenied (403): User: {principal} is "
                          f"not authorized to perform: s3:PutObject on resource: arn:aws:s3:::{bucket}/{key} "
                          f"{d.explain('s3:PutObject')}")
        s3.put_bytes(bucket, key, data, "application/x-tar", sse="aws:kms", kms_key_id=key_arn)
        job.model_uri = f"s3://{bucket}/{key}"
        job.final_metrics = dict(trainer.final_metrics())
        job.metric_time = self.clock.seconds
        for k, v in job.final_metrics.items():
            self._log(job, f"#quality_metric: host=algo-1, {k} <score>={v:.6g}")

    # -- endings and billing ------------------------------------------------------------
    def _finish(self, job: TrainingJob, status: str, secondary: str, message: str) -> None:
        now = self.clock.seconds
        self._transition(job, secondary, message, status)
        job.transitions[-1]["EndTime"] = now
        job.end = now
        self._bill(job)

    def _fail(self, job: TrainingJob, reason: str) -> None:
        attempt = job.attempts[-1] if job.attempts else None
        if attempt is not None and attempt.acquired_at is not None and attempt.ended_at is None:
            attempt.ended_at = self.clock.seconds
        job.failure = reason[:1024]
        self._log(job, reason)
        self._finish(job, "Failed", "Failed", reason[:1024])

    def _bill(self, job: TrainingJob) -> None:
        running = sum(a.running_seconds for a in job.attempts)
        if running <= 0:
            return  # never got instances: nothing to bill
        if job.spot:
            billable = max(1, int(round(running * (1 - job.discount))))
            model = "spot"
        else:
            billable = max(1, int(round(job.end - job.start))) if job.start is not None else 0
            model = "on-demand"
        job.billable = billable
        price = hourly_price("training", job.instance_type)
        count = job.instance_count
        if job.spot:
            desc = (f"Spot: {running:.0f} s on instances billed as {billable} s ({job.discount:.0%} Spot discount)"
                    f" x {count} instance(s) at the on-demand rate")
        else:
            desc = f"{billable} s x {count} instance(s) at the on-demand rate"
        self.world.ledger.add(line(job.arn, "sagemaker", "training-instance-seconds", billable * count,
                                   "instance-second", per_second(price.usd), model, instance_type=job.instance_type,
                                   instance_count=count, start=job.start, end=job.end, description=desc))
        self.world.event(job.arn, "billing", desc)
