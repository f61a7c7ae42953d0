"""Loading valid packs, inheritance, and the safety limits of the YAML reader."""

from __future__ import annotations

import pytest

from sagetutor.packs import PackError, load_file, load_text, read_pack
from sagetutor.packs.loader import MAX_BYTES
from sagetutor.packs.model import CaseStudy, MatchingQuestion, MultiQuestion, OrderingQuestion, SingleQuestion
from sagetutor.packs.paths import STARTER, starter_text

from .conftest import HERE


def test_starter_has_every_question_type(starter):
    kinds = {type(q) for q in starter.questions}
    assert kinds == {SingleQuestion, MultiQuestion, OrderingQuestion, MatchingQuestion, CaseStudy}
    assert starter.pack.blueprint.domains == {"secure": 30, "resilient": 26, "performance": 24, "cost": 20}
    assert [q.id for q in starter.items()][-2:] == ["clinic-training", "clinic-inference"]


def test_models_expose_answer_keys(starter):
    assert starter.question("nightly-scoring").correct_ids == ["transform"]
    assert starter.question("spot-with-checkpoints").correct_ids == ["spot", "checkpoints"]
    assert starter.question("deployment-steps").correct_order == ["model", "config", "endpoint", "invoke"]
    assert starter.question("pick-an-algorithm").answer_key["demand"] == "deepar"


def test_case_study_questions_inherit_from_the_case(starter, variants_pack):
    child = starter.question("clinic-training")
    assert child.domain == "secure" and child.topics == ["vpc", "kms"] and child.difficulty == "hard"
    assert child.references == starter.question("clinic").references
    shop_a, shop_b = variants_pack.question("shop-a"), variants_pack.question("shop-b")
    assert shop_a.requirements == ["cost.total is minimal"] and shop_a.scored is False
    assert shop_b.domain == "performance" and shop_b.scored is True  # its own values win
    assert shop_b.difficulty == "hard"


def test_option_plan_joins_case_question_and_option(starter):
    from sagetutor.packs.model import option_plan

    case = starter.question("clinic")
    steps = option_plan(starter.question("clinic-training"), "vpc-cmk", case)
    assert [s.kind for s in steps] == ["network", "key", "train"]
    assert steps[-1].args.vpc is True and steps[-1].args.kms_key is True


def test_yaml_booleans_and_dates_stay_text():
    text = starter_text().replace("text: Enable Managed Spot Training on the training job.", "text: yes") \
        .replace("title: Nightly scoring of a file", "title: 2024-05-01")
    result = load_text(text, "x.yaml")
    assert result.ok, result.problems
    q = result.pack.question("spot-with-checkpoints")
    assert q.options[0].text == "yes"
    assert result.pack.question("nightly-scoring").title == "2024-05-01"


@pytest.mark.parametrize("text,expected", [
    ("- a\n- b\n", "1:1: a pack is a mapping with `pack:` and `questions:`, not a list"),
    ("pack: {}\nquestions: 3\n", "2:12: `questions` should be a list of one or more questions, not the number 3"),
    ("pack: [1]\nquestions: [x]\n", "pack: `pack` should be a mapping"),
    ("a: b\n---\nc: d\n", "one pack per file"),
    ("key: [unclosed\n", "YAML syntax"),
    ("x: &a [*a]\n", "refers to a value that contains it"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nest"),
    ("? [a, b]\n: c\n", "a key must be plain text"),
    ("1: x\n", "the key 1 is not text"),
])
def test_malformed_files_give_a_sentence_not_a_traceback(text, expected):
    result = load_text(text, "bad.yaml")
    assert not result.ok
    assert any(expected in str(p) for p in result.problems), [str(p) for p in result.problems]


def test_file_size_is_bounded(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (MAX_BYTES + 10) + "\n")
    result = load_file(big)
    assert [p.message for p in result.problems] == ["the file is 2.0 MiB; a pack is at most 2 MiB"]
    assert load_text("# " + "x" * (MAX_BYTES + 10)).problems[0].line == 1


def test_not_utf8_and_missing_file(tmp_path):
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(b"pack:\n  title: caf\xe9\n")
    assert str(load_file(bad).problems[0]).endswith(":2:13: the file is not UTF-8 text")
    assert "cannot read the file" in load_file(tmp_path / "nope.yaml").problems[0].message


def test_read_pack_raises_with_every_problem():
    with pytest.raises(PackError) as info:
        read_pack(HERE / "broken" / "undefined-param.yaml")
    assert len(info.value.problems) == 2
    assert read_pack(STARTER).pack.id == "my-first-pack"


def test_every_problem_in_one_pass():
    text = starter_text()
    text = text.replace("difficulty: easy", "difficulty: simple").replace("select: 2", "select: 3") \
        .replace("position: 4", "position: 5").replace("answer: rcf", "answer: rfc") \
        .replace("- no_public_network_path", "- no_public_path")
    messages = [p.message for p in load_text(text, "s.yaml").problems]
    assert len(messages) == 5, messages


def test_requirement_error_points_inside_a_quoted_string():
    text = starter_text().replace("- time.total < 6h", "- 'time.total < 6 hours'")
    (problem,) = load_text(text, "s.yaml").problems
    line = text.splitlines()[problem.line - 1]
    assert line[problem.column - 1:].startswith("hours'")
    assert "unknown unit 'hours': write 'h'" in problem.message


def test_placeholder_error_points_inside_a_block_scalar():
    text = starter_text().replace("customer records once", "customer ${record} once")
    problems = load_text(text, "s.yaml").problems
    (problem,) = [p for p in problems if "${record}" in p.message]
    line = text.splitlines()[problem.line - 1]
    assert line[problem.column - 1:].startswith("${record}")


def test_anchors_merge_keys_and_x_keys():
    text = """
x-common: &common {domain: cost, difficulty: hard}
pack: {format: 1, id: m, title: M, version: "1", exam: SAA-C03}
questions:
  - <<: *common
    id: q1
    difficulty: easy
    type: single
    stem: S
    options: &opts
      - {id: a, text: A, correct: true, feedback: F}
      - {id: b, text: B, feedback: F}
      - {id: c, text: C, feedback: F}
      - {id: d, text: D, feedback: F}
  - {<<: [*common], id: q2, type: single, stem: S, options: *opts}
"""
    result = load_text(text, "m.yaml")
    assert result.ok, result.problems
    assert [(q.id, q.domain, q.difficulty) for q in result.pack.questions] == [("q1", "cost", "easy"),
                                                                              ("q2", "cost", "hard")]
    bad = load_text(text + "  - {<<: 3, id: q3, type: single}\n", "m.yaml")
    assert any("'<<' merges mappings only" in p.message for p in bad.problems)
