"""CloudWatch Logs: log groups, streams and events stamped in virtual time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.errors import ServiceError


def _ms(dt) -> int:
    return int(dt.timestamp() * 1000)


@dataclass
class Stream:
    name: str
    created: int
    events: list[tuple[int, int, str]] = field(default_factory=list)  # (timestamp ms, ingestion ms, message)


@dataclass
class Group:
    name: str
    created: int
    streams: dict[str, Stream] = field(default_factory=dict)
    retention: int | None = None


class Logs:
    def __init__(self, account: str, clock):
        self.account = account
        self._clock = clock
        self.groups: dict[str, Group] = {}

    def arn(self, group: str) -> str:
        return f"arn:aws:logs:us-east-1:{self.account}:log-group:{group}"

    # -- engine-side ---------------------------------------------------------
    def write(self, group: str, stream: str, message: str, at_seconds: float | None = None) -> None:
        """Append a line as a service would (creating the group and stream as AWS services do)."""
        now = _ms(self._clock.now)
        ts = now if at_seconds is None else _ms(self._clock.at(at_seconds))
        self._stream(group, stream, now).events.append((ts, now, message))

    def write_many(self, group: str, stream: str, lines: list[tuple[datetime, str]]) -> None:
        """``write`` of each ``(when, message)`` in order, at the virtual instant ``when`` (a job's log of many
        epochs at once)."""
        if lines:
            now = _ms(self._clock.now)
            self._stream(group, stream, now).events.extend((_ms(when), now, message) for when, message in lines)

    def _stream(self, group: str, stream: str, now: int) -> Stream:
        g = self.groups.get(group)
        if g is None:
            g = self.groups[group] = Group(group, now)
        s = g.streams.get(stream)
        if s is None:
            s = g.streams[stream] = Stream(stream, now)
        return s

    def lines(self, group: str, stream_prefix: str = "") -> list[str]:
        g = self.groups.get(group)
        if g is None:
            return []
        out = []
        for name in sorted(g.streams):
            if name.startswith(stream_prefix):
                out += [m for _, _, m in g.streams[name].events]
        return out

    # -- API -------------------------------------------------------------------
    def _group(self, name: str) -> Group:
        g = self.groups.get(name)
        if g is None:
            raise ServiceError("ResourceNotFoundException", "The specified log group does not exist.")
        return g

    def create_log_group(self, p: dict, call) -> dict:
        name = p["logGroupName"]
        if name in self.groups:
            raise ServiceError("ResourceAlreadyExistsException", "The specified log group already exists")
        self.groups[name] = Group(name, _ms(self._clock.now))
        return {}

    def delete_log_group(self, p: dict, call) -> dict:
        self._group(p["logGroupName"])
        del self.groups[p["logGroupName"]]
        return {}

    def put_retention_policy(self, p: dict, call) -> dict:
        self._group(p["logGroupName"]).retention = p["retentionInDays"]
        return {}

    def create_log_stream(self, p: dict, call) -> dict:
        g = self._group(p["logGroupName"])
        if p["logStreamName"] in g.streams:
            raise ServiceError("ResourceAlreadyExistsException", "The specified log stream already exists")
        g.streams[p["logStreamName"]] = Stream(p["logStreamName"], _ms(self._clock.now))
        return {}

    def put_log_events(self, p: dict, call) -> dict:
        g = self._group(p["logGroupName"])
        s = g.streams.get(p["logStreamName"])
        if s is None:
            raise ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")
        now = _ms(self._clock.now)
        for e in p["logEvents"]:
            s.events.append((e["timestamp"], now, e["message"]))
        return {"nextSequenceToken": f"{len(s.events):056d}"}

    def describe_log_groups(self, p: dict, call) -> dict:
        prefix = p.get("logGroupNamePrefix", "")
        groups = []
        for name in sorted(self.groups):
            if name.startswith(prefix):
                g = self.groups[name]
                stored = sum(len(m) for s in g.streams.values() for _, _, m in s.events)
                item = {"logGroupName": name, "creationTime": g.created, "arn": self.arn(name) + ":*",
                        "storedBytes": stored, "metricFilterCount": 0}
                if g.retention:
                    item["retentionInDays"] = g.retention
                groups.append(item)
        return {"logGroups": groups}

    def describe_log_streams(self, p: dict, call) -> dict:
        g = self._group(p["logGroupName"])
        prefix = p.get("logStreamNamePrefix", "")
        names = [n for n in sorted(g.streams) if n.startswith(prefix)]
        if p.get("orderBy") == "LastEventTime":
            names.sort(key=lambda n: g.streams[n].events[-1][0] if g.streams[n].events else 0)
        if p.get("descending"):
            names.reverse()
        limit = p.get("limit", 50)
        start = int(p.get("nextToken", 0) or 0)
        page = names[start:start + limit]
        streams = []
        for n in page:
            s = g.streams[n]
            item = {"logStreamName": n, "creationTime": s.created,
                    "arn": f"{self.arn(g.name)}:log-stream:{n}", "storedBytes": 0}
            if s.events:
                item.update(firstEventTimestamp=s.events[0][0], lastEventTimestamp=s.events[-1][0],
                            lastIngestionTime=s.events[-1][1])
            streams.append(item)
        out = {"logStreams": streams}
        if start + limit < len(names):
            out["nextToken"] = str(start + limit)
        return out

    def get_log_events(self, p: dict, call) -> dict:
        g = self._group(p["logGroupName"])
        s = g.streams.get(p["logStreamName"])
        if s is None:
            raise ServiceError("ResourceNotFoundException", "The specified log stream does not exist.")
        events = [e for e in s.events
                  if ("startTime" not in p or e[0] >= p["startTime"]) and ("endTime" not in p or e[0] < p["endTime"])]
        token = p.get("nextToken")
        start = int(token[2:]) if token else (0 if p.get("startFromHead", False) or "limit" not in p else None)
        limit = p.get("limit", 10000)
        if start is None:
            start = max(0, len(events) - limit)
        page = events[start:start + limit]
        end = start + len(page)
        return {"events": [{"timestamp": t, "message": m, "ingestionTime": i} for t, i, m in page],
                "nextForwardToken": f"f/{end}", "nextBackwardToken": f"b/{start}"}

    def filter_log_events(self, p: dict, call) -> dict:
        g = self._group(p["logGroupName"])
        pattern = p.get("filterPattern", "")
        terms = [t.strip('"') for t in pattern.split()] if pattern else []
        names = p.get("logStreamNames") or [n for n in sorted(g.streams)
                                            if n.startswith(p.get("logStreamNamePrefix", ""))]
        out = []
        for n in names:
            s = g.streams.get(n)
            if s is None:
                continue
            for i, (t, ing, m) in enumerate(s.events):
                if "startTime" in p and t < p["startTime"]:
                    continue
                if "endTime" in p and t > p["endTime"]:
                    continue
                if all(term in m for term in terms):
                    out.append({"logStreamName": n, "timestamp": t, "message": m, "ingestionTime": ing,
                                "eventId": f"{t}{i:010d}"})
        out.sort(key=lambda e: (e["timestamp"], e["logStreamName"]))
        limit = p.get("limit", 10000)
        return {"events": out[:limit], "searchedLogStreams": [{"logStreamName": n, "searchedCompletely": True}
                                                              for n in names]}
