"""The bundled content: scenario packs that load cleanly, an SAA-C03 pack shaped like the exam,
and a study note for every topic the packs link to.

The packs are checked with the pack loader (``sagetutor.packs.loader``), the same code that
``sagetutor validate`` runs; the rules on top of it are the brief of the bundled content:
at least 65 questions balanced by the SAA-C03 domain weights, every topic of the exam notes
covered at least twice, most questions runnable option by option, references on every
question, and a study note with exam tips per topic key.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from sagetutor.packs.loader import load_file
from sagetutor.packs.model import SAA_C03_DOMAINS, CaseStudy, MatchingQuestion, Pack

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
CONTENT = ROOT / "content"
PACK_FILES = sorted(SCENARIOS.glob("*.yaml"))
SAA_FILE = SCENARIOS / "saa-c03-sagemaker.yaml"
HANDS_ON_FILE = SCENARIOS / "sagemaker-hands-on.yaml"
NOTE_FILES = sorted(p for p in CONTENT.glob("*.md") if p.name not in ("README.md", "index.md"))

#: The topics of the exam notes (shared/reference/exam-notes-sagemaker.txt) and the topic keys a
#: question must carry to count for each: a question covers a topic when it has ALL of its keys.
EXAM_NOTES_TOPICS: dict[str, frozenset[str]] = {
    "Ground Truth: labeling jobs": frozenset({"ground-truth"}),
    "Ground Truth: active learning": frozenset({"active-learning"}),
    "Ground Truth: human vs automated labeling": frozenset({"ground-truth", "active-learning"}),
    "notebook instances": frozenset({"notebook-instances"}),
    "training: managed training jobs": frozenset({"training"}),
    "training: built-in vs custom algorithms": frozenset({"custom-algorithms"}),
    "training: distributed training": frozenset({"distributed-training"}),
    "training: hyperparameter tuning jobs": frozenset({"tuning"}),
    "training: Spot training with checkpoints": frozenset({"spot-training"}),
    "real-time deployment: the three steps, InvokeEndpoint, JSON output": frozenset({"real-time-inference"}),
    "batch transform": frozenset({"batch-transform"}),
    "real-time vs batch": frozenset({"realtime-vs-batch"}),
    "built-in algorithms and when to use each": frozenset({"built-in-algorithms"}),
    "inference pipelines": frozenset({"inference-pipelines"}),
    "model monitoring: drift and data quality": frozenset({"model-monitor"}),
    "SageMaker Studio": frozenset({"studio"}),
    "integration: S3": frozenset({"s3"}),
    "integration: ECR": frozenset({"ecr"}),
    "integration: IAM": frozenset({"iam"}),
    "integration: CloudWatch": frozenset({"cloudwatch"}),
    "integration: Step Functions": frozenset({"step-functions"}),
    "security: VPC": frozenset({"vpc"}),
    "security: KMS": frozenset({"kms"}),
    "security: private endpoints": frozenset({"private-endpoints"}),
    "cost optimization": frozenset({"cost-optimization"}),
}


def _load(path: Path) -> Pack:
    result = load_file(path)
    assert result.ok, "\n".join(str(p) for p in result.problems)
    assert result.pack is not None
    return result.pack


@pytest.fixture(scope="module")
def saa() -> Pack:
    return _load(SAA_FILE)


@pytest.fixture(scope="module")
def hands_on() -> Pack:
    return _load(HANDS_ON_FILE)


def _runs_every_option(question) -> bool:
    """Every option (or ordering item) of the question carries its own plan."""
    if isinstance(question, MatchingQuestion):
        return False  # matching options have no run
    return bool(question.options) and all(option.run for option in question.options)


def _all_questions(pack: Pack) -> list:
    """Every question, case studies and their questions included."""
    out = []
    for q in pack.questions:
        out.append(q)
        if isinstance(q, CaseStudy):
            out.extend(q.questions)
    return out


# -- every bundled pack ---------------------------------------------------------------------------


def test_the_bundled_packs_are_there():
    assert SAA_FILE in PACK_FILES and HANDS_ON_FILE in PACK_FILES


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: p.name)
def test_every_bundled_pack_loads_without_problems(path: Path):
    result = load_file(path)
    assert result.problems == [], "\n".join(str(p) for p in result.problems)
    assert result.ok


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: p.name)
def test_every_question_has_aws_references_an_explanation_and_topics(path: Path):
    pack = _load(path)
    for q in pack.items():
        assert q.references, f"{q.id}: no references"
        for url in q.references:
            assert url.startswith("https://docs.aws.amazon.com/"), f"{q.id}: {url} is not AWS documentation"
        assert q.explanation, f"{q.id}: no explanation"
        assert q.topics, f"{q.id}: no topics"
        for option in q.options:
            assert option.feedback.strip(), f"{q.id}/{option.id}: no feedback"


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda p: p.name)
def test_every_topic_key_has_a_study_note(path: Path):
    pack = _load(path)
    keys = {key for q in _all_questions(pack) for key in q.topics}
    missing = sorted(key for key in keys if not (CONTENT / f"{key}.md").is_file())
    assert not missing, f"topic keys without content/<key>.md: {missing}"


# -- the SAA-C03 pack -----------------------------------------------------------------------------


def test_saa_blueprint_is_the_exams(saa: Pack):
    bp = saa.pack.blueprint
    assert bp is not None
    assert (bp.questions, bp.minutes, bp.pass_mark, bp.pass_percent, bp.unscored) == (65, 130, 720, 72, 15)
    assert bp.domains == SAA_C03_DOMAINS
    assert saa.pack.exam == "SAA-C03"


def test_saa_has_at_least_65_questions(saa: Pack):
    assert len(saa.items()) >= 65


def test_saa_domains_follow_the_weights(saa: Pack):
    items = saa.items()
    counts = Counter(q.domain for q in items)
    for domain, weight in SAA_C03_DOMAINS.items():
        expected = weight / 100 * len(items)
        assert abs(counts[domain] - expected) <= 3, f"{domain}: {counts[domain]} questions, expected about {expected:.1f}"
    assert set(counts) == set(SAA_C03_DOMAINS)


def test_saa_covers_every_exam_notes_topic_at_least_twice(saa: Pack):
    items = saa.items()
    short = {name: sum(1 for q in items if keys <= set(q.topics)) for name, keys in EXAM_NOTES_TOPICS.items()}
    assert all(n >= 2 for n in short.values()), {name: n for name, n in short.items() if n < 2}


def test_saa_most_questions_run_every_option(saa: Pack):
    items = saa.items()
    runnable = [q for q in items if _runs_every_option(q)]
    assert len(runnable) / len(items) >= 0.75, f"{len(runnable)} of {len(items)} questions run every option"


def test_saa_runnable_questions_state_requirements(saa: Pack):
    """A plan is only checkable against the scenario's requirements."""
    for q in saa.items():
        if _runs_every_option(q):
            assert q.requirements, f"{q.id}: runs its options but states no requirements"


def test_saa_question_mix_is_mostly_single_with_multi_and_other_types(saa: Pack):
    kinds = Counter(q.kind for q in saa.items())
    assert kinds["single"] > len(saa.items()) / 2
    assert kinds["multi"] >= 5
    assert all(q.select == 2 for q in saa.items() if q.kind == "multi")
    assert kinds["ordering"] >= 1 and kinds["matching"] >= 1
    assert any(isinstance(q, CaseStudy) for q in saa.questions)


def test_saa_ground_truth_is_marked_beyond_the_exam_guide(saa: Pack):
    for q in saa.items():
        if "ground-truth" in q.topics:
            assert q.scope == "beyond-saa-c03", q.id


# -- the hands-on pack ----------------------------------------------------------------------------


def test_hands_on_pack_shows_every_question_type_and_params(hands_on: Pack):
    assert 15 <= len(hands_on.questions) <= 25
    kinds = Counter(q.kind for q in hands_on.items())
    assert kinds["ordering"] >= 2 and kinds["matching"] >= 2 and kinds["single"] >= 2
    assert sum(isinstance(q, CaseStudy) for q in hands_on.questions) >= 2
    with_params = [q for q in _all_questions(hands_on) if q.params]
    assert len(with_params) >= 3
    ordering_with_runs = [q for q in hands_on.items() if q.kind == "ordering" and _runs_every_option(q)]
    assert ordering_with_runs, "an ordering question whose items run shows a wrong order failing"


# -- study notes ----------------------------------------------------------------------------------


def test_there_are_study_notes_and_the_readme_stays():
    assert (CONTENT / "README.md").is_file()
    assert NOTE_FILES


@pytest.mark.parametrize("path", NOTE_FILES, ids=lambda p: p.name)
def test_every_note_ends_with_exam_tips(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{path.name}: starts without a title"
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert "Exam tips" in headings, f"{path.name}: no '## Exam tips' section"
    assert headings[-1] == "Exam tips", f"{path.name}: 'Exam tips' is not the last section"
    tips = text.split("## Exam tips", 1)[1]
    assert re.search(r"^- ", tips, flags=re.MULTILINE), f"{path.name}: the exam tips section has no tips"


def test_the_index_lists_every_note():
    index = (CONTENT / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([a-z0-9-]+)\.md\)", index))
    assert linked == {p.stem for p in NOTE_FILES}


def test_links_between_notes_resolve():
    for path in [*NOTE_FILES, CONTENT / "index.md"]:
        for target in re.findall(r"\]\(([a-z0-9-]+)\.md\)", path.read_text(encoding="utf-8")):
            assert (CONTENT / f"{target}.md").is_file(), f"{path.name} links to missing {target}.md"
