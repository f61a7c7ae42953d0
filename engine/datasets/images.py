"""The scikit-learn digits as PNG files, for Image Classification and Ground Truth.

Layout follows what the AWS Image Classification algorithm reads in "lst" mode
(images in class folders plus a ``.lst`` index per channel) and what a Ground Truth
labeling job takes (an input manifest of ``source-ref`` URIs). The split is the
``digits`` CSV split, and ``<index>`` is the row of the digit in scikit-learn, so
the same image carries the same number everywhere in the bucket.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.datasets.catalog import BUCKET
from engine.datasets.groundtruth import manifest_objects
from engine.datasets.png import encode_png
from engine.datasets.split import split_indices
from engine.datasets.tabular import load

__all__ = ["digit_pngs", "images_objects"]

CLASSES = tuple(str(digit) for digit in range(10))


@lru_cache(maxsize=1)
def digit_pngs() -> tuple[bytes, ...]:
    """Every digit as an 8x8 PNG, intensities 0-16 scaled (rounded) to 0-255."""
    _, features = load("digits")
    pixels = ((features * 255 + 8) // 16).astype(np.uint8).reshape(-1, 8, 8)
    return tuple(encode_png(image) for image in pixels)


def images_objects(name: str, seed: int) -> dict[str, bytes]:
    """Class-folder splits, ``.lst`` files, ``all/`` images and the labeling manifest."""
    labels, _ = load("digits")
    pngs = digit_pngs()
    label_list = labels.tolist()
    objects: dict[str, bytes] = {f"{name}/all/{index}.png": png for index, png in enumerate(pngs)}
    for split, indices in split_indices(len(label_list), seed, "digits").items():
        lines = []
        for index in sorted(indices.tolist()):
            relative = f"{label_list[index]}/{index}.png"
            objects[f"{name}/{split}/{relative}"] = pngs[index]
            lines.append(f"{index}\t{label_list[index]}\t{relative}\n")
        objects[f"{name}/{split}_lst/{split}.lst"] = "".join(lines).encode("ascii")
    records = [{"source-ref": f"s3://{BUCKET}/{name}/all/{index}.png"} for index in range(len(pngs))]
    objects.update(manifest_objects(name, records, [CLASSES[label] for label in label_list], CLASSES))
    return objects
