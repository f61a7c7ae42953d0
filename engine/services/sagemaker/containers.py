"""Script mode and bring-your-own-container: the learner's own Python really runs.

SageTutor runs no containers. For the scikit-learn framework image (script mode)
it does what AWS's sagemaker-training toolkit does inside that image: it fetches
``sagemaker_submit_directory`` (a ``sourcedir.tar.gz`` in S3, read as the job's
role), unpacks it, and runs ``python <sagemaker_program> <hyperparameters as
arguments>``. For an image in the learner's own ECR whose manifest carries a
``sagetutor`` section (docs/custom-algorithms.md), it runs the registered local
``train`` program as ``python train.py train``, as a container's ``train`` entry.

Both run in a subprocess, in a temporary directory laid out like ``/opt/ml``
(channels, ``input/config/*.json``, ``model/``, ``output/``, ``checkpoints/``,
``code/``), with the environment variables the toolkit sets (``SM_MODEL_DIR``,
``SM_CHANNEL_TRAIN`` ...) and nothing from the engine's own environment but
``PATH``. What a caller may rely on:

* **Safety.** Only code the learner supplied runs: their own S3 upload or the
  file their own ECR manifest names. Archives are unpacked member by member;
  absolute paths, ``..``, links and special files are refused, and sizes are
  bounded. Nothing is ever unpickled; the model is the model directory as bytes.
* **Time.** Wall time is not deterministic, so the simulated cost of the run is
  ``OPS_PER_BYTE`` operations per byte of input data, one unit named "run".
  The script itself runs once, when that simulated time has passed, bounded by
  ``TIMEOUT_SECONDS`` of real time.
* **Determinism.** ``PYTHONHASHSEED=0`` and the job's seed in ``SM_SEED``; the
  model tar has sorted names and zero mtimes; metrics are read from stdout, then
  stderr, in order. Same inputs give the same metrics and model bytes when the
  script itself is deterministic.
* **Failures.** A user error (bad archive, access denied, no entry point) raises
  AlgorithmClientError; a script exiting non-zero raises AlgorithmError with the
  toolkit's ``ExecuteUserScriptError`` text, or the first 1024 characters of
  ``/opt/ml/output/failure`` when the script wrote one.
* **Logs.** The script's output is written to the job's CloudWatch log stream
  and kept on the trainer as ``log_lines`` (``logs_written`` says it was done).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from engine.algorithms.base import (
    Algorithm,
    AlgorithmClientError,
    AlgorithmError,
    Capabilities,
    ChannelData,
    MetricSpec,
    Model,
    Trainer,
    UnitRecord,
)
from engine.errors import ServiceError
from engine.pricing import instance_spec
from engine.services.s3 import parse_uri

OPS_PER_BYTE = 2_000  # simulated operations per byte of input data (the whole run is one unit)
TIMEOUT_SECONDS = 300  # real seconds a script may run
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024  # sourcedir.tar.gz as stored in S3
MAX_SOURCE_BYTES = 128 * 1024 * 1024  # what it may expand to
MAX_SOURCE_MEMBERS = 10_000
TAR_OVERHEAD_BYTES = 16 * 1024 * 1024  # headers and padding allowed on top of MAX_SOURCE_BYTES
MAX_OUTPUT_FILE = 256 * 1024 * 1024  # stdout or stderr beyond this stops the script
POLL_SECONDS = 0.25  # how often a running script's output size is checked
MAX_MODEL_BYTES = 256 * 1024 * 1024  # the model directory, in total
MAX_LOG_BYTES = 1024 * 1024  # the tail of stdout and of stderr that is kept
MAX_LOG_LINE = 8 * 1024  # characters per log line
FAILURE_CHARS = 1024  # AWS: the first 1024 characters of /opt/ml/output/failure
ERROR_MESSAGE_CHARS = 700  # the stderr tail quoted in ExecuteUserScriptError
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HOST = "algo-1"  # the only host that really runs

#: Hyperparameters the SageMaker Python SDK adds that the toolkit consumes itself.
_TOOLKIT_HPS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region", "sagemaker_job_name",
                "sagemaker_container_log_level")

MANIFEST_HELP = (
    "SageTutor runs no containers: a bring-your-own image is an ECR image manifest (JSON, pushed with "
    "ecr.put_image) whose top-level \"sagetutor\" object names your own Python training script by absolute "
    "path, for example {\"schemaVersion\": 2, \"mediaType\": "
    "\"application/vnd.docker.distribution.manifest.v2+json\", \"config\": {...}, \"layers\": [], "
    "\"sagetutor\": {\"train\": \"/abs/path/to/train.py\", \"serve\": \"/abs/path/to/serve.py\", "
    "\"checkpointing\": false, \"gpu_accelerated\": false}}. See docs/custom-algorithms.md.")


# -- entry point -----------------------------------------------------------------------
def runner_for(image, world, request: dict) -> ContainerRunner:
    """The runner for a script-mode ("sklearn") or bring-your-own ("custom") image.

    Never raises: the job's process calls this before it can report failures, so
    every problem (no manifest entry, a missing file) is kept and raised as an
    AlgorithmClientError when the job starts training, as AWS reports it.
    """
    if image.kind == "custom":
        ecr = world.services.get("ecr")
        manifest = ecr.resolve_image(image.repository, image.tag) if ecr is not None else None
        return ByocRunner(image, world, request, manifest)
    return ScriptModeRunner(image, world, request)


# -- small helpers ------------------------------------------------------------------------
def _unquote(value: str) -> str:
    """Strip one level of JSON string quoting (the SageMaker SDK JSON-encodes hyperparameters)."""
    try:
        decoded = json.loads(value)
    except (ValueError, TypeError):
        return value
    return decoded if isinstance(decoded, str) else value


def _decode_hp(value: str) -> Any:
    """The toolkit's reading of a hyperparameter: JSON if it parses, else the string itself."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def _env_value(value: Any) -> str:
    """The toolkit's ``mapping.to_env_vars`` formatting: strings as-is, anything else compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def to_cmd_args(hps: dict[str, Any]) -> list[str]:
    """The toolkit's ``mapping.to_cmd_args``: sorted names, ``--name value`` (``-n value`` for a
    one-character name), dicts as ``k=v,k2=v2``."""
    args: list[str] = []
    for key in sorted(hps):
        name = str(key)
        value = hps[key]
        if isinstance(value, dict):
            text = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            text = "" if value is None else str(value)
        args += [f"--{name}" if len(name) > 1 else f"-{name}", text]
    return args


def _split_path(name: str) -> list[str] | None:
    """The components of a relative archive path, or None if it is absolute or climbs out with ``..``."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\0" in name:
        return None
    parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
    if ".." in parts:
        return None
    return parts


def read_source_archive(data: bytes, where: str) -> dict[str, bytes | None]:
    """The members of a tar.gz (or plain tar) archive, checked one by one: relative path -> bytes
    (None for a directory).

    Raises AlgorithmClientError naming the first unsafe member: an absolute path, a
    ``..`` component, a symbolic or hard link, a device or FIFO, or an archive that
    expands beyond the size and member limits. Nothing is written to disk here.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        raise AlgorithmClientError(f"The source archive {where} is {len(data)} bytes; SageTutor accepts source "
                                   f"archives up to {MAX_ARCHIVE_BYTES} bytes.")
    stream = data
    if data[:2] == b"\x1f\x8b":  # gzip: decompress with a bound first, so no header can balloon
        limit = MAX_SOURCE_BYTES + TAR_OVERHEAD_BYTES
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                stream = gz.read(limit + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise AlgorithmClientError(f"The source archive {where} is not a readable tar.gz archive ({e}). "
                                       "Create it with: tar -czf sourcedir.tar.gz -C <your source dir> .") from None
        if len(stream) > limit:
            raise AlgorithmClientError(f"The source archive {where} expands to more than {MAX_SOURCE_BYTES} bytes; "
                                       "SageTutor refuses it.")
    out: dict[str, bytes | None] = {}
    total = 0
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(stream), mode="r:") as tar:
            for member in tar:
                count += 1
                if count > MAX_SOURCE_MEMBERS:
                    raise AlgorithmClientError(f"The source archive {where} has more than {MAX_SOURCE_MEMBERS} "
                                               "members; SageTutor refuses it.")
                name = member.name
                parts = _split_path(name)
                if parts is None:
                    raise AlgorithmClientError(
                        f"The source archive {where} contains an unsafe member {name!r}: its path is absolute or "
                        "leaves the archive's directory with '..'. SageTutor extracts only relative paths inside "
                        "the archive.")
                if member.issym() or member.islnk():
                    raise AlgorithmClientError(
                        f"The source archive {where} contains an unsafe member {name!r}: it is a link "
                        f"(to {member.linkname!r}). SageTutor extracts only regular files and directories.")
                if not (member.isfile() or member.isdir()):
                    raise AlgorithmClientError(
                        f"The source archive {where} contains an unsafe member {name!r}: it is a device, FIFO or "
                        "other special file. SageTutor extracts only regular files and directories.")
                if not parts:
                    continue  # "./" itself
                rel = "/".join(parts)
                if member.isdir():
                    out.setdefault(rel, None)
                    continue
                total += member.size
                if total > MAX_SOURCE_BYTES:
                    raise AlgorithmClientError(f"The source archive {where} expands to more than {MAX_SOURCE_BYTES} "
                                               f"bytes (at member {name!r}); SageTutor refuses it.")
                f = tar.extractfile(member)
                out[rel] = f.read() if f is not None else b""
    except AlgorithmClientError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise AlgorithmClientError(f"The source archive {where} is not a readable tar.gz archive ({e}). Create "
                                   "it with: tar -czf sourcedir.tar.gz -C <your source dir> .") from None
    return out


def _write_tree(base: Path, files: dict[str, bytes | None], where: str) -> None:
    """Write checked relative paths under ``base``, never outside it."""
    root = base.resolve()
    for rel in sorted(files):
        target = (base / rel).resolve()
        if target != root and root not in target.parents:
            raise AlgorithmClientError(f"{where}: member {rel!r} would be written outside its directory.")
        data = files[rel]
        try:
            if data is None:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o644)
        except OSError as e:
            raise AlgorithmClientError(f"{where}: cannot write member {rel!r} ({e.strerror or e}).") from None


def tar_directory(base: Path, limit: int = MAX_MODEL_BYTES) -> bytes:
    """A deterministic, uncompressed tar of a directory: sorted names, mtime 0, no owners.

    Only regular files and directories are kept; links and special files are
    skipped (never followed). Raises AlgorithmError beyond ``limit`` bytes.
    """
    entries: list[tuple[str, Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        here = Path(dirpath)
        for d in dirnames:
            p = here / d
            if stat.S_ISDIR(os.lstat(p).st_mode):
                entries.append((p.relative_to(base).as_posix(), p, True))
        for f in filenames:
            p = here / f
            if stat.S_ISREG(os.lstat(p).st_mode):
                entries.append((p.relative_to(base).as_posix(), p, False))
    entries.sort(key=lambda e: e[0])
    raw = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path, is_dir in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            data = path.read_bytes()
            total += len(data)
            if total > limit:
                raise AlgorithmError(f"the model directory holds more than {limit} bytes, SageTutor's limit")
            info.size = len(data)
            info.mode = 0o755 if os.lstat(path).st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _channel_files(data: ChannelData, channel_request: dict | None) -> dict[str, bytes]:
    """Where each object of a channel lands under /opt/ml/input/data/<channel>/: its key relative to the
    S3 prefix's directory (its basename for a flat prefix), as SageMaker's File mode lays it out."""
    base = ""
    if channel_request is not None:
        try:
            _, prefix = parse_uri(channel_request["DataSource"]["S3DataSource"]["S3Uri"])
            base = prefix[:prefix.rfind("/") + 1]
        except (KeyError, TypeError, ValueError):
            base = ""
    out: dict[str, bytes] = {}
    for i, (key, blob) in enumerate(data.objects):
        rel = key[len(base):] if base and key.startswith(base) else key.rsplit("/", 1)[-1]
        parts = _split_path(rel)
        if not parts:
            parts = _split_path(key.rsplit("/", 1)[-1]) or [f"object-{i:05d}"]
        name = "/".join(parts)
        while name in out:
            name += f".{i}"
        out[name] = blob
    return out


def _tail_lines(path: Path, limit: int, what: str) -> list[str]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size > limit:
            f.seek(size - limit)
        data = f.read(limit)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > limit:
        lines = [f"[SageTutor: the first {size - limit} bytes of {what} were not kept]"] + lines[1:]
    return [line[:MAX_LOG_LINE] for line in lines]


def _kill(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, 9)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _guess_direction(name: str) -> str:
    low = name.lower()
    return "Minimize" if any(w in low for w in ("loss", "error", "rmse", "mse", "mae", "perplexity")) else "Maximize"


# -- what one run needs -----------------------------------------------------------------------
class _Program:
    """What to run: the argv, where the code lives (source files to write, or none), how AWS shows it."""

    def __init__(self, argv: list[str], source: dict[str, bytes | None], entry_point: str, module_dir: str):
        self.argv = argv
        self.source = source
        self.entry_point = entry_point
        self.module_dir = module_dir

    @property
    def command(self) -> str:
        return " ".join(self.argv)


class ContainerRunner(Algorithm):
    """Looks like an Algorithm to the training code; subclasses say where the program comes from."""

    kind = "script"

    def __init__(self, image, world, request: dict):
        self.image = image
        self.world = world
        self.request = request
        self.repository = image.repository
        self.tag = image.tag
        self.problem: str | None = None  # a manifest problem, raised when training starts
        self.metric_definitions: list[tuple[str, str]] = []
        for d in (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []:
            if isinstance(d, dict) and isinstance(d.get("Name"), str) and isinstance(d.get("Regex"), str):
                self.metric_definitions.append((d["Name"], d["Regex"]))
        self.metrics = tuple(MetricSpec(n, _guess_direction(n)) for n, _ in self.metric_definitions)

    # -- Algorithm -------------------------------------------------------------------------
    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        raw = {str(k): str(v) for k, v in (raw or {}).items()}
        user = {k: v for k, v in raw.items() if not k.startswith("sagemaker_")}
        framework = {k: _decode_hp(v) for k, v in raw.items()
                     if k.startswith("sagemaker_") and k not in _TOOLKIT_HPS}
        log_level = _decode_hp(raw.get("sagemaker_container_log_level", "20"))
        return {"raw": raw, "user": user, "decoded": {k: _decode_hp(v) for k, v in user.items()},
                "framework": framework, "log_level": log_level if isinstance(log_level, int) else 20}

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> ContainerTrainer:
        if self.problem:
            raise AlgorithmClientError(self.problem)
        metrics = []
        for name, regex in self.metric_definitions:
            try:
                metrics.append((name, re.compile(regex)))
            except re.error as e:
                raise AlgorithmClientError(f"MetricDefinitions: the Regex {regex!r} of metric {name!r} is not a "
                                           f"valid regular expression ({e}).") from None
        program = self.program(hp)
        own = dict(channels)
        if shards and "train" in own:
            own["train"] = shards[0]  # what algo-1 sees; only algo-1 really runs
        total_bytes = sum(len(b) for ch in channels.values() for _, b in ch.objects)
        return ContainerTrainer(self, hp, own, total_bytes, seed, instance_count, program, metrics)

    def load_model(self, data: bytes) -> ContainerModel:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                names = [m.name for m in tar if m.isfile()]
        except tarfile.TarError as e:
            raise AlgorithmError(f"the model is not a tar archive ({e})") from None
        return ContainerModel(self.name, data, names)

    # -- for subclasses ---------------------------------------------------------------------------
    def program(self, hp: dict[str, Any]) -> _Program:
        raise NotImplementedError

    def num_gpus(self, spec) -> int:
        return 0

    def framework_module(self) -> str | None:
        return None

    # -- helpers ------------------------------------------------------------------------------
    def principal(self) -> str:
        return self.world.services["iam"].session_arn(self.request["RoleArn"])

    @property
    def isolated(self) -> bool:
        return bool(self.request.get("EnableNetworkIsolation"))

    def outbound_route(self):
        """The path the container's own connections to the internet would take (engine.network)."""
        from engine import network

        vpc = self.request.get("VpcConfig")
        ec2 = self.world.services["ec2"]
        placement = network.place(ec2, vpc["Subnets"], vpc["SecurityGroupIds"]) if vpc else None
        return network.route(ec2, placement, "internet")

    def arn(self) -> str:
        return self.world.arn("sagemaker", f"training-job/{self.request.get('TrainingJobName', '').lower()}")


class ScriptModeRunner(ContainerRunner):
    """AWS's scikit-learn framework image: ``sagemaker_program`` from ``sagemaker_submit_directory``."""

    def __init__(self, image, world, request: dict):
        super().__init__(image, world, request)
        self.name = "sklearn"
        self.capabilities = Capabilities(
            multi_instance=True, checkpointing=False, processors=frozenset({"cpu"}), gpu_accelerated=False,
            incremental=False, content_types=("*/*",), default_content_type="application/octet-stream",
            required_channels=(), optional_channels=())

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = super().parse_hyperparameters(raw)
        missing = [k for k in ("sagemaker_program", "sagemaker_submit_directory") if k not in hp["raw"]]
        if missing:
            raise AlgorithmClientError(
                f"Script mode needs the hyperparameter(s) {', '.join(missing)}: sagemaker_program names the entry "
                "point (e.g. \"train.py\") and sagemaker_submit_directory is the S3 URI of a sourcedir.tar.gz "
                "holding it, as the SageMaker Python SDK's SKLearn estimator sets them.")
        hp["program"] = _unquote(hp["raw"]["sagemaker_program"])
        hp["submit_directory"] = _unquote(hp["raw"]["sagemaker_submit_directory"])
        return hp

    def framework_module(self) -> str | None:
        return "sagemaker_sklearn_container.training:main"

    def program(self, hp: dict[str, Any]) -> _Program:
        entry = hp["program"]
        uri = hp["submit_directory"]
        parts = _split_path(entry)
        if not parts:
            raise AlgorithmClientError(f"sagemaker_program {entry!r} must be a relative path inside the source "
                                       "archive, e.g. \"train.py\".")
        entry = "/".join(parts)
        if not entry.endswith(".py"):
            raise AlgorithmClientError(f"sagemaker_program {entry!r}: SageTutor runs Python entry points (.py) "
                                       "only.")
        source = read_source_archive(self._download(uri), uri)
        if source.get(entry) is None:
            files = sorted(k for k, v in source.items() if v is not None)
            listed = ", ".join(files[:10]) + (" ..." if len(files) > 10 else "") if files else "no files"
            raise AlgorithmClientError(f"sagemaker_program {entry!r} is not in {uri} (it holds {listed}). Put the "
                                       "entry point at the archive's top level: tar -czf sourcedir.tar.gz -C "
                                       "<dir> .")
        argv = [sys.executable, entry, *to_cmd_args(hp["decoded"])]
        return _Program(argv, source, entry, uri)

    def _download(self, uri: str) -> bytes:
        """Read sourcedir.tar.gz from S3 as the job's role (s3:GetObject), as the toolkit does."""
        try:
            bucket, key = parse_uri(uri)
        except ValueError:
            bucket, key = "", ""
        if not bucket or not key:
            raise AlgorithmClientError(f"sagemaker_submit_directory {uri!r} is not an S3 URI of a source archive "
                                       "(s3://bucket/prefix/sourcedir.tar.gz).")
        s3 = self.world.services["s3"]
        if bucket not in s3.buckets:
            raise AlgorithmClientError(f"Failed to download the training code from {uri}: NoSuchBucket (404): "
                                       f"the bucket {bucket} does not exist.")
        principal = self.principal()
        d = s3.authorize(principal, "s3:GetObject", bucket, key)
        if not d.allowed:
            raise AlgorithmClientError(
                f"Failed to download the training code from {uri}: AccessDenied (403): User: {principal} is not "
                f"authorized to perform: s3:GetObject on resource: arn:aws:s3:::{bucket}/{key} "
                f"{d.explain('s3:GetObject')}")
        try:
            return s3.get(bucket, key).data
        except ServiceError:
            raise AlgorithmClientError(f"Failed to download the training code from {uri}: NoSuchKey (404): the "
                                       "object does not exist. Upload sourcedir.tar.gz there first.") from None


class ByocRunner(ContainerRunner):
    """An image in the learner's own ECR whose manifest's ``sagetutor.train`` names a local Python file."""

    kind = "byoc"

    def __init__(self, image, world, request: dict, manifest: dict | None):
        super().__init__(image, world, request)
        self.name = re.sub(r"[^A-Za-z0-9._-]", "-", image.repository)
        self.manifest = manifest
        section = manifest.get("sagetutor") if isinstance(manifest, dict) else None
        flags = {"checkpointing": False, "gpu_accelerated": False}
        self.train_path: str | None = None
        self.serve_path: str | None = None
        if manifest is None:
            self.problem = f"The image {image.uri} was not found in this account's ECR. {MANIFEST_HELP}"
        elif not isinstance(section, dict) or not isinstance(section.get("train"), str) or not section["train"]:
            self.problem = f"The image {image.uri} has no sagetutor.train entry point in its manifest. {MANIFEST_HELP}"
        else:
            self.train_path = section["train"]
            self.serve_path = section.get("serve") if isinstance(section.get("serve"), str) else None
            for flag in flags:
                value = section.get(flag, False)
                if not isinstance(value, bool):
                    self.problem = (f"The image {image.uri}: sagetutor.{flag} in its manifest must be true or "
                                    f"false, not {value!r}. {MANIFEST_HELP}")
                    break
                flags[flag] = value
        self.capabilities = Capabilities(
            multi_instance=True, checkpointing=flags["checkpointing"], processors=frozenset({"cpu", "gpu"}),
            gpu_accelerated=flags["gpu_accelerated"], incremental=False, content_types=("*/*",),
            default_content_type="application/octet-stream", required_channels=(), optional_channels=())

    def num_gpus(self, spec) -> int:
        return int(getattr(spec, "gpus", 0) or 0)

    def program(self, hp: dict[str, Any]) -> _Program:
        path = self.train_path or ""
        where = f"The image {self.image.uri}: sagetutor.train {path!r}"
        if not os.path.isabs(path):
            raise AlgorithmClientError(f"{where} must be an absolute path to your own Python file. {MANIFEST_HELP}")
        if not path.endswith(".py"):
            raise AlgorithmClientError(f"{where} must be a Python file (.py): SageTutor runs it with Python.")
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise AlgorithmClientError(f"{where} does not exist on this machine.") from None
        if not stat.S_ISREG(mode):
            raise AlgorithmClientError(f"{where} is not a regular file.")
        return _Program([sys.executable, path, "train"], {}, path, os.path.dirname(path))


# -- the run --------------------------------------------------------------------------------------
class ContainerTrainer(Trainer):
    """One unit ("run"): the program runs once, when ``fit_until(1)`` is called."""

    unit_name = "run"

    def __init__(self, runner: ContainerRunner, hp: dict[str, Any], channels: dict[str, ChannelData],
                 total_bytes: int, seed: int, instance_count: int, program: _Program,
                 metrics: list[tuple[str, re.Pattern]]):
        self.runner = runner
        self.hp = hp
        self.channels = channels
        self.total_bytes = total_bytes
        self.seed = seed
        self.instance_count = max(1, int(instance_count))
        self.program = program
        self.metric_patterns = metrics
        self.total_units = 1
        self.done_units = 0
        self.log_lines: list[str] = []
        self.logs_written = False
        self.records: list[UnitRecord] = []
        self._final: dict[str, float] = {}
        self._model_tar: bytes | None = None
        self._model_names: list[str] = []
        self._checkpoints: bytes | None = None
        self._restored: dict[str, bytes | None] = {}

    # -- Trainer ----------------------------------------------------------------------------
    def work_per_unit(self) -> float:
        return float(OPS_PER_BYTE * max(1, self.total_bytes))

    def fit_until(self, units: int) -> list[UnitRecord]:
        if units <= self.done_units:
            return []
        self._run()
        self.done_units = self.total_units
        return list(self.records)

    def state(self) -> bytes:
        if not self.runner.capabilities.checkpointing:
            raise AlgorithmError("this container does not support checkpoints")
        return self._checkpoints if self._checkpoints is not None else _empty_tar()

    def restore(self, state: bytes) -> None:
        if not self.runner.capabilities.checkpointing:
            raise AlgorithmError("this container does not support checkpoints")
        files = read_source_archive(state, "the checkpoint")
        self._restored = files  # written into /opt/ml/checkpoints before the program runs

    def final_metrics(self) -> dict[str, float]:
        return dict(self._final)

    def model(self) -> ContainerModel:
        return ContainerModel(self.runner.name, self._model_tar or _empty_tar(), self._model_names)

    # -- the subprocess ---------------------------------------------------------------------------
    def _env(self, root: Path, tmp: Path) -> dict[str, str]:
        req = self.runner.request
        rc = req.get("ResourceConfig") or {}
        instance_type = rc.get("InstanceType", "ml.m5.large")
        try:
            spec = instance_spec(instance_type)
        except KeyError:  # the job's own validation refuses unknown types; stay usable without it
            spec = None
        cpus = int(spec.vcpus) if spec is not None else 2
        gpus = self.runner.num_gpus(spec) if spec is not None else 0
        hosts = [f"algo-{i}" for i in range(1, self.instance_count + 1)]
        channel_dirs = {name: str(root / "input" / "data" / name) for name in sorted(self.channels)}
        resource_config = self._resource_config(instance_type, hosts)
        input_data_config = self._input_data_config()
        hps = self.hp["decoded"]
        user_args = to_cmd_args(hps)
        paths = {
            "model_dir": str(root / "model"),
            "input_dir": str(root / "input"),
            "input_config_dir": str(root / "input" / "config"),
            "output_dir": str(root / "output"),
            "output_data_dir": str(root / "output" / "data" / HOST),
            "output_intermediate_dir": str(root / "output" / "intermediate"),
        }
        entry = self.program.entry_point
        module_name = os.path.basename(entry)[:-3] if entry.endswith(".py") else entry
        training_env = {
            "additional_framework_parameters": self.hp["framework"],
            "channel_input_dirs": channel_dirs,
            "current_host": HOST,
            "current_instance_type": instance_type,
            "framework_module": self.runner.framework_module(),
            "hosts": hosts,
            "hyperparameters": hps,
            "input_data_config": input_data_config,
            "is_master": True,
            "job_name": req.get("TrainingJobName", ""),
            "log_level": self.hp["log_level"],
            "master_hostname": hosts[0],
            "module_dir": self.program.module_dir,
            "module_name": module_name,
            "network_interface_name": "eth0",
            "num_cpus": cpus,
            "num_gpus": gpus,
            "resource_config": resource_config,
            "user_entry_point": entry,
            **paths,
        }
        sm = {
            "hosts": hosts, "network_interface_name": "eth0", "hps": hps, "user_entry_point": entry,
            "framework_params": self.hp["framework"], "resource_config": resource_config,
            "input_data_config": input_data_config, "channels": sorted(self.channels), "current_host": HOST,
            "current_instance_type": instance_type, "module_name": module_name, "log_level": self.hp["log_level"],
            "framework_module": self.runner.framework_module(), "num_cpus": cpus, "num_gpus": gpus,
            "module_dir": self.program.module_dir, "training_env": training_env, "user_args": user_args, **paths,
        }
        for name, path in channel_dirs.items():
            sm[f"channel_{name}"] = path
        for key, value in hps.items():
            sm[f"hp_{key}"] = value
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(tmp / "home"),
            "TMPDIR": str(tmp / "tmp"),
            "LANG": "C.UTF-8",
        }
        if os.name == "nt" and "SYSTEMROOT" in os.environ:
            env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
        for key, value in (req.get("Environment") or {}).items():
            env[str(key)] = str(value)
        env.update({f"SM_{str(k).upper()}": _env_value(v) for k, v in sm.items()})
        env.update(self._network_env(tmp))
        env.update({
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            "SAGEMAKER_BASE_DIR": str(root),  # the toolkit's own variable for an /opt/ml elsewhere
            "SM_SEED": str(self.seed),  # SageTutor's own: the job's seed
            "TRAINING_JOB_NAME": req.get("TrainingJobName", ""),
            "TRAINING_JOB_ARN": self.runner.world.arn("sagemaker",
                                                      f"training-job/{req.get('TrainingJobName', '').lower()}"),
        })
        return {k: v for k, v in env.items() if k and "=" not in k and "\0" not in k and "\0" not in v}

    def _network_env(self, tmp: Path) -> dict[str, str]:
        """What engine/services/sagemaker/netguard/sitecustomize.py needs to stand in for the network."""
        user_path = (self.runner.request.get("Environment") or {}).get("PYTHONPATH")
        paths = [str(Path(__file__).parent / "netguard")] + ([str(user_path)] if user_path else [])
        if self.runner.isolated:
            mode, path = "isolated", "none"
        else:
            route = self.runner.outbound_route()
            mode, path = "routed", f"{route.path}" + (f" ({route.via})" if route.via else "")
        return {"PYTHONPATH": os.pathsep.join(paths), "SAGETUTOR_NETWORK": mode, "SAGETUTOR_NETWORK_PATH": path,
                "SAGETUTOR_NETWORK_LOG": str(tmp / "network.log")}

    def _record_connections(self, tmp: Path) -> None:
        """Each outbound connection the program tried becomes a security fact (what path, or why none)."""
        log = tmp / "network.log"
        if not log.is_file():
            return
        from engine.security import NONE, Transfer

        world = self.runner.world
        route = None if self.runner.isolated else self.runner.outbound_route()
        seen = 0
        for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            seen += 1
            if seen > 50:  # enough to show what happened
                break
            target = f"{entry.get('host')}:{entry.get('port')}"
            if route is None:
                t = Transfer(world.clock.seconds, self.runner.arn(), "internet", "outbound call", NONE, None, 0,
                             f"network isolation: the container cannot make outbound calls (to {target})")
            else:
                t = Transfer(world.clock.seconds, self.runner.arn(), "internet", "outbound call", route.path,
                             route.via, 0, f"to {target}: {route.reason}")
            world.security.record_transfer(t)

    def _resource_config(self, instance_type: str, hosts: list[str]) -> dict:
        return {"current_host": HOST, "current_instance_type": instance_type,
                "current_group_name": "homogeneousCluster", "hosts": hosts,
                "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type,
                                     "hosts": hosts}],
                "network_interface_name": "eth0"}

    def _input_data_config(self) -> dict:
        req = self.runner.request
        mode = (req.get("AlgorithmSpecification") or {}).get("TrainingInputMode", "File")
        out = {}
        for ch in req.get("InputDataConfig") or []:
            src = (ch.get("DataSource") or {}).get("S3DataSource") or {}
            entry = {"TrainingInputMode": ch.get("InputMode", mode),
                     "S3DistributionType": src.get("S3DataDistributionType", "FullyReplicated"),
                     "RecordWrapperType": ch.get("RecordWrapperType", "None")}
            if ch.get("ContentType"):
                entry = {"ContentType": ch["ContentType"], **entry}
            out[ch["ChannelName"]] = entry
        return out

    def _lay_out(self, root: Path, tmp: Path) -> None:
        for sub in ("input/config", "input/data", "model", "output/data/" + HOST, "output/intermediate",
                    "checkpoints", "code"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (tmp / "home").mkdir()
        (tmp / "tmp").mkdir()
        requests = {ch.get("ChannelName"): ch for ch in self.runner.request.get("InputDataConfig") or []}
        for name, data in self.channels.items():
            files = _channel_files(data, requests.get(name))
            (root / "input" / "data" / name).mkdir(parents=True, exist_ok=True)
            _write_tree(root / "input" / "data" / name, dict(files), f"channel {name}")
        config = root / "input" / "config"
        (config / "hyperparameters.json").write_text(json.dumps(self.hp["user"], sort_keys=True, indent=1))
        rc = self.runner.request.get("ResourceConfig") or {}
        hosts = [f"algo-{i}" for i in range(1, self.instance_count + 1)]
        (config / "resourceconfig.json").write_text(
            json.dumps(self._resource_config(rc.get("InstanceType", "ml.m5.large"), hosts), indent=1))
        (config / "inputdataconfig.json").write_text(json.dumps(self._input_data_config(), sort_keys=True, indent=1))
        _write_tree(root / "code", self.program.source, "the source archive")
        if self._restored:
            _write_tree(root / "checkpoints", self._restored, "the checkpoint")

    def _run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="sagetutor-job-") as tmpdir:
            tmp = Path(tmpdir)
            root = tmp / "opt" / "ml"
            self._lay_out(root, tmp)
            env = self._env(root, tmp)
            argv = self.program.argv
            if any("\0" in a for a in argv):
                raise AlgorithmClientError("a hyperparameter contains a NUL character, which cannot be passed to a "
                                           "program")
            if self.runner.kind == "script" and "requirements.txt" in self.program.source:
                self.log_lines.append("SageTutor: requirements.txt found but not installed (no network here); the "
                                      "script runs with the engine's Python packages.")
            self.log_lines.append(f"Invoking script with the following command: {self.program.command}")
            out_path, err_path = tmp / "stdout.log", tmp / "stderr.log"
            posix = os.name == "posix"
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                try:
                    proc = subprocess.Popen(argv, cwd=root / "code", env=env, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, start_new_session=posix)
                except OSError as e:
                    raise AlgorithmError(f"could not start {self.program.command}: {e}") from None
                try:
                    code, stopped = self._wait(proc, out_path, err_path)
                finally:
                    if proc.poll() is None:
                        _kill(proc)
                        proc.wait()
                if posix:
                    _kill(proc)  # anything the script left running in its process group
            self._record_connections(tmp)
            stdout = _tail_lines(out_path, MAX_LOG_BYTES, "stdout")
            stderr = _tail_lines(err_path, MAX_LOG_BYTES, "stderr")
            self.log_lines += stdout + stderr
            self._write_logs()
            if stopped:
                raise AlgorithmError(self._script_error(code, [f"SageTutor stopped the script: {stopped}"]))
            if code != 0:
                failure = root / "output" / "failure"
                if failure.is_file() and not failure.is_symlink():
                    with open(failure, "rb") as f:
                        text = f.read(FAILURE_CHARS * 4).decode("utf-8", errors="replace")[:FAILURE_CHARS]
                    if text.strip():
                        raise AlgorithmError(text)
                raise AlgorithmError(self._script_error(code, stderr))
            self._collect_metrics(stdout + stderr)
            self._model_tar = tar_directory(root / "model")
            with tarfile.open(fileobj=io.BytesIO(self._model_tar), mode="r:") as tar:
                self._model_names = [m.name for m in tar if m.isfile()]
            if self.runner.capabilities.checkpointing:
                self._checkpoints = tar_directory(root / "checkpoints")

    @staticmethod
    def _wait(proc: subprocess.Popen, out_path: Path, err_path: Path) -> tuple[int, str | None]:
        """The exit code, and why SageTutor stopped the script (None if it ended by itself)."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            try:
                return proc.wait(timeout=POLL_SECONDS), None
            except subprocess.TimeoutExpired:
                pass
            why = None
            if time.monotonic() > deadline:
                why = (f"it ran longer than {TIMEOUT_SECONDS} s of real time, SageTutor's limit for running your "
                       "code (the job's simulated time is separate)")
            elif max(out_path.stat().st_size, err_path.stat().st_size) > MAX_OUTPUT_FILE:
                why = f"it wrote more than {MAX_OUTPUT_FILE} bytes to stdout or stderr, SageTutor's limit"
            if why:
                _kill(proc)
                return proc.wait(), why

    def _script_error(self, code: int, stderr: list[str]) -> str:
        lines = [line for line in stderr if line.strip()]
        start = max((i for i, line in enumerate(lines) if line.startswith("Traceback")), default=None)
        chosen = lines[start:] if start is not None else lines[-10:]
        message = "\n".join(chosen)
        if len(message) > ERROR_MESSAGE_CHARS:
            message = "..." + message[-ERROR_MESSAGE_CHARS:]
        return f'ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"\nCommand "{self.program.command}"'

    def _collect_metrics(self, lines: list[str]) -> None:
        """MetricDefinitions applied line by line: the last match of each is final; a metric seen again
        starts a new record (one record per group of metrics the script printed together)."""
        groups: list[dict[str, float]] = []
        current: dict[str, float] = {}
        final: dict[str, float] = {}
        for line in lines:
            for name, rx in self.metric_patterns:
                m = rx.search(line)
                if m is None:
                    continue
                text = m.group(1) if rx.groups >= 1 else m.group(0)
                try:
                    value = float(text)
                except (TypeError, ValueError):
                    continue
                if not math.isfinite(value):
                    continue
                if name in current:
                    groups.append(current)
                    current = {}
                current[name] = value
                final[name] = value
        if current:
            groups.append(current)
        self.records = [UnitRecord(1, g) for g in groups] or [UnitRecord(1, {})]
        self._final = {name: final[name] for name, _ in self.metric_patterns if name in final}

    def _write_logs(self) -> None:
        """Copy the output into the job's CloudWatch stream (``<job>/algo-1-<epoch>``), as AWS does."""
        logs = self.runner.world.services.get("logs")
        job = self.runner.request.get("TrainingJobName", "")
        group = getattr(logs, "groups", {}).get(LOG_GROUP) if logs is not None else None
        if group is None:
            return
        streams = sorted(n for n in group.streams if n.startswith(f"{job}/{HOST}-"))
        if not streams:
            return
        for line in self.log_lines:
            logs.write(LOG_GROUP, streams[0], line)
        self.logs_written = True


def _empty_tar() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT):
        pass
    return raw.getvalue()


class ContainerModel(Model):
    """The model directory as the script left it: a deterministic tar. Never deserialised here."""

    def __init__(self, algorithm: str, data: bytes, names: list[str]):
        self.algorithm = algorithm
        self._data = data
        self.files = list(names)

    def to_bytes(self) -> bytes:
        return self._data

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        raise ValueError("SageTutor does not serve script-mode or bring-your-own models yet: the model "
                         f"({', '.join(self.files) or 'an empty model directory'}) is your script's own format")

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        raise ValueError("SageTutor does not serve script-mode or bring-your-own models yet")
