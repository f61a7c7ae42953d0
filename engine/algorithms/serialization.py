"""Model and checkpoint bytes.

The payload is a pickle. That is acceptable here only because the engine signs
every byte string it stores and verifies the signature before handing bytes back
to ``loads``; this module never sees unsigned input. A short header names the
kind (``model`` or ``state``), the algorithm and the format version, so a model
of one built-in is never loaded as another's (the engine reports that as a bad
model, like a wrong model.tar.gz on AWS).

Equal training gives equal bytes, also across a checkpoint and resume (the
conformance suite checks it).
"""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

MAGIC = b"SAGETUTOR-ALGO\n"
FORMAT = 1


def dumps(kind: str, algorithm: str, payload: Any) -> bytes:
    header = json.dumps({"kind": kind, "algorithm": algorithm, "format": FORMAT}, sort_keys=True).encode()
    return MAGIC + header + b"\n" + _canonical_pickle(payload)


def _canonical_pickle(payload: Any) -> bytes:
    """Pickle bytes that depend only on the values, not on how the objects were built.

    Pickle normally writes an object shared in memory once (one numpy dtype
    object used by several arrays), so a model trained straight and one resumed
    from a checkpoint would pickle differently although every value is equal.
    The pickler's ``fast`` mode keeps no memo and writes every value in full;
    cyclic structures (none in the built-ins' payloads) fall back to a plain pickle.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True  # no memo: bytes depend on values only
    try:
        pickler.dump(payload)
    except (ValueError, RecursionError):
        return pickle.dumps(payload, protocol=5)
    return buffer.getvalue()


def loads(data: bytes, kind: str, algorithm: str) -> Any:
    """The payload of ``dumps(kind, algorithm, ...)``; ValueError for anything else."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise ValueError(f"not a SageTutor {algorithm} {kind}: unrecognised bytes")
    header_end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):header_end])
    except ValueError:
        raise ValueError(f"not a SageTutor {algorithm} {kind}: corrupt header") from None
    if header.get("kind") != kind or header.get("algorithm") != algorithm:
        raise ValueError(
            f"expected a {algorithm} {kind}, got a {header.get('algorithm')} {header.get('kind')}"
        )
    if header.get("format") != FORMAT:
        raise ValueError(f"unsupported {algorithm} {kind} format {header.get('format')}")
    return pickle.loads(data[header_end + 1:])


class PickledState:
    """Mixin for trainers: ``state()``/``restore()`` pickle the attributes in ``_state_attrs``.

    A trainer lists exactly what changes as it trains (estimators, counters,
    history, early-stopping bookkeeping); the data and the hyperparameters come
    from the fresh trainer's constructor, as the protocol specifies.
    """

    _state_attrs: tuple[str, ...] = ()
    _algorithm_name: str = ""

    def state(self) -> bytes:
        return dumps("state", self._algorithm_name, {a: getattr(self, a) for a in self._state_attrs})

    def restore(self, state: bytes) -> None:
        values = loads(state, "state", self._algorithm_name)
        for a in self._state_attrs:
            if a in values:
                setattr(self, a, values[a])
        self._after_restore()

    def _after_restore(self) -> None:
        """Hook for trainers that keep caches derived from the state."""
