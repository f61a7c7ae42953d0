"""One suite, every built-in: the protocol in base.py, checked the same way for all.

Like scikit-learn's common estimator checks: hyperparameter parsing with AWS's
wording, a real fit that reaches a sane metric, exact resume from a checkpoint,
determinism, the response formats, model bytes, instance-count rules and
readable errors for bad data.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.algorithms import BUILTINS, get
from engine.algorithms.base import Algorithm, AlgorithmClientError, Capabilities, ChannelData, MetricSpec
from engine.algorithms.hyperparameters import Param, Spec
from engine.algorithms.readers import read_csv

from .conftest import CASES, SEED, case, channel, new_trainer, trained


def _predictions(model, rows) -> np.ndarray:
    return np.asarray(model.predict_array(rows))


# ------------------------------------------------------------ declarations
def test_registry_covers_every_case_and_get_lists_names():
    assert set(BUILTINS) == set(CASES)
    assert set(BUILTINS) == {"xgboost", "linear-learner", "kmeans", "pca", "knn", "randomcutforest", "lda",
                             "blazingtext", "forecasting-deepar", "image-classification"}
    with pytest.raises(KeyError, match="known: blazingtext"):
        get("nope")


def test_declarations(name):
    algo = BUILTINS[name]
    assert isinstance(algo, Algorithm) and algo.name == name
    assert algo.repository and algo.tag
    caps = algo.capabilities
    assert isinstance(caps, Capabilities)
    assert caps.processors <= {"cpu", "gpu"} and caps.processors
    assert "train" in caps.required_channels
    assert caps.content_types
    assert all(isinstance(m, MetricSpec) and m.direction in ("Maximize", "Minimize") for m in algo.metrics)
    assert len({m.name for m in algo.metrics}) == len(algo.metrics)


def test_documented_capabilities():
    expect = {  # multi_instance, checkpointing, processors, gpu_accelerated, incremental
        "xgboost": (True, True, {"cpu", "gpu"}, False, False),
        "linear-learner": (True, False, {"cpu", "gpu"}, False, False),
        "kmeans": (False, False, {"cpu", "gpu"}, False, False),
        "pca": (True, False, {"cpu", "gpu"}, False, False),
        "knn": (True, False, {"cpu", "gpu"}, False, False),
        "randomcutforest": (True, False, {"cpu"}, False, False),
        "lda": (False, False, {"cpu"}, False, False),
        "blazingtext": (False, False, {"cpu", "gpu"}, True, False),
        "forecasting-deepar": (True, False, {"cpu", "gpu"}, True, False),
        "image-classification": (True, True, {"gpu"}, True, True),
    }
    for name, (multi, ckpt, procs, gpu, incr) in expect.items():
        c = BUILTINS[name].capabilities
        assert (c.multi_instance, c.checkpointing, set(c.processors), c.gpu_accelerated, c.incremental) == \
            (multi, ckpt, procs, gpu, incr), name
    assert BUILTINS["xgboost"].repository == "sagemaker-xgboost" and BUILTINS["xgboost"].tag == "1.7-1"
    assert BUILTINS["xgboost"].capabilities.default_content_type == "text/libsvm"


def test_aws_tuning_metrics_declared():
    want = {
        "xgboost": {("validation:auc", "Maximize"), ("validation:rmse", "Minimize"), ("validation:logloss", "Minimize")},
        "linear-learner": {("validation:binary_classification_accuracy", "Maximize"),
                           ("test:objective_loss", "Minimize"), ("validation:rmse", "Minimize")},
        "kmeans": {("test:msd", "Minimize"), ("test:ssd", "Minimize")},
        "knn": {("test:accuracy", "Maximize"), ("test:mse", "Minimize")},
        "randomcutforest": {("test:f1", "Maximize")},
        "lda": {("test:pwll", "Maximize")},
        "blazingtext": {("validation:accuracy", "Maximize")},
        "forecasting-deepar": {("test:RMSE", "Minimize"), ("test:mean_wQuantileLoss", "Minimize"),
                               ("train:final_loss", "Minimize")},
        "image-classification": {("validation:accuracy", "Maximize")},
        "pca": {("train:explained_variance_ratio", "Maximize")},  # SageTutor's own; AWS has none
    }
    for name, pairs in want.items():
        have = {(m.name, m.direction) for m in BUILTINS[name].metrics}
        assert pairs <= have, name


# --------------------------------------------------------- hyperparameters
def _required(name: str) -> list[str]:
    spec: Spec = BUILTINS[name].hyperparameters
    return [p.name for p in spec.params.values() if p.required]


def test_missing_required_hyperparameter_is_named(name):
    algo = BUILTINS[name]
    raw = case(name).hp
    for required in _required(name):
        partial = {k: v for k, v in raw.items() if k != required}
        with pytest.raises(AlgorithmClientError) as err:
            algo.parse_hyperparameters(partial)
        text = str(err.value)
        assert text.startswith(f"No value(s) were specified for '{required}'")
        assert "which are required hyperparameter(s)" in text


def test_all_missing_lists_every_required_name(name):
    with pytest.raises(AlgorithmClientError) as err:
        BUILTINS[name].parse_hyperparameters({})
    for required in _required(name):
        assert f"'{required}'" in str(err.value)


def test_strings_are_parsed_to_types(name):
    algo = BUILTINS[name]
    hp = algo.parse_hyperparameters(case(name).hp)
    spec: Spec = algo.hyperparameters
    for key in case(name).hp:
        kind = spec.params[key].kind
        if kind == "int":
            assert isinstance(hp[key], int) and not isinstance(hp[key], bool), key
        elif kind == "float":
            assert isinstance(hp[key], float | int), key
    assert all(k in hp for k in spec.params)  # defaults filled in


def test_unknown_hyperparameters_rejected_reserved_accepted(name):
    algo = BUILTINS[name]
    raw = dict(case(name).hp)
    with pytest.raises(AlgorithmClientError, match=r"Additional hyperparameters are not allowed \(u'foo' was unexpected\)"):
        algo.parse_hyperparameters({**raw, "foo": "1"})
    hp = algo.parse_hyperparameters({**raw, "_tuning_objective_metric": "validation:auc",
                                     "sagemaker_program": "x", "sagemaker_region": "us-east-1"})
    assert "_tuning_objective_metric" not in hp


def test_invalid_value_names_hyperparameter_and_value(name):
    algo = BUILTINS[name]
    spec: Spec = algo.hyperparameters
    first = spec.params[_required(name)[0]]
    bad = {"int": "abc", "float": "abc", "choice": "no-such-choice", "str": "42x"}[first.kind]
    with pytest.raises(AlgorithmClientError) as err:
        algo.parse_hyperparameters({**case(name).hp, first.name: bad})
    assert first.name in str(err.value) and bad in str(err.value)


def test_spec_messages():
    spec = Spec(Param("num_trees", "int", default=100, low=50, high=1000),
                Param("mode", "choice", choices=("a", "b")), Param("flag", "bool", default=True),
                Param("metrics", "list", choices=("msd", "ssd")))
    with pytest.raises(AlgorithmClientError, match=r"'num_trees': value '10' is out of range; allowed range is \[50, 1000\]"):
        spec.parse({"num_trees": "10"})
    with pytest.raises(AlgorithmClientError, match=r"'mode': value 'c' is not one of \['a', 'b'\]"):
        spec.parse({"mode": "c"})
    with pytest.raises(AlgorithmClientError, match="'flag'"):
        spec.parse({"flag": "maybe"})
    assert spec.parse({"num_trees": "60.0", "flag": "False", "metrics": '["msd","ssd"]'}) == \
        {"num_trees": 60, "mode": None, "flag": False, "metrics": ["msd", "ssd"]}
    assert spec.parse({"metrics": "['ssd']"})["metrics"] == ["ssd"]
    with pytest.raises(AlgorithmClientError, match=r"\(u'x', u'y' were unexpected\)"):
        spec.parse({"x": "1", "y": "2"})


# ---------------------------------------------------------------- training
def test_fit_reaches_a_sane_metric(name):
    run = trained(name)
    c = case(name)
    final = run.trainer.final_metrics()
    assert c.metric in final, sorted(final)
    assert c.check(final[c.metric]), (c.metric, final[c.metric])


def test_records_and_units(name):
    run = trained(name)
    t = run.trainer
    assert [r.unit for r in run.records] == list(range(1, t.done_units + 1))
    assert t.done_units == t.total_units >= 1
    assert t.fit_until(t.total_units) == []  # nothing left to do
    for r in run.records:
        assert all(math.isfinite(v) for v in r.metrics.values())
    assert run.records[-1].metrics  # the last unit carries the metrics
    declared = {m.name for m in BUILTINS[name].metrics}
    assert set(t.final_metrics()) <= declared
    for r in run.records:
        assert set(r.metrics) <= declared
    w = t.work_per_unit()
    assert isinstance(w, float) and w > 0 and w == new_trainer(name).work_per_unit()


def test_resume_from_checkpoint_equals_straight_training(name):
    straight = trained(name)
    total = straight.trainer.total_units
    half = total // 2
    first = new_trainer(name)
    first.fit_until(half)
    state = first.state()
    assert isinstance(state, bytes)
    second = new_trainer(name)
    second.restore(state)
    assert second.done_units == half
    rest = second.fit_until(total)
    assert [r.unit for r in rest] == list(range(half + 1, total + 1))
    assert rest[-1].metrics == straight.records[-1].metrics
    assert second.final_metrics() == straight.trainer.final_metrics()
    c = case(name)
    np.testing.assert_array_equal(_predictions(second.model(), c.rows), _predictions(straight.trainer.model(), c.rows))
    assert second.model().to_bytes() == straight.trainer.model().to_bytes()


def test_fit_until_in_steps_equals_one_call(name):
    straight = trained(name)
    t = new_trainer(name)
    records = []
    for n in range(1, t.total_units + 1):
        records += t.fit_until(n)
    assert [r.unit for r in records] == [r.unit for r in straight.records]
    assert t.final_metrics() == straight.trainer.final_metrics()
    assert t.model().to_bytes() == straight.trainer.model().to_bytes()


def test_deterministic(name):
    a = trained(name)
    b = new_trainer(name)
    records = b.fit_until(b.total_units)
    assert [r.metrics for r in records] == [r.metrics for r in a.records]
    assert b.model().to_bytes() == a.trainer.model().to_bytes()
    assert b.state() == a.trainer.state()


def test_seed_changes_randomised_training():
    # the seed argument reaches the estimators (k-means initialisation here)
    c = case("kmeans")
    algo = BUILTINS["kmeans"]
    hp = algo.parse_hyperparameters({**c.hp, "extra_center_factor": "1", "local_lloyd_max_iter": "1"})
    m = [algo.trainer(hp, c.channels, None, seed, 1) for seed in (1, 2)]
    for t in m:
        t.fit_until(t.total_units)
    assert m[0].model().to_bytes() != m[1].model().to_bytes()


# --------------------------------------------------------------- inference
def test_predict_body_matches_predict_array(name):
    c = case(name)
    model = trained(name).trainer.model()
    expected = _predictions(model, c.rows)
    body, ctype = c.request
    out, out_type = model.predict_body(body, ctype, "application/json")
    assert out_type == "application/json"
    from_json = c.from_json(json.loads(out))
    if "array_to_json" in c.extra:
        expected = c.extra["array_to_json"](expected)
    np.testing.assert_array_equal(from_json, expected)
    if c.csv_out:
        out, out_type = model.predict_body(body, ctype, "text/csv")
        assert out_type == "text/csv"
        lines = out.decode().strip().splitlines()
        values = np.array([[float(v) for v in line.split(",")] for line in lines])
        np.testing.assert_array_equal(values.reshape(np.asarray(expected).shape), _predictions(model, c.rows))


def test_default_accept(name):
    c = case(name)
    model = trained(name).trainer.model()
    body, ctype = c.request
    a = model.predict_body(body, ctype, "")
    b = model.predict_body(body, ctype, "*/*")
    assert a == b
    assert a[1] == ("text/csv" if name == "xgboost" else "application/json")


def test_malformed_body_is_a_value_error(name):
    c = case(name)
    model = trained(name).trainer.model()
    _, ctype = c.request
    for body in (b"", b"\xff\xfe\x00garbage", b"1,2,three\n", b'{"instances": 5}'):
        with pytest.raises(ValueError):
            model.predict_body(body, ctype, "application/json")
    with pytest.raises(ValueError):
        model.predict_body(c.request[0], c.request[1], "application/x-unknown")
    with pytest.raises(ValueError):
        model.predict_body(c.request[0], "application/x-unknown", "application/json")


def test_model_bytes_round_trip(name):
    algo = BUILTINS[name]
    c = case(name)
    model = trained(name).trainer.model()
    data = model.to_bytes()
    loaded = algo.load_model(data)
    assert loaded.algorithm == name
    np.testing.assert_array_equal(_predictions(loaded, c.rows), _predictions(model, c.rows))
    assert loaded.to_bytes() == data
    assert loaded.predict_body(*c.request, "application/json") == model.predict_body(*c.request, "application/json")


def test_model_of_another_algorithm_is_refused(name):
    other = "kmeans" if name != "kmeans" else "pca"
    data = trained(other).trainer.model().to_bytes()
    with pytest.raises(ValueError):
        BUILTINS[name].load_model(data)
    with pytest.raises(ValueError):
        BUILTINS[name].load_model(b"not a model")


# ---------------------------------------------------------------- instances
def test_instance_count_rules(name):
    algo = BUILTINS[name]
    c = case(name)
    if not algo.capabilities.multi_instance:
        with pytest.raises(AlgorithmClientError, match="supports only single-instance training"):
            new_trainer(name, shards=c.shards, instance_count=2)
        with pytest.raises(AlgorithmClientError, match="InstanceCount=2"):
            new_trainer(name, instance_count=2)
        return
    t = new_trainer(name, shards=c.shards, instance_count=2)
    t.fit_until(t.total_units)
    final = t.final_metrics()
    assert c.check(final[c.metric]), (c.metric, final[c.metric])
    assert t.model().predict_array(c.rows) is not None


# ------------------------------------------------------------------ channels
def test_empty_train_channel_names_the_channel(name):
    algo = BUILTINS[name]
    c = case(name)
    hp = algo.parse_hyperparameters(c.hp)
    empty = ChannelData("train", c.channels["train"].content_type, [])
    with pytest.raises(AlgorithmClientError, match="'train'"):
        algo.trainer(hp, {**c.channels, "train": empty}, None, SEED, 1)


def test_bad_record_names_object_and_line(name):
    algo = BUILTINS[name]
    c = case(name)
    hp = algo.parse_hyperparameters(c.hp)
    data, fragment = c.bad_train
    train = c.channels["train"]
    key = train.objects[0][0]
    bad = ChannelData("train", train.content_type, [(key, data)])
    with pytest.raises(AlgorithmClientError) as err:
        algo.trainer(hp, {**c.channels, "train": bad}, None, SEED, 1)
    assert fragment in str(err.value)
    assert "'train'" in str(err.value)


def test_csv_reader_messages():
    ch = channel("train", b"1,2,3\n4,5\n", "text/csv")
    with pytest.raises(AlgorithmClientError, match=r"object 'train/part-0.dat' line 2: expected 3 comma-separated values"):
        read_csv(ch)
    with pytest.raises(AlgorithmClientError, match="line 1: non-numeric value 'label'.*no header row"):
        read_csv(channel("train", b"label,a\n1,2\n", "text/csv"))
    x, y, _ = read_csv(channel("train", b"1,,3\n0,2,\n", "text/csv"), allow_missing=True)
    assert np.isnan(x[0, 0]) and np.isnan(x[1, 1]) and list(y) == [1.0, 0.0]
