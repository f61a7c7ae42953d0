"""Per-student exams: deterministic in (pack, student, seed), different between students."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagetutor.grading.draw import StudentExam, pack_hash, student_exam
from sagetutor.grading.student_pack import export_text
from sagetutor.packs import load_text, read_pack

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "tests" / "quiz" / "packs" / "flows.yaml"
SAA = ROOT / "scenarios" / "saa-c03-sagemaker.yaml"


@pytest.fixture(scope="module")
def saa():
    return read_pack(SAA)


@pytest.fixture(scope="module")
def flows():
    return read_pack(FLOWS)


def test_same_triple_same_exam_and_students_differ(saa):
    a1 = student_exam(saa, "alice", 1)
    assert isinstance(a1, StudentExam)
    assert a1 == student_exam(saa, "alice", 1)
    bob = student_exam(saa, "bob", 1)
    assert bob.question_ids != a1.question_ids
    common = set(a1.question_ids) & set(bob.question_ids)
    assert any(a1.option_orders[q] != bob.option_orders[q] for q in common)
    assert student_exam(saa, "alice", 2).question_ids != a1.question_ids


def test_full_pack_and_student_export_draw_the_same_exam(flows):
    student = load_text(export_text(flows), "students.yaml").pack
    assert pack_hash(student) == pack_hash(flows)
    for who in ("alice", "bob", "carol"):
        assert student_exam(student, who, 7) == student_exam(flows, who, 7)


def test_the_same_in_another_process():
    code = ("from sagetutor.packs import read_pack; from sagetutor.grading.draw import student_exam; "
            f"e = student_exam(read_pack({str(FLOWS)!r}), 'alice', 3); print(e.question_ids, e.option_orders, e.params)")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    e = student_exam(read_pack(FLOWS), "alice", 3)
    assert out.strip() == f"{e.question_ids} {e.option_orders} {e.params}"


def test_blueprint_draw(saa):
    exam = student_exam(saa, "alice", 1)
    bp = saa.pack.blueprint
    assert len(exam.question_ids) == bp.questions == 65 and len(set(exam.question_ids)) == 65
    assert exam.seconds == bp.minutes * 60
    items = {q.id: q for q in saa.items()}
    assert sum(not items[q].scored for q in exam.question_ids) <= bp.unscored
    # a case study's questions are drawn together, in the pack's order
    for case in (q for q in saa.questions if q.type == "case_study"):
        ids = [c.id for c in case.questions]
        if ids[0] in exam.question_ids:
            start = exam.question_ids.index(ids[0])
            assert list(exam.question_ids[start:start + len(ids)]) == ids
    # domains roughly by weight (largest remainder of the scored part)
    scored = [items[q] for q in exam.question_ids if items[q].scored]
    for domain, weight in bp.domains.items():
        share = sum(q.domain == domain for q in scored) / len(scored)
        assert abs(share - weight / 100) < 0.1, domain
    for qid in exam.question_ids:
        assert sorted(exam.option_orders[qid]) == sorted(o.id for o in items[qid].options)
        assert qid in exam.params


def test_small_pack_all_questions_time_scaled_pins_and_params(flows):
    exam = student_exam(flows, "alice", 7)
    assert sorted(exam.question_ids) == sorted(q.id for q in flows.items())
    assert exam.seconds == 2 * 60 * 5  # no blueprint: 2 minutes a question
    for qid in ("clinic-scoring", "clinic-speed"):
        assert exam.option_orders[qid][-1] == "none"  # pin: last
    i = exam.question_ids.index("clinic-scoring")
    assert exam.question_ids[i + 1] == "clinic-speed"
    case = next(q for q in flows.questions if q.type == "case_study")
    for name, values in case.params.items():
        assert exam.params["clinic-scoring"][name] in values
    text = FLOWS.read_text().replace("  seed: 7\n", "  seed: 7\n  blueprint: {questions: 10, minutes: 30}\n")
    small = load_text(text, "small.yaml").pack
    assert student_exam(small, "alice", 7).seconds == pytest.approx(30 * 60 * 5 / 10)


def test_option_orders_vary_across_students(flows):
    orders = {tuple(student_exam(flows, f"s{n}", 7).option_orders["private-training"]) for n in range(12)}
    assert len(orders) > 3
