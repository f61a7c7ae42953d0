"""K-Means (kmeans:1) as AWS runs it: mini-batch k-means with extra centers, then local Lloyd.

AWS's K-Means streams mini-batches through a web-scale (mini-batch) k-means that
keeps ``k * extra_center_factor`` centers, and when training ends reduces them to
``k`` with a local Lloyd's k-means on the centers weighted by their sizes. Here:

* one epoch = one pass of ``MiniBatchKMeans.partial_fit`` over the rows in
  ``mini_batch_size`` batches (seeded order), so training continues for real;
* the reduction is ``KMeans(k, init=local_lloyd_init_method,
  n_init=local_lloyd_num_trials, max_iter=local_lloyd_max_iter,
  tol=local_lloyd_tol)`` on the extra centers with ``sample_weight`` = the rows
  each one holds. ``extra_center_factor=auto`` keeps 4x the centers
  (at most one per training row).

Metrics: ``train:msd`` (mean squared distance to the closest final center),
``test:msd`` and ``test:ssd`` (sum) for the test channel, as selected by
``eval_metrics`` (default msd); computed at the end of each ``fit_until`` call.

Single instance only (AWS's table lists K-Means as not parallelizable).

Data: text/csv, label_size=0 by default (``text/csv;label_size=1`` drops a
leading label column, e.g. for a labelled test set). ``feature_dim`` must equal
the number of feature columns.

Inference: text/csv, application/json, application/jsonlines in; application/json
(default) ``{"predictions": [{"closest_cluster": c, "distance_to_cluster": d}]}``,
text/csv ``c,d`` per line. ``predict_array`` returns the ``(n, 2)`` array of both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import MiniBatchKMeans

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

NAME = "kmeans"

SPEC = Spec(
    Param("k", "int", required=True, low=1),
    Param("feature_dim", "int", required=True, low=1),
    Param("epochs", "int", default=1, low=1),
    Param("mini_batch_size", "int", default=5000, low=1),
    Param("init_method", "choice", default="random", choices=("random", "kmeans++")),
    Param("extra_center_factor", "int", default="auto", low=1, auto=True),
    Param("local_lloyd_max_iter", "int", default=300, low=1),
    Param("local_lloyd_tol", "float", default=0.0001, low=0),
    Param("local_lloyd_init_method", "choice", default="kmeans++", choices=("random", "kmeans++")),
    Param("local_lloyd_num_trials", "int", default="auto", low=1, auto=True),
    Param("half_life_time_size", "int", default=0, low=0, ignored=True),
    Param("eval_metrics", "list", default=["msd"], choices=("msd", "ssd")),
)


def _sk_init(name: str) -> str:
    return "k-means++" if name == "kmeans++" else "random"


class KMeans(Algorithm):
    name = NAME
    repository = "kmeans"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=False,
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
    metrics = (MetricSpec("test:msd", "Minimize"), MetricSpec("test:ssd", "Minimize"),
               MetricSpec("train:msd", "Minimize"))

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        return SPEC.parse(raw)

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> KMeansTrainer:
        parts = instance_shards("K-Means", False, channels, shards, instance_count)
        return KMeansTrainer(hp, parts[0], channels.get("test"), seed)

    def load_model(self, data: bytes) -> KMeansModel:
        return KMeansModel(loads(data, "model", NAME))


def _closest(x: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, squared distance) of each row's closest center."""
    part = x @ (-2.0 * centers.T)
    part += np.einsum("ij,ij->i", centers, centers)[None, :]
    idx = np.argmin(part, axis=1)
    d2 = part[np.arange(len(x)), idx] + np.einsum("ij,ij->i", x, x)
    return idx, np.maximum(d2, 0.0)


class KMeansTrainer(PickledState, Trainer):
    unit_name = "epoch"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "estimator")

    def __init__(self, hp: dict[str, Any], train: ChannelData, test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.x = read_features(train, hp["feature_dim"], "K-Means")
        self.x_test = read_features(test, hp["feature_dim"], "K-Means") if test is not None else None
        n, k = len(self.x), hp["k"]
        if k > n:
            raise AlgorithmClientError(
                f"Hyperparameter 'k' is {k} but channel 'train' has only {n} records."
            )
        factor = 4 if hp["extra_center_factor"] == "auto" else hp["extra_center_factor"]
        self.batch = min(hp["mini_batch_size"], n)
        self.n_centers = max(k, min(k * factor, self.batch))
        self.seed = int(seed)
        self.total_units = int(hp["epochs"])
        self.cells = self.x.size
        self.done_units = 0
        self.estimator: MiniBatchKMeans | None = None
        self._final: tuple[int, np.ndarray] | None = None

    def _after_restore(self) -> None:
        self._final = None

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if self.estimator is None:
            self.estimator = MiniBatchKMeans(
                n_clusters=self.n_centers, init=_sk_init(self.hp["init_method"]), batch_size=self.batch,
                n_init=1, random_state=self.seed % (2**32), compute_labels=False, max_no_improvement=None,
                reassignment_ratio=0.0)
        records = []
        n = len(self.x)
        while self.done_units < units:
            epoch = self.done_units + 1
            order = np.random.default_rng([self.seed, epoch]).permutation(n)
            for start in range(0, n, self.batch):
                rows = order[start:start + self.batch]
                if not hasattr(self.estimator, "cluster_centers_") and len(rows) < self.n_centers:
                    rows = order[:self.n_centers]
                self.estimator.partial_fit(self.x[rows])
            self.done_units = epoch
            records.append(UnitRecord(unit=epoch))
        records[-1].metrics.update(self.final_metrics())
        return records

    @trainer_method
    def centers(self) -> np.ndarray:
        """The k final centers: the extra centers reduced by weighted local Lloyd's k-means."""
        if self.estimator is None:
            raise RuntimeError("no epochs trained yet")
        if self._final is not None and self._final[0] == self.done_units:
            return self._final[1]
        extra = self.estimator.cluster_centers_
        k = self.hp["k"]
        if len(extra) == k:
            centers = extra.copy()
        else:
            weights = getattr(self.estimator, "_counts", None)  # rows each center absorbed (private)
            if weights is None or len(weights) != len(extra):
                weights = np.bincount(_closest(self.x, extra)[0], minlength=len(extra))
            weights = np.asarray(weights, dtype=np.float64)
            used = weights > 0
            pts, w = extra[used], weights[used]
            if len(pts) <= k:
                centers = np.vstack([pts, extra[~used][:k - len(pts)]])
            else:
                trials = 1 if self.hp["local_lloyd_num_trials"] == "auto" else self.hp["local_lloyd_num_trials"]
                lloyd = SkKMeans(n_clusters=k, init=_sk_init(self.hp["local_lloyd_init_method"]), n_init=trials,
                                 max_iter=self.hp["local_lloyd_max_iter"], tol=self.hp["local_lloyd_tol"],
                                 random_state=(self.seed + 1) % (2**32))
                centers = lloyd.fit(pts, sample_weight=w).cluster_centers_
        self._final = (self.done_units, centers)
        return centers

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if self.estimator is None:
            return {}
        centers = self.centers()
        out = {"train:msd": float(np.mean(_closest(self.x, centers)[1]))}
        if self.x_test is not None:
            d2 = _closest(self.x_test, centers)[1]
            if "msd" in self.hp["eval_metrics"]:
                out["test:msd"] = float(np.mean(d2))
            if "ssd" in self.hp["eval_metrics"]:
                out["test:ssd"] = float(np.sum(d2))
        return out

    @trainer_method
    def model(self) -> KMeansModel:
        return KMeansModel({"centers": self.centers(), "feature_dim": self.hp["feature_dim"]})

    def work_per_unit(self) -> float:
        return float(len(self.x) * self.hp["feature_dim"] * self.n_centers * 3)


class KMeansModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.centers: np.ndarray = payload["centers"]
        self.feature_dim: int = payload["feature_dim"]

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"each record must have {self.feature_dim} features, got {x.shape[1]}")
        idx, d2 = _closest(x, self.centers)
        return np.column_stack([idx.astype(np.float64), np.sqrt(d2)])

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.feature_dim)
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        pred = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(pred), out_type
        recs = [{"closest_cluster": c, "distance_to_cluster": d} for c, d in pred.tolist()]
        if out_type == "application/json":
            return inference.json_body({"predictions": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
