"""The Spot market and injected faults.

Each instance type has a seeded market: the Spot discount (what billable time is
reduced by, as AWS reports it), an interruption hazard per hour, and how long it
takes to get capacity back after a reclaim. Draws use numpy Generators keyed by
(seed, instance type, job, attempt), so they never depend on call order between
jobs. Faults a scenario injects override the market deterministically.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

# Hourly interruption hazard by family prefix (GPU capacity is scarcer).
_HAZARD = {"p": 0.20, "g": 0.12, "trn": 0.15, "inf": 0.10}
_DEFAULT_HAZARD = 0.04


def _key(*parts: object) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


@dataclass(frozen=True)
class Market:
    instance_type: str
    discount: float  # fraction of the on-demand price saved, 0.55-0.90
    hazard_per_hour: float
    reacquire_seconds: tuple[float, float]  # range of delays to get capacity back


@dataclass
class Faults:
    """What a scenario injects. Public as ``eng.faults``."""

    _spot_interrupts: dict[str, list[float]] = field(default_factory=dict)
    _capacity: dict[str, bool] = field(default_factory=dict)
    _listeners: list = field(default_factory=list)
    natural_interruptions: bool = True

    def natural_spot_interruptions(self, enabled: bool) -> None:
        """Turn the seeded market's own reclaims on or off (injected ones always happen)."""
        self.natural_interruptions = enabled

    def interrupt_spot(self, TrainingJobName: str, after_seconds: float) -> None:  # noqa: N803 (boto3 casing)
        """Reclaim the job's Spot capacity once it has spent ``after_seconds`` in the Training status.

        The count is cumulative over the job's attempts, so the reclaim always lands
        mid-training. Several calls queue several reclaims. On an on-demand job it
        has no effect (the timeline says so).
        """
        if after_seconds <= 0:
            raise ValueError(f"after_seconds must be positive, got {after_seconds}")
        self._spot_interrupts.setdefault(TrainingJobName, []).append(float(after_seconds))
        self._spot_interrupts[TrainingJobName].sort()
        for listener in self._listeners:
            listener(TrainingJobName)

    def spot_capacity(self, instance_type: str, available: bool) -> None:
        """Make Spot capacity for ``instance_type`` unavailable (or available again)."""
        self._capacity[instance_type] = available
        for listener in self._listeners:
            listener(None)

    def capacity_available(self, instance_type: str) -> bool:
        return self._capacity.get(instance_type, True)

    def pending_interrupts(self, job_name: str) -> list[float]:
        return list(self._spot_interrupts.get(job_name, []))

    def consume_interrupt(self, job_name: str, at: float) -> None:
        lst = self._spot_interrupts.get(job_name, [])
        if at in lst:
            lst.remove(at)


class SpotMarket:
    def __init__(self, seed: int):
        self.seed = seed

    def market(self, instance_type: str) -> Market:
        rng = np.random.default_rng(_key(self.seed, "market", instance_type))
        family = instance_type.split(".")[1] if "." in instance_type else instance_type
        hazard = _DEFAULT_HAZARD
        for prefix, h in _HAZARD.items():
            if family.startswith(prefix):
                hazard = h
        discount = round(float(rng.uniform(0.55, 0.90)), 3)
        return Market(instance_type, discount, hazard, (120.0, 600.0))

    def draw(self, instance_type: str, job: str, attempt: int, what: str) -> float:
        """A uniform draw in [0, 1) for one decision of one attempt of one job."""
        rng = np.random.default_rng(_key(self.seed, instance_type, job, attempt, what))
        return float(rng.random())

    def seconds_to_reclaim(self, instance_type: str, job: str, attempt: int) -> float:
        """Running seconds until the market reclaims this attempt's capacity (exponential)."""
        m = self.market(instance_type)
        u = self.draw(instance_type, job, attempt, "reclaim")
        return float(-np.log1p(-u) / m.hazard_per_hour * 3600.0)

    def reacquire_delay(self, instance_type: str, job: str, attempt: int) -> float:
        lo, hi = self.market(instance_type).reacquire_seconds
        return float(round(lo + (hi - lo) * self.draw(instance_type, job, attempt, "reacquire")))
