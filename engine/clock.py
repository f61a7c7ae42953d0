"""The virtual clock: a SimPy environment whose zero is a fixed instant.

Every timestamp the engine reports comes from here, never from the wall clock, so
the same seed and the same calls give byte-identical results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import simpy

#: The instant at which every engine's clock starts (a Monday morning, UTC).
EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


@dataclass
class Clock:
    """SimPy environment plus the bookkeeping of what is "in progress".

    ``run_until_idle`` must stop while resources that merely stand (an InService
    endpoint, a running notebook) keep existing, so standing resources are never
    SimPy processes: they are billed by meters. Only work that will finish by
    itself (a job, a transition) holds a ``busy`` token.
    """

    env: simpy.Environment = field(default_factory=simpy.Environment)
    busy: int = 0

    @property
    def seconds(self) -> float:
        return float(self.env.now)

    @property
    def now(self) -> datetime:
        return self.at(self.env.now)

    @staticmethod
    def at(seconds: float) -> datetime:
        # Millisecond resolution, as AWS reports timestamps.
        return EPOCH + timedelta(milliseconds=round(seconds * 1000))

    def advance(self, seconds: float) -> None:
        """Run the simulation for ``seconds`` of virtual time."""
        if seconds < 0:
            raise ValueError(f"cannot advance the clock by a negative amount ({seconds} s)")
        self.env.run(until=self.env.now + seconds)

    def run_until(self, predicate, limit_seconds: float) -> bool:
        """Step the simulation until ``predicate()`` holds or ``limit_seconds`` pass.

        Returns whether the predicate held. The clock never jumps past the limit.
        """
        deadline = self.env.now + limit_seconds
        while not predicate():
            nxt = self.env.peek()
            if nxt > deadline:
                if deadline > self.env.now:  # SimPy refuses run(until=now)
                    self.env.run(until=deadline)
                return predicate()
            self.env.step()
        return True

    def run_until_idle(self, limit_seconds: float = 60 * 86400) -> None:
        """Run until no job or transition is in progress (or the limit passes)."""
        self.run_until(lambda: self.busy == 0, limit_seconds)

    def start(self, generator) -> simpy.Process:
        """Start a process that counts as in-progress work until it ends."""
        self.busy += 1

        def wrapper():
            try:
                result = yield from generator
                return result
            finally:
                self.busy -= 1

        return self.env.process(wrapper())
