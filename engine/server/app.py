"""The WSGI application: one HTTP front over the engine's backends.

Each request is routed (``engine.server.routing``), its parameters parsed off the
wire (``engine.server.wire``), answered by ``Engine.dispatch`` as the caller its
access key id names (``Engine.principal_for_key``), and the result or error
encoded back in the service's protocol. Virtual time follows the ``Pacer``.
Paths under ``/_sagetutor/`` are the control calls (docs/serve.md).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs

from botocore.validate import ParamValidator

from engine.errors import ServiceError
from engine.server import routing, wire
from engine.server.pacer import Pacer

#: Default bound on a request body; above it the answer is 413. It sits above SageMaker's own
#: 6 MiB InvokeEndpoint limit (so that limit answers with SageMaker's error) and above boto3's
#: 8 MiB multipart part size.
MAX_BODY = 32 * 1024 * 1024

_VALIDATION_CODE = {"json": "ValidationException", "rest-json": "ValidationError", "query": "ValidationError",
                    "ec2": "InvalidParameterValue", "rest-xml": "InvalidArgument",
                    "smithy-rpc-v2-cbor": "InvalidParameterValue"}
_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 206: "Partial Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
            413: "Payload Too Large", 424: "Failed Dependency", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def _status_line(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Status')}"


class ServeApp:
    """``ServeApp(engine, speed=600)`` is a WSGI callable serving ``engine`` over AWS's wire protocols."""

    def __init__(self, engine, *, speed: float = 600.0, max_body: int = MAX_BODY):
        self.engine = engine
        self.pacer = Pacer(engine, speed)
        self.max_body = int(max_body)
        self._validator = ParamValidator()
        self.requests = 0
        self._count_lock = threading.Lock()

    # -- WSGI ----------------------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw_uri:
            path, _, qs = raw_uri.partition("?")
            if "://" in path:  # absolute-form request target
                path = "/" + path.split("://", 1)[1].partition("/")[2]
        else:
            from urllib.parse import quote

            path, qs = quote(environ.get("PATH_INFO", "/").encode("latin-1")), environ.get("QUERY_STRING", "")
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.max_body:
            return self._plain(start_response, 413, {"__type": "RequestEntityTooLarge",
                                                     "message": f"request body over {self.max_body} bytes"})
        body = environ["wsgi.input"].read(length) if length else b""
        if not length and environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read(self.max_body + 1)
            if len(body) > self.max_body:
                return self._plain(start_response, 413, {"__type": "RequestEntityTooLarge",
                                                         "message": f"request body over {self.max_body} bytes"})
        query = parse_qs(qs, keep_blank_values=True)
        req = wire.Request(method, path, query, headers, body)
        with self._count_lock:
            self.requests += 1
        if path.startswith("/_sagetutor/"):
            return self._control(req, path, start_response)
        resp = self.handle(req, path)
        start_response(_status_line(resp.status), [*resp.headers.items(), ("Content-Length", str(len(resp.body)))]
                       if "Content-Length" not in resp.headers else list(resp.headers.items()))
        return [] if method == "HEAD" else [resp.body]

    def handle(self, req: wire.Request, path: str) -> wire.Response:
        """One AWS API request -> its wire response (never raises)."""
        rid = self.engine.request_id()
        protocol = "rest-xml"
        try:
            routed = routing.route(req, path)
            protocol = routed.protocol
            model = routing.model(routed.service)
            if routed.operation not in model.operation_names:
                raise ServiceError("UnknownOperationException" if protocol != "query" else "InvalidAction",
                                   f"{routed.service} has no operation {routed.operation}", 400)
            op = model.operation_model(routed.operation)
            params = wire.parse(protocol, op, req, routed.flat)
            if op.input_shape is not None:
                report = self._validator.validate(params, op.input_shape)
                if report.has_errors():
                    raise ServiceError(_VALIDATION_CODE.get(protocol, "ValidationException"),
                                       report.generate_report(), 400)
            self.pacer.catch_up()
            principal = self.engine.principal_for_key(routed.access_key)
            result = self.engine.dispatch(routed.service, routed.operation, params, principal)
            status = result.pop("_status", None) if isinstance(result, dict) else None
            return wire.serialize(protocol, routed.service, op, result if isinstance(result, dict) else {}, rid,
                                  status)
        except ServiceError as e:
            return wire.serialize_error(protocol, e, rid, req.method)
        except Exception as e:  # noqa: BLE001 - a bug must come back as AWS's 500, not a dropped connection
            err = ServiceError("InternalFailure" if protocol != "rest-xml" else "InternalError",
                               f"{type(e).__name__}: {e}", 500)
            return wire.serialize_error(protocol, err, rid, req.method)

    # -- control calls -----------------------------------------------------------------------------------
    def _plain(self, start_response, status: int, doc: Any) -> list[bytes]:
        body = json.dumps(doc, default=str, indent=None).encode()
        start_response(_status_line(status), [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, req: wire.Request, path: str, start_response) -> list[bytes]:
        from engine.server import control

        try:
            status, doc = control.handle(self, req, path)
        except control.ControlError as e:
            status, doc = e.status, {"error": e.message}
        except (ValueError, TypeError, KeyError) as e:
            status, doc = 400, {"error": f"{type(e).__name__}: {e}"}
        return self._plain(start_response, status, doc)
