"""The real tabular datasets bundled with scikit-learn, split and serialised.

These ship inside the scikit-learn wheel, so the simulator never touches the
network. Loading is cached per process (the data do not depend on the seed); the
seed only decides the shuffle, and a split key shared by the format variants
(``breast-cancer``, ``-libsvm``, ``-parquet``) keeps their rows identical.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from engine.datasets.formats import csv_bytes, libsvm_bytes, parquet_bytes, write_splits
from engine.datasets.split import split_indices

__all__ = ["SOURCES", "load", "tabular_objects"]

#: Source collection -> name of the scikit-learn loader that returns it.
SOURCES: dict[str, str] = {
    "breast-cancer": "load_breast_cancer",
    "iris": "load_iris",
    "wine": "load_wine",
    "diabetes": "load_diabetes",
    "digits": "load_digits",
}

_WRITERS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], bytes]]] = {
    "csv": ("csv", csv_bytes),
    "libsvm": ("libsvm", libsvm_bytes),
    "parquet": ("parquet", parquet_bytes),
}


@cache
def load(source: str) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, features)`` of a bundled dataset, read-only and cached.

    Digits keep their integer pixel counts (0-16); diabetes uses the raw, unscaled
    measurements a learner would meet in the wild; class labels are integers.
    """
    from sklearn import datasets  # lazy: importing sklearn costs more than the data

    loader = getattr(datasets, SOURCES[source])
    bunch = loader(scaled=False) if source == "diabetes" else loader()
    features = np.asarray(bunch.data, dtype=np.float64)
    labels = np.asarray(bunch.target)
    if source == "digits":
        features = features.astype(np.int64)
    if source != "diabetes":
        labels = labels.astype(np.int64)
    for array in (features, labels):
        array.flags.writeable = False
    return labels, features


def tabular_objects(name: str, source: str, fmt: str, seed: int) -> dict[str, bytes]:
    """All objects of one tabular dataset in one format (``csv``, ``libsvm``, ``parquet``)."""
    labels, features = load(source)
    ext, writer = _WRITERS[fmt]
    splits = split_indices(len(labels), seed, source)
    return write_splits(name, ext, splits, lambda rows: writer(labels[rows], features[rows]))
