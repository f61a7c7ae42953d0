"""K-Means specifics: k matters, feature_dim is checked, label_size, response format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import blobs, case, channel, csv_bytes, features_csv, trained

KM = get("kmeans")


def _train(raw, channels):
    t = KM.trainer(KM.parse_hyperparameters(raw), channels, None, 1, 1)
    t.fit_until(t.total_units)
    return t


def test_test_msd_falls_from_k1_to_the_true_k():
    c = case("kmeans")
    msd = {k: _train({**c.hp, "k": str(k)}, c.channels).final_metrics()["test:msd"] for k in (1, 2, 5)}
    assert msd[1] > msd[2] > msd[5]
    assert msd[5] < 0.1 * msd[1]


def test_ssd_with_eval_metrics():
    c = case("kmeans")
    m = _train({**c.hp, "eval_metrics": '["msd", "ssd"]'}, c.channels).final_metrics()
    assert m["test:ssd"] == pytest.approx(m["test:msd"] * len(blobs()[1]))


def test_feature_dim_mismatch_names_both_numbers():
    c = case("kmeans")
    with pytest.raises(AlgorithmClientError, match="data has 6 features but hyperparameter feature_dim is 4"):
        _train({**c.hp, "feature_dim": "4"}, c.channels)


def test_labelled_test_channel_needs_label_size_1():
    c = case("kmeans")
    train, test = blobs()
    labelled = csv_bytes(test, np.zeros(len(test)))
    with pytest.raises(AlgorithmClientError, match="label_size=1"):
        _train(c.hp, {**c.channels, "test": channel("test", labelled, "text/csv")})
    m = _train(c.hp, {**c.channels, "test": channel("test", labelled, "text/csv;label_size=1")}).final_metrics()
    assert m["test:msd"] == pytest.approx(trained("kmeans").trainer.final_metrics()["test:msd"], rel=0.5)


def test_k_larger_than_the_data_is_a_client_error():
    c = case("kmeans")
    with pytest.raises(AlgorithmClientError, match="'k' is 5000"):
        _train({**c.hp, "k": "5000"}, c.channels)


def test_response_names_cluster_and_distance():
    model = trained("kmeans").trainer.model()
    _, test = blobs()
    body = json.loads(model.predict_body(features_csv(test[:2]), "text/csv", "application/json")[0])
    p = body["predictions"][0]
    assert set(p) == {"closest_cluster", "distance_to_cluster"}
    centers = model.centers
    d = np.linalg.norm(centers - test[0], axis=1)
    assert p["closest_cluster"] == int(np.argmin(d)) and p["distance_to_cluster"] == pytest.approx(d.min())
