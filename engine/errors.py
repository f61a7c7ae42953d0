"""Errors a simulated service raises; the client facade turns them into AWS's wire errors.

A backend raises ``ServiceError`` with AWS's code, message and HTTP status. The
facade hands that to botocore as a parsed error response, so callers catch the
very ``botocore.exceptions.ClientError`` (or modeled subclass) boto3 would raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ServiceError(Exception):
    code: str
    message: str
    status: int = 400
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validation(message: str) -> ServiceError:
    """SageMaker's catch-all client error (also used for unknown resources)."""
    return ServiceError("ValidationException", message)


def not_found() -> ServiceError:
    """What SageMaker answers for a Describe of a resource that does not exist."""
    return validation("Requested resource not found.")


def resource_in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message)


def resource_limit(message: str) -> ServiceError:
    return ServiceError("ResourceLimitExceeded", message)


def access_denied(principal: str, action: str, resource: str, reason: str = "no identity-based policy allows") -> ServiceError:
    return ServiceError(
        "AccessDeniedException",
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} because {reason} the {action} action",
    )
