"""XGBoost specifics: content types, objectives, early stopping, output formats."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import HistGradientBoostingClassifier

from engine.algorithms import get
from engine.algorithms.base import AlgorithmClientError
from engine.algorithms.readers import LIBSVM_DEFAULT_ERROR

from .conftest import case, channel, csv_bytes, features_csv, libsvm_bytes, trained

XGB = get("xgboost")


def _train(raw, channels, seed=3):
    t = XGB.trainer(XGB.parse_hyperparameters(raw), channels, None, seed, 1)
    return t, t.fit_until(t.total_units)


def test_csv_without_content_type_fails_with_aws_message():
    x, y = load_iris(return_X_y=True)
    with pytest.raises(AlgorithmClientError) as err:
        _train({"num_round": "2"}, {"train": channel("train", csv_bytes(x, y), None)})
    assert str(err.value) == LIBSVM_DEFAULT_ERROR
    assert "ContentType by defaullt is in libsvm" in str(err.value)


def test_num_class_required_for_multiclass_objectives():
    for objective in ("multi:softmax", "multi:softprob"):
        with pytest.raises(AlgorithmClientError, match="No value\\(s\\) were specified for 'num_class'"):
            XGB.parse_hyperparameters({"num_round": "5", "objective": objective})


def test_libsvm_csv_and_parquet_train_the_same_model():
    c = case("xgboost")
    x, y = load_diabetes(return_X_y=True)
    raw = {"num_round": "10", "max_depth": "3"}
    buf = io.BytesIO()
    cols = {"label": y, **{f"f{j}": x[:, j] for j in range(x.shape[1])}}
    pq.write_table(pa.table(cols), buf)
    models = []
    for data, ctype in ((libsvm_bytes(x, y), "text/libsvm"), (libsvm_bytes(x, y), None),
                        (csv_bytes(x, y), "text/csv"), (buf.getvalue(), "application/x-parquet")):
        t, records = _train(raw, {"train": channel("train", data, ctype)})
        models.append(t.model())
        assert "train:rmse" in records[-1].metrics
    preds = [m.predict_array(x[:20]) for m in models]
    for p in preds[1:]:
        np.testing.assert_allclose(p, preds[0])
    # a libsvm request reads 1-based indices like the training data
    body, out = libsvm_bytes(x[:3], y[:3]), None
    out, _ = models[0].predict_body(body, "text/libsvm", "text/csv")
    np.testing.assert_allclose([float(v) for v in out.decode().split()], preds[0][:3])
    assert c.metric == "validation:auc"


def test_regression_rmse_improves_every_round_and_beats_the_mean():
    x, y = load_diabetes(return_X_y=True)
    t, records = _train({"num_round": "15", "eta": "0.2", "max_depth": "3"},
                        {"train": channel("train", csv_bytes(x, y), "text/csv")})
    rmse = [r.metrics["train:rmse"] for r in records]
    assert all(b < a for a, b in zip(rmse, rmse[1:]))
    assert rmse[-1] < np.std(y) * 0.8


def test_multiclass_softprob_and_softmax_outputs():
    x, y = load_iris(return_X_y=True)
    ch = {"train": channel("train", csv_bytes(x, y), "text/csv"),
          "validation": channel("validation", csv_bytes(x, y), "text/csv")}
    t, records = _train({"num_round": "5", "objective": "multi:softprob", "num_class": "3"}, ch)
    assert {"validation:merror", "validation:mlogloss", "train:merror"} <= set(records[-1].metrics)
    assert records[-1].metrics["validation:merror"] < 0.1
    proba = t.model().predict_array(x[:4])
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1.0)
    out, ctype = t.model().predict_body(features_csv(x[:4]), "text/csv", "text/csv")
    assert ctype == "text/csv" and len(out.decode().splitlines()[0].split(",")) == 3
    body = json.loads(t.model().predict_body(features_csv(x[:2]), "text/csv", "application/json")[0])
    assert len(body["predictions"][0]["score"]) == 3
    t2, _ = _train({"num_round": "5", "objective": "multi:softmax", "num_class": "3"}, ch)
    np.testing.assert_array_equal(t2.model().predict_array(x[:4]), np.argmax(proba, axis=1))


def test_labels_are_checked():
    x, y = load_iris(return_X_y=True)
    with pytest.raises(AlgorithmClientError, match=r"label must be in \[0, num_class\), num_class=2 but found 2"):
        _train({"num_round": "2", "objective": "multi:softmax", "num_class": "2"},
               {"train": channel("train", csv_bytes(x, y), "text/csv")})
    with pytest.raises(AlgorithmClientError, match=r"label must be in \[0,1\] for logistic regression"):
        _train({"num_round": "2", "objective": "binary:logistic"},
               {"train": channel("train", csv_bytes(x, y), "text/csv")})


def test_soft_labels_for_logistic_objectives():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = 1 / (1 + np.exp(-2 * x[:, 0]))
    t, records = _train({"num_round": "20", "objective": "reg:logistic"},
                        {"train": channel("train", csv_bytes(x, y), "text/csv")})
    p = t.model().predict_array(x)
    assert np.all((p > 0) & (p < 1)) and records[-1].metrics["train:rmse"] < 0.1


def test_early_stopping_stops_and_lowers_total_units():
    c = case("xgboost")
    t, records = _train({**c.hp, "num_round": "200", "eta": "0.5", "early_stopping_rounds": "5",
                         "eval_metric": "logloss"}, c.channels)
    assert t.stopped_early and t.total_units == t.done_units == len(records) < 200
    losses = [r.metrics["validation:logloss"] for r in records]
    best = int(np.argmin(losses))
    assert len(records) == best + 1 + 5  # stops 5 rounds after the best round
    assert len(t.model().est._predictors) == len(records)
    assert t.fit_until(200) == []


def test_same_trees_as_scikit_learn_fitted_directly():
    c = case("xgboost")
    t = trained("xgboost").trainer
    x_train, y_train = t.x, t.y
    direct = HistGradientBoostingClassifier(max_iter=20, learning_rate=0.3, max_depth=3, max_leaf_nodes=None,
                                            min_samples_leaf=4, l2_regularization=1.0, early_stopping=False,
                                            random_state=t.estimator.random_state).fit(x_train, y_train)
    np.testing.assert_allclose(t.model().predict_array(c.rows), direct.predict_proba(c.rows)[:, 1])


def test_csv_weights_column():
    x, y = load_diabetes(return_X_y=True)
    weighted = np.column_stack([y, np.ones(len(y)), x])
    t, _ = _train({"num_round": "5", "csv_weights": "1"}, {"train": channel("train", csv_bytes(weighted), "text/csv")})
    t2, _ = _train({"num_round": "5"}, {"train": channel("train", csv_bytes(x, y), "text/csv")})
    np.testing.assert_allclose(t.model().predict_array(x[:5]), t2.model().predict_array(x[:5]))


def test_missing_values_and_short_rows_at_inference():
    model = trained("xgboost").trainer.model()
    row = case("xgboost").rows[0]
    body = (",".join("" if j == 3 else repr(float(v)) for j, v in enumerate(row)) + "\n").encode()
    out, _ = model.predict_body(body, "text/csv", "text/csv")
    assert 0.0 <= float(out) <= 1.0
    with pytest.raises(ValueError, match="Number of columns does not match"):
        model.predict_body(features_csv(np.zeros((1, 40))), "text/csv", "text/csv")
    lines = model.predict_body(features_csv(case("xgboost").rows), "text/csv", "application/jsonlines")[0]
    assert len(lines.decode().splitlines()) == len(case("xgboost").rows)


def test_gblinear_is_refused_clearly():
    with pytest.raises(AlgorithmClientError, match="implements booster 'gbtree' only"):
        XGB.parse_hyperparameters({"num_round": "3", "booster": "gblinear"})


def test_per_round_metrics_without_scikit_learn_private_api(monkeypatch):
    from engine.algorithms.xgboost import _RawTracker

    c = case("xgboost")
    reference = trained("xgboost").records
    # what happens when scikit-learn's per-iteration predictor is gone: the public staged API
    monkeypatch.setattr(_RawTracker, "advance", lambda self, est, to: self._advance_public(est, to))
    _, records = _train(c.hp, c.channels, seed=11)
    for a, b in zip(records, reference):
        assert a.metrics.keys() == b.metrics.keys()
        for k in a.metrics:
            assert a.metrics[k] == pytest.approx(b.metrics[k], rel=1e-9, abs=1e-12), k


@pytest.mark.parametrize("raw, data", [
    ({"num_round": "12", "objective": "binary:logistic", "eval_metric": "auc,logloss"}, "binary"),
    ({"num_round": "9", "objective": "multi:softprob", "num_class": "3"}, "multi"),
    ({"num_round": "10", "objective": "reg:squarederror", "max_depth": "3"}, "regression"),
])
def test_a_state_cut_from_the_final_model_is_the_state_a_training_had(raw, data):
    from sklearn.datasets import load_breast_cancer

    loader = {"binary": load_breast_cancer, "multi": load_iris, "regression": load_diabetes}[data]
    x, y = loader(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y, cut = x[order], y[order], len(y) * 2 // 3
    channels = {"train": channel("train", csv_bytes(x[:cut], y[:cut]), "text/csv"),
                "validation": channel("validation", csv_bytes(x[cut:], y[cut:]), "text/csv")}
    final, records = _train(raw, channels)
    for unit in (1, 4, final.total_units - 1, final.total_units):
        partial = XGB.trainer(XGB.parse_hyperparameters(raw), channels, None, 3, 1)
        partial.fit_until(unit)
        assert final.state_at(unit, records[unit - 1].metrics) == partial.state()
    # resumed from a cut state, the training ends where the straight one did
    resumed = XGB.trainer(XGB.parse_hyperparameters(raw), channels, None, 3, 1)
    resumed.restore(final.state_at(4, records[3].metrics))
    assert resumed.fit_until(final.total_units)[-1].metrics == records[-1].metrics
    assert resumed.model().to_bytes() == final.model().to_bytes()


@pytest.mark.parametrize("extra", [{"colsample_bytree": "0.5"}, {"early_stopping_rounds": "3"}])
def test_no_state_is_cut_where_later_rounds_changed_it(extra):
    x, y = load_iris(return_X_y=True)
    x, y = x[::2], y[::2]  # 75 rows, 25 of each class; odd rows train, even rows validate
    raw = {"num_round": "8", "objective": "multi:softmax", "num_class": "3", **extra}
    channels = {"train": channel("train", csv_bytes(x[1::2], y[1::2]), "text/csv"),
                "validation": channel("validation", csv_bytes(x[::2], y[::2]), "text/csv")}
    final, records = _train(raw, channels)
    assert final.state_at(3, records[2].metrics) is None
