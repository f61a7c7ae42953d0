"""The one small protocol every built-in algorithm implements.

Like scikit-learn's estimator contract, every built-in is one module with one
class that (1) parses hyperparameters with AWS's names and rules, (2) reads its
channels in the content types AWS accepts, (3) trains with progress counted in
units (XGBoost rounds, epochs) that can be checkpointed and resumed, (4) predicts
in the built-in's response format, and (5) declares its capabilities as AWS
documents them. The engine owns time, money and storage; an algorithm owns only
the real computation, so it never sees the clock or S3.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np


class AlgorithmClientError(Exception):
    """A problem with the user's input: the job fails with ``ClientError: <message>``."""


class AlgorithmError(Exception):
    """A failure inside the algorithm: the job fails with ``AlgorithmError: <message>``."""


@dataclass(frozen=True)
class MetricSpec:
    name: str  # e.g. "validation:auc", as FinalMetricDataList and tuning name it
    direction: Literal["Maximize", "Minimize"]


@dataclass(frozen=True)
class Capabilities:
    """What AWS documents for the built-in (sagemaker-behaviour.md section 2)."""

    multi_instance: bool  # "parallelizable": trains data-parallel on InstanceCount > 1
    checkpointing: bool  # writes checkpoints Spot can resume from
    processors: frozenset[str]  # {"cpu"}, {"gpu"} or {"cpu", "gpu"}
    gpu_accelerated: bool  # a GPU instance speeds it up (deep-learning built-ins)
    incremental: bool  # accepts a "model" channel to continue from an earlier model
    content_types: tuple[str, ...]  # training content types accepted
    default_content_type: str
    required_channels: tuple[str, ...] = ("train",)
    optional_channels: tuple[str, ...] = ()
    inference_content_types: tuple[str, ...] = ("text/csv",)
    inference_accept: tuple[str, ...] = ("text/csv", "application/json")


@dataclass
class ChannelData:
    """One input channel as the container sees it: the raw objects, in key order."""

    name: str
    content_type: str | None  # as given in the request (None = the algorithm's default)
    objects: list[tuple[str, bytes]]  # (S3 key, bytes)


@dataclass
class UnitRecord:
    """What one unit of training (a round, an epoch) produced: metrics by AWS name."""

    unit: int  # 1-based
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer(ABC):
    """Training in resumable units.

    ``fit_until(n)`` continues from the current state to ``n`` units in total and
    returns one record per unit it did. ``state()`` is a checkpoint; a fresh
    trainer (same hyperparameters, same data) given ``restore(state)`` continues
    from it and keeps the earlier units' work (trees, weights).
    """

    total_units: int
    unit_name: str = "epoch"
    done_units: int = 0

    @abstractmethod
    def fit_until(self, units: int) -> list[UnitRecord]: ...

    @abstractmethod
    def state(self) -> bytes: ...

    @abstractmethod
    def restore(self, state: bytes) -> None: ...

    @abstractmethod
    def final_metrics(self) -> dict[str, float]: ...

    @abstractmethod
    def model(self) -> Model: ...

    @abstractmethod
    def work_per_unit(self) -> float:
        """Floating-point operations one unit costs on the real (small) data.

        The engine scales this by nominal size / real size and divides by the
        instance's throughput to get simulated seconds; keep it a deterministic
        count (rows x features x trees ...), never a wall-clock measurement.
        """


class Model(ABC):
    """A trained model as an endpoint or batch transform uses it."""

    algorithm: str

    @abstractmethod
    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Answer one request in the built-in's response format; raise ValueError on a malformed body."""

    @abstractmethod
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """Predictions for feature rows (the numbers the response formats carry)."""

    @abstractmethod
    def to_bytes(self) -> bytes:
        """Serialised model (the engine wraps it in a signed model.tar.gz)."""


class Algorithm(ABC):
    """A built-in algorithm: one instance per algorithm, stateless."""

    name: str  # key used by engine.image_uri(), e.g. "xgboost", "linear-learner"
    repository: str  # ECR repository name, e.g. "sagemaker-xgboost"
    tag: str  # e.g. "1.7-1" or "1"
    capabilities: Capabilities
    metrics: tuple[MetricSpec, ...]

    @abstractmethod
    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        """Typed hyperparameters with defaults; AlgorithmClientError for missing/invalid ones,
        with AWS's wording where known (e.g. "No value(s) were specified for 'k' which are
        required hyperparameter(s) ...")."""

    @abstractmethod
    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> Trainer:
        """Parse the channels and prepare training.

        ``shards`` is the train channel as each instance sees it when InstanceCount > 1
        (ShardedByS3Key gives each a disjoint subset of objects; FullyReplicated the
        whole); None for a single instance. Multi-instance algorithms train
        data-parallel over the shards; the others raise AlgorithmClientError.
        """

    @abstractmethod
    def load_model(self, data: bytes) -> Model:
        """Rebuild a Model from ``Model.to_bytes()`` output (only ever bytes the engine signed)."""
