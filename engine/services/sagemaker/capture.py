"""Data capture: an endpoint's requests and responses written to S3 as SageMaker writes them.

An endpoint whose config has ``DataCaptureConfig`` (EnableCapture, default true)
captures a seeded ``InitialSamplingPercentage`` of its answered requests. Each
captured request is one JSON line::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "17.99,10.38,...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.0213", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-01-05T10:00:00Z"}, "eventVersion": "0"}

Lines are buffered and flushed every ``FLUSH_SECONDS`` of virtual time (and
whenever a monitoring execution runs) to
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl``,
one file per flush and hour of inference time (docs/model-monitor.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from engine.clock import EPOCH
from engine.services.s3 import parse_uri

FLUSH_SECONDS = 300.0


def _uuid(*parts: object) -> str:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _unit(*parts: object) -> float:
    """A seeded uniform draw in [0, 1)."""
    return int.from_bytes(hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest(),
                          "big") / 2.0 ** 64


def _base_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Pending:
    bucket: str
    endpoint: str
    directory: str  # key prefix of the hour: <prefix><endpoint>/<variant>/yyyy/mm/dd/hh/
    first: float  # virtual seconds of the first buffered record
    lines: list[str] = field(default_factory=list)
    kms_key: str | None = None


@dataclass(frozen=True)
class Record:
    """One captured request, as a monitoring execution reads it back."""

    seconds: float
    input: dict | None
    output: dict | None


class Capture:
    """The data-capture half of hosting: an invocation hook plus a write-behind buffer."""

    def __init__(self, world):
        self.world = world
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._counts: dict[str, int] = {}
        self._configs: dict[str, dict | None] = {}  # endpoint -> DataCaptureConfig it was created with
        self._armed = False
        self._files = 0
        self.failures: set[str] = set()

    @property
    def clock(self):
        return self.world.clock

    # -- which endpoints capture --------------------------------------------------------
    def config_for(self, endpoint: str) -> dict | None:
        """The DataCaptureConfig an endpoint runs with (None when it does not capture)."""
        hosting = self.world.services["sagemaker"].hosting
        ep = hosting.endpoints.get(endpoint)
        if ep is None:
            return None
        if hasattr(ep, "data_capture"):  # what the endpoint was created (or last updated) with
            dc = ep.data_capture
        else:
            cfg = hosting.configs.get(ep.config)
            key = f"{endpoint}\0{ep.config}"
            if cfg is not None:
                self._configs[key] = cfg.request.get("DataCaptureConfig")
            dc = self._configs.get(key)
        if not dc or not dc.get("EnableCapture", True):
            return None
        return dc

    # -- the hook -----------------------------------------------------------------------
    def wants(self, endpoint: str) -> bool:
        """Whether invocations of ``endpoint`` are captured now: hosting calls the hook only then, so
        simulated traffic to an endpoint without capture builds no per-request record at all."""
        return self.config_for(endpoint) is not None

    def __call__(self, inv) -> None:
        self.on_invocation(inv)

    def on_invocation(self, inv) -> None:
        dc = self.config_for(inv.endpoint)
        if dc is None:
            return
        n = self._counts[inv.endpoint] = self._counts.get(inv.endpoint, 0) + 1
        pct = float(dc.get("InitialSamplingPercentage", 100))
        if pct < 100 and _unit(self.world.seed, "capture", inv.endpoint, n) * 100 >= pct:
            return
        modes = {o.get("CaptureMode") for o in dc.get("CaptureOptions", [])} or {"InputAndOutput"}
        want_in = bool(modes & {"Input", "InputAndOutput"})
        want_out = bool(modes & {"Output", "InputAndOutput"})
        # As AWS documents: without CaptureContentTypeHeader every payload is captured base64-encoded.
        headers = dc.get("CaptureContentTypeHeader") or {}
        csv_types = {_base_type(t) for t in headers.get("CsvContentTypes", ())}
        json_types = {_base_type(t) for t in headers.get("JsonContentTypes", ())}
        data: dict = {}
        if want_in:
            data["endpointInput"] = self._part(inv.request, inv.request_type, "INPUT", csv_types, json_types)
        if want_out:
            data["endpointOutput"] = self._part(inv.response, inv.response_type, "OUTPUT", csv_types, json_types)
        at = self.clock.at(inv.seconds)
        line = json.dumps({"captureData": data,
                           "eventMetadata": {"eventId": _uuid(self.world.seed, inv.endpoint, inv.inference_id, n),
                                             "inferenceTime": iso(at)},
                           "eventVersion": "0"}, separators=(",", ":"))
        bucket, prefix = parse_uri(dc["DestinationS3Uri"])
        prefix = prefix.strip("/")
        directory = (f"{prefix}/" if prefix else "") + f"{inv.endpoint}/{inv.variant}/{at:%Y/%m/%d/%H}/"
        p = self._pending.get((bucket, directory))
        if p is None:
            p = self._pending[(bucket, directory)] = _Pending(bucket, inv.endpoint, directory, inv.seconds,
                                                              kms_key=dc.get("KmsKeyId"))
        p.lines.append(line)
        self._arm()

    @staticmethod
    def _part(body: bytes, content_type: str, mode: str, csv_types: set[str], json_types: set[str]) -> dict:
        base = _base_type(content_type or "")
        text = None
        if base in csv_types or base in json_types:
            try:
                text = bytes(body).decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            return {"observedContentType": content_type, "mode": mode,
                    "data": base64.b64encode(bytes(body)).decode(), "encoding": "BASE64"}
        return {"observedContentType": content_type, "mode": mode, "data": text,
                "encoding": "CSV" if base in csv_types else "JSON"}

    # -- writing ------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._armed:
            return
        self._armed = True
        now = self.clock.seconds
        at = (math.floor(now / FLUSH_SECONDS) + 1) * FLUSH_SECONDS
        # A plain SimPy process, not clock.start: buffered capture is not work in progress.
        self.clock.env.process(self._flush_at(at - now))

    def _flush_at(self, delay: float):
        yield self.clock.env.timeout(delay)
        self._armed = False
        self.flush()

    def flush(self) -> int:
        """Write every buffered line to S3 now; returns the number of files written."""
        s3 = self.world.services["s3"]
        written = 0
        for (bucket, _), p in sorted(self._pending.items()):
            if bucket not in s3.buckets:
                if bucket not in self.failures:
                    self.failures.add(bucket)
                    self.world.event(self.world.arn("sagemaker", f"endpoint/{p.endpoint.lower()}"), "capture",
                                     f"Data capture could not be written: bucket {bucket} does not exist")
                continue
            self._files += 1
            t = self.clock.at(p.first)
            key = f"{p.directory}{t:%M-%S}-{t.microsecond // 1000:03d}-{_uuid(self.world.seed, 'file', self._files)}.jsonl"
            s3.put_bytes(bucket, key, ("\n".join(p.lines) + "\n").encode(), "application/jsonlines",
                         sse="aws:kms" if p.kms_key else None, kms_key_id=p.kms_key)
            written += 1
        self._pending.clear()
        return written

    # -- reading back (monitoring executions) ---------------------------------------------
    def records(self, destination: str, endpoint: str, start: float, end: float) -> tuple[list[Record], int]:
        """Captured records of ``endpoint`` with inference time in [start, end), and the bytes read."""
        s3 = self.world.services["s3"]
        bucket, prefix = parse_uri(destination)
        prefix = prefix.strip("/")
        root = (f"{prefix}/" if prefix else "") + f"{endpoint}/"
        if bucket not in s3.buckets:
            return [], 0
        first_hour = self.clock.at(start).replace(minute=0, second=0, microsecond=0)
        out: list[Record] = []
        size = 0
        for key in s3.list_keys(bucket, root):
            parts = key[len(root):].split("/")
            if len(parts) != 6 or not key.endswith(".jsonl"):
                continue
            try:
                hour = datetime(int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), tzinfo=EPOCH.tzinfo)
            except ValueError:
                continue
            if hour < first_hour or hour >= self.clock.at(end):
                continue
            data = s3.get(bucket, key).data
            size += len(data)
            for line in data.decode("utf-8", "replace").splitlines():
                try:
                    rec = json.loads(line)
                    when = datetime.strptime(rec["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
                except (ValueError, KeyError, TypeError):
                    continue
                seconds = (when.replace(tzinfo=EPOCH.tzinfo) - EPOCH).total_seconds()
                if start <= seconds < end:
                    cd = rec.get("captureData") or {}
                    out.append(Record(seconds, cd.get("endpointInput"), cd.get("endpointOutput")))
        return out, size


def decode(part: dict | None) -> str | None:
    """The text of a captured input or output (BASE64 decoded)."""
    if not part or "data" not in part:
        return None
    if part.get("encoding") == "BASE64":
        try:
            return base64.b64decode(part["data"]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    return str(part["data"])
