"""Seeded variants: deterministic per seed, typed where a value stands alone, validated again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sagetutor.packs import params as P

ROOT = Path(__file__).resolve().parents[2]


def test_pick_is_deterministic_and_independent_per_name():
    params = {"rows": [1, 2, 3, 4, 5], "instance": ["ml.m5.large", "ml.c5.xlarge"]}
    first = P.pick(params, 7, "q1")
    assert first == P.pick(params, 7, "q1")
    assert P.pick({"rows": params["rows"]}, 7, "q1")["rows"] == first["rows"]  # adding a name changes nothing
    seen = {P.pick(params, seed, "q1")["rows"] for seed in range(60)}
    assert seen == {1, 2, 3, 4, 5}
    assert {P.pick(params, 7, f"q{i}")["rows"] for i in range(60)} == {1, 2, 3, 4, 5}


def test_pick_is_the_same_in_another_process():
    code = ("from sagetutor.packs.params import pick;"
            "print(pick({'n': list(range(1000))}, 123, 'question-x'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}, cwd=ROOT).stdout
    assert out == f"{P.pick({'n': list(range(1000))}, 123, 'question-x')}\n"


def test_substitution_keeps_types_and_formats_text():
    values = {"n": 4, "rows": 2000000, "ratio": 0.5, "on": True, "size": {"rows": 10, "deadline": "2h"}}
    assert P.substitute_text("${n}", values) == 4
    assert P.substitute_text("${ size.rows }", values) == 10
    assert P.substitute_text("${rows:,} rows on ${n} instances", values) == "2,000,000 rows on 4 instances"
    assert P.substitute_text("${ratio:.0%} and ${on}", values) == "50% and true"
    assert P.substitute_text("${rows:,}", values) == "2,000,000"
    assert P.substitute_text("costs $5, not $${n}", values) == "costs $5, not ${n}"
    data = {"stem": "${n} x", "params": {"n": [4]}, "run": [{"train": {"count": "${n}"}}]}
    assert P.substitute(data, values) == {"stem": "4 x", "params": {"n": [4]}, "run": [{"train": {"count": 4}}]}
    with pytest.raises(KeyError):
        P.substitute_text("${missing}", values)


def test_references_and_broken_placeholders():
    assert P.references("a ${x} b ${g.k:,}") == [("x", None, 2), ("g.k", ",", 9)]
    assert P.broken("fine ${x} and $${y}") is None
    assert P.broken("open ${x") == 5
    assert P.broken("empty ${}") == 6
    assert P.broken("bad ${1x}") == 4


def test_all_and_covering_variants():
    params = {"a": [1, 2, 3], "b": ["x", "y"]}
    assert len(list(P.all_variants(params))) == 6
    cover = P.covering_variants(params)
    assert {v["a"] for v in cover} == {1, 2, 3} and {v["b"] for v in cover} == {"x", "y"}
    assert P.covering_variants({}) == [{}]


def test_variant_of_a_loaded_question_is_validated_and_typed(variants_pack):
    q = variants_pack.question("sized-training")
    seen = set()
    for seed in range(12):
        v = P.variant(q, seed)
        assert v is not q and v.id == q.id
        train = v.options[0].run[0].args
        assert isinstance(train.count, int) and train.count in (1, 2, 4)
        assert isinstance(train.nominal_rows, int)
        assert f"{train.nominal_rows:,} rows" in v.stem
        assert "$${" not in v.stem and "${literal}" in v.stem
        deadline = v.requirements[0].removeprefix("time.total < ")
        assert deadline in ("2h", "6h", "12h")
        assert v.parsed_requirements[0].facts == {"time.total"}
        seen.add((train.count, train.nominal_rows))
        assert P.variant(q, seed).model_dump() == v.model_dump()  # same seed, same question
    assert len(seen) > 3


def test_variant_of_a_case_study_fills_the_case_and_its_questions(variants_pack):
    case = variants_pack.question("shop")
    v = P.variant(case, 3)
    stores = P.pick({"stores": [100, 500]}, 3, "shop")["stores"]
    n = P.pick({"n": [1, 2]}, 3, "shop-a")["n"]
    assert v.stem == f"A shop with {stores} stores."
    assert v.questions[0].stem == f"Scoring for {stores} stores, {n} times?"


def test_question_without_params_is_returned_as_is(starter):
    q = starter.question("spot-with-checkpoints")
    assert P.variant(q, 99) is q
