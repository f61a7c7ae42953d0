"""Which service and operation an HTTP request is, read the way AWS's front doors read it.

In order: a Smithy RPC v2 CBOR path (``/service/<Service>/operation/<Op>``, CloudWatch);
an ``X-Amz-Target: <Prefix>.<Op>`` header (the JSON services); the SigV4 credential
scope's service name (``Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/<service>/aws4_request``,
or ``X-Amz-Credential`` in a presigned URL); a form body's ``Action`` and ``Version`` (IAM,
STS, EC2); and finally the REST routes of sagemaker-runtime (``/endpoints/...``) and S3
(path-style: ``/<bucket>/<key>``). REST operations are matched against the model's
``requestUri`` templates; among equal templates the one whose required query-string and
header members are present wins (``PUT /b/k?partNumber=1&uploadId=u`` is UploadPart, with
``x-amz-copy-source`` it is UploadPartCopy, bare it is PutObject).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qs

from engine.errors import ServiceError
from engine.server.wire import Request

#: The services served, by botocore name.
SERVICES = ("sagemaker", "sagemaker-runtime", "s3", "iam", "sts", "logs", "cloudwatch", "ecr",
            "application-autoscaling", "stepfunctions", "ec2", "kms")

_SIGNING = {"s3": "s3", "iam": "iam", "sts": "sts", "ec2": "ec2", "monitoring": "cloudwatch", "logs": "logs",
            "ecr": "ecr", "application-autoscaling": "application-autoscaling", "states": "stepfunctions",
            "kms": "kms"}
_VERSIONS = {"2010-05-08": "iam", "2011-06-15": "sts", "2016-11-15": "ec2", "2010-08-01": "cloudwatch"}
_CRED = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request")


@cache
def _session():
    """A botocore session of the server's own: botocore's S3 handlers edit the service model they are given
    in place (``remove_bucket_from_url_paths_from_model`` strips ``/{Bucket}`` from request URIs when a
    client makes a call), so the in-process clients' shared models cannot be the server's routing table."""
    import botocore.session

    return botocore.session.Session()


@cache
def model(service: str):
    return _session().get_service_model(service)


@cache
def _targets() -> dict[str, str]:
    out = {}
    for s in SERVICES:
        prefix = model(s).metadata.get("targetPrefix")
        if prefix:
            out[prefix] = s
    return out


@dataclass(frozen=True)
class _Route:
    operation: str
    regex: re.Pattern
    literals: dict[str, str | None]  # query keys the template requires (value, or None for any)
    required: tuple[tuple[str, str], ...]  # (location, wire name) of required querystring/header members


@cache
def _routes(service: str) -> dict[str, list[_Route]]:
    m = model(service)
    table: dict[str, list[_Route]] = {}
    for name in m.operation_names:
        op = m.operation_model(name)
        path, _, qs = op.http["requestUri"].partition("?")
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part[1:-1]
                pattern += f"(?P<{label[:-1]}>.+)" if label.endswith("+") else f"(?P<{label}>[^/]+)"
            else:
                pattern += re.escape(part)
        literals = {}
        for item in filter(None, qs.split("&")):
            k, eq, v = item.partition("=")
            if k != "x-id":
                literals[k] = v if eq else None
        required = []
        shape = op.input_shape
        if shape is not None:
            for key in shape.required_members:
                s = shape.members[key].serialization
                if s.get("location") in ("querystring", "header"):
                    required.append((s["location"], s.get("name", key).lower() if s["location"] == "header"
                                     else s.get("name", key)))
        table.setdefault(op.http["method"], []).append(
            _Route(name, re.compile(pattern.rstrip("/") + "/?$" if pattern != "/" else "/$"), literals,
                   tuple(required)))
    return table


def match_rest(service: str, req: Request, path: str) -> str:
    """The REST operation ``req`` is (its path labels are stored in ``req.labels``)."""
    best = None
    for r in _routes(service).get(req.method, ()):
        m = r.regex.match(path)
        if m is None:
            continue
        if any(k not in req.query or (v is not None and req.query[k][-1] != v) for k, v in r.literals.items()):
            continue
        present = [(loc, n) for loc, n in r.required
                   if (n in req.query if loc == "querystring" else n in req.headers)]
        if len(present) != len(r.required):
            continue
        score = (len(r.literals), len(present))
        if best is None or score > best[0]:
            best = (score, r, m)
    if best is None:
        raise ServiceError("MethodNotAllowed" if service == "s3" else "UnknownOperationException",
                           f"SageTutor serves no {service} operation for {req.method} {path}", 405 if service == "s3"
                           else 404)
    req.labels = {k: v for k, v in best[2].groupdict().items() if v is not None}
    return best[1].operation


@dataclass
class Routed:
    service: str
    operation: str
    protocol: str
    access_key: str | None
    flat: dict[str, str] | None = None  # query/ec2 form parameters


def access_key_of(req: Request) -> tuple[str | None, str | None]:
    """(access key id, signing service name) from the SigV4 Authorization header or a presigned URL."""
    auth = req.header("authorization")
    if auth:
        m = _CRED.search(auth)
        if m:
            return m.group(1), m.group(2)
        if auth.startswith("AWS "):  # SigV2 (old presigned S3 clients)
            return auth[4:].split(":", 1)[0], None
    cred = req.query.get("X-Amz-Credential")
    if cred:
        parts = cred[-1].split("/")
        return parts[0], parts[3] if len(parts) > 3 else None
    if "AWSAccessKeyId" in req.query:
        return req.query["AWSAccessKeyId"][-1], "s3"
    return None, None


def route(req: Request, path: str) -> Routed:
    """Service, operation and protocol of ``req`` (raises ServiceError for a request no service answers)."""
    key, signing = access_key_of(req)
    if path.startswith("/service/") and "/operation/" in path:
        _, _, svc_name, _, op = path.split("/", 4)
        service = _targets().get(svc_name.rsplit(".", 1)[-1]) or _targets().get(svc_name)
        if service is None:
            raise ServiceError("UnknownOperationException", f"unknown service {svc_name}", 404)
        return Routed(service, op, "smithy-rpc-v2-cbor", key)
    target = req.header("x-amz-target")
    if target:
        prefix, _, op = target.rpartition(".")
        service = _targets().get(prefix)
        if service is None:
            raise ServiceError("UnknownOperationException", f"unknown X-Amz-Target {target}", 400)
        return Routed(service, op, "json", key)
    service = _SIGNING.get(signing or "")
    ctype = (req.header("content-type") or "").lower()
    if signing == "sagemaker" or path.startswith("/endpoints/"):
        return Routed("sagemaker-runtime", match_rest("sagemaker-runtime", req, path), "rest-json", key)
    if service in (None, "iam", "sts", "ec2", "cloudwatch") and req.method == "POST" and \
            "x-www-form-urlencoded" in ctype:
        flat = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        flat.update({k: v[-1] for k, v in req.query.items() if k not in flat})
        action = flat.pop("Action", None)
        version = flat.pop("Version", None)
        service = service or _VERSIONS.get(version or "")
        if action is None or service is None:
            raise ServiceError("MissingAction", "The request must contain the parameter Action", 400)
        return Routed(service, action, "ec2" if service == "ec2" else "query", key, flat)
    if service in (None, "s3"):
        return Routed("s3", match_rest("s3", req, path), "rest-xml", key)
    raise ServiceError("UnknownOperationException", f"cannot route a {signing} request: {req.method} {path}", 400)
