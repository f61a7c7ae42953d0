"""Tiny in-process datasets for the built-ins, encoded as the channels AWS would hand them.

``CASES[name]()`` builds one ``Case`` per built-in: raw (string) hyperparameters,
channels, a two-instance sharding of the train channel, the metric to sanity-check,
and an inference request with a way to read the response's numbers back. Cases
are built lazily and cached, and ``trained(name)`` caches one straight training
run per built-in so the conformance checks share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_blobs

from engine.algorithms import BUILTINS
from engine.algorithms.base import ChannelData, Trainer

# ------------------------------------------------------------------ encoders


def csv_bytes(x: np.ndarray, y: np.ndarray | None = None) -> bytes:
    """Headerless CSV, label first (shortest round-trip floats)."""
    rows = x if y is None else np.column_stack([y, x])
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows.tolist()).encode()


def features_csv(x: np.ndarray) -> bytes:
    return csv_bytes(x)


def libsvm_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    lines = []
    for label, row in zip(y.tolist(), x.tolist()):
        pairs = " ".join(f"{j + 1}:{v!r}" for j, v in enumerate(row) if v != 0)
        lines.append(f"{label!r} {pairs}".strip())
    return ("\n".join(lines) + "\n").encode()


def channel(name: str, data: bytes | list[tuple[str, bytes]], content_type: str | None) -> ChannelData:
    objects = data if isinstance(data, list) else [(f"{name}/part-0.dat", data)]
    return ChannelData(name=name, content_type=content_type, objects=objects)


def split_channel(name: str, chunks: list[bytes], content_type: str | None) -> ChannelData:
    return ChannelData(name, content_type, [(f"{name}/part-{i}.dat", c) for i, c in enumerate(chunks)])


def shards_of(ch: ChannelData) -> list[ChannelData]:
    """ShardedByS3Key over two instances: objects alternate between them."""
    return [ChannelData(ch.name, ch.content_type, ch.objects[i::2]) for i in range(2)]


def _split(n: int, seed: int, frac: float) -> tuple[np.ndarray, np.ndarray]:
    idx = np.random.default_rng(seed).permutation(n)
    cut = int(n * frac)
    return np.sort(idx[:cut]), np.sort(idx[cut:])


# --------------------------------------------------------------------- case
@dataclass
class Case:
    hp: dict[str, str]
    channels: dict[str, ChannelData]
    metric: str
    check: Callable[[float], bool]
    request: tuple[bytes, str]  # body, content type
    rows: Any  # predict_array input equal to the request
    from_json: Callable[[Any], np.ndarray]  # response JSON -> the numbers predict_array returns
    csv_out: bool = True  # the model answers Accept: text/csv with predict_array's numbers
    bad_train: tuple[bytes, str] | None = None  # a malformed train object and a fragment of the error
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shards(self) -> list[ChannelData]:
        return shards_of(self.channels["train"])


def _xgboost() -> Case:
    x, y = load_breast_cancer(return_X_y=True)
    tr, va = _split(len(y), 1, 0.7)
    chunks = [csv_bytes(x[part], y[part]) for part in np.array_split(tr, 4)]
    return Case(
        hp={"num_round": "20", "objective": "binary:logistic", "max_depth": "3", "eta": "0.3",
            "eval_metric": "auc"},
        channels={"train": split_channel("train", chunks, "text/csv"),
                  "validation": channel("validation", csv_bytes(x[va], y[va]), "text/csv")},
        metric="validation:auc", check=lambda v: v > 0.95,
        request=(features_csv(x[va[:6]]), "text/csv"), rows=x[va[:6]],
        from_json=lambda d: np.array([p["score"] for p in d["predictions"]]),
        bad_train=(b"1,2.0,3.0\n0,4.0,oops\n", "line 2"),
    )


def _linear_learner() -> Case:
    x, y = load_breast_cancer(return_X_y=True)
    tr, va = _split(len(y), 2, 0.7)
    chunks = [csv_bytes(x[part], y[part]) for part in np.array_split(tr, 4)]
    return Case(
        hp={"predictor_type": "binary_classifier", "epochs": "6", "mini_batch_size": "100",
            "early_stopping_patience": "20"},
        channels={"train": split_channel("train", chunks, "text/csv"),
                  "validation": channel("validation", csv_bytes(x[va], y[va]), "text/csv"),
                  "test": channel("test", csv_bytes(x[va], y[va]), "text/csv")},
        metric="validation:binary_classification_accuracy", check=lambda v: v > 0.9,
        request=(features_csv(x[va[:6]]), "text/csv"), rows=x[va[:6]],
        from_json=lambda d: np.array([p["predicted_label"] for p in d["predictions"]], dtype=float),
        bad_train=(b"1,2.0,3.0\n0,4.0\n", "line 2"),
    )


@cache
def blobs() -> tuple[np.ndarray, np.ndarray]:
    x, _ = make_blobs(n_samples=800, centers=5, n_features=6, cluster_std=1.0, random_state=3)
    return x[:600], x[600:]


def _kmeans() -> Case:
    train, test = blobs()
    chunks = [features_csv(part) for part in np.array_split(train, 4)]
    baseline = float(np.mean(np.sum((test - train.mean(axis=0)) ** 2, axis=1)))  # k = 1
    return Case(
        hp={"k": "5", "feature_dim": "6", "epochs": "2", "mini_batch_size": "200"},
        channels={"train": split_channel("train", chunks, "text/csv;label_size=0"),
                  "test": channel("test", features_csv(test), "text/csv;label_size=0")},
        metric="test:msd", check=lambda v: v < 0.2 * baseline,
        request=(features_csv(test[:5]), "text/csv"), rows=test[:5],
        from_json=lambda d: np.array([[p["closest_cluster"], p["distance_to_cluster"]] for p in d["predictions"]]),
        bad_train=(b"1.0,2.0,3.0,4.0,5.0,6.0\n1.0,2.0,3.0\n", "line 2"),
    )


@cache
def correlated() -> np.ndarray:
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(400, 2)) * np.array([3.0, 1.5])
    return latent @ rng.normal(size=(2, 8)) + rng.normal(scale=0.2, size=(400, 8)) + 4.0


def _pca() -> Case:
    x = correlated()
    chunks = [features_csv(part) for part in np.array_split(x, 4)]
    return Case(
        hp={"feature_dim": "8", "mini_batch_size": "100", "num_components": "2"},
        channels={"train": split_channel("train", chunks, "text/csv;label_size=0")},
        metric="train:explained_variance_ratio", check=lambda v: v > 0.95,
        request=(features_csv(x[:5]), "text/csv"), rows=x[:5],
        from_json=lambda d: np.array([p["projection"] for p in d["projections"]]),
        bad_train=(b"1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,x\n", "line 2"),
    )


def _knn() -> Case:
    x, y = load_iris(return_X_y=True)
    tr, te = _split(len(y), 4, 0.7)
    chunks = [csv_bytes(x[part], y[part]) for part in np.array_split(tr, 4)]
    return Case(
        hp={"feature_dim": "4", "k": "5", "predictor_type": "classifier", "sample_size": "200"},
        channels={"train": split_channel("train", chunks, "text/csv"),
                  "test": channel("test", csv_bytes(x[te], y[te]), "text/csv")},
        metric="test:accuracy", check=lambda v: v > 0.9,
        request=(features_csv(x[te[:6]]), "text/csv"), rows=x[te[:6]],
        from_json=lambda d: np.array([p["predicted_label"] for p in d["predictions"]]),
        bad_train=(b"0,1,2,3,4\n1,1,2,3\n", "line 2"),
    )


@cache
def anomalies() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    train = rng.normal(size=(600, 4))
    normal = rng.normal(size=(190, 4))
    outliers = rng.normal(size=(10, 4)) + rng.choice([-7.0, 7.0], size=(10, 4))
    test = np.vstack([normal, outliers])
    labels = np.r_[np.zeros(190), np.ones(10)]
    return train, test, labels


def _rcf() -> Case:
    train, test, labels = anomalies()
    chunks = [features_csv(part) for part in np.array_split(train, 4)]
    return Case(
        hp={"feature_dim": "4", "num_trees": "50", "num_samples_per_tree": "128"},
        channels={"train": split_channel("train", chunks, "text/csv;label_size=0"),
                  "test": channel("test", csv_bytes(test, labels), "text/csv;label_size=1")},
        metric="test:f1", check=lambda v: v > 0.5,
        request=(features_csv(test[-6:]), "text/csv"), rows=test[-6:],
        from_json=lambda d: np.array([p["score"] for p in d["scores"]]),
        bad_train=(b"1,2,3,4\n1,2,3,4,5\n", "line 2"),
    )


@cache
def topic_counts() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vocab, topics = 30, 3
    beta = np.full((topics, vocab), 0.01)
    for t in range(topics):
        beta[t, t * 10:(t + 1) * 10] = 1.0
    beta /= beta.sum(axis=1, keepdims=True)
    docs = []
    for _ in range(360):
        theta = rng.dirichlet(np.full(topics, 0.3))
        docs.append(rng.multinomial(40, theta @ beta))
    counts = np.array(docs, dtype=float)
    return counts[:300], counts[300:]


def _lda() -> Case:
    train, test = topic_counts()
    chunks = [features_csv(part) for part in np.array_split(train, 4)]
    return Case(
        hp={"num_topics": "3", "feature_dim": "30", "mini_batch_size": "50", "max_iterations": "4"},
        channels={"train": split_channel("train", chunks, "text/csv;label_size=0"),
                  "test": channel("test", features_csv(test), "text/csv;label_size=0")},
        metric="test:pwll", check=lambda v: v > np.log(1 / 30) + 0.2,  # clearly better than uniform words
        request=(features_csv(test[:5]), "text/csv"), rows=test[:5],
        from_json=lambda d: np.array([p["topic_mixture"] for p in d["predictions"]]),
        bad_train=(b"1,2,3\n", "feature_dim"),
    )


_TOPICS = {
    "billing": "invoice charge refund payment card bill overcharged price",
    "shipping": "package delivery courier tracking late parcel shipped address",
    "account": "password login reset username locked email verify profile",
}
_FILLER = "please help my the a with is not i have to can you thanks again today order".split()


@cache
def tickets() -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(8)
    labels, texts = [], []
    for i in range(390):
        label = list(_TOPICS)[i % 3]
        words = list(rng.choice(_TOPICS[label].split(), size=3)) + list(rng.choice(_FILLER, size=6))
        rng.shuffle(words)
        labels.append(label)
        texts.append(" ".join(words))
    return labels, texts


def _blazingtext() -> Case:
    labels, texts = tickets()
    lines = [f"__label__{lab} {t}\n" for lab, t in zip(labels, texts)]
    train = lines[:300]
    chunks = ["".join(part).encode() for part in np.array_split(np.array(train, dtype=object), 4)]
    request = {"instances": texts[300:305]}
    return Case(
        hp={"mode": "supervised", "epochs": "5", "min_count": "2"},
        channels={"train": split_channel("train", chunks, "application/x-text"),
                  "validation": channel("validation", "".join(lines[300:]).encode(), None)},
        metric="validation:accuracy", check=lambda v: v > 0.7,
        request=(json.dumps(request).encode(), "application/json"), rows=np.array(texts[300:305], dtype=object),
        from_json=lambda d: np.array([a["prob"][0] for a in d]),
        csv_out=False,
        bad_train=(b"__label__a fine line\nno label on this line\n", "line 2"),
        extra={"array_to_json": lambda a: a.max(axis=1)},
    )


@cache
def hourly_series() -> np.ndarray:
    rng = np.random.default_rng(9)
    hours = np.arange(24 * 14)
    level = rng.uniform(20, 80, size=(6, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(6, 1))
    values = level * (1 + 0.25 * np.sin(2 * np.pi * hours / 24 + phase)) + rng.normal(size=(6, len(hours))) * 0.04 * level
    return np.round(values, 3)


def seasonal_naive_rmse(prediction_length: int = 24) -> float:
    v = hourly_series()
    forecast = v[:, -2 * prediction_length:-prediction_length]
    return float(np.sqrt(np.mean((v[:, -prediction_length:] - forecast) ** 2)))


def _jsonl(values: np.ndarray) -> bytes:
    return "".join(json.dumps({"start": "2025-01-01 00:00:00", "target": row, "cat": [i]}) + "\n"
                   for i, row in enumerate(values.tolist())).encode()


def _deepar() -> Case:
    v = hourly_series()
    train = v[:, :-24]
    chunks = [_jsonl(part) for part in np.array_split(train, 2)]
    histories = train[:2]
    request = {"instances": [{"start": "2025-01-01 00:00:00", "target": h} for h in histories.tolist()],
               "configuration": {"output_types": ["mean", "quantiles"], "quantiles": ["0.1", "0.9"]}}
    naive = seasonal_naive_rmse()
    return Case(
        hp={"context_length": "48", "prediction_length": "24", "epochs": "6", "time_freq": "H"},
        channels={"train": split_channel("train", chunks, "application/jsonlines"),
                  "test": channel("test", _jsonl(v), "application/jsonlines")},
        metric="test:RMSE", check=lambda r: r < naive,
        request=(json.dumps(request).encode(), "application/json"), rows=histories,
        from_json=lambda d: np.array([p["mean"] for p in d["predictions"]]),
        csv_out=False,
        bad_train=(b'{"start": "2025-01-01 00:00:00", "target": [1, 2, 3]}\n{"start": "2025-01-01", "target": "x"}\n',
                   "line 2"),
    )


@cache
def digit_images() -> tuple[list[bytes], np.ndarray, np.ndarray]:
    from engine.datasets.png import encode_png

    x, y = load_digits(return_X_y=True)
    x, y = x[:500], y[:500]
    pixels = np.round(x * 255 / 16).astype(np.uint8)
    return [encode_png(p.reshape(8, 8)) for p in pixels], pixels.astype(float), y.astype(float)


def _image_channels(indices: np.ndarray, split: str, pngs: list[bytes], y: np.ndarray
                    ) -> tuple[ChannelData, ChannelData]:
    objects = [(f"digits/{split}/{int(y[i])}/{i}.png", pngs[i]) for i in indices]
    lst = "".join(f"{i}\t{int(y[i])}\t{int(y[i])}/{i}.png\n" for i in indices).encode()
    return (ChannelData(split, "application/x-image", objects),
            ChannelData(f"{split}_lst", "application/x-image", [(f"digits/{split}_lst/{split}.lst", lst)]))


def _image_classification() -> Case:
    pngs, pixels, y = digit_images()
    train, train_lst = _image_channels(np.arange(400), "train", pngs, y)
    val, val_lst = _image_channels(np.arange(400, 500), "validation", pngs, y)
    return Case(
        hp={"num_classes": "10", "num_training_samples": "400", "image_shape": "1,8,8", "epochs": "6",
            "optimizer": "adam", "learning_rate": "0.01", "mini_batch_size": "32"},
        channels={"train": train, "train_lst": train_lst, "validation": val, "validation_lst": val_lst},
        metric="validation:accuracy", check=lambda v: v > 0.8,
        request=(pngs[450], "application/x-image"), rows=pixels[450:451],
        from_json=lambda d: np.array([d]),
        bad_train=(b"\x89PNG\r\n\x1a\nbroken", "could not be decoded"),
    )


CASES: dict[str, Callable[[], Case]] = {
    "xgboost": _xgboost,
    "linear-learner": _linear_learner,
    "kmeans": _kmeans,
    "pca": _pca,
    "knn": _knn,
    "randomcutforest": _rcf,
    "lda": _lda,
    "blazingtext": _blazingtext,
    "forecasting-deepar": _deepar,
    "image-classification": _image_classification,
}


@cache
def case(name: str) -> Case:
    return CASES[name]()


SEED = 11


def new_trainer(name: str, *, shards: list[ChannelData] | None = None, instance_count: int = 1,
                raw: dict[str, str] | None = None) -> Trainer:
    algo = BUILTINS[name]
    c = case(name)
    hp = algo.parse_hyperparameters(dict(raw if raw is not None else c.hp))
    return algo.trainer(hp, dict(c.channels), shards, SEED, instance_count)


@dataclass
class Run:
    trainer: Trainer
    records: list


@cache
def trained(name: str) -> Run:
    """One straight run to total_units, shared by the conformance checks."""
    t = new_trainer(name)
    return Run(t, t.fit_until(t.total_units))


@pytest.fixture(params=sorted(BUILTINS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param
