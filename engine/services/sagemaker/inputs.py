"""The S3 objects a job's input names: everything under a prefix, or what a manifest file lists.

Training channels and transform inputs resolve their objects the same way, with
AWS's texts for what goes wrong ("No S3 objects found under S3 URL ...", an
invalid manifest, a denied s3:ListBucket or s3:GetObject), so both share this.
"""

from __future__ import annotations

import json

from engine.errors import ServiceError
from engine.services.iam.policy import not_authorized
from engine.services.s3 import parse_uri


class InputError(Exception):
    """The input names no readable objects; the message is AWS's text without a ClientError prefix."""


def denied(principal: str, action: str, resource: str, decision) -> str:
    return f"Data download failed: AccessDenied (403): {not_authorized(principal, action, resource, decision)}"


def list_objects(s3, uri: str, data_type: str, role: str | None, region: str,
                 principal: str | None = None, context: dict | None = None,
                 on_behalf_of: str | None = None) -> list[tuple[str, str, str]]:
    """(bucket, key, name relative to the input's "directory") of every input object.

    With ``principal`` the reads are authorised as that identity (s3:ListBucket on the
    bucket for a prefix, s3:GetObject on a manifest file).
    """
    bucket, prefix = parse_uri(uri)
    missing = (f"No S3 objects found under S3 URL \"{uri}\" given in input data source. Please ensure that the "
               f"bucket exists in the selected region ({region}), that objects exist under that S3 prefix, and that "
               f"the role \"{role or 'of the model'}\" has \"s3:ListBucket\" permissions on bucket \"{bucket}\".")
    if bucket not in s3.buckets:
        raise InputError(missing)
    if data_type == "ManifestFile":
        if principal is not None:
            d = s3.authorize(principal, "s3:GetObject", bucket, prefix, context=context, on_behalf_of=on_behalf_of)
            if not d.allowed:
                raise InputError(denied(principal, "s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}", d))
        try:
            manifest = json.loads(s3.get(bucket, prefix).data)
            base_bucket, base = parse_uri(manifest[0]["prefix"])
            out = [(base_bucket, base + rel, rel) for rel in manifest[1:]]
        except (ServiceError, ValueError, KeyError, IndexError, TypeError):
            raise InputError(f"The manifest file {uri} is not a valid SageMaker manifest: expected "
                             "[{\"prefix\": \"s3://bucket/prefix/\"}, \"relative/key\", ...].") from None
        if not out:
            raise InputError(missing)
        return out
    if principal is not None:
        d = s3.authorize(principal, "s3:ListBucket", bucket, context=context, on_behalf_of=on_behalf_of)
        if not d.allowed:
            raise InputError(denied(principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", d))
    base = prefix[:prefix.rfind("/") + 1]  # names are relative to the prefix's "directory"
    keys = [k for k in s3.list_keys(bucket, prefix) if not k.endswith("/")]
    if not keys:
        raise InputError(missing)
    return [(bucket, k, k[len(base):]) for k in keys]
