"""The IAM backend: roles, users, inline and managed policies, and the authorisation helper.

Services ask ``authorize(principal_arn, action, resource)`` before touching S3,
ECR or logs on behalf of a job's execution role, so a role without access fails
the job the way AWS fails it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from engine.errors import ServiceError
from engine.services.iam import policy
from engine.services.iam.managed import AWS_MANAGED, EXECUTION_ROLE_ACCESS, SAGEMAKER_TRUST

ADMIN_USER = "admin"


def _encode(doc: dict) -> str:
    """IAM returns policy documents URL-encoded; botocore decodes them for the caller."""
    return quote(json.dumps(doc, separators=(",", ":")), safe="")


def _decode(text: str | dict) -> dict:
    if isinstance(text, dict):
        return text
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ServiceError("MalformedPolicyDocument", f"This policy contains invalid Json: {e.msg}") from None
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise ServiceError("MalformedPolicyDocument", "Syntax errors in policy.")
    return doc


def _unique_id(prefix: str, name: str) -> str:
    h = hashlib.sha256(name.encode()).hexdigest().upper()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(alphabet[int(h[i:i + 2], 16) % 32] for i in range(0, 34, 2))


@dataclass
class Role:
    name: str
    arn: str
    path: str
    trust: dict
    created: Any
    description: str = ""
    inline: dict[str, dict] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)  # policy ARNs
    max_session: int = 3600


@dataclass
class User:
    name: str
    arn: str
    created: Any
    inline: dict[str, dict] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)


@dataclass
class ManagedPolicy:
    name: str
    arn: str
    document: dict
    created: Any
    path: str = "/"
    description: str = ""


class IAM:
    def __init__(self, account: str, clock):
        self.account = account
        self._clock = clock
        self.roles: dict[str, Role] = {}
        self.users: dict[str, User] = {}
        self.policies: dict[str, ManagedPolicy] = {}
        self.access_keys: dict[str, str] = {}  # access key id -> user name (CreateAccessKey)
        for name, doc in AWS_MANAGED.items():
            arn = f"arn:aws:iam::aws:policy/{name}"
            self.policies[arn] = ManagedPolicy(name, arn, doc, clock.now)
        self.users[ADMIN_USER] = User(ADMIN_USER, self.user_arn(ADMIN_USER), clock.now,
                                      attached=["arn:aws:iam::aws:policy/AdministratorAccess"])
        role = self._make_role("SageMakerExecutionRole", SAGEMAKER_TRUST, "/",
                               "The default execution role: SageMaker may assume it; it reads and writes S3.")
        role.attached.append("arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
        role.inline["SageTutorDataAccess"] = EXECUTION_ROLE_ACCESS

    # -- identities -------------------------------------------------------
    def user_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{name}"

    @property
    def admin_arn(self) -> str:
        return self.user_arn(ADMIN_USER)

    def role_by_arn(self, arn: str) -> Role | None:
        name = arn.rsplit("/", 1)[-1]
        role = self.roles.get(name)
        return role if role is not None and role.arn == arn else None

    def _identity(self, principal: str) -> Role | User | None:
        if ":role/" in principal:
            return self.role_by_arn(principal)
        if ":assumed-role/" in principal:
            name = principal.split(":assumed-role/", 1)[1].split("/")[0]
            return self.roles.get(name)
        if ":user/" in principal:
            return self.users.get(principal.rsplit("/", 1)[-1])
        return None

    def identity_policies(self, principal: str) -> list[dict]:
        ident = self._identity(principal)
        if ident is None:
            return []
        docs = list(ident.inline.values())
        docs += [self.policies[a].document for a in ident.attached if a in self.policies]
        return docs

    def authorize(self, principal: str, action: str, resource: str, *, resource_policies: list[dict] | None = None,
                  context: dict | None = None) -> policy.Decision:
        return self.authorizer(principal, action, resource_policies=resource_policies, context=context)(resource)

    def authorizer(self, principal: str, action: str, *, resource_policies: list[dict] | None = None,
                   context: dict | None = None) -> Callable[[str], policy.Decision]:
        """``authorize`` for many resources at once (see ``policy.evaluator``)."""
        return policy.evaluator(action, identity_policies=self.identity_policies(principal),
                                resource_policies=resource_policies or [], principal=principal, context=context)

    def session_arn(self, role_arn: str, session: str = "SageMaker") -> str:
        """The assumed-role ARN a job's requests carry (what AccessDenied messages name)."""
        name = role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{name}/{session}"

    def can_assume(self, role_arn: str, service: str = "sagemaker.amazonaws.com") -> bool:
        role = self.role_by_arn(role_arn)
        return role is not None and policy.trusts(role.trust, service)

    # -- roles --------------------------------------------------------------
    def _make_role(self, name: str, trust: dict, path: str, description: str = "") -> Role:
        arn = f"arn:aws:iam::{self.account}:role{path}{name}"
        role = Role(name, arn, path, trust, self._clock.now, description)
        self.roles[name] = role
        return role

    def _role(self, name: str) -> Role:
        role = self.roles.get(name)
        if role is None:
            raise ServiceError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
        return role

    def _role_view(self, r: Role) -> dict:
        return {"Path": r.path, "RoleName": r.name, "RoleId": _unique_id("AROA", r.arn), "Arn": r.arn,
                "CreateDate": r.created, "AssumeRolePolicyDocument": _encode(r.trust),
                "Description": r.description, "MaxSessionDuration": r.max_session}

    def create_role(self, p: dict, call) -> dict:
        name = p["RoleName"]
        if name in self.roles:
            raise ServiceError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
        role = self._make_role(name, _decode(p["AssumeRolePolicyDocument"]), p.get("Path", "/"), p.get("Description", ""))
        return {"Role": self._role_view(role)}

    def get_role(self, p: dict, call) -> dict:
        return {"Role": self._role_view(self._role(p["RoleName"]))}

    def list_roles(self, p: dict, call) -> dict:
        return {"Roles": [self._role_view(r) for _, r in sorted(self.roles.items())], "IsTruncated": False}

    def delete_role(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        if role.inline or role.attached:
            raise ServiceError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        del self.roles[role.name]
        return {}

    def update_assume_role_policy(self, p: dict, call) -> dict:
        self._role(p["RoleName"]).trust = _decode(p["PolicyDocument"])
        return {}

    def put_role_policy(self, p: dict, call) -> dict:
        self._role(p["RoleName"]).inline[p["PolicyName"]] = _decode(p["PolicyDocument"])
        return {}

    def get_role_policy(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        doc = role.inline.get(p["PolicyName"])
        if doc is None:
            raise ServiceError("NoSuchEntity",
                               f"The role policy with name {p['PolicyName']} cannot be found.", 404)
        return {"RoleName": role.name, "PolicyName": p["PolicyName"], "PolicyDocument": _encode(doc)}

    def delete_role_policy(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        if role.inline.pop(p["PolicyName"], None) is None:
            raise ServiceError("NoSuchEntity",
                               f"The role policy with name {p['PolicyName']} cannot be found.", 404)
        return {}

    def list_role_policies(self, p: dict, call) -> dict:
        return {"PolicyNames": sorted(self._role(p["RoleName"]).inline), "IsTruncated": False}

    def attach_role_policy(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        if p["PolicyArn"] not in self.policies:
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} does not exist or is not attachable.", 404)
        if p["PolicyArn"] not in role.attached:
            role.attached.append(p["PolicyArn"])
        return {}

    def detach_role_policy(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        if p["PolicyArn"] not in role.attached:
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} was not found.", 404)
        role.attached.remove(p["PolicyArn"])
        return {}

    def list_attached_role_policies(self, p: dict, call) -> dict:
        role = self._role(p["RoleName"])
        return {"AttachedPolicies": [{"PolicyName": self.policies[a].name, "PolicyArn": a} for a in role.attached],
                "IsTruncated": False}

    # -- managed policies ------------------------------------------------------
    def _policy_view(self, mp: ManagedPolicy) -> dict:
        return {"PolicyName": mp.name, "PolicyId": _unique_id("ANPA", mp.arn), "Arn": mp.arn, "Path": mp.path,
                "DefaultVersionId": "v1", "AttachmentCount": 0, "IsAttachable": True,
                "CreateDate": mp.created, "UpdateDate": mp.created, "Description": mp.description}

    def create_policy(self, p: dict, call) -> dict:
        arn = f"arn:aws:iam::{self.account}:policy{p.get('Path', '/')}{p['PolicyName']}"
        if arn in self.policies:
            raise ServiceError("EntityAlreadyExists",
                               f"A policy called {p['PolicyName']} already exists. Duplicate names are not allowed.", 409)
        mp = ManagedPolicy(p["PolicyName"], arn, _decode(p["PolicyDocument"]), self._clock.now,
                           p.get("Path", "/"), p.get("Description", ""))
        self.policies[arn] = mp
        return {"Policy": self._policy_view(mp)}

    def get_policy(self, p: dict, call) -> dict:
        mp = self.policies.get(p["PolicyArn"])
        if mp is None:
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} was not found.", 404)
        return {"Policy": self._policy_view(mp)}

    def get_policy_version(self, p: dict, call) -> dict:
        mp = self.policies.get(p["PolicyArn"])
        if mp is None or p["VersionId"] != "v1":
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} version {p['VersionId']} does not exist.", 404)
        return {"PolicyVersion": {"Document": _encode(mp.document), "VersionId": "v1", "IsDefaultVersion": True,
                                  "CreateDate": mp.created}}

    def simulate_principal_policy(self, p: dict, call) -> dict:
        results = []
        resources = p.get("ResourceArns") or ["*"]
        context = {c["ContextKeyName"]: c["ContextKeyValues"] for c in p.get("ContextEntries", [])}
        for action in p["ActionNames"]:
            for res in resources:
                d = self.authorize(p["PolicySourceArn"], action, res, context=context)
                decision = "allowed" if d.allowed else ("explicitDeny" if d.explicit_deny else "implicitDeny")
                results.append({"EvalActionName": action, "EvalResourceName": res, "EvalDecision": decision})
        return {"EvaluationResults": results, "IsTruncated": False}

    # -- users and access keys (the HTTP front picks the caller by access key id) -------------------
    def _user(self, name: str) -> User:
        user = self.users.get(name)
        if user is None:
            raise ServiceError("NoSuchEntity", f"The user with name {name} cannot be found.", 404)
        return user

    def _user_view(self, u: User) -> dict:
        return {"Path": "/", "UserName": u.name, "UserId": _unique_id("AIDA", u.arn), "Arn": u.arn,
                "CreateDate": u.created}

    def user_for_key(self, access_key_id: str) -> str | None:
        """The ARN of the user owning an active access key id, or None."""
        name = self.access_keys.get(access_key_id)
        return self.users[name].arn if name in self.users else None

    def create_user(self, p: dict, call) -> dict:
        name = p["UserName"]
        if name in self.users:
            raise ServiceError("EntityAlreadyExists", f"User with name {name} already exists.", 409)
        self.users[name] = User(name, self.user_arn(name), self._clock.now)
        return {"User": self._user_view(self.users[name])}

    def get_user(self, p: dict, call) -> dict:
        if not p.get("UserName"):
            ident = self._identity(call.principal)
            if not isinstance(ident, User):
                raise ServiceError("ValidationError", "Must specify userName when calling with non-User credentials")
            return {"User": self._user_view(ident)}
        return {"User": self._user_view(self._user(p["UserName"]))}

    def list_users(self, p: dict, call) -> dict:
        return {"Users": [self._user_view(u) for _, u in sorted(self.users.items())], "IsTruncated": False}

    def delete_user(self, p: dict, call) -> dict:
        user = self._user(p["UserName"])
        if user.inline or user.attached or user.name in self.access_keys.values():
            raise ServiceError("DeleteConflict", "Cannot delete entity, must delete policies and access keys first.",
                               409)
        del self.users[user.name]
        return {}

    def put_user_policy(self, p: dict, call) -> dict:
        self._user(p["UserName"]).inline[p["PolicyName"]] = _decode(p["PolicyDocument"])
        return {}

    def delete_user_policy(self, p: dict, call) -> dict:
        if self._user(p["UserName"]).inline.pop(p["PolicyName"], None) is None:
            raise ServiceError("NoSuchEntity", f"The user policy with name {p['PolicyName']} cannot be found.", 404)
        return {}

    def attach_user_policy(self, p: dict, call) -> dict:
        user = self._user(p["UserName"])
        if p["PolicyArn"] not in self.policies:
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} does not exist or is not attachable.", 404)
        if p["PolicyArn"] not in user.attached:
            user.attached.append(p["PolicyArn"])
        return {}

    def detach_user_policy(self, p: dict, call) -> dict:
        user = self._user(p["UserName"])
        if p["PolicyArn"] not in user.attached:
            raise ServiceError("NoSuchEntity", f"Policy {p['PolicyArn']} was not found.", 404)
        user.attached.remove(p["PolicyArn"])
        return {}

    def create_access_key(self, p: dict, call) -> dict:
        ident = self._identity(call.principal)
        name = p.get("UserName") or (ident.name if isinstance(ident, User) else None)
        if name is None:
            raise ServiceError("ValidationError", "Must specify userName when calling with non-User credentials")
        user = self._user(name)
        n = sum(1 for u in self.access_keys.values() if u == name)
        if n >= 2:
            raise ServiceError("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
        key = "AKIA" + hashlib.sha256(f"{user.arn}/{len(self.access_keys)}".encode()).hexdigest()[:16].upper()
        self.access_keys[key] = name
        return {"AccessKey": {"UserName": name, "AccessKeyId": key, "Status": "Active",
                              "SecretAccessKey": "sagetutor-simulated-secret-" + key[-8:],
                              "CreateDate": self._clock.now}}

    def list_access_keys(self, p: dict, call) -> dict:
        ident = self._identity(call.principal)
        name = p.get("UserName") or (ident.name if isinstance(ident, User) else ADMIN_USER)
        self._user(name)
        return {"AccessKeyMetadata": [{"UserName": name, "AccessKeyId": k, "Status": "Active"}
                                      for k, u in sorted(self.access_keys.items()) if u == name],
                "IsTruncated": False}

    def delete_access_key(self, p: dict, call) -> dict:
        if self.access_keys.pop(p["AccessKeyId"], None) is None:
            raise ServiceError("NoSuchEntity", f"The Access Key with id {p['AccessKeyId']} cannot be found.", 404)
        return {}
