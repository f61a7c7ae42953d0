"""The pack format as pydantic models (format 1).

A pack file has two keys, ``pack`` (what the pack is, and an optional exam blueprint) and
``questions``. The field names here are a contract with authors (docs/pack-format.md); the
JSON Schema editors use is generated from these models (``sagetutor schema``).

These models check shapes and types. What needs the whole file - duplicate ids, answer
keys, references between fields, requirements, ``${name}`` params, plan references, line
numbers - is the loader's work (``sagetutor.packs.loader``), which reports every problem at
once.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    Tag,
)

from sagetutor.packs.plan import Plan, Step
from sagetutor.packs.requirements import Requirement, grammar_description, parse

FORMAT = 1
DIFFICULTIES = ("easy", "medium", "hard")
SCORING_RULES = ("all_or_nothing", "net_correct", "coverage", "each_answer")
QUESTION_TYPES = ("single", "multi", "ordering", "matching", "case_study")
CHILD_TYPES = QUESTION_TYPES[:-1]
#: What a case study's questions take from the case unless they set it themselves.
INHERITED = ("domain", "topics", "difficulty", "references", "requirements", "scope", "scored", "scoring")
#: The SAA-C03 blueprint's domain keys and weights (percent of scored content).
SAA_C03_DOMAINS = {"secure": 30, "resilient": 26, "performance": 24, "cost": 20}

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
URL_PATTERN = r"^https?://\S+$"

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=80,
                          description="stable identifier: letters, digits, '-', '_', '.'")]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=80, description="lower-case key: a-z, 0-9, '-', '_'")]
Text = Annotated[str, Field(min_length=1)]
Markdown = Annotated[str, Field(min_length=1, description="Markdown; ${name} placeholders are filled from params")]
Url = Annotated[str, Field(pattern=URL_PATTERN, description="an AWS documentation URL")]
RequirementText = Annotated[str, Field(min_length=1, description=grammar_description(),
                                       examples=["cost.total <= $5", "time.total < 6h", "latency.p95 < 100ms",
                                                 'metric["validation:auc"] >= 0.95', "survived_interruption",
                                                 "cost.total is minimal"])]
Scalar = str | int | float | bool
ParamValue = Scalar | dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Scalar]
ParamName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_alias=True)


def _version(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"an unquoted version is read as a number ({value!r} here; 1.10 would become 1.1): "
                         f"quote it, e.g. version: \"1.0\"")
    return value


class Blueprint(Strict):
    """How an exam drawn from this pack is shaped and scored."""

    questions: int | None = Field(None, ge=1, description="questions drawn for an exam (SAA-C03: 65)")
    minutes: int | None = Field(None, ge=1, description="time limit (SAA-C03: 130)")
    pass_mark: int = Field(720, ge=100, le=1000, description="passing scaled score, 100-1000 (SAA-C03: 720)")
    pass_percent: float = Field(72, gt=0, lt=100, description="raw percentage that maps to pass_mark in the "
                                                              "estimated scaled score")
    domains: dict[Slug, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="domain key -> weight in percent, summing to 100 (SAA-C03: secure 30, "
                                          "resilient 26, performance 24, cost 20)")
    unscored: int = Field(0, ge=0, description="drawn questions that do not count (SAA-C03: 15)")


class PackInfo(Strict):
    """What the pack is."""

    format: Literal[1] = Field(description="the pack format's version: 1")
    id: Slug = Field(description="stable pack identifier, e.g. saa-c03-sagemaker")
    title: Text
    version: Annotated[str, BeforeValidator(_version)] = Field(description="the pack's own version, e.g. \"1.2\"")
    exam: Annotated[str, Field(pattern=r"^[A-Z]{3}-C[0-9]{2}$")] = Field(description="exam code, e.g. SAA-C03")
    authors: list[Text] = Field(default_factory=list)
    seed: int = Field(0, description="default seed for outcomes and params variants")
    description: Markdown | None = None
    blueprint: Blueprint | None = None
    student: StrictBool = Field(False, description="true for a student pack (sagetutor pack export --for-students): "
                                                   "no answer key, feedback, explanations or plans")


class ChoiceOption(Strict):
    """An option of a single or multi question."""

    id: Id
    text: Markdown
    feedback: Markdown | None = Field(None, description="why this option is right or wrong (required, except in a "
                                                        "student pack)")
    correct: StrictBool = False
    run: Plan | None = Field(None, description="the engine plan that shows what choosing this option does")
    pin: Literal["last"] | None = Field(None, description="keep this option last when options are shuffled "
                                                          "(e.g. 'None of the above')")


class OrderItem(Strict):
    """An item of an ordering question."""

    id: Id
    text: Markdown
    feedback: Markdown | None = Field(None, description="why the item goes where it goes (required, except in a "
                                                        "student pack)")
    position: int | None = Field(None, ge=1, description="the item's place in the right order, 1..N (required, "
                                                         "except in a student pack)")
    run: Plan | None = Field(None, description="steps this item contributes; the learner's order runs them in "
                                               "that order")


class MatchOption(Strict):
    """An answer a matching question's prompts are matched to (may serve several prompts)."""

    id: Id
    text: Markdown
    feedback: Markdown | None = Field(None, description="what this answer is for (required, except in a student "
                                                        "pack)")
    pin: Literal["last"] | None = None


class Prompt(Strict):
    """A matching question's prompt and the option id that answers it."""

    id: Id
    text: Markdown
    answer: Id | None = Field(None, description="the id of the option that matches this prompt (required, except "
                                                "in a student pack)")
    feedback: Markdown | None = None


class QuestionBase(Strict):
    TYPE: ClassVar[str] = ""
    id: Id = Field(description="stable question id, unique in the pack")
    title: Text | None = Field(None, description="a short name for lists and results")
    domain: Slug | None = Field(None, description="a blueprint domain key (SAA-C03: secure, resilient, "
                                                  "performance, cost)")
    topics: list[Slug] = Field(default_factory=list, description="concept keys that link to study notes")
    scope: Slug | None = Field(None, description="e.g. beyond-saa-c03, for topics the exam guide leaves out")
    difficulty: Literal[DIFFICULTIES] = "medium"  # type: ignore[valid-type]
    scored: StrictBool = Field(True, description="false for a pilot item that does not count, as AWS does")
    references: list[Url] = Field(default_factory=list, description="AWS documentation URLs")
    stem: Markdown = Field(description="the question (Markdown)")
    explanation: Markdown | None = Field(None, description="shown after answering: the reasoning in full")
    requirements: list[RequirementText] = Field(default_factory=list,
                                                description="the scenario's constraints as facts over run outcomes")
    params: dict[ParamName, Annotated[list[ParamValue], Field(min_length=1)]] = Field(
        default_factory=dict, description="name -> values; a seeded variant picks one per name, used as ${name}")
    scoring: Literal[SCORING_RULES] = Field(  # type: ignore[valid-type]
        "all_or_nothing", description="all_or_nothing (as AWS scores) or PrairieLearn's net_correct, coverage, "
                                      "each_answer")
    run: Plan | None = Field(None, description="steps run before every option's own run (a shared setup)")

    _raw: dict | None = PrivateAttr(None)

    @property
    def kind(self) -> str:
        return self.TYPE

    @property
    def parsed_requirements(self) -> list[Requirement]:
        return [parse(r) for r in self.requirements]

    @property
    def raw(self) -> dict | None:
        """The question as written (inheritance applied, placeholders kept): what variants start from."""
        return self._raw


class SingleQuestion(QuestionBase):
    """Multiple choice: four or more options, exactly one correct."""

    TYPE = "single"
    type: Literal["single"]
    options: list[ChoiceOption]

    @property
    def correct_ids(self) -> list[str]:
        return [o.id for o in self.options if o.correct]


class MultiQuestion(QuestionBase):
    """Multiple response: five or more options, ``select`` of them correct."""

    TYPE = "multi"
    type: Literal["multi"]
    select: int = Field(ge=2, description="how many options are correct (and the learner selects)")
    options: list[ChoiceOption]

    @property
    def correct_ids(self) -> list[str]:
        return [o.id for o in self.options if o.correct]


class OrderingQuestion(QuestionBase):
    """Put 3-5 items in order."""

    TYPE = "ordering"
    type: Literal["ordering"]
    options: list[OrderItem]

    @property
    def correct_order(self) -> list[str]:
        return [o.id for o in sorted(self.options, key=lambda o: o.position or 0)]  # no key in a student pack


class MatchingQuestion(QuestionBase):
    """Match 3-7 prompts to options."""

    TYPE = "matching"
    type: Literal["matching"]
    prompts: list[Prompt]
    options: list[MatchOption]

    @property
    def answer_key(self) -> dict[str, str]:
        return {p.id: p.answer for p in self.prompts}


def _question_type(value: Any) -> str | None:
    if isinstance(value, dict):
        t = value.get("type")
        return f"<{t}>" if isinstance(t, str) else None
    return f"<{getattr(value, 'TYPE', '')}>"


def _tagged(*models: type[QuestionBase]) -> Any:
    return functools.reduce(operator.or_, (Annotated[m, Tag(f"<{m.TYPE}>")] for m in models))


ChildQuestion = Annotated[_tagged(SingleQuestion, MultiQuestion, OrderingQuestion, MatchingQuestion),
                          Discriminator(_question_type)]


class CaseStudy(QuestionBase):
    """A shared scenario with two or more questions, each scored on its own.

    The questions take domain, topics, difficulty, references, requirements, scope, scored
    and scoring from the case unless they set their own; the case's params and run apply
    to all of them.
    """

    TYPE = "case_study"
    type: Literal["case_study"]
    questions: list[ChildQuestion] = Field(description="two or more questions on the scenario")


Question = Annotated[_tagged(SingleQuestion, MultiQuestion, OrderingQuestion, MatchingQuestion, CaseStudy),
                     Discriminator(_question_type)]
Answerable = SingleQuestion | MultiQuestion | OrderingQuestion | MatchingQuestion


class Pack(Strict):
    """A SageTutor scenario pack (format 1)."""

    model_config = ConfigDict(extra="forbid", title="SageTutor scenario pack")
    pack: PackInfo
    questions: list[Question] = Field(min_length=1)

    def items(self) -> list[Answerable]:
        """Every answerable question in order, a case study's questions in place of the case."""
        out: list[Answerable] = []
        for q in self.questions:
            if isinstance(q, CaseStudy):
                out.extend(q.questions)
            else:
                out.append(q)
        return out

    def question(self, qid: str) -> QuestionBase:
        for q in self.questions:
            if q.id == qid:
                return q
            if isinstance(q, CaseStudy):
                for c in q.questions:
                    if c.id == qid:
                        return c
        raise KeyError(qid)


def option_plan(question: QuestionBase, option_id: str, case: CaseStudy | None = None) -> list[Step]:
    """The whole plan choosing ``option_id`` runs: the case's run, the question's, then the option's."""
    steps: list[Step] = list(case.run or []) if case else []
    steps += list(question.run or [])
    for o in getattr(question, "options", []):
        if o.id == option_id:
            steps += list(getattr(o, "run", None) or [])
            return steps
    raise KeyError(option_id)
