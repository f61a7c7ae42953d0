"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs, StopTransformJob.

A job is one SimPy process (``_life``) plus one per instance (``_instance``). It walks
InProgress -> Completed | Failed, or Stopping -> Stopped, in virtual time, while the model really
predicts every record through the very code an endpoint answers with
(``hosting.models[name].serving.predict``), so a ``.out`` object holds the bytes InvokeEndpoint
would return for the same rows. The time model and the bill are documented in
docs/batch-transform.md:

* Starting: ``timing.provision_seconds`` (60-120 s CPU, 90-180 s GPU) + 10 s preparing the
  instances; then the container image (``timing.image_seconds``) and the model artifact at the
  instance's bandwidth.
* Per object, on the instance it is assigned to (objects are dealt round-robin: one object never
  spreads over several instances): the input and output bytes at the instance's bandwidth, plus for
  every request what ``timing.model_latency_ms`` charges an endpoint for that payload and
  ``AGENT_MS`` for the batch agent's round trip, plus ``RECORD_MS`` per record, spread over
  MaxConcurrentTransforms workers (at most one per vCPU). A nominal size declared for the input
  prefix scales bytes, records and requests by nominal rows / real records.
* The instances bill from the start of provisioning to the end of the job (TransformStartTime to
  TransformEndTime), per instance-second at the transform price: a meter, closed when the job ends.

Real work is vectorised: a MultiRecord request is one predict call on up to MaxPayloadInMB of
records; SingleRecord is *simulated* as one request per record (its time counts every request) but
predicted in payload-sized batches whenever the response can be split back into one line per
record, which gives the same bytes as one call per record.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import zlib
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import simpy

from engine import timing
from engine.algorithms.readers import media_type
from engine.errors import ServiceError, resource_in_use, validation
from engine.pricing import hourly_price, instance_spec
from engine.services.s3 import parse_uri
from engine.services.sagemaker import access, inputs, listing
from engine.services.sagemaker.jsonpath import JsonPath, JsonPathError, parse

LOG_GROUP = "/aws/sagemaker/TransformJobs"
MB = 1024 * 1024
MAX_PAYLOAD_MB = 100  # MaxPayloadInMB and MaxConcurrentTransforms x MaxPayloadInMB
DEFAULT_PAYLOAD_MB = 6
PREPARE_SECONDS = 10.0  # "Preparing the instances", as for training
STOPPING_SECONDS = 10.0  # Stopping -> Stopped: the instances are shut down
AGENT_MS = timing.OVERHEAD_MS[0]  # the batch agent's round trip per request to the container
#: A container's work per record (parse the text, predict, format the answer) at cpu_speed 1.0:
#: 20,000 records per second per worker, on top of timing.model_latency_ms's per-request and per-byte terms.
RECORD_MS = 0.05
#: Response types in which every record is one line (so a multi-record response splits back into records).
LINE_TYPES = frozenset({"text/csv", "application/jsonlines", "application/x-jsonlines", "text/libsvm"})
JSON_TYPES = frozenset({"application/json", "application/jsonlines", "application/x-jsonlines"})
PROCESSING_TYPES = frozenset({"text/csv"}) | JSON_TYPES
_COMPACT = (",", ":")
NL = b"\n"


class _Failed(Exception):
    """Ends a job as Failed with this FailureReason."""


class _ObjectFailed(Exception):
    """One input object could not be transformed (its output is not written)."""


@dataclass(frozen=True)
class Settings:
    """A request's effective settings, resolved once at Create."""

    content_type: str  # what each request carries (the endpoint's default: text/csv)
    accept: str
    split_line: bool
    strategy: str | None  # "MultiRecord" / "SingleRecord" with SplitType Line, else None
    payload_mb: int
    concurrency: int
    gzip: bool
    assemble_line: bool
    input_filter: JsonPath | None  # None: "$" (the whole record)
    output_filter: JsonPath | None
    join: bool

    @property
    def mime(self) -> str:
        return media_type(self.content_type)[0] or "text/csv"

    @property
    def payload_bytes(self) -> int:
        return self.payload_mb * MB

    @property
    def processing(self) -> bool:
        return self.join or self.input_filter is not None or self.output_filter is not None


@dataclass
class Outcome:
    """What transforming one object produced, and the work the time model charges for it."""

    output: bytes = b""
    content_type: str = "application/octet-stream"
    records: int = 0
    requests: int = 0
    request_bytes: int = 0  # summed over the requests


@dataclass
class TransformJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    settings: Settings
    model: Any  # hosting.Model, captured at Create
    status: str = "InProgress"
    last_modified: float = 0.0
    start: float | None = None
    end: float | None = None
    failure: str | None = None
    process: simpy.Process | None = None
    workers: list[simpy.Process] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    meter: int | None = None
    failures: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def instance_type(self) -> str:
        return self.request["TransformResources"]["InstanceType"]

    @property
    def instance_count(self) -> int:
        return self.request["TransformResources"]["InstanceCount"]

    @property
    def input_uri(self) -> str:
        return self.request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]


class Transform:
    """The batch-transform part of the SageMaker backend."""

    def __init__(self, world):
        self.world = world
        self.jobs: dict[str, TransformJob] = {}

    # -- helpers -------------------------------------------------------------------------
    @property
    def clock(self):
        return self.world.clock

    def _s3(self):
        return self.world.services["s3"]

    def _job(self, name: str) -> TransformJob:
        job = self.jobs.get(name)
        if job is None:
            raise validation(f"Could not find requested job with name {name}")
        return job

    def _status(self, job: TransformJob, status: str, message: str) -> None:
        job.status = status
        job.last_modified = self.clock.seconds
        self.world.event(job.arn, "status", message, status)

    def _log(self, job: TransformJob, message: str, instance: int = 0) -> None:
        ts = self.clock.now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        self.world.services["logs"].write(LOG_GROUP, f"{job.name}/{job.instances[instance]}", f"{ts} {message}")

    def _principal(self, job: TransformJob) -> str | None:
        role = job.model.request.get("ExecutionRoleArn")
        return self.world.services["iam"].session_arn(role) if role else None

    # -- validation at Create ------------------------------------------------------------------
    def _settings(self, req: dict) -> Settings:
        ti, to = req["TransformInput"], req["TransformOutput"]
        src = ti["DataSource"]["S3DataSource"]
        if src["S3DataType"] not in ("S3Prefix", "ManifestFile"):
            raise validation(f"S3DataType {src['S3DataType']} is not supported for this transform job: use S3Prefix "
                             "or ManifestFile.")
        split = ti.get("SplitType", "None")
        if split in ("RecordIO", "TFRecord"):
            raise validation(f"SplitType {split} is not simulated by SageTutor: the built-in algorithms here read "
                             "text records; use SplitType Line or None.")
        strategy = req.get("BatchStrategy")
        if strategy and split == "None":
            raise validation(f"BatchStrategy {strategy} requires SplitType Line, RecordIO or TFRecord: with SplitType "
                             "None every S3 object is sent to the model as one request.")
        payload = req.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)
        if payload > MAX_PAYLOAD_MB:
            raise validation(f"1 validation error detected: Value '{payload}' at 'maxPayloadInMB' failed to satisfy "
                             f"constraint: Member must have value less than or equal to {MAX_PAYLOAD_MB}")
        if payload == 0:
            raise validation("MaxPayloadInMB 0 asks for chunked transfer encoding, which the built-in algorithms do "
                             "not support: use a value from 1 to 100.")
        concurrency = req.get("MaxConcurrentTransforms") or 0
        if concurrency and concurrency * payload > MAX_PAYLOAD_MB:
            raise validation(f"MaxConcurrentTransforms x MaxPayloadInMB must be less than or equal to "
                             f"{MAX_PAYLOAD_MB} MB; got {concurrency} x {payload} = {concurrency * payload} MB.")
        spec = instance_spec(req["TransformResources"]["InstanceType"])
        if not concurrency:  # the container's /execution-parameters: one worker per vCPU for the built-ins
            concurrency = max(1, min(spec.vcpus, MAX_PAYLOAD_MB // payload))
        content_type = ti.get("ContentType") or "text/csv"
        accept = to.get("Accept") or (content_type if content_type in ("text/csv", "application/json")
                                      else "text/csv")  # what InvokeEndpoint assumes without an Accept
        dp = req.get("DataProcessing") or {}
        filters = {}
        for key in ("InputFilter", "OutputFilter"):
            expr = dp.get(key, "$")
            try:
                path = parse(expr)
            except JsonPathError as e:
                raise validation(f"{key}: {e}") from None
            filters[key] = None if path.identity else path
        join = dp.get("JoinSource", "None") == "Input"
        mime = media_type(content_type)[0]
        if (join or filters["InputFilter"] or filters["OutputFilter"]) and mime not in PROCESSING_TYPES:
            raise validation(f"DataProcessing supports input in text/csv, application/json or application/jsonlines "
                             f"only; TransformInput.ContentType is {content_type}.")
        if mime == "text/csv":
            for key, path in filters.items():
                if path is not None:
                    try:
                        path.check_csv(key)
                    except JsonPathError as e:
                        raise validation(str(e)) from None
        return Settings(content_type, accept, split == "Line", (strategy or "MultiRecord") if split == "Line" else None,
                        payload, concurrency, ti.get("CompressionType", "None") == "Gzip",
                        to.get("AssembleWith", "None") == "Line", filters["InputFilter"], filters["OutputFilter"], join)

    def _model(self, name: str):
        model = self.world.services["sagemaker"].hosting.models.get(name)
        if model is None:
            raise validation(f"Could not find model \"{self.world.arn('sagemaker', 'model/' + name.lower())}\".")
        if model.serving is None or model.serving.multi_model is not None:
            raise validation(f"Model {name} is a multi-model container: batch transform needs a model that serves "
                             "one artifact (Mode SingleModel).")
        return model

    def _objects(self, req: dict, role: str | None) -> list[tuple[str, str, str]]:
        """(bucket, key, name relative to the input prefix) of every input object; _Failed if none."""
        src = req["TransformInput"]["DataSource"]["S3DataSource"]
        try:
            return inputs.list_objects(self._s3(), src["S3Uri"], src["S3DataType"], role, self.world.region)
        except inputs.InputError as e:
            raise _Failed(str(e)) from None

    # -- API -----------------------------------------------------------------------------------
    def create_transform_job(self, req: dict, call) -> dict:
        name = req["TransformJobName"]
        arn = self.world.arn("sagemaker", f"transform-job/{name.lower()}")
        if name in self.jobs:
            raise resource_in_use(f"Job name must be unique within an AWS account and region, and a job with this "
                                  f"name already exists ({arn})")
        model = self._model(req["ModelName"])
        try:
            hourly_price("transform", req["TransformResources"]["InstanceType"])
        except (KeyError, ValueError, LookupError):
            raise validation(f"Instance type {req['TransformResources']['InstanceType']} is not available for "
                             "batch transform.") from None
        access.check_volume_key(req["TransformResources"]["InstanceType"],
                                req["TransformResources"].get("VolumeKmsKeyId"))
        settings = self._settings(req)
        try:
            self._objects(req, model.request.get("ExecutionRoleArn"))
        except _Failed as e:
            raise validation(str(e)) from None
        job = TransformJob(name, arn, req, self.clock.seconds, settings, model, last_modified=self.clock.seconds)
        count = job.instance_count
        job.instances = ["i-" + hashlib.sha256(f"{self.world.seed}:{name}:{n}".encode()).hexdigest()[:17]
                         for n in range(count)]
        self.jobs[name] = job
        self._status(job, "InProgress", "Transform job created: launching instances")
        # Provisioning starts now, and so does the bill (TransformStartTime to TransformEndTime).
        job.start = self.clock.seconds
        price = hourly_price("transform", job.instance_type)
        job.meter = self.world.ledger.start_meter(
            arn, "sagemaker", "transform-instance-seconds", price.usd, "on-demand", job.instance_type, count,
            f"{count} x {job.instance_type} from the start of provisioning to the end of the job")
        job.process = self.clock.start(self._life(job))
        return {"TransformJobArn": arn}

    def describe_transform_job(self, req: dict, call) -> dict:
        return self.describe(self._job(req["TransformJobName"]))

    def describe(self, job: TransformJob) -> dict:
        at = self.clock.at
        r, s = job.request, job.settings
        ti = {"CompressionType": "None", "SplitType": "None", **r["TransformInput"]}
        out: dict[str, Any] = {
            "TransformJobName": job.name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": job.status,
            "ModelName": r["ModelName"],
            "MaxConcurrentTransforms": s.concurrency,
            "MaxPayloadInMB": s.payload_mb,
            "TransformInput": ti,
            "TransformOutput": dict(r["TransformOutput"]),
            "TransformResources": dict(r["TransformResources"]),
            "CreationTime": at(job.created),
        }
        if s.strategy:
            out["BatchStrategy"] = s.strategy
        for key in ("Environment", "ModelClientConfig", "DataCaptureConfig", "ExperimentConfig"):
            if key in r:
                out[key] = r[key]
        if "DataProcessing" in r:
            out["DataProcessing"] = {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None",
                                     **r["DataProcessing"]}
        if job.start is not None:
            out["TransformStartTime"] = at(job.start)
        if job.end is not None:
            out["TransformEndTime"] = at(job.end)
        if job.failure:
            out["FailureReason"] = job.failure
        return out

    def list_transform_jobs(self, req: dict, call) -> dict:
        jobs = listing.select(list(self.jobs.values()), req, self.clock)
        page, more = listing.page(jobs, req)
        summaries = []
        for j in page:
            s = {"TransformJobName": j.name, "TransformJobArn": j.arn, "CreationTime": self.clock.at(j.created),
                 "LastModifiedTime": self.clock.at(j.last_modified), "TransformJobStatus": j.status}
            if j.end is not None:
                s["TransformEndTime"] = self.clock.at(j.end)
            if j.failure:
                s["FailureReason"] = j.failure
            summaries.append(s)
        return {"TransformJobSummaries": summaries, **more}

    def stop_transform_job(self, req: dict, call) -> dict:
        job = self._job(req["TransformJobName"])
        if job.status != "InProgress":
            raise validation(f"The request was rejected because the transform job is in status {job.status}.")
        self._status(job, "Stopping", "Stopping the transform job")
        if job.process is not None and job.process.is_alive:
            job.process.interrupt("stop")
        return {}

    # -- the job's life ------------------------------------------------------------------------------
    def _life(self, job: TransformJob):
        env = self.clock.env
        spec = instance_spec(job.instance_type)
        count = job.instance_count
        try:
            for n in range(count):
                self._log(job, f"Launching {job.instance_type} instance {n + 1} of {count}", n)
            u = self.world.spot.draw(job.instance_type, job.name, 1, "transform")
            yield env.timeout(timing.provision_seconds(spec, u) + PREPARE_SECONDS)
            model_bytes = self._model_bytes(job)
            for n in range(count):
                self._log(job, f"Downloading the container image and the model ({model_bytes:,} bytes)", n)
            yield env.timeout(timing.image_seconds(spec) + math.ceil(model_bytes / timing.bandwidth_bytes(spec)))
            self._secure_start(job, model_bytes)
            try:
                objects = self._objects(job.request, job.model.request.get("ExecutionRoleArn"))
            except _Failed as e:
                raise _Failed(f"ClientError: {e}") from None
            scale = self._scale(job, objects)
            s = job.settings
            for n in range(count):
                self._log(job, f"Inference server started: MaxConcurrentTransforms={s.concurrency}, "
                               f"MaxPayloadInMB={s.payload_mb}, BatchStrategy={s.strategy or 'None (whole object)'}"
                               f"; {len(objects[n::count])} of {len(objects)} input object(s) on this instance", n)
            job.workers = [env.process(self._instance(job, n, objects[n::count], scale, spec)) for n in range(count)]
            yield env.all_of(job.workers)
            if job.failures:
                more = f" ({len(job.failures)} objects failed)" if len(job.failures) > 1 else ""
                raise _Failed(job.failures[0] + more)
            self._finish(job, "Completed", f"Transform job completed: {job.records:,} records in "
                                           f"{len(job.outputs)} object(s)")
        except simpy.Interrupt:
            for w in job.workers:
                if w.is_alive:
                    w.interrupt("stop")
            yield env.timeout(STOPPING_SECONDS)
            self._finish(job, "Stopped", "Transform job stopped")
        except _Failed as failure:
            job.failure = str(failure)[:1024]
            if job.instances:
                self._log(job, f"ERROR {failure}")
            self._finish(job, "Failed", job.failure)

    def _secure_start(self, job: TransformJob, model_bytes: int) -> None:
        """The model's VpcConfig decides the path to S3; the volume and output keys must be usable by its role."""
        vpc = job.model.request.get("VpcConfig")
        try:
            access.carry_s3(self.world, job.arn, vpc, "model artifact", model_bytes)
        except access.NoRoute:
            raise _Failed("ClientError: Data download failed:" + access.NO_S3_ROUTE) from None
        role = job.model.request.get("ExecutionRoleArn")
        volume_key = job.request["TransformResources"].get("VolumeKmsKeyId")
        if volume_key and role:
            use = access.use_key(self.world, role, volume_key, "kms:CreateGrant", job.arn)
            if not use.allowed:
                raise _Failed(f"ClientError: Could not use the volume KMS key {volume_key}: {use.code}: "
                              f"{use.message}")
        access.record_volume(self.world, job.arn, "ml-volume", volume_key)

    def _finish(self, job: TransformJob, status: str, message: str) -> None:
        job.end = self.clock.seconds
        if job.meter is not None:
            item = self.world.ledger.stop_meter(job.meter)
            job.meter = None
            if item is not None:
                self.world.event(job.arn, "billing", f"{item.quantity} instance-seconds ({job.instance_count} x "
                                                     f"{job.instance_type}) = ${item.amount}")
        self._status(job, status, message)

    def _model_bytes(self, job: TransformJob) -> int:
        total = 0
        for c in job.model.containers:
            try:
                b, k = parse_uri(c.get("ModelDataUrl", ""))
                total += len(self._s3().get(b, k).data)
            except (ValueError, ServiceError):
                pass
        return total

    def _scale(self, job: TransformJob, objects) -> float:
        nominal = self.world.nominal_for(job.input_uri)
        if not nominal:
            return 1.0
        s3 = self._s3()
        real = 0
        for b, k, _ in objects:
            try:
                data = s3.get(b, k).data
            except ServiceError:
                continue
            if job.settings.gzip:
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError, zlib.error):
                    continue
            real += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        return max(1.0, nominal / max(1, real))

    def _instance(self, job: TransformJob, n: int, objects, scale: float, spec):
        """One instance works through its share of the objects, one after the other."""
        env = self.clock.env
        s = job.settings
        bandwidth = timing.bandwidth_bytes(spec)
        containers = max(1, len(job.model.serving.predictors))
        try:
            for bucket, key, rel in objects:
                where = f"s3://{bucket}/{key}"
                raw = b""
                try:
                    raw = self._read(job, bucket, key)
                    outcome = self._transform(job, raw, where)
                    error = None
                except _ObjectFailed as e:
                    outcome, error = None, str(e)
                # Time: the bytes moved plus every request, spread over the concurrent transforms.
                moved = len(raw) + (len(outcome.output) if outcome else 0)
                seconds = moved * scale / bandwidth
                if outcome is not None and outcome.requests:
                    seconds += compute_seconds(outcome, s, containers, spec, scale)
                yield env.timeout(max(0.001, seconds))
                if error is not None:
                    job.failures.append(error)
                    self._log(job, f"ERROR {error}", n)
                    continue
                try:
                    out_uri = self._write(job, rel, outcome)
                except _ObjectFailed as e:
                    job.failures.append(str(e))
                    self._log(job, f"ERROR {e}", n)
                    continue
                job.records += outcome.records
                job.outputs.append(out_uri)
                nominal = ""
                if scale > 1:
                    nominal = (f" (nominal size: {round(outcome.records * scale):,} records in "
                               f"{round(nominal_requests(outcome, s, scale)):,} requests)")
                self._log(job, f"{where}: {outcome.records:,} record(s) in {outcome.requests:,} request(s){nominal}"
                               f" -> {out_uri}", n)
        except simpy.Interrupt:
            return

    def _read(self, job: TransformJob, bucket: str, key: str) -> bytes:
        s3 = self._s3()
        principal = self._principal(job)
        vpc = job.model.request.get("VpcConfig")
        try:
            net = access.reach_s3(self.world, job.arn, vpc, "input data")
        except access.NoRoute:
            raise _ObjectFailed("ClientError: Data download failed:" + access.NO_S3_ROUTE) from None
        if principal:
            d = s3.authorize(principal, "s3:GetObject", bucket, key, context=net, on_behalf_of=job.arn)
            if not d.allowed:
                raise _ObjectFailed(f"ClientError: AccessDenied (403): User: {principal} is not authorized to perform: "
                                    f"s3:GetObject on resource: arn:aws:s3:::{bucket}/{key} {d.explain('s3:GetObject')}")
        try:
            obj = s3.get(bucket, key)
        except ServiceError:
            raise _ObjectFailed(f"ClientError: Object s3://{bucket}/{key} does not exist") from None
        if principal:
            use = s3.kms_for_get(principal, obj, on_behalf_of=job.arn)
            if use is not None and not use.allowed:
                raise _ObjectFailed(f"ClientError: Failed to download s3://{bucket}/{key}: {use.code}: {use.message}")
        data = obj.data
        access.carry_s3(self.world, job.arn, vpc, "input data", len(data))
        if job.settings.gzip:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                raise _ObjectFailed(f"ClientError: Object s3://{bucket}/{key} is not gzip data, but CompressionType "
                                    "is Gzip") from None
        return data

    def _write(self, job: TransformJob, rel: str, outcome: Outcome) -> str:
        s3 = self._s3()
        out = job.request["TransformOutput"]["S3OutputPath"]
        bucket, prefix = parse_uri(out)
        prefix = prefix.rstrip("/")
        key = f"{prefix}/{rel}.out" if prefix else f"{rel}.out"
        if bucket not in s3.buckets:
            raise _ObjectFailed(f"ClientError: Failed to upload s3://{bucket}/{key}: The specified bucket does not "
                                "exist")
        principal = self._principal(job)
        out_key = job.request["TransformOutput"].get("KmsKeyId")
        key_arn = None
        if principal:
            use = s3.kms_for_put(principal, bucket, "aws:kms" if out_key else None, out_key, on_behalf_of=job.arn)
            if use is not None and not use.allowed:
                raise _ObjectFailed(f"ClientError: Failed to upload s3://{bucket}/{key}: {use.code}: {use.message}")
            key_arn = use.key_arn if use is not None else None
        try:
            net = access.reach_s3(self.world, job.arn, job.model.request.get("VpcConfig"), "output")
            access.carry_s3(self.world, job.arn, job.model.request.get("VpcConfig"), "output", len(outcome.output))
        except access.NoRoute:
            raise _ObjectFailed(f"ClientError: Failed to upload s3://{bucket}/{key}: " + access.NO_S3_ROUTE) from None
        if principal:
            d = s3.authorize(principal, "s3:PutObject", bucket, key,
                             context={**net, **access.s3_context("aws:kms" if key_arn else None, key_arn)},
                             on_behalf_of=job.arn)
            if not d.allowed:
                raise _ObjectFailed(f"ClientError: Failed to upload s3://{bucket}/{key}: AccessDenied (403): User: "
                                    f"{principal} is not authorized to perform: s3:PutObject on resource: "
                                    f"arn:aws:s3:::{bucket}/{key} {d.explain('s3:PutObject')}")
        s3.put_bytes(bucket, key, outcome.output, outcome.content_type, sse="aws:kms" if key_arn else None,
                     kms_key_id=key_arn)
        return f"s3://{bucket}/{key}"

    # -- the real work -------------------------------------------------------------------------------
    def _predict(self, job: TransformJob, body: bytes) -> tuple[bytes, str]:
        s = job.settings
        return job.model.serving.predict(body, s.content_type, s.accept)

    def _model_error(self, where: str, detail: str, e: Exception) -> _ObjectFailed:
        return _ObjectFailed(f"ClientError: {where}: Bad HTTP status received from algorithm: 400 (ModelError) for "
                             f"{detail}. Message: {e}. See job logs for more information.")

    def _transform(self, job: TransformJob, data: bytes, where: str) -> Outcome:
        s = job.settings
        if s.processing:
            return self._transform_records(job, data, where)
        if not s.split_line:
            return self._whole(job, data, where)
        body = _lines_body(data)
        if not body:
            return Outcome(b"", s.accept)
        n = body.count(b"\n")
        chunks = self._chunks(body, where, s)
        outcome = Outcome(records=n)
        parts = []
        done = 0  # records before the current chunk
        if s.strategy == "SingleRecord":
            outcome.requests, outcome.request_bytes = n, len(body) - n
            for start, end in chunks:
                chunk = body[start:end]
                resp, rtype = self._predict_single_batch(job, chunk, where, done)
                done += chunk.count(NL)
                parts.append(resp)
                outcome.content_type = rtype
        else:
            for i, (start, end) in enumerate(chunks):
                chunk = body[start:end]
                count = chunk.count(NL)
                try:
                    resp, rtype = self._predict(job, chunk)
                except ValueError as e:
                    raise self._model_error(where, f"request {i + 1} (records {done + 1}-{done + count})",
                                            e) from None
                done += count
                if s.assemble_line and not resp.endswith(b"\n"):
                    resp += b"\n"
                parts.append(resp)
                outcome.content_type = rtype
                outcome.requests += 1
                outcome.request_bytes += len(chunk)
        outcome.output = b"".join(parts)
        return outcome

    def _whole(self, job: TransformJob, data: bytes, where: str) -> Outcome:
        """SplitType None: the whole object is one request."""
        s = job.settings
        if len(data) > s.payload_bytes:
            raise _ObjectFailed(f"ClientError: {where}: Too much data for max payload size: the object is "
                                f"{len(data):,} bytes and MaxPayloadInMB is {s.payload_mb} (SplitType None sends the "
                                "whole object as one request; use SplitType Line to split it into records).")
        try:
            resp, rtype = self._predict(job, data)
        except ValueError as e:
            raise self._model_error(where, "the object (one request)", e) from None
        if s.assemble_line and not resp.endswith(b"\n"):
            resp += b"\n"
        records = max(1, data.count(b"\n") + (0 if data.endswith(b"\n") else 1))
        return Outcome(resp, rtype, records, 1, len(data))

    def _chunks(self, body: bytes, where: str, s: Settings) -> list[tuple[int, int]]:
        """(start, end) of each request: as many whole lines as fit in MaxPayloadInMB."""
        limit = s.payload_bytes
        spans = []
        pos, size = 0, len(body)
        while pos < size:
            if pos + limit >= size:
                spans.append((pos, size))
                break
            cut = body.rfind(NL, pos, pos + limit)
            if cut < 0:
                record = body.count(NL, 0, pos) + 1
                length = body.index(NL, pos) - pos
                raise _ObjectFailed(f"ClientError: {where}: Too much data for max payload size: record {record} is "
                                    f"{length:,} bytes and MaxPayloadInMB is {s.payload_mb}.")
            spans.append((pos, cut + 1))
            pos = cut + 1
        return spans

    def _predict_single_batch(self, job: TransformJob, chunk: bytes, where: str, before: int) -> tuple[bytes, str]:
        """SingleRecord: the responses of one request per line of ``chunk``, concatenated.

        One predict call for the whole chunk when its response is one line per record (what
        concatenating the single-record responses gives); one call per record otherwise.
        """
        records = chunk.split(NL)[:-1]
        try:
            resp, rtype = self._predict(job, chunk)
        except ValueError:
            i, e = self._first_failure(job, records)
            raise self._model_error(where, f"record {before + i + 1}", e) from None
        if media_type(rtype)[0] in LINE_TYPES and resp.endswith(NL) and resp.count(NL) == len(records):
            return resp, rtype
        parts = []
        for i, record in enumerate(records):
            try:
                r, rtype = self._predict(job, record)
            except ValueError as e:
                raise self._model_error(where, f"record {before + i + 1}", e) from None
            if job.settings.assemble_line and not r.endswith(NL):
                r += NL
            parts.append(r)
        return b"".join(parts), rtype

    def _first_failure(self, job: TransformJob, records: list[bytes]) -> tuple[int, ValueError]:
        """The first record the model rejects on its own, and its error (a bisection: log2(n) calls)."""
        lo, hi = 0, len(records)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                self._predict(job, NL.join(records[lo:mid]) + NL)
                lo = mid  # the first half is fine: the failure is in the second
            except ValueError:
                hi = mid
        for i in range(lo, len(records)):  # the record itself (records are independent, so this is the one)
            try:
                self._predict(job, records[i])
            except ValueError as e:
                return i, e
        return lo, ValueError("the request failed, but no single record of it does")

    # -- DataProcessing: filters and joins, record by record ----------------------------------------
    def _transform_records(self, job: TransformJob, data: bytes, where: str) -> Outcome:
        s = job.settings
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _ObjectFailed(f"ClientError: {where}: DataProcessing needs UTF-8 text (CSV, JSON or JSON "
                                "Lines)") from None
        is_csv = s.mime == "text/csv"
        per_line = s.split_line or s.mime in LINE_TYPES
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        units = [u for u in (text.split("\n") if per_line else [text]) if u and not u.isspace()]
        if not units:
            return Outcome(b"", s.accept)
        quoted = is_csv and '"' in text
        # Parse each record and apply InputFilter: what the model is sent for it.
        records: list[Any] = []  # the input records, as JoinSource Input joins them
        sent: list[str] = units
        try:
            if is_csv:
                join_cells = _csv_join if quoted else ",".join
                rows = [_csv_cells(u, quoted) for u in units] if (s.join or s.input_filter) else []
                if s.join:
                    records = rows
                if s.input_filter is not None:
                    pick = _Columns(s.input_filter)
                    sent = [join_cells(pick(cells)) for cells in rows]
            else:
                for i, u in enumerate(units):
                    try:
                        records.append(json.loads(u))
                    except ValueError as e:
                        raise _ObjectFailed(f"ClientError: {where}: record {i + 1} is not valid JSON ({e})") from None
                if s.input_filter is not None:
                    sent = [json.dumps(s.input_filter.select(rec), separators=_COMPACT) for rec in records]
        except JsonPathError as e:
            raise _ObjectFailed(f"ClientError: {where}: InputFilter {e}") from None
        body = ("\n".join(sent) + "\n").encode("utf-8") if per_line else sent[0].encode("utf-8")
        # Requests, as without DataProcessing; their responses split back into one output per record.
        if not s.split_line:
            if len(body) > s.payload_bytes:
                raise _ObjectFailed(f"ClientError: {where}: Too much data for max payload size: {len(body):,} bytes "
                                    f"with MaxPayloadInMB {s.payload_mb}.")
            spans = [(0, len(body))]
        else:
            spans = self._chunks(body, where, s)
        outputs: list[Any] = []
        rtype = s.accept
        done = 0
        outcome = Outcome(records=len(units))
        for i, (start, end) in enumerate(spans):
            chunk = body[start:end]
            n = chunk.count(b"\n") if per_line else 1
            single = s.strategy == "SingleRecord"
            reqs = chunk.split(NL)[:n] if per_line else [chunk]
            try:
                resp, rtype = self._predict(job, chunk)
            except ValueError as e:
                if not single:
                    raise self._model_error(where, f"request {i + 1} (records {done + 1}-{done + n})", e) from None
                k, e = self._first_failure(job, reqs)
                raise self._model_error(where, f"record {done + k + 1}", e) from None
            outs = _split_outputs(resp, rtype, n)
            if outs is None and not single:
                raise _ObjectFailed(f"ClientError: {where}: the model's {rtype} response to request {i + 1} does not "
                                    f"split into its {n} records (one line per record), which JoinSource and "
                                    "OutputFilter need: use Accept text/csv or application/jsonlines.")
            if outs is None:  # SingleRecord: one request per record
                outs = []
                for j, record in enumerate(reqs):
                    try:
                        r, rtype = self._predict(job, record)
                    except ValueError as e:
                        raise self._model_error(where, f"record {done + j + 1}", e) from None
                    one = _split_outputs(r, rtype, 1)
                    outs.extend(one or [r.decode("utf-8", errors="replace")])
            outputs.extend(outs)
            done += n
            if single:
                outcome.requests += n
                outcome.request_bytes += len(chunk) - (n if per_line else 0)
            else:
                outcome.requests += 1
                outcome.request_bytes += len(chunk)
        # Join with the input, apply OutputFilter, one output line per record.
        rmime = media_type(rtype)[0]
        lines: list[str] = []
        try:
            if is_csv:
                csv_out = rmime == "text/csv"
                join_cells = ",".join if csv_out and not quoted else _csv_join
                pick = _Columns(s.output_filter) if s.output_filter is not None else None
                if s.join and pick is None and csv_out:  # the input row, then the output's columns
                    lines = [f"{u},{out}" for u, out in zip(units, outputs, strict=True)]
                else:
                    for k, out in enumerate(outputs):
                        row = _csv_cells(out, '"' in out) if csv_out else [out]
                        if s.join:
                            row = records[k] + row
                        lines.append(join_cells(pick(row) if pick is not None else row))
                content_type = "text/csv" if s.join or csv_out else rtype
            else:
                for rec, out in zip(records, outputs, strict=True):
                    value = _json_value(out, rmime)
                    if s.join:
                        joined = {**rec, "SageMakerOutput": value} if isinstance(rec, dict) else \
                            {"SageMakerInput": rec, "SageMakerOutput": value}
                    else:
                        joined = value
                    if s.output_filter is not None:
                        joined = s.output_filter.select(joined)
                    lines.append(json.dumps(joined, separators=_COMPACT))
                content_type = ("application/jsonlines" if per_line else "application/json") if s.join else rtype
        except JsonPathError as e:
            raise _ObjectFailed(f"ClientError: {where}: OutputFilter {e}") from None
        outcome.output = ("\n".join(lines) + "\n").encode("utf-8")
        outcome.content_type = content_type
        return outcome


def nominal_requests(outcome: Outcome, s: Settings, scale: float) -> float:
    """How many requests the object takes at its nominal size."""
    if s.strategy == "SingleRecord":
        return outcome.requests * scale
    if s.strategy == "MultiRecord":
        return max(float(outcome.requests), math.ceil(outcome.request_bytes * scale / s.payload_bytes))
    return float(outcome.requests)  # SplitType None: one request per object


def compute_seconds(outcome: Outcome, s: Settings, containers: int, spec, scale: float) -> float:
    """Simulated seconds one instance spends on an object's requests (docs/batch-transform.md).

    At the nominal size the object holds ``scale`` times the records and bytes; MultiRecord packs
    them into MaxPayloadInMB requests, SingleRecord sends one request per record, SplitType None
    one request for the object. Every request costs what ``timing.model_latency_ms`` charges an
    endpoint for a payload (a container's fixed cost plus its bytes) plus the agent's round trip;
    every record adds ``RECORD_MS`` per container. The requests run MaxConcurrentTransforms at a
    time, in parallel up to the instance's vCPUs (the built-ins run one worker per vCPU).
    """
    requests = nominal_requests(outcome, s, scale)
    speed = max(spec.cpu_speed, 0.1)
    ms = (requests * (AGENT_MS + timing.model_latency_ms(0, containers, spec))
          + containers * (outcome.request_bytes / timing.BYTES_PER_MS + outcome.records * RECORD_MS) * scale / speed)
    parallel = max(1.0, min(float(s.concurrency), float(spec.vcpus), requests))
    return ms / 1000.0 / parallel


def _lines_body(data: bytes) -> bytes:
    """The object's records, one per line, each ending in a newline (blank lines are not records)."""
    if not data.strip():
        return b""
    if b"\n\n" in data or data.startswith(b"\n") or b"\r" in data:
        data = b"\n".join(line for line in data.replace(b"\r\n", b"\n").split(b"\n") if line.strip())
    if not data.endswith(b"\n"):
        data += b"\n"
    return data


def _split_outputs(resp: bytes, rtype: str, n: int) -> list[str] | None:
    """One output per record of a response to ``n`` records, or None if it cannot be split so."""
    mime = media_type(rtype)[0]
    text = resp.decode("utf-8", errors="replace")
    if mime in LINE_TYPES:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines if len(lines) == n else None
    if n == 1:
        return [text]
    if mime == "application/json":
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        items = doc.get("predictions") if isinstance(doc, dict) else doc
        if isinstance(items, list) and len(items) == n:
            return [json.dumps(v, separators=_COMPACT) for v in items]
    return None


def _json_value(out: str, rmime: str) -> Any:
    """An output record as a JSON value (SageMakerOutput): parsed JSON, or the numbers of a CSV line."""
    if rmime in JSON_TYPES:
        try:
            return json.loads(out)
        except ValueError:
            return out
    cells = out.split(",")
    values = []
    for c in cells:
        try:
            values.append(json.loads(c))
        except ValueError:
            values.append(c)
    return values[0] if len(values) == 1 else values


def _csv_cells(line: str, quoted: bool) -> list[str]:
    if not quoted:
        return line.split(",")
    return next(csv.reader([line]), [])


def _csv_join(cells: list[str]) -> str:
    """One CSV row, quoting the cells that need it (RFC 4180)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


class _Columns:
    """An index-based JSONPath over CSV rows, compiled once per row width (a slice or an itemgetter)."""

    def __init__(self, path: JsonPath):
        self.path = path
        self.by_width: dict[int, Any] = {}

    def __call__(self, cells: list[str]) -> list[str]:
        pick = self.by_width.get(len(cells))
        if pick is None:
            pick = self.by_width[len(cells)] = self._compile(len(cells))
        return pick(cells)

    def _compile(self, width: int):
        cols, _ = self.path.columns(width)
        if not cols:
            return lambda cells: []
        if cols == tuple(range(cols[0], cols[-1] + 1)):
            part = slice(cols[0], cols[-1] + 1)
            return lambda cells: cells[part]
        get = itemgetter(*cols)
        return lambda cells: list(get(cells))
