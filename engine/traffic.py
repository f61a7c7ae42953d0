"""Simulated client traffic against an endpoint, in virtual time.

``eng.traffic(EndpointName="ep", dataset="breast-cancer", per_minute=120, minutes=60)``
sends, every virtual minute, ``per_minute`` requests of one CSV row each, drawn
(seeded) from the dataset's test split (label column dropped), through the same
path as InvokeEndpoint: real predictions, latency and CloudWatch metrics, data
capture, and whatever scales on them. ``per_minute`` may be a list, one rate per
minute (a daily pattern, a spike). ``drift`` changes the rows before they are
sent, so Model Monitor has something to find:

* ``{"shift": 3.0}`` adds 3 standard deviations (of the baseline column) to every feature;
* ``{"shift": 3.0, "features": [0, 4]}`` only to those feature columns (0-based, label excluded);
* ``{"scale": 2.0}`` multiplies the features; ``{"missing": 0.2}`` blanks 20% of the values.

It returns a ``TrafficRun`` whose ``sent``, ``answered`` and ``errors`` count up as
the minutes pass (the run is a SimPy process: advance the clock to let it play).
"""

from __future__ import annotations

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


def _rows(world, dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of a dataset's test split, and each column's standard deviation."""
    s3 = world.services["s3"]
    keys = s3.list_keys("sagetutor-datasets", f"{dataset}/test/")
    if not keys:
        raise ValueError(f"no test split for dataset {dataset!r} in sagetutor-datasets")
    text = b"".join(s3.get("sagetutor-datasets", k).data for k in keys).decode()
    x = np.array([[float(v) for v in line.split(",")[1:]] for line in text.splitlines() if line.strip()])
    return x, x.std(axis=0)


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


def start(world, endpoint: str, dataset: str, per_minute, minutes: int, drift: dict | None,
          content_type: str = "text/csv") -> TrafficRun:
    rates = list(per_minute) if isinstance(per_minute, list | tuple) else [int(per_minute)] * minutes
    if len(rates) < minutes:
        rates += [rates[-1]] * (minutes - len(rates))
    x, std = _rows(world, dataset, world.seed)
    rng = np.random.default_rng([world.seed, len(world.timeline), minutes])
    run = TrafficRun(endpoint, minutes)
    hosting = world.services["sagemaker"].hosting

    def play():
        for minute in range(minutes):
            n = int(rates[minute])
            if n > 0:
                picks = drifted(x[rng.integers(0, len(x), n)], std, drift, rng)
                gap = 60.0 / n
                for i, row in enumerate(picks):
                    if i:
                        yield world.clock.env.timeout(gap)
                    run.sent += 1
                    try:
                        out = hosting.invoke({"EndpointName": endpoint, "Body": _csv(row),
                                              "ContentType": content_type, "Accept": "text/csv"})
                    except ServiceError as e:
                        run.errors[e.code] = run.errors.get(e.code, 0) + 1
                        continue
                    run.answered += 1
                    run.latencies_ms.append(out["LatencyMs"])
                yield world.clock.env.timeout(60.0 - gap * (n - 1))
            else:
                yield world.clock.env.timeout(60.0)
        run.done = True

    world.clock.start(play())
    world.event(world.arn("sagemaker", f"endpoint/{endpoint.lower()}"), "traffic",
                f"Traffic: {sum(rates[:minutes])} requests over {minutes} min"
                + (f" with drift {drift}" if drift else ""))
    return run
