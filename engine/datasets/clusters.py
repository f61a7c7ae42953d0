"""Seeded Gaussian clusters for the unsupervised built-ins (RCF, K-Means, PCA).

Training and validation objects carry no label column (``label_size=0``), as those
algorithms require; the test object keeps the truth in the first column
(``label_size=1``) so a learner can score anomalies or cluster assignments, or strip
it with a batch-transform InputFilter.
"""

from __future__ import annotations

import numpy as np

from engine.datasets.catalog import SIZES
from engine.datasets.formats import csv_bytes, write_splits
from engine.datasets.split import rng_for, split_indices

__all__ = ["anomaly_data", "blobs_data", "clusters_objects"]

ANOMALY_DIMENSIONS = 5
ANOMALY_CLUSTERS = 3
ANOMALY_FRACTION = 0.03
BLOB_CENTERS = 5
BLOB_DIMENSIONS = 8


def anomaly_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, points)``: label 1 marks an outlier, well away from every cluster."""
    rng = rng_for(seed, "anomaly")
    n = SIZES["anomaly"]
    n_out = round(n * ANOMALY_FRACTION)
    centers = rng.uniform(-6.0, 6.0, size=(ANOMALY_CLUSTERS, ANOMALY_DIMENSIONS))
    spreads = rng.uniform(0.5, 1.0, size=ANOMALY_CLUSTERS)
    members = rng.integers(0, ANOMALY_CLUSTERS, size=n - n_out)
    inliers = centers[members] + rng.normal(size=(n - n_out, ANOMALY_DIMENSIONS)) * spreads[members, None]
    outliers = np.empty((0, ANOMALY_DIMENSIONS))
    while len(outliers) < n_out:  # rejection sampling: at least 5 spreads from any center
        candidates = rng.uniform(-12.0, 12.0, size=(4 * n_out, ANOMALY_DIMENSIONS))
        distance = np.linalg.norm(candidates[:, None, :] - centers[None, :, :], axis=2) / spreads
        outliers = np.vstack([outliers, candidates[distance.min(axis=1) > 5.0]])
    points = np.round(np.vstack([inliers, outliers[:n_out]]), 4)
    labels = np.concatenate([np.zeros(n - n_out, np.int64), np.ones(n_out, np.int64)])
    return labels, points


def blobs_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, points)``: isotropic blobs around five random centers."""
    rng = rng_for(seed, "blobs")
    n = SIZES["blobs"]
    centers = rng.uniform(-10.0, 10.0, size=(BLOB_CENTERS, BLOB_DIMENSIONS))
    spreads = rng.uniform(0.8, 1.6, size=BLOB_CENTERS)
    labels = np.arange(n, dtype=np.int64) % BLOB_CENTERS
    points = centers[labels] + rng.normal(size=(n, BLOB_DIMENSIONS)) * spreads[labels, None]
    return labels, np.round(points, 4)


def clusters_objects(name: str, seed: int) -> dict[str, bytes]:
    """``anomaly`` or ``blobs``: unlabelled train/validation, labelled test."""
    labels, points = anomaly_data(seed) if name == "anomaly" else blobs_data(seed)
    splits = split_indices(len(labels), seed, f"{name}/split")
    objects = write_splits(
        name,
        "csv",
        {key: splits[key] for key in ("train", "validation")},
        lambda rows: csv_bytes(None, points[rows]),
    )
    objects.update(
        write_splits(
            name, "csv", {"test": splits["test"]}, lambda rows: csv_bytes(labels[rows], points[rows])
        )
    )
    return objects
