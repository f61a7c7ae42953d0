"""Random Cut Forest specifics: the score scale and merged forests."""

from __future__ import annotations

import numpy as np
import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import anomalies, case, channel, csv_bytes, new_trainer, trained

RCF = get("randomcutforest")


def test_outliers_score_higher_and_typical_points_near_one():
    train, test, labels = anomalies()
    scores = trained("randomcutforest").trainer.model().predict_array(test)
    assert scores[labels == 1].min() > scores[labels == 0].max() * 0.9
    assert 0.7 < np.median(scores[labels == 0]) < 1.5
    assert np.median(scores[labels == 1]) > 2


def test_two_instances_merge_their_forests():
    c = case("randomcutforest")
    t = new_trainer("randomcutforest", shards=c.shards, instance_count=2)
    t.fit_until(1)
    forests = t.model().forests
    assert len(forests) == 2 and sum(len(f.estimators_) for f in forests) == 50


def test_num_trees_range():
    with pytest.raises(AlgorithmClientError, match=r"'num_trees': value '10' is out of range; allowed range is \[50, 1000\]"):
        RCF.parse_hyperparameters({"feature_dim": "4", "num_trees": "10"})


def test_unlabelled_test_channel_is_refused():
    c = case("randomcutforest")
    train, test, _ = anomalies()
    unlabelled = channel("test", csv_bytes(test), "text/csv;label_size=0")
    with pytest.raises(AlgorithmClientError, match="label_size=1"):
        RCF.trainer(RCF.parse_hyperparameters(c.hp), {**c.channels, "test": unlabelled}, None, 1, 1)
