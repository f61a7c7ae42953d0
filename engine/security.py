"""The security facts of a run: who asked for what, which path data took, what was encrypted with which key.

Services append to one ``SecurityLog`` per engine (``World.security``) as they
decide and move things; ``Engine.security()`` hands out a read-only snapshot.
These are the facts pack requirements check ("no public path", "customer
managed key", "the role cannot read bucket X"), so every record says *why* in
a plain sentence as well as *what*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The network paths a transfer can take (docs/security.md).
PUBLIC_INTERNET = "public-internet"  # SageMaker's own network with internet access, an internet gateway
NAT = "nat"  # a private subnet's NAT gateway (still the public internet beyond it)
VPC_ENDPOINT = "vpc-endpoint"  # a gateway endpoint (S3) or an interface endpoint (PrivateLink)
NONE = "none"  # no route (or network isolation): the transfer did not happen
PATHS = (PUBLIC_INTERNET, NAT, VPC_ENDPOINT, NONE)


@dataclass(frozen=True)
class AccessRecord:
    """One authorisation decision: a caller's API call or a service acting with a role."""

    seconds: float
    principal: str  # ARN of the identity (an assumed-role session for job roles)
    action: str  # e.g. "s3:GetObject"
    resource: str  # ARN, or "*"
    allowed: bool
    reason: str  # "allowed", "no identity-based policy allows", "an explicit deny in a resource-based policy", ...
    on_behalf_of: str | None = None  # the job/endpoint ARN when SageMaker acts with its role; None for API callers

    @property
    def denied(self) -> bool:
        return not self.allowed


@dataclass(frozen=True)
class Transfer:
    """Data that moved (or tried to) between a resource and a service, and the path it took."""

    seconds: float
    resource: str  # who sent or fetched: a job, endpoint or notebook ARN, or a caller's principal ARN
    service: str  # the other end: "s3", "sagemaker.runtime", "internet", ...
    purpose: str  # "input data", "model artifact", "output", "checkpoint", "invoke", "outbound call", ...
    path: str  # one of PATHS
    via: str | None = None  # the NAT gateway, VPC endpoint or internet gateway id
    bytes: int = 0
    reason: str = ""  # why this path (or why no path)

    @property
    def public(self) -> bool:
        return self.path in (PUBLIC_INTERNET, NAT)


@dataclass(frozen=True)
class Encryption:
    """How one stored thing is encrypted at rest."""

    resource: str  # s3 object ARN, or "<job ARN>/volume", "<endpoint ARN>/volume", ...
    kind: str  # "s3-object", "ml-volume", "notebook-volume", "endpoint-volume"
    scheme: str  # "SSE-S3", "SSE-KMS", "KMS" (volumes), "none"
    key_arn: str | None = None
    customer_managed: bool = False


@dataclass
class SecurityLog:
    """Append-only; a resource's encryption record is replaced when it is written again."""

    access: list[AccessRecord] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    encryption: dict[str, Encryption] = field(default_factory=dict)

    def record_access(self, record: AccessRecord) -> None:
        self.access.append(record)

    def record_transfer(self, transfer: Transfer) -> None:
        self.transfers.append(transfer)

    def record_encryption(self, enc: Encryption) -> None:
        self.encryption[enc.resource] = enc

    def snapshot(self) -> SecurityFacts:
        return SecurityFacts(tuple(self.access), tuple(self.transfers),
                             tuple(v for _, v in sorted(self.encryption.items())))


@dataclass(frozen=True)
class SecurityFacts:
    """What ``Engine.security()`` returns: every decision, transfer and encryption record so far."""

    access: tuple[AccessRecord, ...]
    transfers: tuple[Transfer, ...]
    encryption: tuple[Encryption, ...]

    @property
    def denials(self) -> tuple[AccessRecord, ...]:
        return tuple(a for a in self.access if not a.allowed)

    def transfers_of(self, arn_suffix: str) -> tuple[Transfer, ...]:
        """Transfers by a resource whose ARN ends with ``arn_suffix`` (e.g. ``"training-job/my-job"``)."""
        return tuple(t for t in self.transfers if t.resource.endswith(arn_suffix))

    def encryption_of(self, arn_part: str) -> tuple[Encryption, ...]:
        return tuple(e for e in self.encryption if arn_part in e.resource)
