"""CloudWatch metrics: data points in virtual time, statistics over periods."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from engine.errors import ServiceError


def _dims_key(dims: list[dict] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d["Name"], d["Value"]) for d in dims or []))


@dataclass
class Series:
    namespace: str
    name: str
    dims: tuple[tuple[str, str], ...]
    unit: str = "None"
    points: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, value)


class CloudWatch:
    def __init__(self, account: str, clock):
        self.account = account
        self._clock = clock
        self.series: dict[tuple, Series] = {}

    # -- engine-side -----------------------------------------------------------
    def record(self, namespace: str, name: str, value: float, dims: dict[str, str] | None = None,
               unit: str = "None", at: datetime | None = None) -> None:
        d = [{"Name": k, "Value": v} for k, v in (dims or {}).items()]
        key = (namespace, name, _dims_key(d))
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series(namespace, name, key[2], unit)
        ts = (at or self._clock.now).timestamp()
        s.points.append((ts, float(value)))

    def series_for(self, namespace: str, name: str, dims: dict[str, str] | None = None, unit: str = "None") -> Series:
        """The series a metric's points go to (for callers that append many points at once)."""
        key = (namespace, name, tuple(sorted((dims or {}).items())))
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series(namespace, name, key[2], unit)
        return s

    def points(self, namespace: str, name: str, dims: dict[str, str] | None = None) -> list[tuple[float, float]]:
        key = (namespace, name, _dims_key([{"Name": k, "Value": v} for k, v in (dims or {}).items()]))
        s = self.series.get(key)
        return list(s.points) if s else []

    # -- API ---------------------------------------------------------------------
    def put_metric_data(self, p: dict, call) -> dict:
        for m in p["MetricData"]:
            at = m.get("Timestamp")
            values = m.get("Values") or ([m["Value"]] if "Value" in m else [])
            for v in values:
                self.record(p["Namespace"], m["MetricName"], v,
                            {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}, m.get("Unit", "None"), at)
        return {}

    def list_metrics(self, p: dict, call) -> dict:
        out = []
        for key in sorted(self.series):
            s = self.series[key]
            if p.get("Namespace") and s.namespace != p["Namespace"]:
                continue
            if p.get("MetricName") and s.name != p["MetricName"]:
                continue
            if p.get("Dimensions"):
                want = {(d["Name"], d.get("Value")) for d in p["Dimensions"]}
                have = dict(s.dims)
                if not all(n in have and (v is None or have[n] == v) for n, v in want):
                    continue
            out.append({"Namespace": s.namespace, "MetricName": s.name,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in s.dims]})
        return {"Metrics": out}

    def get_metric_statistics(self, p: dict, call) -> dict:
        key = (p["Namespace"], p["MetricName"], _dims_key(p.get("Dimensions")))
        s = self.series.get(key)
        period = p["Period"]
        start, end = p["StartTime"].timestamp(), p["EndTime"].timestamp()
        if end <= start:
            raise ServiceError("InvalidParameterCombination", "The parameter StartTime must be less than the parameter EndTime.")
        stats = p.get("Statistics", [])
        buckets: dict[int, list[float]] = {}
        for ts, v in (s.points if s else []):
            if start <= ts < end:
                buckets.setdefault(int((ts - start) // period), []).append(v)
        points = []
        for b in sorted(buckets):
            vals = buckets[b]
            dp = {"Timestamp": datetime.fromtimestamp(start + b * period, tz=p["StartTime"].tzinfo),
                  "Unit": s.unit if s else "None"}
            for st in stats:
                dp[st] = {"Average": sum(vals) / len(vals), "Sum": math.fsum(vals), "Minimum": min(vals),
                          "Maximum": max(vals), "SampleCount": float(len(vals))}[st]
            points.append(dp)
        return {"Label": p["MetricName"], "Datapoints": points}
