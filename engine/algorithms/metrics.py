"""Fast numpy metrics with the built-ins' names.

scikit-learn's metric functions validate their inputs on every call, which costs
about a millisecond; the built-ins evaluate metrics once per round or epoch, so
these plain-numpy versions keep the engine's overhead over a bare scikit-learn
fit small. Values match scikit-learn's (the tests compare a few).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logsumexp

_EPS = 1e-15


def mse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean((y - pred) ** 2))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(mse(y, pred)))


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y - pred)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    denom = float(np.sum((y - y.mean()) ** 2))
    return float("nan") if denom == 0 else 1.0 - float(np.sum((y - pred) ** 2)) / denom


def mape(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs((y - pred) / np.where(y == 0, 1.0, y))))


def rmsle(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log1p(np.clip(pred, -1 + 1e-6, None)) - np.log1p(y)) ** 2)))


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    """Binary cross-entropy of probabilities ``p`` for labels in {0, 1} (or soft labels)."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def logloss_from_raw(y: np.ndarray, raw: np.ndarray) -> float:
    """Binary cross-entropy from log-odds, without overflow."""
    return float(np.mean(np.logaddexp(0.0, raw) - y * raw))


def mlogloss(y: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass cross-entropy; ``y`` holds class indices into ``proba``'s columns."""
    p = np.clip(proba[np.arange(len(y)), y.astype(np.int64)], _EPS, 1.0)
    return float(-np.mean(np.log(p)))


def mlogloss_from_raw(y: np.ndarray, raw: np.ndarray) -> float:
    lse = logsumexp(raw, axis=1)
    return float(np.mean(lse - raw[np.arange(len(y)), y.astype(np.int64)]))


def softmax(raw: np.ndarray) -> np.ndarray:
    z = raw - raw.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


sigmoid = expit


def error(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    """Binary error rate of scores ``p`` (predict 1 when p > threshold, as XGBoost)."""
    return float(np.mean((p > threshold).astype(np.float64) != y))


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(pred == y))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties averaged); NaN when ``y`` has one class only."""
    pos = y == 1
    n1 = int(pos.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    starts_group = np.empty(len(s), dtype=bool)
    starts_group[0] = True
    np.not_equal(s[1:], s[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(s))
    ranks = ((starts + ends + 1) / 2.0)[np.cumsum(starts_group) - 1]  # average 1-based rank of ties
    return float((ranks[pos[order]].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def precision_recall_f(y: np.ndarray, pred: np.ndarray, beta: float = 1.0) -> tuple[float, float, float]:
    """Precision, recall and F-beta of the positive class (label 1); 0 where undefined."""
    tp = float(np.sum((pred == 1) & (y == 1)))
    fp = float(np.sum((pred == 1) & (y != 1)))
    fn = float(np.sum((pred != 1) & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    denom = b2 * precision + recall
    f = (1 + b2) * precision * recall / denom if denom else 0.0
    return precision, recall, f


def poisson_nloglik(y: np.ndarray, mean: np.ndarray) -> float:
    """XGBoost's poisson-nloglik: mean of mu - y*log(mu) + lgamma(y+1)."""
    from scipy.special import gammaln

    mu = np.clip(mean, 1e-16, None)
    return float(np.mean(mu - y * np.log(mu) + gammaln(y + 1.0)))


def finite(metrics: dict[str, float]) -> dict[str, float]:
    """Drop undefined (NaN/inf) values: a metric that cannot be computed is not emitted."""
    return {k: float(v) for k, v in metrics.items() if np.isfinite(v)}
