"""The state of one simulated AWS account, shared by every service backend.

Backends reach each other only through this object (S3 reads IAM, SageMaker
writes logs and the ledger), never through the client facade, so a job's work
is not a chain of API calls and costs no serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.bill import Ledger
from engine.clock import Clock
from engine.security import SecurityLog
from engine.spot import Faults, SpotMarket


@dataclass(frozen=True)
class Event:
    """One line of the timeline: what happened to which resource, in virtual seconds."""

    seconds: float
    resource: str  # ARN
    kind: str  # "status", "spot", "billing", "fault", "log", ...
    message: str
    status: str | None = None


@dataclass
class World:
    seed: int
    account: str
    region: str
    clock: Clock
    ledger: Ledger
    spot: SpotMarket
    faults: Faults
    services: dict[str, Any] = field(default_factory=dict)
    timeline: list[Event] = field(default_factory=list)
    nominal_rows: dict[str, int] = field(default_factory=dict)  # S3 URI prefix -> rows
    security: SecurityLog = field(default_factory=SecurityLog)

    def event(self, resource: str, kind: str, message: str, status: str | None = None,
              seconds: float | None = None) -> None:
        self.timeline.append(Event(self.clock.seconds if seconds is None else seconds, resource, kind, message, status))

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def nominal_for(self, uri: str) -> int | None:
        """The nominal row count declared for the longest prefix of ``uri``."""
        best = None
        for prefix, rows in self.nominal_rows.items():
            if uri.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, rows)
        return best[1] if best else None
