"""STS: who am I, and assuming roles (the caller becomes the role's session)."""

from __future__ import annotations

import hashlib

from engine.errors import ServiceError
from engine.services.iam import policy


class STS:
    def __init__(self, world):
        self.world = world
        #: access key id -> the session's principal ARN (the HTTP front picks the caller by access key)
        self.sessions: dict[str, str] = {}

    def get_caller_identity(self, p: dict, call) -> dict:
        arn = call.principal
        uid = hashlib.sha256(arn.encode()).hexdigest()[:20].upper()
        return {"UserId": "AIDA" + uid, "Account": self.world.account, "Arn": arn}

    def assume_role(self, p: dict, call) -> dict:
        iam = self.world.services["iam"]
        role = iam.role_by_arn(p["RoleArn"])
        if role is None or not policy.trusts_principal(role.trust, call.principal, self.world.account):
            raise ServiceError("AccessDenied", f"User: {call.principal} is not authorized to perform: sts:AssumeRole "
                                              f"on resource: {p['RoleArn']}", 403)
        now = self.world.clock.now
        from datetime import timedelta

        session = p["RoleSessionName"]
        key = "ASIA" + hashlib.sha256(f"{role.arn}/{session}".encode()).hexdigest()[:16].upper()
        self.sessions[key] = iam.session_arn(role.arn, session)
        return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": "sagetutor-simulated-secret",
                                "SessionToken": "sagetutor-session-" + key,
                                "Expiration": now + timedelta(seconds=p.get("DurationSeconds", 3600))},
                "AssumedRoleUser": {"AssumedRoleId": f"AROA{key[4:]}:{session}",
                                    "Arn": iam.session_arn(role.arn, session)}}
