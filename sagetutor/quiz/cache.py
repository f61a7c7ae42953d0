"""The on-disk outcome cache: a question answered twice does not simulate twice.

Outcomes are deterministic for (pack content, question, params variant, seed, engine
version), so they are cached under exactly that key, in ``platformdirs.user_cache_dir
("sagetutor")/outcomes`` (``$SAGETUTOR_CACHE_DIR`` overrides the folder), one JSON file per
(key), holding every plan of the question simulated so far (option id, or the order of an
ordering question -> outcome)::

    {"format": 1, "key": "<sha256>", "meta": {...the key's parts...}, "plans": {"spot": {...}, ...}}

* **Pack content** is the SHA-256 of the pack file's bytes: any edit, even a comment, is a
  new key.
* **Engine version** (``engine_version()``) is the ``sagetutor`` distribution's version plus a
  digest of everything an outcome is computed from: the ``engine`` package's source and data
  files, the quiz runtime's and the plan and requirement languages' source, and the versions
  of the libraries that compute (numpy, scipy, scikit-learn, botocore, simpy). A changed
  engine - released or only edited in a checkout - is a new key, so a stale outcome is never
  served. (Computed once per process, in a few milliseconds.)
* Writes are atomic (a temporary file in the same folder, then ``os.replace``). A damaged,
  truncated or foreign entry is ignored and rewritten; a folder that cannot be written just
  means no caching. Nothing here raises.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = 1
APP = "sagetutor"
#: Libraries whose versions change what the engine computes.
LIBRARIES = ("numpy", "scipy", "scikit-learn", "botocore", "simpy", "pyarrow")
#: Sources of the app that shape an outcome (relative to the ``sagetutor`` package).
APP_SOURCES = ("quiz/runner.py", "quiz/outcome.py", "quiz/shared.py", "quiz/cache.py", "packs/plan.py",
               "packs/requirements.py", "packs/params.py", "packs/units.py", "packs/model.py")


def _version(dist: str) -> str:
    import importlib.metadata  # here, not at the top: the TUI imports this module at launch (content_hash)

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


@functools.cache
def engine_version() -> str:
    """``<sagetutor version>+<digest>`` of the engine's and the runtime's sources and the libraries."""
    import engine
    import sagetutor

    h = hashlib.sha256()
    roots = [(Path(engine.__file__).resolve().parent, None),
             (Path(sagetutor.__file__).resolve().parent, APP_SOURCES)]
    for root, only in roots:
        if only is None:
            files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".txt", ".csv")
                           and "__pycache__" not in p.parts)
        else:
            files = [root / rel for rel in only if (root / rel).is_file()]
        for p in files:
            h.update(str(p.relative_to(root.parent)).replace(os.sep, "/").encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    for lib in LIBRARIES:
        h.update(f"{lib}={_version(lib)}\n".encode())
    return f"{_version('sagetutor')}+{h.hexdigest()[:16]}"


def content_hash(data: bytes | str) -> str:
    """The pack content part of the key: SHA-256 of the file's bytes."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def default_dir() -> Path:
    env = os.environ.get("SAGETUTOR_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def make_key(*, pack: str, question: str, params: Mapping[str, Any], seed: int, engine: str) -> tuple[str, dict]:
    """(the cache key, its parts) for one question variant at one seed."""
    meta = {"pack": pack, "question": question, "params": params, "seed": int(seed), "engine": engine}
    text = json.dumps(meta, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest(), json.loads(text)


class OutcomeCache:
    """Outcomes on disk, by key; every failure is a miss, never an exception."""

    def __init__(self, root: Path | str | None = None):
        self.root = (Path(root) if root is not None else default_dir()) / "outcomes"
        self.damaged = 0  # entries found unreadable (ignored, then rewritten)
        self.write_errors = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str) -> dict[str, dict]:
        """The plans cached under ``key`` (plan key -> outcome); ``{}`` when none or the entry is damaged."""
        p = self.path(key)
        try:
            raw = p.read_bytes()
        except OSError:
            return {}
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
                raise ValueError("not an outcome cache entry for this key")
            plans = data.get("plans")
            if not isinstance(plans, dict) or not all(isinstance(k, str) and isinstance(v, dict)
                                                      for k, v in plans.items()):
                raise ValueError("plans is not a mapping of outcomes")
            return plans
        except (ValueError, TypeError, RecursionError):
            self.damaged += 1
            return {}

    def store(self, key: str, meta: Mapping[str, Any], plans: Mapping[str, dict]) -> bool:
        """Write ``plans`` under ``key`` atomically; False (and no exception) when it cannot be written."""
        p = self.path(key)
        body = json.dumps({"format": FORMAT, "key": key, "meta": meta, "plans": plans}, sort_keys=True,
                          separators=(",", ":")).encode()
        tmp = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}-", suffix=".tmp", dir=p.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, p)
            return True
        except (OSError, ValueError):
            self.write_errors += 1
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return False

    def clear(self) -> None:
        """Delete every cached outcome (best effort)."""
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)
