"""AWS's policy evaluation: explicit deny wins, then any allow, else the default deny.

Statements match on Action/NotAction (case-insensitive, with ``*`` and ``?``
wildcards), Resource/NotResource (ARN wildcards) and Condition blocks with the
common operators. Identity policies and resource policies (bucket policies) are
evaluated together for a principal of the same account, as AWS does: an allow in
either suffices, an explicit deny in either decides.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    reason: str  # why, in AWS's words ("no identity-based policy allows", "an explicit deny in ...")
    statement_sid: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def explain(self, action: str) -> str:
        """The tail of AWS's AccessDenied message: "because no identity-based policy allows the s3:GetObject
        action" or "with an explicit deny in an identity-based policy"."""
        if self.explicit_deny:
            return f"with {self.reason}"
        return f"because {self.reason} the {action} action"


def not_authorized(principal: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's sentence for a denied request (the same in every service that gives details)."""
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {decision.explain(action)}"


@lru_cache(maxsize=8192)
def _glob(pattern: str, case: bool) -> re.Pattern:
    rx = fnmatch.translate(pattern)
    return re.compile(rx, 0 if case else re.IGNORECASE)


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _matches_any(patterns: Iterable[str], value: str, case: bool) -> bool:
    return _hit(_any_of(tuple(patterns), case), value)


def _hit(rx: re.Pattern | bool, value: str) -> bool:
    """Does ``value`` match what ``_any_of`` made of a list of patterns?"""
    return rx is True or bool(rx and rx.match(value))


@lru_cache(maxsize=4096)
def _any_of(patterns: tuple[str, ...], case: bool) -> re.Pattern | bool:
    """One regular expression for a statement's list of patterns (True when one is "*", False when the
    list is empty): managed policies list dozens of actions, and one match beats dozens."""
    if "*" in patterns:
        return True
    if not patterns:
        return False
    rx = "|".join(fnmatch.translate(p) for p in patterns)
    return re.compile(f"(?:{rx})", 0 if case else re.IGNORECASE)


def _session_of(principal: str) -> str | None:
    """The role ARN behind an assumed-role session (a policy naming the role matches its sessions)."""
    if ":assumed-role/" not in principal:
        return None
    account = principal.split(":")[4]
    return f"arn:aws:iam::{account}:role/" + principal.split(":assumed-role/", 1)[1].split("/")[0]


def _principal_match(spec: Any, principal: str) -> str | None:
    """For resource policies: "exact" when the statement's Principal names this caller (or "*"),
    "account" when it names only the caller's account (id or ``:root``), else None."""
    if spec == "*" or spec is None:
        return "exact"
    found = None
    if isinstance(spec, dict):
        for kind, values in spec.items():
            for v in _as_list(values):
                if v == "*" or v == principal or (kind == "AWS" and _session_of(principal) == v):
                    return "exact"
                if kind == "AWS" and re.fullmatch(r"\d{12}", str(v)) and f":{v}:" in principal:
                    found = "account"
                if kind == "AWS" and str(v).endswith(":root") and str(v).split(":")[4] in principal:
                    found = "account"
    return found


def _principal_matches(spec: Any, principal: str) -> bool:
    return _principal_match(spec, principal) is not None


_CONDITION_OPS = {
    "StringEquals": lambda a, b: a == b,
    "StringNotEquals": lambda a, b: a != b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringLike": lambda a, b: bool(_glob(b, True).match(a)),
    "StringNotLike": lambda a, b: not _glob(b, True).match(a),
    "ArnEquals": lambda a, b: a == b,
    "ArnLike": lambda a, b: bool(_glob(b, True).match(a)),
    "ArnNotLike": lambda a, b: not _glob(b, True).match(a),
    "Bool": lambda a, b: str(a).lower() == str(b).lower(),
    "NumericEquals": lambda a, b: float(a) == float(b),
    "NumericLessThan": lambda a, b: float(a) < float(b),
    "NumericLessThanEquals": lambda a, b: float(a) <= float(b),
    "NumericGreaterThan": lambda a, b: float(a) > float(b),
    "NumericGreaterThanEquals": lambda a, b: float(a) >= float(b),
    "IpAddress": lambda a, b: _ip_in(a, b),
    "NotIpAddress": lambda a, b: not _ip_in(a, b),
}
_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotLike", "NotIpAddress"}


def _ip_in(a: str, b: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(a) in ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False


def _conditions_hold(block: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    """Every operator, every key, and (for each key) any of the values must hold.

    ``ForAllValues:`` needs every value of a multivalued key to match one wanted value (and holds when the
    key is absent); ``ForAnyValue:`` needs at least one.
    """
    if not block:
        return True
    for op_name, keys in block.items():
        qualifier = None
        if op_name.startswith(("ForAllValues:", "ForAnyValue:")):
            qualifier, op_name = op_name.split(":", 1)
        if_exists = op_name.endswith("IfExists")
        base = op_name[: -len("IfExists")] if if_exists else op_name
        if qualifier is not None and base != "Null":
            op = _CONDITION_OPS.get(base)
            if op is None:
                return False
            for key, wanted in keys.items():
                actual = [str(x) for x in _as_list(context.get(key))]
                wanted_values = [str(x) for x in _as_list(wanted)]
                if qualifier == "ForAllValues":
                    if not all(any(op(a, w) for w in wanted_values) for a in actual):
                        return False
                elif not any(op(a, w) for a in actual for w in wanted_values):
                    return False
            continue
        if base == "Null":
            for key, want in keys.items():
                absent = context.get(key) is None
                if absent != (str(want).lower() == "true"):
                    return False
            continue
        op = _CONDITION_OPS.get(base)
        if op is None:
            return False  # an operator we do not model never matches (fails closed)
        for key, wanted in keys.items():
            actual = context.get(key)
            if actual is None:
                if if_exists or base in _NEGATED:
                    continue
                return False
            actual_values = [str(x) for x in _as_list(actual)]
            wanted_values = [str(x) for x in _as_list(wanted)]
            if base in _NEGATED:
                ok = all(op(a, w) for a in actual_values for w in wanted_values)
            else:
                ok = any(op(a, w) for a in actual_values for w in wanted_values)
            if not ok:
                return False
    return True


def _applies_to(st: dict[str, Any], action: str, principal: str | None) -> bool:
    """The statement's Principal/NotPrincipal (resource policies only) and Action/NotAction."""
    if principal is not None and ("Principal" in st or "NotPrincipal" in st):
        if "Principal" in st and not _principal_matches(st["Principal"], principal):
            return False
        if "NotPrincipal" in st and _principal_matches(st["NotPrincipal"], principal):
            return False
    if "Action" in st and not _matches_any(_as_list(st["Action"]), action, case=False):
        return False
    return not ("NotAction" in st and _matches_any(_as_list(st["NotAction"]), action, case=False))


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _as_list(document.get("Statement"))


def evaluate(action: str, resource: str, *, identity_policies: Iterable[dict[str, Any]] = (),
             resource_policies: Iterable[dict[str, Any]] = (), principal: str | None = None,
             context: dict[str, Any] | None = None) -> Decision:
    """Decide ``action`` on ``resource`` for a principal of the resource's own account."""
    return evaluator(action, identity_policies=identity_policies, resource_policies=resource_policies,
                     principal=principal, context=context)(resource)


def evaluator(action: str, *, identity_policies: Iterable[dict[str, Any]] = (),
              resource_policies: Iterable[dict[str, Any]] = (), principal: str | None = None,
              context: dict[str, Any] | None = None) -> Callable[[str], Decision]:
    """``evaluate`` for one action, principal and context over many resources (a job reading
    thousands of objects): each statement's principal, action and condition parts, which do not
    depend on the resource, are decided once, when first needed, and only its Resource and
    NotResource are matched per resource. Decisions, and errors, are those of ``evaluate``."""
    context = context or {}
    flat = [(kind, st, who) for kind, docs, who in (("identity-based", identity_policies, None),
                                                     ("resource-based", resource_policies, principal))
            for doc in docs for st in statements(doc)]
    applies: list[bool | None] = [None] * len(flat)
    holds: list[bool | None] = [None] * len(flat)
    resources: list[tuple[Any, Any] | None] = [None] * len(flat)  # (Resource, NotResource) as _any_of gives them

    def covers(i: int, resource: str) -> bool:
        pair = resources[i]
        if pair is None:
            st = flat[i][1]
            pair = resources[i] = tuple(_any_of(tuple(_as_list(st[k])), True) if k in st else None
                                        for k in ("Resource", "NotResource"))
        rx, not_rx = pair
        return (rx is None or _hit(rx, resource)) and (not_rx is None or not _hit(not_rx, resource))

    def decide(resource: str) -> Decision:
        allow_sid: str | None = None
        allowed = False
        for i, (kind, st, who) in enumerate(flat):
            ok = applies[i]
            if ok is None:
                ok = applies[i] = _applies_to(st, action, who)
            if not ok or not covers(i, resource):
                continue
            ok = holds[i]
            if ok is None:
                ok = holds[i] = _conditions_hold(st.get("Condition"), context)
            if not ok:
                continue
            if st.get("Effect") == "Deny":
                article = "an" if kind.startswith("identity") else "a"
                return Decision(False, True, f"an explicit deny in {article} {kind} policy", st.get("Sid"))
            if st.get("Effect") == "Allow" and not allowed:
                if kind == "resource-based" and "Principal" in st and \
                        _principal_match(st["Principal"], principal or "") == "account":
                    continue  # naming the account delegates to its IAM policies; it grants nothing itself
                allowed, allow_sid = True, st.get("Sid")
        if allowed:
            return Decision(True, False, "allowed", allow_sid)
        return Decision(False, False, "no identity-based policy allows")

    return decide


def trusts_principal(trust_policy: dict[str, Any], principal: str, account: str) -> bool:
    """Does a role's trust policy let an IAM principal of ``account`` assume it (sts:AssumeRole)?

    ``{"AWS": "arn:aws:iam::<account>:root"}`` (or the bare account id) trusts every principal of the
    account whose own policies allow sts:AssumeRole; a user or role ARN trusts that identity only.
    """
    role_of_session = None
    if ":assumed-role/" in principal:
        role_of_session = f"arn:aws:iam::{account}:role/" + principal.split(":assumed-role/", 1)[1].split("/")[0]
    for st in statements(trust_policy):
        if st.get("Effect") != "Allow" or not _matches_any(_as_list(st.get("Action")), "sts:AssumeRole", case=False):
            continue
        spec = st.get("Principal")
        if spec == "*":
            return True
        if not isinstance(spec, dict):
            continue
        for v in _as_list(spec.get("AWS")):
            if v in (account, f"arn:aws:iam::{account}:root", principal, role_of_session, "*"):
                return True
    return False


def trusts(trust_policy: dict[str, Any], service_principal: str) -> bool:
    """Does a role's trust policy let ``service_principal`` (e.g. sagemaker.amazonaws.com) assume it?"""
    for st in statements(trust_policy):
        if st.get("Effect") != "Allow":
            continue
        if not _matches_any(_as_list(st.get("Action")), "sts:AssumeRole", case=False):
            continue
        spec = st.get("Principal")
        if spec == "*":
            return True
        if isinstance(spec, dict) and service_principal in _as_list(spec.get("Service")):
            return True
    return False
