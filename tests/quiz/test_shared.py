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
