"""The built-in algorithms, keyed by the engine's name for them.

Each module holds one ``Algorithm`` (see ``base.py`` for the protocol); this
registry is all the engine needs::

    from engine.algorithms import get
    algo = get("xgboost")
    hp = algo.parse_hyperparameters({"num_round": "50", "objective": "binary:logistic"})
    trainer = algo.trainer(hp, channels, shards=None, seed=7, instance_count=1)
    records = trainer.fit_until(trainer.total_units)

Trainers whose training can end before ``total_units`` (XGBoost
early_stopping_rounds, Linear Learner, BlazingText, DeepAR and Image
Classification early stopping) set ``stopped_early = True`` and lower
``total_units`` to the units done, so a loop ``while done_units < total_units``
ends.
"""

from __future__ import annotations

from engine.algorithms.base import Algorithm
from engine.algorithms.blazingtext import BlazingText
from engine.algorithms.deepar import DeepAR
from engine.algorithms.image_classification import ImageClassification
from engine.algorithms.kmeans import KMeans
from engine.algorithms.knn import KNN
from engine.algorithms.lda import LDA
from engine.algorithms.linear_learner import LinearLearner
from engine.algorithms.pca import PCA
from engine.algorithms.rcf import RandomCutForest
from engine.algorithms.xgboost import XGBoost

__all__ = ["BUILTINS", "get"]

BUILTINS: dict[str, Algorithm] = {
    algo.name: algo
    for algo in (
        XGBoost(),
        LinearLearner(),
        KMeans(),
        PCA(),
        KNN(),
        RandomCutForest(),
        LDA(),
        BlazingText(),
        DeepAR(),
        ImageClassification(),
    )
}


def get(name: str) -> Algorithm:
    """The built-in called ``name``; KeyError listing the known names otherwise."""
    try:
        return BUILTINS[name]
    except KeyError:
        raise KeyError(f"unknown built-in algorithm {name!r}; known: {', '.join(sorted(BUILTINS))}") from None
