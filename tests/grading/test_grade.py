"""Grading a class (sagetutor.grading.grade and `sagetutor grade`): scores, not-gradable reasons, exit status.

The fixture pack (packs/class-grading.yaml) has one question of each type, a pilot item and a
blueprint whose pass_percent 50 maps to pass_mark 700, so every number here is worked out by
hand: estimated scaled = 100 + 600 * p / 50 up to 50%, then 700 + 300 * (p - 50) / 50.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sagetutor.cli import main
from sagetutor.grading.attempt import FORMAT, Attempt, load_attempt, write_attempt
from sagetutor.grading.draw import pack_hash, student_exam
from sagetutor.grading.grade import ClassGrader, GradeUsageError, attempt_files, read_attempt
from sagetutor.grading.student_pack import export_text
from sagetutor.packs import load_text, read_pack

PACKS = Path(__file__).parent / "packs"
CLASS_PACK = PACKS / "class-grading.yaml"
ALL_RIGHT = {"q-single": "r", "q-multi": ["m1", "m2"], "q-order": ["o1", "o2", "o3"],
             "q-match": {"p1": "t1", "p2": "t2", "p3": "t3"}, "q-pilot": "r"}


def attempt_for(pack, student: str, answers: dict, *, seed: int = 1, **changes) -> Attempt:
    """A well-formed attempt of ``student`` on ``pack`` (its exam drawn as the student's would be)."""
    exam = student_exam(pack, student, seed)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    data = {"format": FORMAT, "pack_id": pack.pack.id, "pack_version": pack.pack.version,
            "pack_hash": pack_hash(pack), "student": student, "seed": seed, "questions": list(exam.question_ids),
            "answers": answers, "flags": [], "seconds": {q: 30.0 for q in exam.question_ids},
            "started_at": at, "ended_at": at}
    data.update(changes)
    data["seconds"] = {q: 30.0 for q in data["questions"]}
    return Attempt(**data)


def write(folder: Path, name: str, attempt: Attempt) -> Path:
    return write_attempt(attempt, folder / name)


def write_trio(folder: Path, pack) -> None:
    """Three gradable students: alice (all right), bob (some wrong), carol (some unanswered, seed 5)."""
    write(folder, "alice.attempt.yaml", attempt_for(pack, "alice", dict(ALL_RIGHT)))
    write(folder, "bob.attempt.yaml", attempt_for(pack, "bob", {
        "q-single": "w1", "q-multi": ["m1", "x1"], "q-order": ["o2", "o1", "o3"],
        "q-match": {"p1": "t1", "p2": "t2", "p3": "t3"}, "q-pilot": "r"}))
    write(folder, "carol.attempt.yaml", attempt_for(pack, "carol", {"q-single": "r", "q-multi": ["m1"],
                                                                     "q-pilot": "w2"}, seed=5))


@pytest.fixture(scope="module")
def pack():
    return read_pack(CLASS_PACK)


@pytest.fixture
def classroom(tmp_path, pack):
    """Attempt files: four gradable students (alice, bob, carol, dave), then the caller adds bad ones."""
    folder = tmp_path / "attempts"
    folder.mkdir()
    write_trio(folder, pack)
    write(folder, "dave.attempt.yaml", attempt_for(pack, "dave", {
        "q-single": "r", "q-multi": ["m1", "m2", "x1"], "q-order": ["o1", "o2", "o3"],
        "q-match": {"p1": "t1", "p2": "t2", "p3": "t3"}}))
    return folder


def grade_all(pack, folder: Path, **kw):
    files, problems = attempt_files([folder])
    assert not problems
    return list(ClassGrader(pack, **kw).grade_class(files))


def by_student(grades):
    return {g.student: g for g in grades}


# -- scores ------------------------------------------------------------------------------------


def test_scores_by_hand(pack, classroom):
    g = by_student(grade_all(pack, classroom))
    alice, bob, carol, dave = g["alice"], g["bob"], g["carol"], g["dave"]
    assert all(x.gradable and x.reason == "" for x in (alice, bob, carol, dave))
    # alice: everything right; the pilot item never counts
    assert (alice.raw_score, alice.max_score, alice.percent, alice.scaled, alice.passed) == (4, 4, 100, 1000, True)
    # bob: single 0; multi net_correct (1 - 1) / 2 = 0; ordering each_answer 1/3 (o3 in place); matching 1
    assert bob.raw_score == pytest.approx(4 / 3)
    assert bob.percent == pytest.approx(100 / 3)
    assert bob.scaled == 500 and not bob.passed  # 100 + 600 * 33.33 / 50
    assert bob.domain_percent("alpha") == pytest.approx(100 / 6)  # (0 + 1/3) / 2
    assert bob.domain_percent("beta") == pytest.approx(50)  # (0 + 1) / 2
    # carol: single 1; multi [m1] net_correct 1/2; ordering and matching unanswered
    assert carol.raw_score == pytest.approx(1.5) and carol.percent == pytest.approx(37.5)
    assert carol.scaled == 550 and not carol.passed
    assert (carol.domain_percent("alpha"), carol.domain_percent("beta")) == (50, 25)
    # dave: multi [m1, m2, x1] net_correct (2 - 1) / 2; the rest right; the pilot unanswered
    assert dave.raw_score == pytest.approx(3.5) and dave.percent == pytest.approx(87.5)
    assert dave.scaled == 925 and dave.passed  # 700 + 300 * 37.5 / 50
    questions = {q.question_id: q for q in carol.questions}
    assert not questions["q-order"].answered and questions["q-order"].score == 0
    assert not questions["q-pilot"].scored


def test_pass_mark_override(pack, classroom):
    g = by_student(grade_all(pack, classroom, pass_mark=930))
    assert [s for s, x in sorted(g.items()) if x.passed] == ["alice"]
    assert g["dave"].scaled == 925 and g["dave"].pass_mark == 930
    with pytest.raises(GradeUsageError):
        ClassGrader(pack, pass_mark=1001)


def test_exam_is_the_students_draw(pack, classroom):
    g = by_student(grade_all(pack, classroom))
    for student, seed in (("alice", 1), ("carol", 5)):
        assert tuple(q.question_id for q in g[student].questions) == student_exam(pack, student, seed).question_ids


def test_order_student_then_file(pack, classroom):
    write(classroom, "aaa-alice-again.attempt.yaml", attempt_for(pack, "alice", {"q-single": "r"}))
    grades = grade_all(pack, classroom)
    assert [(g.student, g.file.name) for g in grades] == [
        ("alice", "aaa-alice-again.attempt.yaml"), ("alice", "alice.attempt.yaml"), ("bob", "bob.attempt.yaml"),
        ("carol", "carol.attempt.yaml"), ("dave", "dave.attempt.yaml")]


# -- not gradable ------------------------------------------------------------------------------


def test_each_not_gradable_reason(pack, classroom):
    write(classroom, "erin.attempt.yaml", attempt_for(pack, "erin", {"q-single": "r"}, pack_hash="0" * 64))
    exam = list(student_exam(pack, "fred", 1).question_ids)
    write(classroom, "fred.attempt.yaml", attempt_for(pack, "fred", {"q-single": "r", "q-extra": "r"},
                                                      questions=[*exam, "q-extra"]))
    write(classroom, "gina.attempt.yaml", attempt_for(pack, "gina", {"q-single": "r"},
                                                      questions=[q for q in student_exam(pack, "gina", 1).question_ids
                                                                 if q != "q-match"]))
    write(classroom, "hank.attempt.yaml", attempt_for(pack, "hank", {"q-single": "zzz", "q-multi": ["m1", "nope"]}))
    write(classroom, "ivy.attempt.yaml", attempt_for(pack, "ivy", {"q-single": ["r"]}))
    write(classroom, "jo.attempt.yaml", attempt_for(pack, "jo", {}))
    write(classroom, "zz-bob.attempt.yaml", attempt_for(pack, "bob", dict(ALL_RIGHT)))
    (classroom / "broken.attempt.yaml").write_text("format: 1\nstudent: kim\nseed: [\n", encoding="utf-8")
    (classroom / "old.attempt.yaml").write_text("format: 1\nstudent: lee\n", encoding="utf-8")

    grades = grade_all(pack, classroom)
    g = {(x.student, x.file.name): x for x in grades}
    reasons = {k: x.reason for k, x in g.items() if not x.gradable}
    assert reasons[("erin", "erin.attempt.yaml")].startswith("pack hash mismatch: ")
    assert "000000000000" in reasons[("erin", "erin.attempt.yaml")]
    assert reasons[("fred", "fred.attempt.yaml")].startswith("answers outside the exam: q-extra ")
    assert reasons[("gina", "gina.attempt.yaml")].startswith("exam mismatch: the attempt lacks q-match")
    hank = reasons[("hank", "hank.attempt.yaml")]
    assert hank.startswith("invalid answer: ") and "zzz is not an option" in hank and "nope" in hank
    assert reasons[("ivy", "ivy.attempt.yaml")].startswith("invalid answer: q-single: a single-answer question")
    assert reasons[("jo", "jo.attempt.yaml")] == "empty: no question answered"
    # duplicates: the first file in gradebook order is graded, the later one is listed and names it
    dup = g[("bob", "zz-bob.attempt.yaml")]
    assert not dup.gradable and dup.duplicate
    assert dup.reason.startswith("duplicate student: bob is graded from ") and "bob.attempt.yaml" in dup.reason
    first = g[("bob", "bob.attempt.yaml")]
    assert first.gradable and first.scaled == 500 and "also in" in first.reason and "zz-bob" in first.reason
    # malformed: the attempt loader's own reason; the student id still read where the YAML allows
    assert reasons[("", "broken.attempt.yaml")].startswith("malformed: not YAML")
    assert reasons[("lee", "old.attempt.yaml")].startswith("malformed: ")
    assert "missing" in reasons[("lee", "old.attempt.yaml")]
    # nothing else was refused, and every file has a row
    assert len(grades) == 4 + 9
    assert sum(1 for x in grades if x.gradable) == 4
    assert grades[0].file.name == "broken.attempt.yaml"  # no student id sorts first


def test_student_pack_is_refused(pack, tmp_path):
    student = load_text(export_text(pack), "student.yaml")
    assert student.ok, student.problems
    assert pack_hash(student.pack) == pack_hash(pack)
    with pytest.raises(GradeUsageError, match="no answer key"):
        ClassGrader(student.pack)


def test_fast_reader_agrees_with_load_attempt(pack, tmp_path):
    good = write(tmp_path, "a.attempt.yaml", attempt_for(pack, "alice", dict(ALL_RIGHT)))
    assert read_attempt(good) == load_attempt(good)
    # a repeated key: the fast reader hands it to load_attempt, which refuses it
    text = good.read_text(encoding="utf-8").replace("seed: 1\n", "seed: 1\nseed: 2\n")
    twice = tmp_path / "twice.attempt.yaml"
    twice.write_text(text, encoding="utf-8")
    with pytest.raises(Exception, match="twice") as fast:
        read_attempt(twice)
    with pytest.raises(Exception) as slow:
        load_attempt(twice)
    assert str(fast.value) == str(slow.value)


def test_worker_processes_give_the_same_grades(pack, classroom):
    files, _ = attempt_files([classroom])
    one = list(ClassGrader(pack).grade_class(files, jobs=1))
    two = list(ClassGrader(pack).grade_class(files, jobs=2))
    assert [(g.student, g.raw_score, g.scaled, g.reason) for g in one] == \
           [(g.student, g.raw_score, g.scaled, g.reason) for g in two]


# -- the command -------------------------------------------------------------------------------


def rows(out: Path) -> dict[str, dict]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as fh:
        return {r["student_id"]: r for r in csv.DictReader(fh)}


def test_exit_status(pack, classroom, tmp_path, capsys):
    out = tmp_path / "out"
    # bob and carol are below the mark: 1
    assert main(["grade", str(CLASS_PACK), str(classroom), "--out", str(out), "--format", "csv"]) == 1
    assert "2 passed, 2 below the pass mark (700), 0 not gradable" in capsys.readouterr().out
    # only the two who pass: 0
    assert main(["grade", str(CLASS_PACK), str(classroom / "alice.attempt.yaml"),
                 str(classroom / "dave.attempt.yaml"), "--out", str(out), "--format", "csv"]) == 0
    assert set(rows(out)) == {"alice", "dave"}
    # a pass mark nobody but alice reaches: 1
    assert main(["grade", str(CLASS_PACK), str(classroom / "alice.attempt.yaml"),
                 str(classroom / "dave.attempt.yaml"), "--out", str(out), "--pass-mark", "950"]) == 1
    # every attempt passes but one is not gradable: 1
    write(tmp_path, "jo.attempt.yaml", attempt_for(pack, "jo", {}))
    assert main(["grade", str(CLASS_PACK), str(classroom / "alice.attempt.yaml"), str(tmp_path / "jo.attempt.yaml"),
                 "--out", str(out), "--format", "csv"]) == 1
    assert "jo.attempt.yaml: not gradable: empty" in capsys.readouterr().out


def test_usage_errors_exit_2(classroom, tmp_path, capsys):
    out = str(tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["grade", str(tmp_path / "nope.yaml"), str(classroom), "--out", out]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: {}\n", encoding="utf-8")
    assert main(["grade", str(bad), str(classroom), "--out", out]) == 2
    assert main(["grade", str(CLASS_PACK), str(empty), "--out", out]) == 2
    assert main(["grade", str(CLASS_PACK), str(tmp_path / "missing"), "--out", out]) == 2
    assert main(["grade", str(CLASS_PACK), str(classroom), "--out", out, "--format", "csv,pdf"]) == 2
    assert main(["grade", str(CLASS_PACK), str(classroom), "--out", out, "--pass-mark", "50"]) == 2
    student = tmp_path / "student.yaml"
    student.write_text(export_text(read_pack(CLASS_PACK)), encoding="utf-8")
    assert main(["grade", str(student), str(classroom), "--out", out]) == 2
    with pytest.raises(SystemExit) as e:  # argparse: no attempts at all, no --out
        main(["grade", str(CLASS_PACK)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown format pdf" in err and "no answer key" in err and "no attempt files" in err


def test_output_folder_inside_attempts_is_skipped(pack, classroom):
    out = classroom / "graded"
    assert main(["grade", str(CLASS_PACK), str(classroom), "--out", str(out)]) == 1
    assert main(["grade", str(CLASS_PACK), str(classroom), "--out", str(out)]) == 1
    assert set(rows(out)) == {"alice", "bob", "carol", "dave"}
