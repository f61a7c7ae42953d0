"""k-NN (knn:1) on scikit-learn's nearest-neighbour estimators.

AWS's k-NN samples ``sample_size`` training points, optionally reduces their
dimension, and builds a Faiss index over them; inference votes (classifier) or
averages (regressor) the labels of the ``k`` nearest indexed points. Here:

* the sample is drawn with a seeded generator; with several instances each one
  samples ``ceil(sample_size / instances)`` rows of its shard and the samples
  are merged, as AWS does;
* ``dimension_reduction_type=sign`` is a random projection with +-1 entries
  (``SparseRandomProjection(density=1)``), ``fjlt`` a Gaussian random projection
  (the fast Johnson-Lindenstrauss transform's distribution), both to
  ``dimension_reduction_target`` dimensions;
* the index is ``KNeighborsClassifier`` / ``KNeighborsRegressor`` (exact search:
  ``faiss.Flat`` -> brute force, ``faiss.IVFFlat``/``faiss.IVFPQ`` -> a tree
  index, so the approximate indexes answer exactly here); ``index_metric``
  L2 -> euclidean, COSINE -> cosine (INNER_PRODUCT is not simulated).

One training unit builds the index. Metric: ``test:accuracy`` (classifier) or
``test:mse`` (regressor) on the test channel.

Inference: text/csv, application/json, application/jsonlines in; application/json
(default) ``{"predictions": [{"predicted_label": l}]}`` (with
``Accept: application/json; verbose=true`` also the neighbours' ``distances``
and ``labels``), text/csv one label per line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection

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
from engine.algorithms.hyperparameters import Param, Spec, missing_error
from engine.algorithms.readers import check_content_type, instance_shards, label_size, read_csv
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "knn"

SPEC = Spec(
    Param("feature_dim", "int", required=True, low=1),
    Param("k", "int", required=True, low=1, high=1024),
    Param("predictor_type", "choice", required=True, choices=("classifier", "regressor")),
    Param("sample_size", "int", required=True, low=1),
    Param("dimension_reduction_type", "choice", choices=("sign", "fjlt")),
    Param("dimension_reduction_target", "int", low=1),
    Param("index_type", "choice", default="faiss.Flat", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")),
    Param("index_metric", "choice", default="L2", choices=("L2", "INNER_PRODUCT", "COSINE")),
    Param("faiss_index_ivf_nlists", "int", default="auto", low=1, auto=True, ignored=True),
    Param("faiss_index_pq_m", "int", low=1, ignored=True),
    Param("mini_batch_size", "int", default=5000, low=1, ignored=True),
)


class KNN(Algorithm):
    name = NAME
    repository = "knn"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=False,
        processors=frozenset({"cpu", "gpu"}),
        gpu_accelerated=False,
        incremental=False,
        content_types=("text/csv", "text/csv;label_size=1"),
        default_content_type="text/csv",
        required_channels=("train",),
        optional_channels=("test",),
        inference_content_types=("text/csv", "application/json", "application/jsonlines"),
        inference_accept=("application/json", "text/csv", "application/jsonlines"),
    )
    metrics = (MetricSpec("test:accuracy", "Maximize"), MetricSpec("test:mse", "Minimize"))

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        if hp["dimension_reduction_type"] and hp["dimension_reduction_target"] is None:
            raise missing_error("dimension_reduction_target", "required when dimension_reduction_type is set")
        if hp["dimension_reduction_type"] and hp["dimension_reduction_target"] >= hp["feature_dim"]:
            raise AlgorithmClientError(
                f"Hyperparameter 'dimension_reduction_target': value '{hp['dimension_reduction_target']}' must "
                f"be smaller than feature_dim ({hp['feature_dim']})."
            )
        if hp["index_metric"] == "INNER_PRODUCT":
            raise AlgorithmClientError("Hyperparameter 'index_metric': INNER_PRODUCT is not simulated by "
                                       "SageTutor's k-NN; use L2 or COSINE.")
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> KNNTrainer:
        parts = instance_shards("k-NN", True, channels, shards, instance_count)
        return KNNTrainer(hp, parts, channels.get("test"), seed)

    def load_model(self, data: bytes) -> KNNModel:
        return KNNModel(loads(data, "model", NAME))


def _read(channel: ChannelData, feature_dim: int) -> tuple[np.ndarray, np.ndarray]:
    check_content_type(channel, ("text/csv",), "text/csv", "k-NN")
    if label_size(channel, 1) != 1:
        raise AlgorithmClientError(f"Channel '{channel.name}': k-NN needs labelled data (label_size=1).")
    x, y, _ = read_csv(channel, labels=1)
    if x.shape[1] != feature_dim:
        raise AlgorithmClientError(
            f"Channel '{channel.name}': the data has {x.shape[1]} features (after the label column) but "
            f"hyperparameter feature_dim is {feature_dim}."
        )
    assert y is not None
    return x, y


class KNNTrainer(PickledState, Trainer):
    unit_name = "index"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "payload")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.shards = [_read(p, hp["feature_dim"]) for p in parts]
        self.test = _read(test, hp["feature_dim"]) if test is not None else None
        self.seed = int(seed)
        self.total_units = 1
        self.cells = sum(x.size for x, _ in self.shards)
        self.done_units = 0
        self.payload: dict[str, Any] | None = None
        self._model: KNNModel | None = None

    def _after_restore(self) -> None:
        self._model = None

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        hp = self.hp
        per_instance = math.ceil(hp["sample_size"] / len(self.shards))
        xs, ys = [], []
        for rank, (x, y) in enumerate(self.shards):
            rng = np.random.default_rng([self.seed, rank])
            rows = np.sort(rng.choice(len(x), size=per_instance, replace=False)) if per_instance < len(x) \
                else np.arange(len(x))
            xs.append(x[rows])
            ys.append(y[rows])
        x, y = np.vstack(xs), np.concatenate(ys)
        projection = None
        if hp["dimension_reduction_type"]:
            cls = SparseRandomProjection if hp["dimension_reduction_type"] == "sign" else GaussianRandomProjection
            kwargs = {"density": 1.0, "dense_output": True} if cls is SparseRandomProjection else {}
            projection = cls(n_components=hp["dimension_reduction_target"], random_state=self.seed % (2**32),
                             **kwargs).fit(x)
            x = projection.transform(x)
        cls_est = KNeighborsClassifier if hp["predictor_type"] == "classifier" else KNeighborsRegressor
        est = cls_est(n_neighbors=min(hp["k"], len(x)),
                      algorithm="brute" if hp["index_type"] == "faiss.Flat" or hp["index_metric"] == "COSINE"
                      else "auto",
                      metric="cosine" if hp["index_metric"] == "COSINE" else "euclidean")
        est.fit(x, y)
        self.payload = {"estimator": est, "projection": projection, "feature_dim": hp["feature_dim"],
                        "predictor_type": hp["predictor_type"], "labels": y}
        self._model = None
        self.done_units = 1
        return [UnitRecord(unit=1, metrics=self.final_metrics())]

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if self.payload is None or self.test is None:
            return {}
        x, y = self.test
        pred = self.model().predict_array(x)
        if self.hp["predictor_type"] == "classifier":
            return {"test:accuracy": metrics.accuracy(y, pred)}
        return {"test:mse": metrics.mse(y, pred)}

    @trainer_method
    def model(self) -> KNNModel:
        if self.payload is None:
            raise RuntimeError("index not built yet")
        if self._model is None:
            self._model = KNNModel(self.payload)
        return self._model

    def work_per_unit(self) -> float:
        n = sum(len(y) for _, y in self.shards)
        sample = min(n, self.hp["sample_size"])
        queries = len(self.test[1]) if self.test is not None else 0
        return float(n * self.hp["feature_dim"] + (sample + queries * sample) * self.hp["feature_dim"] * 3)


class KNNModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.est = payload["estimator"]
        self.projection = payload["projection"]
        self.feature_dim: int = payload["feature_dim"]
        self.classifier = payload["predictor_type"] == "classifier"

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"each record must have {self.feature_dim} features, got {x.shape[1]}")
        return self.projection.transform(x) if self.projection is not None else x

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.est.predict(self._prepare(x)), dtype=np.float64)

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.feature_dim)
        out_type, params = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                               "application/json")
        pred = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(pred), out_type
        recs: list[dict[str, Any]] = [{"predicted_label": v} for v in pred.tolist()]
        if params.get("verbose", "").lower() == "true":
            dist, idx = self.est.kneighbors(self._prepare(x))
            labels = self.payload["labels"]
            for rec, d, i in zip(recs, dist.tolist(), idx):
                rec["distances"] = d
                rec["labels"] = labels[i].astype(np.float64).tolist()
        if out_type == "application/json":
            return inference.json_body({"predictions": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
