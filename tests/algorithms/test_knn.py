"""k-NN specifics: sampling, regressor, dimension reduction, verbose responses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, channel, csv_bytes, features_csv, new_trainer, trained

KNN = get("knn")


def test_dimension_reduction_needs_a_target():
    c = case("knn")
    with pytest.raises(AlgorithmClientError, match="'dimension_reduction_target'"):
        KNN.parse_hyperparameters({**c.hp, "dimension_reduction_type": "sign"})


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_dimension_reduction_still_classifies(kind):
    c = case("knn")
    t = new_trainer("knn", raw={**c.hp, "dimension_reduction_type": kind, "dimension_reduction_target": "3"})
    t.fit_until(1)
    assert t.final_metrics()["test:accuracy"] > 0.8


def test_sample_size_limits_the_index():
    c = case("knn")
    t = new_trainer("knn", raw={**c.hp, "sample_size": "30"})
    t.fit_until(1)
    assert len(t.model().payload["labels"]) == 30


def test_two_instances_sample_half_each():
    c = case("knn")
    t = new_trainer("knn", raw={**c.hp, "sample_size": "40"}, shards=c.shards, instance_count=2)
    t.fit_until(1)
    assert len(t.model().payload["labels"]) == 40


def test_regressor_reports_test_mse():
    x, y = load_diabetes(return_X_y=True)
    ch = {"train": channel("train", csv_bytes(x[:300], y[:300]), "text/csv"),
          "test": channel("test", csv_bytes(x[300:], y[300:]), "text/csv")}
    hp = KNN.parse_hyperparameters({"feature_dim": "10", "k": "10", "predictor_type": "regressor",
                                    "sample_size": "300"})
    t = KNN.trainer(hp, ch, None, 1, 1)
    t.fit_until(1)
    assert t.final_metrics()["test:mse"] < np.var(y[300:])


def test_verbose_json_lists_neighbours():
    c = case("knn")
    model = trained("knn").trainer.model()
    out = json.loads(model.predict_body(features_csv(c.rows[:1]), "text/csv", "application/json; verbose=true")[0])
    p = out["predictions"][0]
    assert len(p["distances"]) == len(p["labels"]) == 5
    assert p["predicted_label"] == max(set(p["labels"]), key=p["labels"].count)
