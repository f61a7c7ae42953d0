"""Linear Learner (linear-learner:1) on scikit-learn's SGD estimators.

One epoch is one ``partial_fit`` pass of ``SGDClassifier`` / ``SGDRegressor``
over the training rows (in one seeded random order), so training really
continues from the current coefficients and a checkpoint resumes exactly.

=================================  ==============================================
Linear Learner                     scikit-learn
=================================  ==============================================
binary_classifier, logistic        SGDClassifier(loss="log_loss")
multiclass_classifier, softmax     SGDClassifier(loss="log_loss"), one-vs-rest
hinge_loss                         loss="hinge" (score = margin)
regressor, squared_loss            SGDRegressor(loss="squared_error")
absolute / eps_insensitive / huber epsilon_insensitive / squared_epsilon_insensitive / huber
learning_rate auto / number        invscaling (power_t 0.25), eta0 0.1 (classifier) or 0.01
                                   (regressor, on the normalised label) / eta0 = the number
l1, wd                             elasticnet alpha = l1 + wd, l1_ratio = l1 / alpha
use_bias                           fit_intercept
normalize_data, normalize_label    StandardScaler on features (label: regressor only)
=================================  ==============================================

AWS trains several models in parallel and keeps the best (num_models); SageTutor
trains one. ``mini_batch_size`` is validated but has no effect: scikit-learn's
SGD steps once per row, so a job's result depends on its seeded row order, the
more so the larger ``learning_rate`` (the same hyperparameters under different
job names spread by about 0.1% of validation log loss at 0.03, 0.5% at 0.1 and
5% at 1; docs/tuning.md). Other tuning knobs (optimizer, momentum,
lr_scheduler_*, init_*, margin, ...) are accepted, validated and have no effect. Early stopping follows
AWS: with a validation channel, training stops when validation objective_loss
has not improved by a relative ``early_stopping_tolerance`` for
``early_stopping_patience`` epochs; the trainer then sets ``stopped_early`` and
lowers ``total_units`` to the epochs done.

Multi-instance: data-parallel with real parameter averaging. Each instance
trains one epoch on its shard starting from the shared coefficients; the
coefficients and intercepts are then averaged (the feature scaler is computed
over all shards first, as AWS samples the scaler from all the data).

Metrics: ``train:objective_loss`` and ``validation:objective_loss`` every epoch;
at the end of each ``fit_until`` call the full set for validation and test:
binary ``objective_loss``, ``binary_classification_accuracy``, ``precision``,
``recall``, ``binary_f_beta``, ``roc_auc_score``; multiclass ``objective_loss``,
``multiclass_accuracy``, ``multiclass_top_k_accuracy``, ``macro_precision``,
``macro_recall``, ``macro_f_beta``; regressor ``objective_loss``, ``mse``,
``rmse``, ``absolute_loss``.

Inference (text/csv, application/json, application/jsonlines in):
application/json (default) ``{"predictions": [{"score": p, "predicted_label": l}]}``
(multiclass: ``score`` is the list of class probabilities; regressor: ``score``
only); text/csv: the predicted_label (regressor: the score) per line.
``predict_array`` returns what CSV carries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import StandardScaler

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
from engine.algorithms.readers import check_content_type, instance_shards, media_type, read_csv
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "linear-learner"
LOSSES = ("auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",
          "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss")
_IGNORED = ("balance_multiclass_weights", "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult",
            "init_bias", "init_method", "init_scale", "init_sigma", "lr_scheduler_factor",
            "lr_scheduler_minimum_lr", "lr_scheduler_step", "margin", "momentum", "num_calibration_samples",
            "num_models", "num_point_for_scaler", "optimizer", "quantile", "target_precision",
            "target_recall", "unbias_data", "unbias_label", "use_lr_scheduler",
            "binary_classifier_model_selection_criteria")

SPEC = Spec(
    Param("predictor_type", "choice", required=True,
          choices=("binary_classifier", "multiclass_classifier", "regressor")),
    Param("num_classes", "int", low=3, high=1_000_000),
    Param("feature_dim", "int", default="auto", low=1, auto=True),
    Param("epochs", "int", default=15, low=1),
    Param("mini_batch_size", "int", default=1000, low=1),
    Param("learning_rate", "float", default="auto", low=0, low_open=True, auto=True),
    Param("l1", "float", default="auto", low=0, auto=True),
    Param("wd", "float", default="auto", low=0, auto=True),
    Param("use_bias", "bool", default=True),
    Param("normalize_data", "bool", default=True),
    Param("normalize_label", "bool", default="auto", auto=True),
    Param("loss", "choice", default="auto", choices=LOSSES),
    Param("huber_delta", "float", default=1.0, low=0),
    Param("loss_insensitivity", "float", default=0.01, low=0),
    Param("positive_example_weight_mult", "float", default=1.0, low=0, low_open=True, auto=True),
    Param("early_stopping_patience", "int", default=3, low=1),
    Param("early_stopping_tolerance", "float", default=0.001, low=0),
    Param("f_beta", "float", default=1.0, low=0, low_open=True),
    Param("accuracy_top_k", "int", default=3, low=1),
    *(Param(n, "str", ignored=True) for n in _IGNORED),
)

_BINARY = ("objective_loss", "binary_classification_accuracy", "precision", "recall", "binary_f_beta",
           "roc_auc_score")
_MULTI = ("objective_loss", "multiclass_accuracy", "multiclass_top_k_accuracy", "macro_precision",
          "macro_recall", "macro_f_beta")
_REGRESSION = ("objective_loss", "mse", "rmse", "absolute_loss")
_MINIMIZE = {"objective_loss", "mse", "rmse", "absolute_loss"}


def _metric_specs() -> tuple[MetricSpec, ...]:
    names = list(dict.fromkeys(_BINARY + _MULTI + _REGRESSION))
    specs = [MetricSpec("train:objective_loss", "Minimize")]
    for channel in ("validation", "test"):
        specs += [MetricSpec(f"{channel}:{n}", "Minimize" if n in _MINIMIZE else "Maximize") for n in names]
    return tuple(specs)


class LinearLearner(Algorithm):
    name = NAME
    repository = "linear-learner"
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
        optional_channels=("validation", "test"),
        inference_content_types=("text/csv", "application/json", "application/jsonlines"),
        inference_accept=("application/json", "text/csv", "application/jsonlines"),
    )
    metrics = _metric_specs()

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        pt = hp["predictor_type"]
        if pt == "multiclass_classifier" and hp["num_classes"] is None:
            raise missing_error("num_classes", "required when predictor_type is 'multiclass_classifier'")
        allowed = {"binary_classifier": ("auto", "logistic", "hinge_loss"),
                   "multiclass_classifier": ("auto", "softmax_loss", "hinge_loss"),
                   "regressor": ("auto", "squared_loss", "absolute_loss", "eps_insensitive_squared_loss",
                                 "eps_insensitive_absolute_loss", "huber_loss", "quantile_loss")}[pt]
        if hp["loss"] not in allowed:
            raise AlgorithmClientError(
                f"Hyperparameter 'loss': value '{hp['loss']}' is not valid for predictor_type '{pt}'; "
                f"allowed: {list(allowed)}."
            )
        if hp["loss"] == "quantile_loss":
            raise AlgorithmClientError("Hyperparameter 'loss': 'quantile_loss' is not simulated by SageTutor's "
                                       "Linear Learner; use squared_loss, absolute_loss or huber_loss.")
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> LinearLearnerTrainer:
        parts = instance_shards("Linear Learner", True, channels, shards, instance_count)
        return LinearLearnerTrainer(hp, parts, channels.get("validation"), channels.get("test"), seed)

    def load_model(self, data: bytes) -> LinearLearnerModel:
        return LinearLearnerModel(loads(data, "model", NAME))


def _read(channel: ChannelData, n_features: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if media_type(channel.content_type)[0] == "application/x-recordio-protobuf":
        raise AlgorithmClientError(
            f"Channel '{channel.name}': application/x-recordio-protobuf is not supported by SageTutor's "
            "Linear Learner; use text/csv (label in the first column, no header)."
        )
    check_content_type(channel, ("text/csv",), "text/csv", "Linear Learner")
    x, y, _ = read_csv(channel, labels=1)
    if n_features is not None and x.shape[1] != n_features:
        raise AlgorithmClientError(
            f"Channel '{channel.name}' has {x.shape[1]} features but channel 'train' has {n_features}."
        )
    assert y is not None
    return x, y


def _check_labels(y: np.ndarray, hp: dict[str, Any], channel: str) -> None:
    pt = hp["predictor_type"]
    if pt == "binary_classifier" and not np.isin(y, (0.0, 1.0)).all():
        bad = y[~np.isin(y, (0.0, 1.0))][0]
        raise AlgorithmClientError(
            f"Channel '{channel}': labels must be 0 or 1 for predictor_type binary_classifier (found {bad:g})."
        )
    if pt == "multiclass_classifier":
        k = hp["num_classes"]
        bad = (y < 0) | (y >= k) | (y != np.floor(y))
        if bad.any():
            raise AlgorithmClientError(
                f"Channel '{channel}': labels must be integers in [0, {k - 1}] for num_classes={k} "
                f"(found {y[bad][0]:g})."
            )


class LinearLearnerTrainer(PickledState, Trainer):
    unit_name = "epoch"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "total_units", "estimators", "best_loss", "bad_epochs", "stopped_early",
                    "last_metrics")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], validation: ChannelData | None,
                 test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.pt = hp["predictor_type"]
        shards = [_read(p) for p in parts]
        self.n_features = shards[0][0].shape[1]
        for (x, _), p in zip(shards, parts):
            if x.shape[1] != self.n_features:
                raise AlgorithmClientError(f"Channel '{p.name}': shards have different feature counts "
                                           f"({x.shape[1]} vs {self.n_features}).")
        if hp["feature_dim"] != "auto" and hp["feature_dim"] != self.n_features:
            raise AlgorithmClientError(
                f"Hyperparameter 'feature_dim' is {hp['feature_dim']} but the training data has "
                f"{self.n_features} features."
            )
        for _, y in shards:
            _check_labels(y, hp, "train")
        x_all = np.vstack([s[0] for s in shards])
        y_all = np.concatenate([s[1] for s in shards])
        if self.pt == "binary_classifier" and np.unique(y_all).size < 2:
            raise AlgorithmClientError("Channel 'train': binary_classifier needs examples of both labels 0 and 1.")
        self.scaler = StandardScaler(with_mean=hp["normalize_data"], with_std=hp["normalize_data"]).fit(x_all)
        normalize_label = hp["normalize_label"]
        if normalize_label == "auto":
            normalize_label = self.pt == "regressor"
        if self.pt == "regressor" and normalize_label:
            std = float(y_all.std())
            self.y_shift, self.y_scale = float(y_all.mean()), (std if std > 0 else 1.0)
        else:
            self.y_shift, self.y_scale = 0.0, 1.0
        # each instance reads its rows in one seeded random order, every epoch (like a shuffled file read
        # sequentially; shuffling again each epoch costs scikit-learn more than the epoch itself here)
        self.shards = []
        for rank, (x, y) in enumerate(shards):
            order = np.random.default_rng([int(seed), rank]).permutation(len(y))
            self.shards.append((self.scaler.transform(x[order]), (y[order] - self.y_shift) / self.y_scale))
        self.x_train, self.y_train = self.scaler.transform(x_all), y_all
        self.eval_sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, ch in (("validation", validation), ("test", test)):
            if ch is not None:
                xv, yv = _read(ch, self.n_features)
                _check_labels(yv, hp, name)
                self.eval_sets[name] = (self.scaler.transform(xv), yv)
        self.classes = (np.array([0.0, 1.0]) if self.pt == "binary_classifier"
                        else np.arange(hp["num_classes"], dtype=np.float64) if self.pt == "multiclass_classifier"
                        else None)
        self.seed = int(seed)
        self.total_units = int(hp["epochs"])
        self.cells = self.x_train.size
        self.done_units = 0
        self.estimators: list[Any] = []
        self.best_loss: float | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.last_metrics: dict[str, float] = {}

    def _new_estimator(self, rank: int) -> Any:
        hp = self.hp
        l1 = 0.0 if hp["l1"] == "auto" else hp["l1"]
        wd = 1e-4 if hp["wd"] == "auto" else hp["wd"]
        alpha = l1 + wd
        penalty: str | None = "elasticnet" if l1 > 0 else "l2"
        if alpha == 0:
            penalty = None
        common: dict[str, Any] = dict(penalty=penalty, alpha=alpha if alpha > 0 else 0.0001,
                                      l1_ratio=(l1 / alpha) if alpha > 0 else 0.15,
                                      fit_intercept=hp["use_bias"], shuffle=False,
                                      random_state=(self.seed * 7919 + rank) % (2**32), tol=None)
        if hp["learning_rate"] == "auto":
            eta0 = 0.01 if self.pt == "regressor" else 0.1
        else:
            eta0 = hp["learning_rate"]
        common.update(learning_rate="invscaling", eta0=eta0, power_t=0.25)
        if self.pt == "regressor":
            loss = {"auto": "squared_error", "squared_loss": "squared_error", "absolute_loss": "epsilon_insensitive",
                    "eps_insensitive_squared_loss": "squared_epsilon_insensitive",
                    "eps_insensitive_absolute_loss": "epsilon_insensitive", "huber_loss": "huber"}[hp["loss"]]
            eps = 0.0 if hp["loss"] == "absolute_loss" else (
                hp["huber_delta"] if hp["loss"] == "huber_loss" else hp["loss_insensitivity"])
            return SGDRegressor(loss=loss, epsilon=eps, **common)
        loss = "hinge" if hp["loss"] == "hinge_loss" else "log_loss"
        weight = hp["positive_example_weight_mult"]
        class_weight: Any = None
        if self.pt == "binary_classifier" and weight == "auto":  # balanced (partial_fit cannot compute it)
            n1 = float(np.sum(self.y_train == 1))
            n0 = float(len(self.y_train)) - n1
            class_weight = {0.0: len(self.y_train) / (2 * n0), 1.0: len(self.y_train) / (2 * n1)}
        elif self.pt == "binary_classifier" and weight != 1.0:
            class_weight = {1.0: weight}
        return SGDClassifier(loss=loss, class_weight=class_weight, **common)

    # -- training
    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if not self.estimators:
            self.estimators = [self._new_estimator(r) for r in range(len(self.shards))]
        records: list[UnitRecord] = []
        while self.done_units < units:
            epoch = self.done_units + 1
            for est, (x, y) in zip(self.estimators, self.shards):
                if self.classes is not None:
                    est.partial_fit(x, y, classes=self.classes)
                else:
                    est.partial_fit(x, y)
            if len(self.estimators) > 1:
                self._average()
            self.done_units = epoch
            m = {"train:objective_loss": self._objective(self.x_train, self.y_train)}
            if "validation" in self.eval_sets:
                m["validation:objective_loss"] = self._objective(*self.eval_sets["validation"])
            records.append(UnitRecord(unit=epoch, metrics=metrics.finite(m)))
            if "validation" in self.eval_sets and self._should_stop(m["validation:objective_loss"]):
                self.stopped_early = True
                self.total_units = epoch
                break
        self.last_metrics = self._full_metrics()
        records[-1].metrics.update(self.last_metrics)
        return records

    def _average(self) -> None:
        coef = np.mean([e.coef_ for e in self.estimators], axis=0)
        intercept = np.mean([e.intercept_ for e in self.estimators], axis=0)
        for e in self.estimators:
            e.coef_ = coef.copy()
            e.intercept_ = intercept.copy()

    def _should_stop(self, loss: float) -> bool:
        tol = self.hp["early_stopping_tolerance"]
        if self.best_loss is None or (self.best_loss - loss) > tol * abs(self.best_loss):
            self.best_loss, self.bad_epochs = loss, 0
            return False
        self.best_loss = min(self.best_loss, loss)
        self.bad_epochs += 1
        return self.bad_epochs >= self.hp["early_stopping_patience"]

    def _objective(self, x: np.ndarray, y: np.ndarray) -> float:
        if self.pt == "binary_classifier" and self.hp["loss"] != "hinge_loss":  # the per-epoch fast path
            return metrics.logloss_from_raw(y, _decision(self.estimators[0], x))
        return _scores_and_loss(self.estimators[0], self.pt, self.hp, x, y, self.y_shift, self.y_scale)[1]

    def _full_metrics(self) -> dict[str, float]:
        out = {"train:objective_loss": self._objective(self.x_train, self.y_train)}
        for name, (x, y) in self.eval_sets.items():
            out.update({f"{name}:{k}": v for k, v in
                        _evaluate(self.estimators[0], self.pt, self.hp, x, y, self.y_shift, self.y_scale).items()})
        return metrics.finite(out)

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if not self.last_metrics and self.estimators:
            self.last_metrics = self._full_metrics()
        return dict(self.last_metrics)

    @trainer_method
    def model(self) -> LinearLearnerModel:
        if not self.estimators:
            raise RuntimeError("no epochs trained yet")
        return LinearLearnerModel({"predictor_type": self.pt, "estimator": self.estimators[0],
                                   "scaler": self.scaler, "y_shift": self.y_shift, "y_scale": self.y_scale,
                                   "n_features": self.n_features, "loss": self.hp["loss"]})

    def work_per_unit(self) -> float:
        outputs = self.hp["num_classes"] if self.pt == "multiclass_classifier" else 1
        rows = sum(len(y) for _, y in self.shards) + sum(len(y) for _, y in self.eval_sets.values())
        return float(rows * self.n_features * outputs * 6)


# ------------------------------------------------------------- predictions
def _decision(est: Any, x: np.ndarray) -> np.ndarray:
    """The linear model's raw output from its public coefficients (no per-call input validation)."""
    d = x @ np.asarray(est.coef_).T + est.intercept_
    return d.ravel() if d.ndim == 2 and d.shape[1] == 1 else d


def _predict_scores(est: Any, pt: str, loss: str, x: np.ndarray, y_shift: float, y_scale: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(scores, labels): probability/margin and label for classifiers, value for the regressor."""
    if pt == "regressor":
        v = _decision(est, x) * y_scale + y_shift
        return v, v
    if pt == "binary_classifier":
        d = _decision(est, x)
        if loss == "hinge_loss":
            return d, (d > 0).astype(np.float64)
        p = metrics.sigmoid(d)
        return p, (p > 0.5).astype(np.float64)
    d = _decision(est, x)
    if loss == "hinge_loss":
        return d, est.classes_[np.argmax(d, axis=1)]
    p = metrics.sigmoid(d)  # one-vs-rest, normalised as scikit-learn does
    p = p / np.where(p.sum(axis=1, keepdims=True) == 0, 1.0, p.sum(axis=1, keepdims=True))
    return p, est.classes_[np.argmax(p, axis=1)]


def _scores_and_loss(est: Any, pt: str, hp: dict[str, Any], x: np.ndarray, y: np.ndarray, y_shift: float,
                     y_scale: float) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    scores, labels = _predict_scores(est, pt, hp["loss"], x, y_shift, y_scale)
    if pt == "regressor":
        if hp["loss"] in ("absolute_loss", "eps_insensitive_absolute_loss"):
            loss = metrics.mae(y, scores)
        else:
            loss = metrics.mse(y, scores)
    elif pt == "binary_classifier":
        loss = (float(np.mean(np.maximum(0, 1 - (2 * y - 1) * scores))) if hp["loss"] == "hinge_loss"
                else metrics.logloss_from_raw(y, _decision(est, x)))
    else:
        if hp["loss"] == "hinge_loss":  # one-vs-rest hinge, averaged over classes
            sign = np.where(np.arange(scores.shape[1])[None, :] == y[:, None], 1.0, -1.0)
            loss = float(np.mean(np.maximum(0, 1 - sign * scores)))
        else:
            loss = metrics.mlogloss(y, scores)
    return (scores, labels), loss


def _evaluate(est: Any, pt: str, hp: dict[str, Any], x: np.ndarray, y: np.ndarray, y_shift: float,
              y_scale: float) -> dict[str, float]:
    (scores, labels), loss = _scores_and_loss(est, pt, hp, x, y, y_shift, y_scale)
    out = {"objective_loss": loss}
    if pt == "regressor":
        out.update(mse=metrics.mse(y, scores), rmse=metrics.rmse(y, scores), absolute_loss=metrics.mae(y, scores))
    elif pt == "binary_classifier":
        precision, recall, f = metrics.precision_recall_f(y, labels, hp["f_beta"])
        out.update(binary_classification_accuracy=metrics.accuracy(y, labels), precision=precision,
                   recall=recall, binary_f_beta=f, roc_auc_score=metrics.auc(y, scores))
    else:
        k = min(hp["accuracy_top_k"], scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        ps, rs, fs = [], [], []
        for c in range(scores.shape[1]):
            p, r, f = metrics.precision_recall_f((y == c).astype(float), (labels == c).astype(float), hp["f_beta"])
            ps.append(p)
            rs.append(r)
            fs.append(f)
        out.update(multiclass_accuracy=metrics.accuracy(y, labels),
                   multiclass_top_k_accuracy=float(np.mean((top == y[:, None].astype(int)).any(axis=1))),
                   macro_precision=float(np.mean(ps)), macro_recall=float(np.mean(rs)), macro_f_beta=float(np.mean(fs)))
    return out


class LinearLearnerModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.pt: str = payload["predictor_type"]
        self.est = payload["estimator"]
        self.scaler = payload["scaler"]
        self.n_features: int = payload["n_features"]

    def _scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.n_features:
            raise ValueError(f"each record must have {self.n_features} features, got {x.shape[1]}")
        p = self.payload
        return _predict_scores(self.est, self.pt, p["loss"], self.scaler.transform(x), p["y_shift"], p["y_scale"])

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        return self._scores(x)[1]

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        x = inference.rows_from_body(body, content_type, self.n_features)
        out_type, _ = inference.negotiate(accept, ("application/json", "text/csv", "application/jsonlines"),
                                          "application/json")
        scores, labels = self._scores(x)
        if out_type == "text/csv":
            return inference.csv_body(labels.astype(np.int64) if self.pt != "regressor" else labels), out_type
        if self.pt == "regressor":
            recs = [{"score": float(v)} for v in scores.tolist()]
        else:
            recs = [{"score": inference.plain(s), "predicted_label": int(lab)}
                    for s, lab in zip(scores.tolist(), labels.tolist())]
        if out_type == "application/json":
            return inference.json_body({"predictions": recs}), out_type
        return inference.jsonlines_body(recs), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
