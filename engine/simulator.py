"""``Engine``: one fresh, in-memory, deterministic AWS account with SageMaker in it."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from functools import lru_cache

from engine.authz import Authorizer
from engine.bill import Bill, Ledger
from engine.clock import Clock
from engine.protocol.client import ACCOUNT, REGION, RequestIds, make_client
from engine.security import SecurityFacts
from engine.spot import Faults, SpotMarket
from engine.world import Event, World

#: boto3 service names the engine answers, mapped to the backend key in World.services.
SERVICES = {
    "sagemaker": "sagemaker",
    "sagemaker-runtime": "sagemaker-runtime",
    "s3": "s3",
    "iam": "iam",
    "sts": "sts",
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "ecr": "ecr",
    "application-autoscaling": "application-autoscaling",
    "stepfunctions": "stepfunctions",
    "ec2": "ec2",
    "kms": "kms",
}


class Engine:
    """A simulated AWS account: account 123456789012 in us-east-1.

    ``Engine(seed=7)`` fixes everything: the Spot market, provisioning times,
    request ids and the datasets; the clock starts at ``engine.clock.EPOCH``.
    Clients are real botocore clients (``eng.client("sagemaker")``) answered in
    process, so code written against them runs unchanged against boto3.
    """

    def __init__(self, seed: int = 0):
        from engine.datasets import BUCKET
        from engine.services.autoscaling import AutoScaling
        from engine.services.cloudwatch import CloudWatch
        from engine.services.ec2 import EC2
        from engine.services.ecr import ECR
        from engine.services.iam.service import IAM
        from engine.services.kms import KMS
        from engine.services.logs import Logs
        from engine.services.s3 import S3
        from engine.services.sagemaker import SageMaker
        from engine.services.sagemaker.runtime import Runtime
        from engine.services.stepfunctions import StepFunctions
        from engine.services.sts import STS

        self.seed = int(seed)
        clock = Clock()
        self._world = World(seed=self.seed, account=ACCOUNT, region=REGION, clock=clock, ledger=Ledger(clock),
                            spot=SpotMarket(self.seed), faults=Faults())
        w = self._world
        iam = IAM(ACCOUNT, clock)
        w.services.update(iam=iam, s3=S3(ACCOUNT, clock, iam, w), logs=Logs(ACCOUNT, clock),
                          cloudwatch=CloudWatch(ACCOUNT, clock), sts=STS(w), ecr=ECR(w))
        w.services["sagemaker"] = SageMaker(w)
        w.services["sagemaker-runtime"] = Runtime(w)
        w.services["application-autoscaling"] = AutoScaling(w)
        w.services["stepfunctions"] = StepFunctions(w)
        w.services["ec2"] = EC2(w)
        w.services["kms"] = KMS(w)
        w.services["s3"].load_shared(BUCKET, *_dataset_bucket(self.seed))
        self._lock = threading.RLock()
        self._request_ids = RequestIds(self.seed)
        self._clients: dict[tuple, object] = {}
        self._authorizer = Authorizer(self._world)
        self._gates: dict[str, _Gate] = {}  # per service, for dispatch()

    # -- clients ---------------------------------------------------------------
    def client(self, service_name: str, as_role: str | None = None, *, from_subnet: str | None = None,
               endpoint_url: str | None = None):
        """A boto3-shaped client for ``service_name`` (cached per service, caller and origin).

        ``as_role`` makes the calls as that IAM role (an assumed-role session, as
        ``sts.assume_role`` would give); the default caller is the account's
        administrator. ``from_subnet`` places the caller on an instance in that
        subnet, so its requests take the subnet's route (a VPC endpoint, a NAT
        gateway, or none); ``endpoint_url`` sends them to a VPC interface
        endpoint's DNS name, as boto3's own ``endpoint_url`` does. Both set the
        ``aws:SourceVpc``/``aws:SourceVpce`` condition keys (docs/security.md).
        """
        if service_name not in SERVICES:
            raise ValueError(f"the engine does not simulate {service_name!r}; it has: {', '.join(sorted(SERVICES))}")
        principal = self._principal(as_role)
        key = (service_name, principal, from_subnet, endpoint_url)
        if key not in self._clients:
            backend = self._world.services[SERVICES[service_name]]
            gate = _Gate(self._world, self._authorizer, service_name, from_subnet, endpoint_url)
            self._clients[key] = make_client(service_name, backend, principal=principal,
                                             request_ids=self._request_ids, sleep=self.advance, lock=self._lock,
                                             gate=gate, endpoint_url=endpoint_url)
        return self._clients[key]

    def _principal(self, as_role: str | None) -> str:
        iam = self._world.services["iam"]
        if as_role is None:
            return iam.admin_arn
        if ":user/" in as_role and iam._identity(as_role) is not None:
            return as_role
        if iam.role_by_arn(as_role) is None:
            raise ValueError(f"as_role names no role of this account: {as_role!r} (create it with iam.create_role "
                             f"first; ARNs look like arn:aws:iam::{ACCOUNT}:role/Name)")
        return iam.session_arn(as_role, "sagetutor")

    # -- the HTTP front (engine.server) -------------------------------------------------------
    def principal_for_key(self, access_key_id: str | None) -> str:
        """The caller an access key id acts as over HTTP.

        A key from ``sts.assume_role`` acts as that role's session, a key from
        ``iam.create_access_key`` as its user; any other key (or none) as the
        account's administrator. Signatures are never verified.
        """
        with self._lock:
            w = self._world
            if access_key_id:
                arn = w.services["sts"].sessions.get(access_key_id) or w.services["iam"].user_for_key(access_key_id)
                if arn:
                    return arn
            return w.services["iam"].admin_arn

    def dispatch(self, service_name: str, operation: str, params: dict, principal: str) -> dict:
        """Answer one call already parsed off the wire, as ``principal``, exactly as a client's call is answered.

        The caller is outside any VPC (``aws:SourceIp`` 203.0.113.10); the call goes
        through the network route and IAM, then AWS's server-side constraints
        (max, pattern, enum), then the backend. Returns the backend's result (with
        ``_status`` when not 200) or raises ``engine.errors.ServiceError``; an
        operation the service model does not have raises ``KeyError``.
        """
        from botocore import xform_name

        from engine.errors import ServiceError
        from engine.protocol import constraints
        from engine.protocol.client import Call, shared_session

        model = shared_session().get_service_model(service_name).operation_model(operation)
        backend = self._world.services[SERVICES[service_name]]
        call = Call(service=service_name, operation=operation, principal=principal)
        gate = self._gates.get(service_name)
        if gate is None:
            gate = self._gates[service_name] = _Gate(self._world, self._authorizer, service_name, None, None)
        with self._lock:
            gate(call, params)
        constraints.check(model.input_shape, params)
        method = getattr(backend, xform_name(operation), None)
        if method is None:
            raise ServiceError("UnknownOperationException",
                               f"SageTutor does not simulate {service_name}.{operation} yet.", 501)
        with self._lock:
            return method(params, call) or {}

    @property
    def lock(self) -> threading.RLock:
        """The lock every call into the engine takes; hold it to change faults or state from another thread."""
        return self._lock

    def request_id(self) -> str:
        """The next deterministic request id (shared with the in-process clients)."""
        return self._request_ids.next()

    def image_uri(self, algorithm: str) -> str:
        """The built-in algorithm's ECR image URI in us-east-1 (e.g. ``image_uri("xgboost")``)."""
        from engine.services.sagemaker.images import image_uri

        return image_uri(algorithm)

    # -- the clock ----------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """The virtual time, a timezone-aware UTC datetime."""
        return self._world.clock.now

    @property
    def seconds(self) -> float:
        """Virtual seconds since the clock's start."""
        return self._world.clock.seconds

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass."""
        with self._lock:
            self._world.clock.advance(seconds)

    def run_until_idle(self) -> None:
        """Run until no job or transition is in progress (standing resources do not count)."""
        with self._lock:
            self._world.clock.run_until_idle()

    # -- scenario controls -----------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """Inject Spot interruptions and capacity shortages: ``eng.faults.interrupt_spot(...)``."""
        return self._world.faults

    def set_nominal_size(self, s3_uri_prefix: str, rows: int) -> None:
        """Declare that data under ``s3_uri_prefix`` stands for ``rows`` records.

        Training on it then takes the simulated time and cost of that many rows
        while the real computation runs on the small data (docs/time-and-cost.md).
        """
        if rows < 1:
            raise ValueError(f"rows must be at least 1, got {rows}")
        if not s3_uri_prefix.startswith("s3://"):
            raise ValueError(f"expected an s3:// URI prefix, got {s3_uri_prefix!r}")
        self._world.nominal_rows[s3_uri_prefix] = int(rows)

    def traffic(self, EndpointName: str, dataset: str, per_minute, minutes: int,  # noqa: N803 (boto3 casing)
                drift: dict | None = None):
        """Send simulated requests to an endpoint in virtual time (see ``engine.traffic``)."""
        from engine import traffic

        with self._lock:
            return traffic.start(self._world, EndpointName, dataset, per_minute, minutes, drift)

    # -- what happened -------------------------------------------------------------------
    def bill(self) -> Bill:
        """The itemized bill so far (running resources charged up to now)."""
        return self._world.ledger.bill()

    def timeline(self) -> list[Event]:
        """Every status change, Spot event, fault and charge, in virtual-time order."""
        return sorted(self._world.timeline, key=lambda e: e.seconds)

    def security(self) -> SecurityFacts:
        """Every authorisation decision, network transfer and encryption record so far (docs/security.md)."""
        return self._world.security.snapshot()

    def logs_for(self, group: str, stream_prefix: str = "") -> list[str]:
        return self._world.services["logs"].lines(group, stream_prefix)


@lru_cache(maxsize=8)
def _dataset_bucket(seed: int) -> tuple[dict, list[str]]:
    """The dataset bucket's objects for a seed, built once per process and shared by every engine."""
    from engine import datasets
    from engine.clock import EPOCH
    from engine.services.s3 import S3Object

    objects = {}
    for key, data in datasets.objects(seed).items():
        objects[key] = S3Object(key, data, _content_type(key), '"' + hashlib.md5(data).hexdigest() + '"', EPOCH,
                                sse="AES256")
    return objects, sorted(objects)


def _content_type(key: str) -> str:
    if key.endswith(".csv"):
        return "text/csv"
    if key.endswith(".png"):
        return "image/png"
    if key.endswith((".json", ".manifest", ".jsonl")):
        return "application/json"
    return "text/plain"


#: The VPC endpoint service each client's requests need (``internet`` where AWS offers none we model).
ENDPOINT_SERVICE = {"sagemaker": "sagemaker.api", "sagemaker-runtime": "sagemaker.runtime", "s3": "s3", "sts": "sts",
                    "logs": "logs", "cloudwatch": "monitoring", "ecr": "ecr.api", "kms": "kms",
                    "stepfunctions": "states"}
#: Operations that carry data, so a placed caller's transfers are security facts (and VPC endpoint/NAT data
#: charges); for a caller outside any VPC only invocations are (its S3 plumbing is not the architecture).
_INVOKE_OPERATIONS = {"InvokeEndpoint", "InvokeEndpointAsync"}
_OUTSIDE = {"aws:SourceIp": "203.0.113.10"}  # a documentation address: the learner's laptop
_DATA_OPERATIONS = {"InvokeEndpoint", "InvokeEndpointAsync", "PutObject", "GetObject", "UploadPart"}


class _Gate:
    """What a client call goes through before its backend: the caller's network route, then IAM."""

    def __init__(self, world: World, authorizer: Authorizer, service: str, subnet: str | None,
                 endpoint_url: str | None):
        self.world, self.authorizer, self.service = world, authorizer, service
        self.subnet, self.endpoint_url = subnet, endpoint_url

    def __call__(self, call, params: dict) -> None:
        from engine.security import PUBLIC_INTERNET, Transfer

        target = ENDPOINT_SERVICE.get(self.service, "internet")
        if self.subnet is None and self.endpoint_url is None:
            path, via, reason, context = PUBLIC_INTERNET, None, "a caller outside any VPC", _OUTSIDE
        else:
            from engine import network

            route = network.caller_route(self.world.services["ec2"], service=target, subnet=self.subnet,
                                         endpoint_url=self.endpoint_url)
            path, via, reason, context = route.path, route.via, route.reason, route.context
        placed = self.subnet is not None or self.endpoint_url is not None
        if path == "none" or call.operation in (_DATA_OPERATIONS if placed else _INVOKE_OPERATIONS):
            nbytes = _request_bytes(self.world, call.operation, params)
            self.world.security.record_transfer(Transfer(
                self.world.clock.seconds, call.principal, target, _purpose(call.operation), path, via, nbytes, reason))
            if path != "none" and placed:
                from engine import network

                network.charge(self.world, route, nbytes)  # NAT or interface endpoint data processing
        if path == "none":
            from botocore.exceptions import ConnectTimeoutError

            raise ConnectTimeoutError(endpoint_url=self.endpoint_url or _public_endpoint(self.service))
        self.authorizer.check(call.principal, self.service, call.operation, params, context)


def _purpose(operation: str) -> str:
    return {"InvokeEndpoint": "invoke", "InvokeEndpointAsync": "invoke", "GetObject": "download"}.get(
        operation, "upload" if operation in ("PutObject", "UploadPart") else "api call")


def _request_bytes(world: World, operation: str, params: dict) -> int:
    body = params.get("Body")
    if isinstance(body, bytes | bytearray | str):
        return len(body)
    if operation == "GetObject":
        b = world.services["s3"].buckets.get(params.get("Bucket", ""))
        obj = b.objects.get(params.get("Key", "")) if b is not None else None
        return len(obj.data) if obj is not None else 0
    return 0


def _public_endpoint(service: str) -> str:
    host = {"sagemaker": "api.sagemaker", "sagemaker-runtime": "runtime.sagemaker", "stepfunctions": "states",
            "cloudwatch": "monitoring", "application-autoscaling": "application-autoscaling"}.get(service, service)
    return f"https://{host}.{REGION}.amazonaws.com"
