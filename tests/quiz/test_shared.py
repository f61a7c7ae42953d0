"""Fitted models shared across fresh engines: a replay is what a real training gives, byte for byte."""

from __future__ import annotations

import contextlib
import json

import pytest

from sagetutor.quiz import outcome, shared
from tests.quiz.conftest import plan

PLANS = {
    "spot-interrupted-checkpoints": [{"train": {"spot": True, "checkpoints": True, "nominal_rows": 20000000}},
                                     {"interrupt_spot": "10min"}],
    "spot-interrupted-twice": [{"train": {"spot": True, "checkpoints": True, "nominal_rows": 20000000}},
                               {"interrupt_spot": "5min"}, {"interrupt_spot": "12min"}],
    "max-runtime-partial-model": [{"train": {"nominal_rows": 50000000, "max_runtime": "20min"}}, {"deploy": {}},
                                  {"invoke": 3}],
    "early-stopping-tuning": [{"tune": {"algorithm": "linear-learner", "dataset": "wine", "max_jobs": 3,
                                        "max_parallel": 3, "early_stopping": True, "strategy": "random",
                                        "ranges": {"learning_rate": "0.001..0.1 log"}}}],
    "linear-learner": [{"train": {"algorithm": "linear-learner", "dataset": "wine"}}, {"transform": {}}],
    "traffic-captured-and-monitored": [{"train": {}}, {"deploy": {"data_capture": True}}, {"monitor": {}},
                                       {"invoke": 5}, {"traffic": {"per_minute": 6, "minutes": 70,
                                                                   "drift": {"missing": 0.2, "shift": 1.0}}},
                                       {"advance": "2h"}],
    "regression-serverless": [{"train": {"dataset": "diabetes"}}, {"deploy": {"serverless": True}},
                              {"traffic": {"per_minute": 20, "minutes": 15}}],
}


def _json(out: dict) -> str:
    return json.dumps(out, sort_keys=True)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_a_replay_is_what_a_real_training_gives(name, monkeypatch):
    steps = plan(*PLANS[name])
    with monkeypatch.context() as m:  # no sharing at all: every trainer is the algorithm's own
        m.setattr(shared, "active", contextlib.nullcontext)
        real = _json(outcome.simulate(steps, 7))
    shared.clear()
    live = _json(outcome.simulate(steps, 7))  # the memo records
    before = shared.stats.as_dict()
    replayed = _json(outcome.simulate(steps, 7))  # the memo replays
    after = shared.stats.as_dict()
    assert after["replayed"] > before["replayed"]
    assert after["live"] == before["live"]  # nothing trained for real the second time
    assert real == live == replayed


def test_endpoint_rows_are_predicted_once_and_answered_alike():
    from engine.services.sagemaker.hosting import _load

    _load.cache_clear()  # models loaded outside the runtime (tests above) are not wrapped
    shared.clear()
    steps = plan({"train": {}}, {"deploy": {}}, {"traffic": {"per_minute": 60, "minutes": 20}})
    first = _json(outcome.simulate(steps, 7))
    assert _json(outcome.simulate(steps, 7)) == first
    stats = shared.stats.as_dict()
    assert stats["row_memo_off"] == 0
    assert stats["rows_predicted"] <= 85 < stats["rows_replayed"]  # the test split's 85 rows, predicted once


def test_the_row_memo_answers_exactly_what_the_model_answers():
    import numpy as np

    from engine import Engine
    from engine.algorithms import BUILTINS
    from engine.services.sagemaker.hosting import _load

    shared.install()
    steps = plan({"train": {}})
    from sagetutor.quiz.runner import run_plan

    run = run_plan(steps, 7)
    try:
        url = run.client("sagemaker").describe_training_job(TrainingJobName="train")["ModelArtifacts"][
            "S3ModelArtifacts"]
        bucket, key = url[5:].split("/", 1)
        data = run.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    finally:
        run.close()
    from engine import artifacts

    _, payload, _ = artifacts.unpack(data)
    real = type(BUILTINS["xgboost"]).load_model(BUILTINS["xgboost"], payload)
    with shared.active():
        memo = shared._RowMemoModel(real)
        eng = Engine(seed=7)
        text = eng.client("s3").get_object(Bucket="sagetutor-datasets", Key="breast-cancer/test/part-00000.csv")[
            "Body"].read().decode().splitlines()
        rows = [ln.split(",", 1)[1] for ln in text]
        rng = np.random.default_rng(3)
        for n in (1, 2, 7, 30, 85, 200):
            picks = [rows[i] for i in rng.integers(0, len(rows), n)]
            body = "\n".join(picks).encode()
            assert memo.predict_body(body, "text/csv", "text/csv") == real.predict_body(body, "text/csv", "text/csv")
        assert memo._off is False
    del _load


def test_options_that_train_alike_share_one_training():
    shared.clear()
    outcome.simulate(plan({"train": {"nominal_rows": 1000000}}), 7)
    outcome.simulate(plan({"train": {"spot": True, "instance": "ml.c5.2xlarge"}}), 7)  # other instance, same model
    assert shared.stats.live == 1 and shared.stats.replayed == 1
    outcome.simulate(plan({"train": {"hyperparameters": {"max_depth": 3}}}), 7)  # other hyperparameters
    outcome.simulate(plan({"train": {}}), 8)  # other seed
    assert shared.stats.live == 3


def test_outside_the_runtime_the_builtins_are_untouched():
    from engine.algorithms import BUILTINS

    shared.install()
    algo = BUILTINS["xgboost"]
    assert algo.trainer.__wrapped__ is not None
    from engine import Engine

    eng = Engine(seed=7)  # an engine used directly: real trainers, as before
    s3 = eng.client("s3")
    s3.create_bucket(Bucket="b")
    from tests.helpers import training_request, wait

    sm = eng.client("sagemaker")
    before = dict(shared.stats.as_dict())
    sm.create_training_job(**training_request(eng, output="s3://b/out"))
    assert wait(sm, "job-1")["TrainingJobStatus"] == "Completed"
    assert shared.stats.as_dict() == before


def test_a_replayed_spot_trainings_checkpoints_are_cut_from_the_recorded_model(monkeypatch):
    spot = plan({"train": {"spot": True, "checkpoints": True, "nominal_rows": 20000000}}, {"interrupt_spot": "10min"})

    def checkpoints(steps) -> dict[str, bytes]:
        from sagetutor.quiz.runner import run_plan

        run = run_plan(steps, 7)
        try:
            s3 = run.client("s3")
            out = {}
            for b in s3.list_buckets()["Buckets"]:
                for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", []):
                    if "checkpoint" in o["Key"]:
                        out[f"{b['Name']}/{o['Key']}"] = s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read()
            return out
        finally:
            run.close()

    with monkeypatch.context() as m:  # no sharing: the checkpoints a real Spot training writes
        m.setattr(shared, "active", contextlib.nullcontext)
        real = checkpoints(spot)
        real_outcome = _json(outcome.simulate(spot, 7))
    assert real
    shared.clear()
    outcome.simulate(plan({"train": {"nominal_rows": 20000000}}), 7)  # on demand: recorded, no checkpoints
    assert shared.stats.live == 1
    assert checkpoints(spot) == real  # replayed, its checkpoints cut from the recorded final model
    assert shared.stats.live == 1 and shared.stats.derived >= 1 and shared.stats.materialized == 0
    assert _json(outcome.simulate(spot, 7)) == real_outcome


def test_bins_are_fitted_once_per_training_set_and_models_pickle_alike():
    import pickle

    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sagetutor.quiz import binning

    x, y = make_classification(n_samples=600, n_features=8, random_state=0)

    def fit(depth: int) -> bytes:
        return pickle.dumps(HistGradientBoostingClassifier(max_iter=5, max_depth=depth, random_state=0).fit(x, y))

    plain = [fit(2), fit(4)]  # outside the runtime: scikit-learn's own binning
    shared.clear()
    with shared.active():
        first = fit(2)
        assert binning.hits == 0
        second = fit(4)  # other hyperparameters, the same rows: the bins are reused
        assert binning.hits == 1
    assert [first, second] == plain
    x[0, 0] += 1.0  # other rows: binned anew
    with shared.active():
        fit(2)
    assert binning.hits == 1


def test_after_prewarm_a_plan_builds_no_botocore_client(monkeypatch):
    import engine.protocol.client as protocol

    monkeypatch.setattr(shared, "_free", [])  # an empty pool, as in a new process
    shared.prewarm()
    made = []
    real = protocol.make_client
    monkeypatch.setattr(protocol, "make_client", lambda service, *a, **k: made.append(service) or real(service, *a, **k))
    outcome.simulate(plan({"train": {}}, {"deploy": {}}, {"invoke": 2}, {"traffic": {"per_minute": 5, "minutes": 3}}), 7)
    assert made == []
