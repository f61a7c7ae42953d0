"""PCA (pca:1): principal components from exactly merged per-instance statistics.

AWS's PCA is data-parallel: each instance summarises its shard, the summaries
are combined and the components come from the combined matrix. Here every
instance computes ``(n, mean, scatter = (X - mean)^T (X - mean))`` of its shard;
the statistics are merged exactly (Chan et al.'s parallel update), and the
components are the top eigenvectors of the merged covariance:

* ``algorithm_mode=regular``: ``numpy.linalg.eigh`` (exact);
* ``algorithm_mode=randomized``: scikit-learn's ``randomized_svd`` with
  ``num_components + extra_components`` (default ``max(10, num_components)``) columns.

The result equals ``sklearn.decomposition.PCA`` on the concatenated data up to
the signs, which are fixed so that each component's largest-magnitude
coefficient is positive. ``subtract_mean=false`` uses the uncentred second moment.
``mini_batch_size`` is validated (AWS reads the data in such batches) and does
not change the result. One training unit is one pass over the data.

Metric: AWS defines none for PCA (it has no tuning metrics). SageTutor reports
its own ``train:explained_variance_ratio``: the share of the total variance the
kept components explain (declared in ``metrics`` so the engine can show it).

Inference: text/csv, application/json, application/jsonlines in;
application/json (default) ``{"projections": [{"projection": [..]}]}``, text/csv
one comma-separated projection per line. ``predict_array`` returns the projections.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.extmath import randomized_svd

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

NAME = "pca"

SPEC = Spec(
    Param("feature_dim", "int", required=True, low=1),
    Param("mini_batch_size", "int", required=True, low=1),
    Param("num_components", "int", required=True, low=1),
    Param("algorithm_mode", "choice", default="regular", choices=("regular", "randomized")),
    Param("subtract_mean", "bool", default=True),
    Param("extra_components", "int", default=-1, low=-1),
)


class PCA(Algorithm):
    name = NAME
    repository = "pca"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=False,
        processors=frozenset({"cpu", "gpu"}),
        gpu_accelerated=False,
        incremental=False,
        content_types=("text/csv", "text/csv;label_size=0", "text/csv;label_size=1"),
        default_content_type="text/csv;label_size=0",
        required_channels=("train",),
        optional_channels=("test",),
        inference_content_types=("text/csv", "application/json", "application/jsonlines"),
        inference_accept=("application/json", "text/csv", "application/jsonlines"),
    )
    metrics = (MetricSpec("train:explained_variance_ratio", "Maximize"),)

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        if hp["num_components"] > hp["feature_dim"]:
            raise AlgorithmClientError(
                f"Hyperparameter 'num_components': value '{hp['num_components']}' is out of range; it must "
                f"not exceed feature_dim ({hp['feature_dim']})."
            )
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> PCATrainer:
        parts = instance_shards("PCA", True, channels, shards, instance_count)
        return PCATrainer(hp, parts, seed)

    def load_model(self, data: bytes) -> PCAModel:
        return PCAModel(loads(data, "model", NAME))


def shard_statistics(x: np.ndarray, subtract_mean: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, mean, scatter)`` of one shard (scatter about the mean, or about 0)."""
    n = len(x)
    mean = x.mean(axis=0) if subtract_mean else np.zeros(x.shape[1])
    centred = x - mean
    return n, mean, centred.T @ centred


def merge_statistics(a: tuple[int, np.ndarray, np.ndarray], b: tuple[int, np.ndarray, np.ndarray]
                     ) -> tuple[int, np.ndarray, np.ndarray]:
    """Exact combination of two shards' statistics (Chan, Golub and LeVeque)."""
    na, ma, sa = a
    nb, mb, sb = b
    n = na + nb
    delta = mb - ma
    mean = ma + delta * (nb / n)
    return n, mean, sa + sb + np.outer(delta, delta) * (na * nb / n)


class PCATrainer(PickledState, Trainer):
    unit_name = "pass"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "result")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], seed: int) -> None:
        self.hp = hp
        self.shards = [read_features(p, hp["feature_dim"], "PCA") for p in parts]
        n = sum(len(s) for s in self.shards)
        if n < 2:
            raise AlgorithmClientError("Channel 'train' needs at least two records for PCA.")
        self.seed = int(seed)
        self.total_units = 1
        self.cells = sum(s.size for s in self.shards)
        self.done_units = 0
        self.result: dict[str, Any] | None = None

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        stats = [shard_statistics(s, self.hp["subtract_mean"]) for s in self.shards]
        merged = stats[0]
        for s in stats[1:]:
            if self.hp["subtract_mean"]:
                merged = merge_statistics(merged, s)
            else:
                merged = (merged[0] + s[0], merged[1], merged[2] + s[2])
        self.result = self._components(*merged)
        self.done_units = 1
        return [UnitRecord(unit=1, metrics=self.final_metrics())]

    def _components(self, n: int, mean: np.ndarray, scatter: np.ndarray) -> dict[str, Any]:
        hp = self.hp
        k = hp["num_components"]
        cov = scatter / max(n - 1, 1)
        total = float(np.trace(cov))
        if hp["algorithm_mode"] == "randomized" and k < cov.shape[0]:
            extra = max(10, k) if hp["extra_components"] == -1 else hp["extra_components"]
            u, s, _ = randomized_svd(cov, n_components=min(k + extra, cov.shape[0]), n_iter=7,
                                     random_state=self.seed % (2**32))
            values, vectors = s[:k], u[:, :k].T
        else:
            w, v = np.linalg.eigh(cov)
            order = np.argsort(w)[::-1][:k]
            values, vectors = np.clip(w[order], 0, None), v[:, order].T
        signs = np.sign(vectors[np.arange(k), np.argmax(np.abs(vectors), axis=1)])
        vectors = vectors * np.where(signs == 0, 1.0, signs)[:, None]
        ratio = values / total if total > 0 else np.zeros_like(values)
        return {"mean": mean, "components": np.ascontiguousarray(vectors), "explained_variance": values,
                "explained_variance_ratio": ratio, "feature_dim": hp["feature_dim"]}

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if self.result is None:
            return {}
        return {"train:explained_variance_ratio": float(np.sum(self.result["explained_variance_ratio"]))}

    @trainer_method
    def model(self) -> PCAModel:
        if self.result is None:
            raise RuntimeError("not trained yet")
        return PCAModel(self.result)

    def work_per_unit(self) -> float:
        d = self.hp["feature_dim"]
        return float(sum(len(s) for s in self.shards) * d * d * 2 + d ** 3)


class PCAModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.mean: np.ndarray = payload["mean"]
        self.components: np.ndarray = payload["components"]
        self.feature_dim: int = payload["feature_dim"]

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"each record must have {self.feature_dim} features, got {x.shape[1]}")
        return (x - self.mean) @ self.components.T

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.feature_dim)
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        proj = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(proj), out_type
        recs = [{"projection": row} for row in proj.tolist()]
        if out_type == "application/json":
            return inference.json_body({"projections": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
