"""Hyperparameter tuning jobs (CreateHyperParameterTuningJob and friends).

A tuning job is one SimPy process (``_run``): it asks its strategy
(``search.py``) for hyperparameters, launches each child as a real training job
through the training backend, keeps at most MaxParallelTrainingJobs of them in
progress at every virtual instant, and ends when its last child ends. Children
are ordinary training jobs: they really train, log, appear in ListTrainingJobs
and on the bill. Early stopping (``Auto``) and Hyperband watch every epoch of a
child through the training job's ``unit_gate``. See docs/tuning.md.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from engine.algorithms import BUILTINS
from engine.errors import ServiceError, not_found, resource_in_use, resource_limit, validation
from engine.protocol.client import Call
from engine.services.sagemaker import images, listing
from engine.services.sagemaker.search import (
    BayesianSearch,
    Dim,
    GridSearch,
    Observation,
    RandomSearch,
    Rungs,
    Searcher,
    Space,
    median_rule,
)

TERMINAL = ("Completed", "Stopped", "Failed")
MAX_TUNABLE = 30
MAX_HYPERPARAMETERS = 100
MAX_TRAINING_JOBS = 750  # per tuning job, parents' jobs included for warm start
MAX_PARALLEL = 10  # the default quota; AWS raises it to 100 on request
MAX_CONCURRENT_TUNING_JOBS = 100
MAX_HYPERBAND_RESOURCE = 20_000
MAX_TUNABLE_STATIC_CHANGES = 10
#: Static hyperparameters Hyperband reads MaxResource from (AWS's list, then XGBoost's num_round).
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
XGBOOST_EPOCH_KEY = "num_round"
#: Auto scaling picks Logarithmic for a positive range spanning at least this ratio (max / min).
AUTO_LOG_RATIO = 100.0
#: Early stopping Auto compares with at least this many earlier jobs.
MEDIAN_RULE_MIN_JOBS = 3
#: The tuning job fails when this many children (or all of them, if fewer) gave no objective and none did.
FAILED_CHILDREN_LIMIT = 3

METRIC_REQUIRED = ("A metric is required for this hyperparameter tuning job objective. Provide a metric in the "
                   "metric definitions.")


def _per_epoch(algorithm: str | None, metric: str) -> bool:
    """Whether the algorithm emits ``metric`` after every epoch, as early stopping and Hyperband need.

    AWS lists XGBoost, Linear Learner (objective_loss only) and Image Classification among the
    built-ins here; script mode and your own containers emit what their MetricDefinitions match.
    """
    if algorithm is None:
        return True
    if algorithm == "linear-learner":
        return metric.endswith(":objective_loss")
    return algorithm in ("xgboost", "image-classification")


@dataclass
class Child:
    index: int
    name: str
    point: dict[str, Any]
    tuned: dict[str, str]
    job: Any  # training.TrainingJob
    seen: bool = False  # the tuning job has taken its result into account


@dataclass
class TuningJob:
    name: str
    arn: str
    request: dict[str, Any]
    config: dict[str, Any]
    definition: dict[str, Any]
    created: float
    principal: str
    metric: str
    objective_type: str
    space: Space
    static: dict[str, str]
    strategy: str
    seed: int
    max_jobs: int
    max_parallel: int
    algorithm: str | None  # built-in name, None for script mode / BYOC
    searcher: Searcher
    prior: list[Observation] = field(default_factory=list)
    parents: list[TuningJob] = field(default_factory=list)
    rungs: Rungs | None = None
    status: str = "InProgress"
    last_modified: float = 0.0
    end: float | None = None
    failure: str | None = None
    children: list[Child] = field(default_factory=list)
    stop_requested: bool = False
    stop_reason: str | None = None  # "user", "maxruntime", "failed", "criteria"
    not_improving: int = 0
    best_score: float | None = None
    wake: Any = None
    process: Any = None

    def score(self, value: float) -> float:
        return value if self.objective_type == "Maximize" else -value

    def objective(self, child: Child) -> float | None:
        """The child's final objective value, when it reported a finite one."""
        v = child.job.final_metrics.get(self.metric)
        return float(v) if v is not None and math.isfinite(float(v)) else None

    def objective_status(self, child: Child) -> str:
        if self.objective(child) is not None:
            return "Succeeded"
        return "Pending" if child.job.status not in TERMINAL else "Failed"


def _number(text: str, integer: bool, what: str, name: str) -> float:
    try:
        x = float(text)
        if not math.isfinite(x):
            raise ValueError
    except (TypeError, ValueError):
        raise validation(f"The {what} '{text}' of hyperparameter '{name}' is not a valid "
                         f"{'integer' if integer else 'number'}.") from None
    if integer and not x.is_integer():
        raise validation(f"The {what} '{text}' of hyperparameter '{name}' is not a valid integer.")
    return x


class Tuning:
    """The hyperparameter-tuning half of the SageMaker backend."""

    def __init__(self, world):
        self.world = world
        self.jobs: dict[str, TuningJob] = {}

    # -- helpers -----------------------------------------------------------------
    @property
    def clock(self):
        return self.world.clock

    @property
    def _training(self):
        return self.world.services["sagemaker"].training

    def _job(self, name: str) -> TuningJob:
        tj = self.jobs.get(name)
        if tj is None:
            raise not_found()
        return tj

    def _set_status(self, tj: TuningJob, status: str, message: str) -> None:
        tj.status = status
        tj.last_modified = self.clock.seconds
        self.world.event(tj.arn, "status", message, status)

    # -- validation at Create ------------------------------------------------------
    def _definition(self, req: dict) -> dict:
        single = req.get("TrainingJobDefinition")
        many = req.get("TrainingJobDefinitions")
        if single and many:
            raise validation("Only one of TrainingJobDefinition or TrainingJobDefinitions may be specified.")
        if many:
            if len(many) > 1:
                raise validation("SageTutor simulates tuning jobs with one training job definition; pass it as "
                                 "TrainingJobDefinition.")
            return many[0]
        if not single:
            raise validation("A training job definition is required: specify TrainingJobDefinition.")
        return single

    def _objective(self, config: dict, definition: dict) -> tuple[str, str]:
        obj = definition.get("TuningObjective") or config.get("HyperParameterTuningJobObjective")
        if not obj:
            raise validation("HyperParameterTuningJobObjective is required for this hyperparameter tuning job.")
        return obj["MetricName"], obj["Type"]

    def _algorithm(self, definition: dict, metric: str) -> str | None:
        """Check the objective metric against what the algorithm emits; the built-in's name or None."""
        spec = definition["AlgorithmSpecification"]
        uri = spec.get("TrainingImage")
        image = images.resolve(uri, self.world.account) if uri else None
        if image is not None and image.kind == "builtin":
            algo = BUILTINS[image.algorithm]
            if metric not in {m.name for m in algo.metrics}:
                raise validation(METRIC_REQUIRED)
            return image.algorithm
        if metric not in {d["Name"] for d in spec.get("MetricDefinitions") or []}:
            raise validation(METRIC_REQUIRED)
        return None

    def _space(self, ranges: dict, static: dict[str, str]) -> Space:
        dims: list[Dim] = []
        names: list[str] = []
        for kind, key in (("Integer", "IntegerParameterRanges"), ("Continuous", "ContinuousParameterRanges")):
            for r in ranges.get(key) or []:
                name = r["Name"]
                integer = kind == "Integer"
                low = _number(r["MinValue"], integer, "MinValue", name)
                high = _number(r["MaxValue"], integer, "MaxValue", name)
                if low > high:
                    raise validation(f"The MinValue '{r['MinValue']}' of hyperparameter '{name}' must be less than "
                                     f"or equal to its MaxValue '{r['MaxValue']}'.")
                scaling = r.get("ScalingType", "Auto")
                if scaling == "Logarithmic" and low <= 0:
                    raise validation(f"The hyperparameter '{name}' has ScalingType Logarithmic and MinValue "
                                     f"'{r['MinValue']}'. Logarithmic scaling works only for ranges that have only "
                                     "values greater than 0.")
                if scaling == "ReverseLogarithmic":
                    if integer:
                        raise validation(f"The hyperparameter '{name}' is an integer range with ScalingType "
                                         "ReverseLogarithmic. Reverse logarithmic scaling is supported only for "
                                         "continuous hyperparameters.")
                    if low < 0 or high >= 1:
                        raise validation(f"The hyperparameter '{name}' has ScalingType ReverseLogarithmic and the "
                                         f"range [{r['MinValue']}, {r['MaxValue']}]. Reverse logarithmic scaling "
                                         "works only for ranges that are entirely within the range 0<=x<1.0.")
                if scaling == "Auto":
                    scaling = "Logarithmic" if low > 0 and high / low >= AUTO_LOG_RATIO else "Linear"
                dims.append(Dim(name, kind, low, high, scaling))
                names.append(name)
        for r in ranges.get("CategoricalParameterRanges") or []:
            dims.append(Dim(r["Name"], "Categorical", values=tuple(dict.fromkeys(r["Values"]))))
            names.append(r["Name"])
        if ranges.get("AutoParameters"):
            raise validation("SageTutor does not simulate AutoParameters (Autotune); give explicit parameter ranges.")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise validation(f"The hyperparameter '{dupes[0]}' appears in more than one parameter range.")
        both = sorted(set(names) & set(static))
        if both:
            raise validation(f"The hyperparameter '{both[0]}' is given both as a static hyperparameter and in a "
                             "parameter range. A hyperparameter is either static or tunable.")
        if len(dims) > MAX_TUNABLE:
            raise validation(f"The hyperparameter tuning job has {len(dims)} tunable hyperparameters; the maximum "
                             f"is {MAX_TUNABLE}.")
        if len(dims) + len(static) + 1 > MAX_HYPERPARAMETERS:
            raise validation(f"The number of static plus tunable hyperparameters, with _tuning_objective_metric, "
                             f"is {len(dims) + len(static) + 1}; the maximum is {MAX_HYPERPARAMETERS}.")
        return Space(dims)

    def _hyperband(self, config: dict, static: dict[str, str], algorithm: str | None) -> Rungs:
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise validation("TrainingJobEarlyStoppingType must be Off to use the Hyperband strategy, which has its "
                             "own internal early stopping mechanism.")
        hb = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        max_r = hb.get("MaxResource")
        if max_r is None:
            keys = EPOCH_KEYS + ((XGBOOST_EPOCH_KEY,) if algorithm == "xgboost" else ())
            for k in keys:
                if k in static:
                    try:
                        max_r = int(float(static[k]))
                    except ValueError:
                        raise validation(f"Hyperband could not infer MaxResource: the static hyperparameter "
                                         f"'{k}' is '{static[k]}', not an integer.") from None
                    break
        if max_r is None:
            raise validation("HyperbandStrategyConfig is unable to infer a value for MaxResource: provide "
                             "StrategyConfig.HyperbandStrategyConfig.MaxResource or one of the static "
                             f"hyperparameters {', '.join(EPOCH_KEYS)}.")
        if not 1 <= max_r <= MAX_HYPERBAND_RESOURCE:
            raise validation(f"MaxResource must be between 1 and {MAX_HYPERBAND_RESOURCE} epochs; got {max_r}.")
        min_r = hb.get("MinResource", 1)
        if min_r > max_r:
            raise validation(f"MinResource ({min_r}) must be less than or equal to MaxResource ({max_r}).")
        return Rungs(min_r, max_r)

    def _resources(self, config: dict, space: Space, strategy: str) -> tuple[int, int]:
        limits = config["ResourceLimits"]
        parallel = limits["MaxParallelTrainingJobs"]
        size = space.size()
        if strategy == "Grid":
            if not space.dims or any(not d.categorical for d in space.dims):
                others = [d.name for d in space.dims if not d.categorical]
                raise validation("The Grid search strategy supports only categorical parameters: use "
                                 "CategoricalParameterRanges only"
                                 + (f" (found {', '.join(others)})." if others else "."))
            count = limits.get("MaxNumberOfTrainingJobs")
            if count is not None and count != size:
                raise validation(f"For the Grid strategy, MaxNumberOfTrainingJobs must equal the number of distinct "
                                 f"hyperparameter combinations ({size}), or be omitted; got {count}.")
            count = size
        else:
            count = limits.get("MaxNumberOfTrainingJobs")
            if count is None:
                raise validation(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy.")
            if strategy in ("Bayesian", "Random") and size is not None and size < count:
                raise validation("You don't have enough combinations of hyperparameter ranges. The total number of "
                                 f"hyperparameter combinations for the provided ranges [{float(size)}] must be "
                                 f"equal or greater than the value of MaxNumberOfJobs, [{count}]. Provide "
                                 "additional ranges.")
        if count > MAX_TRAINING_JOBS:
            raise resource_limit(self._quota("Number of training jobs per hyperparameter tuning job",
                                             MAX_TRAINING_JOBS, 0, count))
        if parallel > MAX_PARALLEL:
            raise resource_limit(self._quota("Number of parallel training jobs per hyperparameter tuning job",
                                             MAX_PARALLEL, 0, parallel))
        return count, parallel

    @staticmethod
    def _quota(name: str, limit: int, used: int, delta: int) -> str:
        return (f"The account-level service limit '{name}' is {limit} Jobs, with current utilization of {used} Jobs "
                f"and a request delta of {delta} Jobs. Please use AWS Service Quotas to request an increase for "
                "this quota.")

    def _warm_start(self, req: dict, metric: str, objective_type: str, space: Space, static: dict[str, str],
                    definition: dict, max_jobs: int) -> list[TuningJob]:
        ws = req["WarmStartConfig"]
        parents: list[TuningJob] = []
        for p in ws["ParentHyperParameterTuningJobs"]:
            name = p.get("HyperParameterTuningJobName")
            parent = self.jobs.get(name or "")
            if parent is None:
                raise validation(f"The parent hyperparameter tuning job {name} does not exist.")
            if parent.status not in TERMINAL:
                raise validation(f"The parent hyperparameter tuning job {name} is in status {parent.status}. Parent "
                                 "jobs of a warm start tuning job must be Completed, Stopped or Failed.")
            if parent.metric != metric or parent.objective_type != objective_type:
                raise validation(f"The objective metric of a warm start tuning job must be the same as in all of its "
                                 f"parent jobs: {name} uses {parent.objective_type} {parent.metric}, this job "
                                 f"{objective_type} {metric}.")
            mine = {d.name for d in space.dims} | set(static)
            theirs = {d.name for d in parent.space.dims} | set(parent.static)
            if mine != theirs:
                raise validation("The set of tunable plus static HyperParameter names is not the same across current "
                                 "and parent tuning jobs. Please ensure this set is constant when warm starting. Note "
                                 "that previously static HyperParameters can be tuned in warm start jobs and vice "
                                 "versa.")
            kinds = {d.name: d.kind for d in parent.space.dims}
            for d in space.dims:
                if d.name in kinds and kinds[d.name] != d.kind:
                    raise validation(f"The type of hyperparameter '{d.name}' is {d.kind} but was {kinds[d.name]} in "
                                     f"the parent tuning job {name}. Hyperparameter types cannot change when warm "
                                     "starting.")
            changed = len({d.name for d in space.dims} ^ set(kinds))
            if changed > MAX_TUNABLE_STATIC_CHANGES:
                raise validation(f"{changed} hyperparameters changed between tunable and static compared with the "
                                 f"parent tuning job {name}; at most {MAX_TUNABLE_STATIC_CHANGES} may change.")
            if ws["WarmStartType"] == "IdenticalDataAndAlgorithm":
                def uris(d: dict) -> list:
                    return sorted((c["ChannelName"], c["DataSource"].get("S3DataSource", {}).get("S3Uri"))
                                  for c in d.get("InputDataConfig") or [])
                if (parent.definition["AlgorithmSpecification"].get("TrainingImage")
                        != definition["AlgorithmSpecification"].get("TrainingImage")
                        or uris(parent.definition) != uris(definition)):
                    raise validation(f"A warm start tuning job of type IdenticalDataAndAlgorithm must use the same "
                                     f"training image and input data as its parent tuning job {name}. Use "
                                     "TransferLearning to change them.")
            parents.append(parent)
        used = sum(len(p.children) for p in parents)
        if used + max_jobs > MAX_TRAINING_JOBS:
            raise resource_limit(self._quota("Number of training jobs per hyperparameter tuning job",
                                             MAX_TRAINING_JOBS, used, max_jobs))
        return parents

    def _prior(self, space: Space, parents: list[TuningJob]) -> list[Observation]:
        """The parents' results in this job's space: what warm start gives the surrogate (not recursive)."""
        out: list[Observation] = []
        for parent in parents:
            for child in parent.children:
                value = parent.objective(child)
                if value is None:
                    continue
                hp = {**parent.static, **child.tuned}
                try:
                    point = {d.name: d.parse(hp[d.name]) for d in space.dims}
                except (KeyError, ValueError):
                    continue
                out.append(Observation(point, parent.score(value)))
        return out

    def _seed(self, name: str, config: dict) -> int:
        if "RandomSeed" in config:
            return int(config["RandomSeed"])
        digest = hashlib.sha256(f"{self.world.seed}:{name}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    # -- API ---------------------------------------------------------------------------
    def create_hyper_parameter_tuning_job(self, req: dict, call) -> dict:
        name = req["HyperParameterTuningJobName"]
        arn = self.world.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
        if name in self.jobs:
            raise resource_in_use("Hyperparameter tuning job names must be unique within an AWS account and region, "
                                  f"and a hyperparameter tuning job with this name already exists ({arn})")
        if req.get("Autotune"):
            raise validation("SageTutor does not simulate Autotune; give the strategy, ranges and resource limits.")
        running = sum(1 for j in self.jobs.values() if j.status in ("InProgress", "Stopping"))
        if running >= MAX_CONCURRENT_TUNING_JOBS:
            raise resource_limit(self._quota("Number of concurrent hyperparameter tuning jobs",
                                             MAX_CONCURRENT_TUNING_JOBS, running, 1))
        config = copy.deepcopy(req["HyperParameterTuningJobConfig"])
        definition = copy.deepcopy(self._definition(req))
        strategy = config["Strategy"]
        metric, objective_type = self._objective(config, definition)
        static = dict(definition.get("StaticHyperParameters") or {})
        static.pop("_tuning_objective_metric", None)
        if "ResourceConfig" not in definition and not definition.get("HyperParameterTuningResourceConfig"):
            raise validation("The training job definition must specify ResourceConfig or "
                             "HyperParameterTuningResourceConfig.")
        algorithm = self._algorithm(definition, metric)
        ranges = definition.get("HyperParameterRanges") or config.get("ParameterRanges") or {}
        space = self._space(ranges, static)
        rungs = self._hyperband(config, static, algorithm) if strategy == "Hyperband" else None
        if strategy != "Hyperband" and (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"):
            raise validation("StrategyConfig.HyperbandStrategyConfig can be given only with the Hyperband strategy.")
        max_jobs, parallel = self._resources(config, space, strategy)
        parents = []
        if req.get("WarmStartConfig"):
            parents = self._warm_start(req, metric, objective_type, space, static, definition, max_jobs)
        seed = self._seed(name, config)
        # AWS checks the training job definition at Create: a child that could not start fails the call.
        self._training._validate(self._child_request(name, definition, static, metric, self._child_name(name, seed, 1),
                                                     {}))
        prior = self._prior(space, parents)
        if strategy == "Bayesian":
            searcher: Searcher = BayesianSearch(space, seed, prior)
        elif strategy == "Grid":
            searcher = GridSearch(space, seed)
        else:
            searcher = RandomSearch(space, seed)
        if strategy == "Grid":
            config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = max_jobs
        config.setdefault("TrainingJobEarlyStoppingType", "Off")
        tj = TuningJob(name=name, arn=arn, request=copy.deepcopy(req), config=config, definition=definition,
                       created=self.clock.seconds, principal=call.principal, metric=metric,
                       objective_type=objective_type, space=space, static=static, strategy=strategy, seed=seed,
                       max_jobs=max_jobs, max_parallel=parallel, algorithm=algorithm, searcher=searcher,
                       prior=prior, parents=parents, rungs=rungs)
        tj.last_modified = tj.created
        self.jobs[name] = tj
        self.world.event(arn, "status", f"Hyperparameter tuning job created: {strategy}, up to {max_jobs} training "
                                        f"jobs, {parallel} at a time", "InProgress")
        tj.process = self.clock.start(self._run(tj))
        return {"HyperParameterTuningJobArn": arn}

    def describe_hyper_parameter_tuning_job(self, req: dict, call) -> dict:
        tj = self._job(req["HyperParameterTuningJobName"])
        at = self.clock.at
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": tj.name,
            "HyperParameterTuningJobArn": tj.arn,
            "HyperParameterTuningJobConfig": copy.deepcopy(tj.config),
            "HyperParameterTuningJobStatus": tj.status,
            "CreationTime": at(tj.created),
            "LastModifiedTime": at(tj.last_modified),
            "TrainingJobStatusCounters": self._status_counters(tj),
            "ObjectiveStatusCounters": self._objective_counters(tj),
            "ConsumedResources": {"RuntimeInSeconds": int((tj.end if tj.end is not None else self.clock.seconds)
                                                          - tj.created)},
        }
        if "TrainingJobDefinitions" in tj.request:
            out["TrainingJobDefinitions"] = [self._described(d) for d in tj.request["TrainingJobDefinitions"]]
        else:
            out["TrainingJobDefinition"] = self._described(tj.definition)
            metric = tj.config.get("HyperParameterTuningJobObjective", {}).get("MetricName")
            if metric:  # AWS answers with the reserved hyperparameter it adds to every training job's
                out["TrainingJobDefinition"]["StaticHyperParameters"] = {
                    **(out["TrainingJobDefinition"].get("StaticHyperParameters") or {}),
                    "_tuning_objective_metric": metric}
        if tj.end is not None:
            out["HyperParameterTuningEndTime"] = at(tj.end)
        best = self._best(tj)
        if best is not None:
            out["BestTrainingJob"] = self._summary(tj, best)
        if tj.parents:
            out["WarmStartConfig"] = copy.deepcopy(tj.request["WarmStartConfig"])
            overall = self._overall_best(tj)
            if overall is not None:
                out["OverallBestTrainingJob"] = self._summary(*overall)
        if tj.failure:
            out["FailureReason"] = tj.failure
        if tj.config.get("TuningJobCompletionCriteria", {}).get("BestObjectiveNotImproving"):
            out["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": tj.not_improving}
        return out

    def list_hyper_parameter_tuning_jobs(self, req: dict, call) -> dict:
        jobs = listing.select(list(self.jobs.values()), req, self.clock, default_by="Name",
                              default_order="Ascending")
        page, token = self._page(jobs, req)
        summaries = []
        for j in page:
            s = {"HyperParameterTuningJobName": j.name, "HyperParameterTuningJobArn": j.arn,
                 "HyperParameterTuningJobStatus": j.status, "Strategy": j.strategy,
                 "CreationTime": self.clock.at(j.created), "LastModifiedTime": self.clock.at(j.last_modified),
                 "TrainingJobStatusCounters": self._status_counters(j),
                 "ObjectiveStatusCounters": self._objective_counters(j),
                 "ResourceLimits": copy.deepcopy(j.config["ResourceLimits"])}
            if j.end is not None:
                s["HyperParameterTuningEndTime"] = self.clock.at(j.end)
            summaries.append(s)
        out: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    def list_training_jobs_for_hyper_parameter_tuning_job(self, req: dict, call) -> dict:
        tj = self._job(req["HyperParameterTuningJobName"])
        children = list(tj.children)
        if "StatusEquals" in req:
            children = [c for c in children if c.job.status == req["StatusEquals"]]
        sort_by = req.get("SortBy", "Name")
        if sort_by == "FinalObjectiveMetricValue":
            children = [c for c in children if tj.objective(c) is not None]
            keyf: Any = lambda c: (tj.objective(c), c.name)  # noqa: E731
        else:
            keyf = {"Name": lambda c: c.name, "CreationTime": lambda c: (c.job.created, c.name),
                    "Status": lambda c: (c.job.status, c.name)}[sort_by]
        children.sort(key=keyf, reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, token = self._page(children, req)
        out: dict[str, Any] = {"TrainingJobSummaries": [self._summary(tj, c) for c in page]}
        if token:
            out["NextToken"] = token
        return out

    def stop_hyper_parameter_tuning_job(self, req: dict, call) -> dict:
        tj = self._job(req["HyperParameterTuningJobName"])
        if tj.status != "InProgress":
            raise validation(f"The request was rejected because the hyperparameter tuning job is in status "
                             f"{tj.status}.")
        self._set_status(tj, "Stopping", "Stopping the hyperparameter tuning job")
        self._stop(tj, "user")
        return {}

    # -- responses ----------------------------------------------------------------------
    @staticmethod
    def _page(items: list, req: dict) -> tuple[list, str | None]:
        page, more = listing.page(items, req)
        return page, more.get("NextToken")

    def _status_counters(self, tj: TuningJob) -> dict[str, int]:
        counts = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
        for c in tj.children:
            status = c.job.status
            key = {"Failed": "NonRetryableError", "Stopping": "InProgress"}.get(status, status)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _objective_counters(self, tj: TuningJob) -> dict[str, int]:
        counts = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        for c in tj.children:
            counts[tj.objective_status(c)] += 1
        return counts

    def _summary(self, tj: TuningJob, c: Child) -> dict:
        at = self.clock.at
        job = c.job
        s: dict[str, Any] = {"TrainingJobName": job.name, "TrainingJobArn": job.arn, "TuningJobName": tj.name,
                             "CreationTime": at(job.created), "TrainingJobStatus": job.status,
                             "TunedHyperParameters": dict(c.tuned), "ObjectiveStatus": tj.objective_status(c)}
        if "TrainingJobDefinitions" in tj.request and tj.definition.get("DefinitionName"):
            s["TrainingJobDefinitionName"] = tj.definition["DefinitionName"]
        if job.start is not None:
            s["TrainingStartTime"] = at(job.start)
        if job.end is not None:
            s["TrainingEndTime"] = at(job.end)
        if job.failure:
            s["FailureReason"] = job.failure
        value = tj.objective(c)
        if value is not None:
            s["FinalHyperParameterTuningJobObjectiveMetric"] = {"Type": tj.objective_type, "MetricName": tj.metric,
                                                                "Value": value}
        return s

    def _best(self, tj: TuningJob) -> Child | None:
        best = None
        for c in tj.children:  # ties go to the earlier job
            v = tj.objective(c)
            if v is not None and (best is None or tj.score(v) > tj.score(tj.objective(best))):
                best = c
        return best

    def _overall_best(self, tj: TuningJob) -> tuple[TuningJob, Child] | None:
        pairs = [(j, b) for j in (tj, *tj.parents) if (b := self._best(j)) is not None]
        if not pairs:
            return None
        return max(pairs, key=lambda p: tj.score(p[0].objective(p[1])))

    # -- the children ---------------------------------------------------------------------
    @staticmethod
    def _child_name(name: str, seed: int, n: int) -> str:
        digest = hashlib.sha256(f"{seed}:{name}:{n}".encode()).hexdigest()
        return f"{name}-{n:03d}-{digest[:8]}"

    def _described(self, definition: dict[str, Any]) -> dict[str, Any]:
        """A training job definition as DescribeHyperParameterTuningJob answers it.

        As DescribeTrainingJob, a built-in's own ``MetricDefinitions`` when the request named none. A
        ``HyperParameterTuningResourceConfig`` naming one instance type (no ``InstanceConfigs``) is
        answered with the ``ResourceConfig`` its children run with beside it. The SageMaker Python SDK
        (2.257) submits every tuner's resources that way, and its ``HyperparameterTuner.attach``, which
        people run against AWS on tuners the SDK created, reads both ``ResourceConfig`` and
        ``MetricDefinitions`` from the description; what AWS adds beyond them is not modelled.
        """
        d = copy.deepcopy(definition)
        if d.get("AlgorithmSpecification"):
            d["AlgorithmSpecification"] = self._training._algorithm_specification(d["AlgorithmSpecification"])
        hrc = d.get("HyperParameterTuningResourceConfig") or {}
        if "ResourceConfig" not in d and hrc.get("InstanceType") and not hrc.get("InstanceConfigs"):
            d["ResourceConfig"] = _resource_config(d)
        return d

    @staticmethod
    def _child_request(tuning_name: str, definition: dict, static: dict[str, str], metric: str, name: str,
                       tuned: dict[str, str]) -> dict:
        d = copy.deepcopy(definition)
        spec = {k: v for k, v in d["AlgorithmSpecification"].items()
                if k in ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")}
        hp = {**static, **tuned, "_tuning_objective_metric": metric}
        req: dict[str, Any] = {"TrainingJobName": name, "RoleArn": d["RoleArn"], "AlgorithmSpecification": spec,
                               "HyperParameters": hp, "OutputDataConfig": d["OutputDataConfig"],
                               "ResourceConfig": _resource_config(d), "StoppingCondition": d["StoppingCondition"]}
        for key in ("InputDataConfig", "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                    "EnableManagedSpotTraining", "RetryStrategy", "Environment"):
            if key in d:
                req[key] = d[key]
        if d.get("CheckpointConfig"):  # each child checkpoints under its own prefix, never into a sibling's
            cp = dict(d["CheckpointConfig"])
            cp["S3Uri"] = cp["S3Uri"].rstrip("/") + f"/{name}/"
            req["CheckpointConfig"] = cp
        return req

    def _launch(self, tj: TuningJob, point: dict[str, Any]) -> Child:
        n = len(tj.children) + 1
        name = self._child_name(tj.name, tj.seed, n)
        tuned = tj.space.strings(point)
        req = self._child_request(tj.name, tj.definition, tj.static, tj.metric, name, tuned)
        training = self._training
        training.create_training_job(req, Call("sagemaker", "CreateTrainingJob", tj.principal))
        job = training.jobs[name]
        child = Child(n, name, point, tuned, job)
        tj.children.append(child)
        gate = self._gate(tj, child)
        if gate is not None:
            job.unit_gate = gate
        tj.last_modified = self.clock.seconds
        self.world.event(tj.arn, "tuning", f"Launched training job {name} with {tuned}")
        return child

    def _gate(self, tj: TuningJob, child: Child):
        """The per-epoch watcher for early stopping Auto or Hyperband (None: the child runs to its end)."""
        per_epoch = _per_epoch(tj.algorithm, tj.metric)
        if tj.rungs is not None:
            rungs = tj.rungs

            def hyperband(job, record) -> bool:
                value = record.metrics.get(tj.metric) if per_epoch else None
                score = tj.score(value) if value is not None and math.isfinite(value) else None
                if record.unit >= job.units_total:
                    return True  # the last epoch: the job completes by itself
                keep = rungs.keep(child.name, record.unit, score)
                if not keep:
                    why = ("reached MaxResource" if record.unit >= rungs.max_resource
                           else f"not in the best 1/{rungs.eta} at epoch {record.unit}")
                    self.world.event(tj.arn, "tuning", f"Hyperband stops {child.name}: {why}")
                return keep

            return hyperband
        if tj.config.get("TrainingJobEarlyStoppingType") == "Auto" and per_epoch:
            def early(job, record) -> bool:
                value = record.metrics.get(tj.metric)
                if value is None or not math.isfinite(value) or record.unit >= job.units_total:
                    return True
                earlier = [self._history(tj, c, record.unit) for c in tj.children[:child.index - 1]]
                if median_rule(tj.score(value), [h for h in earlier if h], MEDIAN_RULE_MIN_JOBS):
                    self.world.event(tj.arn, "tuning", f"Early stopping {child.name} at epoch {record.unit}: "
                                                       f"{tj.metric} {value:.6g} is worse than the median of the "
                                                       "earlier jobs' running averages")
                    return False
                return True

            return early
        return None

    @staticmethod
    def _history(tj: TuningJob, c: Child, epoch: int) -> list[float]:
        """The child's objective scores for epochs 1..epoch ([] if it has not reached that epoch)."""
        by_unit: dict[int, float] = {}
        for rec in c.job.unit_records:
            v = rec.metrics.get(tj.metric)
            if v is not None and math.isfinite(v):
                by_unit[rec.unit] = tj.score(v)
        if epoch not in by_unit:
            return []
        return [by_unit[u] for u in sorted(by_unit) if u <= epoch]

    def _stop(self, tj: TuningJob, reason: str) -> None:
        """Stop launching, stop the children in progress and wake the tuning job's process."""
        if not tj.stop_requested:
            tj.stop_requested = True
            tj.stop_reason = reason
        for c in tj.children:
            if c.job.status == "InProgress":
                self._training.stop_training_job({"TrainingJobName": c.name},
                                                 Call("sagemaker", "StopTrainingJob", tj.principal))
        if tj.wake is not None and not tj.wake.triggered:
            tj.wake.succeed()

    # -- the tuning job's life --------------------------------------------------------------
    def _observed(self, tj: TuningJob) -> list[Observation]:
        return [Observation(c.point, tj.score(v)) for c in tj.children
                if c.job.status in TERMINAL and (v := tj.objective(c)) is not None]

    def _take_results(self, tj: TuningJob) -> None:
        """Account for children that ended since the last look: completion criteria and failures."""
        criteria = tj.config.get("TuningJobCompletionCriteria") or {}
        target = criteria.get("TargetObjectiveMetricValue")
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        for c in tj.children:
            if c.seen or c.job.status not in TERMINAL:
                continue
            c.seen = True
            v = tj.objective(c)
            if v is None:
                continue
            s = tj.score(v)
            if tj.best_score is None or s > tj.best_score + 0.01 * abs(tj.best_score):
                tj.not_improving = 0
            else:
                tj.not_improving += 1
            tj.best_score = s if tj.best_score is None else max(tj.best_score, s)
            if target is not None and s >= tj.score(target) and not tj.stop_requested:
                tj.stop_requested, tj.stop_reason = True, "criteria"
                self.world.event(tj.arn, "tuning", f"TargetObjectiveMetricValue {target} reached by {c.name}")
            if patience and tj.not_improving >= patience and not tj.stop_requested:
                tj.stop_requested, tj.stop_reason = True, "criteria"
                self.world.event(tj.arn, "tuning", f"The objective has not improved by 1% in {patience} training jobs")
        failed = [c for c in tj.children if tj.objective_status(c) == "Failed"]
        succeeded = any(tj.objective_status(c) == "Succeeded" for c in tj.children)
        if not succeeded and failed and len(failed) >= min(FAILED_CHILDREN_LIMIT, tj.max_jobs) \
                and tj.stop_reason != "failed":
            tj.failure = self._failure_reason(tj, failed[0])
            self._stop(tj, "failed")
            tj.stop_reason = "failed"

    def _failure_reason(self, tj: TuningJob, child: Child) -> str:
        if child.job.failure:
            kind = child.job.failure.split(":", 1)[0] if ":" in child.job.failure else "ClientError"
            return (f"One or more training jobs failed with {kind}. For additional details, please take a look at "
                    "the training job failures by listing training jobs for the hyperparameter tuning job.")
        return (f"The training jobs did not emit the objective metric {tj.metric}. For additional details, please "
                "take a look at the training jobs by listing training jobs for the hyperparameter tuning job.")

    def _run(self, tj: TuningJob):
        env = self.clock.env
        limit = tj.config["ResourceLimits"].get("MaxRuntimeInSeconds")
        deadline = tj.created + limit if limit else None
        while True:
            self._take_results(tj)
            running = [c for c in tj.children if c.job.status not in TERMINAL]
            while not tj.stop_requested and len(running) < tj.max_parallel and len(tj.children) < tj.max_jobs:
                point = tj.searcher.suggest(self._observed(tj), [c.point for c in running])
                if point is None:
                    break
                try:
                    running.append(self._launch(tj, point))
                except ServiceError as e:  # e.g. the role was deleted since Create
                    tj.failure = f"Failed to launch a training job: {e.message}"[:1024]
                    self._stop(tj, "failed")
            if not running:
                break
            tj.wake = env.event()
            events = [c.job.process for c in running if c.job.process is not None] + [tj.wake]
            if deadline is not None and not tj.stop_requested:
                events.append(env.timeout(max(0.0, deadline - self.clock.seconds)))
            yield env.any_of(events)
            if deadline is not None and self.clock.seconds >= deadline and not tj.stop_requested:
                self.world.event(tj.arn, "tuning", "MaxRuntimeInSeconds reached: stopping the training jobs")
                self._set_status(tj, "Stopping", "Stopping the hyperparameter tuning job: MaxRuntimeInSeconds")
                self._stop(tj, "maxruntime")
        self._take_results(tj)
        tj.end = self.clock.seconds
        if tj.stop_reason in ("user", "maxruntime"):
            self._set_status(tj, "Stopped", "Hyperparameter tuning job stopped")
        elif tj.failure is not None or not any(tj.objective(c) is not None for c in tj.children):
            tj.failure = tj.failure or (self._failure_reason(tj, tj.children[0]) if tj.children
                                        else "No training job was launched.")
            self._set_status(tj, "Failed", f"Hyperparameter tuning job failed: {tj.failure}")
        else:
            best = self._best(tj)
            self._set_status(tj, "Completed", f"Hyperparameter tuning job completed; best training job {best.name} "
                                              f"({tj.metric} = {tj.objective(best):.6g})")


def _resource_config(definition: dict[str, Any]) -> dict[str, Any]:
    """The ResourceConfig a tuning job's children run with: the definition's own, else its
    HyperParameterTuningResourceConfig's instance type (or its first InstanceConfigs entry), count 1 and
    a 30 GB volume unless given."""
    if "ResourceConfig" in definition:
        return definition["ResourceConfig"]
    hrc = definition["HyperParameterTuningResourceConfig"]
    first = (hrc.get("InstanceConfigs") or [{}])[0]
    return {"InstanceType": hrc.get("InstanceType", first.get("InstanceType")),
            "InstanceCount": hrc.get("InstanceCount", first.get("InstanceCount", 1)),
            "VolumeSizeInGB": hrc.get("VolumeSizeInGB", first.get("VolumeSizeInGB", 30))}
