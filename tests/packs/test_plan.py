"""The plan language: every step kind, its defaults, shorthands and the engine's vocabulary."""

from __future__ import annotations

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from sagetutor.packs import plan

PLAN = TypeAdapter(plan.Plan)


def _steps(text: str):
    return PLAN.validate_python(yaml.safe_load(text))


@pytest.mark.parametrize("kind", plan.STEP_KINDS)
def test_every_kind_is_documented_with_an_example_that_validates(kind):
    calls, purpose, example = plan.STEP_DOCS[kind]
    assert calls and purpose and example.startswith(f"- {kind}:")
    (step,) = _steps(example)
    assert step.kind == kind and isinstance(step.args, plan.ARGS[kind])


def test_a_step_is_one_line_with_defaults():
    steps = _steps("""
- train:
- interrupt_spot: 10min
- deploy: {}
- wait: train
- advance: 90
- stop: deploy
""")
    train, interrupt, deploy, wait, advance, stop = (s.args for s in steps)
    assert (train.algorithm, train.dataset, train.instance, train.count, train.spot) == \
        ("xgboost", "breast-cancer", "ml.m5.xlarge", 1, False)
    assert interrupt.after == 600.0 and interrupt.job is None
    assert (deploy.instance, deploy.count, deploy.serverless, deploy.async_) == ("ml.m5.large", 1, False, False)
    assert wait.for_ == "train" and advance.by == 90.0 and stop.target == "deploy"


def test_durations():
    (step,) = _steps("- train: {spot: true, max_runtime: 2h, max_wait: 1d}")
    assert step.args.max_runtime == 7200 and step.args.max_wait == 86400
    with pytest.raises(ValidationError, match="write 'min'"):
        _steps("- advance: 10m")


@pytest.mark.parametrize("text,message", [
    ("- train: {max_wait: 2h}", "max_wait applies to Managed Spot Training only"),
    ("- train: {spot: true, max_runtime: 3h, max_wait: 2h}", "max_wait must be at least max_runtime"),
    ("- train: {encrypt_inter_container: true}", "only matters with count > 1"),
    ("- train: {algorithm: xgbost}", "Input should be"),
    ("- train: {instance: ml.m5.xlarg}", "did you mean ml.m5.xlarge?"),
    ("- deploy: {instance: ml.t3.medium}", "ml.t3.medium is not offered for hosting"),
    ("- deploy: {serverless: true, count: 2}", "a serverless endpoint has no count"),
    ("- deploy: {memory: 2048}", "apply to serverless endpoints only"),
    ("- deploy: {serverless: true, async: true}", "serverless or asynchronous, not both"),
    ("- deploy: {model: a, pipeline: [b, c]}", "not both"),
    ("- deploy: {serverless: true, memory: 1000}", "Input should be"),
    ("- tune: {max_jobs: 2, max_parallel: 4}", "cannot exceed max_jobs"),
    ("- tune: {strategy: grid, ranges: {eta: '0.1..0.3'}}", "grid search takes categorical ranges"),
    ("- tune: {ranges: {eta: 'low to high'}}", "String should match pattern"),
    ("- autoscale: {min: 5, max: 2}", "min (5) is above max (2)"),
    ("- label: {price_per_object: 0.05}", "set workforce: public"),
    ("- notebook: {direct_internet: false}", "needs vpc"),
    ("- studio: {network: vpc_only}", "needs vpc"),
    ("- network: {nat_gateway: true}", "add internet_gateway: true"),
    ("- network: {endpoints: [sagemaker]}", "Input should be"),
    ("- iam: {allow: {GetObject: '*'}}", "String should match pattern"),
    ("- orchestrate: {steps: []}", "at least 1 item"),
    ("- orchestrate: {steps: [train], schedule: daily}", "String should match pattern"),
    ("- traffic: {minutes: 0}", "greater than or equal to 1"),
])
def test_argument_checks(text, message):
    with pytest.raises(ValidationError, match=__import__("re").escape(message)):
        _steps(text)


def _refs(text: str):
    return [msg for _, msg in plan.check_references(yaml.safe_load(text))]


def test_names_and_references():
    assert plan.step_names(yaml.safe_load("[train: {}, train: {}, deploy: {name: web}, train: {name: big}]")) == \
        ["train", "train-2", "web", "big"]
    assert _refs("[train: {name: a}, deploy: {model: a}, autoscale: {endpoint: deploy}, wait: deploy]") == []
    assert _refs("[deploy: {}]") == ["deploy needs an earlier train or tune step (for model); add one before it "
                                     "or name one with model:"]
    assert _refs("[train: {name: a}, deploy: {model: b}]") == ["model: no earlier step is named 'b' (earlier train "
                                                               "or tune steps: a)"]
    assert _refs("[deploy: {model: a}, train: {name: a}]") == ["model: no earlier step is named 'a' (it comes "
                                                               "later: steps run in order)"]
    assert _refs("[network: {}, deploy: {model: network}]") == ["model: 'network' is a network step; model names "
                                                                "a train or tune step"]
    assert _refs("[train: {vpc: true}]") == ["vpc: true needs an earlier network step"]
    assert _refs("[train: {name: x}, train: {name: x}]") == ["two steps are named 'x': give one of them another name"]
    assert _refs("[wait: nothing]") == ["for: no earlier step is named 'nothing'"]
    assert _refs("[train: {}, train: {name: b}, deploy: {pipeline: [train, b]}]") == []
    prefix_and_option = yaml.safe_load("[train: {vpc: true}, deploy: {}]")
    assert plan.check_references(prefix_and_option, first=1) == []  # the prefix reports its own


def test_engine_vocabulary_matches_the_engine():
    from engine.algorithms import BUILTINS
    from engine.datasets.catalog import CATALOG

    assert set(plan.ALGORITHMS) == {*BUILTINS, "sklearn"}
    assert set(plan.DATASETS) == set(CATALOG)
    known, uses = plan.instance_tables()
    assert "ml.m5.xlarge" in known and "ml.m5.xlarge" in uses["training"]


def test_the_all_features_pack_uses_every_step_kind(variants_pack):
    from sagetutor.packs.model import CaseStudy

    used = set()
    for q in variants_pack.questions:
        for question in (q.questions if isinstance(q, CaseStudy) else [q]):
            for steps in [q.run or [], question.run or [], *((o.run or []) for o in question.options
                                                             if hasattr(o, "run"))]:
                used |= {s.kind for s in steps}
    assert used == set(plan.STEP_KINDS)
