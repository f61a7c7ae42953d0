"""Run a plan (a question option's ``run:``) on a fresh engine.

``run_plan(steps, seed)`` executes the steps of ``sagetutor.packs.plan`` on ``Engine(seed)``,
one engine API call (or a few, for ``deploy``) per step, through the engine's boto3-shaped
clients, so the runtime depends only on AWS's request and response shapes. It returns a
``PlanRun``: the engine after the plan, and what the runner saw on the way (each step's
status, the API errors, requests and their latencies). ``sagetutor.quiz.outcome`` turns that
into the outcome a learner sees.

How a plan runs (docs/pack-format.md, "The plan language"; docs/quiz-runtime.md):

* Steps start work and do not wait for it; the next step runs at the same virtual instant.
  A step that needs an earlier result waits for exactly that (``deploy`` for its model,
  ``invoke``/``traffic``/``autoscale`` for the endpoint to be InService, ``studio`` for its
  domain), ``wait`` and ``advance`` let time pass, and the plan ends when no work is in
  progress (``run_until_idle``). Standing resources (endpoints, notebooks, apps) keep
  billing until then.
* Only injected faults happen: the runner turns the engine's natural Spot interruptions
  off, so a plan shows what it declares (``interrupt_spot``, ``spot_capacity``).
* Resources are named after their steps (step ``train`` -> training job ``train``), so the
  same step in two options trains with the same seed (and ``sagetutor.quiz.shared`` can share
  its model). Outputs, checkpoints and captures go to ``s3://sagemaker-us-east-1-123456789012``,
  the SageMaker SDK's default bucket.
* An API call the engine refuses is recorded (``error``) and the plan goes on; a step whose
  input never came (a model from a failed training) is skipped with a note.
* ``network`` and ``key`` steps (and what only they make possible) need an engine security
  layer that does not exist yet: such a plan raises ``PlanNotSupported`` before anything runs.

Waiting is exact: the runner steps the engine's virtual clock event by event until the
condition holds (the engine's ``Clock.run_until``), instead of a waiter's fixed polling
delay. That is the one place the runner reaches past the clients; ``_Clock`` below is the
whole of it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
DATA = "sagetutor-datasets"
DEFAULT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"
PUBLIC_WORKTEAM = f"arn:aws:sagemaker:{REGION}:394669845002:workteam/public-crowd/default"
VENDOR_WORKTEAM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/vendor-crowd/sagetutor-vendor"
LABELING_ALGORITHM = f"arn:aws:sagemaker:{REGION}:027400017018:labeling-job-algorithm-specification/{{}}"
LABELING_LAMBDA = f"arn:aws:lambda:{REGION}:432418664414:function:{{}}"
MODEL_MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
VARIANT = "AllTraffic"
AUTOSCALING_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
#: The longest a plan may run, in virtual time (a runaway plan stops here).
MAX_SECONDS = 31 * 86400
#: Step kinds the engine cannot run yet (none: network and key steps run on its ec2 and kms clients).
UNSUPPORTED_KINDS: dict[str, str] = {}
#: The address plan of a network step's VPC.
VPC_CIDR = "10.0.0.0/16"
APP_SUBNETS = (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
NAT_SUBNET = ("10.0.100.0/24", "us-east-1a")


class PlanNotSupported(Exception):
    """A plan uses a step kind (or an argument) the engine cannot run yet."""

    def __init__(self, kind: str, message: str, step: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.step = step
        self.message = message


class _StepFailed(Exception):
    """An API call of the current step was refused (already recorded)."""


class _Skip(Exception):
    """The current step cannot run: an input it needs never came (message for the notes)."""


@dataclass
class StepRecord:
    """What happened to one step."""

    index: int
    name: str
    kind: str
    status: str = "ok"  # ok | error | skipped | deferred (run later by an orchestrate step)
    error_code: str | None = None
    error: str | None = None
    at: float = 0.0  # virtual seconds when the step ran
    resource: str | None = None  # what the step made: "training-job/train", "endpoint/deploy", ...


@dataclass
class ApiError:
    step: str
    operation: str
    code: str
    message: str
    at: float


@dataclass
class Requests:
    sent: int = 0
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def error(self, code: str, n: int = 1) -> None:
        if n:
            self.errors[code] = self.errors.get(code, 0) + n


@dataclass
class Resources:
    """Everything the plan created, by kind, in the order it was created (names, not ARNs)."""

    training_jobs: list[tuple[str, str]] = field(default_factory=list)  # (step, job)
    tuning_jobs: list[tuple[str, str]] = field(default_factory=list)
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    transform_jobs: list[tuple[str, str]] = field(default_factory=list)
    labeling_jobs: list[tuple[str, str]] = field(default_factory=list)
    processing_jobs: list[tuple[str, str]] = field(default_factory=list)
    schedules: list[tuple[str, str]] = field(default_factory=list)
    notebooks: list[tuple[str, str]] = field(default_factory=list)
    domains: list[tuple[str, str]] = field(default_factory=list)  # (step, domain id)
    apps: list[tuple[str, str, str, str]] = field(default_factory=list)  # (step, domain, user, app)
    executions: list[tuple[str, str]] = field(default_factory=list)  # (step, execution arn)
    roles: list[tuple[str, str]] = field(default_factory=list)  # (step, role arn)
    autoscaled: list[tuple[str, str]] = field(default_factory=list)  # (step, endpoint)
    endpoint_created_at: dict[str, float] = field(default_factory=dict)


@dataclass
class PlanRun:
    """A plan after it ran: the engine and what the runner recorded."""

    eng: Any
    seed: int
    steps: list[StepRecord]
    errors: list[ApiError]
    notes: list[str]
    requests: Requests
    resources: Resources
    traffic: list[Any]  # engine TrafficRun objects
    ended: float  # virtual seconds when the plan's work was done
    datasets: dict[str, str] = field(default_factory=dict)  # model-making step -> its training dataset
    clients: Any = None  # the client set bound to ``eng`` (sagetutor.quiz.shared); close() gives it back

    def client(self, service: str) -> Any:
        return self.clients.client(service) if self.clients is not None else self.eng.client(service)

    def close(self) -> None:
        """Give the engine's shared clients back (the run's engine is not used after this)."""
        if self.clients is not None:
            from sagetutor.quiz import shared

            shared.release(self.clients)
            self.clients = None


# -- names ------------------------------------------------------------------------------------


def step_names(steps: list[Any]) -> list[str]:
    """Each step's name: its ``name`` argument, else its kind, numbered from the second of a kind."""
    seen: dict[str, int] = {}
    names = []
    for s in steps:
        seen[s.kind] = seen.get(s.kind, 0) + 1
        names.append(s.explicit_name or (s.kind if seen[s.kind] == 1 else f"{s.kind}-{seen[s.kind]}"))
    return names


def aws_name(name: str, limit: int = 63) -> str:
    """A step name as a SageMaker resource name: ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``."""
    out = re.sub(r"[^a-zA-Z0-9-]+", "-", name).strip("-") or "step"
    return out[:limit].rstrip("-")


def check_supported(steps: list[Any]) -> None:
    """Raise ``PlanNotSupported`` for a plan the engine cannot run yet (before anything runs)."""
    names = step_names(steps)
    for step, name in zip(steps, names, strict=True):
        if step.kind in UNSUPPORTED_KINDS:
            raise PlanNotSupported(step.kind, f"step '{name}': {UNSUPPORTED_KINDS[step.kind]}, which SageTutor "
                                              f"does not have yet", name)
        a = step.args
        if step.kind == "label" and a.task not in ("image_classification", "text_classification"):
            raise PlanNotSupported("label", f"step '{name}': the engine simulates image and text classification "
                                            f"labeling jobs, not {a.task}", name)
        if step.kind == "monitor" and a.kind != "data_quality":
            raise PlanNotSupported("monitor", f"step '{name}': the engine simulates data quality monitoring, not "
                                              f"{a.kind}", name)
        if step.kind == "orchestrate" and a.service != "step_functions":
            raise PlanNotSupported("orchestrate", f"step '{name}': the engine simulates AWS Step Functions, not "
                                                  "SageMaker Pipelines", name)
        if step.kind == "orchestrate":
            kinds = {n: s.kind for s, n in zip(steps, names, strict=True)}
            for ref in a.steps:
                if kinds.get(ref) == "monitor":
                    raise PlanNotSupported("orchestrate", f"step '{name}': a monitor step cannot run inside a "
                                                          "workflow yet", name)


# -- datasets and algorithms ------------------------------------------------------------------


def _catalog() -> dict:
    from engine.datasets import CATALOG

    return CATALOG


_CSV_FAMILY = {"breast-cancer-libsvm": "breast-cancer", "breast-cancer-parquet": "breast-cancer",
               "diabetes-libsvm": "diabetes", "digits-images": "digits"}
_LABELLED_TEST = ("anomaly", "blobs")  # unlabelled train/validation, labelled test (label_size=1)
#: Built-ins whose images run on GPU instances only: without an explicit instance, a GPU type.
GPU_ONLY = {"image-classification": "ml.p3.2xlarge"}


def csv_dataset(dataset: str) -> str:
    """The CSV dataset with the same rows (what a client sends to an endpoint)."""
    return _CSV_FAMILY.get(dataset, dataset)


def csv_labelled(dataset: str, split: str) -> bool:
    """Whether rows of a CSV split start with a label column."""
    info = _catalog()[dataset]
    if info.format != "csv":
        return False
    if info.content_type == "text/csv":
        return True
    return split == "test" and dataset in _LABELLED_TEST


def _hp_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


@dataclass
class Setup:
    """How a training job reads a dataset with an algorithm: channels, default hyperparameters, objective."""

    channels: list[dict]
    hyperparameters: dict[str, str]
    objective: tuple[str, str]  # (metric, Maximize|Minimize) for tuning
    script: bool = False


def _channel(name: str, uri: str, content_type: str | None, distribution: str | None = None,
             input_mode: str | None = None) -> dict:
    src: dict[str, Any] = {"S3DataType": "S3Prefix", "S3Uri": uri}
    if distribution:
        src["S3DataDistributionType"] = distribution
    ch: dict[str, Any] = {"ChannelName": name, "DataSource": {"S3DataSource": src}}
    if content_type:
        ch["ContentType"] = content_type
    if input_mode:
        ch["InputMode"] = input_mode
    return ch


def training_setup(algorithm: str, dataset: str, distribution: str = "replicated") -> Setup:
    """The channels, default hyperparameters and tuning objective for an algorithm on a dataset."""
    info = _catalog()[dataset]
    base = f"s3://{DATA}/{dataset}"
    dist = "ShardedByS3Key" if distribution == "sharded" else "FullyReplicated"
    ct = info.content_type
    task = info.task
    feat = str(info.features)
    train = _channel("train", f"{base}/train/", ct, dist)
    validation = _channel("validation", f"{base}/validation/", ct)
    test_ct = "text/csv;label_size=1" if dataset in _LABELLED_TEST else ct
    test = _channel("test", f"{base}/test/", test_ct)
    if algorithm == "xgboost":
        hp = {"num_round": "50", "max_depth": "4", "eta": "0.2"}
        if task == "binary":
            hp.update(objective="binary:logistic", eval_metric="auc")
            obj = ("validation:auc", "Maximize")
        elif task == "multiclass":
            hp.update(objective="multi:softprob", num_class=str(info.classes), eval_metric="merror")
            obj = ("validation:merror", "Minimize")
        else:
            hp.update(objective="reg:squarederror", eval_metric="rmse")
            obj = ("validation:rmse", "Minimize")
        return Setup([train, validation], hp, obj)
    if algorithm == "linear-learner":
        if task == "binary":
            hp, obj = {"predictor_type": "binary_classifier"}, ("validation:binary_classification_accuracy", "Maximize")
        elif task == "multiclass":
            hp = {"predictor_type": "multiclass_classifier", "num_classes": str(info.classes)}
            obj = ("validation:multiclass_accuracy", "Maximize")
        else:
            hp, obj = {"predictor_type": "regressor"}, ("validation:rmse", "Minimize")
        hp.update(epochs="10", mini_batch_size="100")
        return Setup([train, validation], hp, obj)
    if algorithm == "knn":
        regression = task == "regression"
        hp = {"predictor_type": "regressor" if regression else "classifier", "k": "5",
              "sample_size": str(info.rows.get("train", 100)), "feature_dim": feat}
        return Setup([train, test], hp, ("test:mse", "Minimize") if regression else ("test:accuracy", "Maximize"))
    if algorithm == "kmeans":
        hp = {"k": str(info.classes or 5), "feature_dim": feat, "mini_batch_size": "100"}
        return Setup([train, test], hp, ("test:msd", "Minimize"))
    if algorithm == "pca":
        hp = {"feature_dim": feat, "num_components": "2", "mini_batch_size": "100"}
        return Setup([train], hp, ("train:explained_variance_ratio", "Maximize"))
    if algorithm == "randomcutforest":
        hp = {"feature_dim": feat, "num_trees": "50", "num_samples_per_tree": "256"}
        return Setup([train, test], hp, ("test:f1", "Maximize"))
    if algorithm == "lda":
        hp = {"num_topics": "6", "feature_dim": feat, "mini_batch_size": "100"}
        return Setup([train, test], hp, ("test:pwll", "Maximize"))
    if algorithm == "blazingtext":
        return Setup([train, validation], {"mode": "supervised", "epochs": "5"}, ("validation:accuracy", "Maximize"))
    if algorithm == "forecasting-deepar":
        hp = {"context_length": "48", "prediction_length": "24", "time_freq": "H", "epochs": "10"}
        return Setup([train, test], hp, ("test:RMSE", "Minimize"))
    if algorithm == "image-classification":
        chans = [_channel("train", f"{base}/train/", ct, dist), _channel("validation", f"{base}/validation/", ct),
                 _channel("train_lst", f"{base}/train_lst/", ct), _channel("validation_lst", f"{base}/validation_lst/", ct)]
        hp = {"num_classes": str(info.classes or 2), "num_training_samples": str(info.rows.get("train", 1)),
              "image_shape": "1,8,8", "epochs": "5", "mini_batch_size": "32"}
        return Setup(chans, hp, ("validation:accuracy", "Maximize"))
    if algorithm == "sklearn":
        hp = {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": f'"s3://{BUCKET}/code/sourcedir.tar.gz"'}
        metric = ("validation:rmse", "Minimize") if task == "regression" else ("validation:accuracy", "Maximize")
        return Setup([train, validation], hp, metric, script=True)
    raise ValueError(f"unknown algorithm {algorithm}")


#: The script-mode entry point SageTutor uploads for ``algorithm: sklearn`` (its own code, no author's).
SKLEARN_SCRIPT = '''\
import glob, json, os
import numpy as np

def load(channel):
    files = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_" + channel.upper()], "**", "*.csv"), recursive=True))
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
    return data[:, 1:], data[:, 0]

x, y = load("train")
xv, yv = load("validation")
classes = np.unique(y)
if len(classes) <= 20 and np.all(classes == np.round(classes)):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    print("validation accuracy: %.6f" % float(np.mean(model.predict(xv) == yv)))
    coef = model[-1].coef_.tolist()
else:
    from sklearn.linear_model import Ridge
    model = Ridge().fit(x, y)
    print("validation rmse: %.6f" % float(np.sqrt(np.mean((model.predict(xv) - yv) ** 2))))
    coef = model.coef_.tolist()
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as fh:
    json.dump({"coef": coef}, fh)
'''
SKLEARN_METRICS = [{"Name": "validation:accuracy", "Regex": "validation accuracy: ([0-9.]+)"},
                   {"Name": "validation:rmse", "Regex": "validation rmse: ([0-9.]+)"}]


def _sourcedir() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        data = SKLEARN_SCRIPT.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


# -- the clock -----------------------------------------------------------------------------------


class _Clock:
    """The engine's virtual clock, stepped event by event (the runner's one reach past the clients).

    Proposed public engine hook: ``Engine.run_until(predicate, limit_seconds) -> bool`` and
    ``Engine.busy`` (work in progress); until then this adapter reads ``eng._world.clock``.
    """

    def __init__(self, eng: Any):
        run_until = getattr(eng, "run_until", None)
        self._eng = eng
        self._public = callable(run_until)
        world = getattr(eng, "_world", None)
        self._clock = getattr(world, "clock", None)
        self._timeline = getattr(world, "timeline", None)

    @property
    def seconds(self) -> float:
        return float(self._eng.seconds)

    def events(self) -> int:
        return len(self._timeline) if self._timeline is not None else len(self._eng.timeline())

    def since(self, index: int) -> list:
        """Timeline events recorded after the first ``index`` (in the order they were recorded)."""
        timeline = self._timeline if self._timeline is not None else self._eng.timeline()
        return list(timeline[index:])

    def busy(self) -> bool:
        return bool(self._clock.busy) if self._clock is not None else bool(getattr(self._eng, "busy", 0))

    def step_until(self, predicate: Callable[[], bool], limit: float) -> bool:
        """Step the simulation until ``predicate()`` holds or ``limit`` seconds pass (never past it)."""
        if limit < 1e-6:  # below the clock's float resolution: nothing can happen in between
            return predicate()
        if self._public:
            return bool(self._eng.run_until(predicate, limit))
        # Clock.run_until's own loop, minus its one edge: an event exactly at the deadline leaves the
        # clock at the deadline, and SimPy refuses ``run(until=now)``.
        env = self._clock.env
        deadline = env.now + limit
        while not predicate():
            if env.peek() > deadline:
                if deadline > env.now:
                    env.run(until=deadline)
                return predicate()
            env.step()
        return True


# -- the runner ------------------------------------------------------------------------------------


@dataclass
class _State:
    """A step's products, for the steps that refer to it."""

    kind: str
    name: str
    args: Any
    aws: str  # the resource name made from the step name
    dataset: str | None = None
    algorithm: str | None = None
    created: bool = False
    deferred: bool = False
    extra: dict = field(default_factory=dict)


class Runner:
    def __init__(self, steps: list[Any], seed: int):
        from engine import Engine

        check_supported(steps)
        self.steps = list(steps)
        self.names = step_names(self.steps)
        self.seed = int(seed)
        self.eng = Engine(seed=self.seed)
        self.eng.faults.natural_spot_interruptions(False)
        self.clock = _Clock(self.eng)
        from sagetutor.quiz import shared

        self.clients = shared.acquire(self.eng)
        self.records: list[StepRecord] = []
        self.errors: list[ApiError] = []
        self.notes: list[str] = []
        self.requests = Requests()
        self.res = Resources()
        self.traffic: list[Any] = []
        self.states: dict[str, _State] = {}
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.watchers: list[Callable[[], bool]] = []
        self._seq = 0
        self._current: StepRecord | None = None
        self._aws_names: set[str] = set()
        self._models: dict[tuple, str] = {}
        self._workteam: str | None = None
        self._code_uploaded = False
        self.datasets: dict[str, str] = {}
        self.orchestrated = self._orchestrated()
        self.client("s3").create_bucket(Bucket=BUCKET)

    # -- plumbing
    def client(self, service: str, from_subnet: str | None = None) -> Any:
        return self.clients.client(service, from_subnet)

    def call(self, service: str, operation: str, **kw: Any) -> dict:
        """One API call; a refusal is recorded against the current step and raises _StepFailed."""
        return self.call_with(self.client(service), operation, **kw)

    def call_with(self, client: Any, operation: str, **kw: Any) -> dict:
        """``call`` on a given client (e.g. one placed in a network step's subnet)."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ParamValidationError,
        )

        try:
            return getattr(client, operation)(**kw)
        except (ConnectTimeoutError, EndpointConnectionError) as e:
            self._api_error(operation, type(e).__name__, f"{e} (no network route from the caller's subnet)")
        except ClientError as e:
            err = e.response.get("Error", {})
            self._api_error(operation, err.get("Code", "Unknown"), err.get("Message", str(e)))
        except ParamValidationError as e:
            self._api_error(operation, "ParamValidationError", str(e).replace("\n", " "))
        raise _StepFailed()

    def _api_error(self, operation: str, code: str, message: str) -> None:
        rec = self._current
        name = rec.name if rec else "?"
        self.errors.append(ApiError(name, operation, code, message, self.clock.seconds))
        if rec is not None and rec.status == "ok":
            rec.status, rec.error_code, rec.error = "error", code, f"{operation}: {message}"

    def _unique(self, name: str, limit: int = 63) -> str:
        base = aws_name(name, limit)
        out, n = base, 1
        while out in self._aws_names:
            n += 1
            suffix = f"-{n}"
            out = base[: limit - len(suffix)].rstrip("-") + suffix
        self._aws_names.add(out)
        return out

    # -- time
    def _fire_timers(self) -> None:
        while self.timers and self.timers[0][0] <= self.clock.seconds + 1e-6:
            _, _, fn = self.timers.pop(0)
            try:
                fn()
            except _StepFailed:
                pass

    def at(self, seconds: float, fn: Callable[[], None]) -> None:
        self._seq += 1
        self.timers.append((seconds, self._seq, fn))
        self.timers.sort(key=lambda t: (t[0], t[1]))

    def _watch(self) -> None:
        self.watchers = [w for w in self.watchers if not w()]

    def run(self, done: Callable[[], bool] | None = None, *, until: float | None = None, idle: bool = False) -> bool:
        """Let virtual time pass until ``done()`` holds (checked whenever something happens), ``until``
        (absolute seconds) comes, or - with ``idle`` - no work is in progress. Timers fire on time."""
        deadline = min(until if until is not None else math.inf, MAX_SECONDS)
        while True:
            self._fire_timers()
            if done is not None and done():
                return True
            if idle and not self.clock.busy():
                return True
            now = self.clock.seconds
            if now >= deadline - 1e-6:
                return False
            nxt = self.timers[0][0] if self.timers else math.inf
            limit = min(deadline, nxt) - now
            n = self.clock.events()
            if idle:
                self.clock.step_until(lambda n=n: self.clock.events() != n or not self.clock.busy(), limit)
            else:
                self.clock.step_until(lambda n=n: self.clock.events() != n, limit)
            if self.clock.events() != n:
                self._watch()

    # -- the plan
    def _orchestrated(self) -> set[str]:
        out: set[str] = set()
        for s in self.steps:
            if s.kind == "orchestrate":
                out.update(s.args.steps)
        return out

    def execute(self) -> PlanRun:
        from sagetutor.quiz import shared

        try:
            with shared.active():
                self._execute()
        except BaseException:
            shared.release(self.clients)
            raise
        return PlanRun(self.eng, self.seed, self.records, self.errors, self.notes, self.requests, self.res,
                       self.traffic, self.clock.seconds, dict(self.datasets), self.clients)

    def _execute(self) -> None:
        for i, (step, name) in enumerate(zip(self.steps, self.names, strict=True)):
            rec = StepRecord(i, name, step.kind, at=self.clock.seconds)
            self.records.append(rec)
            self._current = rec
            st = _State(step.kind, name, step.args, self._unique(name))
            self.states[name] = st
            if name in self.orchestrated and step.kind != "orchestrate":
                st.deferred = True
                rec.status = "deferred"
                self._prepare_deferred(st)
                continue
            try:
                getattr(self, f"_step_{step.kind}")(st, step.args)
            except _StepFailed:
                pass
            except _Skip as e:
                rec.status = "skipped"
                rec.error = str(e)
                self.notes.append(f"{name}: {e}")
        self._current = None
        self.run(idle=True)

    # -- references
    def _latest(self, kinds: tuple[str, ...], before: str) -> _State | None:
        found = None
        for name, st in self.states.items():
            if name == before:
                break
            if st.kind in kinds:
                found = st
        return found

    def _ref(self, value: Any, kinds: tuple[str, ...], me: _State) -> _State | None:
        if isinstance(value, str):
            return self.states.get(value)
        return self._latest(kinds, me.name)

    def _role(self, ref: str | None) -> str:
        if not ref:
            return DEFAULT_ROLE
        st = self.states.get(ref)
        arn = st.extra.get("arn") if st else None
        if not arn:
            raise _Skip(f"its role step '{ref}' did not make a role")
        return arn

    # -- conditions
    def _on_events(self, tail: str, check: Callable[[], bool],
                   maybe: Callable[[str], bool] | None = None) -> Callable[[], bool]:
        """``check()`` (an API call) at first, then only when the timeline has news of the resource
        whose ARN ends with ``tail``: conditions stay exact and cost a describe per status change.
        With ``maybe``, news that is only status changes whose recorded status ``maybe`` rules out
        (a training job moving from Downloading to Training, say) costs no describe at all."""
        tail = tail.lower()
        seen = [self.clock.events()]
        first = [True]

        def done() -> bool:
            if first[0]:
                first[0] = False
                return check()
            news = self.clock.since(seen[0])
            seen[0] += len(news)
            mine = [e for e in news if e.resource.lower().endswith(tail)]
            if not mine:
                return False
            if maybe is not None and all(e.kind == "status" and e.status and not maybe(e.status) for e in mine):
                return False
            return check()

        return done

    def _training_status(self, job: str) -> str | None:
        try:
            return self.client("sagemaker").describe_training_job(TrainingJobName=job)["TrainingJobStatus"]
        except Exception:
            return None

    def _training_done(self, job: str) -> Callable[[], bool]:
        return self._on_events(f"training-job/{job}",
                               lambda: self._training_status(job) in ("Completed", "Failed", "Stopped", None),
                               lambda status: status.split("/")[0] in ("Completed", "Failed", "Stopped"))

    def _endpoint_status(self, name: str) -> str | None:
        try:
            return self.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]
        except Exception:
            return None

    def _endpoint_settled(self, name: str) -> Callable[[], bool]:
        return self._on_events(f"endpoint/{name}", lambda: self._endpoint_status(name) not in ("Creating", "Updating"),
                               lambda status: status not in ("Creating", "Updating"))

    def _wait_endpoint(self, st: _State) -> str:
        """Wait until the deploy step's endpoint is InService; its name, or _Skip."""
        if not st.created:
            raise _Skip(f"its endpoint (step '{st.name}') was never created")
        name = st.aws
        self.run(self._endpoint_settled(name))
        status = self._endpoint_status(name)
        if status != "InService":
            raise _Skip(f"endpoint {name} is {status or 'gone'}, not InService")
        return name

    # -- model artifacts (train and tune steps)
    def _artifact(self, st: _State) -> tuple[str, str]:
        """(algorithm, model data URL) of a train or tune step's model, waiting for it."""
        if st.deferred:
            raise _Skip(f"step '{st.name}' runs inside a workflow (orchestrate), later")
        if not st.created:
            raise _Skip(f"step '{st.name}' made no model")
        sm = self.client("sagemaker")
        if st.kind == "tune":
            name = st.aws
            self.run(self._on_events(f"hyper-parameter-tuning-job/{name}", lambda: sm.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name)["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped")))
            d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            best = d.get("BestTrainingJob", {}).get("TrainingJobName")
            if not best:
                raise _Skip(f"tuning job {name} ended {d['HyperParameterTuningJobStatus']} without a best training "
                            "job")
            job = best
        else:
            job = st.aws
            self.run(self._training_done(job))
        d = sm.describe_training_job(TrainingJobName=job)
        url = d.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not url:
            raise _Skip(f"training job {job} ended {d['TrainingJobStatus']} with no model")
        return st.algorithm or "xgboost", url

    def _model_for(self, source: _State, role: str, isolation: bool, vpc: dict | None = None) -> str:
        """A SageMaker model of a train or tune step's artifact (one per source, role, isolation and VPC)."""
        key = (source.name, role, isolation, json.dumps(vpc, sort_keys=True))
        if key in self._models:
            return self._models[key]
        algorithm, url = self._artifact(source)
        name = self._unique(f"{source.name}-model")
        kw: dict[str, Any] = {}
        if isolation:
            kw["EnableNetworkIsolation"] = True
        if vpc:
            kw["VpcConfig"] = vpc
        self.call("sagemaker", "create_model", ModelName=name, ExecutionRoleArn=role,
                  PrimaryContainer={"Image": self.eng.image_uri(algorithm), "ModelDataUrl": url}, **kw)
        self.res.models.append((source.name, name))
        self._models[key] = name
        return name

    # -- steps ------------------------------------------------------------------------------------
    def _train_request(self, st: _State, a: Any, job: str) -> dict:
        algorithm, dataset = a.algorithm, a.dataset
        setup = training_setup(algorithm, dataset, a.distribution)
        hp = dict(setup.hyperparameters)
        hp.update({k: _hp_text(v) for k, v in a.hyperparameters.items()})
        instance = a.instance
        if algorithm in GPU_ONLY and "instance" not in a.model_fields_set:
            instance = GPU_ONLY[algorithm]
        max_runtime = int(a.max_runtime) if a.max_runtime is not None else 86400
        req: dict[str, Any] = {
            "TrainingJobName": job,
            "RoleArn": self._role(a.role),
            "AlgorithmSpecification": {"TrainingImage": self.eng.image_uri(algorithm),
                                       "TrainingInputMode": a.input_mode},
            "HyperParameters": hp,
            "InputDataConfig": setup.channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": a.count, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        }
        if setup.script:
            req["AlgorithmSpecification"]["MetricDefinitions"] = SKLEARN_METRICS
            self._upload_code()
        if a.spot:
            req["EnableManagedSpotTraining"] = True
            can_checkpoint = algorithm in ("xgboost", "image-classification")
            if a.max_wait is not None:
                max_wait = int(a.max_wait)
            elif can_checkpoint:
                max_wait = 2 * max_runtime
            else:  # AWS limits built-ins that cannot checkpoint to an hour of waiting
                max_wait = 3600
                if a.max_runtime is None:
                    req["StoppingCondition"]["MaxRuntimeInSeconds"] = max_runtime = 3600
            req["StoppingCondition"]["MaxWaitTimeInSeconds"] = max(max_wait, max_runtime)
        if a.checkpoints:
            req["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/{job}"}
        if a.network_isolation:
            req["EnableNetworkIsolation"] = True
        if a.encrypt_inter_container:
            req["EnableInterContainerTrafficEncryption"] = True
        self._secure_job(req, st, a)
        return req

    def _secure_job(self, req: dict, st: _State, a: Any) -> None:
        """A train or tune definition's VpcConfig and KMS keys from its network and key steps."""
        vpc = self._vpc(a.vpc, st)
        if vpc:
            req["VpcConfig"] = vpc
        key = self._key(a.kms_key, st)
        if key:
            req["ResourceConfig"]["VolumeKmsKeyId"] = key
            req["OutputDataConfig"]["KmsKeyId"] = key

    def _vpc(self, value: Any, st: _State) -> dict | None:
        """The VpcConfig a ``vpc:`` argument names (true: the latest network step)."""
        if value is False or value is None:
            return None
        net = self._ref(value, ("network",), st)
        if net is None or not net.created:
            raise _Skip("its network step made no VPC")
        return {"Subnets": list(net.extra["subnets"]), "SecurityGroupIds": [net.extra["group"]]}

    def _key(self, value: Any, st: _State) -> str | None:
        """The key ARN a ``kms_key:`` argument names (true: the latest key step)."""
        if value is False or value is None:
            return None
        key = self._ref(value, ("key",), st)
        if key is None or not key.created:
            raise _Skip("its key step made no key")
        return key.extra["arn"]

    def _upload_code(self) -> None:
        if not self._code_uploaded:
            self.client("s3").put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=_sourcedir())
            self._code_uploaded = True

    def _nominal(self, uri_prefix: str, rows: int | None) -> None:
        if rows:
            self.eng.set_nominal_size(uri_prefix, rows=int(rows))

    def _step_train(self, st: _State, a: Any) -> None:
        st.dataset, st.algorithm = a.dataset, a.algorithm
        self.datasets[st.name] = a.dataset
        self._nominal(f"s3://{DATA}/{a.dataset}/train/", a.nominal_rows)
        req = self._train_request(st, a, st.aws)
        self.call("sagemaker", "create_training_job", **req)
        st.created = True
        self.res.training_jobs.append((st.name, st.aws))
        self._current.resource = f"training-job/{st.aws}"

    def _step_interrupt_spot(self, st: _State, a: Any) -> None:
        target = self._ref(a.job, ("train",), st)
        if target is None or not (target.created or target.deferred):  # a workflow's job: named already
            raise _Skip("no training job to interrupt")
        self.eng.faults.interrupt_spot(TrainingJobName=target.aws, after_seconds=max(float(a.after), 0.001))

    def _step_spot_capacity(self, st: _State, a: Any) -> None:
        self.eng.faults.spot_capacity(a.instance, available=a.available)

    def _tune_request(self, st: _State, a: Any, name: str) -> dict:
        setup = training_setup(a.algorithm, a.dataset)
        static = dict(setup.hyperparameters)
        continuous, integer, categorical = [], [], []
        for hp_name, spec in a.ranges.items():
            static.pop(hp_name, None)
            if isinstance(spec, list):
                categorical.append({"Name": hp_name, "Values": [_hp_text(v) for v in spec]})
                continue
            text = spec.strip()
            log = text.endswith("log")
            lo, hi = (p.strip() for p in text.removesuffix("log").split(".."))
            entry = {"Name": hp_name, "MinValue": lo, "MaxValue": hi,
                     "ScalingType": "Logarithmic" if log else "Auto"}
            if re.fullmatch(r"-?\d+", lo) and re.fullmatch(r"-?\d+", hi) and _integer_hp(a.algorithm, hp_name):
                integer.append(entry)
            else:
                continuous.append(entry)
        ranges: dict[str, Any] = {}
        if continuous:
            ranges["ContinuousParameterRanges"] = continuous
        if integer:
            ranges["IntegerParameterRanges"] = integer
        if categorical:
            ranges["CategoricalParameterRanges"] = categorical
        metric, direction = setup.objective
        if a.objective:
            metric = a.objective
            direction = _direction(a.algorithm, metric) or direction
        if a.goal:
            direction = "Maximize" if a.goal == "maximize" else "Minimize"
        instance = a.instance
        if a.algorithm in GPU_ONLY and "instance" not in a.model_fields_set:
            instance = GPU_ONLY[a.algorithm]
        definition: dict[str, Any] = {
            "StaticHyperParameters": static,
            "AlgorithmSpecification": {"TrainingImage": self.eng.image_uri(a.algorithm), "TrainingInputMode": "File"},
            "RoleArn": self._role(a.role),
            "InputDataConfig": setup.channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuning/{name}"},
            "ResourceConfig": {"InstanceType": instance, "InstanceCount": a.count, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400 if not a.spot else 3600},
        }
        if setup.script:
            definition["AlgorithmSpecification"]["MetricDefinitions"] = SKLEARN_METRICS
            self._upload_code()
        if a.spot:
            definition["EnableManagedSpotTraining"] = True
            definition["StoppingCondition"]["MaxWaitTimeInSeconds"] = 7200 if a.algorithm in (
                "xgboost", "image-classification") else 3600
        if a.checkpoints:
            definition["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/{name}"}
        self._secure_job(definition, st, a)
        config: dict[str, Any] = {
            "Strategy": {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}[
                a.strategy],
            "HyperParameterTuningJobObjective": {"Type": direction, "MetricName": metric},
            "ResourceLimits": {"MaxParallelTrainingJobs": a.max_parallel},
            "ParameterRanges": ranges,
        }
        if a.strategy != "grid":
            config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = a.max_jobs
        if a.early_stopping:
            config["TrainingJobEarlyStoppingType"] = "Auto"
        req: dict[str, Any] = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobConfig": config,
                               "TrainingJobDefinition": definition}
        if a.warm_start:
            parent = self.states.get(a.warm_start)
            if parent is None or not parent.created:
                raise _Skip(f"its warm-start parent '{a.warm_start}' was never created")
            req["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent.aws}],
                                      "WarmStartType": "IdenticalDataAndAlgorithm"}
        return req

    def _step_tune(self, st: _State, a: Any) -> None:
        st.aws = self._unique(f"{st.name}", 32) if len(st.aws) > 32 else st.aws
        st.dataset, st.algorithm = a.dataset, a.algorithm
        self.datasets[st.name] = a.dataset
        self._nominal(f"s3://{DATA}/{a.dataset}/train/", a.nominal_rows)
        self.call("sagemaker", "create_hyper_parameter_tuning_job", **self._tune_request(st, a, st.aws))
        st.created = True
        self.res.tuning_jobs.append((st.name, st.aws))
        self._current.resource = f"hyper-parameter-tuning-job/{st.aws}"

    def _endpoint_config(self, st: _State, a: Any, model: str) -> dict:
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model}
        if a.serverless:
            variant["ServerlessConfig"] = {"MemorySizeInMB": a.memory or 2048,
                                           "MaxConcurrency": a.max_concurrency or 20}
        else:
            variant.update(InstanceType=a.instance, InitialInstanceCount=a.count)
        cfg: dict[str, Any] = {"EndpointConfigName": self._unique(f"{st.name}-config"), "ProductionVariants": [variant]}
        key = self._key(a.kms_key, st)
        if key and not a.serverless:
            cfg["KmsKeyId"] = key
        if a.async_:
            cfg["AsyncInferenceConfig"] = {"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/async/{st.aws}/output/",
                                                            "S3FailurePath": f"s3://{BUCKET}/async/{st.aws}/failure/"}}
        if a.data_capture:
            cfg["DataCaptureConfig"] = {"EnableCapture": True, "InitialSamplingPercentage": 100,
                                        "DestinationS3Uri": f"s3://{BUCKET}/capture",
                                        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                                        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"],
                                                                     "JsonContentTypes": ["application/json"]}}
        return cfg

    def _step_deploy(self, st: _State, a: Any) -> None:
        role = self._role(a.role)
        if a.pipeline:
            sources = [self.states[n] for n in a.pipeline]
            containers = []
            for src in sources:
                algorithm, url = self._artifact(src)
                containers.append({"Image": self.eng.image_uri(algorithm), "ModelDataUrl": url})
            model = self._unique(f"{st.name}-pipeline")
            kw: dict[str, Any] = {"EnableNetworkIsolation": True} if a.network_isolation else {}
            vpc = self._vpc(a.vpc, st)
            if vpc:
                kw["VpcConfig"] = vpc
            self.call("sagemaker", "create_model", ModelName=model, ExecutionRoleArn=role, Containers=containers, **kw)
            self.res.models.append((st.name, model))
            first = sources[0]
        else:
            first = self._ref(a.model, ("train", "tune"), st)
            if first is None:
                raise _Skip("no train or tune step before it to deploy")
            model = self._model_for(first, role, a.network_isolation, self._vpc(a.vpc, st))
        st.dataset, st.algorithm = first.dataset, first.algorithm
        st.extra["async"] = a.async_
        cfg = self._endpoint_config(st, a, model)
        self.call("sagemaker", "create_endpoint_config", **cfg)
        self.res.endpoint_created_at[st.aws] = self.clock.seconds
        self.call("sagemaker", "create_endpoint", EndpointName=st.aws, EndpointConfigName=cfg["EndpointConfigName"])
        st.created = True
        self.res.endpoints.append((st.name, st.aws))
        self._current.resource = f"endpoint/{st.aws}"

    def _endpoint_of(self, value: Any, st: _State) -> _State:
        target = self._ref(value, ("deploy",), st)
        if target is None:
            raise _Skip("no deploy step before it")
        if target.deferred:
            raise _Skip(f"step '{target.name}' runs inside a workflow (orchestrate), later")
        return target

    def _step_autoscale(self, st: _State, a: Any) -> None:
        target = self._endpoint_of(a.endpoint, st)
        endpoint = self._wait_endpoint(target)
        rid = f"endpoint/{endpoint}/variant/{VARIANT}"
        self.call("application-autoscaling", "register_scalable_target", ServiceNamespace="sagemaker", ResourceId=rid,
                  ScalableDimension=AUTOSCALING_DIMENSION, MinCapacity=a.min, MaxCapacity=a.max)
        self.call("application-autoscaling", "put_scaling_policy", PolicyName=f"{st.aws}-invocations",
                  ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=AUTOSCALING_DIMENSION,
                  PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
                      "TargetValue": float(a.target),
                      "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                      "ScaleOutCooldown": int(a.scale_out_cooldown), "ScaleInCooldown": int(a.scale_in_cooldown)})
        self.res.autoscaled.append((st.name, endpoint))

    def _request_body(self, dataset: str, rows: int) -> tuple[bytes, str]:
        """``rows`` test records of a dataset as a request body, and its content type."""
        s3 = self.client("s3")
        if dataset == "digits-images":
            keys = s3.list_objects_v2(Bucket=DATA, Prefix="digits-images/test/", MaxKeys=1)["Contents"]
            return s3.get_object(Bucket=DATA, Key=keys[0]["Key"])["Body"].read(), "application/x-image"
        if dataset == "tickets":
            text = self._object_text(s3, "tickets/test/")
            lines = [" ".join(w for w in ln.split() if not w.startswith("__label__")) for ln in text.splitlines()]
            return json.dumps({"instances": [ln for ln in lines if ln][:rows]}).encode(), "application/json"
        if dataset == "timeseries":
            text = self._object_text(s3, "timeseries/test/")
            series = [json.loads(ln) for ln in text.splitlines() if ln.strip()][:rows]
            instances = [{"start": s["start"], "target": s["target"][:-24]} for s in series]
            return json.dumps({"instances": instances, "configuration": {"num_samples": 20}}).encode(), \
                "application/json"
        src = csv_dataset(dataset)
        lines = [ln for ln in self._object_text(s3, f"{src}/test/").splitlines() if ln.strip()][:rows]
        if csv_labelled(src, "test"):
            lines = [ln.split(",", 1)[1] if "," in ln else ln for ln in lines]
        return "\n".join(lines).encode(), "text/csv"

    @staticmethod
    def _object_text(s3: Any, prefix: str) -> str:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=DATA, Prefix=prefix).get("Contents", [])]
        return "".join(s3.get_object(Bucket=DATA, Key=k)["Body"].read().decode() for k in keys[:1])

    def _latency_us(self, endpoint: str, serverless: bool) -> float:
        """The endpoint's summed model, overhead (and cold-start) latency of the requests answered at this
        virtual instant, in microseconds, as CloudWatch has them."""
        from datetime import timedelta

        cw = self.client("cloudwatch")
        now = self.eng.now
        total = 0.0
        for metric in ("ModelLatency", "OverheadLatency") + (("ModelSetupTime",) if serverless else ()):
            points = cw.get_metric_statistics(
                Namespace="AWS/SageMaker", MetricName=metric,
                Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}],
                StartTime=now, EndTime=now + timedelta(seconds=1), Period=60, Statistics=["Sum"])["Datapoints"]
            total += sum(p["Sum"] for p in points)
        return total

    def _step_invoke(self, st: _State, a: Any) -> None:
        target = self._endpoint_of(a.endpoint, st)
        endpoint = self._wait_endpoint(target)
        dataset = a.dataset or target.dataset or "breast-cancer"
        body, content_type = self._request_body(dataset, a.rows)
        self.requests.sent += 1
        kw: dict[str, Any] = {"Accept": a.accept} if a.accept else {}
        if target.extra.get("async"):
            key = f"async/{st.aws}/input/{st.aws}.body"
            self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
            try:
                self.call("sagemaker-runtime", "invoke_endpoint_async", EndpointName=endpoint,
                          InputLocation=f"s3://{BUCKET}/{key}", ContentType=content_type, **kw)
            except _StepFailed:
                self.requests.error(self.errors[-1].code)
                raise
            self.requests.answered += 1
            return
        serverless = bool(target.args.serverless)
        before = self._latency_us(endpoint, serverless)
        runtime = self.client("sagemaker-runtime")
        vpc = self._vpc(a.vpc, st)
        if vpc:  # the caller runs on an instance in the network step's first subnet
            runtime = self.client("sagemaker-runtime", from_subnet=vpc["Subnets"][0])
        try:
            self.call_with(runtime, "invoke_endpoint", EndpointName=endpoint, ContentType=content_type,
                           Body=body, **kw)
        except _StepFailed:
            self.requests.error(self.errors[-1].code)
            raise
        self.requests.answered += 1
        self.requests.latencies_ms.append((self._latency_us(endpoint, serverless) - before) / 1000.0)

    def _step_traffic(self, st: _State, a: Any) -> None:
        target = self._endpoint_of(a.endpoint, st)
        endpoint = self._wait_endpoint(target)
        dataset = csv_dataset(a.dataset or target.dataset or "breast-cancer")
        drift = a.drift.model_dump(exclude_none=True) if a.drift is not None else None
        per_minute = list(a.per_minute) if isinstance(a.per_minute, list) else int(a.per_minute)
        try:
            run = self.eng.traffic(EndpointName=endpoint, dataset=dataset, per_minute=per_minute, minutes=a.minutes,
                                   drift=drift or None)
        except (ValueError, KeyError) as e:
            raise _Skip(f"no traffic: {e}") from None
        st.extra["run"] = run
        self.traffic.append(run)

    def _step_transform(self, st: _State, a: Any) -> None:
        source = self._ref(a.model, ("train", "tune"), st)
        if source is None:
            raise _Skip("no train or tune step before it")
        role = self._role(a.role)
        model = self._model_for(source, role, False, self._vpc(a.vpc, st))
        req = self._transform_request(st, a, source, model, st.aws)
        key = self._key(a.kms_key, st)
        if key:
            req["TransformOutput"]["KmsKeyId"] = key
            req["TransformResources"]["VolumeKmsKeyId"] = key
        self.call("sagemaker", "create_transform_job", **req)
        st.created = True
        self.res.transform_jobs.append((st.name, st.aws))
        self._current.resource = f"transform-job/{st.aws}"

    def _transform_request(self, st: _State, a: Any, source: _State, model: str, job: str) -> dict:
        dataset = a.dataset or source.dataset or "breast-cancer"
        st.dataset = dataset
        info = _catalog()[dataset]
        uri = f"s3://{DATA}/{dataset}/{a.split}/"
        self._nominal(uri, a.nominal_rows)
        content_type = "text/csv" if info.format == "csv" else info.content_type
        inp: dict[str, Any] = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                               "ContentType": content_type, "SplitType": a.split_type}
        out: dict[str, Any] = {"S3OutputPath": f"s3://{BUCKET}/transform/{job}/"}
        if a.split_type == "Line":
            out["AssembleWith"] = "Line"
        if a.accept:
            out["Accept"] = a.accept
        req: dict[str, Any] = {"TransformJobName": job, "ModelName": model, "TransformInput": inp,
                               "TransformOutput": out,
                               "TransformResources": {"InstanceType": a.instance, "InstanceCount": a.count},
                               "MaxPayloadInMB": a.max_payload}
        if a.split_type != "None":
            req["BatchStrategy"] = a.strategy
        processing: dict[str, str] = {}
        input_filter = a.input_filter
        if input_filter is None and info.format == "csv" and csv_labelled(dataset, a.split):
            input_filter = "$[1:]"  # the label column is not a feature
        if input_filter:
            processing["InputFilter"] = input_filter
        if a.join_source:
            processing["JoinSource"] = "Input"
        if a.output_filter:
            processing["OutputFilter"] = a.output_filter
        if processing:
            req["DataProcessing"] = processing
        return req

    def _labeling_request(self, st: _State, a: Any, job: str) -> dict:
        kind = {"digits-images": "Image", "tickets": "Text"}.get(a.dataset)
        want = "Image" if a.task == "image_classification" else "Text"
        if kind is None:
            raise _Skip(f"dataset {a.dataset} has no Ground Truth manifest (digits-images and tickets have one)")
        if kind != want:
            raise _Skip(f"{a.task} needs {'digits-images' if want == 'Image' else 'tickets'}, not {a.dataset}")
        manifest = f"s3://{DATA}/{a.dataset}/manifest/input.manifest"
        s3 = self.client("s3")
        if a.objects:
            text = s3.get_object(Bucket=DATA, Key=f"{a.dataset}/manifest/input.manifest")["Body"].read().decode()
            lines = text.splitlines()
            if a.objects < len(lines):
                prefix = f"labeling/{job}/manifest"
                s3.put_object(Bucket=BUCKET, Key=f"{prefix}/input.manifest",
                              Body=("\n".join(lines[: a.objects]) + "\n").encode())
                truth = s3.get_object(Bucket=DATA, Key=f"{a.dataset}/manifest/labels.json")["Body"].read()
                s3.put_object(Bucket=BUCKET, Key=f"{prefix}/labels.json", Body=truth)
                manifest = f"s3://{BUCKET}/{prefix}/input.manifest"
            elif a.objects > len(lines):
                self.notes.append(f"{st.name}: {a.dataset} has {len(lines):,} objects; the job labels those "
                                  f"(objects: {a.objects:,} is more than the dataset holds)")
        if a.workforce == "public":
            team = PUBLIC_WORKTEAM
        elif a.workforce == "vendor":
            team = VENDOR_WORKTEAM
        else:
            team = self._private_team()
        htc: dict[str, Any] = {
            "WorkteamArn": team, "UiConfig": {"UiTemplateS3Uri": f"s3://{BUCKET}/labeling/template.liquid"},
            "PreHumanTaskLambdaArn": LABELING_LAMBDA.format(f"PRE-{kind}MultiClass"),
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": LABELING_LAMBDA.format(f"ACS-{kind}MultiClass")},
            "TaskTitle": f"Classify {'images' if kind == 'Image' else 'tickets'}",
            "TaskDescription": "Pick the category that fits", "NumberOfHumanWorkersPerDataObject": a.workers_per_object,
            "TaskTimeLimitInSeconds": 300, "MaxConcurrentTaskCount": 1000}
        if a.workforce == "public":
            tenths = round((a.price_per_object or 0.012) * 1000)
            htc["PublicWorkforceTaskPrice"] = {"AmountInUsd": {"Dollars": tenths // 1000, "Cents": (tenths % 1000) // 10,
                                                               "TenthFractionsOfACent": tenths % 10}}
        req: dict[str, Any] = {
            "LabelingJobName": job, "LabelAttributeName": "label",
            "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": manifest}}},
            "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/labeling/output"}, "RoleArn": self._role(a.role),
            "LabelCategoryConfigS3Uri": f"s3://{DATA}/{a.dataset}/manifest/label-categories.json",
            "HumanTaskConfig": htc}
        key = self._key(a.kms_key, st)
        if key:
            req["OutputConfig"]["KmsKeyId"] = key
        if a.automated:
            req["LabelingJobAlgorithmsConfig"] = {"LabelingJobAlgorithmSpecificationArn": LABELING_ALGORITHM.format(
                "image-classification" if kind == "Image" else "text-classification")}
        return req

    def _private_team(self) -> str:
        if self._workteam is None:
            member = {"CognitoMemberDefinition": {"UserPool": f"{REGION}_sagetutor", "UserGroup": "labelers",
                                                  "ClientId": "sagetutor"}}
            r = self.call("sagemaker", "create_workteam", WorkteamName="sagetutor-team", MemberDefinitions=[member],
                          Description="The plan's private labeling team")
            self._workteam = r["WorkteamArn"]
        return self._workteam

    def _step_label(self, st: _State, a: Any) -> None:
        st.dataset = a.dataset
        self.call("sagemaker", "create_labeling_job", **self._labeling_request(st, a, st.aws))
        st.created = True
        self.res.labeling_jobs.append((st.name, st.aws))
        self._current.resource = f"labeling-job/{st.aws}"

    def _step_monitor(self, st: _State, a: Any) -> None:
        target = self._endpoint_of(a.endpoint, st)
        if not target.created:
            raise _Skip(f"its endpoint (step '{target.name}') was never created")
        endpoint = target.aws
        dataset = csv_dataset(target.dataset or "breast-cancer")
        role = self._role(a.role)
        cluster = {"InstanceCount": 1, "InstanceType": a.instance, "VolumeSizeInGB": 20}
        out = f"s3://{BUCKET}/monitor/{st.aws}"
        fmt: dict[str, Any] = {"header": False}
        if csv_labelled(dataset, a.baseline):
            fmt["output_columns_position"] = "START"  # the label column leads, as in the captured output
        baseline = self._unique(f"{st.name}-baseline")
        self.call("sagemaker", "create_processing_job", ProcessingJobName=baseline, RoleArn=role,
                  AppSpecification={"ImageUri": MODEL_MONITOR_IMAGE}, ProcessingResources={"ClusterConfig": cluster},
                  ProcessingInputs=[{"InputName": "baseline_dataset_input", "S3Input": {
                      "S3Uri": f"s3://{DATA}/{dataset}/{a.baseline}/",
                      "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                      "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
                  ProcessingOutputConfig={"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
                      "S3Uri": f"{out}/baseline", "LocalPath": "/opt/ml/processing/output",
                      "S3UploadMode": "EndOfJob"}}]},
                  Environment={"dataset_format": json.dumps({"csv": fmt}),
                               "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                               "output_path": "/opt/ml/processing/output", "publish_cloudwatch_metrics": "Disabled"})
        self.res.processing_jobs.append((st.name, baseline))
        definition = self._unique(f"{st.name}-data-quality")
        self.call("sagemaker", "create_data_quality_job_definition", JobDefinitionName=definition, RoleArn=role,
                  DataQualityBaselineConfig={
                      "ConstraintsResource": {"S3Uri": f"{out}/baseline/constraints.json"},
                      "StatisticsResource": {"S3Uri": f"{out}/baseline/statistics.json"}},
                  DataQualityAppSpecification={"ImageUri": MODEL_MONITOR_IMAGE},
                  DataQualityJobInput={"EndpointInput": {"EndpointName": endpoint,
                                                         "LocalPath": "/opt/ml/processing/input/endpoint"}},
                  DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
                      "S3Uri": f"{out}/reports", "LocalPath": "/opt/ml/processing/output"}}]},
                  JobResources={"ClusterConfig": cluster}, StoppingCondition={"MaxRuntimeInSeconds": 1800})
        expression = "cron(0 * ? * * *)" if a.schedule == "hourly" else "cron(0 0 ? * * *)"
        self.call("sagemaker", "create_monitoring_schedule", MonitoringScheduleName=st.aws, MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": expression}, "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality"})
        st.created = True
        st.extra["baseline"] = baseline
        self.res.schedules.append((st.name, st.aws))
        self._current.resource = f"monitoring-schedule/{st.aws}"

    def _step_notebook(self, st: _State, a: Any) -> None:
        sm = self.client("sagemaker")
        kw: dict[str, Any] = {"VolumeSizeInGB": a.volume,
                              "DirectInternetAccess": "Enabled" if a.direct_internet else "Disabled",
                              "RootAccess": "Enabled" if a.root_access else "Disabled"}
        if a.stop_when_idle:
            config = self._unique(f"{st.name}-auto-stop")
            idle = int(a.stop_when_idle)
            script = ("#!/bin/bash\nset -e\n"
                      "wget https://raw.githubusercontent.com/aws-samples/amazon-sagemaker-notebook-instance-lifecycle-"
                      "config-samples/master/scripts/auto-stop-idle/autostop.py\n"
                      f"(crontab -l 2>/dev/null; echo \"*/5 * * * * /usr/bin/python3 $PWD/autostop.py --time {idle} "
                      "--ignore-connections\") | crontab -\n")
            self.call("sagemaker", "create_notebook_instance_lifecycle_config",
                      NotebookInstanceLifecycleConfigName=config,
                      OnStart=[{"Content": base64.b64encode(script.encode()).decode()}])
            kw["LifecycleConfigName"] = config
        vpc = self._vpc(a.vpc, st)
        if vpc:
            kw.update(SubnetId=vpc["Subnets"][0], SecurityGroupIds=vpc["SecurityGroupIds"])
        key = self._key(a.kms_key, st)
        if key:
            kw["KmsKeyId"] = key
        self.call("sagemaker", "create_notebook_instance", NotebookInstanceName=st.aws, InstanceType=a.instance,
                  RoleArn=self._role(a.role), **kw)
        st.created = True
        self.res.notebooks.append((st.name, st.aws))
        self._current.resource = f"notebook-instance/{st.aws}"
        if a.stop_when_idle:
            name, idle = st.aws, float(a.stop_when_idle)

            def settled() -> bool:
                status = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
                if status == "InService":
                    self.at(self.clock.seconds + idle, lambda: self._auto_stop(name))
                    return True
                return status in ("Failed", "Stopped", "Deleting")

            self.watchers.append(self._on_events(f"notebook-instance/{name}", settled))

    def _auto_stop(self, name: str) -> None:
        sm = self.client("sagemaker")
        if sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"] == "InService":
            sm.stop_notebook_instance(NotebookInstanceName=name)
            self.notes.append(f"notebook {name}: stopped by its auto-stop lifecycle configuration after the idle time")

    def _step_studio(self, st: _State, a: Any) -> None:
        sm = self.client("sagemaker")
        role = self._role(a.role)
        vpc = self._vpc(a.vpc, st)
        net = self._ref(a.vpc, ("network",), st) if vpc else None
        place = ({"VpcId": net.extra["vpc"], "SubnetIds": vpc["Subnets"]} if net is not None else
                 {"VpcId": "vpc-0default0sagetutor", "SubnetIds": ["subnet-0default0sagetutor"]})
        key = self._key(a.kms_key, st)
        r = self.call("sagemaker", "create_domain", DomainName=st.aws, AuthMode="SSO" if a.auth == "sso" else "IAM",
                      DefaultUserSettings={"ExecutionRole": role},
                      AppNetworkAccessType="VpcOnly" if a.network == "vpc_only" else "PublicInternetOnly",
                      **place, **({"KmsKeyId": key} if key else {}))
        domain = r["DomainId"]
        st.created = True
        st.extra["domain"] = domain
        self.res.domains.append((st.name, domain))
        self._current.resource = f"domain/{domain}"
        self.run(self._on_events(f"domain/{domain}", lambda: sm.describe_domain(DomainId=domain)["Status"] != "Pending"))
        users = [f"user-{i + 1}" for i in range(a.users)]
        for user in users:
            self.call("sagemaker", "create_user_profile", DomainId=domain, UserProfileName=user)
        pending = set(users)

        def profiles_settled() -> bool:
            for u in sorted(pending):
                if sm.describe_user_profile(DomainId=domain, UserProfileName=u)["Status"] == "Pending":
                    return False
                pending.discard(u)
            return True

        self.run(profiles_settled)
        for user in users:  # each learner opens Studio and a notebook kernel (ml.t3.medium)
            self.call("sagemaker", "create_app", DomainId=domain, UserProfileName=user, AppType="JupyterServer",
                      AppName="default")
            self.call("sagemaker", "create_app", DomainId=domain, UserProfileName=user, AppType="KernelGateway",
                      AppName="datascience", ResourceSpec={"InstanceType": "ml.t3.medium"})
            self.res.apps.append((st.name, domain, user, "datascience"))
        st.extra["users"] = users

    def _step_iam(self, st: _State, a: Any) -> None:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": a.trust},
                                                         "Action": "sts:AssumeRole"}]}
        r = self.call("iam", "create_role", RoleName=st.aws, AssumeRolePolicyDocument=json.dumps(trust),
                      Description=f"Execution role of plan step {st.name}")
        st.extra["arn"] = r["Role"]["Arn"]
        st.created = True
        self.res.roles.append((st.name, r["Role"]["Arn"]))
        self._current.resource = f"role/{st.aws}"
        for policy in a.managed:
            arn = policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}"
            self.call("iam", "attach_role_policy", RoleName=st.aws, PolicyArn=arn)
        statements = []
        for effect, rules in (("Allow", a.allow), ("Deny", a.deny)):
            for action, resources in rules.items():
                statements.append({"Effect": effect, "Action": action,
                                   "Resource": resources if isinstance(resources, list) else [resources]})
        if statements:
            self.call("iam", "put_role_policy", RoleName=st.aws, PolicyName=f"{st.aws}-inline",
                      PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))

    def _step_network(self, st: _State, a: Any) -> None:
        """A VPC in two AZs: app subnets (private or public), gateways, endpoints and the jobs' security group."""
        ec2 = self.client("ec2")
        vpc = self.call("ec2", "create_vpc", CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
        st.created = True
        self._current.resource = f"vpc/{vpc}"
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        group = self.call("ec2", "create_security_group", GroupName=f"{st.aws}-jobs", VpcId=vpc,
                          Description="SageMaker jobs and endpoints; HTTPS from the VPC to interface endpoints")[
            "GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": VPC_CIDR}]}])
        public = a.subnets == "public"
        app_rt = self.call("ec2", "create_route_table", VpcId=vpc)["RouteTable"]["RouteTableId"]
        subnets = []
        for cidr, zone in APP_SUBNETS:
            sub = self.call("ec2", "create_subnet", VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"][
                "SubnetId"]
            if public:
                ec2.modify_subnet_attribute(SubnetId=sub, MapPublicIpOnLaunch={"Value": True})
            ec2.associate_route_table(RouteTableId=app_rt, SubnetId=sub)
            subnets.append(sub)
        if a.internet_gateway:
            igw = self.call("ec2", "create_internet_gateway")["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            if public:
                ec2.create_route(RouteTableId=app_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            if a.nat_gateway:
                public_rt = self.call("ec2", "create_route_table", VpcId=vpc)["RouteTable"]["RouteTableId"]
                ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
                nat_subnet = self.call("ec2", "create_subnet", VpcId=vpc, CidrBlock=NAT_SUBNET[0],
                                       AvailabilityZone=NAT_SUBNET[1])["Subnet"]["SubnetId"]
                ec2.associate_route_table(RouteTableId=public_rt, SubnetId=nat_subnet)
                eip = self.call("ec2", "allocate_address", Domain="vpc")["AllocationId"]
                nat = self.call("ec2", "create_nat_gateway", SubnetId=nat_subnet, AllocationId=eip)["NatGateway"][
                    "NatGatewayId"]
                self.run(lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"] != "pending")
                if not public:
                    ec2.create_route(RouteTableId=app_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        interface = []
        for service in a.endpoints:
            name = f"com.amazonaws.{REGION}.{service}"
            if service == "s3":
                self.call("ec2", "create_vpc_endpoint", VpcId=vpc, ServiceName=name, VpcEndpointType="Gateway",
                          RouteTableIds=[app_rt])
            else:
                e = self.call("ec2", "create_vpc_endpoint", VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                              SubnetIds=subnets, SecurityGroupIds=[group], PrivateDnsEnabled=True)
                interface.append(e["VpcEndpoint"]["VpcEndpointId"])
        if interface:
            self.run(lambda: all(e["State"] != "pending" for e in ec2.describe_vpc_endpoints(
                VpcEndpointIds=interface)["VpcEndpoints"]))
        st.extra.update(vpc=vpc, subnets=subnets, group=group)

    def _step_key(self, st: _State, a: Any) -> None:
        """A customer managed key: IAM decides for the account, and the listed roles may use it."""
        users = [self._role(ref) for ref in a.users] or [DEFAULT_ROLE]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": users},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
                        "kms:CreateGrant"], "Resource": "*"}]}
        key = self.call("kms", "create_key", Description=f"plan step {st.name}", Policy=json.dumps(policy))[
            "KeyMetadata"]
        st.created = True
        st.extra["arn"] = key["Arn"]
        self._current.resource = f"key/{key['KeyId']}"
        if a.rotation:
            self.call("kms", "enable_key_rotation", KeyId=key["KeyId"])

    def _step_wait(self, st: _State, a: Any) -> None:
        target = a.for_
        if target == "all":
            self.run(idle=True)
            return
        other = self.states.get(target)
        if other is None or not other.created:
            return
        done = self._done_condition(other)
        if done is not None:
            self.run(done)

    def _done_condition(self, st: _State) -> Callable[[], bool] | None:
        sm = self.client("sagemaker")
        k, name = st.kind, st.aws

        def safe(fn: Callable[[], bool]) -> Callable[[], bool]:
            def check() -> bool:
                try:
                    return fn()
                except Exception:
                    return True
            return check

        if k == "train":
            return self._training_done(name)
        if k == "tune":
            return self._on_events(f"hyper-parameter-tuning-job/{name}", safe(
                lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                    "HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped")))
        if k == "transform":
            return self._on_events(f"transform-job/{name}", safe(
                lambda: sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] in (
                    "Completed", "Failed", "Stopped")))
        if k == "label":
            return self._on_events(f"labeling-job/{name}", safe(
                lambda: sm.describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"] in (
                    "Completed", "Failed", "Stopped")))
        if k == "deploy":
            return self._endpoint_settled(name)
        if k == "notebook":
            return self._on_events(f"notebook-instance/{name}", safe(
                lambda: sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"] in (
                    "InService", "Failed", "Stopped")))
        if k == "monitor":
            baseline = st.extra.get("baseline")
            return self._on_events(f"processing-job/{baseline}", safe(
                lambda: sm.describe_processing_job(ProcessingJobName=baseline)["ProcessingJobStatus"] in (
                    "Completed", "Failed", "Stopped")))
        if k == "traffic":
            run = st.extra.get("run")
            return (lambda: run.done) if run is not None else None
        if k == "orchestrate":
            arn = st.extra.get("execution")
            sfn = self.client("stepfunctions")
            return safe(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING") if arn else None
        if k == "studio":
            domain = st.extra.get("domain")
            return safe(lambda: sm.describe_domain(DomainId=domain)["Status"] != "Pending") if domain else None
        return None

    def _step_advance(self, st: _State, a: Any) -> None:
        self.run(until=self.clock.seconds + float(a.by))

    def _step_stop(self, st: _State, a: Any) -> None:
        target = self.states.get(a.target)
        if target is None or not target.created:
            raise _Skip(f"step '{a.target}' made nothing to stop")
        sm = self.client("sagemaker")
        k, name = target.kind, target.aws
        self._current.resource = _resource_of(target)
        if k == "train":
            if self._training_status(name) == "InProgress":
                self.call("sagemaker", "stop_training_job", TrainingJobName=name)
        elif k == "tune":
            status = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                "HyperParameterTuningJobStatus"]
            if status == "InProgress":
                self.call("sagemaker", "stop_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
        elif k == "transform":
            if sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "InProgress":
                self.call("sagemaker", "stop_transform_job", TransformJobName=name)
        elif k == "label":
            if sm.describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"] in ("Initializing", "InProgress"):
                self.call("sagemaker", "stop_labeling_job", LabelingJobName=name)
        elif k == "deploy":
            self.run(self._endpoint_settled(name))
            if self._endpoint_status(name) is not None:
                self.call("sagemaker", "delete_endpoint", EndpointName=name)
        elif k == "notebook":
            self.run(self._on_events(f"notebook-instance/{name}", lambda: sm.describe_notebook_instance(
                NotebookInstanceName=name)["NotebookInstanceStatus"] not in ("Pending", "Updating", "Stopping")))
            if sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"] == "InService":
                self.call("sagemaker", "stop_notebook_instance", NotebookInstanceName=name)
        elif k == "monitor":
            self.call("sagemaker", "stop_monitoring_schedule", MonitoringScheduleName=name)
        elif k == "studio":
            domain = target.extra["domain"]
            for user in target.extra.get("users", []):
                self.run(lambda u=user: sm.describe_app(DomainId=domain, UserProfileName=u, AppType="KernelGateway",
                                                        AppName="datascience")["Status"] != "Pending")
                self.call("sagemaker", "delete_app", DomainId=domain, UserProfileName=user, AppType="KernelGateway",
                          AppName="datascience")

    # -- orchestrate (Step Functions) -----------------------------------------------------------
    def _prepare_deferred(self, st: _State) -> None:
        """A step an orchestrate step runs later: only what later references need now."""
        a = st.args
        if st.kind in ("train", "tune"):
            st.dataset, st.algorithm = a.dataset, a.algorithm
            self.datasets[st.name] = a.dataset

    def _step_orchestrate(self, st: _State, a: Any) -> None:
        states: dict[str, Any] = {}
        order: list[str] = []
        in_flow: dict[str, str] = {}  # source step -> model name the workflow creates
        retry = [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": a.retries, "IntervalSeconds": 60,
                  "BackoffRate": 2.0}] if a.retries else None

        def add(name: str, state: dict) -> None:
            if retry and state["Resource"].endswith(".sync"):
                state["Retry"] = retry
            states[name] = state
            order.append(name)

        for ref in a.steps:
            other = self.states.get(ref)
            if other is None:
                continue
            oa = other.args
            task = re.sub(r"[^A-Za-z0-9]", "", ref.title()) or "Step"
            if other.kind == "train":
                self._nominal(f"s3://{DATA}/{oa.dataset}/train/", oa.nominal_rows)
                req = self._train_request(other, oa, other.aws)
                add(task, {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                           "Parameters": req, "ResultSelector": {"model.$": "$.ModelArtifacts.S3ModelArtifacts"},
                           "ResultPath": f"$.{task}"})
                model = self._unique(f"{other.name}-model")
                add(f"{task}Model", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel",
                                     "Parameters": {"ModelName": model, "ExecutionRoleArn": self._role(oa.role),
                                                    "PrimaryContainer": {"Image": self.eng.image_uri(oa.algorithm),
                                                                         "ModelDataUrl.$": f"$.{task}.model"}},
                                     "ResultPath": None})
                in_flow[other.name] = model
                self.res.training_jobs.append((other.name, other.aws))
                self.res.models.append((other.name, model))
            elif other.kind == "tune":
                self._nominal(f"s3://{DATA}/{oa.dataset}/train/", oa.nominal_rows)
                other.aws = other.aws[:32].rstrip("-")
                req = self._tune_request(other, oa, other.aws)
                add(task, {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                           "Parameters": req, "ResultSelector": {"best.$": "$.BestTrainingJob.TrainingJobName"},
                           "ResultPath": f"$.{task}"})
                model = self._unique(f"{other.name}-model")
                add(f"{task}Model", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel",
                                     "Parameters": {"ModelName": model, "ExecutionRoleArn": self._role(oa.role),
                                                    "PrimaryContainer": {
                                                        "Image": self.eng.image_uri(oa.algorithm),
                                                        "ModelDataUrl.$": f"States.Format('s3://{BUCKET}/tuning/"
                                                                          f"{other.aws}/{{}}/output/model.tar.gz', "
                                                                          f"$.{task}.best)"}},
                                     "ResultPath": None})
                in_flow[other.name] = model
                self.res.tuning_jobs.append((other.name, other.aws))
                self.res.models.append((other.name, model))
            elif other.kind in ("transform", "deploy"):
                source = self._ref(oa.model, ("train", "tune"), other) if other.kind == "transform" or \
                    not oa.pipeline else self.states.get(oa.pipeline[0])
                if source is None:
                    continue
                other.dataset, other.algorithm = source.dataset, source.algorithm
                model = in_flow.get(source.name) or self._model_for(source, self._role(oa.role), False)
                if other.kind == "transform":
                    req = self._transform_request(other, oa, source, model, other.aws)
                    add(task, {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                               "Parameters": req, "ResultPath": None})
                    self.res.transform_jobs.append((other.name, other.aws))
                else:
                    cfg = self._endpoint_config(other, oa, model)
                    add(f"{task}Config", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
                                          "Parameters": cfg, "ResultPath": None})
                    add(task, {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createEndpoint",
                               "Parameters": {"EndpointName": other.aws,
                                              "EndpointConfigName": cfg["EndpointConfigName"]}, "ResultPath": None})
                    self.res.endpoints.append((other.name, other.aws))
                    other.extra["async"] = oa.async_
            elif other.kind == "label":
                req = self._labeling_request(other, oa, other.aws)
                add(task, {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createLabelingJob.sync",
                           "Parameters": req, "ResultPath": None})
                self.res.labeling_jobs.append((other.name, other.aws))
            other.created = True
            other.deferred = False
            for rec in self.records:
                if rec.name == other.name:
                    rec.resource = _resource_of(other)
        if not order:
            raise _Skip("no steps to orchestrate")
        for i, name in enumerate(order):
            if i + 1 < len(order):
                states[name]["Next"] = order[i + 1]
            else:
                states[name]["End"] = True
        definition = {"Comment": f"SageTutor plan step {st.name}", "StartAt": order[0], "States": states}
        r = self.call("stepfunctions", "create_state_machine", name=st.aws, definition=json.dumps(definition),
                      roleArn=self._role(a.role))
        ex = self.call("stepfunctions", "start_execution", stateMachineArn=r["stateMachineArn"], name=f"{st.aws}-1")
        st.created = True
        st.extra["execution"] = ex["executionArn"]
        self.res.executions.append((st.name, ex["executionArn"]))
        self._current.resource = f"execution/{st.aws}"
        if a.schedule:
            self.notes.append(f"{st.name}: EventBridge schedules are not simulated; the workflow ran once "
                              f"(its schedule {a.schedule} would start it again)")
        # Endpoints the workflow creates: record when CreateEndpoint happens, for time.deploy.
        for other_name in a.steps:
            other = self.states.get(other_name)
            if other is not None and other.kind == "deploy":
                ep = other.aws

                def seen(ep: str = ep) -> bool:
                    if self._endpoint_status(ep) is not None:
                        self.res.endpoint_created_at.setdefault(ep, self.clock.seconds)
                        return True
                    return False

                self.watchers.append(self._on_events(f"endpoint/{ep}", seen))


def _resource_of(st: _State) -> str | None:
    prefix = {"train": "training-job", "tune": "hyper-parameter-tuning-job", "transform": "transform-job",
              "deploy": "endpoint", "label": "labeling-job", "notebook": "notebook-instance",
              "monitor": "monitoring-schedule"}.get(st.kind)
    return f"{prefix}/{st.aws}" if prefix else None


def _integer_hp(algorithm: str, name: str) -> bool:
    try:
        from engine.algorithms import BUILTINS

        spec = BUILTINS[algorithm].hyperparameters
        p = spec.params.get(name)
        return p is not None and p.kind == "int"
    except Exception:
        return True


def _direction(algorithm: str, metric: str) -> str | None:
    try:
        from engine.algorithms import BUILTINS

        for m in BUILTINS[algorithm].metrics:
            if m.name == metric:
                return m.direction
    except Exception:
        return None
    return None


def run_plan(steps: list[Any], seed: int) -> PlanRun:
    """Run ``steps`` (parsed plan steps) on a fresh ``Engine(seed)``; ``PlanNotSupported`` before anything
    runs when the plan needs what the engine does not simulate yet."""
    return Runner(steps, seed).execute()


__all__ = ["PlanNotSupported", "PlanRun", "Runner", "StepRecord", "check_supported", "run_plan", "step_names"]
