"""Ground Truth labeling jobs and work teams: simulated workers, real consolidation, real active learning.

A labeling job is one SimPy process (``_life``): Initializing -> InProgress -> Completed, or Stopping ->
Stopped (StopLabelingJob or a stopping condition), or Failed. Human tasks go to a simulated work team
(``workforce``): each worker answers the object's true label, read from ``labels.json`` next to the input
manifest, with their seeded accuracy, in a seeded time; several answers per object are consolidated by a
Dawid-Skene EM. With ``LabelingJobAlgorithmsConfig`` the job runs automated data labeling
(``active_learning``): a scikit-learn model trained on the human labels machine-labels the objects it is
confident enough about. At the end the output manifest is written where AWS writes it and the bill gets
the per-object fee, the workforce's task price and the active-learning instance time. docs/labeling.md
explains every rule and assumption.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import simpy

from engine.bill import line, per_second
from engine.errors import ServiceError, not_found, resource_in_use, validation
from engine.pricing import hourly_price, unit_price
from engine.services.s3 import parse_uri
from engine.services.sagemaker import active_learning as al
from engine.services.sagemaker import listing
from engine.services.sagemaker import workforce as wf

LOG_GROUP = "/aws/sagemaker/LabelingJobs"
OUTPUT_TYPE = {"image": "groundtruth/image-classification", "text": "groundtruth/text-classification"}
TASK_NAMES = {"image": "image classification", "text": "text classification"}
_PRE_LAMBDAS = {"PRE-ImageMultiClass": "image", "PRE-TextMultiClass": "text"}
_ACS_LAMBDAS = {"ACS-ImageMultiClass": "image", "ACS-TextMultiClass": "text"}
_ALGORITHM_TYPES = {"image-classification": "image", "text-classification": "text"}

MAX_OBJECTS = 100_000
MAX_OBJECT_CHARS = 100_000
MAX_ATTRIBUTE_CHARS = 20_000
MAX_TASK_SECONDS = 28_800
PUBLIC_MAX_LIFETIME = 43_200
PUBLIC_DEFAULT_LIFETIME = 21_600
PRIVATE_DEFAULT_LIFETIME = 2_592_000
DEFAULT_CONCURRENCY = 1000
#: More than this share of the first random sample failing fails an active-learning job.
MAX_SAMPLE_FAILURES = 0.10
STOPPING_SECONDS = 30

#: Active learning's instances (SageTutor's assumption): (training, batch inference) per task type.
AL_INSTANCES = {"image": ("ml.p3.2xlarge", "ml.p3.2xlarge"), "text": ("ml.c5.xlarge", "ml.c5.xlarge")}
#: Seconds of an active-learning phase besides launching instances: fixed + per object.
AL_SECONDS = {"training": (120.0, 0.25), "inference": (30.0, 0.02)}
AL_LAUNCH = (180.0, 300.0)

#: Ground Truth's per-object price tiers (objects per account; see docs/labeling.md).
OBJECT_TIERS = (("groundtruth-object-first-50k", 50_000), ("groundtruth-object-next-950k", 1_000_000),
                ("groundtruth-object-over-1m", None))


class _Failed(Exception):
    """Ends a job as Failed with this FailureReason."""


class _ConditionMet(Exception):
    """A stopping condition was met: the job stops."""


@dataclass
class Label:
    cls: int
    confidence: float
    human: bool
    at: float  # virtual seconds
    posterior: np.ndarray | None = None  # the consolidation's class probabilities (several workers only)


@dataclass
class Workteam:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    updated: float
    subdomain: str


@dataclass
class LabelingJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    task_type: str  # "image" or "text"
    categories: list[str]
    records: list[dict[str, Any]]
    workforce: wf.Workforce
    reference_code: str
    status: str = "Initializing"
    last_modified: float = 0.0
    labels: dict[int, Label] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    answers: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    answered_tasks: int = 0
    truth: dict[int, int] = field(default_factory=dict)
    features: Any = None
    al_seconds: dict[str, float] = field(default_factory=lambda: {"training": 0.0, "inference": 0.0})
    iterations: int = 0
    failure: str | None = None
    output_uri: str | None = None
    end: float | None = None
    process: simpy.Process | None = None
    rng: Any = None

    @property
    def htc(self) -> dict[str, Any]:
        return self.request["HumanTaskConfig"]

    @property
    def active(self) -> bool:
        return "LabelingJobAlgorithmsConfig" in self.request

    @property
    def human_count(self) -> int:
        return sum(1 for lb in self.labels.values() if lb.human)

    @property
    def machine_count(self) -> int:
        return sum(1 for lb in self.labels.values() if not lb.human)

    def counters(self) -> dict[str, int]:
        human, machine = self.human_count, self.machine_count
        total = human + machine
        return {"TotalLabeled": total, "HumanLabeled": human, "MachineLabeled": machine,
                "FailedNonRetryableError": len(self.failed),
                "Unlabeled": len(self.records) - total - len(self.failed)}


class Labeling:
    """The Ground Truth half of the SageMaker backend: labeling jobs and work teams."""

    def __init__(self, world):
        self.world = world
        self._jobs: dict[str, LabelingJob] = {}  # by lower-case name (names are not case sensitive)
        self._teams: dict[str, Workteam] = {}
        self._objects_billed = 0  # labeled objects billed so far in this account (the price tiers)

    # -- helpers ------------------------------------------------------------------------
    @property
    def _clock(self):
        return self.world.clock

    def _s3(self):
        return self.world.services["s3"]

    def _iam(self):
        return self.world.services["iam"]

    def _job(self, name: str) -> LabelingJob:
        job = self._jobs.get(name.lower())
        if job is None:
            raise not_found()
        return job

    def _set_status(self, job: LabelingJob, status: str, message: str) -> None:
        job.status = status
        job.last_modified = self._clock.seconds
        self.world.event(job.arn, "status", message, status)

    def _log(self, job: LabelingJob, message: str) -> None:
        stamp = self._clock.now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.world.services["logs"].write(LOG_GROUP, job.name, json.dumps(
            {"event-log-message": message, "labeling-job-name": job.name, "timestamp": stamp}))

    def _get_object(self, role: str) -> Any:
        """s3:GetObject as the job's role, decided object by object (``S3.authorizer``)."""
        return self._s3().authorizer(self._iam().session_arn(role, "SageMaker-GroundTruth"), "s3:GetObject")

    def _read(self, role: str, uri: str, get_object: Any = None) -> bytes:
        """An S3 object read as the job's role; ServiceError (AWS's S3 codes) when it cannot be.

        ``get_object``: the role's ``_get_object``, made once when reading many objects."""
        bucket, key = parse_uri(uri)
        s3 = self._s3()
        principal = self._iam().session_arn(role, "SageMaker-GroundTruth")
        if bucket not in s3.buckets:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404)
        decision = (get_object or self._get_object(role))(bucket, key)
        if not decision.allowed:
            raise ServiceError("AccessDenied", f"User: {principal} is not authorized to perform: s3:GetObject on "
                                               f"resource: arn:aws:s3:::{bucket}/{key} {decision.explain('s3:GetObject')}", 403)
        return s3.get(bucket, key).data

    def _read_for_create(self, role: str, uri: str, what: str) -> bytes:
        try:
            return self._read(role, uri)
        except ServiceError as e:
            raise validation(f"Unable to read the {what} at {uri}: {e.code}: {e.message}") from None
        except ValueError:
            raise validation(f"The {what} location {uri} is not a valid S3 URI.") from None

    # -- work teams ----------------------------------------------------------------------------
    def _team_view(self, t: Workteam) -> dict:
        at = self._clock.at
        r = t.request
        out = {"WorkteamName": t.name, "MemberDefinitions": r["MemberDefinitions"], "WorkteamArn": t.arn,
               "WorkforceArn": self.world.arn("sagemaker", f"workforce/{r.get('WorkforceName', 'default')}"),
               "Description": r["Description"], "SubDomain": t.subdomain, "CreateDate": at(t.created),
               "LastUpdatedDate": at(t.updated)}
        for key in ("NotificationConfiguration", "WorkerAccessConfiguration"):
            if key in r:
                out[key] = r[key]
        return out

    def _check_members(self, members: list[dict]) -> None:
        cognito = [m["CognitoMemberDefinition"] for m in members if "CognitoMemberDefinition" in m]
        oidc = [m for m in members if "OidcMemberDefinition" in m]
        if cognito and oidc:
            raise validation("MemberDefinitions must all be CognitoMemberDefinition or all OidcMemberDefinition, "
                             "not both.")
        if len(cognito) + len(oidc) != len(members):
            raise validation("Each MemberDefinition needs a CognitoMemberDefinition or an OidcMemberDefinition.")
        if len({(c["UserPool"], c["ClientId"]) for c in cognito}) > 1:
            raise validation("All CognitoMemberDefinition objects of a work team must have the same UserPool and "
                             "ClientId.")

    def create_workteam(self, req: dict, call) -> dict:
        name = req["WorkteamName"]
        if name in self._teams:
            raise resource_in_use(f"Workteam {self._teams[name].arn} already exists.")
        self._check_members(req["MemberDefinitions"])
        arn = self.world.arn("sagemaker", f"workteam/private-crowd/{name}")
        now = self._clock.seconds
        digest = hashlib.sha256(f"{self.world.seed}:{self.world.account}:workforce".encode()).hexdigest()
        sub = f"{digest[:10]}.labeling.{self.world.region}.sagemaker.aws"
        self._teams[name] = Workteam(name, arn, dict(req), now, now, sub)
        self.world.event(arn, "status", f"Work team {name} created")
        return {"WorkteamArn": arn}

    def describe_workteam(self, req: dict, call) -> dict:
        team = self._teams.get(req["WorkteamName"])
        if team is None:
            raise not_found()
        return {"Workteam": self._team_view(team)}

    def update_workteam(self, req: dict, call) -> dict:
        team = self._teams.get(req["WorkteamName"])
        if team is None:
            raise not_found()
        if "MemberDefinitions" in req:
            self._check_members(req["MemberDefinitions"])
        for key in ("MemberDefinitions", "Description", "NotificationConfiguration", "WorkerAccessConfiguration"):
            if key in req:
                team.request[key] = req[key]
        team.updated = self._clock.seconds
        return {"Workteam": self._team_view(team)}

    def delete_workteam(self, req: dict, call) -> dict:
        team = self._teams.get(req["WorkteamName"])
        if team is None:
            raise not_found()
        busy = [j.name for j in self._jobs.values()
                if j.htc["WorkteamArn"] == team.arn and j.status in ("Initializing", "InProgress", "Stopping")]
        if busy:
            raise resource_in_use(f"Workteam {team.arn} is in use by labeling job {busy[0]}.")
        del self._teams[team.name]
        return {"Success": True}

    def list_workteams(self, req: dict, call) -> dict:
        teams = list(self._teams.values())
        if "NameContains" in req:
            teams = [t for t in teams if req["NameContains"].lower() in t.name.lower()]
        if req.get("SortBy") == "Name":
            teams.sort(key=lambda t: t.name)
        else:
            teams.sort(key=lambda t: (t.created, t.name))
        if req.get("SortOrder", "Ascending") == "Descending":
            teams.reverse()
        page, more = listing.page(teams, req)
        return {"Workteams": [self._team_view(t) for t in page], **more}

    def _workforce(self, arn: str) -> wf.Workforce:
        parts = wf.parse_workteam_arn(arn)
        missing = validation(f"Workteam {arn} does not exist.")
        if parts is None or parts["region"] != self.world.region:
            raise missing
        if parts["kind"] == "public-crowd":
            if parts["account"] != wf.PUBLIC_CROWD_ACCOUNT or parts["name"] != "default":
                raise missing
            return wf.public_crowd(self.world.seed, self.world.region)
        if parts["kind"] == "private-crowd":
            team = self._teams.get(parts["name"])
            if parts["account"] != self.world.account or team is None or team.arn != arn:
                raise missing
            return wf.private_team(self.world.seed, arn)
        return wf.vendor_team(self.world.seed, arn)

    # -- CreateLabelingJob: checks ------------------------------------------------------------
    def _task_type(self, req: dict, records: list[dict]) -> str:
        htc = req["HumanTaskConfig"]
        found: dict[str, str] = {}
        lambdas = (("PreHumanTaskLambdaArn", htc.get("PreHumanTaskLambdaArn"), _PRE_LAMBDAS),
                   ("AnnotationConsolidationLambdaArn",
                    htc.get("AnnotationConsolidationConfig", {}).get("AnnotationConsolidationLambdaArn"),
                    _ACS_LAMBDAS))
        for what, arn, table in lambdas:
            if not arn:
                continue
            function = arn.rsplit(":function:", 1)[-1]
            if function not in table:
                raise validation(f"{what} {arn} is not supported: SageTutor simulates the built-in single-label "
                                 f"image and text classification tasks ({', '.join(sorted(table))}).")
            found[what] = table[function]
        algo = req.get("LabelingJobAlgorithmsConfig")
        if algo:
            arn = algo["LabelingJobAlgorithmSpecificationArn"]
            parts = al.parse_algorithm_arn(arn)
            if parts is None or parts["region"] != self.world.region:
                choices = ", ".join(al.algorithm_arn(self.world.region, n) for n in al.ALGORITHMS)
                raise validation(f"LabelingJobAlgorithmSpecificationArn {arn} is not valid. Use one of: {choices}.")
            if parts["name"] not in _ALGORITHM_TYPES:
                raise validation(f"Automated data labeling for {parts['name']} is not simulated by SageTutor: it "
                                 "simulates image-classification and text-classification.")
            found["LabelingJobAlgorithmSpecificationArn"] = _ALGORITHM_TYPES[parts["name"]]
        kinds = set(found.values())
        if len(kinds) > 1:
            detail = ", ".join(f"{k} is for {TASK_NAMES[v]}" for k, v in sorted(found.items()))
            raise validation(f"The labeling job's task type is inconsistent: {detail}.")
        if kinds:
            return kinds.pop()
        return "image" if "source-ref" in records[0] else "text"

    def _parse_manifest(self, data: bytes, uri: str) -> list[dict]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise validation(f"The input manifest {uri} is not UTF-8 encoded JSON Lines.") from None
        records = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_OBJECT_CHARS:
                raise validation(f"Line {number} of the input manifest {uri} is longer than {MAX_OBJECT_CHARS:,} "
                                 "characters.")
            try:
                rec = json.loads(raw)
            except ValueError:
                raise validation(f"Line {number} of the input manifest {uri} is not valid JSON.") from None
            if not isinstance(rec, dict) or not ("source-ref" in rec or "source" in rec):
                raise validation(f"Line {number} of the input manifest {uri} must be a JSON object with a "
                                 "\"source-ref\" or a \"source\" attribute.")
            for key, value in rec.items():
                if key.startswith("$"):
                    raise validation(f"Line {number} of the input manifest {uri}: attribute names cannot start "
                                     f"with '$' ({key}).")
                if len(json.dumps(value)) > MAX_ATTRIBUTE_CHARS:
                    raise validation(f"Line {number} of the input manifest {uri}: attribute {key} is longer "
                                     f"than {MAX_ATTRIBUTE_CHARS:,} characters.")
            records.append(rec)
        if not records:
            raise validation(f"The input manifest {uri} has no data objects.")
        if len(records) > MAX_OBJECTS:
            raise validation(f"The input manifest {uri} has {len(records):,} data objects; a labeling job can "
                             f"have at most {MAX_OBJECTS:,}.")
        return records

    def _categories(self, data: bytes, uri: str) -> list[str]:
        try:
            doc = json.loads(data)
            labels = [entry["label"] for entry in doc["labels"]]
        except (ValueError, KeyError, TypeError):
            raise validation(f"The label category configuration file {uri} must be JSON of the form "
                             "{\"document-version\": \"2018-11-28\", \"labels\": [{\"label\": \"...\"}, ...]}."
                             ) from None
        if not all(isinstance(x, str) and x for x in labels):
            raise validation(f"Every label in {uri} must be a non-empty string.")
        if len(set(labels)) != len(labels):
            raise validation(f"The label categories in {uri} must be unique.")
        if len(labels) < 2:
            raise validation("Image classification and text classification labeling jobs need at least two "
                             f"label categories; {uri} has {len(labels)}.")
        return labels

    def _check_task_config(self, htc: dict, force: wf.Workforce, task_type: str) -> None:
        ui = htc["UiConfig"]
        if bool(ui.get("UiTemplateS3Uri")) == bool(ui.get("HumanTaskUiArn")):
            raise validation("UiConfig must specify exactly one of UiTemplateS3Uri or HumanTaskUiArn.")
        if htc["TaskTimeLimitInSeconds"] > MAX_TASK_SECONDS:
            raise validation(f"TaskTimeLimitInSeconds must be less than or equal to {MAX_TASK_SECONDS} for "
                             f"{TASK_NAMES[task_type]} labeling jobs.")
        if force.kind != "public":
            return
        lifetime = htc.get("TaskAvailabilityLifetimeInSeconds", PUBLIC_DEFAULT_LIFETIME)
        if lifetime > PUBLIC_MAX_LIFETIME:
            raise validation(f"TaskAvailabilityLifetimeInSeconds must be less than or equal to {PUBLIC_MAX_LIFETIME} "
                             "when the work team is the public workforce (Amazon Mechanical Turk).")
        if "PublicWorkforceTaskPrice" not in htc:
            raise validation("PublicWorkforceTaskPrice is required when the work team is the public workforce "
                             "(Amazon Mechanical Turk).")
        price = wf.price_tenth_cents(htc["PublicWorkforceTaskPrice"])
        if price not in wf.CLASSIFICATION_PRICES_TENTH_CENTS:
            allowed = ", ".join(str(wf.usd(p)) for p in wf.CLASSIFICATION_PRICES_TENTH_CENTS)
            raise validation(f"Invalid PublicWorkforceTaskPrice {wf.usd(price)} USD: for {TASK_NAMES[task_type]} "
                             f"tasks the price must be one of {allowed} USD.")

    # -- the API: labeling jobs ---------------------------------------------------------------------
    def create_labeling_job(self, req: dict, call) -> dict:
        name = req["LabelingJobName"]
        arn = self.world.arn("sagemaker", f"labeling-job/{name.lower()}")
        if name.lower() in self._jobs:
            raise resource_in_use(f"A labeling job with the name {name} already exists ({arn}). Labeling job "
                                  "names are not case sensitive and must be unique within an account and region.")
        attr = req["LabelAttributeName"]
        if attr.endswith("-metadata"):
            raise validation(f"LabelAttributeName {attr} is not valid: it cannot end with \"-metadata\".")
        if attr.endswith("-ref"):
            raise validation(f"LabelAttributeName {attr} is not valid: only semantic segmentation, video frame and "
                             "3D point cloud labeling jobs use a name that ends with \"-ref\".")
        role = req["RoleArn"]
        if not self._iam().can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows "
                             "principal 'sagemaker.amazonaws.com' to assume the role.")
        source = req["InputConfig"]["DataSource"]
        if "S3DataSource" not in source:
            raise validation("SageTutor simulates one-time labeling jobs: InputConfig.DataSource needs an "
                             "S3DataSource (streaming jobs with an SnsDataSource are not simulated).")
        htc = req["HumanTaskConfig"]
        force = self._workforce(htc["WorkteamArn"])
        manifest_uri = source["S3DataSource"]["ManifestS3Uri"]
        records = self._parse_manifest(self._read_for_create(role, manifest_uri, "input manifest"), manifest_uri)
        task_type = self._task_type(req, records)
        if task_type == "image" and any("source-ref" not in r for r in records):
            raise validation(f"Every line of the input manifest {manifest_uri} needs a \"source-ref\" for an image "
                             "classification labeling job.")
        cat_uri = req.get("LabelCategoryConfigS3Uri")
        if not cat_uri:
            raise validation("LabelCategoryConfigS3Uri is required for image classification and text "
                             "classification labeling jobs.")
        categories = self._categories(self._read_for_create(role, cat_uri, "label category configuration file"),
                                      cat_uri)
        self._check_task_config(htc, force, task_type)
        if "LabelingJobAlgorithmsConfig" in req and len(records) < al.MIN_OBJECTS:
            raise validation(f"The input dataset has {len(records):,} data objects. Automated data labeling needs "
                             f"a minimum of {al.MIN_OBJECTS:,} data objects (5,000 or more are strongly suggested): "
                             "add data objects or create the job without LabelingJobAlgorithmsConfig.")
        code = hashlib.sha256(f"{self.world.seed}:{self.world.account}:{name.lower()}".encode()).hexdigest()[:32]
        now = self._clock.seconds
        job = LabelingJob(name, arn, req, now, task_type, categories, records, force, code, last_modified=now)
        job.rng = np.random.default_rng(wf.stable_seed(self.world.seed, "labeling-job", name.lower()))
        self._jobs[name.lower()] = job
        self.world.event(arn, "status", "Labeling job created: initializing", "Initializing")
        job.process = self._clock.start(self._life(job))
        return {"LabelingJobArn": arn}

    def describe_labeling_job(self, req: dict, call) -> dict:
        job = self._job(req["LabelingJobName"])
        at = self._clock.at
        r = job.request
        out: dict[str, Any] = {
            "LabelingJobStatus": job.status,
            "LabelCounters": job.counters(),
            "CreationTime": at(job.created),
            "LastModifiedTime": at(job.last_modified),
            "JobReferenceCode": job.reference_code,
            "LabelingJobName": job.name,
            "LabelingJobArn": job.arn,
            "LabelAttributeName": r["LabelAttributeName"],
            "InputConfig": r["InputConfig"],
            "OutputConfig": r["OutputConfig"],
            "RoleArn": r["RoleArn"],
        }
        for key in ("LabelCategoryConfigS3Uri", "StoppingConditions", "LabelingJobAlgorithmsConfig"):
            if key in r:
                out[key] = r[key]
        out["HumanTaskConfig"] = r["HumanTaskConfig"]
        if r.get("Tags"):
            out["Tags"] = r["Tags"]
        if job.failure:
            out["FailureReason"] = job.failure
        if job.output_uri:
            out["LabelingJobOutput"] = {"OutputDatasetS3Uri": job.output_uri}
        return out

    def list_labeling_jobs(self, req: dict, call) -> dict:
        at = self._clock.at
        jobs = listing.select(list(self._jobs.values()), req, self._clock, default_order="Ascending")
        page, more = listing.page(jobs, req)
        summaries = []
        for j in page:
            htc = j.htc
            s: dict[str, Any] = {"LabelingJobName": j.name, "LabelingJobArn": j.arn, "CreationTime": at(j.created),
                                 "LastModifiedTime": at(j.last_modified), "LabelingJobStatus": j.status,
                                 "LabelCounters": j.counters(), "WorkteamArn": htc["WorkteamArn"],
                                 "InputConfig": j.request["InputConfig"]}
            if htc.get("PreHumanTaskLambdaArn"):
                s["PreHumanTaskLambdaArn"] = htc["PreHumanTaskLambdaArn"]
            acs = htc.get("AnnotationConsolidationConfig", {}).get("AnnotationConsolidationLambdaArn")
            if acs:
                s["AnnotationConsolidationLambdaArn"] = acs
            if j.failure:
                s["FailureReason"] = j.failure
            if j.output_uri:
                s["LabelingJobOutput"] = {"OutputDatasetS3Uri": j.output_uri}
            summaries.append(s)
        return {"LabelingJobSummaryList": summaries, **more}

    def list_labeling_jobs_for_workteam(self, req: dict, call) -> dict:
        arn = req["WorkteamArn"]
        jobs = [j for j in self._jobs.values() if j.htc["WorkteamArn"] == arn]
        if "JobReferenceCodeContains" in req:
            jobs = [j for j in jobs if req["JobReferenceCodeContains"] in j.reference_code]
        at = self._clock.at
        if "CreationTimeAfter" in req:
            jobs = [j for j in jobs if at(j.created) > req["CreationTimeAfter"]]
        if "CreationTimeBefore" in req:
            jobs = [j for j in jobs if at(j.created) < req["CreationTimeBefore"]]
        jobs.sort(key=lambda j: (j.created, j.name), reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, more = listing.page(jobs, req)
        summaries = []
        for j in page:
            c = j.counters()
            summaries.append({"LabelingJobName": j.name, "JobReferenceCode": j.reference_code,
                              "WorkRequesterAccountId": self.world.account, "CreationTime": at(j.created),
                              "LabelCounters": {"HumanLabeled": c["HumanLabeled"], "PendingHuman": c["Unlabeled"],
                                                "Total": len(j.records)},
                              "NumberOfHumanWorkersPerDataObject": j.htc["NumberOfHumanWorkersPerDataObject"]})
        return {"LabelingJobSummaryList": summaries, **more}

    def stop_labeling_job(self, req: dict, call) -> dict:
        job = self._job(req["LabelingJobName"])
        if job.status not in ("Initializing", "InProgress"):
            raise validation(f"The labeling job {job.name} is in status {job.status} and cannot be stopped.")
        self._set_status(job, "Stopping", "StopLabelingJob: stopping the labeling job")
        if job.process is not None and job.process.is_alive:
            job.process.interrupt("stop")
        return {}

    # -- the job's life -----------------------------------------------------------------------------
    def _life(self, job: LabelingJob):
        env = self._clock.env
        try:
            yield env.timeout(round(float(job.rng.uniform(60, 180))))
            self._set_status(job, "InProgress", "Labeling job in progress")
            self._prepare(job)
            if job.active:
                yield from self._active_learning(job)
            else:
                yield from self._humans_only(job)
            self._close(job, "Completed")
        except simpy.Interrupt:
            yield from self._stopping(job, "Labeling job stopped (StopLabelingJob)")
        except _ConditionMet as cond:
            self._set_status(job, "Stopping", f"Stopping condition met: {cond}")
            yield from self._stopping(job, f"Labeling job stopped: {cond}")
        except _Failed as failure:
            job.failure = str(failure)[:1024]
            self._log(job, job.failure)
            self._close(job, "Failed")

    def _stopping(self, job: LabelingJob, message: str):
        yield self._clock.env.timeout(STOPPING_SECONDS)
        self._close(job, "Stopped", message)

    def _close(self, job: LabelingJob, status: str, message: str | None = None) -> None:
        if status != "Failed":
            try:
                self._write_output(job)
            except _Failed as failure:
                job.failure = str(failure)[:1024]
                status, message = "Failed", None
        job.end = self._clock.seconds
        self._bill(job)
        c = job.counters()
        summary = (f"{c['TotalLabeled']} labeled ({c['HumanLabeled']} by humans, {c['MachineLabeled']} by machine), "
                   f"{c['FailedNonRetryableError']} failed, {c['Unlabeled']} unlabeled")
        self._log(job, f"Labeling job {status}: {summary}")
        default = {"Completed": "Labeling job completed", "Failed": f"Labeling job failed: {job.failure}"}
        self._set_status(job, status, f"{message or default.get(status, status)}; {summary}")

    def _prepare(self, job: LabelingJob) -> None:
        """Read the true labels (for the simulated workers) and the objects themselves."""
        role = job.request["RoleArn"]
        manifest_uri = job.request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        bucket, key = parse_uri(manifest_uri)
        labels_uri = f"s3://{bucket}/{posixpath.join(posixpath.dirname(key), 'labels.json')}"
        try:
            truth = json.loads(self._read(role, labels_uri))
        except (ServiceError, ValueError):
            raise _Failed(f"ClientError: SageTutor's simulated workers answer from the true labels in labels.json "
                          f"next to the input manifest, and {labels_uri} could not be read. Upload a JSON object "
                          "that maps each manifest line number (\"0\", \"1\", ...) to its category name "
                          "(docs/labeling.md).") from None
        index = {c: i for i, c in enumerate(job.categories)}
        for i in range(len(job.records)):
            name = truth.get(str(i)) if isinstance(truth, dict) else None
            if name not in index:
                raise _Failed(f"ClientError: {labels_uri} gives no valid category for manifest line {i} (found "
                              f"{name!r}; the categories are {', '.join(job.categories)}).")
            job.truth[i] = index[name]
        from engine.datasets.png import decode_png

        items: list[Any] = []  # per object: its pixels (image) or its text; None when it cannot be read
        get_object = self._get_object(role)
        for i, rec in enumerate(job.records):
            if job.task_type == "text" and "source" in rec:
                items.append(str(rec["source"]))
                continue
            ref = rec["source-ref"]
            try:
                data = self._read(role, ref, get_object)
                items.append(decode_png(data) if job.task_type == "image" else data.decode("utf-8"))
            except ServiceError as e:
                job.failed[i] = f"ClientError: Cannot read {ref}: {e.code}"
                items.append(None)
            except (ValueError, UnicodeDecodeError) as e:
                kind = "PNG image" if job.task_type == "image" else "UTF-8 text file"
                job.failed[i] = f"ClientError: {ref} is not a valid {kind}: {e}"
                items.append(None)
        if job.failed:
            self._log(job, f"{len(job.failed)} data objects could not be read and will not be labeled")
        if job.active:
            try:
                job.features = (al.image_features(items) if job.task_type == "image"
                                else al.text_features([x or "" for x in items]))
            except ValueError as e:  # e.g. no word seen twice in the whole input
                raise _Failed(f"ClientError: Automated data labeling could not read features from the data "
                              f"objects: {e}") from None

    # -- human work ---------------------------------------------------------------------------------------
    def _human_batch(self, job: LabelingJob, objects: list[int]):
        """Send ``objects`` to the work team; each label lands at the virtual instant its last answer comes in."""
        if not objects:
            return
        htc = job.htc
        k = htc["NumberOfHumanWorkersPerDataObject"]
        default_life = PUBLIC_DEFAULT_LIFETIME if job.workforce.kind == "public" else PRIVATE_DEFAULT_LIFETIME
        now = self._clock.seconds
        results = wf.run_tasks(job.workforce, objects, job.truth, len(job.categories), k, now,
                               htc.get("MaxConcurrentTaskCount", DEFAULT_CONCURRENCY), htc["TaskTimeLimitInSeconds"],
                               htc.get("TaskAvailabilityLifetimeInSeconds", default_life), job.task_type, job.rng)
        for r in results:
            if r.answers:
                job.answers[r.index] = r.answers
        done = sorted(job.answers)
        classes, posteriors = wf.consolidate([job.answers[i] for i in done], len(job.categories))
        where = {i: n for n, i in enumerate(done)}
        self._log(job, f"Sent {len(objects)} data objects to {k} worker(s) each ({job.workforce.kind} work team)")
        for r in sorted(results, key=lambda r: (r.done, r.index)):
            wait = r.done - self._clock.seconds
            if wait > 0:
                yield self._clock.env.timeout(wait)
            if r.failed:
                job.failed[r.index] = "ClientError: The task expired before any worker completed it."
            else:
                n = where[r.index]
                several = len(r.answers) > 1
                confidence = round(float(posteriors[n].max()), 2) if several else 0.0
                job.labels[r.index] = Label(int(classes[n]), confidence, True, self._clock.seconds,
                                            posteriors[n].copy() if several else None)
                job.answered_tasks += len(r.answers)
            job.last_modified = self._clock.seconds

    def _budget(self, job: LabelingJob, humans: bool) -> int | None:
        """How many more objects the stopping conditions allow (None: no limit)."""
        sc = job.request.get("StoppingConditions", {})
        left = []
        if "MaxPercentageOfInputDatasetLabeled" in sc:
            cap = max(1, len(job.records) * sc["MaxPercentageOfInputDatasetLabeled"] // 100)
            left.append(cap - len(job.labels))
        if humans and "MaxHumanLabeledObjectCount" in sc:
            left.append(sc["MaxHumanLabeledObjectCount"] - job.human_count)
        return max(0, min(left)) if left else None

    def _check_conditions(self, job: LabelingJob) -> None:
        if job.counters()["Unlabeled"] == 0:
            return
        sc = job.request.get("StoppingConditions", {})
        if "MaxHumanLabeledObjectCount" in sc and job.human_count >= sc["MaxHumanLabeledObjectCount"]:
            raise _ConditionMet(f"MaxHumanLabeledObjectCount ({sc['MaxHumanLabeledObjectCount']}) reached")
        if "MaxPercentageOfInputDatasetLabeled" in sc and self._budget(job, humans=False) == 0:
            raise _ConditionMet(f"MaxPercentageOfInputDatasetLabeled ({sc['MaxPercentageOfInputDatasetLabeled']}%) "
                                "reached")

    @staticmethod
    def _capped(objects: list[int], budget: int | None) -> list[int]:
        return objects if budget is None else objects[:budget]

    def _humans_only(self, job: LabelingJob):
        todo = [i for i in range(len(job.records)) if i not in job.failed]
        yield from self._human_batch(job, self._capped(todo, self._budget(job, humans=True)))
        self._check_conditions(job)

    # -- automated data labeling ----------------------------------------------------------------------
    def _al_phase(self, job: LabelingJob, phase: str, objects: int):
        """Active learning's training or batch inference: instances launched and billed per second."""
        fixed, per_object = AL_SECONDS[phase]
        seconds = round(float(job.rng.uniform(*AL_LAUNCH)) + fixed + per_object * objects)
        start = self._clock.seconds
        try:
            yield self._clock.env.timeout(seconds)
        finally:
            job.al_seconds[phase] += self._clock.seconds - start

    def _active_learning(self, job: LabelingJob):
        htc = job.htc
        concurrency = htc.get("MaxConcurrentTaskCount", DEFAULT_CONCURRENCY)
        usable = [i for i in range(len(job.records)) if i not in job.failed]
        order = [usable[i] for i in job.rng.permutation(len(usable))]
        n_val = al.validation_size(len(job.records))
        validation_set = order[:n_val]
        sample = order[:n_val + concurrency]
        self._log(job, f"Automated data labeling: {len(validation_set)} validation objects and "
                       f"{len(sample) - len(validation_set)} training objects sent to humans first")
        yield from self._human_batch(job, self._capped(sample, self._budget(job, humans=True)))
        failed = sum(1 for i in sample if i in job.failed)
        if failed > MAX_SAMPLE_FAILURES * len(sample):
            raise _Failed(f"ClientError: {failed} of the {len(sample)} data objects of the initial random sample "
                          "could not be labeled by human workers (more than 10%), so automated data labeling "
                          "cannot continue.")
        self._check_conditions(job)
        val = set(validation_set)
        seed = int(wf.stable_seed(self.world.seed)[0] % (2**31))
        while True:
            unlabeled = [i for i in usable if i not in job.labels and i not in job.failed]
            if not unlabeled:
                return
            job.iterations += 1
            train = sorted(i for i, lb in job.labels.items() if lb.human and i not in val)
            train_labels = [job.labels[i].cls for i in train]
            to_humans = unlabeled
            if al.can_train(train_labels):
                yield from self._al_phase(job, "training", len(train))
                try:
                    model = al.Model(job.task_type, job.features, train, train_labels, seed)
                except ValueError as e:
                    raise _Failed(f"ClientError: Automated data labeling could not train its model: {e}") from None
                scored = [i for i in validation_set if i in job.labels]
                yield from self._al_phase(job, "inference", len(scored) + len(unlabeled))
                pred_v, conf_v = model.score(scored)
                correct = np.array([self._agreement(job.labels[i], int(p)) for i, p in zip(scored, pred_v)])
                threshold = al.choose_threshold(conf_v, correct)
                pred_u, conf_u = model.score(unlabeled)
                chosen: list[int] = []
                if threshold is not None:
                    ranked = sorted((n for n in range(len(unlabeled)) if conf_u[n] >= threshold.value),
                                    key=lambda n: (-conf_u[n], unlabeled[n]))
                    chosen = self._capped(ranked, self._budget(job, humans=False))
                    now = self._clock.seconds
                    for n in chosen:
                        job.labels[unlabeled[n]] = Label(int(pred_u[n]), round(float(conf_u[n]), 2), False, now)
                    job.last_modified = now
                    self._log(job, f"Iteration {job.iterations}: model trained on {len(train)} human labels; "
                                   f"confidence threshold {threshold.value:.4f} ({threshold.support} validation "
                                   f"objects at {threshold.accuracy:.1%}); {len(chosen)} objects machine-labeled")
                else:
                    self._log(job, f"Iteration {job.iterations}: model trained on {len(train)} human labels "
                                   "does not reach 95% accuracy on the validation set; no machine labels")
                self.world.event(job.arn, "labeling", f"Active learning iteration {job.iterations}: "
                                                      f"{len(chosen)} objects machine-labeled")
                self._check_conditions(job)
                taken = set(chosen)
                rest = [n for n in range(len(unlabeled)) if n not in taken]
                rest.sort(key=lambda n: (conf_u[n], unlabeled[n]))  # least confident first
                to_humans = [unlabeled[n] for n in rest]
            if not to_humans:
                return
            batch = self._capped(to_humans[:concurrency], self._budget(job, humans=True))
            yield from self._human_batch(job, batch)
            self._check_conditions(job)

    @staticmethod
    def _agreement(label: Label, predicted: int) -> float:
        """The probability that ``predicted`` is right according to the consolidated human annotation."""
        if label.posterior is not None:
            return float(label.posterior[predicted])
        return 1.0 if predicted == label.cls else 0.0

    # -- output ---------------------------------------------------------------------------------------------
    def _manifest_line(self, job: LabelingJob, record: dict, label: Label) -> str:
        attr = job.request["LabelAttributeName"]
        rec = {k: v for k, v in record.items() if k not in (attr, f"{attr}-metadata")}
        head = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)[:-1]
        meta = ("{" + f"\"confidence\":{label.confidence:.2f},"
                + f"\"job-name\":{json.dumps('labeling-job/' + job.name.lower())},"
                + f"\"class-name\":{json.dumps(job.categories[label.cls], ensure_ascii=False)},"
                + f"\"human-annotated\":\"{'yes' if label.human else 'no'}\","
                + f"\"creation-date\":\"{self._clock.at(label.at).strftime('%Y-%m-%dT%H:%M:%S.%f')}\","
                + f"\"type\":\"{OUTPUT_TYPE[job.task_type]}\"" + "}")
        return f"{head},{json.dumps(attr)}:{label.cls},{json.dumps(attr + '-metadata')}:{meta}" + "}"

    def _write_output(self, job: LabelingJob) -> None:
        out = job.request["OutputConfig"]["S3OutputPath"].rstrip("/")
        try:
            bucket, prefix = parse_uri(out + "/")
        except ValueError:
            raise _Failed(f"ClientError: S3OutputPath {out} is not a valid S3 URI.") from None
        key = f"{prefix}{job.name}/manifests/output/output.manifest"
        s3 = self._s3()
        if bucket not in s3.buckets:
            raise _Failed(f"ClientError: Failed to write the output manifest to s3://{bucket}/{key}: The specified "
                          "bucket does not exist")
        principal = self._iam().session_arn(job.request["RoleArn"], "SageMaker-GroundTruth")
        decision = s3.authorize(principal, "s3:PutObject", bucket, key)
        if not decision.allowed:
            raise _Failed(f"ClientError: Failed to write the output manifest: AccessDenied (403): User: {principal} "
                          f"is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::{bucket}/{key} "
                          f"{decision.explain('s3:PutObject')}")
        lines = [self._manifest_line(job, job.records[i], job.labels[i])
                 for i in range(len(job.records)) if i in job.labels]
        body = "".join(x + "\n" for x in lines).encode("utf-8")
        s3.put_bytes(bucket, key, body, "application/octet-stream")
        job.output_uri = f"s3://{bucket}/{key}"

    # -- billing ------------------------------------------------------------------------------------------
    def _bill(self, job: LabelingJob) -> None:
        ledger = self.world.ledger
        start, end = job.created, job.end
        human, machine = job.human_count, job.machine_count
        remaining = human + machine
        for key, ceiling in OBJECT_TIERS:
            if remaining == 0:
                break
            room = remaining if ceiling is None else max(0, ceiling - self._objects_billed)
            count = min(remaining, room)
            if count == 0:
                continue
            price = unit_price(key)
            ledger.add(line(job.arn, "sagemaker", "groundtruth-labeled-objects", count, "object", price.usd,
                            "per-object", start=start, end=end,
                            description=f"{count} labeled objects ({human} by humans, {machine} by machine in this "
                                        f"job) at the {key.removeprefix('groundtruth-object-')} tier rate"))
            self._objects_billed += count
            remaining -= count
        force = job.workforce
        if job.answered_tasks:
            if force.kind == "public":
                tenth = wf.price_tenth_cents(job.htc["PublicWorkforceTaskPrice"])
                ledger.add(line(job.arn, "sagemaker", "groundtruth-public-tasks", job.answered_tasks,
                                "task", wf.usd(tenth), "per-task", start=start, end=end,
                                description=f"{job.answered_tasks} tasks answered by Amazon Mechanical Turk workers "
                                            f"({human} objects x up to "
                                            f"{job.htc['NumberOfHumanWorkersPerDataObject']} workers) at "
                                            f"{wf.usd(tenth)} USD per task"))
            elif force.kind == "vendor" and force.price_per_task is not None:
                ledger.add(line(job.arn, "sagemaker", "groundtruth-vendor-tasks", job.answered_tasks,
                                "task", force.price_per_task, "per-task", start=start, end=end,
                                description=f"{job.answered_tasks} tasks answered by the vendor's workers at "
                                            f"{force.price_per_task} USD per task"))
        for phase, kind, n in (("training", "training", 0), ("inference", "transform", 1)):
            seconds = int(round(job.al_seconds[phase]))
            if seconds <= 0:
                continue
            instance = AL_INSTANCES[job.task_type][n]
            rate = per_second(hourly_price(kind, instance).usd)
            ledger.add(line(job.arn, "sagemaker", f"autolabel-{phase}-seconds", seconds,
                            "instance-second", rate, "on-demand", instance_type=instance, instance_count=1,
                            start=start, end=end,
                            description=f"Automated data labeling {phase}: {seconds} s on one {instance} over "
                                        f"{job.iterations} iteration(s)"))
        total = sum((li.amount for li in ledger.bill() if li.resource_arn == job.arn), Decimal(0))
        self.world.event(job.arn, "billing", f"Labeling job charges: {total} USD")
