"""Simulated client traffic against an endpoint, in virtual time.

``eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=120, minutes=60)``
sends, every virtual minute, ``per_minute`` requests of one CSV row each, drawn
(seeded) from the dataset's test split (label column dropped), through the same
path as InvokeEndpoint: real predictions, latency and CloudWatch metrics, data
capture, and whatever scales on them. ``per_minute`` may be a list, one rate per
minute (a daily pattern, a ramp, a spike). ``drift`` changes the rows before they
are sent, so Model Monitor has something to find:

* ``{"shift": 3.0}`` adds 3 standard deviations (of the baseline column) to every feature;
* ``{"shift": 3.0, "features": [0, 4]}`` only to those feature columns (0-based, label excluded);
* ``{"scale": 2.0}`` multiplies the features; ``{"missing": 0.2}`` blanks 20% of the values.

It returns a ``TrafficRun`` whose ``sent``, ``answered`` and ``errors`` count up as
the minutes pass (the run is a SimPy process: advance the clock to let it play).

A minute's requests are spread evenly over the minute (request ``i`` of ``n`` at
``i x 60 / n`` seconds) and answered together at the minute's start, with one
prediction call per variant for all the minute's rows (``Hosting.invoke_many``);
each request is still counted, timed, metered and passed to the invocation hooks
on its own, with its own timestamp. 100,000 requests take a few seconds of wall time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ServiceError


@dataclass
class TrafficRun:
    endpoint: str
    minutes: int
    sent: int = 0
    answered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    done: bool = False


def _rows(world, dataset: str) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Feature rows of a dataset's test split, each column's standard deviation, and the split's
    identity (its objects' keys and ETags)."""
    s3 = world.services["s3"]
    keys = s3.list_keys("sagetutor-datasets", f"{dataset}/test/")
    if not keys:
        raise ValueError(f"no test split for dataset {dataset!r} in sagetutor-datasets")
    objects = [s3.get("sagetutor-datasets", k) for k in keys]
    ident = tuple((k, o.etag) for k, o in zip(keys, objects, strict=True))
    hit = _PARSED.get(ident)
    if hit is None:
        text = b"".join(o.data for o in objects).decode()
        x = np.array([[float(v) for v in line.split(",")[1:]] for line in text.splitlines() if line.strip()])
        hit = _remember(_PARSED, ident, (x, x.std(axis=0)))
    return hit[0], hit[1], ident


# Parsed test splits and formatted request bodies, shared by every engine of the process: a quiz
# question plays the same traffic on a fresh engine for each option, and formatting every value of
# a split costs more than the minute-by-minute play itself. Both are read-only once built.
_PARSED: dict = {}
_BODIES: dict = {}
_KEEP = 16


_memo_lock = threading.Lock()


def _remember(memo: dict, key, value):
    with _memo_lock:
        while len(memo) >= _KEEP:
            memo.pop(next(iter(memo)))
        memo[key] = value
    return value


def drifted(x: np.ndarray, std: np.ndarray, drift: dict | None, rng: np.random.Generator) -> np.ndarray:
    if not drift:
        return x
    x = x.copy()
    cols = drift.get("features", list(range(x.shape[1])))
    for c in cols:
        if "shift" in drift:
            x[:, c] += float(drift["shift"]) * (std[c] or 1.0)
        if "scale" in drift:
            x[:, c] *= float(drift["scale"])
    if "missing" in drift:
        x[rng.random(x.shape) < float(drift["missing"])] = np.nan
    return x


def _csv(row: np.ndarray) -> bytes:
    return ",".join("" if np.isnan(v) else repr(float(v)) for v in row).encode()


class _Bodies:
    """Request bodies for picked rows: each distinct row is formatted once, blanks drawn per request."""

    def __init__(self, x: np.ndarray, std: np.ndarray, drift: dict | None):
        fixed = {k: v for k, v in (drift or {}).items() if k != "missing"}  # shift and scale: per row, no draw
        base = drifted(x, std, fixed or None, np.random.default_rng(0))
        self.tokens = [["" if np.isnan(v) else repr(v) for v in row] for row in base.tolist()]
        self.lines = [",".join(t).encode() for t in self.tokens]
        self.missing = float((drift or {}).get("missing", 0.0))

    def make(self, picks: np.ndarray, rng: np.random.Generator) -> list[bytes]:
        if not self.missing:
            return [self.lines[i] for i in picks.tolist()]
        blank = rng.random((len(picks), len(self.tokens[0]))) < self.missing
        out = []
        for i, mask in zip(picks.tolist(), blank.tolist(), strict=True):
            out.append(",".join("" if m else t for t, m in zip(self.tokens[i], mask, strict=True)).encode())
        return out


def start(world, endpoint: str, dataset: str, per_minute, minutes: int, drift: dict | None,
          content_type: str = "text/csv") -> TrafficRun:
    rates = list(per_minute) if isinstance(per_minute, list | tuple) else [int(per_minute)] * minutes
    if not rates:
        raise ValueError("per_minute must be a rate or a non-empty list of rates")
    if len(rates) < minutes:
        rates += [rates[-1]] * (minutes - len(rates))
    x, std, ident = _rows(world, dataset)
    fixed = tuple(sorted((k, repr(v)) for k, v in (drift or {}).items()))
    bodies = _BODIES.get((ident, fixed))
    if bodies is None:
        bodies = _remember(_BODIES, (ident, fixed), _Bodies(x, std, drift))
    rng = np.random.default_rng([world.seed, len(world.timeline), minutes])
    run = TrafficRun(endpoint, minutes)
    hosting = world.services["sagemaker"].hosting

    def play():
        for minute in range(minutes):
            n = int(rates[minute])
            if n > 0:
                picks = rng.integers(0, len(x), n)
                times = world.clock.seconds + (60.0 / n) * np.arange(n)
                run.sent += n
                try:
                    result = hosting.invoke_many(endpoint, bodies.make(picks, rng), times, content_type, "text/csv")
                except ServiceError as e:  # the whole minute was refused
                    run.errors[e.code] = run.errors.get(e.code, 0) + n
                else:
                    run.answered += result.answered
                    run.latencies_ms.extend(result.latencies_ms)
                    for code, count in result.errors.items():
                        run.errors[code] = run.errors.get(code, 0) + count
            yield world.clock.env.timeout(60.0)
        run.done = True

    world.clock.start(play())
    world.event(world.arn("sagemaker", f"endpoint/{endpoint.lower()}"), "traffic",
                f"Traffic: {sum(rates[:minutes])} requests over {minutes} min"
                + (f" with drift {drift}" if drift else ""))
    return run
