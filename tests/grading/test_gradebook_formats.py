"""The gradebook writers: every format written by `sagetutor grade` and parsed back.

Numbers are the hand-worked ones of tests/grading/test_grade.py (the class-grading fixture pack);
feedback runs a quick pack of the quiz runtime (tests/quiz/packs/spot.yaml) on a private
outcome cache.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sagetutor.cli import main
from sagetutor.grading.grade import ClassGrader, attempt_files
from sagetutor.grading.gradebook import (
    Book,
    FeedbackWriter,
    key_events,
    parse_formats,
    safe_name,
    write_gradebook,
)
from sagetutor.packs import read_pack
from tests.grading.test_grade import ALL_RIGHT, CLASS_PACK, attempt_for, write, write_trio

SPOT_PACK = Path(__file__).parents[1] / "quiz" / "packs" / "spot.yaml"


@pytest.fixture(scope="module")
def pack():
    return read_pack(CLASS_PACK)


@pytest.fixture
def graded(tmp_path, pack):
    """A class of good and bad attempts graded into csv, gradescope and junit; returns the output folder."""
    folder = tmp_path / "attempts"
    folder.mkdir()
    write_trio(folder, pack)
    write(folder, "erin.attempt.yaml", attempt_for(pack, "erin", {"q-single": "r"}, pack_hash="f" * 64))
    write(folder, "zz-alice.attempt.yaml", attempt_for(pack, "alice", {"q-single": "w1"}))
    write(folder, "odd.attempt.yaml", attempt_for(pack, "=cmd|x/y", {"q-single": "r"}))
    (folder / "junk.yaml").write_text("- not\n- an attempt\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["grade", str(CLASS_PACK), str(folder), "--out", str(out),
                 "--format", "csv,gradescope,junit"]) == 1
    return out


def test_csv(graded):
    with (graded / "gradebook.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        body = list(reader)
    assert header == ["student_id", "raw_score", "max_score", "percent", "scaled_estimate", "passed", "gradable",
                      "reason", "domain_alpha", "domain_beta"]
    rows = [dict(zip(header, r)) for r in body]
    # sorted by student id, then file name; the unreadable file (no id) first; a formula-like id made inert
    assert [(r["student_id"], r["gradable"]) for r in rows] == [
        ("", "false"), ("'=cmd|x/y", "true"), ("alice", "true"), ("alice", "false"), ("bob", "true"),
        ("carol", "true"), ("erin", "false")]
    r = {(x["student_id"], x["gradable"]): x for x in rows}
    alice, bob, carol = r[("alice", "true")], r[("bob", "true")], r[("carol", "true")]
    assert [alice[k] for k in header[1:8]] == ["4", "4", "100.00", "1000", "true", "true",
                                               "alice.attempt.yaml: duplicate student: also in "
                                               f"{graded.parent / 'attempts' / 'zz-alice.attempt.yaml'} (not graded)"]
    assert [bob[k] for k in header[1:7]] == ["1.3333", "4", "33.33", "500", "false", "true"]
    assert (bob["domain_alpha"], bob["domain_beta"]) == ("16.67", "50.00")
    assert [carol[k] for k in header[1:7]] == ["1.5", "4", "37.50", "550", "false", "true"]
    assert (carol["domain_alpha"], carol["domain_beta"]) == ("50.00", "25.00")
    erin = r[("erin", "false")]
    assert erin["reason"].startswith("erin.attempt.yaml: pack hash mismatch")
    assert [erin[k] for k in ("raw_score", "max_score", "percent", "scaled_estimate", "passed")] == \
           ["", "", "", "", "false"]
    assert r[("alice", "false")]["reason"].startswith("zz-alice.attempt.yaml: duplicate student: alice is graded")
    assert r[("", "false")]["reason"].startswith("junk.yaml: malformed: ")


def test_gradescope(graded):
    folder = graded / "gradescope"
    names = sorted(p.name for p in folder.iterdir())
    # one file per student id (the duplicate's later file writes none); unsafe ids get a safe name
    assert names == sorted(["alice.json", "bob.json", "carol.json", "erin.json", f"{safe_name('=cmd|x/y')}.json"])
    assert safe_name("=cmd|x/y").startswith("_cmd_x_y-")
    bob = json.loads((folder / "bob.json").read_text(encoding="utf-8"))
    assert set(bob) <= {"score", "output", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
                        "execution_time", "output_format"}
    assert bob["score"] == pytest.approx(1.3333)
    assert bob["visibility"] == "after_due_date"
    assert bob["extra_data"]["max_score"] == 4 and bob["extra_data"]["scaled_estimate"] == 500
    assert bob["extra_data"]["passed"] is False
    assert bob["extra_data"]["domains"] == {"alpha": 16.67, "beta": 50.0}
    tests = {t["name"].rsplit("(", 1)[1].rstrip(")"): t for t in bob["tests"]}
    assert set(tests) == {"q-single", "q-multi", "q-order", "q-match", "q-pilot"}
    for t in bob["tests"]:
        assert set(t) <= {"score", "max_score", "name", "number", "output", "tags", "visibility", "extra_data"}
        assert t["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert (tests["q-single"]["score"], tests["q-single"]["max_score"]) == (0, 1)
    assert "Your answer: w1 (A wrong option)" in tests["q-single"]["output"]
    assert "Right answer: r (The right option)" in tests["q-single"]["output"]
    assert tests["q-order"]["score"] == pytest.approx(0.3333)
    assert "Partial credit under each_answer" in tests["q-order"]["output"]
    assert (tests["q-pilot"]["score"], tests["q-pilot"]["max_score"]) == (0, 0)
    assert "unscored" in tests["q-pilot"]["tags"]
    assert sum(t["score"] for t in bob["tests"]) == pytest.approx(bob["score"], abs=1e-3)
    assert sum(t["max_score"] for t in bob["tests"]) == 4
    erin = json.loads((folder / "erin.json").read_text(encoding="utf-8"))
    assert erin["score"] == 0 and erin["tests"] == [] and erin["output"].startswith("Not graded: pack hash mismatch")
    alice = json.loads((folder / "alice.json").read_text(encoding="utf-8"))
    assert alice["score"] == 4 and alice["extra_data"]["file"] == "alice.attempt.yaml"


def test_junit(graded):
    root = ET.parse(graded / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 7  # one per attempt file
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)
    assert int(root.get("failures")) == sum(int(s.get("failures")) for s in suites)
    bob = next(s for s in suites if s.get("name") == "bob")
    props = {p.get("name"): p.get("value") for p in bob.find("properties")}
    assert (props["raw_score"], props["max_score"], props["percent"], props["scaled_estimate"], props["passed"]) == \
           ("1.3333", "4", "33.33", "500", "false")
    assert (bob.get("tests"), bob.get("failures"), bob.get("skipped"), bob.get("errors")) == ("5", "3", "1", "0")
    cases = {c.get("name").split(":")[0]: c for c in bob.findall("testcase")}
    assert cases["q-single"].find("failure").get("type") == "wrong-answer"
    assert cases["q-order"].find("failure").get("type") == "partial-credit"
    assert cases["q-match"].find("failure") is None and cases["q-match"].find("skipped") is None
    assert "pilot" in cases["q-pilot"].find("skipped").get("message")
    assert float(cases["q-single"].get("time")) == 30.0
    carol = next(s for s in suites if s.get("name") == "carol")
    skipped = {c.get("name").split(":")[0]: c.find("skipped") for c in carol.findall("testcase")}
    assert skipped["q-order"].get("message") == "not answered" and skipped["q-match"] is not None
    erin = next(s for s in suites if s.get("name") == "erin")
    assert erin.get("errors") == "1" and erin.find("testcase/error").get("type") == "not-gradable"


def test_formats_parse():
    assert parse_formats(None) == ["csv", "gradescope", "junit", "feedback"]
    assert parse_formats("junit, csv") == ["junit", "csv"]
    with pytest.raises(ValueError, match="pdf"):
        parse_formats("csv,pdf")


def test_key_events_keep_turning_points():
    timeline = [{"time": f"00:00:{i:02d}", "resource": "training-job/t", "kind": "status", "message": f"step {i}",
                 "status": "InProgress"} for i in range(20)]
    timeline[5] = {**timeline[5], "kind": "spot", "message": "Spot capacity reclaimed"}
    timeline[19] = {**timeline[19], "status": "Completed", "message": "Training job completed"}
    assert [e["message"] for e in key_events(timeline)] == ["Spot capacity reclaimed", "Training job completed"]


def test_feedback_for_a_missed_question(tmp_path, monkeypatch):
    """spot.yaml: the student misses spot-two (multi, net_correct): picks spot (right) and gpu (wrong)."""
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(tmp_path / "cache"))
    pack = read_pack(SPOT_PACK)
    right = {q.id: (q.correct_ids[0] if q.type == "single" else list(q.correct_ids)) for q in pack.items()}
    answers = {**right, "spot-two": ["spot", "gpu"]}
    folder = tmp_path / "attempts"
    folder.mkdir()
    write(folder, "sam.attempt.yaml", attempt_for(pack, "sam", answers))
    out = tmp_path / "out"
    assert main(["grade", str(SPOT_PACK), str(folder), "--out", str(out), "--format", "feedback"]) == 1
    text = (out / "feedback" / "sam.md").read_text(encoding="utf-8")
    assert text.startswith("# Feedback for sam: Spot training under interruption")
    assert "Missed questions (1)" in text
    assert "Two settings for cheap, resilient training (`spot-two`)" in text
    assert "> Which TWO settings together make the reclaimed job finish" in text
    assert "- Your answer: spot (EnableManagedSpotTraining); gpu (A GPU instance type)" in text
    assert "- Right answer: spot (EnableManagedSpotTraining); checkpoints (CheckpointConfig)" in text
    assert "Partial credit" not in text  # net_correct: (1 right - 1 wrong) / 2 = 0
    assert "#### The right answer: CheckpointConfig" in text
    assert "- met: `completed`" in text
    assert "- Cost: $" in text and "- Time: " in text and "- Timeline:" in text
    assert "Why not `gpu`: XGBoost on the CPU cores gains nothing from a GPU." in text
    assert "spot-checkpoints" not in text.split("Missed questions")[1]  # a right answer gets no section

    # a second run reads every outcome from the cache: nothing is simulated
    grader = ClassGrader(pack)
    files, _ = attempt_files([folder])
    book = Book(grader, pack_file=SPOT_PACK)
    write_gradebook(grader.grade_class(files), tmp_path / "again", ["feedback"], book)
    assert book.runtime.simulated == 0
    assert (tmp_path / "again" / "feedback" / "sam.md").read_text(encoding="utf-8") == text


def test_feedback_for_not_gradable_and_all_right(tmp_path, pack):
    grader = ClassGrader(pack)
    folder = tmp_path / "a"
    folder.mkdir()
    write(folder, "alice.attempt.yaml", attempt_for(pack, "alice", dict(ALL_RIGHT)))
    write(folder, "erin.attempt.yaml", attempt_for(pack, "erin", {"q-single": "r"}, pack_hash="f" * 64))
    files, _ = attempt_files([folder])
    book = Book(grader, pack_file=CLASS_PACK)
    write_gradebook(grader.grade_class(files), tmp_path / "out", ["feedback"], book)
    alice = (tmp_path / "out" / "feedback" / "alice.md").read_text(encoding="utf-8")
    assert "Every question right." in alice and "**1000**" in alice
    erin = (tmp_path / "out" / "feedback" / "erin.md").read_text(encoding="utf-8")
    assert "was not graded: pack hash mismatch" in erin
    assert book.runtime is None  # nothing missed: no runtime, no simulation
    assert isinstance(FeedbackWriter.outcome({"outcome": {"supported": False, "reason": "x"}}), list)
