"""Model Monitor (data quality): data capture, baselining processing jobs, job definitions, schedules.

* **Data capture** (``capture.py``): an endpoint config's ``DataCaptureConfig``
  makes the endpoint write its requests and responses to S3 as JSON lines.
* **Processing jobs** with the Model Monitor analyzer image
  (``MODEL_MONITOR_IMAGE``) suggest a baseline: they really read the dataset
  and write ``statistics.json`` and ``constraints.json`` in AWS's schemas
  (``monitor_stats.py``). A job walks InProgress -> Completed | Failed | Stopped
  in virtual time (launch, image, download, a Spark start-up and the analysis,
  upload) and bills its instance seconds like a training job.
* **Data quality job definitions and monitoring schedules**: at each scheduled
  top of the hour (``cron(0 * ? * * *)``) an execution analyses the previous
  period's captured records against the baseline, in a processing job of its
  own, and writes ``statistics.json`` and ``constraint_violations.json`` under
  ``<S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh/``. Schedule timers are plain
  SimPy processes, so ``run_until_idle`` returns while a schedule stands; only
  an execution counts as work in progress while it runs.

docs/model-monitor.md describes the choices (distance, thresholds, timings).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import simpy

from engine import timing
from engine.bill import line, per_second
from engine.errors import ServiceError, resource_in_use, validation
from engine.pricing import hourly_price, instance_spec
from engine.services.s3 import parse_uri
from engine.services.sagemaker import listing, monitor_stats
from engine.services.sagemaker.capture import Capture, Record, decode, iso

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
METRIC_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"

#: AWS's Model Monitor analyzer image in us-east-1 (``sagemaker.image_uris.retrieve("model-monitor", ...)``).
MODEL_MONITOR_ACCOUNT = "156813124566"
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
MODEL_MONITOR_IMAGE = f"{MODEL_MONITOR_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{MODEL_MONITOR_REPOSITORY}"
_IMAGE = re.compile(rf"^{MODEL_MONITOR_ACCOUNT}\.dkr\.ecr\.us-east-1\.amazonaws\.com/{MODEL_MONITOR_REPOSITORY}"
                    r"(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]+)?$")

PENDING_SECONDS = 10.0  # a new schedule is Pending this long, then Scheduled
LATE_MAX_SECONDS = 1200.0  # executions start 0-20 min after the scheduled hour (seeded), as AWS warns
SPARK_SECONDS = 60.0  # the analyzer's Spark/Deequ start-up
OPS_PER_VALUE = 5000.0  # analysis work per cell (several Deequ passes and the KLL sketch)
DEFAULT_MAX_RUNTIME = 3600

_CRON = re.compile(r"^cron\(\s*0\s+(\*|\d{1,2}|\d{1,2}/\d{1,2})\s+\?\s+\*\s+\*\s+\*\s*\)$")
_RUNNING = {"InProgress", "Stopping"}


class _Failed(Exception):
    """Ends a processing job as Failed with this FailureReason."""


def model_monitor_image_uri(tag: str | None = None) -> str:
    """The analyzer image URI (AWS tags it ``latest``; any tag or none is accepted)."""
    return MODEL_MONITOR_IMAGE + (f":{tag}" if tag else "")


@dataclass
class ProcessingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    kind: str  # "baseline" or "monitoring"
    status: str = "InProgress"
    last_modified: float = 0.0
    start: float | None = None
    end: float | None = None
    failure: str | None = None
    exit_message: str | None = None
    process: Any = None
    schedule_arn: str | None = None
    execution: Execution | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # file name -> s3 uri written

    @property
    def instance_type(self) -> str:
        return self.request["ProcessingResources"]["ClusterConfig"]["InstanceType"]

    @property
    def instance_count(self) -> int:
        return int(self.request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])


@dataclass
class Definition:
    """What a data-quality execution needs, from a job definition or an inline MonitoringJobDefinition."""

    constraints_uri: str | None
    statistics_uri: str | None
    baselining_job: str | None
    endpoint_input: dict
    outputs: dict  # MonitoringOutputConfig
    cluster: dict  # ClusterConfig
    image: str
    environment: dict[str, str]
    role: str
    max_runtime: int
    network: dict | None = None


@dataclass
class JobDefinition:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    definition: Definition


@dataclass
class Execution:
    schedule: str
    schedule_arn: str
    scheduled: float
    created: float
    endpoint: str
    definition_name: str | None
    status: str = "Pending"
    last_modified: float = 0.0
    job_arn: str | None = None
    failure: str | None = None

    def summary(self, at) -> dict:
        out = {"MonitoringScheduleName": self.schedule, "ScheduledTime": at(self.scheduled),
               "CreationTime": at(self.created), "LastModifiedTime": at(self.last_modified),
               "MonitoringExecutionStatus": self.status, "EndpointName": self.endpoint,
               "MonitoringType": "DataQuality"}
        if self.job_arn:
            out["ProcessingJobArn"] = self.job_arn
        if self.failure:
            out["FailureReason"] = self.failure
        if self.definition_name:
            out["MonitoringJobDefinitionName"] = self.definition_name
        return out


@dataclass
class Schedule:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    endpoint: str
    definition: Definition
    definition_name: str | None
    hours: frozenset[int]  # UTC hours of the day it runs at
    status: str = "Pending"
    last_modified: float = 0.0
    deleted: bool = False


@dataclass
class _Input:
    payload: Any
    nominal_bytes: float
    scale: float = 1.0


@dataclass
class _Result:
    files: dict[str, bytes]
    ops: float
    exit_message: str | None = None
    violations: int = 0
    findings: list = field(default_factory=list)


class Monitoring:
    """The Model Monitor part of the SageMaker backend (plus processing jobs)."""

    def __init__(self, world):
        self.world = world
        self.capture = Capture(world)
        self.jobs: dict[str, ProcessingJob] = {}
        self.definitions: dict[str, JobDefinition] = {}
        self.schedules: dict[str, Schedule] = {}
        self.executions: list[Execution] = []

    # -- helpers -------------------------------------------------------------------------
    @property
    def clock(self):
        return self.world.clock

    def _hosting(self):
        return self.world.services["sagemaker"].hosting

    def _s3(self):
        return self.world.services["s3"]

    def _iam(self):
        return self.world.services["iam"]

    def _check_role(self, role: str) -> None:
        if not self._iam().can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows "
                             "principal 'sagemaker.amazonaws.com' to assume the role.")

    @staticmethod
    def _check_image(uri: str) -> None:
        if not _IMAGE.match(uri or ""):
            raise validation(f"Image {uri} is not one SageTutor runs for processing: use the Model Monitor analyzer "
                             f"image {MODEL_MONITOR_IMAGE} (engine.services.sagemaker.monitor.MODEL_MONITOR_IMAGE).")

    @staticmethod
    def _check_instance(instance_type: str) -> None:
        try:
            hourly_price("processing", instance_type)
        except KeyError:
            raise validation(f"Instance type {instance_type} is not supported for processing jobs.") from None

    # ================================================================ processing jobs
    def _log(self, job: ProcessingJob, message: str) -> None:
        stream = f"{job.name}/algo-1-{int(self.clock.at(job.created).timestamp())}"
        self.world.services["logs"].write(LOG_GROUP, stream, message)

    def _touch(self, job: ProcessingJob, status: str | None = None, message: str | None = None) -> None:
        if status:
            job.status = status
        job.last_modified = self.clock.seconds
        if message:
            self.world.event(job.arn, "status", message, job.status)

    def _job(self, name: str) -> ProcessingJob:
        job = self.jobs.get(name)
        if job is None:
            raise validation(f"Could not find requested job with name {name}")
        return job

    def _new_job(self, name: str, req: dict, kind: str) -> ProcessingJob:
        arn = self.world.arn("sagemaker", f"processing-job/{name.lower()}")
        job = ProcessingJob(name, arn, req, self.clock.seconds, kind, last_modified=self.clock.seconds)
        self.jobs[name] = job
        return job

    def create_processing_job(self, req: dict, call) -> dict:
        name = req["ProcessingJobName"]
        if name in self.jobs:
            raise resource_in_use(f"Job name must be unique within an AWS account and region, and a job with this "
                                  f"name already exists ({self.jobs[name].arn})")
        self._check_image(req["AppSpecification"]["ImageUri"])
        self._check_role(req["RoleArn"])
        cluster = req["ProcessingResources"]["ClusterConfig"]
        self._check_instance(cluster["InstanceType"])
        inputs = req.get("ProcessingInputs", [])
        if not any("S3Input" in i for i in inputs):
            raise validation("The Model Monitor analyzer needs the baseline dataset as a ProcessingInput with an "
                             "S3Input (DatasetDefinition inputs are not simulated).")
        outputs = (req.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        if not any("S3Output" in o for o in outputs):
            raise validation("The Model Monitor analyzer needs a ProcessingOutputConfig output with an S3Output "
                             "for statistics.json and constraints.json.")
        job = self._new_job(name, req, "baseline")
        self._touch(job, message="Processing job created (Model Monitor baseline suggestion)")
        job.process = self.clock.start(self._life(job, self._baseline_input, self._baseline_analysis))
        return {"ProcessingJobArn": job.arn}

    def describe_processing_job(self, req: dict, call) -> dict:
        return self._describe_job(self._job(req["ProcessingJobName"]))

    def _describe_job(self, job: ProcessingJob) -> dict:
        at = self.clock.at
        r = job.request
        inputs = []
        for i in r.get("ProcessingInputs", []):
            i = dict(i)
            if "S3Input" in i:
                i["S3Input"] = {"S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                                "S3CompressionType": "None", **i["S3Input"]}
            inputs.append({"AppManaged": False, **i})
        out: dict[str, Any] = {
            "ProcessingInputs": inputs,
            "ProcessingJobName": job.name,
            "ProcessingResources": {"ClusterConfig": {**r["ProcessingResources"]["ClusterConfig"]}},
            "StoppingCondition": {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME, **(r.get("StoppingCondition") or {})},
            "AppSpecification": r["AppSpecification"],
            "RoleArn": r["RoleArn"],
            "ProcessingJobArn": job.arn,
            "ProcessingJobStatus": job.status,
            "CreationTime": at(job.created),
            "LastModifiedTime": at(job.last_modified),
        }
        if "ProcessingOutputConfig" in r:
            cfg = dict(r["ProcessingOutputConfig"])
            cfg["Outputs"] = [{"AppManaged": False, **o} for o in cfg.get("Outputs", [])]
            out["ProcessingOutputConfig"] = cfg
        for key in ("Environment", "NetworkConfig", "ExperimentConfig"):
            if key in r:
                out[key] = r[key]
        if job.start is not None:
            out["ProcessingStartTime"] = at(job.start)
        if job.end is not None:
            out["ProcessingEndTime"] = at(job.end)
        if job.exit_message:
            out["ExitMessage"] = job.exit_message
        if job.failure:
            out["FailureReason"] = job.failure
        if job.schedule_arn:
            out["MonitoringScheduleArn"] = job.schedule_arn
        return out

    def list_processing_jobs(self, req: dict, call) -> dict:
        jobs = listing.select(list(self.jobs.values()), req, self.clock)
        page, extra = listing.page(jobs, req)
        summaries = []
        for j in page:
            s = {"ProcessingJobName": j.name, "ProcessingJobArn": j.arn, "CreationTime": self.clock.at(j.created),
                 "LastModifiedTime": self.clock.at(j.last_modified), "ProcessingJobStatus": j.status}
            if j.end is not None:
                s["ProcessingEndTime"] = self.clock.at(j.end)
            if j.failure:
                s["FailureReason"] = j.failure
            if j.exit_message:
                s["ExitMessage"] = j.exit_message
            summaries.append(s)
        return {"ProcessingJobSummaries": summaries, **extra}

    def stop_processing_job(self, req: dict, call) -> dict:
        job = self._job(req["ProcessingJobName"])
        if job.status != "InProgress":
            raise validation(f"The request was rejected because the processing job is in status {job.status}.")
        self._touch(job, "Stopping", "Stopping the processing job")
        if job.process is not None and job.process.is_alive:
            job.process.interrupt("stop")
        return {}

    # -- a job's life ------------------------------------------------------------------------
    def _life(self, job: ProcessingJob, read, analyse):
        """Launch, pull the image, download, analyse (really), upload; bill the instance seconds."""
        env = self.clock.env
        job.process = env.active_process
        spec = instance_spec(job.instance_type)
        count = job.instance_count
        try:
            u = self.world.spot.draw(job.instance_type, job.name, 1, "provision")
            yield env.timeout(timing.provision_seconds(spec, u) + 10)
            job.start = self.clock.seconds
            self._touch(job)
            self._log(job, f"Starting Model Monitor analyzer ({MODEL_MONITOR_IMAGE}) on {count} x {job.instance_type}")
            yield env.timeout(timing.image_seconds(spec))
            data = read(job)
            yield env.timeout(timing.download_seconds(data.nominal_bytes, spec, count, False, False))
            result = analyse(job, data)
            rate = timing.throughput(spec, False) * count * timing.efficiency(count)
            yield env.timeout(SPARK_SECONDS + math.ceil(result.ops / rate))
            yield env.timeout(timing.upload_seconds(sum(len(b) for b in result.files.values()), spec))
            self._write(job, result.files)
            job.exit_message = result.exit_message
            self._log(job, result.exit_message or "Completed: Job completed successfully.")
            self._end(job, "Completed", "Processing job completed")
            if job.execution is not None:
                self._record_metrics(job, result)
        except simpy.Interrupt:
            self._log(job, "Processing job stopped")
            self._end(job, "Stopped", "Processing job stopped")
        except _Failed as e:
            self._fail(job, str(e))
        except monitor_stats.AnalysisError as e:
            self._fail(job, f"AlgorithmError: {e}")
        finally:
            if job.execution is not None:
                self._execution_done(job)

    def _fail(self, job: ProcessingJob, reason: str) -> None:
        job.failure = reason[:1024]
        job.exit_message = reason[:1024]
        self._log(job, reason)
        self._end(job, "Failed", f"Processing job failed: {reason[:200]}")

    def _end(self, job: ProcessingJob, status: str, message: str) -> None:
        job.end = self.clock.seconds
        self._touch(job, status, message)
        if job.start is None:
            return  # never got instances: nothing to bill
        seconds = max(1, int(round(job.end - job.start)))
        count = job.instance_count
        price = hourly_price("processing", job.instance_type)
        what = "monitoring execution" if job.kind == "monitoring" else "baseline suggestion"
        desc = f"{seconds} s x {count} instance(s), Model Monitor {what}"
        self.world.ledger.add(line(job.arn, "sagemaker", "processing-instance-seconds", seconds * count,
                                   "instance-second", per_second(price.usd), "on-demand",
                                   instance_type=job.instance_type, instance_count=count, start=job.start,
                                   end=job.end, description=desc))
        self.world.event(job.arn, "billing", desc)

    def _principal(self, job: ProcessingJob) -> str:
        return self._iam().session_arn(job.request["RoleArn"])

    def _read_object(self, job: ProcessingJob, uri: str) -> bytes:
        bucket, key = parse_uri(uri)
        s3 = self._s3()
        principal = self._principal(job)
        d = s3.authorize(principal, "s3:GetObject", bucket, key)
        if not d.allowed:
            raise _Failed(f"ClientError: AccessDenied (403): User: {principal} is not authorized to perform: "
                          f"s3:GetObject on resource: arn:aws:s3:::{bucket}/{key} {d.explain('s3:GetObject')}")
        try:
            return s3.get(bucket, key).data
        except ServiceError:
            raise _Failed(f"ClientError: Data download failed: {uri} does not exist") from None

    def _write(self, job: ProcessingJob, files: dict[str, bytes]) -> None:
        s3 = self._s3()
        principal = self._principal(job)
        base = self._output_uri(job).rstrip("/")
        bucket, prefix = parse_uri(base + "/")
        if bucket not in s3.buckets:
            raise _Failed(f"ClientError: Failed to upload to {base}: The specified bucket does not exist")
        for fname, data in files.items():
            key = f"{prefix}{fname}"
            d = s3.authorize(principal, "s3:PutObject", bucket, key)
            if not d.allowed:
                raise _Failed(f"ClientError: AccessDenied (403): User: {principal} is not authorized to perform: "
                              f"s3:PutObject on resource: arn:aws:s3:::{bucket}/{key} {d.explain('s3:PutObject')}")
            s3.put_bytes(bucket, key, data, "application/json")
            job.outputs[fname] = f"s3://{bucket}/{key}"

    def _output_uri(self, job: ProcessingJob) -> str:
        outputs = [o for o in job.request["ProcessingOutputConfig"]["Outputs"] if "S3Output" in o]
        wanted = (job.request.get("Environment") or {}).get("output_path")
        for o in outputs:
            if wanted and o["S3Output"].get("LocalPath", "").rstrip("/") == wanted.rstrip("/"):
                return o["S3Output"]["S3Uri"]
        return outputs[0]["S3Output"]["S3Uri"]

    # -- baselining ------------------------------------------------------------------------------
    def _baseline_input(self, job: ProcessingJob) -> _Input:
        inputs = [i for i in job.request.get("ProcessingInputs", []) if "S3Input" in i]
        wanted = (job.request.get("Environment") or {}).get("dataset_source")
        chosen = inputs[0]
        for i in inputs:
            if wanted and i["S3Input"].get("LocalPath", "").rstrip("/") == wanted.rstrip("/"):
                chosen = i
        src = chosen["S3Input"]
        uri = src["S3Uri"]
        if src.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise _Failed("ClientError: SageTutor's analyzer reads baseline datasets from an S3Prefix only.")
        bucket, prefix = parse_uri(uri)
        s3 = self._s3()
        role = job.request["RoleArn"]
        missing = (f"ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source. Please "
                   f"ensure that the bucket exists in the selected region (us-east-1), that objects exist under that "
                   f"S3 prefix, and that the role \"{role}\" has \"s3:ListBucket\" permissions on bucket \"{bucket}\".")
        if bucket not in s3.buckets:
            raise _Failed(missing)
        principal = self._principal(job)
        d = s3.authorize(principal, "s3:ListBucket", bucket)
        if not d.allowed:
            raise _Failed(f"ClientError: AccessDenied (403): User: {principal} is not authorized to perform: "
                          f"s3:ListBucket on resource: arn:aws:s3:::{bucket} {d.explain('s3:ListBucket')}")
        keys = [k for k in s3.list_keys(bucket, prefix) if not k.endswith("/")]
        if not keys:
            raise _Failed(missing)
        texts = []
        for k in keys:
            data = self._read_object(job, f"s3://{bucket}/{k}")
            try:
                texts.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise _Failed(f"AlgorithmError: s3://{bucket}/{k} is not UTF-8 text (CSV)") from None
        size = sum(len(t) for t in texts)
        rows = sum(t.count("\n") for t in texts) or 1
        nominal = self.world.nominal_for(uri)
        scale = max(1.0, nominal / rows) if nominal else 1.0
        self._log(job, f"Read {len(keys)} object(s), {size} bytes, from {uri}")
        return _Input(texts, size * scale, scale)

    def _dataset_format(self, job: ProcessingJob) -> dict:
        raw = (job.request.get("Environment") or {}).get("dataset_format")
        if not raw:
            self._log(job, 'dataset_format not set; reading the dataset as {"csv": {"header": false}}')
            return {"csv": {"header": False}}
        try:
            fmt = json.loads(raw)
        except ValueError:
            raise _Failed(f"ClientError: Environment dataset_format is not valid JSON: {raw}") from None
        if not isinstance(fmt, dict) or "csv" not in fmt:
            raise _Failed(f"ClientError: SageTutor's analyzer reads CSV datasets only (dataset_format {raw}); "
                          'use {"csv": {"header": true|false}}.')
        return fmt

    def _baseline_analysis(self, job: ProcessingJob, data: _Input) -> _Result:
        csv_fmt = self._dataset_format(job)["csv"] or {}
        header = csv_fmt.get("header", False)
        header = header.lower() == "true" if isinstance(header, str) else bool(header)
        names, rows = monitor_stats.csv_rows(data.payload, header)
        if not rows:
            raise monitor_stats.AnalysisError("the baseline dataset has no records")
        a = monitor_stats.analyse(rows, names)
        stats = monitor_stats.statistics(a)
        cons = monitor_stats.constraints(a)
        self._log(job, f"Analysed {a.item_count} records of {len(a.columns)} columns"
                       + (" (header row)" if header else " (no header: columns _c0, _c1, ...)"))
        return _Result({"statistics.json": _pretty(stats), "constraints.json": _pretty(cons)},
                       a.item_count * len(a.columns) * OPS_PER_VALUE * data.scale,
                       "Completed: Job completed successfully with no violations.")

    # ================================================================ job definitions
    def _definition(self, req: dict, *, inline: bool) -> Definition:
        if inline:
            baseline = req.get("BaselineConfig") or {}
            endpoint_input = next((i["EndpointInput"] for i in req["MonitoringInputs"] if "EndpointInput" in i),
                                  None)
            app = req["MonitoringAppSpecification"]
            outputs, cluster = req["MonitoringOutputConfig"], req["MonitoringResources"]["ClusterConfig"]
            env = dict(req.get("Environment") or {})
        else:
            baseline = req.get("DataQualityBaselineConfig") or {}
            endpoint_input = req["DataQualityJobInput"].get("EndpointInput")
            app = req["DataQualityAppSpecification"]
            outputs, cluster = req["DataQualityJobOutputConfig"], req["JobResources"]["ClusterConfig"]
            env = dict(app.get("Environment") or {})
        if endpoint_input is None:
            raise validation("SageTutor monitors endpoints: give an EndpointInput (batch transform input is not "
                             "simulated).")
        self._check_image(app["ImageUri"])
        self._check_role(req["RoleArn"])
        self._check_instance(cluster["InstanceType"])
        for key in ("RecordPreprocessorSourceUri", "PostAnalyticsProcessorSourceUri"):
            if app.get(key):
                raise validation(f"{key} (custom Python scripts) is not simulated by SageTutor.")
        if not outputs.get("MonitoringOutputs"):
            raise validation("MonitoringOutputs must name an S3Output for the monitoring reports.")
        return Definition(
            constraints_uri=(baseline.get("ConstraintsResource") or {}).get("S3Uri"),
            statistics_uri=(baseline.get("StatisticsResource") or {}).get("S3Uri"),
            baselining_job=baseline.get("BaseliningJobName"),
            endpoint_input=endpoint_input, outputs=outputs, cluster=cluster, image=app["ImageUri"],
            environment=env, role=req["RoleArn"],
            max_runtime=(req.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME),
            network=req.get("NetworkConfig"))

    def _check_endpoint(self, name: str) -> None:
        if name not in self._hosting().endpoints:
            raise validation(f"Could not find endpoint \"{self.world.arn('sagemaker', 'endpoint/' + name.lower())}\".")

    def create_data_quality_job_definition(self, req: dict, call) -> dict:
        name = req["JobDefinitionName"]
        arn = self.world.arn("sagemaker", f"data-quality-job-definition/{name.lower()}")
        if name in self.definitions:
            raise resource_in_use(f"Job definition with name {name} already exists ({arn}).")
        definition = self._definition(req, inline=False)
        self._check_endpoint(definition.endpoint_input["EndpointName"])
        self.definitions[name] = JobDefinition(name, arn, req, self.clock.seconds, definition)
        self.world.event(arn, "status", f"Data quality job definition created for endpoint "
                                        f"{definition.endpoint_input['EndpointName']}")
        return {"JobDefinitionArn": arn}

    def _job_definition(self, name: str) -> JobDefinition:
        d = self.definitions.get(name)
        if d is None:
            arn = self.world.arn("sagemaker", f"data-quality-job-definition/{name.lower()}")
            raise ServiceError("ResourceNotFound", f"Could not find job definition {arn}.")
        return d

    def describe_data_quality_job_definition(self, req: dict, call) -> dict:
        d = self._job_definition(req["JobDefinitionName"])
        r = d.request
        out = {"JobDefinitionArn": d.arn, "JobDefinitionName": d.name, "CreationTime": self.clock.at(d.created),
               "DataQualityAppSpecification": r["DataQualityAppSpecification"],
               "DataQualityJobInput": r["DataQualityJobInput"],
               "DataQualityJobOutputConfig": r["DataQualityJobOutputConfig"],
               "JobResources": r["JobResources"], "RoleArn": r["RoleArn"],
               "StoppingCondition": {"MaxRuntimeInSeconds": d.definition.max_runtime}}
        for key in ("DataQualityBaselineConfig", "NetworkConfig"):
            if key in r:
                out[key] = r[key]
        return out

    def list_data_quality_job_definitions(self, req: dict, call) -> dict:
        ds = list(self.definitions.values())
        if "EndpointName" in req:
            ds = [d for d in ds if d.definition.endpoint_input["EndpointName"] == req["EndpointName"]]
        if "NameContains" in req:
            ds = [d for d in ds if req["NameContains"].lower() in d.name.lower()]
        ds = listing.time_window(ds, req, self.clock, {"CreationTimeAfter": ("created", True),
                                          "CreationTimeBefore": ("created", False)})
        keyf = (lambda d: d.name) if req.get("SortBy") == "Name" else (lambda d: (d.created, d.name))
        ds.sort(key=keyf, reverse=req.get("SortOrder", "Descending") == "Descending")
        page, extra = listing.page(ds, req)
        return {"JobDefinitionSummaries": [
            {"MonitoringJobDefinitionName": d.name, "MonitoringJobDefinitionArn": d.arn,
             "CreationTime": self.clock.at(d.created), "EndpointName": d.definition.endpoint_input["EndpointName"]}
            for d in page], **extra}

    def delete_data_quality_job_definition(self, req: dict, call) -> dict:
        d = self._job_definition(req["JobDefinitionName"])
        users = [s.name for s in self.schedules.values() if s.definition_name == d.name]
        if users:
            raise resource_in_use(f"Job definition {d.arn} is used by monitoring schedule(s) {', '.join(users)}; "
                                  "delete them first.")
        del self.definitions[d.name]
        return {}

    # ================================================================ schedules
    def _hours(self, expression: str) -> frozenset[int]:
        m = _CRON.match(expression.strip())
        bad = validation(f"Invalid ScheduleExpression {expression}: use cron(0 * ? * * *) (hourly), "
                         "cron(0 H ? * * *) (daily at hour H, UTC) or cron(0 H/N ? * * *) (every N hours from H).")
        if m is None:
            raise bad
        spec = m.group(1)
        if spec == "*":
            return frozenset(range(24))
        first, _, step = spec.partition("/")
        h, n = int(first), int(step or 24)
        if h > 23 or not 1 <= n <= 24:
            raise bad
        return frozenset(range(h, 24, n))

    def _schedule(self, name: str) -> Schedule:
        s = self.schedules.get(name)
        if s is None:
            arn = self.world.arn("sagemaker", f"monitoring-schedule/{name.lower()}")
            raise ServiceError("ResourceNotFound", f"Monitoring Schedule {arn} does not exist.")
        return s

    def create_monitoring_schedule(self, req: dict, call) -> dict:
        name = req["MonitoringScheduleName"]
        arn = self.world.arn("sagemaker", f"monitoring-schedule/{name.lower()}")
        if name in self.schedules:
            raise resource_in_use(f"Monitoring Schedule {arn} already exists.")
        cfg = req["MonitoringScheduleConfig"]
        kind = cfg.get("MonitoringType", "DataQuality")
        if kind != "DataQuality":
            raise validation(f"MonitoringType {kind} is not simulated by SageTutor; use DataQuality.")
        if ("MonitoringJobDefinition" in cfg) == ("MonitoringJobDefinitionName" in cfg):
            raise validation("Exactly one of MonitoringJobDefinition or MonitoringJobDefinitionName must be given.")
        if "MonitoringJobDefinitionName" in cfg:
            definition_name = cfg["MonitoringJobDefinitionName"]
            definition = self._job_definition(definition_name).definition
        else:
            definition_name = None
            definition = self._definition(cfg["MonitoringJobDefinition"], inline=True)
        sc = cfg.get("ScheduleConfig")
        if not sc:
            raise validation("ScheduleConfig with a ScheduleExpression is required.")
        hours = self._hours(sc["ScheduleExpression"])
        endpoint = definition.endpoint_input["EndpointName"]
        self._check_endpoint(endpoint)
        if self.capture.config_for(endpoint) is None:
            raise validation(f"Endpoint {endpoint} does not capture data: its endpoint configuration needs a "
                             "DataCaptureConfig with EnableCapture true.")
        for other in self.schedules.values():
            if other.endpoint == endpoint:
                raise validation(f"Endpoint {endpoint} already has a DataQuality monitoring schedule ({other.arn}); "
                                 "an endpoint can have one schedule per monitoring type.")
        s = Schedule(name, arn, req, self.clock.seconds, endpoint, definition, definition_name, hours,
                     last_modified=self.clock.seconds)
        self.schedules[name] = s
        self.world.event(arn, "status", f"Monitoring schedule created for endpoint {endpoint} "
                                        f"({sc['ScheduleExpression']})", "Pending")
        # A plain SimPy process, not clock.start: a standing schedule is not work in progress.
        self.clock.env.process(self._timer(s))
        return {"MonitoringScheduleArn": arn}

    def _next_run(self, s: Schedule, after: float) -> float:
        t = (math.floor(after / 3600) + 1) * 3600.0
        for _ in range(48):
            if self.clock.at(t).hour in s.hours:
                return t
            t += 3600.0
        raise AssertionError("a schedule runs at least daily")

    def _previous_run(self, s: Schedule, at: float) -> float:
        t = at - 3600.0
        while self.clock.at(t).hour not in s.hours:
            t -= 3600.0
        return t

    def _timer(self, s: Schedule):
        env = self.clock.env
        yield env.timeout(PENDING_SECONDS)
        if s.deleted:
            return
        if s.status == "Pending":
            s.status = "Scheduled"
            s.last_modified = self.clock.seconds
            self.world.event(s.arn, "status", "Monitoring schedule is Scheduled", "Scheduled")
        while not s.deleted:
            at = self._next_run(s, self.clock.seconds)
            yield env.timeout(at - self.clock.seconds)
            if s.deleted:
                return
            if s.status == "Scheduled":
                ex = Execution(s.name, s.arn, at, at, s.endpoint, s.definition_name, last_modified=at)
                self.executions.append(ex)
                self.clock.start(self._execute(s, ex))

    def describe_monitoring_schedule(self, req: dict, call) -> dict:
        s = self._schedule(req["MonitoringScheduleName"])
        out = {"MonitoringScheduleArn": s.arn, "MonitoringScheduleName": s.name,
               "MonitoringScheduleStatus": s.status, "MonitoringType": "DataQuality",
               "CreationTime": self.clock.at(s.created), "LastModifiedTime": self.clock.at(s.last_modified),
               "MonitoringScheduleConfig": {"MonitoringType": "DataQuality", **s.request["MonitoringScheduleConfig"]},
               "EndpointName": s.endpoint}
        mine = [e for e in self.executions if e.schedule_arn == s.arn]
        if mine:
            out["LastMonitoringExecutionSummary"] = mine[-1].summary(self.clock.at)
        return out

    def list_monitoring_schedules(self, req: dict, call) -> dict:
        ss = list(self.schedules.values())
        for key, test in (("EndpointName", lambda s, v: s.endpoint == v),
                          ("NameContains", lambda s, v: v.lower() in s.name.lower()),
                          ("StatusEquals", lambda s, v: s.status == v),
                          ("MonitoringJobDefinitionName", lambda s, v: s.definition_name == v),
                          ("MonitoringTypeEquals", lambda s, v: v == "DataQuality")):
            if key in req:
                ss = [s for s in ss if test(s, req[key])]
        ss = listing.ordered(listing.time_window(ss, req, self.clock), req)
        page, extra = listing.page(ss, req)
        out = []
        for s in page:
            item = {"MonitoringScheduleName": s.name, "MonitoringScheduleArn": s.arn,
                    "CreationTime": self.clock.at(s.created), "LastModifiedTime": self.clock.at(s.last_modified),
                    "MonitoringScheduleStatus": s.status, "EndpointName": s.endpoint, "MonitoringType": "DataQuality"}
            if s.definition_name:
                item["MonitoringJobDefinitionName"] = s.definition_name
            out.append(item)
        return {"MonitoringScheduleSummaries": out, **extra}

    def stop_monitoring_schedule(self, req: dict, call) -> dict:
        s = self._schedule(req["MonitoringScheduleName"])
        s.status = "Stopped"
        s.last_modified = self.clock.seconds
        self.world.event(s.arn, "status", "Monitoring schedule stopped (no further executions)", "Stopped")
        return {}

    def start_monitoring_schedule(self, req: dict, call) -> dict:
        s = self._schedule(req["MonitoringScheduleName"])
        if s.status == "Stopped":
            s.status = "Scheduled"
            s.last_modified = self.clock.seconds
            self.world.event(s.arn, "status", "Monitoring schedule started", "Scheduled")
        return {}

    def delete_monitoring_schedule(self, req: dict, call) -> dict:
        s = self._schedule(req["MonitoringScheduleName"])
        s.deleted = True
        del self.schedules[s.name]
        self.world.event(s.arn, "status", "Monitoring schedule deleted")
        return {}

    def list_monitoring_executions(self, req: dict, call) -> dict:
        es = list(self.executions)
        for key, test in (("MonitoringScheduleName", lambda e, v: e.schedule == v),
                          ("EndpointName", lambda e, v: e.endpoint == v),
                          ("StatusEquals", lambda e, v: e.status == v),
                          ("MonitoringJobDefinitionName", lambda e, v: e.definition_name == v),
                          ("MonitoringTypeEquals", lambda e, v: v == "DataQuality")):
            if key in req:
                es = [e for e in es if test(e, req[key])]
        es = listing.time_window(es, req, self.clock, {"ScheduledTimeAfter": ("scheduled", True),
                                          "ScheduledTimeBefore": ("scheduled", False),
                                          "CreationTimeAfter": ("created", True),
                                          "CreationTimeBefore": ("created", False),
                                          "LastModifiedTimeAfter": ("last_modified", True),
                                          "LastModifiedTimeBefore": ("last_modified", False)})
        keyf = {"CreationTime": lambda e: (e.created, e.schedule), "ScheduledTime": lambda e: (e.scheduled, e.schedule),
                "Status": lambda e: (e.status, e.scheduled)}[req.get("SortBy", "ScheduledTime")]
        es.sort(key=keyf, reverse=req.get("SortOrder", "Descending") == "Descending")
        page, extra = listing.page(es, req)
        return {"MonitoringExecutionSummaries": [e.summary(self.clock.at) for e in page], **extra}

    # ================================================================ executions
    def _execute(self, s: Schedule, ex: Execution):
        """One scheduled run: wait AWS's start delay, look for captured data, run the analysis job."""
        env = self.clock.env
        late = round(_unit(self.world.seed, "monitor-late", s.name, ex.scheduled) * LATE_MAX_SECONDS)
        yield env.timeout(late)
        self.capture.flush()
        start = self._previous_run(s, ex.scheduled)
        dc = self.capture.config_for(s.endpoint)
        records: list[Record] = []
        size = 0
        if dc is not None:
            records, size = self.capture.records(dc["DestinationS3Uri"], s.endpoint, start, ex.scheduled)
        if not records:
            ex.status, ex.failure = "Failed", "Job inputs had no data"
            ex.last_modified = self.clock.seconds
            self.world.event(s.arn, "monitoring", f"Execution for {iso(self.clock.at(ex.scheduled))}: Failed "
                                                  "(Job inputs had no data)")
            return
        job = self._monitoring_job(s, ex, start, dc)
        ex.job_arn = job.arn
        ex.status = "InProgress"
        ex.last_modified = self.clock.seconds
        self._touch(job, message=f"Monitoring execution of {s.name} started")

        def read(job: ProcessingJob) -> _Input:
            return _Input(records, float(size))

        yield from self._life(job, read, lambda job, data: self._monitoring_analysis(job, s, data.payload))

    def _monitoring_job(self, s: Schedule, ex: Execution, start: float, dc: dict) -> ProcessingJob:
        d = s.definition
        at = self.clock.at(ex.scheduled)
        digest = hashlib.sha256(f"{self.world.seed}|{s.arn}|{ex.scheduled}".encode()).hexdigest()[:24]
        name = f"model-monitoring-{at:%Y%m%d%H%M}-{digest}"
        out_local = d.outputs["MonitoringOutputs"][0]["S3Output"].get("LocalPath", "/opt/ml/processing/output")
        report = (d.outputs["MonitoringOutputs"][0]["S3Output"]["S3Uri"].rstrip("/")
                  + f"/{s.endpoint}/{s.name}/{at:%Y/%m/%d/%H}")
        ep_input = d.endpoint_input
        capture_uri = dc["DestinationS3Uri"].rstrip("/") + f"/{s.endpoint}"
        env = {"dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput",
                                                                                            "endpointOutput"]}}),
               "dataset_source": ep_input.get("LocalPath", "/opt/ml/processing/input/endpoint"),
               "output_path": out_local, "publish_cloudwatch_metrics": "Enabled",
               "sagemaker_endpoint_name": s.endpoint, "sagemaker_monitoring_schedule_name": s.name,
               "start_time": iso(self.clock.at(start)), "end_time": iso(at), "metric_time": iso(at),
               **d.environment}
        inputs = [{"InputName": "endpoint_input_1",
                   "S3Input": {"S3Uri": capture_uri, "LocalPath": env["dataset_source"], "S3DataType": "S3Prefix",
                               "S3InputMode": ep_input.get("S3InputMode", "File"),
                               "S3DataDistributionType": ep_input.get("S3DataDistributionType", "FullyReplicated")}}]
        baseline = self._baseline_uris(d)
        if baseline[0]:
            env["baseline_constraints"] = "/opt/ml/processing/baseline/constraints/constraints.json"
            inputs.append({"InputName": "constraints", "S3Input": {
                "S3Uri": baseline[0], "LocalPath": "/opt/ml/processing/baseline/constraints", "S3DataType": "S3Prefix"}})
        if baseline[1]:
            env["baseline_statistics"] = "/opt/ml/processing/baseline/stats/statistics.json"
            inputs.append({"InputName": "baseline", "S3Input": {
                "S3Uri": baseline[1], "LocalPath": "/opt/ml/processing/baseline/stats", "S3DataType": "S3Prefix"}})
        req = {"ProcessingJobName": name, "ProcessingInputs": inputs,
               "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "S3Output": {
                   "S3Uri": report, "LocalPath": out_local, "S3UploadMode": "EndOfJob"}}]},
               "ProcessingResources": {"ClusterConfig": dict(d.cluster)},
               "StoppingCondition": {"MaxRuntimeInSeconds": d.max_runtime},
               "AppSpecification": {"ImageUri": d.image}, "Environment": env, "RoleArn": d.role}
        if d.network:
            req["NetworkConfig"] = d.network
        job = self._new_job(name, req, "monitoring")
        job.schedule_arn, job.execution = s.arn, ex
        return job

    def _baseline_uris(self, d: Definition) -> tuple[str | None, str | None]:
        constraints, statistics = d.constraints_uri, d.statistics_uri
        base = self.jobs.get(d.baselining_job) if d.baselining_job else None
        if base is not None:
            constraints = constraints or base.outputs.get("constraints.json")
            statistics = statistics or base.outputs.get("statistics.json")
        return constraints, statistics

    def _baseline_json(self, job: ProcessingJob, uri: str | None) -> dict | None:
        if not uri:
            return None
        try:
            return json.loads(self._read_object(job, uri))
        except ValueError:
            raise _Failed(f"ClientError: {uri} is not valid JSON") from None

    def _monitoring_analysis(self, job: ProcessingJob, s: Schedule, records: list[Record]) -> _Result:
        cons_uri, stats_uri = self._baseline_uris(s.definition)
        cons = self._baseline_json(job, cons_uri)
        stats = self._baseline_json(job, stats_uri)
        base_features = (cons or stats or {}).get("features") or []
        names = [f.get("name") for f in base_features]
        position = "START"
        fmt = s.definition.environment.get("dataset_format")
        if fmt:
            try:
                position = str(json.loads(fmt).get("csv", {}).get("output_columns_position", "START")).upper()
            except (ValueError, AttributeError):
                position = "START"
        rows: list[list[str]] = []
        outputs: set[int] = set()
        for rec in records:
            ins = _cells(decode(rec.input), rec.input)
            outs = _cells(decode(rec.output), rec.output)
            if len(outs) == 1 and len(ins) > 1 and len(outs[0]) == len(ins):
                outs = [[c] for c in outs[0]]
            for j, cells in enumerate(ins):
                out = outs[j] if j < len(outs) else []
                if base_features and out and len(cells) + len(out) == len(base_features):
                    if position == "END":
                        outputs.update(range(len(cells), len(cells) + len(out)))
                        cells = cells + out
                    else:
                        outputs.update(range(len(out)))
                        cells = out + cells
                rows.append(cells)
        if not rows:
            raise _Failed("AlgorithmError: the captured records hold no CSV input the analyzer can read")
        a = monitor_stats.analyse(rows, names, frozenset(outputs))
        violations, findings = monitor_stats.check(a, stats, cons)
        files = {"statistics.json": _pretty(monitor_stats.statistics(a))}
        if cons is not None:
            files["constraint_violations.json"] = _pretty({"violations": violations})
        if violations:
            message = f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
        else:
            message = "Completed: Job completed successfully with no violations."
        self._log(job, f"Analysed {a.item_count} captured records against the baseline: {len(violations)} "
                       "violation(s)")
        emit = (job.request.get("Environment") or {}).get("publish_cloudwatch_metrics", "Enabled") == "Enabled" \
            and ((cons or {}).get("monitoring_config") or {}).get("emit_metrics", "Enabled") == "Enabled"
        return _Result(files, a.item_count * max(1, len(a.columns)) * OPS_PER_VALUE, message, len(violations),
                       findings if emit else [])

    def _record_metrics(self, job: ProcessingJob, result: _Result) -> None:
        ex = job.execution
        if ex is None or not result.findings:
            return
        cw = self.world.services["cloudwatch"]
        dims = {"Endpoint": ex.endpoint, "MonitoringSchedule": ex.schedule}
        at = self.clock.at(ex.scheduled)
        for f in result.findings:
            cw.record(METRIC_NAMESPACE, f"feature_non_null_{f.name}", f.completeness, dims, at=at)
            if f.drift is not None:
                cw.record(METRIC_NAMESPACE, f"feature_baseline_drift_{f.name}", f.drift, dims, at=at)

    def _execution_done(self, job: ProcessingJob) -> None:
        ex = job.execution
        if ex is None or ex.status not in _RUNNING:
            return
        if job.status == "Completed":
            violated = (job.exit_message or "").startswith("CompletedWithViolations")
            ex.status = "CompletedWithViolations" if violated else "Completed"
        elif job.status == "Stopped":
            ex.status = "Stopped"
        else:
            ex.status, ex.failure = "Failed", job.failure
        ex.last_modified = self.clock.seconds
        self.world.event(ex.schedule_arn, "monitoring",
                         f"Execution for {iso(self.clock.at(ex.scheduled))}: {ex.status}", ex.status)


def _unit(*parts: object) -> float:
    return int.from_bytes(hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest(),
                          "big") / 2.0 ** 64


def _pretty(obj: Any) -> bytes:
    return json.dumps(obj, indent=2).encode()


def _cells(text: str | None, part: dict | None) -> list[list[str]]:
    """Rows of cells from a captured payload: CSV lines, or JSON instances/features/predictions."""
    if text is None:
        return []
    if (part or {}).get("encoding") == "JSON" or text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except ValueError:
            return []
        return [[_fmt(v) for v in row] for row in _json_rows(doc)]
    _, rows = monitor_stats.csv_rows([text], header=False)
    return rows


def _json_rows(doc: Any) -> list[list[Any]]:
    if isinstance(doc, dict):
        for key in ("instances", "predictions"):
            if key in doc and isinstance(doc[key], list):
                return [r for item in doc[key] for r in _json_rows(item)]
        if "features" in doc and isinstance(doc["features"], list):
            return [doc["features"]]
        return [list(doc.values())]
    if isinstance(doc, list):
        if doc and all(isinstance(x, list) for x in doc):
            return doc
        return [doc]
    return [[doc]]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, dict | list):
        return json.dumps(v)
    return str(v)
