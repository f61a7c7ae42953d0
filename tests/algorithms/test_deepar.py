"""DeepAR specifics: beats a seasonal-naive forecast; quantiles, samples, configuration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError

from .conftest import case, hourly_series, seasonal_naive_rmse, trained

DAR = get("forecasting-deepar")


def test_beats_the_seasonal_naive_forecast():
    m = trained("forecasting-deepar").trainer.final_metrics()
    assert m["test:RMSE"] < seasonal_naive_rmse()
    assert 0 < m["test:mean_wQuantileLoss"] < 0.2
    assert m["test:wQuantileLoss[0.5]"] >= m["test:wQuantileLoss[0.1]"]


def test_quantiles_are_ordered_and_samples_have_the_requested_count():
    model = trained("forecasting-deepar").trainer.model()
    v = hourly_series()
    body = json.dumps({"instances": [{"start": "2025-01-01 00:00:00", "target": v[0, :-24].tolist()}],
                       "configuration": {"num_samples": 7, "output_types": ["mean", "quantiles", "samples"],
                                         "quantiles": ["0.1", "0.5", "0.9"]}}).encode()
    p = json.loads(model.predict_body(body, "application/json", "application/json")[0])["predictions"][0]
    q = {k: np.array(v) for k, v in p["quantiles"].items()}
    assert np.all(q["0.1"] < q["0.5"]) and np.all(q["0.5"] < q["0.9"])
    assert len(p["mean"]) == 24 and np.array(p["samples"]).shape == (7, 24)


def test_short_history_and_missing_values_are_handled():
    model = trained("forecasting-deepar").trainer.model()
    target = [10.0, None, "NaN", 12.0, 11.0]
    body = json.dumps({"instances": [{"start": "2025-01-03 05:00:00", "target": target}]}).encode()
    p = json.loads(model.predict_body(body, "application/json", "")[0])["predictions"][0]
    assert len(p["mean"]) == 24 and set(p["quantiles"]) == {f"0.{i}" for i in range(1, 10)}


@pytest.mark.parametrize("raw, fragment", [
    ({"time_freq": "hourly"}, "'time_freq'"),
    ({"likelihood": "negative-binomial"}, "supports 'student-T' and 'gaussian'"),
])
def test_invalid_settings(raw, fragment):
    with pytest.raises(AlgorithmClientError, match=fragment):
        DAR.parse_hyperparameters({**case("forecasting-deepar").hp, **raw})


def test_series_too_short_for_any_window():
    c = case("forecasting-deepar")
    hp = DAR.parse_hyperparameters({**c.hp, "context_length": "400"})
    with pytest.raises(AlgorithmClientError, match="context_length \\+ prediction_length = 424"):
        DAR.trainer(hp, c.channels, None, 1, 1)


def test_gaussian_likelihood_and_other_frequencies():
    c = case("forecasting-deepar")
    for freq in ("D", "5min", "W", "M"):
        t = DAR.trainer(DAR.parse_hyperparameters({**c.hp, "time_freq": freq, "likelihood": "gaussian",
                                                   "epochs": "1"}), c.channels, None, 1, 1)
        t.fit_until(1)
        assert np.isfinite(t.final_metrics()["test:RMSE"])
