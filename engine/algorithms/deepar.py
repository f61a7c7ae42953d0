"""DeepAR (forecasting-deepar:1): one global neural forecaster over all series.

AWS's DeepAR trains one recurrent network on windows cut from every series, with
the inputs scaled per series, and forecasts a distribution. SageTutor keeps that
shape with a feed-forward network:

* windows: for every position of every training series, the last
  ``context_length`` values predict the next ``prediction_length`` values
  (windows with missing values are skipped; at most 20,000 windows, a fixed
  seeded subsample beyond that);
* inputs: the context divided by the series scale ``mean(|context|)`` (DeepAR's
  scaling), log of the scale, calendar features of the first forecast step from
  ``time_freq`` (hour of day, day of week, day of month, month ... as sin/cos
  pairs) and a one-hot encoding of each ``cat`` value; standardised;
* network: a linear autoregressive skip connection (``Ridge`` on the same
  inputs, fitted in closed form before the first epoch) plus an ``MLPRegressor``
  with ``num_layers`` hidden layers of ``num_cells`` units that learns what the
  linear part misses (its residuals, standardised per forecast step; Adam with
  ``learning_rate`` and ``mini_batch_size``); one
  epoch = one ``partial_fit`` pass in a seeded order, so training continues for real;
  ``early_stopping_patience`` stops when the epoch loss has not improved;
* distribution: after training, the scaled residuals on the training windows
  give a spread per forecast step; ``likelihood=gaussian`` uses
  mean +- z * std, ``student-T`` (the default) a Student-t whose degrees of
  freedom come from the residuals' kurtosis. Other likelihoods are rejected.
  ``dropout_rate``, ``embedding_dimension`` and ``num_dynamic_feat`` are
  accepted without effect (``dynamic_feat`` fields are ignored).

Multi-instance: data-parallel; every instance starts from the same weights,
trains one epoch on its shard's windows, and the weights are averaged (the
linear part is fitted on all windows, which equals summing the instances'
normal equations).

Metrics: ``train:loss`` each epoch and ``train:final_loss`` (the network's
squared loss on scaled targets); with a test channel (each test series = the
training series plus ``prediction_length`` more points) ``test:RMSE``,
``test:wQuantileLoss[q]`` for each of ``test_quantiles`` and
``test:mean_wQuantileLoss``, forecasting the last ``prediction_length`` points.

Inference: application/json
``{"instances": [{"start": ..., "target": [...], "cat": [...]}], "configuration":
{"num_samples": 100, "output_types": ["mean", "quantiles", "samples"], "quantiles": ["0.1", "0.9"]}}``
-> ``{"predictions": [{"mean": [...], "quantiles": {"0.1": [...]}, "samples": [[...]]}]}``
(defaults: mean and quantiles 0.1 ... 0.9); application/jsonlines: one instance
per line, one prediction per line. ``predict_array(histories)`` returns the mean
forecasts of 2-D target histories (rows starting at the first training start).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

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
from engine.algorithms.hyperparameters import Param, Spec, invalid_error
from engine.algorithms.readers import check_content_type, instance_shards, read_jsonlines
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "forecasting-deepar"
MAX_WINDOWS = 20_000
DEFAULT_QUANTILES = ("0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9")
_FREQ = re.compile(r"^(\d*)(min|H|D|W|M)$")

SPEC = Spec(
    Param("context_length", "int", required=True, low=1),
    Param("epochs", "int", required=True, low=1),
    Param("prediction_length", "int", required=True, low=1),
    Param("time_freq", "str", required=True),
    Param("likelihood", "choice", default="student-T",
          choices=("student-T", "gaussian", "beta", "negative-binomial", "deterministic-L1", "piecewise-linear")),
    Param("num_cells", "int", default=40, low=1, high=200),
    Param("num_layers", "int", default=2, low=1, high=8),
    Param("learning_rate", "float", default=0.001, low=1e-4, high=0.1),
    Param("mini_batch_size", "int", default=128, low=1, high=1028),
    Param("dropout_rate", "float", default=0.1, low=0, high=0.2, ignored=True),
    Param("early_stopping_patience", "int", low=1),
    Param("cardinality", "str", default="auto", ignored=True),
    Param("embedding_dimension", "int", default=10, low=1, high=50, ignored=True),
    Param("num_dynamic_feat", "str", default="auto", ignored=True),
    Param("num_eval_samples", "int", default=100, low=1),
    Param("test_quantiles", "list", default=list(DEFAULT_QUANTILES)),
)


def _quantile_specs() -> list[MetricSpec]:
    return [MetricSpec(f"test:wQuantileLoss[{q}]", "Minimize") for q in DEFAULT_QUANTILES]


class DeepAR(Algorithm):
    name = NAME
    repository = "forecasting-deepar"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=True,
        checkpointing=False,
        processors=frozenset({"cpu", "gpu"}),
        gpu_accelerated=True,
        incremental=False,
        content_types=("application/jsonlines", "application/json"),
        default_content_type="application/jsonlines",
        required_channels=("train",),
        optional_channels=("test",),
        inference_content_types=("application/json", "application/jsonlines"),
        inference_accept=("application/json", "application/jsonlines"),
    )
    metrics = (MetricSpec("test:RMSE", "Minimize"), MetricSpec("test:mean_wQuantileLoss", "Minimize"),
               MetricSpec("train:final_loss", "Minimize"), MetricSpec("train:loss", "Minimize"),
               *_quantile_specs())

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        parse_freq(hp["time_freq"])
        if hp["likelihood"] not in ("student-T", "gaussian"):
            raise AlgorithmClientError(
                f"Hyperparameter 'likelihood': value '{hp['likelihood']}' is not simulated; SageTutor's DeepAR "
                "supports 'student-T' and 'gaussian'."
            )
        quantiles = []
        for q in hp["test_quantiles"]:
            try:
                v = float(q)
            except ValueError:
                v = -1.0
            if not 0 < v < 1:
                raise invalid_error("test_quantiles", ",".join(hp["test_quantiles"]),
                                    "not a list of quantiles strictly between 0 and 1")
            quantiles.append(q)
        hp["test_quantiles"] = quantiles
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> DeepARTrainer:
        parts = instance_shards("DeepAR", True, channels, shards, instance_count)
        return DeepARTrainer(hp, parts, channels.get("test"), seed)

    def load_model(self, data: bytes) -> DeepARModel:
        return DeepARModel(loads(data, "model", NAME))


# ------------------------------------------------------------------ series
def parse_freq(text: str) -> tuple[int, str]:
    """``"5min"`` -> ``(5, "min")``; ClientError for anything but [n]M|W|D|H|min."""
    m = _FREQ.match(text)
    if not m or (m.group(1) and int(m.group(1)) < 1):
        raise invalid_error("time_freq", text, "not a valid frequency; use an optional integer followed by "
                                               "M, W, D, H or min (e.g. 'H', '5min', '2D')")
    return int(m.group(1) or 1), m.group(2)


def _parse_start(value: Any) -> np.datetime64:
    if not isinstance(value, str):
        raise ValueError("'start' must be a string such as '2025-01-01 00:00:00'")
    try:
        return np.datetime64(value.strip().replace(" ", "T"), "m")
    except ValueError:
        raise ValueError(f"'start' {value!r} is not a timestamp such as '2025-01-01 00:00:00'") from None


def _parse_target(value: Any) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise ValueError("'target' must be a non-empty list of numbers")
    out = np.empty(len(value))
    for i, v in enumerate(value):
        if v is None or (isinstance(v, str) and v.strip().lower() == "nan"):
            out[i] = np.nan
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[i] = float(v)
        else:
            raise ValueError(f"'target' item {i} ({v!r}) is not a number, null or \"NaN\"")
    if not np.isfinite(out[~np.isnan(out)]).all():
        raise ValueError("'target' holds an infinite value")
    return out


def _parse_cat(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                              for c in value):
        raise ValueError("'cat' must be a list of non-negative integers")
    return tuple(value)


def read_series(channel: ChannelData) -> list[tuple[np.datetime64, np.ndarray, tuple[int, ...]]]:
    check_content_type(channel, ("application/jsonlines", "application/json"), "application/jsonlines", "DeepAR")
    out = []
    for key, number, obj in read_jsonlines(channel):
        try:
            if "target" not in obj or "start" not in obj:
                raise ValueError("each line needs 'start' and 'target'")
            out.append((_parse_start(obj["start"]), _parse_target(obj["target"]), _parse_cat(obj.get("cat"))))
        except ValueError as exc:
            raise AlgorithmClientError(f"Channel '{channel.name}': object '{key}' line {number}: {exc}") from None
    return out


def _times(start: np.datetime64, index: np.ndarray, freq: tuple[int, str]) -> np.ndarray:
    mult, unit = freq
    if unit == "M":
        return (start.astype("datetime64[M]") + index * mult).astype("datetime64[m]")
    step = {"min": np.timedelta64(1, "m"), "H": np.timedelta64(60, "m"), "D": np.timedelta64(1440, "m"),
            "W": np.timedelta64(10080, "m")}[unit]
    return start + index * mult * step


def _time_features(t: np.ndarray, unit: str) -> np.ndarray:
    """sin/cos of the calendar positions that matter for the frequency."""
    days = t.astype("datetime64[D]")
    parts: list[tuple[np.ndarray, float]] = []
    if unit == "min":
        parts.append(((t - t.astype("datetime64[h]")).astype(np.int64), 60.0))
    if unit in ("min", "H"):
        parts.append(((t.astype("datetime64[h]") - days).astype(np.int64), 24.0))
    if unit in ("min", "H", "D"):
        parts.append((((days.astype(np.int64) + 3) % 7), 7.0))
    if unit in ("D", "W"):
        parts.append(((days - t.astype("datetime64[M]")).astype(np.int64), 31.0))
        parts.append(((days - t.astype("datetime64[Y]")).astype(np.int64), 366.0))
    if unit in ("W", "M"):
        parts.append((t.astype("datetime64[M]").astype(np.int64) % 12, 12.0))
    cols = []
    for value, period in parts:
        angle = 2 * np.pi * value.astype(np.float64) / period
        cols += [np.sin(angle), np.cos(angle)]
    return np.column_stack(cols) if cols else np.zeros((len(t), 0))


class _Featurizer:
    """Turns (start, context, cat) into network inputs; picklable, shared by trainer and model."""

    def __init__(self, context_length: int, prediction_length: int, freq: tuple[int, str],
                 cardinality: tuple[int, ...]) -> None:
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.freq = freq
        self.cardinality = cardinality

    def rows(self, start: np.datetime64, contexts: np.ndarray, positions: np.ndarray, cat: tuple[int, ...]
             ) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, scales) for contexts (n, C) whose forecasts start at ``positions`` of the series."""
        scale = np.mean(np.abs(contexts), axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        cal = _time_features(_times(start, positions, self.freq), self.freq[1])
        onehots = []
        for j, card in enumerate(self.cardinality):
            v = np.zeros((len(contexts), card))
            c = cat[j] if j < len(cat) else -1
            if 0 <= c < card:
                v[:, c] = 1.0
            onehots.append(v)
        x = np.hstack([contexts / scale[:, None], np.log(scale)[:, None], cal, *onehots])
        return x, scale


def _fill(values: np.ndarray) -> np.ndarray:
    """Missing values forward-filled (leading ones back-filled; all-missing -> 0)."""
    v = values.copy()
    mask = np.isnan(v)
    if not mask.any():
        return v
    if mask.all():
        return np.zeros_like(v)
    idx = np.where(~mask, np.arange(len(v)), 0)
    np.maximum.accumulate(idx, out=idx)
    v = v[idx]
    first = int(np.flatnonzero(~mask)[0])
    v[:first] = v[first]
    return v


def _context(values: np.ndarray, length: int) -> np.ndarray:
    """The last ``length`` values (missing filled), left-padded with their mean if the series is shorter."""
    tail = _fill(values[-length:])
    if len(tail) < length:
        tail = np.concatenate([np.full(length - len(tail), float(np.mean(tail)) if len(tail) else 0.0), tail])
    return tail


# ------------------------------------------------------------------ trainer
class DeepARTrainer(PickledState, Trainer):
    unit_name = "epoch"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "total_units", "linear", "res_scale", "estimators", "best_loss", "bad_epochs",
                    "stopped_early", "losses")

    def __init__(self, hp: dict[str, Any], parts: list[ChannelData], test: ChannelData | None, seed: int) -> None:
        self.hp = hp
        self.seed = int(seed)
        C, P = hp["context_length"], hp["prediction_length"]
        shards = [read_series(p) for p in parts]
        series = [s for sh in shards for s in sh]
        ncat = max((len(s[2]) for s in series), default=0)
        cardinality = tuple(max((s[2][j] for s in series if len(s[2]) > j), default=0) + 1 for j in range(ncat))
        self.default_start = series[0][0]
        self.featurizer = _Featurizer(C, P, parse_freq(hp["time_freq"]), cardinality)
        windows = [self._windows(sh) for sh in shards]
        if not any(len(w[0]) for w in windows):
            longest = max(len(s[1]) for s in series)
            raise AlgorithmClientError(
                f"Channel 'train': no series has context_length + prediction_length = {C + P} observed points "
                f"(longest: {longest}); use longer series or shorter lengths."
            )
        windows = [w for w in windows if len(w[0])]
        self.x_scaler = StandardScaler().fit(np.vstack([w[0] for w in windows]))
        self.shards = [(self.x_scaler.transform(x), y) for x, y in windows]
        self.linear: Ridge | None = None
        self.res_scale = np.ones(hp["prediction_length"])
        self.test = read_series(test) if test is not None else None
        self.total_units = int(hp["epochs"])
        self.cells = sum(x.size for x, _ in self.shards)
        self.done_units = 0
        self.estimators: list[MLPRegressor] = []
        self.best_loss: float | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.losses: list[float] = []
        self._cache: tuple[int, DeepARModel] | None = None

    def _after_restore(self) -> None:
        self._cache = None

    def _windows(self, series: list) -> tuple[np.ndarray, np.ndarray]:
        C, P = self.hp["context_length"], self.hp["prediction_length"]
        xs, ys = [], []
        for start, target, cat in series:
            n = len(target) - C - P + 1
            if n <= 0:
                continue
            idx = np.arange(n)[:, None] + np.arange(C + P)[None, :]
            win = target[idx]
            ok = ~np.isnan(win).any(axis=1)
            if not ok.any():
                continue
            win = win[ok]
            x, scale = self.featurizer.rows(start, win[:, :C], np.flatnonzero(ok) + C, cat)
            xs.append(x)
            ys.append(win[:, C:] / scale[:, None])
        if not xs:
            return np.zeros((0, 0)), np.zeros((0, P))
        x, y = np.vstack(xs), np.vstack(ys)
        if len(x) > MAX_WINDOWS:
            keep = np.sort(np.random.default_rng([self.seed, 17]).choice(len(x), MAX_WINDOWS, replace=False))
            x, y = x[keep], y[keep]
        return x, y

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        hp = self.hp
        if self.linear is None:
            self.linear = Ridge(alpha=1.0).fit(np.vstack([x for x, _ in self.shards]),
                                               np.vstack([y for _, y in self.shards]))
            res = np.vstack([y for _, y in self.shards]) - self.linear.predict(np.vstack([x for x, _ in self.shards]))
            self.res_scale = np.where(res.std(axis=0) > 0, res.std(axis=0), 1.0)
        residuals = [(x, (y - self.linear.predict(x)) / self.res_scale) for x, y in self.shards]
        if not self.estimators:
            self.estimators = [
                MLPRegressor(hidden_layer_sizes=(hp["num_cells"],) * hp["num_layers"],
                             learning_rate_init=hp["learning_rate"], batch_size=hp["mini_batch_size"],
                             shuffle=False, random_state=self.seed % (2**32), alpha=1e-4)
                for _ in self.shards]
        records = []
        while self.done_units < units:
            epoch = self.done_units + 1
            for rank, (est, (x, y)) in enumerate(zip(self.estimators, residuals)):
                # a seeded order per epoch and instance, sliced into batches (sklearn's own shuffling
                # indexes every batch through a slow generic path)
                order = np.random.default_rng([self.seed, epoch, rank]).permutation(len(x))
                est.batch_size = min(hp["mini_batch_size"], len(x))
                est.partial_fit(x[order], y[order])
            if len(self.estimators) > 1:
                coefs = [np.mean([e.coefs_[i] for e in self.estimators], axis=0)
                         for i in range(len(self.estimators[0].coefs_))]
                intercepts = [np.mean([e.intercepts_[i] for e in self.estimators], axis=0)
                              for i in range(len(self.estimators[0].intercepts_))]
                for e in self.estimators:
                    e.coefs_ = [c.copy() for c in coefs]
                    e.intercepts_ = [b.copy() for b in intercepts]
            loss = float(np.average([e.loss_ for e in self.estimators], weights=[len(s[0]) for s in self.shards]))
            self.losses.append(loss)
            self.done_units = epoch
            records.append(UnitRecord(unit=epoch, metrics={"train:loss": loss}))
            patience = hp["early_stopping_patience"]
            if patience is not None:
                if self.best_loss is None or loss < self.best_loss:
                    self.best_loss, self.bad_epochs = loss, 0
                else:
                    self.bad_epochs += 1
                if self.bad_epochs >= patience:
                    self.stopped_early = True
                    self.total_units = epoch
                    break
        records[-1].metrics.update(self.final_metrics())
        return records

    @trainer_method
    def model(self) -> DeepARModel:
        if not self.estimators:
            raise RuntimeError("no epochs trained yet")
        if self._cache is not None and self._cache[0] == self.done_units:
            return self._cache[1]
        est = self.estimators[0]
        x = np.vstack([s[0] for s in self.shards])
        y = np.vstack([s[1] for s in self.shards])
        assert self.linear is not None
        resid = y - self.linear.predict(x) - est.predict(x).reshape(y.shape) * self.res_scale
        sigma = np.sqrt(np.mean(resid ** 2, axis=0))
        sigma = np.where(sigma > 0, sigma, 1e-6)
        z = resid / sigma
        kurt = float(np.mean(z ** 4) - 3.0)
        df = float(np.clip(4.0 + 6.0 / kurt, 2.5, 30.0)) if kurt > 0 else 30.0
        model = DeepARModel({
            "estimator": est, "linear": self.linear, "res_scale": self.res_scale, "x_scaler": self.x_scaler, "featurizer": self.featurizer,
            "likelihood": self.hp["likelihood"], "sigma": sigma, "df": df,
            "default_start": self.default_start, "seed": self.seed,
        })
        self._cache = (self.done_units, model)
        return model

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if not self.estimators:
            return {}
        out = {"train:final_loss": self.losses[-1]}
        if self.test:
            P = self.hp["prediction_length"]
            model = self.model()
            usable = [(s, t[:-P], t[-P:], c) for s, t, c in self.test if len(t) > P]
            if usable:
                qs = self.hp["test_quantiles"]
                means, quants = model.forecast([(s, h, c) for s, h, _, c in usable], [float(q) for q in qs])
                actual = np.vstack([f for _, _, f, _ in usable])
                ok = ~np.isnan(actual)
                err = (actual - means)[ok]
                out["test:RMSE"] = float(np.sqrt(np.mean(err ** 2)))
                denom = float(np.sum(np.abs(actual[ok])))
                losses = []
                for q, qv in zip(qs, quants):
                    diff = (actual - qv)[ok]
                    ql = 2 * float(np.sum(np.abs(diff * ((diff < 0) - float(q))))) / denom if denom else float("nan")
                    out[f"test:wQuantileLoss[{q}]"] = ql
                    losses.append(ql)
                out["test:mean_wQuantileLoss"] = float(np.mean(losses))
        return {k: v for k, v in out.items() if math.isfinite(v)}

    def work_per_unit(self) -> float:
        params = sum(c.size for c in self.estimators[0].coefs_) if self.estimators else (
            self.shards[0][0].shape[1] * self.hp["num_cells"]
            + self.hp["num_cells"] ** 2 * (self.hp["num_layers"] - 1)
            + self.hp["num_cells"] * self.hp["prediction_length"])
        windows = sum(len(s[0]) for s in self.shards)
        return float(windows * params * 6)


# -------------------------------------------------------------------- model
class DeepARModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.est: MLPRegressor = payload["estimator"]
        self.x_scaler: StandardScaler = payload["x_scaler"]
        self.f: _Featurizer = payload["featurizer"]

    def _quantile_z(self, q: float) -> float:
        if self.payload["likelihood"] == "gaussian":
            return float(stats.norm.ppf(q))
        df = self.payload["df"]
        return float(stats.t.ppf(q, df) * math.sqrt((df - 2) / df))

    def forecast(self, items: list[tuple[np.datetime64, np.ndarray, tuple[int, ...]]], quantiles: list[float]
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Mean forecasts (n, P) and one (n, P) array per quantile, for (start, history, cat) items."""
        C = self.f.context_length
        rows, scales = [], []
        for start, history, cat in items:
            ctx = _context(history, C)
            x, scale = self.f.rows(start, ctx[None, :], np.array([len(history)]), cat)
            rows.append(x)
            scales.append(scale)
        x = self.x_scaler.transform(np.vstack(rows))
        scale = np.concatenate(scales)[:, None]
        mean = (self.payload["linear"].predict(x)
                + self.est.predict(x).reshape(len(items), -1) * self.payload["res_scale"])
        sigma = self.payload["sigma"][None, :]
        means = mean * scale
        quants = [(mean + self._quantile_z(q) * sigma) * scale for q in quantiles]
        return means, quants

    def samples(self, items: list, n: int) -> np.ndarray:
        means, _ = self.forecast(items, [])
        C = self.f.context_length
        scales = np.array([self.f.rows(s, _context(h, C)[None, :], np.array([len(h)]), c)[1][0]
                           for s, h, c in items])
        rng = np.random.default_rng([self.payload["seed"], len(items), n])
        sigma = self.payload["sigma"][None, None, :] * scales[:, None, None]
        if self.payload["likelihood"] == "gaussian":
            noise = rng.standard_normal((len(items), n, means.shape[1]))
        else:
            df = self.payload["df"]
            noise = rng.standard_t(df, (len(items), n, means.shape[1])) * math.sqrt((df - 2) / df)
        return means[:, None, :] + noise * sigma

    @model_method
    def predict_array(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        start = self.payload["default_start"]
        return self.forecast([(start, row, ()) for row in x], [])[0]

    def _instances(self, body: bytes, content_type: str) -> tuple[list[dict], dict]:
        mime, _ = inference.media_type(content_type)
        mime = mime or "application/json"
        if mime == "application/json":
            doc = inference.json_document(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list) or not doc["instances"]:
                raise ValueError('expected {"instances": [{"start": ..., "target": [...]}], "configuration": {...}}')
            config = doc.get("configuration") or {}
            if not isinstance(config, dict):
                raise ValueError('"configuration" must be an object')
            return doc["instances"], config
        if mime == "application/jsonlines":
            lines = [ln for ln in inference.body_text(body).splitlines() if ln.strip()]
            out = []
            for number, line in enumerate(lines, start=1):
                try:
                    out.append(inference.json_document(line.encode()))
                except ValueError as exc:
                    raise ValueError(f"JSON Lines line {number}: {exc}") from None
            if not out:
                raise ValueError("empty request body: expected one instance per line")
            return out, {}
        raise ValueError(f"content type '{content_type}' is not supported; supported: application/json, "
                         "application/jsonlines")

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        instances, config = self._instances(body, content_type)
        mime, _ = inference.media_type(content_type)
        out_type, _ = inference.negotiate(accept, ("application/json", "application/jsonlines"),
                                          "application/jsonlines" if mime == "application/jsonlines"
                                          else "application/json")
        items = []
        for i, inst in enumerate(instances):
            if not isinstance(inst, dict) or "target" not in inst or "start" not in inst:
                raise ValueError(f"instance {i} needs 'start' and 'target'")
            try:
                items.append((_parse_start(inst["start"]), _parse_target(inst["target"]), _parse_cat(inst.get("cat"))))
            except ValueError as exc:
                raise ValueError(f"instance {i}: {exc}") from None
        types = config.get("output_types", ["mean", "quantiles"])
        qs = config.get("quantiles", list(DEFAULT_QUANTILES))
        if not isinstance(types, list) or not set(types) <= {"mean", "quantiles", "samples"}:
            raise ValueError('"output_types" must be a list of "mean", "quantiles", "samples"')
        try:
            qvals = [float(q) for q in qs]
            num_samples = int(config.get("num_samples", 100))
        except (TypeError, ValueError):
            raise ValueError('"quantiles" must be numbers like "0.5" and "num_samples" an integer') from None
        if not all(0 < q < 1 for q in qvals) or not 1 <= num_samples <= 10_000:
            raise ValueError("quantiles must be in (0, 1) and num_samples in 1..10000")
        means, quants = self.forecast(items, qvals)
        samples = self.samples(items, num_samples) if "samples" in types else None
        preds = []
        for i in range(len(items)):
            p: dict[str, Any] = {}
            if "mean" in types:
                p["mean"] = means[i].tolist()
            if "quantiles" in types:
                p["quantiles"] = {str(q): quants[j][i].tolist() for j, q in enumerate(qs)}
            if samples is not None:
                p["samples"] = samples[i].tolist()
            preds.append(p)
        if out_type == "application/jsonlines":
            return inference.jsonlines_body(preds), out_type
        return inference.json_body({"predictions": preds}), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
