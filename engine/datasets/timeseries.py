"""Seeded hourly series in DeepAR's JSON Lines format.

DeepAR's convention is that the test channel holds the *full* series and the train
channel the same series without the last ``prediction_length`` points; the engine
scores forecasts of those held-out 24 hours, so the two must line up exactly.
"""

from __future__ import annotations

import numpy as np

from engine.datasets.catalog import SIZES
from engine.datasets.formats import jsonlines_bytes, part_key
from engine.datasets.split import TRAIN_PARTS, rng_for

__all__ = ["LENGTH", "PREDICTION_LENGTH", "START", "series", "timeseries_objects"]

START = "2025-01-01 00:00:00"
PREDICTION_LENGTH = 24
LENGTH = 24 * 40


def series(seed: int) -> np.ndarray:
    """``(20, 960)`` hourly values: level + trend + daily and weekly cycles + noise."""
    rng = rng_for(seed, "timeseries")
    count = SIZES["timeseries"]
    hours = np.arange(LENGTH, dtype=np.float64)
    level = rng.uniform(20.0, 100.0, size=(count, 1))
    trend = rng.uniform(-0.1, 0.3, size=(count, 1)) * level / LENGTH  # -10%..+30% over 40 days
    daily = rng.uniform(0.1, 0.3, size=(count, 1)) * level
    weekly = rng.uniform(0.0, 0.1, size=(count, 1)) * level
    phase = rng.uniform(0.0, 2 * np.pi, size=(count, 1))
    noise = rng.normal(size=(count, LENGTH)) * rng.uniform(0.02, 0.06, size=(count, 1)) * level
    values = (
        level
        + trend * hours
        + daily * np.sin(2 * np.pi * hours / 24 + phase)
        + weekly * np.sin(2 * np.pi * hours / (24 * 7))
        + noise
    )
    return np.round(np.clip(values, 0.0, None), 3)


def _records(values: np.ndarray, first: int) -> list[dict[str, object]]:
    return [
        {"start": START, "target": row, "cat": [first + offset]} for offset, row in enumerate(values.tolist())
    ]


def timeseries_objects(name: str, seed: int) -> dict[str, bytes]:
    """Train (4 shards, truncated by 24 points) and test (one object, full length)."""
    values = series(seed)
    objects: dict[str, bytes] = {}
    bounds = np.linspace(0, len(values), TRAIN_PARTS + 1).astype(int)
    for number, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
        objects[part_key(name, "train", number, "json")] = jsonlines_bytes(
            _records(values[low:high, :-PREDICTION_LENGTH], int(low))
        )
    objects[part_key(name, "test", 0, "json")] = jsonlines_bytes(_records(values, 0))
    return objects
