"""KMS: keys, aliases, key policies and grants, as far as SageMaker and S3 need them.

Only symmetric encryption keys (``SYMMETRIC_DEFAULT``, ``ENCRYPT_DECRYPT``) exist.
Ciphertext is not real cryptography: it is deterministic bytes that name the key
(so Decrypt needs no KeyId), carry a tag over the plaintext and the encryption
context (so garbage, or the wrong context, is ``InvalidCiphertextException``),
and hide the plaintext under a SHA-256 keystream of the key's material.

Who may use a key is decided the way AWS decides it (``KMS.use`` for services
acting for jobs, ``KMS.authorize_call`` for a caller's own API calls):

1. an explicit Deny in the key policy or in the principal's IAM policies denies;
2. a key policy statement naming the principal (or its role, for an
   assumed-role session, or ``"*"``) allows, with no IAM policy needed;
3. a key policy statement naming the account (``arn:aws:iam::<account>:root`` or
   the bare account id) delegates to IAM: the principal's identity policies
   must then allow the action on the key ARN;
4. a grant whose grantee is the principal (or its role) and whose operations
   include the operation allows (its constraints must hold);
5. anything else is denied. The denial names the policy type that failed to
   allow: "no identity-based policy allows" when the key policy delegates to IAM,
   "no resource-based policy allows" when it does not.

Billing: a customer managed key costs $1.00 per key-month, metered per second at
1.00/730 USD an hour from CreateKey until ScheduleKeyDeletion. A key pending
deletion is not charged (AWS: "There is no charge for customer managed KMS keys
that are scheduled for deletion"); if the deletion is cancelled, the waiting
time is charged after all ("as though it was never scheduled for deletion") as
one extra line, and the meter runs again. AWS managed keys cost nothing a month.
Requests (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, CreateGrant), whether
by a caller or by a service acting for a job, cost $0.03 per 10,000 on every key,
AWS managed keys included (AWS charges for requests to AWS managed keys too);
each key accrues one ``kms-requests`` line. The 20,000-request free tier is not
modelled.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.bill import line, per_second
from engine.errors import ServiceError
from engine.pricing import unit_price
from engine.security import AccessRecord
from engine.services.iam import policy
from engine.services.iam.policy import Decision

ENABLED, DISABLED, PENDING_DELETION = "Enabled", "Disabled", "PendingDeletion"

#: AWS managed keys the engine creates on first use: alias -> (owning service's endpoint prefix, what it protects).
AWS_MANAGED = {
    "alias/aws/s3": ("s3", "S3 objects"),
    "alias/aws/sagemaker": ("sagemaker", "SageMaker resources"),
    "alias/aws/ebs": ("ec2", "EBS volumes"),
}

#: Operations billed per request (AWS's symmetric request price).
BILLED = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
          "ReEncryptFrom", "ReEncryptTo", "CreateGrant"}

#: Operations with no key to consult: IAM identity policies alone decide them.
ACCOUNT_SCOPED = {"CreateKey", "ListKeys", "ListAliases", "ListRetirableGrants"}

_HEADER = b"\x01STK"  # ciphertext: header, key uuid (16), nonce (8), tag (16), body
_OVERHEAD = len(_HEADER) + 16 + 8 + 16
_EC_PREFIX = "kms:EncryptionContext:"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class KeyUse:
    """The outcome of a principal using a key: allowed, or AWS's error code and sentence."""

    allowed: bool
    key_arn: str | None
    customer_managed: bool
    code: str  # "" when allowed, else AccessDeniedException / NotFoundException / DisabledException / KMSInvalidStateException
    message: str  # AWS's text ("" when allowed)

    def __bool__(self) -> bool:
        return self.allowed

    def error(self) -> ServiceError:
        """The ServiceError a service would surface for this failed use."""
        return ServiceError(self.code, self.message)


@dataclass
class Grant:
    grant_id: str
    token: str
    key_id: str
    name: str
    grantee: str
    retiring: str | None
    operations: list[str]
    constraints: dict | None
    created: Any


@dataclass
class Key:
    key_id: str
    arn: str
    created: Any
    description: str
    policy_text: str
    policy: dict
    manager: str  # "CUSTOMER" or "AWS"
    material: bytes
    state: str = ENABLED
    tags: dict[str, str] = field(default_factory=dict)
    rotation: bool = False
    rotation_days: int = 365
    rotation_enabled_at: Any = None
    deletion_date: Any = None
    pending_days: int | None = None
    scheduled_at: float | None = None  # virtual seconds when deletion was scheduled
    meter: int | None = None
    grants: dict[str, Grant] = field(default_factory=dict)

    @property
    def customer_managed(self) -> bool:
        return self.manager == "CUSTOMER"


@dataclass
class Alias:
    name: str
    key_id: str
    created: Any
    updated: Any


def _default_policy(account: str) -> dict:
    """AWS's default key policy: the account's IAM policies decide (delegation to IAM)."""
    return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}


def _managed_policy(account: str, region: str, service: str) -> dict:
    """The policy AWS gives an AWS managed key: usable through its service by anyone in the account."""
    via = f"{service}.{region}.amazonaws.com"
    actions = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    if service != "s3":
        actions.insert(4, "kms:CreateGrant")
    label = "S3" if service == "s3" else ("EBS" if service == "ec2" else "SageMaker")
    return {"Version": "2012-10-17", "Id": f"auto-{'ebs' if service == 'ec2' else service}-2", "Statement": [
        {"Sid": f"Allow access through {label} for all principals in the account that are authorized to use {label}",
         "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": actions, "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"], "Resource": "*"}]}


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _parse_policy(text: str) -> dict:
    try:
        doc = json.loads(text)
    except ValueError:
        raise ServiceError("MalformedPolicyDocumentException", "The key policy is not valid JSON.") from None
    if not isinstance(doc, dict) or not _as_list(doc.get("Statement")):
        raise ServiceError("MalformedPolicyDocumentException", "The key policy has no Statement.")
    for st in _as_list(doc["Statement"]):
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise ServiceError("MalformedPolicyDocumentException",
                               "Every key policy statement needs an Effect of Allow or Deny.")
        if "Principal" not in st and "NotPrincipal" not in st:
            raise ServiceError("MalformedPolicyDocumentException", "Policy contains a statement with no principal.")
    return doc


def _keystream(material: bytes, nonce: bytes, n: int) -> bytes:
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(material + nonce + block.to_bytes(4, "big")).digest()
        block += 1
    return bytes(out[:n])


def _canonical(ec: dict | None) -> bytes:
    return json.dumps(ec or {}, sort_keys=True, separators=(",", ":")).encode()


def _encryption_context(context: dict) -> dict[str, str]:
    return {k[len(_EC_PREFIX):]: str(v) for k, v in context.items() if k.startswith(_EC_PREFIX)}


class KMS:
    def __init__(self, world):
        self.world = world
        self.keys: dict[str, Key] = {}
        self.aliases: dict[str, Alias] = {}
        self._n = 0
        self._nonce = 0
        self._requests: dict[str, int] = {}

    # -- names and lookups ----------------------------------------------------------
    @property
    def _account(self) -> str:
        return self.world.account

    def _key_arn(self, key_id: str) -> str:
        return self.world.arn("kms", f"key/{key_id}")

    def _alias_arn(self, name: str) -> str:
        return self.world.arn("kms", name)

    def _next_id(self, kind: str) -> str:
        self._n += 1
        return hashlib.sha256(f"sagetutor-kms/{self.world.seed}/{kind}/{self._n}".encode()).hexdigest()

    def _alias_name(self, ref: str) -> str | None:
        """The alias name in ``ref`` (``alias/x`` or its ARN), or None when ``ref`` names a key."""
        if ref.startswith("alias/"):
            return ref
        prefix = f"arn:aws:kms:{self.world.region}:{self._account}:"
        if ref.startswith(prefix + "alias/"):
            return ref[len(prefix):]
        return None

    def resolve(self, key_ref: str) -> Key | None:
        """The key named by a key id, key ARN, alias name or alias ARN; None if there is none (no side effects)."""
        if not key_ref:
            return None
        alias = self._alias_name(key_ref)
        if alias is not None:
            a = self.aliases.get(alias)
            return self.keys.get(a.key_id) if a else None
        if key_ref.startswith("arn:"):
            prefix = f"arn:aws:kms:{self.world.region}:{self._account}:key/"
            return self.keys.get(key_ref[len(prefix):]) if key_ref.startswith(prefix) else None
        return self.keys.get(key_ref)

    def aws_managed_key(self, alias: str) -> Key:
        """The AWS managed key behind ``alias`` ("alias/aws/s3", "alias/aws/sagemaker", "alias/aws/ebs"),
        created the first time it is asked for, as AWS creates it on first use."""
        if alias not in AWS_MANAGED:
            raise KeyError(f"no AWS managed key {alias!r}; the engine has: {', '.join(sorted(AWS_MANAGED))}")
        existing = self.aliases.get(alias)
        if existing is not None:
            return self.keys[existing.key_id]
        service, what = AWS_MANAGED[alias]
        doc = _managed_policy(self._account, self.world.region, service)
        key = self._new_key(f"Default key that protects my {what} when no other key is defined",
                            json.dumps(doc, indent=2), doc, "AWS", {})
        key.rotation = True  # AWS rotates AWS managed keys every year
        now = self.world.clock.now
        self.aliases[alias] = Alias(alias, key.key_id, now, now)
        return key

    def _find(self, key_ref: str) -> Key:
        """Resolve, creating a predefined AWS managed key on first use (DescribeKey and crypto calls do)."""
        key = self.resolve(key_ref)
        if key is not None:
            return key
        alias = self._alias_name(key_ref)
        if alias in AWS_MANAGED:
            return self.aws_managed_key(alias)
        raise ServiceError("NotFoundException", self._not_found_text(key_ref))

    def _not_found_text(self, key_ref: str) -> str:
        alias = self._alias_name(key_ref)
        if alias is not None:
            return f"Alias {self._alias_arn(alias)} is not found."
        key_id = key_ref.rsplit("/", 1)[-1] if key_ref.startswith("arn:") else key_ref
        return f"Key '{self._key_arn(key_id)}' does not exist"

    def _key_by_id(self, key_ref: str) -> Key:
        """A key named by id or key ARN only (where AWS does not accept an alias)."""
        if self._alias_name(key_ref) is not None:
            raise ServiceError("ValidationException", f"{key_ref} is an alias; this operation needs a key ID or key ARN.")
        return self._find(key_ref)

    # -- keys -----------------------------------------------------------------------
    def _new_key(self, description: str, policy_text: str, doc: dict, manager: str, tags: dict) -> Key:
        h = self._next_id("key")
        key_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        arn = self._key_arn(key_id)
        material = hashlib.sha256(f"sagetutor-kms-material/{self.world.seed}/{key_id}".encode()).digest()
        key = Key(key_id, arn, self.world.clock.now, description, policy_text, doc, manager, material, tags=tags)
        self.keys[key_id] = key
        if key.customer_managed:
            self._start_meter(key)
        self.world.event(arn, "status", f"{'Customer' if key.customer_managed else 'AWS'} managed key created",
                         ENABLED)
        return key

    def _start_meter(self, key: Key) -> None:
        key.meter = self.world.ledger.start_meter(
            key.arn, "kms", "kms-key-seconds", self._hourly(), "per-key-month",
            description="customer managed key, $1.00 per key-month prorated per second", unit="key-second")

    @staticmethod
    def _hourly() -> Decimal:
        return unit_price("kms-key-month").usd / Decimal(730)

    def _metadata(self, key: Key) -> dict:
        md = {"AWSAccountId": self._account, "KeyId": key.key_id, "Arn": key.arn, "CreationDate": key.created,
              "Enabled": key.state == ENABLED, "Description": key.description, "KeyUsage": "ENCRYPT_DECRYPT",
              "KeyState": key.state, "Origin": "AWS_KMS", "KeyManager": key.manager,
              "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "KeySpec": "SYMMETRIC_DEFAULT",
              "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": False}
        if key.state == PENDING_DELETION:
            md["DeletionDate"] = key.deletion_date
            md["PendingDeletionWindowInDays"] = key.pending_days
        return md

    def create_key(self, p: dict, call) -> dict:
        spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        usage = p.get("KeyUsage", "ENCRYPT_DECRYPT")
        if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
            raise ServiceError("UnsupportedOperationException",
                               f"SageTutor simulates only symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, "
                               f"KeyUsage ENCRYPT_DECRYPT); got KeySpec {spec}, KeyUsage {usage}.")
        if p.get("Origin", "AWS_KMS") != "AWS_KMS" or p.get("MultiRegion") or p.get("CustomKeyStoreId"):
            raise ServiceError("UnsupportedOperationException",
                               "SageTutor simulates only single-Region keys with Origin AWS_KMS.")
        if "Policy" in p:
            text = p["Policy"]
            doc = _parse_policy(text)
            if not p.get("BypassPolicyLockoutSafetyCheck"):
                self._lockout_check(doc, call.principal)
        else:
            doc = _default_policy(self._account)
            text = json.dumps(doc, indent=2)
        tags = {t["TagKey"]: t["TagValue"] for t in p.get("Tags", [])}
        key = self._new_key(p.get("Description", ""), text, doc, "CUSTOMER", tags)
        return {"KeyMetadata": self._metadata(key)}

    def _lockout_check(self, doc: dict, principal: str) -> None:
        probe = Key("probe", self._key_arn("probe"), None, "", "", doc, "CUSTOMER", b"")
        if not self._decide(probe, principal, "kms:PutKeyPolicy", self._context(principal, None, None)).allowed:
            raise ServiceError("MalformedPolicyDocumentException",
                               "The new key policy will not allow you to update the key policy in the future.")

    def describe_key(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        return {"KeyMetadata": self._metadata(key)}

    def list_keys(self, p: dict, call) -> dict:
        items = [{"KeyId": k.key_id, "KeyArn": k.arn} for k in self.keys.values()]
        return self._page(items, p, "Keys")

    @staticmethod
    def _page(items: list, p: dict, name: str) -> dict:
        start = int(p.get("Marker") or 0)
        limit = p.get("Limit", 100)
        chunk = items[start:start + limit]
        out: dict[str, Any] = {name: chunk, "Truncated": start + limit < len(items)}
        if out["Truncated"]:
            out["NextMarker"] = str(start + limit)
        return out

    def enable_key(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._not_pending(key)
        if key.state != ENABLED:
            key.state = ENABLED
            self.world.event(key.arn, "status", "Key enabled", ENABLED)
        return {}

    def disable_key(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._not_pending(key)
        if key.state != DISABLED:
            key.state = DISABLED
            self.world.event(key.arn, "status", "Key disabled", DISABLED)
        return {}

    def _not_pending(self, key: Key) -> None:
        if key.state == PENDING_DELETION:
            raise ServiceError("KMSInvalidStateException", f"{key.arn} is pending deletion.")

    def _usable(self, key: Key) -> None:
        """Cryptographic operations need an Enabled key."""
        self._not_pending(key)
        if key.state == DISABLED:
            raise ServiceError("DisabledException", f"{key.arn} is disabled.")

    def schedule_key_deletion(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        if not key.customer_managed:  # the managed key's policy already denies; this is belt and braces
            raise ServiceError("UnsupportedOperationException", f"{key.arn} is an AWS managed key.")
        self._not_pending(key)
        days = p.get("PendingWindowInDays", 30)
        if not 7 <= days <= 30:
            bound = "greater than or equal to 7" if days < 7 else "less than or equal to 30"
            raise ServiceError("ValidationException", f"1 validation error detected: Value '{days}' at "
                                                      f"'pendingWindowInDays' failed to satisfy constraint: "
                                                      f"Member must have value {bound}")
        key.state, key.pending_days = PENDING_DELETION, days
        key.deletion_date = self.world.clock.now + timedelta(days=days)
        key.scheduled_at = self.world.clock.seconds
        if key.meter is not None:
            self.world.ledger.stop_meter(key.meter)
            key.meter = None
        self.world.event(key.arn, "status", f"Key scheduled for deletion in {days} days; no longer charged",
                         PENDING_DELETION)
        self.world.clock.env.process(self._delete_later(key, key.scheduled_at, days * 86400))
        return {"KeyId": key.arn, "DeletionDate": key.deletion_date, "KeyState": PENDING_DELETION,
                "PendingWindowInDays": days}

    def _delete_later(self, key: Key, scheduled_at: float, seconds: float):
        # A plain SimPy process (not clock.start): a pending deletion is not work run_until_idle waits for.
        yield self.world.clock.env.timeout(seconds)
        if key.state != PENDING_DELETION or key.scheduled_at != scheduled_at or self.keys.get(key.key_id) is not key:
            return  # cancelled (and perhaps scheduled again) meanwhile
        del self.keys[key.key_id]
        for name in [a.name for a in self.aliases.values() if a.key_id == key.key_id]:
            del self.aliases[name]
        self.world.event(key.arn, "status", "Key deleted; data encrypted under it can no longer be decrypted",
                         "Deleted")

    def cancel_key_deletion(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        if key.state != PENDING_DELETION:
            raise ServiceError("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
        now = self.world.clock.seconds
        waited = int(round(now - (key.scheduled_at or now)))
        if waited > 0:  # AWS charges a cancelled deletion's waiting time "as though it was never scheduled"
            self.world.ledger.add(line(key.arn, "kms", "kms-key-seconds", waited, "key-second",
                                       per_second(self._hourly()), "per-key-month", start=key.scheduled_at, end=now,
                                       description="deletion cancelled: the waiting period is charged after all"))
        key.state, key.deletion_date, key.pending_days, key.scheduled_at = DISABLED, None, None, None
        self._start_meter(key)
        self.world.event(key.arn, "status", "Key deletion cancelled; the key is Disabled", DISABLED)
        return {"KeyId": key.arn}

    # -- key policies ---------------------------------------------------------------
    def get_key_policy(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._policy_name(p)
        return {"Policy": key.policy_text, "PolicyName": "default"}

    @staticmethod
    def _policy_name(p: dict) -> None:
        name = p.get("PolicyName", "default")
        if name != "default":
            raise ServiceError("NotFoundException", f"No such policy exists: {name}; a key has one policy, 'default'.")

    def put_key_policy(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._policy_name(p)
        self._not_pending(key)
        doc = _parse_policy(p["Policy"])
        if not p.get("BypassPolicyLockoutSafetyCheck"):
            self._lockout_check(doc, call.principal)
        key.policy_text, key.policy = p["Policy"], doc
        self.world.event(key.arn, "config", "Key policy replaced")
        return {}

    def list_key_policies(self, p: dict, call) -> dict:
        self._authorized(p, call)
        return {"PolicyNames": ["default"], "Truncated": False}

    # -- rotation --------------------------------------------------------------------
    def enable_key_rotation(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._usable(key)
        key.rotation, key.rotation_days = True, p.get("RotationPeriodInDays", 365)
        key.rotation_enabled_at = self.world.clock.now
        return {}

    def disable_key_rotation(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._usable(key)
        key.rotation = False
        return {}

    def get_key_rotation_status(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        out: dict[str, Any] = {"KeyRotationEnabled": key.rotation, "KeyId": key.arn}
        if key.rotation:
            out["RotationPeriodInDays"] = key.rotation_days
            since = key.rotation_enabled_at or key.created
            out["NextRotationDate"] = since + timedelta(days=key.rotation_days)
        return out

    # -- aliases ---------------------------------------------------------------------
    def _check_alias_name(self, name: str) -> None:
        if not name.startswith("alias/") or name == "alias/":
            raise ServiceError("InvalidAliasNameException",
                               f"Alias name {name} must begin with 'alias/' followed by a name, e.g. alias/my-key.")
        if name.startswith("alias/aws/"):
            raise ServiceError("NotAuthorizedException",
                               f"Alias names that begin with alias/aws/ are reserved for AWS managed keys: {name}")

    def create_alias(self, p: dict, call) -> dict:
        name = p["AliasName"]
        self._check_alias_name(name)
        key = self._key_by_id(p["TargetKeyId"])
        self._require(call, p, key)
        self._not_pending(key)
        if name in self.aliases:
            raise ServiceError("AlreadyExistsException", f"An alias with the name {self._alias_arn(name)} already exists")
        now = self.world.clock.now
        self.aliases[name] = Alias(name, key.key_id, now, now)
        return {}

    def update_alias(self, p: dict, call) -> dict:
        name = p["AliasName"]
        self._check_alias_name(name)
        alias = self.aliases.get(name)
        if alias is None:
            raise ServiceError("NotFoundException", self._not_found_text(name))
        key = self._key_by_id(p["TargetKeyId"])
        self._require(call, p, key)
        alias.key_id, alias.updated = key.key_id, self.world.clock.now
        return {}

    def delete_alias(self, p: dict, call) -> dict:
        name = p["AliasName"]
        if name.startswith("alias/aws/"):
            self._check_alias_name(name)
        alias = self.aliases.get(name)
        if alias is None:
            raise ServiceError("NotFoundException", self._not_found_text(name))
        self._require(call, p, self.keys[alias.key_id])
        del self.aliases[name]
        return {}

    def list_aliases(self, p: dict, call) -> dict:
        only = None
        if p.get("KeyId"):
            only = self._key_by_id(p["KeyId"]).key_id
        rows = []
        names = sorted(set(self.aliases) | (set() if only else set(AWS_MANAGED)))
        for name in names:
            a = self.aliases.get(name)
            if only and (a is None or a.key_id != only):
                continue
            row: dict[str, Any] = {"AliasName": name, "AliasArn": self._alias_arn(name)}
            if a is not None:  # a predefined AWS alias lists without a key until first used
                row.update(TargetKeyId=a.key_id, CreationDate=a.created, LastUpdatedDate=a.updated)
            rows.append(row)
        return self._page(rows, p, "Aliases")

    # -- tags ------------------------------------------------------------------------
    def tag_resource(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._not_pending(key)
        for t in p["Tags"]:
            if t["TagKey"].startswith("aws:"):
                raise ServiceError("TagException", f"Tag keys beginning with aws: are reserved: {t['TagKey']}")
            key.tags[t["TagKey"]] = t["TagValue"]
        return {}

    def untag_resource(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._not_pending(key)
        for k in p["TagKeys"]:
            key.tags.pop(k, None)
        return {}

    def list_resource_tags(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        rows = [{"TagKey": k, "TagValue": v} for k, v in sorted(key.tags.items())]
        return self._page(rows, p, "Tags")

    # -- grants ----------------------------------------------------------------------
    def _grant_view(self, key: Key, g: Grant) -> dict:
        out = {"KeyId": key.arn, "GrantId": g.grant_id, "Name": g.name, "CreationDate": g.created,
               "GranteePrincipal": g.grantee, "IssuingAccount": f"arn:aws:iam::{self._account}:root",
               "Operations": list(g.operations)}
        if g.retiring:
            out["RetiringPrincipal"] = g.retiring
        if g.constraints:
            out["Constraints"] = g.constraints
        return out

    def create_grant(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        self._usable(key)
        self._dry_run(p)
        return self._add_grant(key, p)

    def _add_grant(self, key: Key, p: dict) -> dict:
        h = self._next_id("grant")
        token = "AQpAM2" + hashlib.sha256(f"token/{h}".encode()).hexdigest()
        g = Grant(h, token, key.key_id, p.get("Name", ""), p["GranteePrincipal"], p.get("RetiringPrincipal"),
                  list(p["Operations"]), p.get("Constraints"), self.world.clock.now)
        key.grants[g.grant_id] = g
        self._bill_request(key)
        return {"GrantToken": token, "GrantId": g.grant_id}

    def list_grants(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        rows = [self._grant_view(key, g) for g in key.grants.values()
                if p.get("GrantId") in (None, g.grant_id) and p.get("GranteePrincipal") in (None, g.grantee)]
        return self._page(rows, p, "Grants")

    def list_retirable_grants(self, p: dict, call) -> dict:
        rows = [self._grant_view(k, g) for k in self.keys.values() for g in k.grants.values()
                if g.retiring == p["RetiringPrincipal"]]
        return self._page(rows, p, "Grants")

    def revoke_grant(self, p: dict, call) -> dict:
        key = self._authorized(p, call)
        if p["GrantId"] not in key.grants:
            raise ServiceError("NotFoundException", f"Grant ID {p['GrantId']} not found")
        self._dry_run(p)
        del key.grants[p["GrantId"]]
        return {}

    def _find_grant(self, p: dict) -> tuple[Key, Grant]:
        if p.get("GrantToken"):
            for key in self.keys.values():
                for g in key.grants.values():
                    if g.token == p["GrantToken"]:
                        return key, g
            raise ServiceError("InvalidGrantTokenException", "The grant token is not valid (or its grant is gone).")
        if not (p.get("KeyId") and p.get("GrantId")):
            raise ServiceError("ValidationException", "RetireGrant needs a GrantToken, or both KeyId and GrantId.")
        key = self._key_by_id(p["KeyId"])
        g = key.grants.get(p["GrantId"])
        if g is None:
            raise ServiceError("InvalidGrantIdException", f"Grant ID {p['GrantId']} not found")
        return key, g

    def retire_grant(self, p: dict, call) -> dict:
        key, g = self._find_grant(p)
        self._require(call, p, key)
        self._dry_run(p)
        del key.grants[g.grant_id]
        return {}

    def _may_retire(self, principal: str, key: Key, g: Grant) -> Decision:
        names = {principal, self._role_of(principal)}
        if g.retiring in names or (g.grantee in names and "RetireGrant" in g.operations) \
                or principal == f"arn:aws:iam::{self._account}:root":
            return Decision(True, False, "allowed")
        return Decision(False, False, "no resource-based policy allows")

    # -- cryptography ----------------------------------------------------------------
    @staticmethod
    def _dry_run(p: dict) -> None:
        if p.get("DryRun"):
            raise ServiceError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")

    def _seal(self, key: Key, plaintext: bytes, ec: dict | None) -> bytes:
        self._nonce += 1
        nonce = self._nonce.to_bytes(8, "big")
        tag = hashlib.sha256(b"tag" + key.material + nonce + _canonical(ec) + plaintext).digest()[:16]
        body = bytes(a ^ b for a, b in zip(plaintext, _keystream(key.material, nonce, len(plaintext)), strict=True))
        return _HEADER + bytes.fromhex(key.key_id.replace("-", "")) + nonce + tag + body

    def _key_of_ciphertext(self, blob: bytes) -> str | None:
        if len(blob) < _OVERHEAD or not blob.startswith(_HEADER):
            return None
        h = blob[4:20].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def _open(self, key: Key, blob: bytes, ec: dict | None) -> bytes:
        nonce, tag, body = blob[20:28], blob[28:44], blob[44:]
        plaintext = bytes(a ^ b for a, b in zip(body, _keystream(key.material, nonce, len(body)), strict=True))
        if hashlib.sha256(b"tag" + key.material + nonce + _canonical(ec) + plaintext).digest()[:16] != tag:
            raise ServiceError("InvalidCiphertextException",
                               "The ciphertext is invalid, or its encryption context does not match the one given.")
        return plaintext

    def _ciphertext_key(self, blob: bytes) -> Key:
        key_id = self._key_of_ciphertext(blob)
        if key_id is None:
            raise ServiceError("InvalidCiphertextException",
                               "The ciphertext is invalid: it was not produced by this account's KMS.")
        key = self.keys.get(key_id)
        if key is None:
            raise ServiceError("NotFoundException", self._not_found_text(key_id))
        return key

    def encrypt(self, p: dict, call) -> dict:
        key = self._crypto_key(p["KeyId"], call, p)
        return {"CiphertextBlob": self._seal(key, p["Plaintext"], p.get("EncryptionContext")), "KeyId": key.arn,
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def decrypt(self, p: dict, call) -> dict:
        key = self._ciphertext_key(p.get("CiphertextBlob", b""))
        if p.get("KeyId") and self.resolve(p["KeyId"]) is not key:
            raise ServiceError("IncorrectKeyException",
                               "The key ID in the request does not identify a KMS key that can perform this operation.")
        self._require(call, p, key)
        self._usable(key)
        self._dry_run(p)
        plaintext = self._open(key, p["CiphertextBlob"], p.get("EncryptionContext"))
        self._bill_request(key)
        return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def _data_key(self, key: Key, p: dict) -> bytes:
        n = p.get("NumberOfBytes") or (16 if p.get("KeySpec") == "AES_128" else 32)
        self._nonce += 1
        return _keystream(key.material + b"data-key", self._nonce.to_bytes(8, "big"), n)

    def generate_data_key(self, p: dict, call) -> dict:
        key = self._crypto_key(p["KeyId"], call, p)
        plain = self._data_key(key, p)
        return {"CiphertextBlob": self._seal(key, plain, p.get("EncryptionContext")), "Plaintext": plain,
                "KeyId": key.arn}

    def generate_data_key_without_plaintext(self, p: dict, call) -> dict:
        key = self._crypto_key(p["KeyId"], call, p)
        plain = self._data_key(key, p)
        return {"CiphertextBlob": self._seal(key, plain, p.get("EncryptionContext")), "KeyId": key.arn}

    def re_encrypt(self, p: dict, call) -> dict:
        source = self._ciphertext_key(p.get("CiphertextBlob", b""))
        if p.get("SourceKeyId") and self.resolve(p["SourceKeyId"]) is not source:
            raise ServiceError("IncorrectKeyException",
                               "The key ID in the request does not identify a KMS key that can perform this operation.")
        dest = self._find(p["DestinationKeyId"])
        self._require(call, p, source)
        self._usable(source)
        self._usable(dest)
        self._dry_run(p)
        plaintext = self._open(source, p["CiphertextBlob"], p.get("SourceEncryptionContext"))
        self._bill_request(dest)
        return {"CiphertextBlob": self._seal(dest, plaintext, p.get("DestinationEncryptionContext")),
                "SourceKeyId": source.arn, "KeyId": dest.arn, "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

    def _crypto_key(self, key_ref: str, call, p: dict) -> Key:
        key = self._find(key_ref)
        self._require(call, p, key)
        self._usable(key)
        self._dry_run(p)
        self._bill_request(key)
        return key

    def _bill_request(self, key: Key) -> None:
        n = self._requests.get(key.arn, 0) + 1
        self._requests[key.arn] = n
        price = unit_price("kms-requests-10k").usd / Decimal(10000)
        kind = "customer managed" if key.customer_managed else "AWS managed"
        self.world.ledger.upsert(("kms-requests", key.arn), line(
            key.arn, "kms", "kms-requests", n, "request", price, "per-request",
            description=f"requests to a {kind} key, $0.03 per 10,000"))

    # -- authorisation -----------------------------------------------------------------
    def _role_of(self, principal: str) -> str | None:
        """The role ARN behind an assumed-role session ARN (None for anything else)."""
        if ":assumed-role/" not in principal:
            return None
        name = principal.split(":assumed-role/", 1)[1].split("/")[0]
        role = self.world.services["iam"].roles.get(name)
        return role.arn if role is not None else f"arn:aws:iam::{self._account}:role/{name}"

    def _context(self, principal: str, via_service: str | None, extra: dict | None) -> dict[str, Any]:
        ctx: dict[str, Any] = dict(extra or {})
        ctx["aws:PrincipalArn"] = self._role_of(principal) or principal  # AWS gives a session's role ARN
        parts = principal.split(":")
        if principal.startswith("arn:") and len(parts) > 4 and parts[4]:
            ctx["kms:CallerAccount"] = ctx["aws:PrincipalAccount"] = parts[4]
        if via_service:
            ctx["kms:ViaService"] = f"{via_service}.{self.world.region}.amazonaws.com"
        return ctx

    def _principal_match(self, spec: Any, principal: str, role: str | None) -> str | None:
        """How a key policy Principal names this caller: "direct", "account" (delegation to IAM), or None."""
        if spec == "*":
            return "direct"
        if isinstance(spec, str):
            spec = {"AWS": spec}
        if not isinstance(spec, dict):
            return None
        found = None
        for kind, values in spec.items():
            for v in _as_list(values):
                v = str(v)
                if kind == "AWS":
                    if v == "*" or v == principal or (role is not None and v == role):
                        return "direct"
                    if v in (f"arn:aws:iam::{self._account}:root", self._account) \
                            and principal.split(":")[4:5] == [self._account]:
                        found = "account"
                elif v == principal:  # Service, Federated, CanonicalUser: only that principal itself
                    return "direct"
        return found

    def _decide(self, key: Key, principal: str, action: str, ctx: dict[str, Any]) -> Decision:
        role = self._role_of(principal)
        direct = delegated = None
        for st in policy.statements(key.policy):
            if "NotPrincipal" in st:
                named = self._principal_match(st["NotPrincipal"], principal, role)
                match = None if named else "direct"
            else:
                match = self._principal_match(st.get("Principal"), principal, role)
            if match is None or not self._applies(st, action, key.arn, ctx):
                continue
            if st["Effect"] == "Deny":
                return Decision(False, True, "an explicit deny in a resource-based policy", st.get("Sid"))
            if match == "direct" and direct is None:
                direct = st
            if match == "account" and delegated is None:
                delegated = st
        iam = policy.evaluate(action, key.arn, identity_policies=self.world.services["iam"].identity_policies(principal),
                              context=ctx)
        if iam.explicit_deny:
            return Decision(False, True, "an explicit deny in an identity-based policy", iam.statement_sid)
        if direct is not None:
            return Decision(True, False, "allowed", direct.get("Sid"))
        if delegated is not None and iam.allowed:
            return Decision(True, False, "allowed", iam.statement_sid)
        grant = self._grant_for(key, principal, role, action, ctx)
        if grant is not None:
            return Decision(True, False, "allowed", f"grant {grant.grant_id}")
        return Decision(False, False, "no identity-based policy allows" if delegated is not None
                        else "no resource-based policy allows")

    @staticmethod
    def _applies(st: dict, action: str, resource: str, ctx: dict[str, Any]) -> bool:
        """Do the statement's Action, Resource and Condition cover this request (its Principal aside)?"""
        bare = {k: v for k, v in st.items() if k not in ("Principal", "NotPrincipal", "Sid")}
        bare["Effect"] = "Allow"
        return policy.evaluate(action, resource, identity_policies=[{"Statement": [bare]}], context=ctx).allowed

    @staticmethod
    def _grant_for(key: Key, principal: str, role: str | None, action: str, ctx: dict[str, Any]) -> Grant | None:
        operation = action.split(":", 1)[-1]
        ec = _encryption_context(ctx)
        for g in key.grants.values():
            if g.grantee not in (principal, role) or operation not in g.operations:
                continue
            c = g.constraints or {}
            subset, equals = c.get("EncryptionContextSubset"), c.get("EncryptionContextEquals")
            if subset is not None and any(ec.get(k) != v for k, v in subset.items()):
                continue
            if equals is not None and ec != equals:
                continue
            return g
        return None

    def _request_checks(self, operation: str, principal: str, params: dict,
                        context: dict | None) -> list[tuple[str, Key, Decision]]:
        """(action, key, decision) for each key a call acts on; [] when no key resolves or none is involved."""
        if operation in ACCOUNT_SCOPED:
            return []
        refs: list[tuple[str, Key | None]] = []
        if operation == "Decrypt":
            kid = self._key_of_ciphertext(params.get("CiphertextBlob") or b"")
            refs.append(("kms:Decrypt", self.keys.get(kid) if kid else None))
        elif operation == "ReEncrypt":
            kid = self._key_of_ciphertext(params.get("CiphertextBlob") or b"")
            refs.append(("kms:ReEncryptFrom", self.keys.get(kid) if kid else None))
            refs.append(("kms:ReEncryptTo", self.resolve(params.get("DestinationKeyId", ""))))
        elif operation in ("CreateAlias", "UpdateAlias"):
            refs.append((f"kms:{operation}", self.resolve(params.get("TargetKeyId", ""))))
        elif operation == "DeleteAlias":
            refs.append(("kms:DeleteAlias", self.resolve(params.get("AliasName", ""))))
        elif operation == "RetireGrant":
            try:
                key, g = self._find_grant(params)
            except ServiceError:
                return []
            return [("kms:RetireGrant", key, self._may_retire(principal, key, g))]
        else:
            refs.append((f"kms:{operation}", self.resolve(params.get("KeyId", ""))))
        ec = params.get("EncryptionContext") or params.get("SourceEncryptionContext") or {}
        ctx = self._context(principal, None, {**(context or {}), **{_EC_PREFIX + k: v for k, v in ec.items()}})
        if ec:
            ctx["kms:EncryptionContextKeys"] = sorted(ec)
        if operation == "CreateGrant":
            ctx["kms:GrantOperations"] = list(params.get("Operations", []))
            ctx["kms:GranteePrincipal"] = params.get("GranteePrincipal")
        return [(action, key, self._decide(key, principal, action, ctx)) for action, key in refs if key is not None]

    def authorize_call(self, call_or_principal, *args) -> Decision | None:
        """The key-policy-aware decision for a caller's own KMS API call, or None to leave it to IAM alone.

        Two forms: ``authorize_call(call, params)`` (``call`` has ``.principal`` and ``.operation``) and
        ``authorize_call(principal, action, resource, params, context)`` (engine.authz.Authorizer's form;
        ``resource`` is ignored: the key comes from ``params``). Returns None for CreateKey, ListKeys,
        ListAliases, ListRetirableGrants and for calls whose key does not resolve (the backend then answers
        NotFoundException). For ReEncrypt it returns the first denial among kms:ReEncryptFrom (source key)
        and kms:ReEncryptTo (destination key). Records nothing and bills nothing.
        """
        if isinstance(call_or_principal, str):
            principal, action, _resource, params, context = call_or_principal, *args
            operation = action.split(":", 1)[-1]
        else:
            principal, operation = call_or_principal.principal, call_or_principal.operation
            params, context = args[0], None
        checks = self._request_checks(operation, principal, params, context)
        if not checks:
            return None
        return next((d for _, _, d in checks if not d.allowed), checks[-1][2])

    def key_arn_for(self, operation: str, params: dict) -> str | None:
        """The ARN of the key a call acts on (what AWS's AccessDenied sentence names), or None."""
        if operation in ("Decrypt", "ReEncrypt"):
            kid = self._key_of_ciphertext(params.get("CiphertextBlob") or b"")
            key = self.keys.get(kid) if kid else None
        elif operation in ("CreateAlias", "UpdateAlias"):
            key = self.resolve(params.get("TargetKeyId", ""))
        elif operation == "DeleteAlias":
            key = self.resolve(params.get("AliasName", ""))
        else:
            key = self.resolve(params.get("KeyId", ""))
        return key.arn if key is not None else None

    def _require(self, call, params: dict, key: Key) -> None:
        """Enforce the key policy for a caller's call (AccessDeniedException with AWS's sentence).

        The client gate (engine.authz) makes the same decision and records it; this duplicate check does
        not record, so the security log holds each call once.
        """
        for action, k, d in self._request_checks(call.operation, call.principal, params, None):
            if not d.allowed:
                raise ServiceError("AccessDeniedException", policy.not_authorized(call.principal, action, k.arn, d))
        if key.key_id not in self.keys:  # defensive: the key vanished between resolve and check
            raise ServiceError("NotFoundException", self._not_found_text(key.key_id))

    def _authorized(self, p: dict, call) -> Key:
        """The key ``p["KeyId"]`` names (an AWS managed alias creates its key), once the caller may act on it."""
        key = self._find(p["KeyId"])
        self._require(call, {**p, "KeyId": key.key_id}, key)
        return key

    # -- use by services acting for jobs ---------------------------------------------------
    def use(self, principal: str, key_ref: str, action: str, *, via_service: str | None = None,
            on_behalf_of: str | None = None, context: dict | None = None) -> KeyUse:
        """May ``principal`` perform ``action`` ("kms:Decrypt" or "Decrypt") with the key ``key_ref`` now?

        ``key_ref`` is a key id, key ARN, alias name or alias ARN; a predefined AWS managed alias
        (alias/aws/s3, alias/aws/sagemaker, alias/aws/ebs) creates its key on first use. Order of checks:
        the key exists (NotFoundException), it is Enabled (DisabledException, or KMSInvalidStateException
        when PendingDeletion), then the key policy, IAM and grants (AccessDeniedException). ``via_service``
        ("s3", "sagemaker", "ec2") sets kms:ViaService; ``context`` adds condition keys (an encryption
        context as "kms:EncryptionContext:<k>" keys, which grant constraints also check). Every outcome is
        an AccessRecord in world.security; a successful billed operation adds one request to the key's line.
        """
        action = action if action.startswith("kms:") else f"kms:{action}"
        key = self.resolve(key_ref)
        alias = self._alias_name(key_ref)
        if key is None and alias in AWS_MANAGED:
            key = self.aws_managed_key(alias)
        if key is None:
            out = KeyUse(False, None, False, "NotFoundException", self._not_found_text(key_ref))
        elif key.state != ENABLED:
            pending = key.state == PENDING_DELETION
            out = KeyUse(False, key.arn, key.customer_managed,
                         "KMSInvalidStateException" if pending else "DisabledException",
                         f"{key.arn} is {'pending deletion' if pending else 'disabled'}.")
        else:
            ctx = self._context(principal, via_service, context)
            if via_service and action == "kms:CreateGrant":
                ctx.setdefault("kms:GrantIsForAWSResource", "true")
            d = self._decide(key, principal, action, ctx)
            message = "" if d.allowed else policy.not_authorized(principal, action, key.arn, d)
            out = KeyUse(d.allowed, key.arn, key.customer_managed, "" if d.allowed else "AccessDeniedException", message)
        reason = d.reason if out.allowed or out.code == "AccessDeniedException" else f"{out.code}: {out.message}"
        self.world.security.record_access(AccessRecord(self.world.clock.seconds, principal, action,
                                                       key.arn if key else key_ref, out.allowed, reason, on_behalf_of))
        if out.allowed and action.split(":", 1)[1] in BILLED:
            self._bill_request(key)
        return out
