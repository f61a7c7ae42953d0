"""PCA specifics: equals scikit-learn's PCA; merged shard statistics are exact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, correlated, new_trainer, trained

PCA = get("pca")


def test_matches_scikit_learn_pca_up_to_sign():
    x = correlated()
    ours = trained("pca").trainer.model()
    ref = SkPCA(n_components=2).fit(x)
    np.testing.assert_allclose(np.abs(ours.components), np.abs(ref.components_), atol=1e-8)
    np.testing.assert_allclose(np.abs(ours.predict_array(x[:10])), np.abs(ref.transform(x[:10])), atol=1e-8)
    ratio = trained("pca").trainer.final_metrics()["train:explained_variance_ratio"]
    assert ratio == pytest.approx(ref.explained_variance_ratio_.sum())


def test_two_instances_give_the_single_instance_model():
    c = case("pca")
    parallel = new_trainer("pca", shards=c.shards, instance_count=2)
    parallel.fit_until(1)
    np.testing.assert_allclose(parallel.model().predict_array(c.rows), trained("pca").trainer.model().predict_array(c.rows),
                               atol=1e-9)


def test_randomized_mode_agrees_with_regular():
    c = case("pca")
    t = new_trainer("pca", raw={**c.hp, "algorithm_mode": "randomized"})
    t.fit_until(1)
    np.testing.assert_allclose(np.abs(t.model().components), np.abs(trained("pca").trainer.model().components),
                               atol=1e-6)


def test_num_components_cannot_exceed_feature_dim():
    with pytest.raises(AlgorithmClientError, match="'num_components'.*feature_dim"):
        PCA.parse_hyperparameters({"feature_dim": "3", "mini_batch_size": "10", "num_components": "4"})


def test_without_mean_subtraction():
    c = case("pca")
    t = new_trainer("pca", raw={**c.hp, "subtract_mean": "false"})
    t.fit_until(1)
    model = t.model()
    np.testing.assert_array_equal(model.mean, np.zeros(8))
    np.testing.assert_allclose(model.predict_array(c.rows), c.rows @ model.components.T)
