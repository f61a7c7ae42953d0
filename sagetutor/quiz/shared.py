"""Fitted models shared across fresh engines: the quiz runtime's process-wide training memo.

Every option of a question runs on a fresh ``Engine(seed)``, and the options of a question
usually train the *same* model: Spot or on-demand, one instance type or another, the
algorithm sees the same hyperparameters, the same bytes and the same seed, so it computes
the same trees. Training is the costly part of a run, so the runtime trains each distinct
model once per process and replays it in every other engine.

How: while ``active()`` is in force (the runner enters it around a plan), every built-in
algorithm's ``trainer(...)`` returns a ``MemoTrainer`` that honours the engine's Trainer
protocol (``engine/algorithms/base.py``: ``fit_until``, ``state``, ``restore``,
``final_metrics``, ``model``, ``work_per_unit``, ``total_units``, ``done_units``,
``stopped_early``) and is keyed by

    (algorithm, parsed hyperparameters, each channel's object keys and bytes digests,
     the sharding, the trainer seed, the instance count).

* The first trainer with a key trains for real (it *is* the real trainer, wrapped) and, when
  it has gone from scratch to its last unit without a restore, is remembered: every unit's
  record, the final metrics, the model, the work per unit.
* A later trainer with the same key replays: ``fit_until`` hands back the recorded units,
  ``model()`` and ``final_metrics()`` the recorded results. What the record does not hold - a
  checkpoint's bytes after unit n, a model stopped at unit n (MaxRuntimeExceeded, a tuning
  job's early stop) - is computed by a real trainer brought to unit n (from the latest state
  the memo holds below n), once per (key, n) in the process, so a replay is byte-for-byte what
  a real trainer gives; a checkpoint's state is cut from the final model instead where the
  algorithm can do that exactly (``state_at``: XGBoost without column sampling or early
  stopping). A ``restore`` of a state the memo did not make switches the trainer to a real one.
  The bins of HistGradientBoosting's training sets are shared the same way (``binning``).

Nothing here changes what an engine computes; it only avoids computing it twice. Outside
``active()`` (the engine's own tests, the demo) the built-ins behave exactly as before.
The hook is installed on the ``engine.algorithms.BUILTINS`` instances (an instance
attribute ``trainer`` that shadows the class method), the smallest seam the engine offers;
an engine-side ``Trainer`` cache keyed the same way would make it unnecessary.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sagetutor.quiz import binning

#: Remembered trainings per process (each holds its model and the real trainer's data).
MAX_ENTRIES = 128
#: Digests of channel objects, by the identity of their bytes (the dataset bucket's objects are
#: shared by every engine, so the same ``bytes`` object comes back run after run).
MAX_DIGESTS = 20_000

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("sagetutor_quiz_shared", default=False)
_lock = threading.RLock()
_installed = False


@dataclass
class Stats:
    """What the memo saved, for the benchmark and the tests."""

    live: int = 0  # trainers that trained for real (a key not seen before)
    rows_predicted: int = 0  # CSV rows an endpoint's XGBoost model really predicted
    rows_replayed: int = 0  # CSV rows answered from the row memo
    row_memo_off: int = 0  # models whose self-check disagreed (the memo switched itself off for them)
    replayed: int = 0  # trainers that replayed a recorded training
    materialized: int = 0  # real trainers brought to a unit a replay needed (a checkpoint, a partial model)
    derived: int = 0  # checkpoint states cut from a recorded final model instead (no refit)
    stored: int = 0  # trainings recorded

    def as_dict(self) -> dict[str, int]:
        return {"live": self.live, "replayed": self.replayed, "materialized": self.materialized,
                "derived": self.derived, "stored": self.stored, "rows_predicted": self.rows_predicted,
                "rows_replayed": self.rows_replayed, "row_memo_off": self.row_memo_off}


@dataclass
class _Entry:
    """One recorded training: everything a replay hands back."""

    initial_total: int
    unit_name: str
    records: list  # UnitRecord, one per unit done (unit 1..final_done)
    final_done: int
    final_total: int
    stopped_early: bool
    work_per_unit: float
    trainer: Any  # the real trainer at its last unit (model and metrics come from it, once)
    model: Any = None
    metrics: dict | None = None
    at_unit: dict[int, Any] = field(default_factory=dict)  # n -> a real trainer brought to unit n

    def final_model(self) -> Any:
        if self.model is None:
            self.model = _SerializedOnce(self.trainer.model())
        return self.model

    def final_metrics(self) -> dict:
        if self.metrics is None:
            self.metrics = dict(self.trainer.final_metrics())
        return dict(self.metrics)


class _SerializedOnce:
    """A recorded model: serialised once (the engine uploads ``to_bytes()`` in every replay)."""

    def __init__(self, model: Any):
        self._model = model
        self._bytes: bytes | None = None

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = self._model.to_bytes()
        return self._bytes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


stats = Stats()
_entries: OrderedDict[str, _Entry] = OrderedDict()
_digests: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
_states: dict[str, tuple[str, int]] = {}  # digest of a state's bytes -> (key, unit)
_state_bytes: dict[tuple[str, int], bytes] = {}


def clear() -> None:
    """Forget every recorded training (tests; a long-lived process that wants its memory back)."""
    with _lock:
        _entries.clear()
        _digests.clear()
        _states.clear()
        _state_bytes.clear()
        stats.live = stats.replayed = stats.materialized = stats.derived = stats.stored = 0
        stats.rows_predicted = stats.rows_replayed = stats.row_memo_off = 0
    binning.clear()


def entries() -> int:
    return len(_entries)


@contextlib.contextmanager
def active() -> Iterator[None]:
    """Share fitted models across the engines run inside this block (in this thread or task)."""
    install()
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)


def install() -> None:
    """Put the memo in front of every built-in's ``trainer`` (idempotent; inert outside ``active()``)."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        from engine.algorithms import BUILTINS

        for algo in BUILTINS.values():
            original = type(algo).trainer.__get__(algo)
            algo.trainer = _memo_factory(algo, original)
        xgb = BUILTINS.get("xgboost")
        if xgb is not None:
            xgb.load_model = _row_memo_loader(type(xgb).load_model.__get__(xgb))
        binning.install(_active.get)
        _installed = True


def _memo_factory(algo: Any, original: Any):
    def trainer(hp, channels, shards=None, seed=0, instance_count=1):
        if not _active.get():
            return original(hp, channels, shards, seed, instance_count)
        key = _key(algo.name, hp, channels, shards, seed, instance_count)
        if key is None:
            return original(hp, channels, shards, seed, instance_count)
        return MemoTrainer(key, lambda: original(hp, channels, shards, seed, instance_count))

    trainer.__wrapped__ = original  # type: ignore[attr-defined]
    return trainer


# -- keys -------------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    ident = id(data)
    with _lock:
        hit = _digests.get(ident)
        if hit is not None and hit[0] is data:
            _digests.move_to_end(ident)
            return hit[1]
    d = hashlib.blake2b(data, digest_size=16).hexdigest()
    with _lock:
        _digests[ident] = (data, d)  # the reference keeps the id from being reused
        while len(_digests) > MAX_DIGESTS:
            _digests.popitem(last=False)
    return d


def _channel(ch: Any) -> list:
    return [ch.name, ch.content_type, [[k, len(b), _digest(b)] for k, b in ch.objects]]


def _key(algorithm: str, hp: Any, channels: Any, shards: Any, seed: int, count: int) -> str | None:
    try:
        parts = {
            "algorithm": algorithm,
            "hp": json.dumps(hp, sort_keys=True, default=repr),
            "channels": [_channel(channels[n]) for n in sorted(channels)],
            "shards": None if shards is None else [_channel(s) for s in shards],
            "seed": int(seed),
            "count": int(count),
        }
    except Exception:  # anything unexpected: no sharing, the real trainer
        return None
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _remember_state(key: str, unit: int, data: bytes) -> None:
    if not isinstance(data, bytes | bytearray):
        return
    with _lock:
        _states[hashlib.blake2b(bytes(data), digest_size=16).hexdigest()] = (key, unit)
        _state_bytes[(key, unit)] = bytes(data)


def _nearest_state(key: str, unit: int) -> bytes | None:
    """The recorded state of ``key``'s training at the latest unit below ``unit`` (None if none).

    Spot plans checkpoint every few units and each checkpoint of a replayed training needs the
    real state at its unit; resuming from the previous one fits each unit once instead of fitting
    from the start for every checkpoint."""
    with _lock:
        below = [u for (k, u) in _state_bytes if k == key and 0 < u < unit]
        return _state_bytes[(key, max(below))] if below else None


def _lookup_state(data: Any) -> tuple[str, int] | None:
    if not isinstance(data, bytes | bytearray):
        return None
    with _lock:
        return _states.get(hashlib.blake2b(bytes(data), digest_size=16).hexdigest())


def _copy_records(records: list) -> list:
    from engine.algorithms.base import UnitRecord

    return [UnitRecord(r.unit, dict(r.metrics)) for r in records]


# -- the trainer ---------------------------------------------------------------------------------


class MemoTrainer:
    """A Trainer that trains once per key in the process and replays everywhere else."""

    def __init__(self, key: str, make: Any):
        self._key = key
        self._make = make
        self._real: Any = None
        with _lock:
            entry = _entries.get(key)
            if entry is not None:
                _entries.move_to_end(key)
        self._entry: _Entry | None = entry
        if entry is None:  # live: the real trainer, watched so its training can be recorded
            self._real = make()
            stats.live += 1
            self._clean = True  # trained from scratch, no restore: recordable
            self._records: list = []
            self._first_work: float | None = None
            self.total_units = self._real.total_units
            self._initial = self.total_units
            self.unit_name = self._real.unit_name
            self.done_units = self._real.done_units
            self.stopped_early = bool(getattr(self._real, "stopped_early", False))
        else:
            stats.replayed += 1
            self.total_units = entry.initial_total
            self.unit_name = entry.unit_name
            self.done_units = 0
            self.stopped_early = False

    # a real trainer for whatever the record does not hold
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._materialized(), name)

    def _sync(self) -> None:
        real = self._real
        self.total_units = real.total_units
        self.done_units = real.done_units
        self.stopped_early = bool(getattr(real, "stopped_early", False))

    def _go_live(self, real: Any) -> None:
        self._real = real
        self._entry = None
        self._clean = False
        self._records = []
        self._first_work = None
        self._initial = real.total_units
        self._sync()

    def _materialized(self) -> Any:
        """A real trainer at this trainer's unit (live: the real one; replay: one per (key, unit), shared)."""
        if self._real is not None:
            return self._real
        entry = self._entry
        assert entry is not None
        n = self.done_units
        if n == entry.final_done:
            return entry.trainer
        with _lock:
            real = entry.at_unit.get(n)
        if real is None:
            real = self._make()
            if n:
                base = _nearest_state(self._key, n)
                if base is not None:  # resume from the latest state known below n: a checkpoint resumes
                    real.restore(base)  # exactly (the engine's conformance suite), so only the rest is fitted
                real.fit_until(n)
            stats.materialized += 1
            with _lock:
                entry.at_unit[n] = real
        return real

    # -- the Trainer protocol
    def work_per_unit(self) -> float:
        if self._real is not None:
            value = self._real.work_per_unit()
            if self._first_work is None:
                self._first_work = value
            return value
        assert self._entry is not None
        return self._entry.work_per_unit

    def fit_until(self, units: int) -> list:
        if self._real is not None:
            records = self._real.fit_until(units)
            self._sync()
            if self._clean:
                self._records.extend(records)
                self._maybe_store()
            return records
        entry = self._entry
        assert entry is not None
        target = min(int(units), self.total_units)
        if target <= self.done_units:
            return []
        end = min(target, entry.final_done)
        out = _copy_records(entry.records[self.done_units:end])
        self.done_units = end
        if end == entry.final_done and entry.stopped_early:
            self.stopped_early = True
            self.total_units = entry.final_total
        return out

    def state(self) -> bytes:
        if self._real is not None:
            data = self._real.state()
            _remember_state(self._key, self._real.done_units, data)
            return data
        n = self.done_units
        with _lock:
            data = _state_bytes.get((self._key, n))
        if data is None:
            data = self._derived_state(n)
            if data is None:
                data = self._materialized().state()
            _remember_state(self._key, n, data)
        return data

    def _derived_state(self, n: int) -> bytes | None:
        """The state at unit ``n`` cut from the recorded training's final model, for trainers that can
        (``state_at``: XGBoost without column sampling or early stopping), instead of refitting to n."""
        entry = self._entry
        assert entry is not None
        state_at = getattr(entry.trainer, "state_at", None)
        if state_at is None or not 0 < n <= len(entry.records) or entry.records[n - 1].unit != n:
            return None
        data = state_at(n, entry.records[n - 1].metrics)
        if data is not None:
            stats.derived += 1
        return data

    def restore(self, state: bytes) -> None:
        known = _lookup_state(state)
        if self._real is None and known is not None and known[0] == self._key:
            entry = self._entry
            assert entry is not None
            self.done_units = min(known[1], entry.final_done)
            if self.done_units == entry.final_done and entry.stopped_early:
                self.stopped_early = True
                self.total_units = entry.final_total
            return
        real = self._real if self._real is not None else self._make()
        real.restore(state)
        self._go_live(real)

    def final_metrics(self) -> dict:
        if self._real is not None:
            return self._real.final_metrics()
        entry = self._entry
        assert entry is not None
        if self.done_units == entry.final_done:
            return entry.final_metrics()
        return self._materialized().final_metrics()

    def model(self) -> Any:
        if self._real is not None:
            return self._real.model()
        entry = self._entry
        assert entry is not None
        if self.done_units == entry.final_done:
            return entry.final_model()
        return self._materialized().model()

    # -- recording
    def _maybe_store(self) -> None:
        real = self._real
        finished = real.done_units >= real.total_units or bool(getattr(real, "stopped_early", False))
        if not finished:
            return
        self._clean = False  # record once
        work = real.work_per_unit()
        if self._first_work is not None and work != self._first_work:
            return  # work that changes with progress cannot be replayed from one figure
        if len(self._records) != real.done_units:
            return
        entry = _Entry(initial_total=self._initial, unit_name=real.unit_name,
                       records=_copy_records(self._records), final_done=real.done_units,
                       final_total=real.total_units, stopped_early=bool(getattr(real, "stopped_early", False)),
                       work_per_unit=work, trainer=real)
        with _lock:
            if self._key not in _entries:
                _entries[self._key] = entry
                stats.stored += 1
                while len(_entries) > MAX_ENTRIES:
                    _entries.popitem(last=False)


# -- predictions of endpoint models, row by row ---------------------------------------------------------
#
# Simulated traffic sends one CSV row per request, drawn from a dataset's test split: the same
# few hundred rows again and again, minute after minute, engine after engine. An XGBoost model's
# answer to a row depends on that row alone (each row walks the trees; the sum, the link function
# and the text are per row), so its answer line can be kept and reused: ``_RowMemoModel`` answers a
# text/csv body from the lines it has seen and predicts only the new rows, in one call. Only
# XGBoost's binary and regression models are wrapped (trees, an element-wise link: nothing that mixes
# rows), only bodies of well-formed lines, only while ``active()``; and the first few bodies of every
# model are also predicted whole and compared byte for byte, the memo switching itself off for a
# model where they differ.

ROW_MEMO_MAX = 200_000
SELF_CHECKS = 4


def _row_memo_loader(original: Any):
    def load_model(data: bytes) -> Any:
        model = original(data)
        if _active.get() and getattr(model, "kind", None) in ("binary", "regression"):
            return _RowMemoModel(model)
        return model

    load_model.__wrapped__ = original  # type: ignore[attr-defined]
    return load_model


class _RowMemoModel:
    """An endpoint's XGBoost model that remembers its answer line for each CSV row."""

    def __init__(self, model: Any):
        self._model = model
        self._lines: dict[tuple[str, str], dict[bytes, bytes]] = {}
        self._types: dict[tuple[str, str], str] = {}
        self._checks = SELF_CHECKS
        self._off = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        model = self._model
        if (self._off or not _active.get() or accept != "text/csv" or content_type.split(";")[0].strip() != "text/csv"
                or not body or body[:1] == b"\n" or body[-1:] == b"\n" or b"\n\n" in body or b"\r" in body):
            return model.predict_body(body, content_type, accept)
        key = (content_type, accept)
        with _lock:
            memo = self._lines.setdefault(key, {})
        rows = body.split(b"\n")
        missing = [r for r in dict.fromkeys(rows) if r not in memo]
        if missing:
            out, out_type = model.predict_body(b"\n".join(missing), content_type, accept)
            parts = out.split(b"\n")
            if parts and parts[-1] == b"":
                parts.pop()
            if out_type != "text/csv" or len(parts) != len(missing) or not out.endswith(b"\n"):
                return model.predict_body(body, content_type, accept)
            stats.rows_predicted += len(missing)
            with _lock:
                if len(memo) + len(missing) > ROW_MEMO_MAX:
                    memo.clear()
                for r, part in zip(missing, parts, strict=True):
                    memo[r] = part + b"\n"
                self._types[key] = out_type
            if len(memo) < len(set(rows)):  # evicted meanwhile: answer this body whole
                return model.predict_body(body, content_type, accept)
        stats.rows_replayed += len(rows) - len(missing)
        answer = b"".join(memo[r] for r in rows)
        if self._checks > 0 and len(rows) > 1:
            self._checks -= 1
            whole, whole_type = model.predict_body(body, content_type, accept)
            if whole != answer or whole_type != self._types[key]:
                self._off = True
                stats.row_memo_off += 1
                return whole, whole_type
        return answer, self._types[key]

    def predict_array(self, x: Any) -> Any:
        return self._model.predict_array(x)

    def to_bytes(self) -> bytes:
        return self._model.to_bytes()


# -- botocore clients shared across engines ------------------------------------------------------------
#
# A fresh engine costs under a millisecond, but each of its boto3-shaped clients is a new
# botocore client (tens of milliseconds: botocore builds a client class and copies its event
# hooks every time). A plan needs three or four, so the runtime keeps a pool of client sets
# whose backend, request ids, lock and sleep are proxies to the engine the set is bound to:
# ``acquire(eng)`` binds a free set to ``eng`` (and files its clients in the engine's own client
# cache, so ``eng.client(...)`` answers with them), ``release`` unbinds it. The clients are
# made by the engine's own ``make_client`` from botocore's models, so requests, validation,
# responses and errors are exactly those of ``eng.client(...)``. Proposed engine hook: let
# ``Engine.client`` take its botocore clients from such a process-wide pool itself.


class _Bound:
    eng: Any = None


class _BackendProxy:
    def __init__(self, bound: _Bound, key: str):
        self._bound = bound
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bound.eng._world.services[self._key], name)


class _IdsProxy:
    def __init__(self, bound: _Bound):
        self._bound = bound

    def next(self) -> str:
        return self._bound.eng._request_ids.next()


class _LockProxy:
    def __init__(self, bound: _Bound):
        self._bound = bound
        self._held: list[Any] = []

    def __enter__(self) -> Any:
        lock = self._bound.eng._lock
        lock.acquire()
        self._held.append(lock)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._held.pop().release()


class ClientSet:
    """botocore clients for one engine at a time (see ``acquire``)."""

    def __init__(self) -> None:
        self._bound = _Bound()
        self._clients: dict[str, Any] = {}
        self._filed: list[tuple[str, str]] = []

    @property
    def eng(self) -> Any:
        return self._bound.eng

    def client(self, service: str, from_subnet: str | None = None) -> Any:
        """The set's client for ``service``; ``from_subnet`` places the caller in that subnet, as
        ``eng.client(service, from_subnet=...)`` does (its calls take the subnet's route)."""
        eng = self._bound.eng
        c = self._clients.get((service, from_subnet))
        if c is None:
            from engine.protocol.client import make_client
            from engine.simulator import SERVICES

            if service not in SERVICES:
                return eng.client(service)  # the engine's own error
            bound = self._bound
            gate = None
            if from_subnet is not None:
                def gate(call: Any, params: dict, bound: _Bound = bound, service: str = service,
                         subnet: str = from_subnet) -> None:
                    from engine.simulator import _Gate

                    e = bound.eng
                    _Gate(e._world, e._authorizer, service, subnet, None)(call, params)
            c = make_client(service, _BackendProxy(bound, SERVICES[service]), principal=_principal(eng),
                            request_ids=_IdsProxy(bound), sleep=lambda s: bound.eng.advance(s),
                            lock=_LockProxy(bound), gate=gate)
            self._clients[(service, from_subnet)] = c
        key = (service, _principal(eng), from_subnet, None)  # the engine's own client cache key
        cache = getattr(eng, "_clients", None)
        if isinstance(cache, dict) and cache.get(key) is not c:
            cache[key] = c
            self._filed.append(key)
        return c

    def _bind(self, eng: Any) -> None:
        self._bound.eng = eng
        self._filed = []

    def _unbind(self) -> None:
        eng = self._bound.eng
        cache = getattr(eng, "_clients", None)
        if isinstance(cache, dict):
            for key in self._filed:
                if cache.get(key) is self._clients.get((key[0], key[2])):
                    del cache[key]
        self._filed = []
        self._bound.eng = None


class _OwnClients:
    """The engine's own clients, for an engine whose internals the pool does not recognise."""

    def __init__(self, eng: Any):
        self.eng = eng

    def client(self, service: str, from_subnet: str | None = None) -> Any:
        return self.eng.client(service, from_subnet=from_subnet)


_free: list[ClientSet] = []


def _principal(eng: Any) -> str:
    return eng._world.services["iam"].admin_arn


def acquire(eng: Any) -> Any:
    """A client set bound to ``eng`` (``.client(service)``); give it back with ``release``."""
    if not all(hasattr(eng, a) for a in ("_world", "_request_ids", "_lock", "_clients")):
        return _OwnClients(eng)
    with _lock:
        cs = _free.pop() if _free else ClientSet()
    cs._bind(eng)
    return cs


def release(cs: Any) -> None:
    if isinstance(cs, ClientSet):
        cs._unbind()
        with _lock:
            _free.append(cs)


def prewarm() -> None:
    """Build a client set's clients for every simulated service now, rather than in the first plan
    that calls each service: botocore loads the service's model and builds its client class (10 ms
    for a small service, 100-300 ms for S3, EC2 and SageMaker), and its error classes when an error
    is first raised. The app's preload does this in the background while the learner reads Home,
    so no question pays for it."""
    from engine import Engine
    from engine.simulator import SERVICES

    cs = acquire(Engine(seed=0))
    try:
        for service in SERVICES:
            cs.client(service).exceptions  # noqa: B018  (botocore builds the error classes on first use)
    finally:
        release(cs)
