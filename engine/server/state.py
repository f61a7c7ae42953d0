"""Resources at rest, saved as JSON between ``sagetutor serve --state FILE`` runs (never pickle).

Saved: S3 buckets (objects with their bytes base64-encoded, content type,
metadata, encryption; bucket policies and default encryption) — the shared
``sagetutor-datasets`` bucket only where it differs from the built-in one; IAM
roles, users, customer managed policies and access keys; STS session keys.
Not saved: anything that runs or is billed (jobs, endpoints, models, the clock,
the bill), nor the other services' resources. A loaded run starts a fresh clock.

The file is plain data: loading reads JSON into the engine's own dataclasses,
checking every field's type, so a hostile file can add resources but cannot
run code.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "sagetutor-serve-state/1"


def _ts(v: Any) -> str | None:
    return v.isoformat() if isinstance(v, datetime) else None


def _dt(v: Any, default: datetime) -> datetime:
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v)
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        except ValueError:
            pass
    return default


def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"state file: {what} must be a string, got {type(v).__name__}")
    return v


def _dict(v: Any, what: str) -> dict:
    if not isinstance(v, dict):
        raise ValueError(f"state file: {what} must be an object, got {type(v).__name__}")
    return v


def snapshot(engine) -> dict:
    """The engine's resources at rest, as JSON-ready data."""
    from engine.datasets import BUCKET

    w = engine._world
    s3, iam, sts = w.services["s3"], w.services["iam"], w.services["sts"]
    from engine.simulator import _dataset_bucket

    shared, _ = _dataset_bucket(engine.seed)
    buckets = []
    for b in s3.buckets.values():
        objects = []
        for key, o in b.objects.items():
            if b.name == BUCKET and shared.get(key) is o:
                continue
            objects.append({"key": key, "data": base64.b64encode(o.data).decode(), "content_type": o.content_type,
                            "etag": o.etag, "last_modified": _ts(o.last_modified), "metadata": dict(o.metadata),
                            "sse": o.sse, "kms_key_id": o.kms_key_id})
        deleted = sorted(set(shared) - set(b.objects)) if b.name == BUCKET else []
        buckets.append({"name": b.name, "created": _ts(b.created), "policy": b.policy, "encryption": b.encryption,
                        "objects": objects, "deleted_shared": deleted})
    default_roles = {"SageMakerExecutionRole"}
    roles = [{"name": r.name, "arn": r.arn, "path": r.path, "trust": r.trust, "created": _ts(r.created),
              "description": r.description, "inline": r.inline, "attached": list(r.attached),
              "max_session": r.max_session} for r in iam.roles.values() if r.name not in default_roles]
    users = [{"name": u.name, "created": _ts(u.created), "inline": u.inline, "attached": list(u.attached)}
             for u in iam.users.values()]
    policies = [{"name": p.name, "arn": p.arn, "document": p.document, "created": _ts(p.created), "path": p.path,
                 "description": p.description} for p in iam.policies.values() if ":aws:policy/" not in p.arn]
    return {"format": FORMAT, "seed": engine.seed, "s3": {"buckets": buckets},
            "iam": {"roles": roles, "users": users, "policies": policies, "access_keys": dict(iam.access_keys)},
            "sts": {"sessions": dict(sts.sessions)}}


def save(engine, path: str | os.PathLike) -> None:
    """Write the snapshot atomically (a temporary file renamed over ``path``)."""
    data = json.dumps(snapshot(engine), indent=1, sort_keys=True)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".sagetutor-state-", dir=target.parent or ".")
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.replace(tmp, target)


def load(engine, path: str | os.PathLike) -> dict[str, int]:
    """Restore a saved snapshot into a fresh engine; returns how many of each thing came back."""
    doc = _dict(json.loads(Path(path).read_text()), "the file")
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sagetutor serve state file (format {doc.get('format')!r}, expected {FORMAT!r})")
    from engine.services.iam.service import ManagedPolicy, Role, User
    from engine.services.s3 import S3Object

    w = engine._world
    s3, iam, sts = w.services["s3"], w.services["iam"], w.services["sts"]
    now = engine.now
    counts = {"buckets": 0, "objects": 0, "roles": 0, "users": 0, "policies": 0, "access_keys": 0}
    for b in _dict(doc.get("s3", {}), "s3").get("buckets", []):
        b = _dict(b, "a bucket")
        bucket = s3.ensure_bucket(_str(b["name"], "bucket name"))
        bucket.created = _dt(b.get("created"), bucket.created)
        bucket.policy = _dict(b["policy"], "bucket policy") if b.get("policy") else None
        bucket.encryption = _dict(b["encryption"], "bucket encryption") if b.get("encryption") else None
        for key in b.get("deleted_shared", []):
            bucket.delete(_str(key, "object key"))
        for o in b.get("objects", []):
            o = _dict(o, "an object")
            meta = {_str(k, "metadata key"): _str(v, "metadata value") for k, v in _dict(o.get("metadata") or {},
                                                                                          "metadata").items()}
            bucket.put(S3Object(_str(o["key"], "object key"), base64.b64decode(_str(o["data"], "object data")),
                                _str(o.get("content_type", "binary/octet-stream"), "content type"),
                                _str(o["etag"], "etag"), _dt(o.get("last_modified"), now), meta,
                                o.get("sse") if isinstance(o.get("sse"), str) else None,
                                o.get("kms_key_id") if isinstance(o.get("kms_key_id"), str) else None))
            counts["objects"] += 1
        counts["buckets"] += 1
    i = _dict(doc.get("iam", {}), "iam")
    for p in i.get("policies", []):
        p = _dict(p, "a policy")
        arn = _str(p["arn"], "policy arn")
        iam.policies[arn] = ManagedPolicy(_str(p["name"], "policy name"), arn, _dict(p["document"], "policy document"),
                                          _dt(p.get("created"), now), _str(p.get("path", "/"), "path"),
                                          _str(p.get("description", ""), "description"))
        counts["policies"] += 1
    for r in i.get("roles", []):
        r = _dict(r, "a role")
        name = _str(r["name"], "role name")
        iam.roles[name] = Role(name, _str(r["arn"], "role arn"), _str(r.get("path", "/"), "path"),
                               _dict(r["trust"], "trust policy"), _dt(r.get("created"), now),
                               _str(r.get("description", ""), "description"),
                               {_str(k, "policy name"): _dict(v, "policy") for k, v in r.get("inline", {}).items()},
                               [_str(a, "policy arn") for a in r.get("attached", [])],
                               int(r.get("max_session", 3600)))
        counts["roles"] += 1
    for u in i.get("users", []):
        u = _dict(u, "a user")
        name = _str(u["name"], "user name")
        iam.users[name] = User(name, iam.user_arn(name), _dt(u.get("created"), now),
                               {_str(k, "policy name"): _dict(v, "policy") for k, v in u.get("inline", {}).items()},
                               [_str(a, "policy arn") for a in u.get("attached", [])])
        counts["users"] += 1
    for k, v in _dict(i.get("access_keys", {}), "access keys").items():
        iam.access_keys[_str(k, "access key id")] = _str(v, "user name")
        counts["access_keys"] += 1
    for k, v in _dict(_dict(doc.get("sts", {}), "sts").get("sessions", {}), "sessions").items():
        sts.sessions[_str(k, "access key id")] = _str(v, "session arn")
    return counts
