"""S3: buckets and objects in memory, with the authorisation jobs go through.

Objects keep their bytes, content type, ETag (an MD5, as S3 computes for a
single-part upload), last-modified instant from the virtual clock and how they
are encrypted. Keys are kept sorted per bucket so listing is cheap even with the
thousands of objects the dataset bucket holds.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.response import StreamingBody

from engine.errors import ServiceError


@dataclass(frozen=True)
class S3Object:
    key: str
    data: bytes
    content_type: str
    etag: str
    last_modified: Any
    metadata: dict[str, str] = field(default_factory=dict)
    sse: str | None = None  # "AES256" or "aws:kms"
    kms_key_id: str | None = None


@dataclass
class Bucket:
    name: str
    created: Any
    objects: dict[str, S3Object] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted
    policy: dict | None = None

    def put(self, obj: S3Object) -> None:
        if obj.key not in self.objects:
            bisect.insort(self.keys, obj.key)
        self.objects[obj.key] = obj

    def delete(self, key: str) -> bool:
        if self.objects.pop(key, None) is None:
            return False
        i = bisect.bisect_left(self.keys, key)
        del self.keys[i]
        return True

    def under(self, prefix: str, start_after: str = "") -> list[str]:
        lo = bisect.bisect_left(self.keys, max(prefix, start_after))
        out = []
        for k in self.keys[lo:]:
            if not k.startswith(prefix):
                break
            if k > start_after:
                out.append(k)
        return out


def parse_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); https://bucket.s3... URIs too."""
    if uri.startswith("s3://"):
        rest = uri[5:]
    elif uri.startswith("https://"):
        host, _, path = uri[8:].partition("/")
        if ".s3" in host and not host.startswith("s3"):
            rest = host.split(".s3", 1)[0] + "/" + path
        else:
            rest = path
    else:
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = rest.partition("/")
    return bucket, key


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    raise ServiceError("InvalidArgument", "Body must be bytes, a string or a file-like object.")


class S3:
    def __init__(self, account: str, clock, iam):
        self.account = account
        self._clock = clock
        self._iam = iam
        self.buckets: dict[str, Bucket] = {}

    # -- engine-side helpers ------------------------------------------------
    def ensure_bucket(self, name: str) -> Bucket:
        if name not in self.buckets:
            self.buckets[name] = Bucket(name, self._clock.now)
        return self.buckets[name]

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "binary/octet-stream",
                  sse: str | None = None, kms_key_id: str | None = None,
                  metadata: dict[str, str] | None = None) -> S3Object:
        b = self._bucket(bucket)
        obj = S3Object(key, data, content_type, '"' + hashlib.md5(data).hexdigest() + '"', self._clock.now,
                       dict(metadata or {}), sse=sse or "AES256", kms_key_id=kms_key_id)
        b.put(obj)
        return obj

    def load_shared(self, bucket: str, objects: dict[str, S3Object], keys: list[str]) -> None:
        """Pre-fill a bucket with objects shared between engines (the datasets: immutable, built once)."""
        b = self.ensure_bucket(bucket)
        b.objects = dict(objects)
        b.keys = list(keys)

    def get(self, bucket: str, key: str) -> S3Object:
        obj = self._bucket(bucket).objects.get(key)
        if obj is None:
            raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})
        return obj

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return self._bucket(bucket).under(prefix)

    def authorize(self, principal: str, action: str, bucket: str, key: str | None = None,
                  context: dict | None = None):
        """IAM identity policies plus the bucket policy, for a request by ``principal``."""
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        b = self.buckets.get(bucket)
        rp = [b.policy] if b is not None and b.policy else []
        return self._iam.authorize(principal, action, resource, resource_policies=rp, context=context)

    def _bucket(self, name: str) -> Bucket:
        b = self.buckets.get(name)
        if b is None:
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": name})
        return b

    # -- API ------------------------------------------------------------------
    def create_bucket(self, p: dict, call) -> dict:
        name = p["Bucket"]
        if name in self.buckets:
            raise ServiceError("BucketAlreadyOwnedByYou",
                               "Your previous request to create the named bucket succeeded and you already own it.",
                               409, extra={"BucketName": name})
        self.ensure_bucket(name)
        return {"Location": f"/{name}"}

    def head_bucket(self, p: dict, call) -> dict:
        if p["Bucket"] not in self.buckets:
            raise ServiceError("404", "Not Found", 404)
        return {"BucketRegion": "us-east-1"}

    def get_bucket_location(self, p: dict, call) -> dict:
        self._bucket(p["Bucket"])
        return {"LocationConstraint": None}

    def list_buckets(self, p: dict, call) -> dict:
        return {"Buckets": [{"Name": b.name, "CreationDate": b.created} for _, b in sorted(self.buckets.items())],
                "Owner": {"DisplayName": "sagetutor", "ID": hashlib.sha256(self.account.encode()).hexdigest()}}

    def delete_bucket(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        if b.objects:
            raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                               extra={"BucketName": b.name})
        del self.buckets[b.name]
        return {"_status": 204}

    def put_bucket_policy(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        try:
            b.policy = json.loads(p["Policy"])
        except json.JSONDecodeError:
            raise ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'") from None
        return {"_status": 204}

    def get_bucket_policy(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        if b.policy is None:
            raise ServiceError("NoSuchBucketPolicy", "The bucket policy does not exist", 404,
                               extra={"BucketName": b.name})
        return {"Policy": json.dumps(b.policy)}

    def delete_bucket_policy(self, p: dict, call) -> dict:
        self._bucket(p["Bucket"]).policy = None
        return {"_status": 204}

    def put_object(self, p: dict, call) -> dict:
        data = _body_bytes(p.get("Body"))
        obj = self.put_bytes(p["Bucket"], p["Key"], data, p.get("ContentType", "binary/octet-stream"),
                             p.get("ServerSideEncryption"), p.get("SSEKMSKeyId"), p.get("Metadata"))
        out = {"ETag": obj.etag, "ServerSideEncryption": obj.sse}
        if obj.kms_key_id:
            out["SSEKMSKeyId"] = obj.kms_key_id
        return out

    def _head(self, obj: S3Object) -> dict:
        out = {"ContentLength": len(obj.data), "ContentType": obj.content_type, "ETag": obj.etag,
               "LastModified": obj.last_modified, "Metadata": dict(obj.metadata), "AcceptRanges": "bytes"}
        if obj.sse:
            out["ServerSideEncryption"] = obj.sse
        if obj.kms_key_id:
            out["SSEKMSKeyId"] = obj.kms_key_id
        return out

    def get_object(self, p: dict, call) -> dict:
        obj = self.get(p["Bucket"], p["Key"])
        data = obj.data
        out = self._head(obj)
        rng = p.get("Range")
        if rng and rng.startswith("bytes="):
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s) if start_s else max(0, len(data) - int(end_s))
            end = int(end_s) if (end_s and start_s) else len(data) - 1
            out["ContentRange"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
            data = data[start:end + 1]
            out["ContentLength"] = len(data)
            out["_status"] = 206
        out["Body"] = StreamingBody(io.BytesIO(data), len(data))
        return out

    def head_object(self, p: dict, call) -> dict:
        b = self.buckets.get(p["Bucket"])
        if b is None or p["Key"] not in b.objects:
            raise ServiceError("404", "Not Found", 404)
        return self._head(b.objects[p["Key"]])

    def delete_object(self, p: dict, call) -> dict:
        self._bucket(p["Bucket"]).delete(p["Key"])
        return {"_status": 204}

    def delete_objects(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        deleted = []
        for o in p["Delete"]["Objects"]:
            b.delete(o["Key"])
            deleted.append({"Key": o["Key"]})
        return {"Deleted": deleted}

    def copy_object(self, p: dict, call) -> dict:
        src = p["CopySource"]
        if isinstance(src, str):
            sb, _, sk = src.lstrip("/").partition("/")
        else:
            sb, sk = src["Bucket"], src["Key"]
        obj = self.get(sb, sk)
        new = self.put_bytes(p["Bucket"], p["Key"], obj.data, p.get("ContentType", obj.content_type))
        return {"CopyObjectResult": {"ETag": new.etag, "LastModified": new.last_modified}}

    def _list(self, p: dict, start_after: str) -> tuple[list[dict], list[dict], bool, str | None]:
        b = self._bucket(p["Bucket"])
        prefix = p.get("Prefix", "")
        delimiter = p.get("Delimiter")
        max_keys = p.get("MaxKeys", 1000)
        contents: list[dict] = []
        prefixes: list[str] = []
        last = None
        truncated = False
        for key in b.under(prefix, start_after):
            if delimiter:
                rest = key[len(prefix):]
                i = rest.find(delimiter)
                if i >= 0:
                    cp = prefix + rest[: i + len(delimiter)]
                    if prefixes and prefixes[-1] == cp:
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(cp)
                    last = key
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            o = b.objects[key]
            contents.append({"Key": key, "LastModified": o.last_modified, "ETag": o.etag, "Size": len(o.data),
                             "StorageClass": "STANDARD"})
            last = key
        return contents, [{"Prefix": cp} for cp in prefixes], truncated, last

    def list_objects_v2(self, p: dict, call) -> dict:
        start = p.get("ContinuationToken") or p.get("StartAfter") or ""
        contents, prefixes, truncated, last = self._list(p, start)
        out: dict[str, Any] = {"Name": p["Bucket"], "Prefix": p.get("Prefix", ""), "MaxKeys": p.get("MaxKeys", 1000),
                               "KeyCount": len(contents) + len(prefixes), "IsTruncated": truncated,
                               "Contents": contents}
        if not contents:
            del out["Contents"]
        if prefixes:
            out["CommonPrefixes"] = prefixes
        if p.get("Delimiter"):
            out["Delimiter"] = p["Delimiter"]
        if truncated and last is not None:
            out["NextContinuationToken"] = last
        if p.get("ContinuationToken"):
            out["ContinuationToken"] = p["ContinuationToken"]
        return out

    def list_objects(self, p: dict, call) -> dict:
        contents, prefixes, truncated, last = self._list(p, p.get("Marker", ""))
        out: dict[str, Any] = {"Name": p["Bucket"], "Prefix": p.get("Prefix", ""), "MaxKeys": p.get("MaxKeys", 1000),
                               "IsTruncated": truncated, "Marker": p.get("Marker", "")}
        if contents:
            out["Contents"] = contents
        if prefixes:
            out["CommonPrefixes"] = prefixes
        if truncated and last is not None:
            out["NextMarker"] = last
        return out
