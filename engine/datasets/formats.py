"""Serialisers for the object formats SageMaker built-ins read.

Every writer is byte-deterministic: numbers go through ``str`` of the Python value
(shortest round-trip repr for floats, plain digits for integers), never through
locale- or platform-dependent formatting, so one seed always yields one bucket.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from engine.datasets.split import shard

__all__ = [
    "csv_bytes",
    "json_bytes",
    "jsonlines_bytes",
    "libsvm_bytes",
    "parquet_bytes",
    "part_key",
    "write_splits",
]


def part_key(prefix: str, split: str, index: int, ext: str) -> str:
    """``<prefix>/<split>/part-0000N.<ext>``: the key every split object uses."""
    return f"{prefix}/{split}/part-{index:05d}.{ext}"


def write_splits(
    prefix: str, ext: str, splits: Mapping[str, np.ndarray], encode: Callable[[np.ndarray], bytes]
) -> dict[str, bytes]:
    """Encode train as four shards and every other split as one object.

    ``encode`` receives the record indices of one object, in split order.
    """
    objects: dict[str, bytes] = {}
    for split, indices in splits.items():
        pieces = shard(indices) if split == "train" else [indices]
        for number, piece in enumerate(pieces):
            objects[part_key(prefix, split, number, ext)] = encode(piece)
    return objects


def _lines(rows: Iterable[str]) -> bytes:
    return "".join(row + "\n" for row in rows).encode("ascii")


def _columns(labels: np.ndarray | None, features: np.ndarray) -> np.ndarray:
    if labels is None:
        return features
    if labels.dtype.kind == features.dtype.kind:
        return np.column_stack([labels, features])
    return np.column_stack([labels.astype(object), features.astype(object)])


def _natural_csv(matrix: np.ndarray) -> bytes:
    """CSV of a non-negative integer matrix, built digit by digit in numpy.

    Word-count and pixel matrices have hundreds of thousands of cells; formatting
    them one Python ``str`` at a time would dominate the whole bucket build.
    """
    rows, cols = matrix.shape
    width = len(str(int(matrix.max()))) if matrix.size else 1
    cells = np.zeros((rows, cols, width + 1), dtype=np.uint8)
    keep = np.zeros(cells.shape, dtype=bool)
    for place in range(width):
        power = 10 ** (width - 1 - place)
        cells[:, :, place] = (matrix // power) % 10 + ord("0")
        keep[:, :, place] = (matrix >= power) | (power == 1)
    cells[:, :, width] = ord(",")
    cells[:, -1, width] = ord("\n")
    if width == 1:  # every cell is one digit and a separator: nothing to squeeze out
        return cells.tobytes()
    keep[:, :, width] = True
    return cells[keep].tobytes()


def csv_bytes(labels: np.ndarray | None, features: np.ndarray) -> bytes:
    """Headerless CSV, label (if any) in the first column as SageMaker expects."""
    columns = _columns(labels, features)
    if columns.dtype.kind in "iu" and columns.ndim == 2 and (columns.size == 0 or columns.min() >= 0):
        return _natural_csv(columns)
    return _lines(",".join(map(str, row)) for row in columns.tolist())


def libsvm_bytes(labels: np.ndarray, features: np.ndarray) -> bytes:
    """``label idx:value ...`` with 1-based indices and zeros omitted (XGBoost's libsvm)."""
    rows = []
    for label, values in zip(labels.tolist(), features.tolist(), strict=True):
        pairs = " ".join(f"{column}:{value}" for column, value in enumerate(values, start=1) if value != 0)
        rows.append(f"{label} {pairs}" if pairs else str(label))
    return _lines(rows)


def parquet_bytes(labels: np.ndarray, features: np.ndarray) -> bytes:
    """Parquet with columns ``label``, ``f0``..``fN`` (XGBoost's application/x-parquet)."""
    import pyarrow as pa  # imported lazily: only the parquet datasets pay for it
    import pyarrow.parquet as pq

    columns = {"label": pa.array(labels)}
    columns.update({f"f{index}": pa.array(features[:, index]) for index in range(features.shape[1])})
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, compression="snappy")
    return buffer.getvalue()


def json_bytes(value: object) -> bytes:
    """A JSON document (keys in insertion order) with a trailing newline."""
    return (json.dumps(value) + "\n").encode("utf-8")


def jsonlines_bytes(records: Iterable[object]) -> bytes:
    """One JSON document per line, spaced like the AWS documentation's examples."""
    return "".join(json.dumps(record) + "\n" for record in records).encode("utf-8")
