"""`sagetutor exam --headless`: stdin and --answers give the expected attempt, in pack ids."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from sagetutor.cli import main
from sagetutor.grading.attempt import load_attempt
from sagetutor.grading.draw import pack_hash, student_exam
from sagetutor.grading.headless import LETTERS, run_exam, shown_questions
from sagetutor.grading.student_pack import export_for_students
from sagetutor.packs import read_pack

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "tests" / "quiz" / "packs" / "flows.yaml"
SPOT = ROOT / "tests" / "quiz" / "packs" / "spot.yaml"

#: What alice means to answer, in pack ids.
WANTED = {"pick-algorithms": {"fraud": "rcf", "churn": "xgboost"}, "private-training": "vpc",
          "serve-in-order": ["train", "deploy", "invoke"], "clinic-scoring": "transform"}


@pytest.fixture(scope="module")
def flows():
    return read_pack(FLOWS)


def typed(shown, answer) -> str:
    """``answer`` (pack ids) as alice types it: display letters and prompt numbers."""
    def letter(i):
        return LETTERS[shown.option_ids.index(i)]
    if isinstance(answer, dict):
        prompts = [p for p, _ in shown.prompts]
        return ",".join(f"{prompts.index(p) + 1}={letter(o)}" for p, o in answer.items())
    if isinstance(answer, list):
        return ",".join(letter(i) for i in answer)
    return letter(answer).upper()  # letters are not case-sensitive


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Keyboard(io.StringIO):
    """stdin whose every line takes the student 10 seconds."""

    def __init__(self, text, clock):
        super().__init__(text)
        self.clock = clock

    def readline(self, *a):
        self.clock.now += 10
        return super().readline(*a)


def script(pack, student="alice", seed=7):
    """Lines for alice's exam: a bad answer and a flag on the first question, a skip on clinic-speed,
    the wanted answers elsewhere, and the input ends before the last question."""
    exam = student_exam(pack, student, seed)
    shown = shown_questions(pack, exam)
    lines = []
    for s in shown[:-1]:
        if s is shown[0]:
            lines += ["zz", "?"]
        lines.append(typed(s, WANTED[s.id]) if s.id in WANTED else "")
    return shown, lines


def test_stdin_exam(flows):
    shown, lines = script(flows)
    clock = Clock()
    out = io.StringIO()
    stamp = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    a = run_exam(flows, "alice", 7, stdin=Keyboard("\n".join(lines) + "\n", clock), stdout=out, clock=clock,
                 now=lambda: stamp)
    order = [s.id for s in shown]
    assert a.questions == order and a.student == "alice" and a.seed == 7
    assert a.pack_hash == pack_hash(flows) and a.pack_id == "quiz-flows" and a.pack_version == "1.0"
    expected = {q: v for q, v in WANTED.items() if q in order[:-1]}
    assert a.answers == expected
    assert a.flags == [order[0]]
    assert a.seconds[order[0]] == pytest.approx(30)  # three lines: a bad one, the flag, the answer
    assert order[-1] not in a.answers and a.seconds[order[-1]] == pytest.approx(10)  # shown, then input ended
    text = out.getvalue()
    assert text.count("Not an answer:") == 1 and "Flagged for review." in text
    assert "End of input" in text
    assert "raw percent" not in text.lower() and "passed" not in text.lower()


def test_invalid_answers_are_asked_again(flows):
    exam = student_exam(flows, "bob", 1)
    shown = shown_questions(flows, exam)
    first = shown[0]
    bad = {"single": ["a,b", "q", "1=a"], "multi": ["a"], "ordering": ["a,b", "a,a,b"],
           "matching": ["a", "9=a", "1=z", "1=a,1=b"]}[first.type]
    out = io.StringIO()
    a = run_exam(flows, "bob", 1, stdin=io.StringIO("\n".join([*bad, "\n"])), stdout=out, clock=Clock())
    assert out.getvalue().count("Not an answer:") == len(bad)
    assert a.answers == {}


def test_time_up_ends_the_exam(flows):
    clock = Clock()

    class Slow(io.StringIO):
        def readline(self, *a):
            clock.now += 400  # the exam has 600 seconds
            return super().readline(*a)

    exam = student_exam(flows, "alice", 7)
    shown = shown_questions(flows, exam)
    lines = [typed(s, WANTED[s.id]) if s.id in WANTED else "" for s in shown]
    out = io.StringIO()
    a = run_exam(flows, "alice", 7, stdin=Slow("\n".join(lines) + "\n"), stdout=out, clock=clock)
    assert len(a.answers) <= 1 and "Time is up" in out.getvalue()
    assert set(a.seconds) <= set(a.questions[:2])


def test_cli_through_stdin_with_a_student_pack(flows, tmp_path, monkeypatch, capsys):
    student_pack = export_for_students(flows, tmp_path / "students.yaml")
    _, lines = script(flows)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    monkeypatch.chdir(tmp_path)
    assert main(["exam", "--headless", str(student_pack), "--student", "alice", "--seed", "7"]) == 0
    path = tmp_path / "alice-quiz-flows.attempt.yaml"
    assert str(Path("alice-quiz-flows.attempt.yaml")) in capsys.readouterr().out
    a = load_attempt(path)
    assert a.pack_hash == pack_hash(flows)
    assert a.answers == {q: v for q, v in WANTED.items() if q in a.questions[:-1]}
    # never overwrites the attempt
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["exam", "--headless", str(student_pack), "--student", "alice", "--seed", "7"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_cli_answers_file(flows, tmp_path, capsys):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({
        "pick-algorithms": "fraud=rcf,churn=xgboost", "private-training": "?vpc",
        "serve-in-order": "train,deploy,invoke", "clinic-scoring": "transform", "clinic-speed": "?"}))
    attempts = []
    for n, pack in enumerate([FLOWS, export_for_students(flows, tmp_path / "students.yaml")]):
        out = tmp_path / f"a{n}.attempt.yaml"
        assert main(["exam", "--headless", str(pack), "--student", "carol", "--answers", str(answers),
                     "--out", str(out)]) == 0
        assert f"Wrote your attempt to {out}" in capsys.readouterr().out
        attempts.append(load_attempt(out))
    full, student = attempts
    assert full.answers == WANTED
    assert sorted(full.flags) == ["clinic-speed", "private-training"]
    assert (full.questions, full.answers, full.flags, full.pack_hash) == \
        (student.questions, student.answers, student.flags, student.pack_hash)


def test_cli_answers_file_problems(tmp_path, capsys):
    answers = tmp_path / "answers.yaml"
    answers.write_text("spot-two: spot\nspot-checkpoints: nope\nmissing-question: a\n")
    out = tmp_path / "a.attempt.yaml"
    assert main(["exam", "--headless", str(SPOT), "--student", "dan", "--answers", str(answers),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "question spot-two: choose exactly 2 options" in err
    assert "question spot-checkpoints: 'nope' is not an option id" in err
    assert "question missing-question: no such question" in err
    assert not out.exists()


def test_cli_needs_a_student(capsys):
    assert main(["exam", "--headless", str(SPOT)]) == 1
    assert "--student ID is required" in capsys.readouterr().err
