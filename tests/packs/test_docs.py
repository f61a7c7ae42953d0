"""docs/pack-format.md describes every field, fact and step kind the code accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagetutor.packs import model, plan
from sagetutor.packs.requirements import FACTS
from sagetutor.quiz.scoring import RULES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "pack-format.md").read_text(encoding="utf-8")

MODELS = [model.PackInfo, model.Blueprint, model.SingleQuestion, model.MultiQuestion, model.OrderingQuestion,
          model.MatchingQuestion, model.CaseStudy, model.ChoiceOption, model.OrderItem, model.MatchOption,
          model.Prompt]


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_field_is_documented(cls):
    for name, info in cls.model_fields.items():
        assert f"`{info.alias or name}`" in DOC, f"{cls.__name__}.{name}"


def test_every_fact_rule_and_type_is_documented():
    for fact in FACTS:
        assert f"| `{fact}` |" in DOC, fact
    for word in (*RULES, *model.QUESTION_TYPES):
        assert f"`{word}`" in DOC


@pytest.mark.parametrize("kind", plan.STEP_KINDS)
def test_every_step_kind_has_a_section_with_its_example_and_arguments(kind):
    section = DOC.split(f"### `{kind}`\n", 1)[1].split("\n### ", 1)[0]
    assert plan.STEP_DOCS[kind][2] in section
    for name, info in plan.ARGS[kind].model_fields.items():
        if name != "name":
            assert f"| `{info.alias or name}` |" in section, f"{kind}.{name}"
    assert f"| [`{kind}`](#{kind}) |" in DOC
