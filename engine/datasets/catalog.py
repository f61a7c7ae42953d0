"""What the ``sagetutor-datasets`` bucket holds, described without building it.

The catalog is static (record counts follow from fixed dataset sizes) so scenarios,
validators and the UI can read it without paying for any data generation.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.datasets.split import split_sizes
from engine.datasets.text import VOCABULARY

__all__ = ["BUCKET", "CATALOG", "DatasetInfo", "SIZES"]

BUCKET = "sagetutor-datasets"

#: Records in each source collection (the sklearn ones are checked by the tests).
SIZES: dict[str, int] = {
    "breast-cancer": 569,
    "iris": 150,
    "wine": 178,
    "diabetes": 442,
    "digits": 1797,
    "timeseries": 20,
    "anomaly": 2000,
    "tickets": 2400,
    "blobs": 1500,
}

_SUPERVISED = ("xgboost", "linear-learner", "knn")
_UNLABELLED_CSV = "text/csv;label_size=0"


@dataclass(frozen=True)
class DatasetInfo:
    """One top-level prefix of the bucket and how a training job should consume it."""

    name: str
    description: str
    task: str
    format: str
    content_type: str
    rows: dict[str, int]
    features: int
    classes: int
    algorithms: tuple[str, ...]

    def __hash__(self) -> int:  # ``rows`` is a dict, so hash by the unique name instead
        return hash(self.name)


def _info(
    name: str,
    description: str,
    task: str,
    format: str,
    content_type: str,
    source: str,
    features: int,
    classes: int,
    algorithms: tuple[str, ...],
) -> DatasetInfo:
    """An entry whose rows are the 70/15/15 split of the ``source`` collection."""
    rows = split_sizes(SIZES[source])
    if source == "timeseries":  # DeepAR: every series in train (truncated) and in test (full)
        rows = {"train": SIZES[source], "test": SIZES[source]}
    return DatasetInfo(name, description, task, format, content_type, rows, features, classes, algorithms)


# Fields in order: name, description, task, format, content type, source collection, features, classes, algorithms.
# fmt: off
_ENTRIES = (
    _info("breast-cancer", "Wisconsin diagnostic breast cancer: malignant (0) or benign (1).",
          "binary", "csv", "text/csv", "breast-cancer", 30, 2, _SUPERVISED),
    _info("breast-cancer-libsvm", "breast-cancer, same split, in libsvm format.",
          "binary", "libsvm", "text/libsvm", "breast-cancer", 30, 2, ("xgboost",)),
    _info("breast-cancer-parquet", "breast-cancer, same split, as Parquet (label, f0..f29).",
          "binary", "parquet", "application/x-parquet", "breast-cancer", 30, 2, ("xgboost",)),
    _info("iris", "Fisher's iris flowers: three species from four measurements.",
          "multiclass", "csv", "text/csv", "iris", 4, 3, _SUPERVISED),
    _info("wine", "Italian wines: three cultivars from thirteen chemical measurements.",
          "multiclass", "csv", "text/csv", "wine", 13, 3, _SUPERVISED),
    _info("diabetes", "Diabetes progression one year after baseline, from ten raw measurements.",
          "regression", "csv", "text/csv", "diabetes", 10, 0, _SUPERVISED),
    _info("diabetes-libsvm", "diabetes, same split, in libsvm format.",
          "regression", "libsvm", "text/libsvm", "diabetes", 10, 0, ("xgboost",)),
    _info("digits", "Handwritten digits as 64 pixel intensities (0-16).",
          "multiclass", "csv", "text/csv", "digits", 64, 10, _SUPERVISED),
    _info("digits-images", "The digits as 8x8 grayscale PNGs with .lst files and a Ground Truth manifest.",
          "image-classification", "image", "application/x-image", "digits", 0, 10, ("image-classification",)),
    _info("timeseries", "20 hourly series (trend, daily and weekly cycles, noise) for DeepAR.",
          "forecasting", "jsonlines", "application/jsonlines", "timeseries", 0, 0, ("forecasting-deepar",)),
    _info("anomaly", "5-D Gaussian clusters with about 3% outliers; labelled test set.",
          "anomaly", "csv", _UNLABELLED_CSV, "anomaly", 5, 0, ("randomcutforest",)),
    _info("tickets", "Synthetic customer-support tickets in six categories (BlazingText format).",
          "text-classification", "blazingtext", "text/plain", "tickets", 0, 6, ("blazingtext",)),
    _info("tickets-bow", "The tickets as word-count vectors over a fixed vocabulary, for topic models.",
          "topic-modeling", "csv", _UNLABELLED_CSV, "tickets", len(VOCABULARY), 0, ("lda",)),
    _info("blobs", "Five Gaussian blobs in eight dimensions; labelled test set.",
          "clustering", "csv", _UNLABELLED_CSV, "blobs", 8, 0, ("kmeans", "pca")),
)
# fmt: on

CATALOG: dict[str, DatasetInfo] = {entry.name: entry for entry in _ENTRIES}
