"""Hosting: models, endpoint configurations, endpoints, and the three ways an endpoint serves.

The seed's three steps (CreateModel -> CreateEndpointConfig -> CreateEndpoint) with
AWS's statuses. Predictions are the trained model's real predictions; time and money
are simulated (docs/deployment.md, docs/time-and-cost.md):

* **Real-time** (InstanceType x InitialInstanceCount): billed per instance-second for
  as long as the endpoint is InService, called or not. A variant's instance count can
  change under Application Auto Scaling (``set_instance_count``); each change closes
  the variant's meter and opens one at the new count, so the bill shows the counts.
* **Serverless** (ServerlessConfig): no instances and no meter. Each request is billed
  per started millisecond of processing x the memory size, plus the bytes in and
  out, on one bill line per usage type and day that grows as requests come.
  The first request after ``timing.SERVERLESS_IDLE_SECONDS`` of idleness pays a cold
  start (``ModelSetupTime``). Payloads are limited to 4 MB.
* **Asynchronous** (AsyncInferenceConfig): InvokeEndpointAsync queues a request in
  virtual time; the variant's instances work the queue (at most
  MaxConcurrentInvocationsPerInstance each) and write ``<S3OutputPath>/<id>.out`` or
  ``<S3FailurePath>/<id>-error.out``. Backlog metrics are published every minute;
  with MinCapacity 0 auto scaling may take the variant to zero instances, and billing
  stops until it scales out again.

Every answered request (real-time, serverless, simulated traffic, async) is passed to
each of ``invocation_hooks`` as an ``Invocation``, which is how data capture sees it; a hook
with a ``wants(endpoint_name)`` method is skipped for the endpoints it does not want (simulated
traffic then builds no per-request record for them).
Standing endpoints never hold a busy token: only launches, scale-outs and an async
queue being worked do, so ``run_until_idle`` returns while endpoints stand.
"""

from __future__ import annotations

import hashlib
import math
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np

from engine import artifacts, timing
from engine.algorithms import BUILTINS
from engine.bill import line
from engine.clock import EPOCH
from engine.errors import ServiceError, validation
from engine.pricing import hourly_price, instance_spec, unit_price
from engine.services.s3 import parse_uri
from engine.services.sagemaker import access, images

MAX_PAYLOAD = 6 * 1024 * 1024
SERVERLESS_MAX_PAYLOAD = 4 * 1024 * 1024
ASYNC_MAX_PAYLOAD = 1024 ** 3
#: Built-ins AWS supports on multi-model endpoints.
MULTI_MODEL_BUILTINS = frozenset({"xgboost", "linear-learner", "knn", "randomcutforest"})
LOG_GROUP = "/aws/sagemaker/Endpoints"
NAMESPACE = "AWS/SageMaker"
SERVING_STATUSES = ("InService", "Updating")  # during an update or a scale-out the old fleet keeps serving
MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
DEFAULT_REQUEST_TTL = 21600  # InvokeEndpointAsync RequestTTLSeconds default: 6 hours
GIB = Decimal(1024 ** 3)


@lru_cache(maxsize=64)
def _load(algorithm: str, digest: str, payload: bytes):
    """Deserialised models are shared across engines: loading is the costly part of a cold invoke."""
    return BUILTINS[algorithm].load_model(payload)


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        body = body.read()
    return body.encode() if isinstance(body, str) else bytes(body)


_EPOCH_US = round(EPOCH.timestamp()) * 1_000_000


def _timestamps(seconds: np.ndarray) -> list[float]:
    """``clock.at(s).timestamp()`` for many virtual times at once (millisecond resolution, same floats)."""
    ms = np.round(np.asarray(seconds, dtype=np.float64) * 1000).astype(np.int64)
    return ((_EPOCH_US + ms * 1000) / 1e6).tolist()


class Serving:
    """What a model serves: one container, or an inference pipeline of 2-15 run in order.

    In a pipeline each container's response is the next one's request, with the
    response's content type (intermediate containers are asked for text/csv), as
    SageMaker passes requests along the containers on one instance.
    """

    def __init__(self, predictors: list, multi_model: dict | None = None):
        self.predictors = predictors
        self.multi_model = multi_model  # {"prefix": s3 uri, "algorithm": name} for Mode MultiModel
        self.containers = max(1, len(predictors))

    def predict(self, body: bytes, content_type: str, accept: str, target=None) -> tuple[bytes, str]:
        chain = [target] if target is not None else self.predictors
        for i, predictor in enumerate(chain):
            last = i == len(chain) - 1
            body, content_type = predictor.predict_body(body, content_type, accept if last else "text/csv")
        return body, content_type


@dataclass
class Model:
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    serving: Serving | None = None

    @property
    def containers(self) -> list[dict]:
        return [self.request["PrimaryContainer"]] if "PrimaryContainer" in self.request else self.request["Containers"]


@dataclass(frozen=True)
class Invocation:
    """One answered request, as data capture and monitoring see it."""

    endpoint: str
    variant: str
    inference_id: str
    seconds: float
    request: bytes
    request_type: str
    response: bytes
    response_type: str
    latency_ms: float


@dataclass
class EndpointConfig:
    name: str
    arn: str
    request: dict[str, Any]
    created: float


@dataclass
class Variant:
    name: str
    model: str
    instance_type: str | None
    count: int  # CurrentInstanceCount (0 for serverless)
    weight: float
    meter: int | None = None
    serverless: dict | None = None  # the ServerlessConfig
    serving: Serving | None = None  # kept from CreateEndpoint: deleting the model does not stop the endpoint
    images: list[str] = field(default_factory=list)
    desired: int | None = None  # DesiredInstanceCount while a scale-out is provisioning
    per_minute: dict[int, float] = field(default_factory=dict)  # sum of InvocationsPerInstance per clock minute
    last_served: float | None = None  # serverless: when the last request finished (warm until + idle)
    provisioned_meter: int | None = None  # serverless ProvisionedConcurrency

    @property
    def desired_count(self) -> int:
        return self.count if self.desired is None else self.desired


@dataclass
class AsyncRequest:
    inference_id: str
    input_location: str
    content_type: str
    accept: str
    enqueued: float
    ttl: float
    output: str
    failure: str


@dataclass
class Endpoint:
    name: str
    arn: str
    config: str
    created: float
    status: str = "Creating"
    last_modified: float = 0.0
    variants: list[Variant] = field(default_factory=list)
    failure: str | None = None
    invocations: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    pending: list[Variant] | None = None  # the new fleet while Updating
    kind: str = "real-time"  # "real-time", "serverless" or "async"
    async_config: dict | None = None
    data_capture: dict | None = None
    queue: deque = field(default_factory=deque)  # AsyncRequest waiting for an instance
    in_flight: int = 0
    draining: bool = False
    async_seq: int = 0
    rng: random.Random = field(default_factory=random.Random)  # overheads, routing, cold starts: seeded

    @property
    def capacity(self) -> int:
        return sum(v.count for v in self.variants if not v.serverless)

    @property
    def backlog(self) -> int:
        """ApproximateBacklogSize: requests queued or being processed."""
        return len(self.queue) + self.in_flight


@dataclass
class BatchResult:
    """What ``Hosting.invoke_many`` did with a batch of one-record requests."""

    answered: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # of the answered requests, in request order
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, code: str, n: int = 1) -> None:
        if n:
            self.errors[code] = self.errors.get(code, 0) + n


def _kind(cfg: dict) -> str:
    if any("ServerlessConfig" in v for v in cfg["ProductionVariants"]):
        return "serverless"
    return "async" if "AsyncInferenceConfig" in cfg else "real-time"


class _DailyUsage:
    """Counted usage that grows with requests: one bill line per resource, usage type and UTC day.

    As a daily cost and usage report shows it. The line of the current day is replaced
    as usage accrues, so ``eng.bill()`` is always current, while a day without requests
    adds nothing. (Per hour, a sparse workload's lines would each round to $0.000000.)
    """

    def __init__(self, world):
        self.world = world
        self._open: dict[tuple, tuple[Decimal, float]] = {}  # key -> (quantity so far, first use)

    def add(self, arn: str, usage_type: str, unit: str, price: Decimal, quantity: Decimal, at: float,
            description: str) -> None:
        if quantity <= 0:
            return
        day = int((_EPOCH_US / 1e6 + at) // 86400)  # the UTC day
        key = (arn, usage_type, day)
        entry = self._open.get(key)
        total = quantity + (entry[0] if entry else 0)
        first = entry[1] if entry else at
        self._open[key] = (total, first)
        self.world.ledger.upsert(key, line(arn, "sagemaker", usage_type, total, unit, price, "serverless", start=first,
                                           end=max(at, first), description=description))


class Hosting:
    def __init__(self, world):
        self.world = world
        self.models: dict[str, Model] = {}
        self.configs: dict[str, EndpointConfig] = {}
        self.endpoints: dict[str, Endpoint] = {}
        #: Called with each Invocation after it is answered (data capture hooks in here); see the module doc.
        self.invocation_hooks: list = []
        self._usage = _DailyUsage(world)

    @property
    def clock(self):
        return self.world.clock

    # -- models -------------------------------------------------------------------
    def _image(self, container: dict) -> images.Image:
        image = images.resolve(container.get("Image", ""), self.world.account)
        if image is None or image.kind != "builtin":
            raise validation(f"Image {container.get('Image')} is not a built-in algorithm image this engine serves.")
        return image

    def _predictor(self, container: dict, where: str, url: str | None = None):
        """Load and verify the model a container serves (only artifacts the engine wrote)."""
        image = self._image(container)
        url = url or container.get("ModelDataUrl")
        if not url:
            raise validation(f"ModelDataUrl is required for built-in algorithm {image.algorithm} ({where}).")
        bucket, key = parse_uri(url)
        s3 = self.world.services["s3"]
        try:
            data = s3.get(bucket, key).data
        except ServiceError:
            raise validation(f"Could not find model data at {url}.") from None
        try:
            manifest, payload, _ = artifacts.unpack(data, url)
        except artifacts.ArtifactError as e:
            raise validation(str(e)) from None
        if manifest.get("kind") != "model" or manifest.get("algorithm") != image.algorithm:
            raise validation(f"The model data at {url} was trained by {manifest.get('algorithm')}, not by "
                             f"{image.algorithm} (the container image).")
        return _load(image.algorithm, manifest["sha256"], payload)

    def create_model(self, req: dict, call) -> dict:
        name = req["ModelName"]
        arn = self.world.arn("sagemaker", f"model/{name.lower()}")
        if name in self.models:
            raise validation(f"Cannot create already existing model \"{arn}\".")
        access.placement(self.world, req.get("VpcConfig"))
        role = req.get("ExecutionRoleArn")
        if role and not self.world.services["iam"].can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows principal "
                             "'sagemaker.amazonaws.com' to assume the role.")
        if ("PrimaryContainer" in req) == ("Containers" in req):
            raise validation("Exactly one of PrimaryContainer or Containers must be specified.")
        containers = [req["PrimaryContainer"]] if "PrimaryContainer" in req else req["Containers"]
        if "Containers" in req and len(containers) > 1 and any(c.get("Mode") == "MultiModel" for c in containers):
            raise validation("Multi-model mode is not supported for inference pipelines.")
        multi = None
        predictors = []
        for i, c in enumerate(containers):
            where = "PrimaryContainer" if "PrimaryContainer" in req else f"Containers.{i + 1}"
            if c.get("Mode") == "MultiModel":
                image = self._image(c)
                if image.algorithm not in MULTI_MODEL_BUILTINS:
                    raise validation(f"Algorithm {image.algorithm} does not support multi-model endpoints; "
                                     f"supported built-ins: {', '.join(sorted(MULTI_MODEL_BUILTINS))}.")
                if not c.get("ModelDataUrl", "").endswith("/"):
                    raise validation("For a multi-model container, ModelDataUrl must be an S3 prefix ending in '/'.")
                multi = {"prefix": c["ModelDataUrl"], "container": c, "cache": {}}
            else:
                predictors.append(self._predictor(c, where))
        self.models[name] = Model(name, arn, req, self.clock.seconds, Serving(predictors, multi))
        kind = f"an inference pipeline of {len(containers)} containers" if len(containers) > 1 else "one container"
        self.world.event(arn, "status", f"Model created ({kind})")
        return {"ModelArn": arn}

    def describe_model(self, req: dict, call) -> dict:
        m = self.models.get(req["ModelName"])
        if m is None:
            raise validation(f"Could not find model \"{self.world.arn('sagemaker', 'model/' + req['ModelName'].lower())}\".")
        out = {"ModelName": m.name, "ModelArn": m.arn, "CreationTime": self.clock.at(m.created),
               "EnableNetworkIsolation": m.request.get("EnableNetworkIsolation", False)}
        for key in ("PrimaryContainer", "Containers", "InferenceExecutionConfig", "VpcConfig"):
            if key in m.request:
                out[key] = m.request[key]
        if "ExecutionRoleArn" in m.request:
            out["ExecutionRoleArn"] = m.request["ExecutionRoleArn"]
        return out

    def delete_model(self, req: dict, call) -> dict:
        if self.models.pop(req["ModelName"], None) is None:
            raise validation(f"Could not find model \"{self.world.arn('sagemaker', 'model/' + req['ModelName'].lower())}\".")
        return {}

    def list_models(self, req: dict, call) -> dict:
        ms = sorted(self.models.values(), key=lambda m: (m.created, m.name), reverse=True)
        return {"Models": [{"ModelName": m.name, "ModelArn": m.arn, "CreationTime": self.clock.at(m.created)}
                           for m in ms]}

    # -- endpoint configs -----------------------------------------------------------
    def _model_arn(self, name: str) -> str:
        return self.world.arn("sagemaker", "model/" + str(name).lower())

    def create_endpoint_config(self, req: dict, call) -> dict:
        name = req["EndpointConfigName"]
        arn = self.world.arn("sagemaker", f"endpoint-config/{name.lower()}")
        if name in self.configs:
            raise validation(f"Cannot create already existing endpoint configuration \"{arn}\".")
        variants = req["ProductionVariants"]
        names = [v["VariantName"] for v in variants]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise validation(f"The variant name {dup} is used by more than one production variant; "
                             "variant names must be unique within an endpoint configuration.")
        for i, v in enumerate(variants, start=1):
            if v.get("InstanceType"):
                access.check_volume_key(v["InstanceType"], req.get("KmsKeyId"))
            if v.get("ModelName") not in self.models:
                raise validation(f"Could not find model \"{self._model_arn(v.get('ModelName'))}\".")
            if "ServerlessConfig" in v:
                self._check_serverless(req, v, i)
            elif "InstanceType" not in v or "InitialInstanceCount" not in v:
                raise validation(f"Variant {v['VariantName']}: InstanceType and InitialInstanceCount are required "
                                 "unless ServerlessConfig is given.")
        if "AsyncInferenceConfig" in req:
            out = req["AsyncInferenceConfig"]["OutputConfig"]
            if not out.get("S3OutputPath"):
                raise validation("AsyncInferenceConfig.OutputConfig.S3OutputPath is required: the S3 location "
                                 "asynchronous inference writes its responses to.")
        self.configs[name] = EndpointConfig(name, arn, req, self.clock.seconds)
        return {"EndpointConfigArn": arn}

    def _check_serverless(self, req: dict, v: dict, i: int) -> None:
        """AWS's rules for a serverless variant (what serverless endpoints do not support)."""
        name, sc = v["VariantName"], v["ServerlessConfig"]
        if len(req["ProductionVariants"]) > 1:
            raise validation("Serverless endpoints support a single production variant; this endpoint configuration "
                             f"has {len(req['ProductionVariants'])}.")
        if "InstanceType" in v or "InitialInstanceCount" in v:
            raise validation(f"Variant {name}: specify either ServerlessConfig or InstanceType and "
                             "InitialInstanceCount, not both.")
        if "AcceleratorType" in v:
            raise validation(f"Variant {name}: serverless endpoints do not support GPUs or accelerators "
                             "(AcceleratorType).")
        memory = sc["MemorySizeInMB"]
        if memory not in MEMORY_SIZES:
            raise validation(f"1 validation error detected: Value '{memory}' at "
                             f"'productionVariants.{i}.member.serverlessConfig.memorySizeInMB' failed to satisfy "
                             "constraint: Member must be a multiple of 1024 (1 GB) between 1024 and 6144")
        provisioned = sc.get("ProvisionedConcurrency")
        if provisioned is not None and provisioned > sc["MaxConcurrency"]:
            raise validation(f"Variant {name}: ProvisionedConcurrency ({provisioned}) must be less than or equal to "
                             f"MaxConcurrency ({sc['MaxConcurrency']}).")
        for key, what in (("DataCaptureConfig", "data capture"), ("AsyncInferenceConfig", "asynchronous inference"),
                          ("ShadowProductionVariants", "shadow variants")):
            if key in req:
                raise validation(f"Serverless endpoints do not support {what} ({key}).")
        model = self.models[v["ModelName"]]
        if len(model.containers) > 1:
            raise validation(f"Serverless endpoints do not support inference pipelines: model {model.name} has "
                             f"{len(model.containers)} containers.")
        if model.serving.multi_model is not None:
            raise validation(f"Serverless endpoints do not support multi-model endpoints: model {model.name} is in "
                             "MultiModel mode.")
        if "VpcConfig" in model.request:
            raise validation(f"Serverless endpoints do not support VPC configuration: model {model.name} has a "
                             "VpcConfig.")
        if model.request.get("EnableNetworkIsolation"):
            raise validation(f"Serverless endpoints do not support network isolation: model {model.name} has "
                             "EnableNetworkIsolation set.")

    def describe_endpoint_config(self, req: dict, call) -> dict:
        c = self.configs.get(req["EndpointConfigName"])
        if c is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        out = {"EndpointConfigName": c.name, "EndpointConfigArn": c.arn, "CreationTime": self.clock.at(c.created),
               "ProductionVariants": [{"InitialVariantWeight": 1.0, **v} for v in c.request["ProductionVariants"]]}
        for key in ("DataCaptureConfig", "AsyncInferenceConfig", "KmsKeyId", "ShadowProductionVariants"):
            if key in c.request:
                out[key] = c.request[key]
        return out

    def delete_endpoint_config(self, req: dict, call) -> dict:
        if self.configs.pop(req["EndpointConfigName"], None) is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        return {}

    # -- endpoints --------------------------------------------------------------------
    def _endpoint(self, name: str) -> Endpoint:
        ep = self.endpoints.get(name)
        if ep is None:
            raise validation(f"Could not find endpoint \"{self.world.arn('sagemaker', 'endpoint/' + name.lower())}\".")
        return ep

    def create_endpoint(self, req: dict, call) -> dict:
        name = req["EndpointName"]
        arn = self.world.arn("sagemaker", f"endpoint/{name.lower()}")
        if name in self.endpoints:
            raise validation(f"Cannot create already existing endpoint \"{arn}\".")
        cfg = self.configs.get(req["EndpointConfigName"])
        if cfg is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        now = self.clock.seconds
        ep = Endpoint(name, arn, cfg.name, now, last_modified=now,
                      rng=random.Random(zlib.crc32(f"{self.world.seed}|endpoint|{name}|{now!r}".encode())))
        self._configure(ep, cfg)
        ep.variants = self._variants(cfg)
        self.endpoints[name] = ep
        self.world.event(arn, "status", "Creating endpoint", "Creating")
        self.clock.start(self._bring_up(ep))
        return {"EndpointArn": arn}

    def _configure(self, ep: Endpoint, cfg: EndpointConfig) -> None:
        ep.kind = _kind(cfg.request)
        ep.async_config = cfg.request.get("AsyncInferenceConfig")
        ep.data_capture = cfg.request.get("DataCaptureConfig")

    def _bring_up(self, ep: Endpoint):
        fleet = [v for v in ep.variants if not v.serverless]
        if fleet:  # the seed's draw: launch + model download + health checks
            spec = instance_spec(fleet[0].instance_type)
            u = self.world.spot.draw(fleet[0].instance_type, ep.name, 1, "endpoint")
            seconds = timing.provision_seconds(spec, u) + timing.ENDPOINT_SETUP_SECONDS
        else:
            seconds = timing.serverless_create_seconds(self.world.spot.draw("serverless", ep.name, 1, "endpoint"))
        yield self.clock.env.timeout(seconds)
        if ep.status != "Creating":
            return
        problem = self._secure_bring_up(ep)
        if problem is not None:
            ep.status = "Failed"
            ep.failure = problem[:1024]
            ep.last_modified = self.clock.seconds
            self.world.event(ep.arn, "status", f"Endpoint failed: {problem}", "Failed")
            return
        ep.status = "InService"
        ep.last_modified = self.clock.seconds
        self._start_meters(ep, ep.variants)
        if ep.kind == "serverless":
            message = "Endpoint is InService (serverless: billed per request, nothing while idle)"
        else:
            message = "Endpoint is InService (billing per instance-second from now, called or not)"
        self.world.event(ep.arn, "status", message, "InService")
        if ep.kind == "async":
            self.clock.env.process(self._publish_backlog(ep))  # a standing process: no busy token
            self._kick(ep)

    def _secure_bring_up(self, ep: Endpoint) -> str | None:
        """The model downloads over each variant's network with its role; the volumes take the config's key.

        Returns AWS's FailureReason when the endpoint cannot come up, else None.
        """
        cfg = self.configs[ep.config]
        key = cfg.request.get("KmsKeyId")
        for v in ep.variants:
            model = self.models.get(v.model) if isinstance(getattr(v, "model", None), str) else None
            if model is None:
                continue
            role = model.request.get("ExecutionRoleArn")
            if key and role and not v.serverless:
                use = access.use_key(self.world, role, key, "kms:CreateGrant", ep.arn)
                if not use.allowed:
                    return f"Could not use the KMS key {key} for the endpoint's storage volumes: {use.code}: {use.message}"
            vpc = model.request.get("VpcConfig")
            size = 0
            s3 = self.world.services["s3"]
            try:
                net = access.reach_s3(self.world, ep.arn, vpc, "model artifact")
            except access.NoRoute:
                return f"Failed to download model data for container of model {model.name}. " + access.NO_S3_ROUTE
            principal = self.world.services["iam"].session_arn(role) if role else None
            for n, c in enumerate(model.containers, start=1):
                url = c.get("ModelDataUrl")
                if not url or url.endswith("/"):
                    continue
                b, k = parse_uri(url)
                obj = s3.buckets.get(b).objects.get(k) if b in s3.buckets else None
                size += len(obj.data) if obj is not None else 0
                if principal is None or obj is None:
                    continue
                d = s3.authorize(principal, "s3:GetObject", b, k, context=net, on_behalf_of=ep.arn)
                use = s3.kms_for_get(principal, obj, on_behalf_of=ep.arn) if d.allowed else None
                if not d.allowed or (use is not None and not use.allowed):
                    return (f"Failed to download model data for container \"container_{n}\" from URL: \"{url}\". "
                            "Please ensure that there is an object located at the URL and that the role passed to "
                            "CreateModel has permissions to download the model.")
            access.carry_s3(self.world, ep.arn, vpc, "model artifact", size)
        if ep.kind != "serverless":
            access.record_volume(self.world, ep.arn, "endpoint-volume", key)
        return None

    def describe_endpoint(self, req: dict, call) -> dict:
        ep = self._endpoint(req["EndpointName"])
        out = {"EndpointName": ep.name, "EndpointArn": ep.arn, "EndpointConfigName": ep.config,
               "EndpointStatus": ep.status, "CreationTime": self.clock.at(ep.created),
               "LastModifiedTime": self.clock.at(ep.last_modified)}
        if ep.status in ("InService", "Updating", "Deleting"):
            out["ProductionVariants"] = [self._variant_summary(ep, v) for v in ep.variants]
        if ep.data_capture:
            dc = ep.data_capture
            enabled = dc.get("EnableCapture", True)
            out["DataCaptureConfig"] = {"EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped",
                                        "CurrentSamplingPercentage": dc["InitialSamplingPercentage"],
                                        "DestinationS3Uri": dc["DestinationS3Uri"]}
            if "KmsKeyId" in dc:
                out["DataCaptureConfig"]["KmsKeyId"] = dc["KmsKeyId"]
        if ep.async_config:
            out["AsyncInferenceConfig"] = ep.async_config
        if ep.failure:
            out["FailureReason"] = ep.failure
        return out

    def _variant_summary(self, ep: Endpoint, v: Variant) -> dict:
        s = {"VariantName": v.name, "CurrentWeight": v.weight, "DesiredWeight": v.weight,
             "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image,
                                 "ResolutionTime": self.clock.at(ep.created)} for image in v.images]}
        if v.serverless:
            s["CurrentServerlessConfig"] = dict(v.serverless)
            s["DesiredServerlessConfig"] = dict(v.serverless)
        else:
            s["CurrentInstanceCount"] = v.count
            s["DesiredInstanceCount"] = v.desired_count
        return s

    def _variants(self, cfg: EndpointConfig) -> list[Variant]:
        out = []
        for v in cfg.request["ProductionVariants"]:
            model = self.models[v["ModelName"]]
            out.append(Variant(v["VariantName"], v["ModelName"], v.get("InstanceType"), v.get("InitialInstanceCount", 0),
                               float(v.get("InitialVariantWeight", 1.0)), serverless=v.get("ServerlessConfig"),
                               serving=model.serving, images=[c["Image"] for c in model.containers]))
        return out

    def _start_meters(self, ep: Endpoint, variants: list[Variant]) -> None:
        for v in variants:
            if v.serverless:
                self._start_provisioned(ep, v)
            elif v.count > 0:
                self._start_meter(ep, v)

    def _start_meter(self, ep: Endpoint, v: Variant) -> None:
        price = hourly_price("hosting", v.instance_type)
        v.meter = self.world.ledger.start_meter(ep.arn, "sagemaker", "hosting-instance-seconds", price.usd,
                                                "on-demand", v.instance_type, v.count,
                                                f"variant {v.name}: {v.count} x {v.instance_type} while InService")

    def _start_provisioned(self, ep: Endpoint, v: Variant) -> None:
        """ProvisionedConcurrency keeps containers warm, and is billed while the endpoint stands."""
        pc = v.serverless.get("ProvisionedConcurrency")
        if not pc:
            return
        try:
            price = unit_price("serverless-provisioned-concurrency-gb-second").usd
        except KeyError:  # the table has no such rate yet: the on-demand GB-second rate (an overestimate)
            price = unit_price("serverless-inference-gb-second").usd
        gb = Decimal(v.serverless["MemorySizeInMB"]) / 1024
        v.provisioned_meter = self.world.ledger.start_meter(
            ep.arn, "sagemaker", "serverless-provisioned-concurrency-seconds", price * gb * 3600, "serverless",
            None, pc, f"variant {v.name}: provisioned concurrency {pc} x {gb} GB while InService")

    def _stop_meters(self, variants: list[Variant]) -> None:
        for v in variants:
            for attr in ("meter", "provisioned_meter"):
                meter = getattr(v, attr)
                if meter is not None:
                    self.world.ledger.stop_meter(meter)
                    setattr(v, attr, None)

    def update_endpoint(self, req: dict, call) -> dict:
        """Blue/green: a new fleet is launched (and billed) beside the old one, which keeps serving."""
        ep = self._endpoint(req["EndpointName"])
        if ep.status != "InService":
            raise validation(f"Cannot update in-progress endpoint \"{ep.arn}\".")
        cfg = self.configs.get(req["EndpointConfigName"])
        if cfg is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        from engine.services.autoscaling import scalable_variants

        scaled = scalable_variants(self.world, ep.name)
        current = {v.name: v for v in ep.variants}
        for v in cfg.request["ProductionVariants"]:
            old = current.get(v["VariantName"])
            if v["VariantName"] in scaled and old is not None and v.get("InstanceType") != old.instance_type:
                raise validation(f"The update would change the instance type of variant {old.name} of endpoint "
                                 f"{ep.name}, which is registered with Application Auto Scaling. Delete its scaling "
                                 "policies and deregister the scalable target before updating the endpoint.")
        ep.status = "Updating"
        ep.last_modified = self.clock.seconds
        ep.pending = self._variants(cfg)
        self._start_meters(ep, ep.pending)
        self.world.event(ep.arn, "status", f"Updating to {cfg.name}: new fleet launching; the old one keeps serving",
                         "Updating")
        self.clock.start(self._switch(ep, cfg))
        return {"EndpointArn": ep.arn}

    def _switch(self, ep: Endpoint, cfg: EndpointConfig):
        fleet = [v for v in ep.pending if not v.serverless]
        if fleet:
            spec = instance_spec(fleet[0].instance_type)
            u = self.world.spot.draw(fleet[0].instance_type, ep.name, len(ep.latencies_ms) + 2, "update")
            seconds = timing.provision_seconds(spec, u) + timing.ENDPOINT_SETUP_SECONDS
        else:
            seconds = timing.serverless_create_seconds(self.world.spot.draw("serverless", ep.name, 2, "update"))
        yield self.clock.env.timeout(seconds)
        if ep.status != "Updating" or ep.pending is None:
            return
        self._stop_meters(ep.variants)
        was_async = ep.kind == "async"
        ep.variants, ep.pending, ep.config = ep.pending, None, cfg.name
        self._configure(ep, cfg)
        ep.status = "InService"
        ep.last_modified = self.clock.seconds
        self.world.event(ep.arn, "status", f"Traffic shifted to {cfg.name}; old fleet terminated", "InService")
        if ep.kind == "async":
            if not was_async:
                self.clock.env.process(self._publish_backlog(ep))
            self._kick(ep)

    def list_endpoint_configs(self, req: dict, call) -> dict:
        cs = sorted(self.configs.values(), key=lambda c: (c.created, c.name), reverse=True)
        return {"EndpointConfigs": [{"EndpointConfigName": c.name, "EndpointConfigArn": c.arn,
                                     "CreationTime": self.clock.at(c.created)} for c in cs]}

    def list_endpoints(self, req: dict, call) -> dict:
        eps = sorted(self.endpoints.values(), key=lambda e: (e.created, e.name), reverse=True)
        return {"Endpoints": [{"EndpointName": e.name, "EndpointArn": e.arn, "CreationTime": self.clock.at(e.created),
                               "LastModifiedTime": self.clock.at(e.last_modified), "EndpointStatus": e.status}
                              for e in eps]}

    def delete_endpoint(self, req: dict, call) -> dict:
        from engine.services.autoscaling import forget_endpoint

        ep = self._endpoint(req["EndpointName"])
        self._stop_meters(ep.variants + (ep.pending or []))
        ep.status = "Deleting"
        ep.last_modified = self.clock.seconds
        dropped = len(ep.queue)
        ep.queue.clear()
        forget_endpoint(self.world, ep.name)  # Application Auto Scaling deregisters the endpoint's variants
        message = "Deleting endpoint (billing stops)"
        if dropped:
            message += f"; {dropped} queued asynchronous requests dropped"
        self.world.event(ep.arn, "status", message, "Deleting")
        self.clock.start(self._tear_down(ep))
        return {}

    def _tear_down(self, ep: Endpoint):
        yield self.clock.env.timeout(60)
        if self.endpoints.get(ep.name) is ep:
            self.endpoints.pop(ep.name, None)

    # -- auto scaling (engine side: engine.services.autoscaling drives these) -------------------
    def scaling_variant(self, endpoint: str, variant: str) -> tuple[Endpoint, Variant] | None:
        ep = self.endpoints.get(endpoint)
        if ep is None or ep.status in ("Deleting", "Failed"):
            return None
        for v in ep.variants:
            if v.name == variant:
                return ep, v
        return None

    def set_instance_count(self, ep: Endpoint, v: Variant, n: int, on_done=None) -> None:
        """Change a variant's instance count, as Application Auto Scaling does.

        Scaling in is immediate. Scaling out sets DesiredInstanceCount, puts the endpoint
        in Updating (it keeps serving) and adds the instances after a launch and model
        set-up time; ``on_done()`` is called then. Billing follows CurrentInstanceCount.
        """
        if n <= v.count:
            v.desired = None
            self._set_count(ep, v, n)
            if on_done:
                on_done()
            return
        v.desired = n
        if ep.status == "InService":
            ep.status = "Updating"
            ep.last_modified = self.clock.seconds
        self.clock.start(self._scale_out(ep, v, n, on_done))

    def _scale_out(self, ep: Endpoint, v: Variant, n: int, on_done):
        spec = instance_spec(v.instance_type)
        u = self.world.spot.draw(v.instance_type, ep.name, len(ep.latencies_ms) + ep.async_seq + n, "scale-out")
        yield self.clock.env.timeout(timing.scale_out_seconds(spec, u))
        if self.endpoints.get(ep.name) is not ep or ep.status == "Deleting" or all(x is not v for x in ep.variants):
            return
        v.desired = None
        self._set_count(ep, v, n)
        if ep.status == "Updating" and ep.pending is None:
            ep.status = "InService"
            ep.last_modified = self.clock.seconds
        if on_done:
            on_done()
        self._kick(ep)

    def _set_count(self, ep: Endpoint, v: Variant, n: int) -> None:
        if n == v.count:
            return
        before = v.count
        self._stop_meters([v])
        v.count = n
        if n > 0 and ep.status in SERVING_STATUSES:
            self._start_meter(ep, v)
        self.world.event(ep.arn, "scaling", f"Variant {v.name}: {before} -> {n} instances"
                         + (" (no instances: billing stops)" if n == 0 else ""))

    def invocations_per_instance(self, v: Variant, minute: int) -> float | None:
        """Sum of InvocationsPerInstance in one clock minute; None when no request came (no datapoint)."""
        return v.per_minute.get(minute)

    # -- runtime: real-time and serverless ------------------------------------------------
    def _serving_endpoint(self, name: str) -> Endpoint:
        ep = self.endpoints.get(name)
        if ep is None:
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} not found.")
        if ep.status not in SERVING_STATUSES:
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} is not in "
                                                  f"service. Current status: {ep.status}")
        return ep

    def _payload_limit(self, ep: Endpoint) -> int:
        return SERVERLESS_MAX_PAYLOAD if ep.kind == "serverless" else MAX_PAYLOAD

    def invoke(self, req: dict) -> dict:
        name = req["EndpointName"]
        ep = self._serving_endpoint(name)
        if ep.kind == "async":
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} is an "
                                                  "asynchronous endpoint: send requests with InvokeEndpointAsync.")
        body = _body_bytes(req["Body"])
        if len(body) > self._payload_limit(ep):
            raise ServiceError("ValidationError", f"Request {self._request_id(body)} has oversize body.")
        variant = self._route(ep, req.get("TargetVariant"))
        serving = variant.serving
        target = self._target(serving, req.get("TargetModel"))
        content_type = req.get("ContentType", "text/csv")
        accept = req.get("Accept", content_type if content_type in ("text/csv", "application/json") else "text/csv")
        try:
            out, out_type = serving.predict(body, content_type, accept, target)
        except ValueError as e:
            raise self._model_error(ep, variant, e) from None
        now = self.clock.seconds
        cold = 0.0
        if variant.serverless:
            memory = variant.serverless["MemorySizeInMB"]
            model_ms = timing.serverless_latency_ms(len(body), serving.containers, memory)
            cold = self._cold_start(ep, variant, now)
        else:
            model_ms = timing.model_latency_ms(len(body), serving.containers, instance_spec(variant.instance_type))
        overhead = timing.overhead_ms(ep.rng.random())
        latency = model_ms + overhead + cold * 1000
        ep.invocations += 1
        ep.latencies_ms.append(latency)
        self._record(ep, variant, now, model_ms, overhead, cold)
        if variant.serverless:
            variant.last_served = now + latency / 1000
            self._serverless_usage(ep, variant, now, timing.billed_ms(model_ms), len(body) + len(out))
        hooks = self._hooks_for(ep.name)
        if hooks:
            inv = Invocation(name, variant.name, req.get("InferenceId") or f"{ep.name}-{ep.invocations:08d}",
                             now, body, content_type, out, out_type, latency)
            for hook in hooks:
                hook(inv)
        return {"Body": out, "ContentType": out_type, "InvokedProductionVariant": variant.name, "LatencyMs": latency}

    def _model_error(self, ep: Endpoint, variant: Variant, e: ValueError) -> ServiceError:
        name = ep.name
        self.world.services["logs"].write(LOG_GROUP + "/" + name, f"{variant.name}/i-0", f"ERROR {e}")
        return ServiceError("ModelError", f"Received client error (400) from primary with message \"{e}\". See "
                            f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
                            f"group={LOG_GROUP}/{name} in account {self.world.account} for more information.", 424,
                            extra={"OriginalStatusCode": 400, "OriginalMessage": str(e),
                                   "LogStreamArn": f"arn:aws:logs:us-east-1:{self.world.account}:log-group:"
                                                   f"{LOG_GROUP}/{name}"})

    def _cold_start(self, ep: Endpoint, v: Variant, now: float) -> float:
        """Seconds of cold start for a serverless request arriving at ``now`` (0 when a container is warm)."""
        if v.serverless.get("ProvisionedConcurrency"):
            return 0.0
        if v.last_served is not None and now - v.last_served <= timing.SERVERLESS_IDLE_SECONDS:
            return 0.0
        return timing.cold_start_seconds(v.serverless["MemorySizeInMB"], ep.rng.random())

    def _record(self, ep: Endpoint, v: Variant, now: float, model_ms: float, overhead_ms: float,
                cold_s: float) -> None:
        cw = self.world.services["cloudwatch"]
        at = self.clock.at(now)
        dims = {"EndpointName": ep.name, "VariantName": v.name}
        cw.record(NAMESPACE, "Invocations", 1, dims, "Count", at)
        if not v.serverless:
            per_instance = 1 / max(v.count, 1)
            cw.record(NAMESPACE, "InvocationsPerInstance", per_instance, dims, "Count", at)
            minute = int(now // 60)
            v.per_minute[minute] = v.per_minute.get(minute, 0.0) + per_instance
        cw.record(NAMESPACE, "ModelLatency", round(model_ms * 1000), dims, "Microseconds", at)
        cw.record(NAMESPACE, "OverheadLatency", round(overhead_ms * 1000), dims, "Microseconds", at)
        if cold_s:
            cw.record(NAMESPACE, "ModelSetupTime", round(cold_s * 1e6), dims, "Microseconds", at)
            self.world.event(ep.arn, "serverless", f"Cold start: {cold_s:.3f} s (ModelSetupTime) before the request "
                                                   "could be served", seconds=now)

    def _serverless_usage(self, ep: Endpoint, v: Variant, at: float, ms: int, nbytes: int) -> None:
        """Bill compute (milliseconds x memory) and data in and out on the day's serverless lines."""
        memory = v.serverless["MemorySizeInMB"]
        gb_seconds = Decimal(ms * memory) / 1024000  # ms x MB -> GB-seconds, exact for 1 GB steps
        self._usage.add(ep.arn, "serverless-inference-compute", "GB-second",
                        unit_price("serverless-inference-gb-second").usd, gb_seconds, at,
                        f"variant {v.name}: compute x {memory // 1024} GB memory (billed per ms)")
        data = (Decimal(nbytes) / GIB).quantize(Decimal("1E-12"))
        self._usage.add(ep.arn, "serverless-inference-data", "GB", unit_price("serverless-inference-data-gb").usd,
                        data, at, f"variant {v.name}: data processed in and out")

    def invoke_many(self, endpoint: str, bodies: list[bytes], times: np.ndarray, content_type: str = "text/csv",
                    accept: str = "text/csv") -> BatchResult:
        """Answer many one-record requests at the virtual times ``times`` (simulated traffic).

        Equivalent to one ``invoke`` per body, done cheaply: one predict call per
        variant for all its rows (the response split back into one line per request),
        vectorised latencies and metrics, and ``invocation_hooks`` called per request in
        request order. The endpoint's state is taken at the current virtual time.
        """
        result = BatchResult()
        n = len(bodies)
        if n == 0:
            return result
        ep = self.endpoints.get(endpoint)
        if ep is None or ep.status not in SERVING_STATUSES or ep.kind == "async":
            result.error("ValidationError", n)
            return result
        times = np.asarray(times, dtype=np.float64)
        sizes = np.fromiter(map(len, bodies), dtype=np.int64, count=n)
        ok = sizes <= self._payload_limit(ep)
        result.error("ValidationError", int(n - ok.sum()))
        rng = np.random.default_rng(ep.rng.getrandbits(64))
        if len(ep.variants) == 1:
            route = None  # every request to the one variant: no draw
        else:
            weights = np.array([v.weight for v in ep.variants], dtype=np.float64)
            route = np.searchsorted(np.cumsum(weights), rng.random(n) * weights.sum(), side="right")
            route = np.minimum(route, len(ep.variants) - 1)
        responses: list[bytes | None] = [None] * n
        latency = np.zeros(n, dtype=np.float64)
        out_type = accept
        for vi, v in enumerate(ep.variants):
            idx = np.flatnonzero(ok if route is None else ok & (route == vi))
            if len(idx) == 0:
                continue
            if v.serving.multi_model is not None:  # traffic names no TargetModel
                result.error("ValidationError", len(idx))
                continue
            rows = bodies if len(idx) == n else [bodies[i] for i in idx]
            answered, out_type = self._predict_rows(ep, v, rows, content_type, accept, result)
            if None in answered:
                keep = np.array([r is not None for r in answered], dtype=bool)
                idx, answered = idx[keep], [r for r in answered if r is not None]
                if len(idx) == 0:
                    continue
            if len(idx) == n:  # all of them, in order (the usual traffic minute)
                responses = list(answered)
            else:
                for i, r in zip(idx.tolist(), answered, strict=True):
                    responses[i] = r
            latency[idx] = self._account_many(ep, v, times[idx], sizes[idx], answered, rng)
        done = [i for i, r in enumerate(responses) if r is not None]
        result.answered = len(done)
        result.latencies_ms = latency[done].tolist()
        hooks = self._hooks_for(ep.name)
        if hooks and done:
            seq = ep.invocations - len(done)
            names = [v.name for v in ep.variants]
            routes = [0] * n if route is None else route.tolist()
            stamps, latencies = times.tolist(), latency.tolist()
            for i in done:
                seq += 1
                inv = Invocation(ep.name, names[routes[i]], f"{ep.name}-{seq:08d}", stamps[i], bodies[i],
                                 content_type, responses[i], out_type, latencies[i])
                for hook in hooks:
                    hook(inv)
        return result

    def _predict_rows(self, ep: Endpoint, v: Variant, bodies: list[bytes], content_type: str, accept: str,
                      result: BatchResult) -> tuple[list[bytes | None], str]:
        """One predict call for all the rows; per row only when the batch cannot be split back."""
        joined = b"\n".join(bodies)
        if joined.count(b"\n") == len(bodies) - 1:  # no body holds a line break of its own
            try:
                out, out_type = v.serving.predict(joined, content_type, accept)
                parts = out.split(b"\n")
                if parts and parts[-1] == b"":
                    parts.pop()
                if len(parts) == len(bodies):
                    return [p + b"\n" for p in parts], out_type
            except ValueError:
                pass  # some row is malformed: find which, one by one
        answered: list[bytes | None] = []
        out_type = accept
        for body in bodies:
            try:
                out, out_type = v.serving.predict(body, content_type, accept)
                answered.append(out)
            except ValueError as e:
                self._model_error(ep, v, e)
                result.error("ModelError")
                answered.append(None)
        return answered, out_type

    def _account_many(self, ep: Endpoint, v: Variant, times: np.ndarray, sizes: np.ndarray, responses: list[bytes],
                      rng: np.random.Generator) -> np.ndarray:
        """Latency, metrics and billing of answered requests (in time order); returns latencies in ms."""
        k = len(times)
        cold = np.zeros(k)
        if v.serverless:
            memory = v.serverless["MemorySizeInMB"]
            model_ms = timing.serverless_latency_ms(sizes, v.serving.containers, memory)
            if not v.serverless.get("ProvisionedConcurrency"):
                previous = np.concatenate(([-np.inf if v.last_served is None else v.last_served], times[:-1]))
                for i in np.flatnonzero(times - previous > timing.SERVERLESS_IDLE_SECONDS).tolist():
                    cold[i] = timing.cold_start_seconds(memory, ep.rng.random())
        else:
            model_ms = timing.model_latency_ms(sizes, v.serving.containers, instance_spec(v.instance_type))
        overhead = timing.overhead_ms(rng.random(k))
        latency = model_ms + overhead + cold * 1000
        ep.invocations += k
        ep.latencies_ms.extend(latency.tolist())
        dims = {"EndpointName": ep.name, "VariantName": v.name}
        series = [("Invocations", np.ones(k), "Count"),
                  ("ModelLatency", np.round(model_ms * 1000), "Microseconds"),
                  ("OverheadLatency", np.round(overhead * 1000), "Microseconds")]
        if not v.serverless:
            per_instance = 1 / max(v.count, 1)
            series.insert(1, ("InvocationsPerInstance", np.full(k, per_instance), "Count"))
            minute = (times // 60).astype(np.int64)
            if k == 1 or bool((minute[1:] >= minute[:-1]).all()):  # in time order, as traffic sends them
                cuts = (np.flatnonzero(minute[1:] != minute[:-1]) + 1).tolist()
                starts, ends = [0, *cuts], [*cuts, k]
                minutes = [int(minute[i]) for i in starts]
                counts = [e - b for b, e in zip(starts, ends, strict=True)]
            else:
                found, tally = np.unique(minute, return_counts=True)
                minutes, counts = found.tolist(), tally.tolist()
            for m, c in zip(minutes, counts, strict=True):
                v.per_minute[m] = v.per_minute.get(m, 0.0) + c * per_instance
        stamps = _timestamps(times)
        for metric, values, unit in series:
            self._record_many(metric, dims, unit, stamps, values)
        cw = self.world.services["cloudwatch"]
        for i in np.flatnonzero(cold).tolist():
            cw.record(NAMESPACE, "ModelSetupTime", round(cold[i] * 1e6), dims, "Microseconds",
                      self.clock.at(float(times[i])))
            self.world.event(ep.arn, "serverless", f"Cold start: {cold[i]:.3f} s (ModelSetupTime) before the request "
                                                   "could be served", seconds=float(times[i]))
        if v.serverless:
            v.last_served = float(times[-1] + latency[-1] / 1000)
            ms = int(sum(timing.billed_ms(x) for x in model_ms.tolist()))
            nbytes = int(sizes.sum()) + sum(len(r) for r in responses)
            self._serverless_usage(ep, v, float(times[0]), ms, nbytes)
        return latency

    def _hooks_for(self, endpoint: str) -> list:
        """The invocation hooks that want ``endpoint``'s invocations (see the module doc)."""
        return [h for h in self.invocation_hooks if not hasattr(h, "wants") or h.wants(endpoint)]

    def _record_many(self, metric: str, dims: dict[str, str], unit: str, stamps: list[float],
                     values: np.ndarray) -> None:
        """One CloudWatch datapoint per request, as ``record`` would store them, appended in bulk
        (``stamps``: the requests' ``_timestamps``, computed once for all their metrics)."""
        series = self.world.services["cloudwatch"].series_for(NAMESPACE, metric, dims, unit)
        series.points.extend(zip(stamps, values.astype(np.float64).tolist(), strict=True))

    def _target(self, serving: Serving, target: str | None):
        """The model a multi-model endpoint loads for TargetModel (cached once loaded)."""
        multi = serving.multi_model
        if multi is None:
            if target:
                raise ServiceError("ValidationError", "TargetModel is only supported for multi-model endpoints.")
            return None
        if not target:
            raise ServiceError("ValidationError", "TargetModel header is required for a multi-model endpoint.")
        if target not in multi["cache"]:
            url = multi["prefix"] + target
            try:
                multi["cache"][target] = self._predictor(multi["container"], "TargetModel", url)
            except ServiceError:
                bucket, key = parse_uri(url)
                raise ServiceError("ValidationError", f"Failed to download model data (bucket: {bucket}, key: {key}). "
                                   "Please ensure that there is an object located at the URL and that the role passed "
                                   "to CreateModel has permissions to download the model.") from None
        return multi["cache"][target]

    def _request_id(self, body: bytes) -> str:
        return hashlib.sha256(body[:1024]).hexdigest()[:32]

    def _route(self, ep: Endpoint, target: str | None) -> Variant:
        if target:
            for v in ep.variants:
                if v.name == target:
                    return v
            raise ServiceError("ValidationError", f"Variant {target} not found for Endpoint {ep.name}.")
        if len(ep.variants) == 1:
            return ep.variants[0]
        total = sum(v.weight for v in ep.variants)
        u = ep.rng.random() * total  # seeded per endpoint: the same calls route the same way
        for v in ep.variants:
            u -= v.weight
            if u < 0:
                return v
        return ep.variants[-1]

    # -- runtime: asynchronous ---------------------------------------------------------------
    def invoke_async(self, req: dict) -> dict:
        name = req["EndpointName"]
        ep = self._serving_endpoint(name)
        if ep.kind != "async":
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} is not "
                                                  "configured for asynchronous inference (no AsyncInferenceConfig).")
        location = req["InputLocation"]
        try:
            parse_uri(location)
        except ValueError:
            raise ServiceError("ValidationError", f"InputLocation {location} is not an S3 URI "
                                                  "(s3://bucket/key).") from None
        ep.async_seq += 1
        inference_id = req.get("InferenceId") or self._uuid(ep)
        out_cfg = ep.async_config["OutputConfig"]
        output = f"{out_cfg['S3OutputPath'].rstrip('/')}/{inference_id}.out"
        failure_prefix = out_cfg.get("S3FailurePath") or out_cfg["S3OutputPath"]
        failure = f"{failure_prefix.rstrip('/')}/{inference_id}-error.out"
        content_type = req.get("ContentType", "text/csv")
        accept = req.get("Accept", content_type if content_type in ("text/csv", "application/json") else "text/csv")
        ep.queue.append(AsyncRequest(inference_id, location, content_type, accept, self.clock.seconds,
                                     float(req.get("RequestTTLSeconds", DEFAULT_REQUEST_TTL)), output, failure))
        self._kick(ep)
        out = {"InferenceId": inference_id, "OutputLocation": output, "_status": 202}
        if out_cfg.get("S3FailurePath"):
            out["FailureLocation"] = failure
        return out

    def _uuid(self, ep: Endpoint) -> str:
        h = f"{ep.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def _slots(self, ep: Endpoint) -> int:
        per = (ep.async_config or {}).get("ClientConfig", {}).get("MaxConcurrentInvocationsPerInstance")
        total = 0
        for v in ep.variants:
            if v.count and not v.serverless:
                total += v.count * (per or instance_spec(v.instance_type).vcpus)
        return total

    def _kick(self, ep: Endpoint) -> None:
        """Start working the async queue if there is work and an instance to do it (a busy token while it runs)."""
        if ep.kind != "async" or ep.draining or not ep.queue or ep.status not in SERVING_STATUSES:
            return
        if self._slots(ep) == 0:
            return  # no instances: the queue waits for auto scaling (HasBacklogWithoutCapacity)
        ep.draining = True
        self.clock.start(self._drain(ep))

    def _drain(self, ep: Endpoint):
        try:
            while ep.queue and ep.status in SERVING_STATUSES and (slots := self._slots(ep)) > 0:
                batch = [ep.queue.popleft() for _ in range(min(slots, len(ep.queue)))]
                ep.in_flight = len(batch)
                started = self.clock.seconds
                results, longest = [], 0.0
                for r in batch:
                    outcome = self._process_async(ep, r, started)
                    results.append(outcome)
                    longest = max(longest, outcome[-1])
                yield self.clock.env.timeout(longest)
                for outcome in results:
                    self._finish_async(ep, *outcome)
                ep.in_flight = 0
        finally:
            ep.in_flight = 0
            ep.draining = False

    def _process_async(self, ep: Endpoint, r: AsyncRequest, now: float) -> tuple:
        """Read the input and predict (the work of one request); returns what ``_finish_async`` writes."""
        variant = self._route(ep, None)
        if now - r.enqueued > r.ttl:
            return (r, variant, None, f"Request {r.inference_id} expired: it waited {now - r.enqueued:.0f} s in the "
                                      f"queue, longer than RequestTTLSeconds ({r.ttl:.0f} s).", b"", 0.0, 0.0)
        s3 = self.world.services["s3"]
        try:
            bucket, key = parse_uri(r.input_location)
            body = s3.get(bucket, key).data
        except (ServiceError, ValueError):
            return (r, variant, None, f"Failed to download input data from {r.input_location}: the object does not "
                                      "exist or the endpoint's role cannot read it.", b"", 0.0, timing.ASYNC_IO_SECONDS)
        if len(body) > ASYNC_MAX_PAYLOAD:
            return (r, variant, None, f"Request {r.inference_id} has oversize body.", body, 0.0, timing.ASYNC_IO_SECONDS)
        spec = instance_spec(variant.instance_type)
        model_ms = timing.model_latency_ms(len(body), variant.serving.containers, spec)
        seconds = timing.async_seconds(len(body), model_ms, spec)
        try:
            out, out_type = variant.serving.predict(body, r.content_type, r.accept)
        except ValueError as e:
            self.world.services["logs"].write(LOG_GROUP + "/" + ep.name, f"{variant.name}/i-0", f"ERROR {e}")
            return (r, variant, None, f"Received client error (400) from primary with message \"{e}\".", body,
                    model_ms, seconds)
        return (r, variant, (out, out_type), None, body, model_ms, seconds)

    def _finish_async(self, ep: Endpoint, r: AsyncRequest, v: Variant, answer, error: str | None, body: bytes,
                      model_ms: float, seconds: float) -> None:
        s3 = self.world.services["s3"]
        cw = self.world.services["cloudwatch"]
        now = self.clock.seconds
        at = self.clock.at(now)
        dims = {"EndpointName": ep.name, "VariantName": v.name}
        where = r.failure if answer is None else r.output
        bucket, key = parse_uri(where)
        try:
            if answer is None:
                s3.put_bytes(bucket, key, error.encode(), "text/plain")
            else:
                s3.put_bytes(bucket, key, answer[0], answer[1])
        except ServiceError as e:
            self.world.services["logs"].write(LOG_GROUP + "/" + ep.name, f"{v.name}/i-0",
                                              f"ERROR could not write {where}: {e.message}")
        cw.record(NAMESPACE, "TimeInBacklog", round((now - seconds - r.enqueued) * 1000), {"EndpointName": ep.name},
                  "Milliseconds", at)
        if answer is None:
            cw.record(NAMESPACE, "Invocation4XXErrors", 1, dims, "Count", at)
            self.world.event(ep.arn, "async", f"Request {r.inference_id} failed: written to {r.failure}")
            return
        ep.invocations += 1
        ep.latencies_ms.append(seconds * 1000)
        cw.record(NAMESPACE, "InvocationsProcesssed", 1, {"EndpointName": ep.name}, "Count", at)  # sic, AWS's name
        cw.record(NAMESPACE, "ModelLatency", round(model_ms * 1000), dims, "Microseconds", at)
        cw.record(NAMESPACE, "TotalProcessingTime", round((now - r.enqueued) * 1000), {"EndpointName": ep.name},
                  "Milliseconds", at)
        hooks = self._hooks_for(ep.name)
        if hooks:
            inv = Invocation(ep.name, v.name, r.inference_id, now, body, r.content_type, answer[0], answer[1],
                             seconds * 1000)
            for hook in hooks:
                hook(inv)

    def _publish_backlog(self, ep: Endpoint):
        """Every minute, the async endpoint's backlog metrics (a standing process: no busy token)."""
        cw = self.world.services["cloudwatch"]
        yield self.clock.env.timeout(math.ceil(self.clock.seconds / 60) * 60 - self.clock.seconds)
        while self.endpoints.get(ep.name) is ep and ep.kind == "async" and ep.status != "Deleting":
            now = self.clock.seconds
            at = self.clock.at(now)
            dims = {"EndpointName": ep.name}
            backlog = ep.backlog
            instances = ep.capacity
            cw.record(NAMESPACE, "ApproximateBacklogSize", backlog, dims, "Count", at)
            # With no instances the whole backlog is "per instance": what lets a target-tracking policy
            # scale out from zero once it exceeds the target value (AWS documents the same effect).
            cw.record(NAMESPACE, "ApproximateBacklogSizePerInstance", backlog / max(instances, 1), dims, "Count", at)
            cw.record(NAMESPACE, "HasBacklogWithoutCapacity", 1 if backlog and not instances else 0, dims, "Count", at)
            oldest = min((r.enqueued for r in ep.queue), default=None)
            if oldest is not None:
                cw.record(NAMESPACE, "ApproximateAgeOfOldestRequest", round(now - oldest), dims, "Seconds", at)
            yield self.clock.env.timeout(60)
