"""Build the bucket's objects for one seed, with per-process caching.

Engines are created often (every scenario, every test), so each dataset is built
once per (name, seed) and kept as an immutable tuple; callers get a fresh ``dict``
each time so one caller mutating its copy can never corrupt another engine's bucket.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import lru_cache, partial

from engine.datasets.catalog import BUCKET, CATALOG
from engine.datasets.clusters import clusters_objects
from engine.datasets.images import images_objects
from engine.datasets.split import SPLITS
from engine.datasets.tabular import tabular_objects
from engine.datasets.text import tickets_bow_objects, tickets_objects
from engine.datasets.timeseries import timeseries_objects

__all__ = ["README_KEY", "dataset_objects", "objects", "readme"]

README_KEY = "README.txt"

_Builder = Callable[[int], dict[str, bytes]]


def _tabular(name: str, source: str, fmt: str) -> _Builder:
    return partial(tabular_objects, name, source, fmt)


_BUILDERS: dict[str, _Builder] = {
    "breast-cancer": _tabular("breast-cancer", "breast-cancer", "csv"),
    "breast-cancer-libsvm": _tabular("breast-cancer-libsvm", "breast-cancer", "libsvm"),
    "breast-cancer-parquet": _tabular("breast-cancer-parquet", "breast-cancer", "parquet"),
    "iris": _tabular("iris", "iris", "csv"),
    "wine": _tabular("wine", "wine", "csv"),
    "diabetes": _tabular("diabetes", "diabetes", "csv"),
    "diabetes-libsvm": _tabular("diabetes-libsvm", "diabetes", "libsvm"),
    "digits": _tabular("digits", "digits", "csv"),
    "digits-images": partial(images_objects, "digits-images"),
    "timeseries": partial(timeseries_objects, "timeseries"),
    "anomaly": partial(clusters_objects, "anomaly"),
    "tickets": partial(tickets_objects, "tickets"),
    "tickets-bow": partial(tickets_bow_objects, "tickets-bow"),
    "blobs": partial(clusters_objects, "blobs"),
}
if set(_BUILDERS) != set(CATALOG):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("engine.datasets: catalog and builders disagree")


@lru_cache(maxsize=256)
def _dataset_items(name: str, seed: int) -> tuple[tuple[str, bytes], ...]:
    built = _BUILDERS[name](seed)
    stray = [key for key in built if not key.startswith(name + "/")]
    if stray:  # pragma: no cover - a programming error
        raise RuntimeError(f"dataset {name} wrote outside its prefix: {stray[:3]}")
    return tuple(sorted(built.items()))


def dataset_objects(name: str, seed: int) -> dict[str, bytes]:
    """All objects of one dataset: key relative to the bucket -> bytes (deterministic)."""
    if name not in CATALOG:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(CATALOG))}")
    return dict(_dataset_items(name, operator.index(seed)))


def readme() -> bytes:
    """The bucket-root README: the layout in about twenty lines."""
    lines = [
        f"s3://{BUCKET}/ - small real datasets for SageMaker practice (deterministic per engine seed).",
        "Each <dataset>/ has train/part-00000..00003 (4 shards for ShardedByS3Key), validation/ and test/",
        "part-00000; rows are a seeded 70/15/15 shuffle. CSV: no header, label in the FIRST column.",
        "label_size=0 CSV has no label column; anomaly/ and blobs/ test/ keep it first (label_size=1).",
        "  dataset               content type           train/val/test built-in algorithms",
    ]
    for info in CATALOG.values():
        rows = "/".join(str(info.rows.get(split, "-")) for split in SPLITS)
        lines.append(f"  {info.name:<22}{info.content_type:<23}{rows:<15}{','.join(info.algorithms)}")
    lines += [
        "digits-images/: <split>/<class>/<i>.png, <split>_lst/<split>.lst, all/<i>.png, manifest/ (Ground Truth).",
        "tickets/manifest/ has the Ground Truth text manifest; tickets-bow/vocabulary.txt names the CSV columns.",
    ]
    return "".join(line + "\n" for line in lines).encode("ascii")


@lru_cache(maxsize=8)
def _all_items(seed: int) -> tuple[tuple[str, bytes], ...]:
    merged = {README_KEY: readme()}
    for name in CATALOG:
        merged.update(_dataset_items(name, seed))
    return tuple(sorted(merged.items()))


def objects(seed: int) -> dict[str, bytes]:
    """Every object of the bucket (all datasets plus README.txt), keys sorted."""
    return dict(_all_items(operator.index(seed)))
