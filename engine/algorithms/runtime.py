"""How the built-ins run scikit-learn: thread limits, validation settings, failures.

Threads. scikit-learn's OpenMP loops (histogram gradient boosting, k-means) and
OpenBLAS start a thread team per call. On the small data SageTutor trains on,
the team costs more than it saves, and on a busy machine its spinning barriers
make a call many times slower: a 20-round XGBoost fit on 400 rows went from
0.2 s to 10 s, and a 16,000 x 30 matrix-vector product from 0.1 ms to 3 ms,
while other processes ran. A second thread pays off only from a few hundred
thousand values (about 30% faster for 16,000 x 30 gradient boosting on an idle
2-core machine), so below ``SMALL_DATA_CELLS`` values (every dataset SageTutor
ships) training and inference run on one thread. Results do not depend on the
number of threads.

Validation. The readers have already checked the data (finite numbers) and the
modules build the estimators, so trainer methods skip scikit-learn's per-call
re-validation, which costs milliseconds per ``partial_fit`` call, i.e. per epoch.

Failures. An unexpected error inside training (a solver that diverged, say) is
re-raised as ``AlgorithmError("framework error: ...")``, the wording AWS's
built-ins use, so the job fails with ``AlgorithmError: framework error: ...``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import sklearn
from threadpoolctl import ThreadpoolController

from engine.algorithms.base import AlgorithmClientError, AlgorithmError

T = TypeVar("T")

SMALL_DATA_CELLS = 2_000_000

_controller: ThreadpoolController | None = None
_lock = threading.Lock()


def limited(cells: float, threshold: float = SMALL_DATA_CELLS) -> Any:
    """A context manager: at most one BLAS/OpenMP thread when ``cells`` (rows x columns) is small."""
    global _controller
    if cells >= threshold:
        return contextlib.nullcontext()
    if _controller is None:
        with _lock:
            if _controller is None:
                _controller = ThreadpoolController()  # inspects the loaded libraries once (~20 ms)
    return _controller.limit(limits=1)


def trainer_method(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator for trainer methods: thread limit by the trainer's ``cells`` (its training data
    size) and ``small_data_cells`` threshold, no scikit-learn re-validation, AWS-style failures."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with limited(getattr(self, "cells", 0), getattr(self, "small_data_cells", SMALL_DATA_CELLS)), \
                sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            try:
                return method(self, *args, **kwargs)
            except (AlgorithmClientError, AlgorithmError):
                raise
            except (ValueError, ArithmeticError, np.linalg.LinAlgError, MemoryError) as exc:
                raise AlgorithmError(f"framework error: {type(exc).__name__}: {exc}") from exc

    return wrapper


def model_method(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator for ``predict_array``: thread limit by the size of the rows asked about."""

    @functools.wraps(method)
    def wrapper(self: Any, x: Any, *args: Any, **kwargs: Any) -> T:
        try:
            cells = float(np.size(x))
        except Exception:  # texts or other objects: treat as small
            cells = 0.0
        with limited(cells):
            return method(self, x, *args, **kwargs)

    return wrapper
