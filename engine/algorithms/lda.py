"""LDA (lda:1) on scikit-learn's online variational Bayes LatentDirichletAllocation.

AWS's LDA is a spectral method: one pass over the word counts builds moment
tensors, then up to ``max_iterations`` alternating-least-squares iterations
(with ``max_restarts`` restarts) decompose them. SageTutor trains the same model
(topics over a ``feature_dim``-word vocabulary, Dirichlet prior
``alpha0 / num_topics`` per topic) with online variational Bayes instead:

* one training unit = one ``partial_fit`` pass over the documents in seeded
  order, in batches of ``mini_batch_size``;
* units = ``min(max_iterations, 10)``: passes over the data are what costs time
  here, and ten passes converge on the small data SageTutor trains on, so the
  default (AWS: 1000 ALS iterations on small tensors) does not mean 1000 passes;
* ``max_restarts`` and ``tol`` are accepted and have no effect.

Metric: ``test:pwll``, the per-word log-likelihood of the test documents
(scikit-learn's variational bound ``score()`` divided by the test word count),
at the end of each ``fit_until`` call. Single instance, CPU only (as AWS).

Data: CSV of word counts, one document per row (``text/csv;label_size=0``).

Inference: text/csv, application/json, application/jsonlines in; application/json
(default) ``{"predictions": [{"topic_mixture": [...]}]}``, text/csv one
comma-separated topic mixture per line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import LatentDirichletAllocation

from engine.algorithms import inference
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
from engine.algorithms.readers import instance_shards, read_features
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "lda"
MAX_PASSES = 10

SPEC = Spec(
    Param("num_topics", "int", required=True, low=1),
    Param("feature_dim", "int", required=True, low=1),
    Param("mini_batch_size", "int", required=True, low=1),
    Param("alpha0", "float", default=1.0, low=0, low_open=True),
    Param("max_restarts", "int", default=10, low=1, ignored=True),
    Param("max_iterations", "int", default=1000, low=1),
    Param("tol", "float", default=1e-8, low=0, ignored=True),
)


def _read_counts(channel: ChannelData, feature_dim: int) -> np.ndarray:
    x = read_features(channel, feature_dim, "LDA")
    if (x < 0).any():
        row = int(np.flatnonzero((x < 0).any(axis=1))[0]) + 1
        raise AlgorithmClientError(
            f"Channel '{channel.name}': record {row} has a negative word count; LDA reads non-negative counts."
        )
    return x


class LDA(Algorithm):
    name = NAME
    repository = "lda"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=False,
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
    metrics = (MetricSpec("test:pwll", "Maximize"),)

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        return SPEC.parse(raw)

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> LDATrainer:
        parts = instance_shards("LDA", False, channels, shards, instance_count)
        return LDATrainer(hp, parts[0], channels.get("test"), seed)

    def load_model(self, data: bytes) -> LDAModel:
        return LDAModel(loads(data, "model", NAME))


class LDATrainer(PickledState, Trainer):
    unit_name = "pass"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "estimator")

    def __init__(self, hp: dict[str, Any], train: ChannelData, test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.x = _read_counts(train, hp["feature_dim"])
        if self.x.sum() == 0:
            raise AlgorithmClientError("Channel 'train' holds no words (every count is 0).")
        self.x_test = _read_counts(test, hp["feature_dim"]) if test is not None else None
        self.seed = int(seed)
        self.total_units = min(int(hp["max_iterations"]), MAX_PASSES)
        self.cells = self.x.size
        self.done_units = 0
        self.estimator: LatentDirichletAllocation | None = None

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if self.estimator is None:
            k = self.hp["num_topics"]
            self.estimator = LatentDirichletAllocation(
                n_components=k, doc_topic_prior=self.hp["alpha0"] / k, learning_method="online",
                batch_size=self.hp["mini_batch_size"], total_samples=len(self.x),
                random_state=self.seed % (2**32))
        records = []
        while self.done_units < units:
            epoch = self.done_units + 1
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))
            self.estimator.partial_fit(self.x[order])
            self.done_units = epoch
            records.append(UnitRecord(unit=epoch))
        records[-1].metrics.update(self.final_metrics())
        return records

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if self.estimator is None or self.x_test is None:
            return {}
        words = float(self.x_test.sum())
        if words == 0:
            return {}
        return {"test:pwll": float(self.estimator.score(self.x_test)) / words}

    @trainer_method
    def model(self) -> LDAModel:
        if self.estimator is None:
            raise RuntimeError("no passes trained yet")
        return LDAModel({"estimator": self.estimator, "feature_dim": self.hp["feature_dim"]})

    def work_per_unit(self) -> float:
        nnz = int(np.count_nonzero(self.x))
        return float(nnz * self.hp["num_topics"] * 20 * 4)


class LDAModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.est: LatentDirichletAllocation = payload["estimator"]
        self.feature_dim: int = payload["feature_dim"]

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"each record must have {self.feature_dim} word counts, got {x.shape[1]}")
        if (x < 0).any():
            raise ValueError("word counts must be non-negative")
        return self.est.transform(x)

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.feature_dim)
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        mix = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(mix), out_type
        recs = [{"topic_mixture": row} for row in mix.tolist()]
        if out_type == "application/json":
            return inference.json_body({"predictions": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
