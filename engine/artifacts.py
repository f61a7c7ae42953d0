"""Model artifacts and checkpoints: real files, loaded only if the engine wrote them.

``model.tar.gz`` holds ``manifest.json`` (format, algorithm, kind, SHA-256 of the
payload) and ``model.bin``. Loading verifies the manifest and then requires the
payload's digest to be one this process's engines wrote, *before* anything is
deserialised: a tarball from elsewhere (or a tampered one) is refused with a
clear message and its bytes are never unpickled. Archives are byte-for-byte
deterministic (fixed mtimes, no owner names, gzip header without a timestamp).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from collections import OrderedDict

FORMAT = "sagetutor-artifact/1"

_trusted: set[str] = set()
_lock = threading.Lock()
_packed: OrderedDict[str, bytes] = OrderedDict()  # digest of the members -> archive bytes (the last few)
_PACKED_MAX_BYTES = 32 * 1024 * 1024
#: id of archive bytes -> (the bytes, manifest JSON, payload, other files): the last few unpacked
_unpacked: OrderedDict[int, tuple[bytes, bytes, bytes, dict[str, bytes]]] = OrderedDict()


class ArtifactError(ValueError):
    """The bytes are not an artifact this engine can load."""


def _trust(digest: str) -> None:
    with _lock:
        _trusted.add(digest)


def is_trusted(digest: str) -> bool:
    with _lock:
        return digest in _trusted


def pack(kind: str, algorithm: str, payload: bytes, extra: dict | None = None, files: dict[str, bytes] | None = None) -> bytes:
    """A deterministic tar.gz with a manifest; the payload's digest becomes trusted.

    The same model is often packed again (every plan of a quiz question trains the same shared
    model on its own engine), so the last few archives are kept by a digest of everything that goes
    into them: a repeat costs one hash instead of a tar and a gzip pass.
    """
    digest = hashlib.sha256(payload).hexdigest()
    manifest = {"format": FORMAT, "kind": kind, "algorithm": algorithm, "sha256": digest, **(extra or {})}
    members = {"manifest.json": json.dumps(manifest, sort_keys=True, indent=1).encode(), "model.bin": payload}
    for name, data in sorted((files or {}).items()):
        members[name] = data
    key = hashlib.sha256(b"".join(hashlib.sha256(name.encode() + b"\0" + data).digest()  # the manifest
                                  for name, data in members.items() if name != "model.bin")).hexdigest()  # has its digest
    with _lock:
        _trusted.add(digest)
        cached = _packed.get(key)
        if cached is not None:
            _packed.move_to_end(key)
            return cached
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=1) as gz:
        gz.write(raw.getvalue())
    archive = out.getvalue()
    with _lock:
        _packed[key] = archive
        _trim(_packed, len)
    return archive


def _trim(memo: OrderedDict, size) -> None:
    """Forget the oldest entries of ``memo`` until the bytes its values hold (``size`` of each) are within
    _PACKED_MAX_BYTES, keeping the newest one. Call with ``_lock`` held."""
    total = sum(map(size, memo.values()))
    while total > _PACKED_MAX_BYTES and len(memo) > 1:
        total -= size(memo.popitem(last=False)[1])


def unpack(data: bytes, where: str = "the artifact") -> tuple[dict, bytes, dict[str, bytes]]:
    """Manifest, verified payload and other files of an archive ``pack`` wrote.

    Raises ArtifactError naming ``where`` for anything else; never deserialises. The same archive
    object is read again and again (every option of a quiz question deploys the same shared model
    from its own engine's S3, which holds the bytes ``pack`` returned), so the last few archives
    unpacked are remembered by the identity of their bytes: a repeat was verified when it was first
    unpacked (and trust is never withdrawn), so it only parses the manifest again, for a dict of its
    own, and does not decompress.
    """
    with _lock:
        hit = _unpacked.get(id(data))
        if hit is not None and hit[0] is data:
            _unpacked.move_to_end(id(data))
    if hit is not None and hit[0] is data:
        _, manifest_json, payload, files = hit
        return json.loads(manifest_json), payload, dict(files)
    manifest, payload, files, manifest_json = _unpack(data, where)
    with _lock:
        _unpacked[id(data)] = (data, manifest_json, payload, dict(files))  # the reference keeps the id
        _trim(_unpacked, lambda v: len(v[0]) + len(v[2]) + sum(map(len, v[3].values())))
    return manifest, payload, files


def _unpack(data: bytes, where: str) -> tuple[dict, bytes, dict[str, bytes], bytes]:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            raw = gz.read(512 * 1024 * 1024)
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for m in tar.getmembers():
                if not m.isfile() or m.name.startswith("/") or ".." in m.name.split("/"):
                    raise ArtifactError(f"{where} contains an unsafe entry {m.name!r}")
                f = tar.extractfile(m)
                files[m.name] = f.read() if f else b""
    except (OSError, EOFError, tarfile.TarError) as e:
        raise ArtifactError(f"{where} is not a gzipped tar archive ({e})") from None
    if "manifest.json" not in files or "model.bin" not in files:
        raise ArtifactError(f"{where} was not written by SageTutor: it has no manifest.json and model.bin")
    manifest_json = files.pop("manifest.json")
    try:
        manifest = json.loads(manifest_json)
    except ValueError:
        raise ArtifactError(f"{where} has a manifest.json that is not JSON") from None
    payload = files.pop("model.bin")
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{where} has an unknown format {manifest.get('format')!r} (expected {FORMAT})")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest.get("sha256"):
        raise ArtifactError(f"{where} was modified: its model.bin does not match the digest in its manifest")
    if not is_trusted(digest):
        raise ArtifactError(
            f"{where} was not produced by this SageTutor engine; for safety only artifacts the engine "
            "wrote itself are loaded")
    return manifest, payload, files, manifest_json
