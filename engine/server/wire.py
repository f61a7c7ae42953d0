"""AWS wire protocols, server side: HTTP request -> call parameters, result -> HTTP response.

The inverse of what botocore does on the client, driven by the same botocore
service models (``botocore/data/<service>/.../service-2.json``): the shapes say
where each member travels (path label, query string, header, body) and how it is
encoded. Protocols: ``json`` (SageMaker, Logs, ECR, Application Auto Scaling,
Step Functions, KMS), ``rest-json`` (sagemaker-runtime), ``rest-xml`` (S3),
``query`` (IAM, STS), ``ec2`` and ``smithy-rpc-v2-cbor`` (CloudWatch).

Parameters come out as the engine's backends expect them: blobs as ``bytes``,
timestamps as timezone-aware UTC datetimes, numbers and booleans typed. Results
are encoded by the output shape: members the model does not name are dropped, as
AWS never sends them. Errors follow each protocol's error format so botocore
raises the same exception classes as against AWS.

This module owns its code (no third-party server internals), so it can be read
top to bottom and replaced per protocol.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from botocore.utils import parse_timestamp

from engine.errors import ServiceError
from engine.server import cbor

#: XML namespaces of the query-protocol services' responses.
_QUERY_NS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
             "cloudwatch": "http://monitoring.amazonaws.com/doc/2010-08-01/"}
_EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class Request:
    """The parts of an HTTP request the protocols read (header names lower-cased)."""

    method: str
    path: str  # still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    labels: dict[str, str] = field(default_factory=dict)  # path labels of a matched REST route

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def bad_request(message: str, code: str = "SerializationException") -> ServiceError:
    return ServiceError(code, message, 400)


# ---------------------------------------------------------------------------------------------------------------
# scalars
# ---------------------------------------------------------------------------------------------------------------
def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        return parse_timestamp(str(value)).astimezone(UTC)
    except (ValueError, TypeError) as e:
        raise bad_request(f"invalid timestamp {value!r}") from e


def _iso(value: Any) -> str:
    if isinstance(value, str):
        return value
    d = _to_datetime(value)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def _epoch(value: Any) -> float | str:
    if isinstance(value, str):
        return value
    return round(_to_datetime(value).timestamp(), 3)


def _rfc822(value: Any) -> str:
    if isinstance(value, str):
        return value
    return formatdate(_to_datetime(value).timestamp(), usegmt=True)


def _scalar_from_text(shape, text: str) -> Any:
    t = shape.type_name
    if t in ("integer", "long"):
        return int(text)
    if t in ("float", "double"):
        return float(text)
    if t == "boolean":
        return text.strip().lower() == "true"
    if t == "timestamp":
        return _to_datetime(float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text.strip()) else text)
    if t == "blob":
        return base64.b64decode(text)
    return text


def _text_of(shape, value: Any, ts: str = "iso8601") -> str:
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", ts)
        return {"iso8601": _iso, "rfc822": _rfc822}.get(fmt, lambda v: str(_epoch(v)))(value)
    if t == "blob":
        return base64.b64encode(value if isinstance(value, bytes | bytearray) else str(value).encode()).decode()
    if t in ("integer", "long"):
        return str(int(value))
    if t in ("float", "double"):
        return repr(float(value))
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# JSON-like documents (json, rest-json bodies, cbor)
# ---------------------------------------------------------------------------------------------------------------
def _member_name(shape, key: str) -> str:
    return shape.serialization.get("name", key)


def _from_doc(shape, value: Any, binary: bool = False) -> Any:
    """A decoded JSON/CBOR value -> the engine's Python value for ``shape``."""
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        if shape.is_document_type or not isinstance(value, dict):
            return value
        out = {}
        for key, member in shape.members.items():
            wire = _member_name(member, key)
            if wire in value and "location" not in member.serialization:
                out[key] = _from_doc(member, value[wire], binary)
        return out
    if t == "list":
        if not isinstance(value, list):
            raise bad_request(f"expected a list for {shape.name}")
        return [_from_doc(shape.member, v, binary) for v in value]
    if t == "map":
        if not isinstance(value, dict):
            raise bad_request(f"expected a map for {shape.name}")
        return {k: _from_doc(shape.value, v, binary) for k, v in value.items()}
    if t == "timestamp":
        return _to_datetime(value)
    if t == "blob":
        if binary and isinstance(value, bytes | bytearray):
            return bytes(value)
        try:
            return base64.b64decode(value)
        except (ValueError, TypeError) as e:
            raise bad_request(f"invalid base64 for {shape.name}") from e
    if t in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _to_doc(shape, value: Any, binary: bool = False, ts: str = "unixtimestamp") -> Any:
    """The engine's Python value -> a JSON/CBOR-encodable value for ``shape`` (unmodelled members dropped)."""
    if value is None:
        return None
    t = shape.type_name
    if t == "structure":
        if shape.is_document_type or not isinstance(value, dict):
            return value
        out = {}
        for key, member in shape.members.items():
            v = value.get(key)
            if v is None or "location" in member.serialization:
                continue
            out[_member_name(member, key)] = _to_doc(member, v, binary, ts)
        return out
    if t == "list":
        return [_to_doc(shape.member, v, binary, ts) for v in value]
    if t == "map":
        return {str(k): _to_doc(shape.value, v, binary, ts) for k, v in value.items()}
    if t == "timestamp":
        if binary:
            return _to_datetime(value) if not isinstance(value, str) else value
        fmt = shape.serialization.get("timestampFormat", ts)
        return _iso(value) if fmt == "iso8601" else _rfc822(value) if fmt == "rfc822" else _epoch(value)
    if t == "blob":
        data = value if isinstance(value, bytes | bytearray) else str(value).encode()
        return bytes(data) if binary else base64.b64encode(data).decode()
    if t in ("integer", "long"):
        return int(value)
    if t in ("float", "double"):
        return float(value)
    if t == "boolean":
        return bool(value)
    return value if isinstance(value, str) else str(value)


def _json_loads(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"Start of structure or map found where not expected: {e}") from e


# ---------------------------------------------------------------------------------------------------------------
# XML documents (rest-xml, query and ec2 responses, rest-xml request payloads)
# ---------------------------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _from_xml(shape, node) -> Any:
    t = shape.type_name
    if t == "structure":
        out = {}
        children: dict[str, list] = {}
        for child in node:
            children.setdefault(_local(child.tag), []).append(child)
        for key, member in shape.members.items():
            if member.type_name == "list" and member.serialization.get("flattened"):
                name = member.member.serialization.get("name", _member_name(member, key))
                if name in children:
                    out[key] = [_from_xml(member.member, c) for c in children[name]]
                continue
            name = _member_name(member, key)
            if name in children:
                out[key] = _from_xml(member, children[name][0])
        return out
    if t == "list":
        name = shape.member.serialization.get("name", "member")
        return [_from_xml(shape.member, c) for c in node if _local(c.tag) == name]
    if t == "map":
        kn = shape.key.serialization.get("name", "key")
        vn = shape.value.serialization.get("name", "value")
        out = {}
        for entry in node:
            parts = {_local(c.tag): c for c in entry}
            if kn in parts:
                out[parts[kn].text or ""] = _from_xml(shape.value, parts[vn]) if vn in parts else None
        return out
    return _scalar_from_text(shape, node.text or "")


def _xml(shape, value: Any, name: str, out: list[str], ts: str = "iso8601") -> None:
    """Append ``<name>value</name>`` for ``shape`` to ``out``."""
    if value is None:
        return
    t = shape.type_name
    if t == "structure":
        out.append(f"<{name}>")
        _xml_members(shape, value, out, ts)
        out.append(f"</{name}>")
    elif t == "list":
        if shape.serialization.get("flattened"):
            item = shape.member.serialization.get("name", name)
            for v in value:
                _xml(shape.member, v, item, out, ts)
            return
        item = shape.member.serialization.get("name", "member")
        out.append(f"<{name}>")
        for v in value:
            _xml(shape.member, v, item, out, ts)
        out.append(f"</{name}>")
    elif t == "map":
        kn = shape.key.serialization.get("name", "key")
        vn = shape.value.serialization.get("name", "value")
        flat = shape.serialization.get("flattened")
        if not flat:
            out.append(f"<{name}>")
        for k, v in value.items():
            out.append(f"<{name if flat else 'entry'}>")
            _xml(shape.key, k, kn, out, ts)
            _xml(shape.value, v, vn, out, ts)
            out.append(f"</{name if flat else 'entry'}>")
        if not flat:
            out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(_text_of(shape, value, ts))}</{name}>")


def _xml_members(shape, value: Any, out: list[str], ts: str = "iso8601") -> None:
    if not isinstance(value, dict):
        return
    for key, member in shape.members.items():
        v = value.get(key)
        if v is None or "location" in member.serialization or member.serialization.get("xmlAttribute"):
            continue
        _xml(member, v, _member_name(member, key), out, ts)


# ---------------------------------------------------------------------------------------------------------------
# query and ec2 request parameters
# ---------------------------------------------------------------------------------------------------------------
def _query_name(member, key: str, ec2: bool) -> str:
    if ec2:
        s = member.serialization
        if "queryName" in s:
            return s["queryName"]
        if "name" in s:
            return s["name"][0].upper() + s["name"][1:]
        return key
    return member.serialization.get("name", key)


def _from_query(shape, flat: dict[str, str], prefix: str, ec2: bool) -> Any:
    t = shape.type_name
    if t == "structure":
        out = {}
        for key, member in shape.members.items():
            name = _query_name(member, key, ec2)
            full = f"{prefix}.{name}" if prefix else name
            v = _from_query(member, flat, full, ec2)
            if v is not None:
                out[key] = v
        return out if (out or not prefix) else None
    if t == "list":
        if ec2 or shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items = []
        i = 1
        while True:
            v = _from_query(shape.member, flat, f"{base}.{i}", ec2)
            if v is None:
                break
            items.append(v)
            i += 1
        if not items and flat.get(prefix) == "":
            return []
        return items or None
    if t == "map":
        kn = shape.key.serialization.get("name", "key")
        vn = shape.value.serialization.get("name", "value")
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        out = {}
        i = 1
        while f"{base}.{i}.{kn}" in flat:
            out[flat[f"{base}.{i}.{kn}"]] = _from_query(shape.value, flat, f"{base}.{i}.{vn}", ec2)
            i += 1
        return out or None
    if prefix not in flat:
        return None
    try:
        return _scalar_from_text(shape, flat[prefix])
    except ValueError as e:
        raise bad_request(f"invalid value for {prefix}: {flat[prefix]!r}", "MalformedInput") from e


# ---------------------------------------------------------------------------------------------------------------
# REST requests: labels, query string, headers, payload
# ---------------------------------------------------------------------------------------------------------------
def _rest_params(op, req: Request, xml: bool) -> dict:
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for key, member in shape.members.items():
        s = member.serialization
        loc = s.get("location")
        name = s.get("name", key)
        if loc == "uri":
            if name in req.labels:
                params[key] = unquote(req.labels[name])
        elif loc == "querystring":
            if member.type_name == "map":
                known = {m.serialization.get("name") for m in shape.members.values()
                         if m.serialization.get("location") == "querystring"}
                extra = {k: v[-1] for k, v in req.query.items() if k not in known}
                if extra:
                    params[key] = extra
            elif name in req.query:
                vals = req.query[name]
                if member.type_name == "list":
                    params[key] = [_scalar_from_text(member.member, v) for v in vals]
                else:
                    params[key] = _scalar_from_text(member, vals[-1])
        elif loc == "header":
            raw = req.header(name)
            if raw is None:
                continue
            if member.type_name == "list":
                params[key] = [x.strip() for x in raw.split(",") if x.strip()]
            elif s.get("jsonvalue") or member.serialization.get("jsonvalue"):
                params[key] = json.loads(base64.b64decode(raw))
            elif member.type_name == "timestamp":
                params[key] = _to_datetime(raw)
            else:
                params[key] = _scalar_from_text(member, raw)
        elif loc == "headers":
            prefix = name.lower()
            found = {k[len(prefix):]: v for k, v in req.headers.items() if k.startswith(prefix)}
            if found:
                params[key] = found
    if payload:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            params[payload] = req.body if member.type_name == "blob" else req.body.decode()
        elif req.body.strip():
            if xml:
                params[payload] = _from_xml(member, _parse_xml(req.body))
            else:
                params[payload] = _from_doc(member, _json_loads(req.body))
    elif not xml and req.body.strip():
        params.update(_from_doc(shape, _json_loads(req.body)))
    return params


def _parse_xml(body: bytes):
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise bad_request("The XML you provided was not well-formed or did not validate against our published "
                          "schema", "MalformedXML") from e


# ---------------------------------------------------------------------------------------------------------------
# the protocols
# ---------------------------------------------------------------------------------------------------------------
def parse(protocol: str, op, req: Request, flat: dict[str, str] | None = None) -> dict:
    """The call's parameters, as the engine's backends receive them."""
    shape = op.input_shape
    if protocol == "json":
        return _from_doc(shape, _json_loads(req.body)) if shape is not None else {}
    if protocol == "smithy-rpc-v2-cbor":
        if shape is None or not req.body:
            return {}
        try:
            doc = cbor.loads(req.body)
        except ValueError as e:
            raise bad_request(f"malformed CBOR body: {e}") from e
        return _from_doc(shape, doc, binary=True)
    if protocol in ("query", "ec2"):
        return _from_query(shape, flat or {}, "", protocol == "ec2") if shape is not None else {}
    if protocol == "rest-json":
        return _rest_params(op, req, xml=False)
    if protocol == "rest-xml":
        return _rest_params(op, req, xml=True)
    raise ValueError(f"unsupported protocol {protocol}")


def _rest_headers(shape, result: dict, headers: dict[str, str]) -> None:
    for key, member in shape.members.items():
        s = member.serialization
        v = result.get(key)
        if v is None:
            continue
        if s.get("location") == "header":
            if member.type_name == "timestamp":
                headers[s.get("name", key)] = _text_of(member, v, "rfc822")
            elif s.get("jsonvalue"):
                headers[s.get("name", key)] = base64.b64encode(json.dumps(v).encode()).decode()
            elif member.type_name == "list":
                headers[s.get("name", key)] = ",".join(str(x) for x in v)
            else:
                headers[s.get("name", key)] = _text_of(member, v)
        elif s.get("location") == "headers":
            for k, x in v.items():
                headers[s.get("name", "") + k] = str(x)


def _payload_bytes(value: Any) -> bytes:
    if hasattr(value, "read"):
        value = value.read()
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def serialize(protocol: str, service: str, op, result: dict, request_id: str, status: int | None = None) -> Response:
    """An operation's result, encoded as ``protocol`` answers it."""
    shape = op.output_shape
    status = status or op.http.get("responseCode", 200)
    headers: dict[str, str] = {}
    if protocol == "json":
        headers["Content-Type"] = f"application/x-amz-json-{op.metadata.get('jsonVersion', '1.0')}"
        headers["x-amzn-RequestId"] = request_id
        doc = _to_doc(shape, result) if shape is not None else {}
        return Response(status, headers, json.dumps(doc, separators=(",", ":")).encode())
    if protocol == "smithy-rpc-v2-cbor":
        headers.update({"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                        "x-amzn-RequestId": request_id})
        doc = _to_doc(shape, result, binary=True) if shape is not None else {}
        return Response(status, headers, cbor.dumps(doc))
    if protocol == "query":
        ns = _QUERY_NS.get(service, "")
        out = [f'<{op.name}Response xmlns="{ns}">']
        if shape is not None:
            wrapper = op.output_shape.serialization.get("resultWrapper", f"{op.name}Result")
            out.append(f"<{wrapper}>")
            _xml_members(shape, result, out)
            out.append(f"</{wrapper}>")
        out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op.name}Response>")
        headers.update({"Content-Type": "text/xml", "x-amzn-RequestId": request_id})
        return Response(status, headers, "".join(out).encode())
    if protocol == "ec2":
        out = [f'<{op.name}Response xmlns="{_EC2_NS}"><requestId>{request_id}</requestId>']
        if shape is not None:
            _xml_members(shape, result, out)
        out.append(f"</{op.name}Response>")
        headers.update({"Content-Type": "text/xml;charset=UTF-8", "x-amzn-RequestId": request_id})
        return Response(status, headers, "".join(out).encode())
    # REST protocols
    body = b""
    if shape is not None:
        _rest_headers(shape, result, headers)
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            v = result.get(payload)
            if v is None:
                pass
            elif member.type_name in ("blob", "string"):
                body = _payload_bytes(v)
            elif protocol == "rest-xml":
                out = []
                _xml(member, v, member.serialization.get("name", payload), out)
                body = _with_ns("".join(out), _S3_NS).encode()
            else:
                body = json.dumps(_to_doc(member, v)).encode()
        elif protocol == "rest-xml":
            if any("location" not in m.serialization for m in shape.members.values()):
                root = shape.serialization.get("name", shape.name)
                out = [f"<{root}>"]
                _xml_members(shape, result, out)
                out.append(f"</{root}>")
                body = _with_ns("".join(out), shape.serialization.get("xmlNamespace", {}).get("uri", _S3_NS)).encode()
        else:
            body = json.dumps(_to_doc(shape, result), separators=(",", ":")).encode()
    if protocol == "rest-xml":
        headers.update({"x-amz-request-id": request_id, "x-amz-id-2": request_id})
        if body and "Content-Type" not in headers and not (shape and shape.serialization.get("payload")
                                                           and shape.members[shape.serialization["payload"]]
                                                           .type_name in ("blob", "string")):
            headers["Content-Type"] = "application/xml"
    else:
        headers["x-amzn-RequestId"] = request_id
        headers.setdefault("Content-Type", "application/json")
    return Response(status, headers, body)


def _with_ns(xml: str, ns: str) -> str:
    i = xml.find(">")
    if i < 0:
        return xml
    head = xml[:i]
    if head.endswith("/"):
        return f'{head[:-1]} xmlns="{ns}"/' + xml[i:]
    return f'{head} xmlns="{ns}"' + xml[i:]


def serialize_error(protocol: str, err: ServiceError, request_id: str, method: str = "POST") -> Response:
    """``err`` in ``protocol``'s error format (what botocore turns back into the same ClientError)."""
    status = err.status or 400
    headers = dict(err.headers or {})
    extra = {k: v for k, v in (err.extra or {}).items() if isinstance(v, str | int | float | bool)}
    if protocol in ("json", "rest-json"):
        body = {"__type": err.code, "message": err.message, **extra}
        headers.update({"Content-Type": "application/x-amz-json-1.1" if protocol == "json" else "application/json",
                        "x-amzn-RequestId": request_id, "x-amzn-ErrorType": err.code})
        return Response(status, headers, json.dumps(body, default=str).encode())
    if protocol == "smithy-rpc-v2-cbor":
        headers.update({"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                        "x-amzn-RequestId": request_id})
        return Response(status, headers, cbor.dumps({"__type": err.code, "message": err.message}))
    code, msg = escape(err.code), escape(err.message)
    headers["Content-Type"] = "text/xml"
    if protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        headers["x-amzn-RequestId"] = request_id
        return Response(status, headers, body.encode())
    if protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return Response(status, headers, body.encode())
    # rest-xml (S3): HEAD answers carry no body, so botocore reports the status code
    headers.update({"x-amz-request-id": request_id, "x-amz-id-2": request_id, "Content-Type": "application/xml"})
    if method == "HEAD":
        return Response(status, headers, b"")
    fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in extra.items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>{fields}'
            f"<RequestId>{request_id}</RequestId></Error>")
    return Response(status, headers, body.encode())
