"""Real-time hosting: models, endpoint configurations, endpoints, and InvokeEndpoint.

The seed's three steps (CreateModel -> CreateEndpointConfig -> CreateEndpoint)
with AWS's statuses; an endpoint bills per instance-second for as long as it is
InService whether or not it is called, which is the lesson. Predictions are the
trained model's real predictions. (Serverless, async, auto scaling, pipelines
and Model Monitor build on this in later work.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from engine import artifacts, timing
from engine.algorithms import BUILTINS
from engine.errors import ServiceError, validation
from engine.pricing import hourly_price, instance_spec
from engine.services.s3 import parse_uri
from engine.services.sagemaker import images

MAX_PAYLOAD = 6 * 1024 * 1024
#: Built-ins AWS supports on multi-model endpoints.
MULTI_MODEL_BUILTINS = frozenset({"xgboost", "linear-learner", "knn", "randomcutforest"})
LOG_GROUP = "/aws/sagemaker/Endpoints"


@lru_cache(maxsize=64)
def _load(algorithm: str, digest: str, payload: bytes):
    """Deserialised models are shared across engines: loading is the costly part of a cold invoke."""
    return BUILTINS[algorithm].load_model(payload)


class Serving:
    """What a model serves: one container, or an inference pipeline of 2-15 run in order.

    In a pipeline each container's response is the next one's request, with the
    response's content type (intermediate containers are asked for text/csv), as
    SageMaker passes requests along the containers on one instance.
    """

    def __init__(self, predictors: list, multi_model: dict | None = None):
        self.predictors = predictors
        self.multi_model = multi_model  # {"prefix": s3 uri, "algorithm": name} for Mode MultiModel

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
    instance_type: str
    count: int
    weight: float
    meter: int | None = None


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


class Hosting:
    def __init__(self, world):
        self.world = world
        self.models: dict[str, Model] = {}
        self.configs: dict[str, EndpointConfig] = {}
        self.endpoints: dict[str, Endpoint] = {}
        #: Called with each Invocation after it is answered (data capture hooks in here).
        self.invocation_hooks: list = []

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
    def create_endpoint_config(self, req: dict, call) -> dict:
        name = req["EndpointConfigName"]
        arn = self.world.arn("sagemaker", f"endpoint-config/{name.lower()}")
        if name in self.configs:
            raise validation(f"Cannot create already existing endpoint configuration \"{arn}\".")
        for v in req["ProductionVariants"]:
            if v.get("ModelName") not in self.models:
                raise validation(f"Could not find model \"{self.world.arn('sagemaker', 'model/' + str(v.get('ModelName')).lower())}\".")
            if "ServerlessConfig" not in v and ("InstanceType" not in v or "InitialInstanceCount" not in v):
                raise validation(f"Variant {v['VariantName']}: InstanceType and InitialInstanceCount are required "
                                 "unless ServerlessConfig is given.")
            if "ServerlessConfig" in v:
                raise validation("Serverless endpoints are not simulated yet.")
        self.configs[name] = EndpointConfig(name, arn, req, self.clock.seconds)
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, req: dict, call) -> dict:
        c = self.configs.get(req["EndpointConfigName"])
        if c is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        return {"EndpointConfigName": c.name, "EndpointConfigArn": c.arn, "CreationTime": self.clock.at(c.created),
                "ProductionVariants": [{"InitialVariantWeight": 1.0, **v} for v in c.request["ProductionVariants"]]}

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
        ep = Endpoint(name, arn, cfg.name, self.clock.seconds, last_modified=self.clock.seconds)
        ep.variants = self._variants(cfg)
        self.endpoints[name] = ep
        self.world.event(arn, "status", "Creating endpoint", "Creating")
        self.clock.start(self._bring_up(ep))
        return {"EndpointArn": arn}

    def _bring_up(self, ep: Endpoint):
        spec = instance_spec(ep.variants[0].instance_type)
        u = self.world.spot.draw(ep.variants[0].instance_type, ep.name, 1, "endpoint")
        yield self.clock.env.timeout(timing.provision_seconds(spec, u) + 180)  # launch + model download + health checks
        if ep.status != "Creating":
            return
        ep.status = "InService"
        ep.last_modified = self.clock.seconds
        self._start_meters(ep, ep.variants)
        self.world.event(ep.arn, "status", "Endpoint is InService (billing per instance-second from now, "
                                           "called or not)", "InService")

    def describe_endpoint(self, req: dict, call) -> dict:
        ep = self._endpoint(req["EndpointName"])
        out = {"EndpointName": ep.name, "EndpointArn": ep.arn, "EndpointConfigName": ep.config,
               "EndpointStatus": ep.status, "CreationTime": self.clock.at(ep.created),
               "LastModifiedTime": self.clock.at(ep.last_modified)}
        if ep.status in ("InService", "Updating", "Deleting"):
            out["ProductionVariants"] = [
                {"VariantName": v.name, "CurrentWeight": v.weight, "DesiredWeight": v.weight,
                 "CurrentInstanceCount": v.count, "DesiredInstanceCount": v.count,
                 "DeployedImages": [{"SpecifiedImage": c["Image"], "ResolvedImage": c["Image"],
                                     "ResolutionTime": self.clock.at(ep.created)}
                                    for c in (self.models[v.model].containers if v.model in self.models else [])]}
                for v in ep.variants]
        if ep.failure:
            out["FailureReason"] = ep.failure
        return out

    def _variants(self, cfg: EndpointConfig) -> list[Variant]:
        return [Variant(v["VariantName"], v["ModelName"], v["InstanceType"], v["InitialInstanceCount"],
                        float(v.get("InitialVariantWeight", 1.0))) for v in cfg.request["ProductionVariants"]]

    def _start_meters(self, ep: Endpoint, variants: list[Variant]) -> None:
        for v in variants:
            price = hourly_price("hosting", v.instance_type)
            v.meter = self.world.ledger.start_meter(ep.arn, "sagemaker", "hosting-instance-seconds", price.usd,
                                                    "on-demand", v.instance_type, v.count,
                                                    f"variant {v.name}: {v.count} x {v.instance_type} while InService")

    def _stop_meters(self, variants: list[Variant]) -> None:
        for v in variants:
            if v.meter is not None:
                self.world.ledger.stop_meter(v.meter)
                v.meter = None

    def update_endpoint(self, req: dict, call) -> dict:
        """Blue/green: a new fleet is launched (and billed) beside the old one, which keeps serving."""
        ep = self._endpoint(req["EndpointName"])
        if ep.status != "InService":
            raise validation(f"Cannot update in-progress endpoint \"{ep.arn}\".")
        cfg = self.configs.get(req["EndpointConfigName"])
        if cfg is None:
            raise validation(f"Could not find endpoint configuration \"{self.world.arn('sagemaker', 'endpoint-config/' + req['EndpointConfigName'].lower())}\".")
        ep.status = "Updating"
        ep.last_modified = self.clock.seconds
        ep.pending = self._variants(cfg)
        self._start_meters(ep, ep.pending)
        self.world.event(ep.arn, "status", f"Updating to {cfg.name}: new fleet launching; the old one keeps serving",
                         "Updating")
        self.clock.start(self._switch(ep, cfg.name))
        return {"EndpointArn": ep.arn}

    def _switch(self, ep: Endpoint, config: str):
        spec = instance_spec(ep.pending[0].instance_type)
        u = self.world.spot.draw(ep.pending[0].instance_type, ep.name, len(ep.latencies_ms) + 2, "update")
        yield self.clock.env.timeout(timing.provision_seconds(spec, u) + 180)
        if ep.status != "Updating":
            return
        self._stop_meters(ep.variants)
        ep.variants, ep.pending, ep.config = ep.pending, None, config
        ep.status = "InService"
        ep.last_modified = self.clock.seconds
        self.world.event(ep.arn, "status", f"Traffic shifted to {config}; old fleet terminated", "InService")

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
        ep = self._endpoint(req["EndpointName"])
        self._stop_meters(ep.variants + (ep.pending or []))
        ep.status = "Deleting"
        ep.last_modified = self.clock.seconds
        self.world.event(ep.arn, "status", "Deleting endpoint (billing stops)", "Deleting")
        self.clock.start(self._tear_down(ep))
        return {}

    def _tear_down(self, ep: Endpoint):
        yield self.clock.env.timeout(60)
        self.endpoints.pop(ep.name, None)

    # -- runtime ------------------------------------------------------------------------
    def invoke(self, req: dict) -> dict:
        name = req["EndpointName"]
        ep = self.endpoints.get(name)
        if ep is None:
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} not found.")
        if ep.status not in ("InService", "Updating"):  # during an update the old fleet keeps serving
            raise ServiceError("ValidationError", f"Endpoint {name} of account {self.world.account} is not in "
                                                  f"service. Current status: {ep.status}")
        body = req["Body"]
        body = body.read() if hasattr(body, "read") else (body.encode() if isinstance(body, str) else bytes(body))
        if len(body) > MAX_PAYLOAD:
            raise ServiceError("ValidationError", f"Request {self._request_id(body)} has oversize body.")
        variant = self._route(ep, req.get("TargetVariant"))
        model = self.models[variant.model]
        target = self._target(model, req.get("TargetModel"))
        content_type = req.get("ContentType", "text/csv")
        accept = req.get("Accept", content_type if content_type in ("text/csv", "application/json") else "text/csv")
        try:
            out, out_type = model.serving.predict(body, content_type, accept, target)
        except ValueError as e:
            self.world.services["logs"].write(LOG_GROUP + "/" + name, f"{variant.name}/i-0", f"ERROR {e}")
            raise ServiceError("ModelError", f"Received client error (400) from primary with message \"{e}\". See "
                               f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
                               f"group={LOG_GROUP}/{name} in account {self.world.account} for more information.", 424,
                               extra={"OriginalStatusCode": 400, "OriginalMessage": str(e),
                                      "LogStreamArn": f"arn:aws:logs:us-east-1:{self.world.account}:log-group:"
                                                      f"{LOG_GROUP}/{name}"}) from None
        ep.invocations += 1
        spec = instance_spec(variant.instance_type)
        model_ms = timing.model_latency_ms(len(body), max(1, len(model.serving.predictors)), spec)
        overhead = timing.overhead_ms(self.world.spot.draw("overhead", ep.name, ep.invocations, "latency"))
        ep.latencies_ms.append(model_ms + overhead)
        cw = self.world.services["cloudwatch"]
        dims = {"EndpointName": name, "VariantName": variant.name}
        cw.record("AWS/SageMaker", "Invocations", 1, dims, "Count")
        cw.record("AWS/SageMaker", "InvocationsPerInstance", 1 / variant.count, dims, "Count")
        cw.record("AWS/SageMaker", "ModelLatency", round(model_ms * 1000), dims, "Microseconds")
        cw.record("AWS/SageMaker", "OverheadLatency", round(overhead * 1000), dims, "Microseconds")
        if self.invocation_hooks:
            inv = Invocation(name, variant.name, req.get("InferenceId") or f"{ep.name}-{ep.invocations:08d}",
                             self.clock.seconds, body, content_type, out, out_type, model_ms + overhead)
            for hook in self.invocation_hooks:
                hook(inv)
        return {"Body": out, "ContentType": out_type, "InvokedProductionVariant": variant.name,
                "LatencyMs": model_ms + overhead}

    def _target(self, model: Model, target: str | None):
        """The model a multi-model endpoint loads for TargetModel (cached once loaded)."""
        multi = model.serving.multi_model
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
        u = self.world.spot.draw("routing", ep.name, ep.invocations, "variant") * total
        for v in ep.variants:
            u -= v.weight
            if u < 0:
                return v
        return ep.variants[-1]
