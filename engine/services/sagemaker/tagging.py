"""SageMaker's tagging API: AddTags, ListTags, DeleteTags on any resource by ARN.

Tags given at creation (the ``Tags`` of any ``Create*`` request) are recorded against the ARN the call
returns (``SageMaker.__getattr__`` wraps the create operations); AddTags adds or overwrites, DeleteTags
removes. A resource holds at most 50 tags. An ARN that names no existing resource of this account is
SageMaker's ``ValidationException``; a resource deleted and created again under the same name starts
with the tags of its new Create call.
"""

from __future__ import annotations

from typing import Any

from engine.errors import validation
from engine.services.sagemaker import listing

MAX_TAGS = 50


class Tagging:
    """Tags by resource ARN, for every part of the SageMaker backend."""

    def __init__(self, world, parts: list[Any]):
        self.world = world
        self._parts = parts
        self.tags: dict[str, dict[str, str]] = {}  # ARN -> {key: value}, in insertion order

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def record_created(self, req: dict, result: dict) -> None:
        """After a Create* call: the request's Tags belong to the ARN(s) it returned (replacing older ones)."""
        for key, arn in (result or {}).items():
            if key.endswith("Arn") and isinstance(arn, str) and arn.startswith("arn:"):
                self.tags[arn] = {t["Key"]: t.get("Value", "") for t in req.get("Tags") or []}

    def _exists(self, arn: str) -> bool:
        for part in self._parts:
            for value in vars(part).values():
                if isinstance(value, dict):
                    for res in value.values():
                        if getattr(res, "arn", None) == arn:
                            return True
        return False

    def _resource(self, arn: str) -> dict[str, str]:
        if not self._exists(arn):
            self.tags.pop(arn, None)
            raise validation(f"Resource {arn} not found.") if arn.startswith("arn:") else \
                validation(f"Invalid ARN: {arn}")
        return self.tags.setdefault(arn, {})

    # -- API -------------------------------------------------------------------------------------------------
    def add_tags(self, req: dict, call) -> dict:
        tags = self._resource(req["ResourceArn"])
        new = {t["Key"]: t.get("Value", "") for t in req["Tags"]}
        if len({**tags, **new}) > MAX_TAGS:
            raise validation(f"You can't have more than {MAX_TAGS} tags on a resource.")
        tags.update(new)
        return {"Tags": [{"Key": k, "Value": v} for k, v in new.items()]}

    def list_tags(self, req: dict, call) -> dict:
        tags = self._resource(req["ResourceArn"])
        items, more = listing.page([{"Key": k, "Value": v} for k, v in tags.items()], req, default=50)
        return {"Tags": items, **more}

    def delete_tags(self, req: dict, call) -> dict:
        tags = self._resource(req["ResourceArn"])
        for key in req["TagKeys"]:
            tags.pop(key, None)
        return {}
