"""BlazingText (blazingtext:1), text classification (``mode=supervised``) for real.

BlazingText's supervised mode is fastText: a linear classifier over the averaged
embeddings of a document's words and word n-grams. SageTutor trains the same
kind of linear model directly on the bag of words and n-grams:

* tokens are whitespace-separated (BlazingText expects pre-tokenised text);
  words seen fewer than ``min_count`` times in the training data are dropped;
* the features are the words and word n-grams (up to ``word_ngrams``) seen in
  the training data, counted and l2-normalised (``TfidfVectorizer`` without idf);
  n-grams never seen in training are ignored at inference, as out-of-vocabulary
  words are by fastText (``buckets`` is accepted and has no effect);
* ``SGDClassifier(loss="log_loss")`` (one-vs-rest, normalised probabilities)
  learns with a constant step ``learning_rate``; one epoch = one ``partial_fit``
  pass over the documents in one seeded random order, so training continues for real;
* ``vector_dim`` (the embedding size) is validated and has no effect: the model
  has no low-rank embedding layer.
* ``early_stopping`` (with a validation channel) stops after ``patience`` epochs
  without a better validation accuracy, once ``min_epochs`` have run.

The Word2Vec modes (``skipgram``, ``cbow``, ``batch_skipgram``) are not
implemented: SageTutor implements only the supervised mode and fails those jobs
with a ClientError that says so.

Data: ``__label__<class> word word ...`` lines (content type application/x-text,
text/plain or unset). Metrics: ``validation:accuracy`` every epoch,
``train:accuracy`` at the end of each ``fit_until`` call. Single instance (AWS:
supervised mode runs on one instance, CPU or GPU).

Inference:
* ``application/json`` ``{"instances": ["text one", "text two"], "configuration": {"k": 2}}``
  -> ``[{"label": ["__label__billing", ...], "prob": [0.93, ...]}, ...]`` (top k, default 1);
* ``text/plain``: one document per line, same JSON answer;
* ``application/jsonlines``: one ``{"source": "text"}`` per line, answered with
  one ``{"label": [...], "prob": [...]}`` line each (batch transform).
``predict_array(texts)`` returns the class probabilities, columns in sorted class order.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

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
from engine.algorithms.hyperparameters import Param, Spec
from engine.algorithms.readers import check_content_type, instance_shards, media_type, read_labelled_text
from engine.algorithms.runtime import model_method, trainer_method
from engine.algorithms.serialization import PickledState, dumps, loads

NAME = "blazingtext"
CONTENT_TYPES = ("application/x-text", "text/plain")
_LABEL = "__label__"
_W2V_ONLY = ("batch_size", "evaluation", "max_char", "min_char", "negative_samples", "sampling_threshold",
             "subwords", "window_size")

SPEC = Spec(
    Param("mode", "choice", required=True, choices=("supervised", "skipgram", "cbow", "batch_skipgram")),
    Param("epochs", "int", default=5, low=1),
    Param("learning_rate", "float", default=0.05, low=0, low_open=True),
    Param("min_count", "int", default=5, low=0),
    Param("vector_dim", "int", default=100, low=4, high=1000),
    Param("word_ngrams", "int", default=1, low=1, high=5),
    Param("buckets", "int", default=2_000_000, low=1_000, high=10_000_000, ignored=True),
    Param("early_stopping", "bool", default=False),
    Param("patience", "int", default=4, low=1),
    Param("min_epochs", "int", default=5, low=1),
    *(Param(n, "str", ignored=True) for n in _W2V_ONLY),
)


class _Analyzer:
    """Tokens kept by min_count, plus their word n-grams (picklable, for the vectorizer).

    The kept words are a dict in sorted order, not a set: a set's pickle depends on
    string hashing, which differs between processes, and model bytes must not.
    """

    def __init__(self, vocabulary: dict[str, None] | None, ngrams: int) -> None:
        self.vocabulary = vocabulary
        self.ngrams = ngrams

    def __call__(self, text: str) -> list[str]:
        words = text.split()
        if self.vocabulary is not None:
            words = [w for w in words if w in self.vocabulary]
        out = list(words)
        for n in range(2, self.ngrams + 1):
            out.extend(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return out


def _vectorizer(vocabulary: dict[str, None] | None, ngrams: int) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_Analyzer(vocabulary, ngrams), use_idf=False, norm="l2")


class BlazingText(Algorithm):
    name = NAME
    repository = "blazingtext"
    tag = "1"
    hyperparameters = SPEC  # the declarative spec (not part of base.Algorithm)
    capabilities = Capabilities(
        multi_instance=False,
        checkpointing=False,
        processors=frozenset({"cpu", "gpu"}),
        gpu_accelerated=True,
        incremental=False,
        content_types=CONTENT_TYPES,
        default_content_type="application/x-text",
        required_channels=("train",),
        optional_channels=("validation",),
        inference_content_types=("application/json", "text/plain", "application/jsonlines"),
        inference_accept=("application/json", "application/jsonlines"),
    )
    metrics = (MetricSpec("validation:accuracy", "Maximize"), MetricSpec("train:accuracy", "Maximize"))

    def parse_hyperparameters(self, raw: dict[str, str]) -> dict[str, Any]:
        hp = SPEC.parse(raw)
        if hp["mode"] != "supervised":
            raise AlgorithmClientError(
                f"Hyperparameter 'mode': value '{hp['mode']}' (Word2Vec) is not implemented. SageTutor "
                "implements only BlazingText's supervised (text classification) mode; set mode to 'supervised'."
            )
        return hp

    def trainer(self, hp: dict[str, Any], channels: dict[str, ChannelData], shards: list[ChannelData] | None,
                seed: int, instance_count: int) -> BlazingTextTrainer:
        parts = instance_shards("BlazingText (supervised mode)", False, channels, shards, instance_count)
        return BlazingTextTrainer(hp, parts[0], channels.get("validation"), seed)

    def load_model(self, data: bytes) -> BlazingTextModel:
        return BlazingTextModel(loads(data, "model", NAME))


def _read(channel: ChannelData) -> tuple[list[str], list[str]]:
    check_content_type(channel, CONTENT_TYPES, "application/x-text", "BlazingText")
    return read_labelled_text(channel)


class BlazingTextTrainer(PickledState, Trainer):
    unit_name = "epoch"
    _algorithm_name = NAME
    _state_attrs = ("done_units", "total_units", "estimator", "best_accuracy", "bad_epochs", "stopped_early",
                    "last_metrics")

    def __init__(self, hp: dict[str, Any], train: ChannelData, validation: ChannelData | None, seed: int) -> None:
        self.hp = hp
        labels, texts = _read(train)
        self.classes = np.array(sorted(set(labels)))
        if len(self.classes) < 2:
            raise AlgorithmClientError("Channel 'train': text classification needs at least two labels.")
        counts = Counter(w for t in texts for w in t.split())
        vocabulary = dict.fromkeys(sorted(w for w, c in counts.items() if c >= hp["min_count"]))
        if not vocabulary:
            raise AlgorithmClientError(
                f"Channel 'train': no word occurs at least min_count={hp['min_count']} times; lower min_count."
            )
        self.vectorizer = _vectorizer(vocabulary, hp["word_ngrams"])
        order = np.random.default_rng([int(seed), 0]).permutation(len(texts))  # one seeded random order
        self.x = self.vectorizer.fit_transform([texts[i] for i in order])
        self.y = np.searchsorted(self.classes, [labels[i] for i in order]).astype(np.float64)
        self.x_val = self.y_val = None
        if validation is not None:
            vlabels, vtexts = _read(validation)
            self.x_val = self.vectorizer.transform(vtexts)
            index = {c: i for i, c in enumerate(self.classes)}
            self.y_val = np.array([index.get(c, -1) for c in vlabels], dtype=np.float64)  # unseen label: wrong
        self.seed = int(seed)
        self.total_units = int(hp["epochs"])
        self.cells = self.x.nnz
        self.done_units = 0
        self.estimator: SGDClassifier | None = None
        self.best_accuracy: float | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.last_metrics: dict[str, float] = {}

    @trainer_method
    def fit_until(self, units: int) -> list[UnitRecord]:
        units = min(int(units), self.total_units)
        if units <= self.done_units:
            return []
        if self.estimator is None:
            self.estimator = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=self.hp["learning_rate"],
                                           alpha=1e-6, shuffle=False, tol=None, random_state=self.seed % (2**32))
        records = []
        classes = np.arange(len(self.classes), dtype=np.float64)
        while self.done_units < units:
            epoch = self.done_units + 1
            self.estimator.partial_fit(self.x, self.y, classes=classes)
            self.done_units = epoch
            m: dict[str, float] = {}
            if self.x_val is not None:
                m["validation:accuracy"] = self._accuracy(self.x_val, self.y_val)
            records.append(UnitRecord(unit=epoch, metrics=m))
            if self.hp["early_stopping"] and self.x_val is not None and self._should_stop(m["validation:accuracy"]):
                self.stopped_early = True
                self.total_units = epoch
                break
        self.last_metrics = {**records[-1].metrics, "train:accuracy": self._accuracy(self.x, self.y)}
        records[-1].metrics.update(self.last_metrics)
        return records

    def _should_stop(self, accuracy: float) -> bool:
        if self.best_accuracy is None or accuracy > self.best_accuracy:
            self.best_accuracy, self.bad_epochs = accuracy, 0
        else:
            self.bad_epochs += 1
        return self.done_units >= self.hp["min_epochs"] and self.bad_epochs >= self.hp["patience"]

    def _accuracy(self, x: Any, y: np.ndarray) -> float:
        assert self.estimator is not None
        return metrics.accuracy(y, self.estimator.predict(x))

    @trainer_method
    def final_metrics(self) -> dict[str, float]:
        if not self.last_metrics and self.estimator is not None:
            self.last_metrics = {"train:accuracy": self._accuracy(self.x, self.y)}
            if self.x_val is not None:
                self.last_metrics["validation:accuracy"] = self._accuracy(self.x_val, self.y_val)
        return dict(self.last_metrics)

    @trainer_method
    def model(self) -> BlazingTextModel:
        if self.estimator is None:
            raise RuntimeError("no epochs trained yet")
        return BlazingTextModel({"estimator": self.estimator, "vectorizer": self.vectorizer,
                                 "classes": self.classes})

    def work_per_unit(self) -> float:
        nnz = self.x.nnz + (self.x_val.nnz if self.x_val is not None else 0)
        return float(nnz * len(self.classes) * 6)


class BlazingTextModel(Model):
    algorithm = NAME

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.est: SGDClassifier = payload["estimator"]
        self.vectorizer: TfidfVectorizer = payload["vectorizer"]
        self.classes: np.ndarray = payload["classes"]

    @model_method
    def predict_array(self, x: Any) -> np.ndarray:
        texts = [str(t) for t in np.asarray(x, dtype=object).reshape(-1).tolist()]
        if not texts:
            return np.zeros((0, len(self.classes)))
        return self.est.predict_proba(self.vectorizer.transform(texts))

    def _answers(self, texts: list[str], k: int) -> list[dict[str, list]]:
        proba = self.predict_array(np.array(texts, dtype=object))
        k = max(1, min(k, len(self.classes)))
        top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [{"label": [_LABEL + str(self.classes[j]) for j in row], "prob": [float(p[j]) for j in row]}
                for row, p in zip(top, proba)]

    def predict_body(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        mime, _ = media_type(content_type)
        mime = mime or "application/json"
        out_type, _ = inference.negotiate(accept, ("application/json", "application/jsonlines"),
                                          "application/jsonlines" if mime == "application/jsonlines"
                                          else "application/json")
        k = 1
        if mime == "application/json":
            doc = inference.json_document(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("instances"), list):
                raise ValueError('expected {"instances": ["text", ...]} (optionally with "configuration": {"k": n})')
            texts = doc["instances"]
            config = doc.get("configuration") or {}
            if not isinstance(config, dict):
                raise ValueError('"configuration" must be an object such as {"k": 2}')
            try:
                k = int(config.get("k", 1))
            except (TypeError, ValueError):
                raise ValueError('"configuration.k" must be an integer') from None
        elif mime == "text/plain":
            texts = [line for line in inference.body_text(body).splitlines() if line.strip()]
        elif mime == "application/jsonlines":
            texts = []
            for number, line in enumerate(inference.body_text(body).splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    raise ValueError(f"JSON Lines line {number} is not valid JSON") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("source"), str):
                    raise ValueError(f'JSON Lines line {number}: expected {{"source": "text"}}')
                texts.append(rec["source"])
        else:
            raise ValueError(f"content type '{content_type}' is not supported; supported: application/json, "
                             "text/plain, application/jsonlines")
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("expected at least one text, and every instance must be a string")
        answers = self._answers(texts, k)
        if out_type == "application/jsonlines":
            return inference.jsonlines_body(answers), out_type
        return inference.json_body(answers), out_type

    def to_bytes(self) -> bytes:
        return dumps("model", NAME, self.payload)
