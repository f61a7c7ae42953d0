"""Ground Truth inputs: an input manifest, the label categories, and the answers.

The simulated labeling workforce needs the true label of every manifest line to
decide what each (imperfect) worker answers, and the engine needs them to report
labeling accuracy; both read ``labels.json``. Labels are the category names of
``label-categories.json``, whose list position is the class id Ground Truth emits.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.datasets.formats import json_bytes, jsonlines_bytes

__all__ = ["DOCUMENT_VERSION", "manifest_objects"]

DOCUMENT_VERSION = "2018-11-28"


def manifest_objects(
    prefix: str, records: Sequence[dict[str, str]], labels: Sequence[str], categories: Sequence[str]
) -> dict[str, bytes]:
    """``<prefix>/manifest/{input.manifest,labels.json,label-categories.json}``.

    Line ``i`` of the manifest is record ``i``; ``labels.json`` maps ``"i"`` to its label.
    """
    if len(records) != len(labels) or not set(labels) <= set(categories):
        raise ValueError("every manifest record needs exactly one label from the categories")
    return {
        f"{prefix}/manifest/input.manifest": jsonlines_bytes(records),
        f"{prefix}/manifest/labels.json": json_bytes(
            {str(index): label for index, label in enumerate(labels)}
        ),
        f"{prefix}/manifest/label-categories.json": json_bytes(
            {"document-version": DOCUMENT_VERSION, "labels": [{"label": name} for name in categories]}
        ),
    }
