"""LDA specifics: topic mixtures, passes, word counts."""

from __future__ import annotations

import numpy as np
import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, channel, features_csv, new_trainer, topic_counts, trained

LDA = get("lda")


def test_topic_mixtures_are_distributions():
    _, test = topic_counts()
    mix = trained("lda").trainer.model().predict_array(test)
    assert mix.shape == (len(test), 3)
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)


def test_more_passes_do_not_hurt_pwll():
    c = case("lda")
    one = new_trainer("lda", raw={**c.hp, "max_iterations": "1"})
    one.fit_until(1)
    assert trained("lda").trainer.final_metrics()["test:pwll"] >= one.final_metrics()["test:pwll"] - 1e-3


def test_units_are_capped_passes():
    c = case("lda")
    assert new_trainer("lda", raw={**c.hp, "max_iterations": "1000"}).total_units == 10


def test_negative_counts_are_refused():
    c = case("lda")
    train, _ = topic_counts()
    bad = train.copy()
    bad[3, 2] = -1
    with pytest.raises(AlgorithmClientError, match="record 4 has a negative word count"):
        LDA.trainer(LDA.parse_hyperparameters(c.hp), {"train": channel("train", features_csv(bad), None)}, None, 1, 1)
