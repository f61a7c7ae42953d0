"""XGBoost (sagemaker-xgboost:1.7-1) on scikit-learn's histogram gradient boosting.

XGBoost's ``hist`` tree method and ``HistGradientBoosting{Classifier,Regressor}``
are the same algorithm (binned features, second-order leaf values), so a
boosting round here is one real sklearn iteration:

=====================  ==========================================================
XGBoost                scikit-learn
=====================  ==========================================================
num_round              max_iter (grown with ``warm_start=True``, one unit = one round)
eta                    learning_rate
max_depth (0 = none)   max_depth; max_leaves -> max_leaf_nodes (0 = no limit)
lambda                 l2_regularization
min_child_weight       min_samples_leaf, roughly: ceil(min_child_weight / h) with
                       h the largest hessian of one sample (1 for squared error
                       and Poisson, 1/4 for the logistic losses)
colsample_by*          max_features (sklearn samples features per split)
max_bin                max_bins (at most 255)
scale_pos_weight       class_weight={1: scale_pos_weight}
csv_weights=1          the CSV column after the label is the sample weight
=====================  ==========================================================

Accepted but without effect (sklearn has no counterpart): subsample, gamma,
alpha, base_score, max_delta_step, tree_method and the other tuning knobs listed
in ``SPEC`` as ignored. ``binary:hinge`` trains with the logistic loss and
outputs 0/1 as XGBoost's hinge does; ``reg:logistic``/``binary:logistic`` with
fractional labels train on each row twice (label 1 with weight y, label 0 with
weight 1 - y), which is exactly the cross-entropy with soft labels.

Metrics, for each ``eval_metric`` (default: rmse for regression, logloss for
logistic, error for hinge, mlogloss for multiclass, poisson-nloglik for Poisson)
plus auc and error for binary:logistic and merror/mlogloss for multiclass:

* ``validation:<m>`` every round, from validation scores updated one tree at a
  time (a whole run costs one prediction pass over the validation data);
* ``train:<m>`` every round for the objective's own loss (logloss, mlogloss,
  rmse/mse, poisson-nloglik), which scikit-learn computes each round anyway;
  every train metric (auc, error, ...) on the last round of each ``fit_until``
  call, from one prediction pass. (Without a validation channel and with
  early stopping, all train metrics are computed every round.)

``early_stopping_rounds`` stops when the last eval metric on the validation set
(the train set without one) has not improved for that many rounds, as
``xgboost.train`` does; the trainer then sets ``stopped_early`` and lowers
``total_units`` to the rounds done (the model keeps those rounds' trees).

Multi-instance: distributed XGBoost (Rabit) sums the gradient histograms of all
workers, so it grows the same trees as one worker holding the concatenated data;
with shards we therefore train on the union of the shards (FullyReplicated
data is thus seen once per instance, as in real distributed XGBoost).

Inference: text/csv (features only; empty cells are missing values), text/libsvm,
application/json and application/jsonlines in; text/csv (default: one prediction
per line; probabilities comma-separated for multi:softprob), application/json
``{"predictions": [{"score": ...}]}`` and application/jsonlines out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.special import gammaln
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

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
from engine.algorithms.readers import (
    LIBSVM_DEFAULT_ERROR,
    check_content_type,
    instance_shards,
    media_type,
    read_csv,
    read_libsvm,
    read_parquet,
)
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

try:  # scikit-learn's own thread count (private helper; any positive number works)
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
except ImportError:  # pragma: no cover
    def _openmp_effective_n_threads() -> int:
        return os.cpu_count() or 1

NAME = "xgboost"
XGB_SMALL_DATA_CELLS = 100_000
OBJECTIVES = ("reg:squarederror", "reg:linear", "reg:logistic", "binary:logistic", "binary:hinge",
              "multi:softmax", "multi:softprob", "count:poisson")
EVAL_METRICS = ("rmse", "mae", "mse", "rmsle", "mape", "r2", "logloss", "error", "auc", "merror",
                "mlogloss", "accuracy", "f1", "poisson-nloglik")
MAXIMIZE = {"auc", "accuracy", "f1", "r2"}
CONTENT_TYPES = ("text/libsvm", "text/csv", "application/x-parquet")

_IGNORED = ("base_score", "max_delta_step", "tree_method", "grow_policy", "sketch_eps", "refresh_leaf",
            "process_type", "sample_type", "normalize_type", "rate_drop", "one_drop", "skip_drop",
            "lambda_bias", "tweedie_variance_power", "updater", "dsplit", "prob_buffer_row",
            "monotone_constraints", "interaction_constraints", "single_precision_histogram",
            "deterministic_histogram", "save_model_on_termination", "use_dask_gpu_training",
            "num_parallel_tree", "nthread", "verbosity", "silent", "max_cat_to_onehot")

SPEC = Spec(
    Param("num_round", "int", required=True, low=1),
    Param("num_class", "int", low=2),
    Param("objective", "choice", default="reg:squarederror", choices=OBJECTIVES),
    Param("eta", "float", default=0.3, low=0, high=1),
    Param("max_depth", "int", default=6, low=0),
    Param("max_leaves", "int", default=0, low=0),
    Param("min_child_weight", "float", default=1.0, low=0),
    Param("subsample", "float", default=1.0, low=0, low_open=True, high=1, ignored=True),
    Param("gamma", "float", default=0.0, low=0, ignored=True),
    Param("alpha", "float", default=0.0, low=0, ignored=True),
    Param("lambda", "float", default=1.0, low=0),
    Param("colsample_bytree", "float", default=1.0, low=0, low_open=True, high=1),
    Param("colsample_bylevel", "float", default=1.0, low=0, low_open=True, high=1),
    Param("colsample_bynode", "float", default=1.0, low=0, low_open=True, high=1),
    Param("max_bin", "int", default=256, low=2),
    Param("scale_pos_weight", "float", default=1.0, low=0, low_open=True),
    Param("csv_weights", "int", default=0, low=0, high=1),
    Param("early_stopping_rounds", "int", low=1),
    Param("eval_metric", "list", choices=EVAL_METRICS),
    Param("seed", "int", default=0),
    Param("booster", "choice", default="gbtree", choices=("gbtree", "gblinear", "dart")),
    *(Param(n, "str", ignored=True) for n in _IGNORED),
)


def _metric_specs() -> tuple[MetricSpec, ...]:
    return tuple(MetricSpec(f"{c}:{m}", "Maximize" if m in MAXIMIZE else "Minimize")
                 for c in ("train", "validation") for m in EVAL_METRICS)


class XGBoost(Algorithm):
    name = NAME
    repository = "sagemaker-xgboost"
    tag = "1.7-1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=True,
        processors=frozenset({"cpu", "gpu"}),
        gpu_accelerated=False,
        incremental=False,
        content_types=CONTENT_TYPES,
        default_content_type="text/libsvm",
        required_channels=("train",),
        optional_channels=("validation",),
        inference_content_types=("text/csv", "text/libsvm", "application/json", "application/jsonlines"),
        inference_accept=("text/csv", "application/json", "application/jsonlines"),
    )
    metrics = _metric_specs()

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        if hp["objective"] == "reg:linear":
            hp["objective"] = "reg:squarederror"
        if hp["objective"].startswith("multi:") and hp["num_class"] is None:
            raise missing_error("num_class", f"required when objective is '{hp['objective']}'")
        if hp["booster"] != "gbtree":
            raise AlgorithmClientError(
                f"Hyperparameter 'booster': value '{hp['booster']}' is not simulated; SageTutor's XGBoost "
                "implements booster 'gbtree' only."
            )
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> XGBoostTrainer:
        parts = instance_shards("XGBoost", True, channels, shards, instance_count)
        return XGBoostTrainer(hp, parts, channels.get("validation"), seed)

    def load_model(self, data: bytes) -> XGBoostModel:
        return XGBoostModel(loads(data, "model", NAME))


# ------------------------------------------------------------------ data
def _read(channel: ChannelData, hp: dict[str, Any], n_features: int | None = None, index_base: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    mime = check_content_type(channel, CONTENT_TYPES, "text/libsvm", "XGBoost")
    weights = None
    base = 0
    if mime == "text/libsvm":
        x, y, base = read_libsvm(channel, n_features=n_features, index_base=index_base)
    elif mime == "text/csv":
        x, y, weights = read_csv(channel, labels=1, allow_missing=True, weights=bool(hp["csv_weights"]))
    else:
        x, y = read_parquet(channel)
    if not channel.content_type and mime == "text/libsvm" and x.shape[1] == 0:
        raise AlgorithmClientError(LIBSVM_DEFAULT_ERROR)
    return x, y, weights, base


def _check_labels(y: np.ndarray, hp: dict[str, Any], channel: str) -> None:
    obj = hp["objective"]
    if obj in ("reg:logistic", "binary:logistic") and ((y < 0) | (y > 1)).any():
        bad = y[(y < 0) | (y > 1)][0]
        raise AlgorithmClientError(
            f"Channel '{channel}': label must be in [0,1] for logistic regression (found {bad:g})."
        )
    if obj == "binary:hinge" and not np.isin(y, (0.0, 1.0)).all():
        raise AlgorithmClientError(f"Channel '{channel}': labels must be 0 or 1 for binary:hinge.")
    if obj.startswith("multi:"):
        k = hp["num_class"]
        bad = (y < 0) | (y >= k) | (y != np.floor(y))
        if bad.any():
            raise AlgorithmClientError(
                f"Channel '{channel}': label must be in [0, num_class), num_class={k} but found "
                f"{y[bad][0]:g} in label."
            )
    if obj == "count:poisson" and (y < 0).any():
        raise AlgorithmClientError(f"Channel '{channel}': label must be nonnegative for count:poisson.")


def _kind(objective: str) -> str:
    if objective.startswith("multi:"):
        return "multi"
    if objective in ("reg:logistic", "binary:logistic", "binary:hinge"):
        return "binary"
    return "poisson" if objective == "count:poisson" else "regression"


def _default_metrics(objective: str) -> list[str]:
    return {"reg:squarederror": ["rmse"], "reg:logistic": ["rmse"], "binary:logistic": ["logloss"],
            "binary:hinge": ["error"], "multi:softmax": ["mlogloss"], "multi:softprob": ["mlogloss"],
            "count:poisson": ["poisson-nloglik"]}[objective]


def _extra_metrics(objective: str) -> list[str]:
    if objective == "binary:logistic":
        return ["auc", "error", "logloss"]
    if objective == "binary:hinge":
        return ["error"]
    if objective.startswith("multi:"):
        return ["merror", "mlogloss"]
    return []


# --------------------------------------------------------------- evaluation
def _outputs(kind: str, raw: np.ndarray) -> np.ndarray:
    """Mean prediction from raw scores: probability (binary), class probabilities (multi), value."""
    if kind == "binary":
        return metrics.sigmoid(raw[:, 0])
    if kind == "multi":
        return metrics.softmax(raw)
    if kind == "poisson":
        return np.exp(raw[:, 0])
    return raw[:, 0]


def _evaluate(names: list[str], kind: str, hinge: bool, y: np.ndarray, raw: np.ndarray, classes: np.ndarray
              ) -> dict[str, float]:
    out: dict[str, float] = {}
    if kind == "multi":
        proba = metrics.softmax(raw)
        idx = np.searchsorted(classes, y)
        known = (idx < len(classes)) & (classes[np.minimum(idx, len(classes) - 1)] == y)
        pred = classes[np.argmax(proba, axis=1)]
        for m in names:
            if m == "merror":
                out[m] = 1.0 - metrics.accuracy(y, pred)
            elif m == "accuracy":
                out[m] = metrics.accuracy(y, pred)
            elif m == "mlogloss":
                p = np.where(known, proba[np.arange(len(y)), np.minimum(idx, len(classes) - 1)], 0.0)
                out[m] = float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))
            else:
                out[m] = float("nan")
        return out
    value = _outputs(kind, raw)
    if kind == "binary" and hinge:
        value = (raw[:, 0] > 0).astype(np.float64)
    for m in names:
        if m == "rmse":
            out[m] = metrics.rmse(y, value)
        elif m == "mse":
            out[m] = metrics.mse(y, value)
        elif m == "mae":
            out[m] = metrics.mae(y, value)
        elif m == "r2":
            out[m] = metrics.r2(y, value)
        elif m == "rmsle":
            out[m] = metrics.rmsle(y, value)
        elif m == "mape":
            out[m] = metrics.mape(y, value)
        elif m == "logloss":
            out[m] = metrics.logloss_from_raw(y, raw[:, 0]) if kind == "binary" else metrics.logloss(y, value)
        elif m == "error":
            out[m] = metrics.error(y, value)
        elif m == "accuracy":
            out[m] = 1.0 - metrics.error(y, value)
        elif m == "auc":
            out[m] = metrics.auc(y, raw[:, 0] if kind == "binary" else value)
        elif m == "f1":
            out[m] = metrics.precision_recall_f(y, (value > 0.5).astype(np.float64))[2]
        elif m == "poisson-nloglik":
            out[m] = metrics.poisson_nloglik(y, value)
        else:
            out[m] = float("nan")
    return out


class _RawTracker:
    """Raw scores of one data set after each boosting round, updated one tree at a time.

    Uses the binned data and scikit-learn's per-iteration predictor (private API, with a
    fallback to the public staged API), so a whole run costs one prediction pass.
    """

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.rounds = 0
        self.raw: np.ndarray | None = None
        self._xb: np.ndarray | None = None

    def reset(self) -> None:
        self.rounds, self.raw, self._xb = 0, None, None

    def advance(self, est: Any, to: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (round, raw) for rounds self.rounds+1 .. to (the same array, updated in place)."""
        try:
            if self.raw is None:
                self.raw = np.zeros((self.x.shape[0], est.n_trees_per_iteration_), order="F")
                self.raw += est._baseline_prediction
                self.rounds = 0
            if self._xb is None:
                self._xb = est._bin_mapper.transform(np.asarray(self.x, dtype=np.float64))
            threads = 1 if self.x.size < XGB_SMALL_DATA_CELLS else _openmp_effective_n_threads()
            for r in range(self.rounds, to):
                est._predict_iterations(self._xb, est._predictors[r:r + 1], self.raw, True, threads)
                self.rounds = r + 1
                yield self.rounds, self.raw
        except (AttributeError, TypeError):  # private API changed: fall back to the public staged API
            yield from self._advance_public(est, to)

    def _advance_public(self, est: Any, to: int) -> Iterator[tuple[int, np.ndarray]]:
        start = self.rounds
        staged = (est.staged_decision_function(self.x) if hasattr(est, "staged_decision_function")
                  else est.staged_predict(self.x))
        for r, values in enumerate(staged, start=1):
            if r <= start:
                continue
            if r > to:
                break
            self.raw = _as_raw(est, values)
            self.rounds = r
            yield r, self.raw


def _as_raw(est: Any, values: Any) -> np.ndarray:
    """decision_function / predict output as raw scores of shape (n, trees per round)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if getattr(est, "loss", "") == "poisson":
        v = np.log(v)
    return np.asfortranarray(v)


def _full_raw(est: Any, x: np.ndarray) -> np.ndarray:
    if hasattr(est, "decision_function"):
        return _as_raw(est, est.decision_function(x))
    return _as_raw(est, est.predict(x))


# ------------------------------------------------------------------ trainer
class XGBoostTrainer(PickledState, Trainer):
    unit_name = "round"
    # histogram building is heavy enough that a second thread pays off from ~100,000 values
    small_data_cells = XGB_SMALL_DATA_CELLS
    _algorithm_name = NAME
    _state_attrs = ("done_units", "total_units", "estimator", "last_metrics", "best_score", "best_round",
                    "stopped_early")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], validation: ChannelData | None,
                 seed: int) -> None:
        self.hp = hp
        self.objective = hp["objective"]
        self.kind = _kind(self.objective)
        blocks = [_read(p, hp) for p in parts]
        bases = {b[3] for b in blocks}
        self.index_base = min(bases)
        if len(blocks) > 1 and len(bases) > 1:  # shards disagree on the index base: re-read with one base
            blocks = [_read(p, hp, index_base=self.index_base) for p in parts]
        width = max(b[0].shape[1] for b in blocks)
        xs = [np.hstack([b[0], np.zeros((b[0].shape[0], width - b[0].shape[1]))]) if b[0].shape[1] < width
              else b[0] for b in blocks]
        self.x = np.vstack(xs) if len(xs) > 1 else xs[0]
        self.y = np.concatenate([b[1] for b in blocks])
        ws = [b[2] for b in blocks]
        self.w = np.concatenate(ws) if all(w is not None for w in ws) else None
        self.n_features = self.x.shape[1]
        _check_labels(self.y, hp, parts[0].name)
        self.x_val = self.y_val = None
        if validation is not None:
            xv, yv, _, _ = _read(validation, hp, n_features=self.n_features, index_base=self.index_base)
            if xv.shape[1] != self.n_features:
                raise AlgorithmClientError(
                    f"Channel 'validation' has {xv.shape[1]} features but channel 'train' has "
                    f"{self.n_features}; both must have the same columns."
                )
            _check_labels(yv, hp, "validation")
            self.x_val, self.y_val = xv, yv
        self.seed = int(seed)
        self.total_units = int(hp["num_round"])
        self.cells = self.x.size
        self.done_units = 0
        self.stopped_early = False
        self.estimator: Any = None
        self.last_metrics: dict[str, float] = {}
        self.best_score: float | None = None
        self.best_round = 0
        names = hp["eval_metric"] or _default_metrics(self.objective)
        self.stop_metric = names[-1]
        self.metric_names = list(dict.fromkeys(list(names) + _extra_metrics(self.objective)))
        self._fit_x, self._fit_y, self._fit_w = self._training_rows()
        self._lgamma_term = float(np.average(gammaln(self.y + 1.0), weights=self.w)) if self.kind == "poisson" else 0.0
        self._train_raw = _RawTracker(self.x)
        self._val_raw = _RawTracker(self.x_val) if self.x_val is not None else None

    # -- set-up
    def _training_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        x, y, w = self.x, self.y, self.w
        if self.kind == "binary":
            if not np.isin(y, (0.0, 1.0)).all():  # soft labels: each row once as 1 (weight y), once as 0
                base = np.ones_like(y) if w is None else w
                x2 = np.vstack([x, x])
                y2 = np.concatenate([np.ones_like(y), np.zeros_like(y)])
                w2 = np.concatenate([base * y, base * (1 - y)])
                keep = w2 > 0
                return x2[keep], y2[keep], w2[keep]
            if np.unique(y).size < 2:
                raise AlgorithmClientError("Channel 'train': binary classification needs both labels 0 and 1.")
        if self.kind == "multi" and np.unique(y).size < 2:
            raise AlgorithmClientError("Channel 'train': multiclass classification needs at least two classes.")
        if self.kind == "poisson" and not (y > 0).any():
            raise AlgorithmClientError("Channel 'train': count:poisson needs at least one positive label.")
        return x, y, w

    def _new_estimator(self) -> Any:
        hp = self.hp
        common = dict(
            learning_rate=hp["eta"],
            max_iter=1,
            max_depth=hp["max_depth"] or None,
            max_leaf_nodes=hp["max_leaves"] if hp["max_leaves"] >= 2 else None,
            min_samples_leaf=self._min_samples_leaf(),
            l2_regularization=hp["lambda"],
            max_features=min(hp["colsample_bytree"] * hp["colsample_bylevel"] * hp["colsample_bynode"], 1.0),
            max_bins=min(255, hp["max_bin"]),
            # "early stopping" on the training loss that never stops: scikit-learn then records the
            # training loss of every round (train_score_) from predictions it keeps anyway
            early_stopping=True,
            validation_fraction=None,
            n_iter_no_change=10**9,
            scoring="loss",
            warm_start=True,
            random_state=(self.seed * 1_000_003 + hp["seed"]) % (2**32),
        )
        if self.kind in ("binary", "multi"):
            weight = {1.0: hp["scale_pos_weight"]} if self.kind == "binary" and hp["scale_pos_weight"] != 1 else None
            return HistGradientBoostingClassifier(loss="log_loss", class_weight=weight, **common)
        return HistGradientBoostingRegressor(loss="poisson" if self.kind == "poisson" else "squared_error", **common)

    def _min_samples_leaf(self) -> int:
        max_hessian = 0.25 if self.kind in ("binary", "multi") else 1.0
        return max(1, math.ceil(self.hp["min_child_weight"] / max_hessian - 1e-9))

    # -- training
    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if self.estimator is None:
            self.estimator = self._new_estimator()
        es = self.hp["early_stopping_rounds"]
        records: list[UnitRecord] = []
        while self.done_units < units and not self.stopped_early:
            target = units if es is None else min(units, self.done_units + max(es, 16))
            self.estimator.max_iter = target
            self.estimator.fit(self._fit_x, self._fit_y, sample_weight=self._fit_w)
            records.extend(self._record_rounds(target))
        return records

    def _train_loss_metrics(self, score: float) -> dict[str, float]:
        """Train metrics that follow from the training loss scikit-learn computes every round anyway."""
        loss = -float(score)
        if self.kind == "binary" and self.objective != "binary:hinge":
            derived = {"logloss": loss}
        elif self.kind == "multi":
            derived = {"mlogloss": loss}
        elif self.kind == "regression":  # sklearn's loss is half the squared error
            derived = {"mse": 2 * loss, "rmse": math.sqrt(max(2 * loss, 0.0))}
        else:
            derived = {"poisson-nloglik": loss + self._lgamma_term}
        return {f"train:{k}": v for k, v in derived.items() if k in self.metric_names}

    def _record_rounds(self, target: int) -> list[UnitRecord]:
        """One record per new round: train metrics derived from the training loss, all validation
        metrics; the last record of the call also gets every train metric (one prediction pass).
        Without a validation channel, early stopping watches train metrics round by round."""
        est = self.estimator
        classes = getattr(est, "classes_", np.zeros(0))
        hinge = self.objective == "binary:hinge"
        es = self.hp["early_stopping_rounds"]
        scores = list(est.train_score_)
        watch_train = es is not None and self._val_raw is None
        train_iter = self._train_raw.advance(est, target) if watch_train else None
        val_iter = self._val_raw.advance(est, target) if self._val_raw is not None else None
        records = []
        start = self.done_units  # after a restore the trackers replay earlier rounds silently
        for r in range(1, target + 1):
            if train_iter is not None and r > self._train_raw.rounds:
                _, raw = next(train_iter)
            if val_iter is not None and r > self._val_raw.rounds:
                _, vraw = next(val_iter)
            if r <= start:
                continue
            if train_iter is not None:
                m = {f"train:{k}": v for k, v in
                     _evaluate(self.metric_names, self.kind, hinge, self.y, raw, classes).items()}
            else:
                m = self._train_loss_metrics(scores[r])
            if val_iter is not None:
                m.update({f"validation:{k}": v for k, v in
                          _evaluate(self.metric_names, self.kind, hinge, self.y_val, vraw, classes).items()})
            records.append(UnitRecord(unit=r, metrics=metrics.finite(m)))
            self.done_units = r
            if es is not None and self._should_stop(m, r, es):
                self._truncate(r)
                break
        if records:
            last = records[-1].metrics
            last.update(metrics.finite({f"train:{k}": v for k, v in _evaluate(
                self.metric_names, self.kind, hinge, self.y, _full_raw(est, self.x), classes).items()}))
            self.last_metrics = dict(last)
        return records

    def _should_stop(self, m: dict[str, float], r: int, es: int) -> bool:
        key = f"{'validation' if self.x_val is not None else 'train'}:{self.stop_metric}"
        score = m.get(key)
        if score is None:
            return False
        better = (self.best_score is None or
                  (score > self.best_score if self.stop_metric in MAXIMIZE else score < self.best_score))
        if better:
            self.best_score, self.best_round = score, r
        return r - self.best_round >= es

    def _truncate(self, r: int) -> None:
        est = self.estimator
        if len(est._predictors) > r:
            del est._predictors[r:]
            est.train_score_ = np.asarray(est.train_score_)[:r + 1]
        est.max_iter = r
        self.stopped_early = True
        self.total_units = r
        self._after_restore()

    @trainer_method
    def state_at(self, unit: int, record: dict[str, float]) -> bytes | None:
        """The ``state()`` this training had after round ``unit`` (before the rounds that followed),
        derived from the trained model instead of refitted; None where that cannot be exact.

        ``record`` is the metrics this training reported for round ``unit``. A model after round k
        is the first k trees of the model after round n, and scikit-learn's estimator pickles the
        same once they are cut (as ``_truncate`` cuts at an early stop), except for the random
        generator of column sampling, which later rounds advance: so only without column sampling
        and without early stopping (whose best-round bookkeeping depends on the stopping metric's
        history). The rest of the state is the round's counters and metrics, the train metrics
        evaluated once over the whole training set as every ``fit_until`` does at its end.
        """
        est = self.estimator
        hp = self.hp
        columns = hp["colsample_bytree"] * hp["colsample_bylevel"] * hp["colsample_bynode"]
        if (est is None or self.stopped_early or hp["early_stopping_rounds"] is not None or columns < 1
                or not 0 < unit <= self.done_units or len(getattr(est, "_predictors", ())) < unit):
            return None
        cut = type(est).__new__(type(est))
        cut.__dict__.update(est.__dict__)
        cut._predictors = est._predictors[:unit]
        cut.train_score_ = np.asarray(est.train_score_)[:unit + 1]
        cut.max_iter = unit
        classes = getattr(est, "classes_", np.zeros(0))
        last = dict(record)
        last.update(metrics.finite({f"train:{k}": v for k, v in _evaluate(
            self.metric_names, self.kind, self.objective == "binary:hinge", self.y, _full_raw(cut, self.x),
            classes).items()}))
        values = {"done_units": unit, "total_units": int(hp["num_round"]), "estimator": cut, "last_metrics": last,
                  "best_score": None, "best_round": 0, "stopped_early": False}
        return dumps("state", self._algorithm_name, {a: values[a] for a in self._state_attrs})

    def _after_restore(self) -> None:
        self._train_raw.reset()
        if self._val_raw is not None:
            self._val_raw.reset()

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        return dict(self.last_metrics)

    @trainer_method
    def model(self) -> XGBoostModel:
        if self.estimator is None:
            raise RuntimeError("no rounds trained yet")
        return XGBoostModel({"objective": self.objective, "estimator": self.estimator,
                             "n_features": self.n_features, "index_base": self.index_base,
                             "num_class": self.hp["num_class"]})

    def work_per_unit(self) -> float:
        trees = self.hp["num_class"] if self.kind == "multi" else 1
        rows = self._fit_x.shape[0] + (self.x_val.shape[0] if self.x_val is not None else 0)
        depth = self.hp["max_depth"] or 8
        return float(rows * self.n_features * trees * depth * 4)


# -------------------------------------------------------------------- model
class XGBoostModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.objective: str = payload["objective"]
        self.kind = _kind(self.objective)
        self.est = payload["estimator"]
        self.n_features: int = payload["n_features"]
        self.index_base: int = payload["index_base"]
        self.num_class: int | None = payload["num_class"]

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if self.kind in ("binary", "multi"):
            raw = np.asarray(self.est.decision_function(x), dtype=np.float64)
        else:
            raw = np.asarray(self.est.predict(x), dtype=np.float64)
            if self.kind == "poisson":
                return raw  # already the mean
        return raw

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] < self.n_features:  # XGBoost treats absent trailing columns as missing
            x = np.hstack([x, np.full((x.shape[0], self.n_features - x.shape[1]), np.nan)])
        if x.shape[1] > self.n_features:
            raise ValueError(
                f"Number of columns does not match number of features in booster ({self.n_features} vs. {x.shape[1]})."
            )
        if self.kind == "binary":
            raw = self._raw(x)
            if self.objective == "binary:hinge":
                return (raw > 0).astype(np.float64)
            return metrics.sigmoid(raw)
        if self.kind == "multi":
            raw = self._raw(x)
            proba_known = metrics.softmax(raw if raw.ndim == 2 else raw[:, None])
            classes = self.est.classes_.astype(np.int64)
            proba = np.zeros((x.shape[0], int(self.num_class or classes.max() + 1)))
            proba[:, classes] = proba_known
            if self.objective == "multi:softmax":
                return np.argmax(proba, axis=1).astype(np.float64)
            return proba
        return self._raw(x)

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        libsvm = media_type(content_type)[0] == "text/libsvm"
        x = inference.rows_from_body(  # predict_array checks the width as XGBoost does
            body, content_type, self.n_features if libsvm else None,
            supported=("text/csv", "text/libsvm", "application/json", "application/jsonlines"),
            default="text/csv", index_base=self.index_base, allow_missing=True)
        out_type, _ = inference.negotiate(accept, ("text/csv", "application/json", "application/jsonlines"),
                                          "text/csv")
        pred = self.predict_array(x)
        if out_type == "text/csv":
            return inference.csv_body(pred), out_type
        scores = [{"score": inference.plain(v)} for v in (pred.tolist())]
        if out_type == "application/json":
            return inference.json_body({"predictions": scores}), out_type
        return inference.jsonlines_body(scores), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
