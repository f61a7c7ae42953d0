"""Random Cut Forest (randomcutforest:1) approximated by scikit-learn's IsolationForest.

RCF and Isolation Forest are close relatives: both build random trees on small
random samples and score a point by how quickly the trees isolate it. Here
``num_trees`` -> ``n_estimators`` and ``num_samples_per_tree`` -> ``max_samples``
(capped at the rows available). One training unit builds the forest.

Score mapping. IsolationForest's ``-score_samples(x)`` is ``a = 2 ** (-E[h(x)] / c(psi))``
with ``E[h]`` the mean isolation depth and ``c(psi)`` the expected depth for a
sample of ``psi`` points. SageTutor reports ``score = c(psi) / E[h(x)] = -1 / log2(a)``:
about 1 for typical points and growing (2, 3, ...) as points are isolated faster,
the range AWS's RCF scores live in, so the usual "mean + 3 standard deviations"
rule applies unchanged.

Multi-instance: each instance builds ``num_trees / instances`` trees on its own
shard and the forests are merged (the merged score averages the normalised
depths tree by tree, as one forest of all the trees would).

Metrics: with a labelled test channel (``text/csv;label_size=1``, 1 = anomaly),
points scoring above mean + 3 std of the training scores are anomalies;
``test:f1`` (and test:precision, test:recall with eval_metrics
precision_recall_fscore; test:accuracy with accuracy).

Inference: text/csv, application/json, application/jsonlines in;
application/json (default) ``{"scores": [{"score": s}]}``, text/csv one score per line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from engine.algorithms import inference, metrics
from engine.algorithms.base import (
    Algorithm,
    AlgorithmClientError,
    Capabilities,
    ChannelData,
    MetricSpec,
    Model,
    Trainer,
    UnitRecord,
)
from engine.algorithms.hyperparameters import Param, Spec
from engine.algorithms.readers import check_content_type, instance_shards, label_size, read_csv, read_features
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "randomcutforest"

SPEC = Spec(
    Param("feature_dim", "int", required=True, low=1, high=10000),
    Param("num_trees", "int", default=100, low=50, high=1000),
    Param("num_samples_per_tree", "int", default=256, low=1, high=2048),
    Param("eval_metrics", "list", default=["accuracy", "precision_recall_fscore"],
          choices=("accuracy", "precision_recall_fscore")),
)


class RandomCutForest(Algorithm):
    name = NAME
    repository = "randomcutforest"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=False,
        processors=frozenset({"cpu"}),
        gpu_accelerated=False,
        incremental=False,
        content_types=("text/csv", "text/csv;label_size=0", "text/csv;label_size=1"),
        default_content_type="text/csv;label_size=0",
        required_channels=("train",),
        optional_channels=("test",),
        inference_content_types=("text/csv", "application/json", "application/jsonlines"),
        inference_accept=("application/json", "text/csv", "application/jsonlines"),
    )
    metrics = (MetricSpec("test:f1", "Maximize"), MetricSpec("test:precision", "Maximize"),
               MetricSpec("test:recall", "Maximize"), MetricSpec("test:accuracy", "Maximize"))

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        return SPEC.parse(raw)

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> RCFTrainer:
        parts = instance_shards("Random Cut Forest", True, channels, shards, instance_count)
        return RCFTrainer(hp, parts, channels.get("test"), seed)

    def load_model(self, data: bytes) -> RCFModel:
        return RCFModel(loads(data, "model", NAME))


def _read_test(channel: ChannelData, feature_dim: int) -> tuple[np.ndarray, np.ndarray]:
    check_content_type(channel, ("text/csv",), "text/csv", "Random Cut Forest")
    if label_size(channel, 1) != 1:
        raise AlgorithmClientError(
            "Channel 'test': Random Cut Forest scores a labelled test set; use ContentType "
            "'text/csv;label_size=1' with the label (1 = anomaly) in the first column."
        )
    x, y, _ = read_csv(channel, labels=1)
    if x.shape[1] != feature_dim:
        raise AlgorithmClientError(
            f"Channel 'test': the data has {x.shape[1]} features (after the label column) but hyperparameter "
            f"feature_dim is {feature_dim}."
        )
    assert y is not None
    return x, y


def forest_scores(forests: list[IsolationForest], x: np.ndarray) -> np.ndarray:
    """RCF-style scores of the merged forests: c(psi) / mean depth, tree-weighted across forests."""
    total = 0.0
    depth_ratio = np.zeros(len(x))
    for f in forests:
        a = np.clip(-f.score_samples(x), 1e-300, 1.0 - 1e-12)
        depth_ratio += -np.log2(a) * len(f.estimators_)
        total += len(f.estimators_)
    return total / np.maximum(depth_ratio, 1e-12)


class RCFTrainer(PickledState, Trainer):
    unit_name = "forest"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "forests")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.shards = [read_features(p, hp["feature_dim"], "Random Cut Forest") for p in parts]
        self.test = _read_test(test, hp["feature_dim"]) if test is not None else None
        self.seed = int(seed)
        self.total_units = 1
        self.cells = sum(s.size for s in self.shards)
        self.done_units = 0
        self.forests: list[IsolationForest] = []
        self._metrics: dict[str, float] | None = None

    def _after_restore(self) -> None:
        self._metrics = None

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        n = len(self.shards)
        trees = [self.hp["num_trees"] // n + (1 if r < self.hp["num_trees"] % n else 0) for r in range(n)]
        self.forests = []
        for rank, (x, count) in enumerate(zip(self.shards, trees)):
            if count < 1:
                continue
            f = IsolationForest(n_estimators=count, max_samples=min(self.hp["num_samples_per_tree"], len(x)),
                                random_state=(self.seed * 104729 + rank) % (2**32))
            self.forests.append(f.fit(x))
        self.done_units = 1
        self._metrics = None
        return [UnitRecord(unit=1, metrics=self.final_metrics())]

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if not self.forests or self.test is None:
            return {}
        if self._metrics is None:
            train_scores = forest_scores(self.forests, np.vstack(self.shards))
            threshold = float(train_scores.mean() + 3 * train_scores.std())
            x, y = self.test
            pred = (forest_scores(self.forests, x) > threshold).astype(np.float64)
            out = {}
            precision, recall, f1 = metrics.precision_recall_f(y, pred)
            if "precision_recall_fscore" in self.hp["eval_metrics"]:
                out.update({"test:f1": f1, "test:precision": precision, "test:recall": recall})
            if "accuracy" in self.hp["eval_metrics"]:
                out["test:accuracy"] = metrics.accuracy(y, pred)
            self._metrics = out
        return dict(self._metrics)

    @trainer_method
    def model(self) -> RCFModel:
        if not self.forests:
            raise RuntimeError("forest not built yet")
        return RCFModel({"forests": self.forests, "feature_dim": self.hp["feature_dim"]})

    def work_per_unit(self) -> float:
        psi = self.hp["num_samples_per_tree"]
        n = sum(len(s) for s in self.shards)
        scored = (n + len(self.test[1])) if self.test is not None else 0
        depth = max(1.0, np.log2(max(psi, 2)))
        return float(self.hp["num_trees"] * (psi * depth * self.hp["feature_dim"] + scored * depth))


class RCFModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.forests: list[IsolationForest] = payload["forests"]
        self.feature_dim: int = payload["feature_dim"]

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"each record must have {self.feature_dim} features, got {x.shape[1]}")
        return forest_scores(self.forests, x)

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.feature_dim)
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        scores = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(scores), out_type
        recs = [{"score": s} for s in scores.tolist()]
        if out_type == "application/json":
            return inference.json_body({"scores": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
