"""boto3-shaped clients that are real botocore clients answered in-process.

A client is made by botocore from its own service model, so parameter
validation, exceptions, paginators and method names are botocore's. Two event
hooks replace the network: ``before-parameter-build`` keeps the caller's
parameters, and ``before-call`` (emitted after botocore has validated and
serialised them) hands them to the engine's backend and returns the parsed
response, so botocore never opens a connection. Backends see plain dictionaries
and know nothing of HTTP, so the same backends can later serve the wire.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import botocore.session
from botocore import xform_name
from botocore.config import Config

from engine.errors import ServiceError
from engine.protocol import constraints, waiters

REGION = "us-east-1"
ACCOUNT = "123456789012"

_session_lock = threading.Lock()
_session: botocore.session.Session | None = None


def shared_session() -> botocore.session.Session:
    """One botocore session for the process, so service models load once."""
    global _session
    with _session_lock:
        if _session is None:
            s = botocore.session.Session()
            # Never look for real credentials or config files.
            s.set_config_variable("region", REGION)
            _session = s
        return _session


@dataclass(frozen=True)
class Call:
    """What a backend may know of a request besides its parameters."""

    service: str
    operation: str
    principal: str  # ARN of the calling identity


class Backend(Protocol):
    """A simulated service: one snake_case method per operation it supports."""


class _FakeHttp:
    def __init__(self, status: int, headers: dict[str, str] | None = None):
        self.status_code = status
        self.headers = headers or {}
        self.content = b""
        self.raw = None


class RequestIds:
    """Deterministic request ids (AWS shows UUIDs; ours come from a counter)."""

    def __init__(self, seed: int):
        self._seed = seed
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._n += 1
            n = self._n
        h = f"{(self._seed * 2654435761 + n * 40503) & 0xFFFFFFFF:08x}{n:024x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _metadata(request_id: str, status: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    hdrs = {"x-amzn-requestid": request_id}
    if headers:
        hdrs.update(headers)
    return {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": hdrs, "RetryAttempts": 0}


def _skip_network_setup(client: Any) -> None:
    """Drop per-request work whose result only a network send would read.

    botocore rebuilds the User-Agent header and evaluates the endpoint rule set for every request
    (together about half its own per-call cost); the answer here comes before anything is sent, so
    the header is built once and the endpoint is the client's own ``endpoint_url``.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if creator is not None and hasattr(creator, "to_string"):
        text = creator.to_string()
        creator.to_string = lambda: text
    if hasattr(client, "_ruleset_resolver"):
        client._ruleset_resolver = None


def make_client(service: str, backend: Any, *, principal: str, request_ids: RequestIds,
                sleep, lock: threading.RLock, access_key: str = "SAGETUTORLOCALKEY",
                gate=None, endpoint_url: str | None = None) -> Any:
    """A botocore client for ``service`` whose calls go to ``backend``.

    ``lock`` serialises calls into the engine, so clients used from several
    threads never see a half-made change. ``gate(call, params)``, when given,
    runs first for every call (inside the lock): it routes the request over the
    caller's network and authorises it, raising AWS's error to refuse it.
    """
    session = shared_session()
    client = session.create_client(
        service,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key="sagetutor-local-secret",
        endpoint_url=endpoint_url,
        config=Config(retries={"max_attempts": 0, "mode": "standard"}),
    )
    service_id = client.meta.service_model.service_id.hyphenize()
    _skip_network_setup(client)

    def keep_params(params, context, **_):
        context["sagetutor_params"] = params

    def answer(model, params, context, **_):
        api_params = context.get("sagetutor_params", {})
        rid = request_ids.next()
        try:
            call = Call(service=service, operation=model.name, principal=principal)
            if gate is not None:
                with lock:
                    gate(call, api_params)
            constraints.check(model.input_shape, api_params)
            method = getattr(backend, xform_name(model.name), None)
            if method is None:
                raise ServiceError(
                    "UnknownOperationException",
                    f"SageTutor does not simulate {service}.{model.name} yet.", 501)
            with lock:
                result = method(api_params, call) or {}
        except ServiceError as e:
            error = {"Code": e.code, "Message": e.message, **e.extra}
            body = {"Error": error, "ResponseMetadata": _metadata(rid, e.status, e.headers)}
            body.update(e.extra)
            return _FakeHttp(e.status, e.headers), body
        status = result.pop("_status", 200) if isinstance(result, dict) else 200
        result["ResponseMetadata"] = _metadata(rid, status)
        return _FakeHttp(status), result

    client.meta.events.register(f"before-parameter-build.{service_id}", keep_params)
    client.meta.events.register(f"before-call.{service_id}", answer)
    waiters.install(client, sleep)
    return client
