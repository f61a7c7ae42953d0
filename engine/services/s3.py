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
from engine.security import AccessRecord, Encryption


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
    encryption: dict | None = None  # ServerSideEncryptionConfiguration; None means S3's default (SSE-S3)

    def default_sse(self) -> tuple[str, str | None]:
        """(algorithm, KMS key) new objects get when a request names none."""
        if self.encryption:
            rule = self.encryption.get("Rules", [{}])[0].get("ApplyServerSideEncryptionByDefault", {})
            return rule.get("SSEAlgorithm", "AES256"), rule.get("KMSMasterKeyID")
        return "AES256", None

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
    def __init__(self, account: str, clock, iam, world=None):
        self.account = account
        self._clock = clock
        self._iam = iam
        self.world = world  # for KMS and the security log; None only in bare unit tests
        self.buckets: dict[str, Bucket] = {}
        self.uploads: dict[str, dict] = {}  # multipart upload id -> {Bucket, Key, parts, ...}

    # -- engine-side helpers ------------------------------------------------
    def ensure_bucket(self, name: str) -> Bucket:
        if name not in self.buckets:
            self.buckets[name] = Bucket(name, self._clock.now)
        return self.buckets[name]

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "binary/octet-stream",
                  sse: str | None = None, kms_key_id: str | None = None,
                  metadata: dict[str, str] | None = None) -> S3Object:
        b = self._bucket(bucket)
        if sse is None:
            sse, default_key = b.default_sse()
            kms_key_id = kms_key_id or default_key
        if sse == "aws:kms" and self.world is not None:
            kms = self.world.services["kms"]
            found = kms.resolve(kms_key_id) if kms_key_id else kms.aws_managed_key("alias/aws/s3")
            kms_key_id = found.arn if found is not None else kms_key_id
        obj = S3Object(key, data, content_type, '"' + hashlib.md5(data).hexdigest() + '"', self._clock.now,
                       dict(metadata or {}), sse=sse, kms_key_id=kms_key_id if sse == "aws:kms" else None)
        b.put(obj)
        if self.world is not None:
            self.world.security.record_encryption(self._encryption_of(bucket, obj))
        return obj

    def _encryption_of(self, bucket: str, obj: S3Object) -> Encryption:
        arn = f"arn:aws:s3:::{bucket}/{obj.key}"
        if obj.sse != "aws:kms":
            return Encryption(arn, "s3-object", "SSE-S3")
        key = self.world.services["kms"].resolve(obj.kms_key_id) if obj.kms_key_id else None
        return Encryption(arn, "s3-object", "SSE-KMS", obj.kms_key_id,
                          customer_managed=key is not None and key.manager == "CUSTOMER")

    def kms_for_put(self, principal: str, bucket: str, sse: str | None, key_ref: str | None,
                    on_behalf_of: str | None = None):
        """The KMS use an SSE-KMS write needs (kms:GenerateDataKey via S3), or None when it needs none.

        Returns the KeyUse; the caller turns a refusal into its own error.
        """
        if sse is None:
            b = self.buckets.get(bucket)
            sse, default_key = b.default_sse() if b is not None else ("AES256", None)
            key_ref = key_ref or default_key
        if sse != "aws:kms" or self.world is None:
            return None
        kms = self.world.services["kms"]
        ref = key_ref or kms.aws_managed_key("alias/aws/s3").arn
        return kms.use(principal, ref, "kms:GenerateDataKey", via_service="s3", on_behalf_of=on_behalf_of)

    def kms_for_get(self, principal: str, obj: S3Object, on_behalf_of: str | None = None):
        """kms:Decrypt via S3 for reading an SSE-KMS object, or None for SSE-S3."""
        if obj.sse != "aws:kms" or not obj.kms_key_id or self.world is None:
            return None
        return self.world.services["kms"].use(principal, obj.kms_key_id, "kms:Decrypt", via_service="s3",
                                              on_behalf_of=on_behalf_of)

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
                  context: dict | None = None, on_behalf_of: str | None = None):
        """IAM identity policies plus the bucket policy, for a request a service makes as ``principal``.

        Recorded as a security fact; ``on_behalf_of`` names the job or endpoint the request serves.
        """
        return self.authorizer(principal, action, context=context, on_behalf_of=on_behalf_of)(bucket, key)

    def authorizer(self, principal: str, action: str, context: dict | None = None, on_behalf_of: str | None = None):
        """``authorize`` for many objects at once, ``(bucket, key) -> Decision``, each request recorded as
        ``authorize`` records it: a job reading thousands of objects has its policies' principal, action and
        conditions decided once per bucket (``policy.evaluator``), only their resources per object."""
        from engine.authz import principal_arn

        ctx = {"aws:PrincipalArn": principal_arn(principal), **(context or {})}
        per_bucket: dict[str, Any] = {}

        def decide(bucket: str, key: str | None = None):
            resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
            evaluate = per_bucket.get(bucket)
            if evaluate is None:
                b = self.buckets.get(bucket)
                rp = [b.policy] if b is not None and b.policy else []
                evaluate = per_bucket[bucket] = self._iam.authorizer(principal, action, resource_policies=rp,
                                                                     context=ctx)
            d = evaluate(resource)
            if self.world is not None:
                self.world.security.record_access(AccessRecord(self._clock.seconds, principal, action, resource,
                                                               d.allowed, d.reason, on_behalf_of))
            return d

        return decide

    def authorize_call(self, principal: str, action: str, resource: str, params: dict, context: dict):
        """For the caller's own S3 calls: the bucket policy takes part in the decision (engine.authz)."""
        b = self.buckets.get(params.get("Bucket", ""))
        if b is None or not b.policy:
            return None
        return self._iam.authorize(principal, action, resource, resource_policies=[b.policy], context=context)

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

    def _kms_denied(self, use) -> ServiceError:
        code = "AccessDenied" if use.code == "AccessDeniedException" else ("KMS." + use.code)
        return ServiceError(code, use.message, 403 if code == "AccessDenied" else 400)

    def put_bucket_encryption(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        config = p["ServerSideEncryptionConfiguration"]
        rule = (config.get("Rules") or [{}])[0].get("ApplyServerSideEncryptionByDefault", {})
        if rule.get("SSEAlgorithm") not in ("AES256", "aws:kms", "aws:kms:dsse"):
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                                               "our published schema")
        if rule.get("KMSMasterKeyID") and rule.get("SSEAlgorithm") == "AES256":
            raise ServiceError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm "
                                                  "is not aws:kms or aws:kms:dsse")
        b.encryption = config
        return {}

    def get_bucket_encryption(self, p: dict, call) -> dict:
        b = self._bucket(p["Bucket"])
        config = b.encryption or {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                             "BucketKeyEnabled": False}]}
        return {"ServerSideEncryptionConfiguration": config}

    def delete_bucket_encryption(self, p: dict, call) -> dict:
        self._bucket(p["Bucket"]).encryption = None
        return {"_status": 204}

    def put_object(self, p: dict, call) -> dict:
        data = _body_bytes(p.get("Body"))
        self._bucket(p["Bucket"])
        use = self.kms_for_put(call.principal, p["Bucket"], p.get("ServerSideEncryption"), p.get("SSEKMSKeyId"))
        if use is not None and not use.allowed:
            raise self._kms_denied(use)
        obj = self.put_bytes(p["Bucket"], p["Key"], data, p.get("ContentType", "binary/octet-stream"),
                             p.get("ServerSideEncryption"), use.key_arn if use is not None else p.get("SSEKMSKeyId"),
                             p.get("Metadata"))
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
        use = self.kms_for_get(call.principal, obj)
        if use is not None and not use.allowed:
            raise self._kms_denied(use)
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

    # -- multipart uploads (boto3's upload_file uses them above 8 MiB) ----------------------------
    def create_multipart_upload(self, p: dict, call) -> dict:
        self._bucket(p["Bucket"])
        upload_id = hashlib.sha256(f"{p['Bucket']}/{p['Key']}/{len(self.uploads)}".encode()).hexdigest()[:32]
        self.uploads[upload_id] = {"Bucket": p["Bucket"], "Key": p["Key"], "parts": {},
                                   "ContentType": p.get("ContentType", "binary/octet-stream"),
                                   "ServerSideEncryption": p.get("ServerSideEncryption"),
                                   "SSEKMSKeyId": p.get("SSEKMSKeyId"), "Metadata": p.get("Metadata")}
        return {"Bucket": p["Bucket"], "Key": p["Key"], "UploadId": upload_id}

    def _upload(self, p: dict) -> dict:
        up = self.uploads.get(p["UploadId"])
        if up is None or up["Bucket"] != p["Bucket"] or up["Key"] != p["Key"]:
            raise ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                                               "or the upload may have been aborted or completed.", 404,
                               extra={"UploadId": p["UploadId"]})
        return up

    def upload_part(self, p: dict, call) -> dict:
        up = self._upload(p)
        n = p["PartNumber"]
        if not 1 <= n <= 10000:
            raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        data = _body_bytes(p.get("Body"))
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        up["parts"][n] = (data, etag)
        return {"ETag": etag}

    def list_parts(self, p: dict, call) -> dict:
        up = self._upload(p)
        return {"Bucket": p["Bucket"], "Key": p["Key"], "UploadId": p["UploadId"], "IsTruncated": False,
                "Parts": [{"PartNumber": n, "ETag": e, "Size": len(d)} for n, (d, e) in sorted(up["parts"].items())]}

    def complete_multipart_upload(self, p: dict, call) -> dict:
        up = self._upload(p)
        chosen = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not chosen:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                                               "against our published schema")
        numbers = [c["PartNumber"] for c in chosen]
        if numbers != sorted(numbers):
            raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order.")
        for c in chosen:
            part = up["parts"].get(c["PartNumber"])
            if part is None or (c.get("ETag") and c["ETag"].strip('"') != part[1].strip('"')):
                raise ServiceError("InvalidPart", "One or more of the specified parts could not be found.")
        data = b"".join(up["parts"][n][0] for n in numbers)
        digest = hashlib.md5(b"".join(bytes.fromhex(up["parts"][n][1].strip('"')) for n in numbers)).hexdigest()
        obj = self.put_object({"Bucket": up["Bucket"], "Key": up["Key"], "Body": data,
                               "ContentType": up["ContentType"], "ServerSideEncryption": up["ServerSideEncryption"],
                               "SSEKMSKeyId": up["SSEKMSKeyId"], "Metadata": up["Metadata"]}, call)
        b = self.buckets[up["Bucket"]]
        stored = b.objects[up["Key"]]
        etag = f'"{digest}-{len(numbers)}"'
        from dataclasses import replace

        b.objects[up["Key"]] = replace(stored, etag=etag)
        del self.uploads[p["UploadId"]]
        return {"Bucket": up["Bucket"], "Key": up["Key"], "ETag": etag,
                "Location": f"https://{up['Bucket']}.s3.amazonaws.com/{up['Key']}",
                "ServerSideEncryption": obj.get("ServerSideEncryption")}

    def abort_multipart_upload(self, p: dict, call) -> dict:
        self._upload(p)
        del self.uploads[p["UploadId"]]
        return {"_status": 204}
