"""Linear Learner specifics: predictor types, response formats, averaging, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, channel, csv_bytes, features_csv, shards_of, split_channel

LL = get("linear-learner")


def _train(raw, channels, shards=None):
    t = LL.trainer(LL.parse_hyperparameters(raw), channels, shards, 5, 2 if shards else 1)
    return t, t.fit_until(t.total_units)


def test_num_classes_required_and_range_checked():
    with pytest.raises(AlgorithmClientError, match="'num_classes'"):
        LL.parse_hyperparameters({"predictor_type": "multiclass_classifier"})
    with pytest.raises(AlgorithmClientError, match=r"'num_classes': value '2' is out of range; allowed range is \[3, 1000000\]"):
        LL.parse_hyperparameters({"predictor_type": "multiclass_classifier", "num_classes": "2"})


def test_multiclass_json_has_per_class_scores():
    x, y = load_iris(return_X_y=True)
    ch = {"train": channel("train", csv_bytes(x, y), "text/csv"),
          "validation": channel("validation", csv_bytes(x, y), "text/csv")}
    t, records = _train({"predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "10"}, ch)
    assert records[-1].metrics["validation:multiclass_accuracy"] > 0.8
    body = json.loads(t.model().predict_body(features_csv(x[:3]), "text/csv", "application/json")[0])
    first = body["predictions"][0]
    assert len(first["score"]) == 3 and abs(sum(first["score"]) - 1) < 1e-9
    assert first["predicted_label"] == int(np.argmax(first["score"]))


def test_regressor_scores_on_the_label_scale():
    x, y = load_diabetes(return_X_y=True)
    ch = {"train": channel("train", csv_bytes(x, y), "text/csv"),
          "test": channel("test", csv_bytes(x, y), "text/csv")}
    t, records = _train({"predictor_type": "regressor", "epochs": "10"}, ch)
    m = records[-1].metrics
    assert m["test:rmse"] < 0.85 * np.std(y) and m["test:mse"] == pytest.approx(m["test:rmse"] ** 2)
    body = json.loads(t.model().predict_body(features_csv(x[:2]), "text/csv", "application/json")[0])
    assert set(body["predictions"][0]) == {"score"} and 25 < body["predictions"][0]["score"] < 346


def test_recordio_protobuf_and_bad_labels_are_client_errors():
    x, y = load_iris(return_X_y=True)
    with pytest.raises(AlgorithmClientError, match="recordio-protobuf is not supported"):
        _train({"predictor_type": "regressor"},
               {"train": channel("train", b"\x00", "application/x-recordio-protobuf")})
    with pytest.raises(AlgorithmClientError, match="labels must be 0 or 1.*found 2"):
        _train({"predictor_type": "binary_classifier"}, {"train": channel("train", csv_bytes(x, y), "text/csv")})


def test_data_parallel_training_averages_the_shard_models(monkeypatch):
    c = case("linear-learner")
    from engine.algorithms.linear_learner import LinearLearnerTrainer

    seen = []
    original = LinearLearnerTrainer._average

    def spy(self):
        seen.append(np.mean([e.coef_ for e in self.estimators], axis=0))
        assert not np.array_equal(self.estimators[0].coef_, self.estimators[1].coef_)  # shards differ
        original(self)

    monkeypatch.setattr(LinearLearnerTrainer, "_average", spy)
    t, _ = _train({**c.hp, "epochs": "2"}, c.channels, shards_of(c.channels["train"]))
    assert len(seen) == 2  # once per epoch
    for est in t.estimators:
        np.testing.assert_array_equal(est.coef_, seen[-1])


def test_early_stopping_on_validation_loss():
    x, y = load_iris(return_X_y=True)
    ch = {"train": split_channel("train", [csv_bytes(x, y)], "text/csv"),
          "validation": channel("validation", csv_bytes(x, y), "text/csv")}
    t, records = _train({"predictor_type": "multiclass_classifier", "num_classes": "3", "epochs": "200",
                         "early_stopping_patience": "2", "early_stopping_tolerance": "0.05"}, ch)
    assert t.stopped_early and len(records) == t.total_units < 200


def test_feature_dim_must_match():
    c = case("linear-learner")
    with pytest.raises(AlgorithmClientError, match="'feature_dim' is 5 but the training data has 30 features"):
        _train({**c.hp, "feature_dim": "5"}, c.channels)


@pytest.mark.parametrize("weight", ["auto", "3"])
def test_positive_example_weight_mult(weight):
    c = case("linear-learner")
    t, records = _train({**c.hp, "positive_example_weight_mult": weight}, c.channels)
    assert records[-1].metrics["validation:recall"] > 0.9
