"""Seeded 70/15/15 splits and train sharding shared by every dataset.

The split of a dataset depends only on the engine seed and on a *split key* (the
base dataset name), so ``breast-cancer``, ``breast-cancer-libsvm`` and
``breast-cancer-parquet`` hold exactly the same rows in the same splits, and the
same learner seed always sees the same bucket.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["SPLITS", "TRAIN_PARTS", "rng_for", "shard", "split_indices", "split_sizes"]

SPLITS: tuple[str, str, str] = ("train", "validation", "test")
#: Train objects per dataset, so ShardedByS3Key can feed up to four instances.
TRAIN_PARTS = 4


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator that depends on the seed and a stable key (crc32, not ``hash``)."""
    return np.random.default_rng([seed % 2**64, zlib.crc32(key.encode("utf-8"))])


def split_sizes(n: int) -> dict[str, int]:
    """Records per split: 15% validation and 15% test (rounded down), the rest train."""
    held_out = n * 15 // 100
    return {"train": n - 2 * held_out, "validation": held_out, "test": held_out}


def split_indices(n: int, seed: int, key: str) -> dict[str, np.ndarray]:
    """Shuffle ``range(n)`` with the seed and cut it into train/validation/test."""
    order = rng_for(seed, key).permutation(n)
    sizes = split_sizes(n)
    train_end = sizes["train"]
    validation_end = train_end + sizes["validation"]
    return {
        "train": order[:train_end],
        "validation": order[train_end:validation_end],
        "test": order[validation_end:],
    }


def shard(items: np.ndarray, parts: int = TRAIN_PARTS) -> list[np.ndarray]:
    """Cut ``items`` into ``parts`` contiguous, nearly equal pieces (keeps order)."""
    return list(np.array_split(items, parts))
