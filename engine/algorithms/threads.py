"""One thread for small data.

scikit-learn's OpenMP loops (histogram gradient boosting, k-means) and OpenBLAS
start a thread team per call. On the small data SageTutor trains on, the team
costs more than it saves, and on a busy machine its spinning barriers make a
call many times slower: a 20-round XGBoost fit on 400 rows went from 0.2 s to
10 s, and a 16,000 x 30 matrix-vector product from 0.1 ms to 3 ms, while other
processes ran. A second thread pays off only from a few hundred thousand values
(about 30% faster for 16,000 x 30 gradient boosting on an idle 2-core machine),
so below ``SMALL_DATA_CELLS`` values (every dataset SageTutor ships) training
and inference run on one thread. Results do not depend on the number of threads.
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
    """Decorator for trainer methods: limited by the trainer's ``cells`` (its training data size)
    and its ``small_data_cells`` threshold (default ``SMALL_DATA_CELLS``).

    Also skips scikit-learn's per-call re-validation (finite values, parameter types):
    the readers already checked the data and the modules build the estimators, and the
    re-validation costs milliseconds per ``partial_fit`` call, i.e. per epoch.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with limited(getattr(self, "cells", 0), getattr(self, "small_data_cells", SMALL_DATA_CELLS)), \
                sklearn.config_context(
                assume_finite=True, skip_parameter_validation=True):
            return method(self, *args, **kwargs)

    return wrapper


def model_method(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator for ``predict_array``: limited by the size of the rows asked about."""

    @functools.wraps(method)
    def wrapper(self: Any, x: Any, *args: Any, **kwargs: Any) -> T:
        try:
            cells = float(np.size(x))
        except Exception:  # texts or other objects: treat as small
            cells = 0.0
        with limited(cells):
            return method(self, x, *args, **kwargs)

    return wrapper
