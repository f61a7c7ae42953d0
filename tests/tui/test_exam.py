"""The timed exam, driven headless through the real app: answer, flag, time out, score; resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sagetutor.grading.attempt import load_attempt
from sagetutor.grading.draw import pack_hash
from sagetutor.tui.app import SageTutorApp
from sagetutor.tui.catalog import PackEntry, load_entry

SIZE = (100, 32)

PACK = """\
pack:
  format: 1
  id: tiny-exam
  title: Tiny exam
  version: "1.0"
  exam: SAA-C03
  seed: 3
  blueprint:
    questions: 4
    minutes: 4
    pass_mark: 720
    pass_percent: 72
    domains: {secure: 50, cost: 50}
questions:
"""

QUESTION = """\
  - id: q{n}
    type: single
    title: Question {n}
    domain: {domain}
    topics: [{topic}]
    stem: Which option is number one?
    options:
      - {{id: a, text: Option one, feedback: Right., correct: {a}}}
      - {{id: b, text: Option two, feedback: Wrong.}}
      - {{id: c, text: Option three, feedback: Wrong.}}
      - {{id: d, text: Option four, feedback: Wrong., correct: {d}}}
"""


def write_pack(folder: Path, name: str = "tiny.yaml") -> Path:
    text = PACK
    topics = ["spot-training", "batch-transform", "real-time-inference", "model-monitor"]
    for n in range(1, 5):
        text += QUESTION.format(n=n, domain="secure" if n % 2 else "cost", topic=topics[n - 1],
                                a="true", d="false")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def student_entry(folder: Path) -> PackEntry:
    """The tiny pack as handed to students: the same questions with no option marked correct
    (the loader refuses such a file, so the entry is built from the loaded pack)."""
    entry = load_entry(write_pack(folder), "command line")
    pack = entry.pack.model_copy(deep=True)
    for q in pack.items():
        for o in q.options:
            o.correct = False
    return PackEntry(entry.path, entry.origin, pack, entry.content_hash)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGETUTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


async def settle(pilot, app, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def open_exam(pilot, app, entry, clock):
    from sagetutor.tui.screens.exam import ExamScreen

    app.open_mode("exam", entry, clock=clock, tick=0.02)
    await settle(pilot, app)
    screen = app.screen
    assert isinstance(screen, ExamScreen)
    return screen


async def choose(pilot, screen, letter: str) -> None:
    """Pick an option of the current single-answer question with the keyboard, as a learner does."""
    from textual.widgets import RadioSet

    radio = screen.query_one(RadioSet)
    radio.focus()
    await pilot.pause()
    for _ in range("abcd".index(letter)):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()


@pytest.mark.asyncio
async def test_exam_to_the_score_by_time_out(dirs):
    from sagetutor.tui.screens.exam_result import ExamAnswerScreen, ExamResultScreen

    entry = load_entry(write_pack(dirs), "command line")
    clock = FakeClock()
    app = SageTutorApp([entry], seed=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exam(pilot, app, entry, clock)
        assert len(screen.question_ids) == 4 and screen.seconds_allowed == 240
        first = screen.current_id
        await choose(pilot, screen, "a")                       # right
        assert screen.answers == {first: "a"}
        await pilot.press("ctrl+f")                            # flag it
        assert screen.flags == {first}
        clock.now += 20
        await pilot.press("ctrl+right")
        second = screen.current_id
        assert second != first
        await choose(pilot, screen, "b")                       # wrong
        grid = screen.query_one("#exam-grid")
        assert grid.answered == {0, 1} and grid.flagged == {0}
        assert "⏱" in str(screen.query_one("#exam-clock").render())

        await pilot.click("#exam-grid", offset=(2 * 4 + 1, 0))   # the grid jumps: cell 3
        assert screen.index == 2
        await pilot.press("ctrl+g", "left", "enter")           # and by keyboard: cell 2
        assert screen.current_id == second

        stored = app.store.unfinished_exam("tiny-exam")
        assert stored.answers == {first: "a", second: "b"} and stored.flags == {first}

        clock.now += 300                                       # past the 4 minutes
        await pilot.pause(0.1)
        await settle(pilot, app)
        result = app.screen
        assert isinstance(result, ExamResultScreen)
        s = result.summary
        assert s["reason"] == "timeout" and s["raw_percent"] == 25.0 and s["passed"] is False
        shown = " ".join(str(w.render()) for w in result.query("Static"))
        assert "estimate" in shown and "FAIL" in shown
        bars = str(result.query_one("#result-domains").render())
        assert "secure" in bars and "cost" in bars and "█" in bars
        table = result.query_one("#result-review")
        assert table.row_count == 4

        # the store has the exam finished, its answers (mode="exam") and the topics scheduled
        assert app.store.unfinished_exam("tiny-exam") is None
        history = app.store.history("tiny-exam")
        assert len(history) == 4 and {r.mode for r in history} == {"exam"}
        assert {r.question_id for r in history if r.correct} == {first}
        later = datetime.now(UTC) + timedelta(minutes=2)   # wrong -> Again (1 min); right, flagged -> Hard
        due = {d.topic for d in app.store.due_topics(at=later)}
        topics = {q.id: q.topics[0] for q in entry.pack.items()}
        assert due == {topics[q] for q in screen.question_ids if q != first}

        # a question opens what the answer did
        table.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, ExamAnswerScreen)
        assert app.screen.result is not None
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is result


@pytest.mark.asyncio
async def test_submit_asks_first(dirs):
    from sagetutor.tui.screens.exam import ConfirmModal
    from sagetutor.tui.screens.exam_result import ExamResultScreen

    entry = load_entry(write_pack(dirs), "command line")
    app = SageTutorApp([entry], seed=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exam(pilot, app, entry, FakeClock())
        await choose(pilot, screen, "a")
        for qid in screen.question_ids[1:]:
            screen.set_answer("a", qid)                         # what the question view reports
        await pilot.pause()
        assert screen.query_one("#exam-grid").answered == {0, 1, 2, 3}
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")                             # keep working
        await pilot.pause()
        assert app.screen is screen and screen.running
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.click("#yes")
        await settle(pilot, app)
        assert isinstance(app.screen, ExamResultScreen)
        s = app.screen.summary
        assert s["reason"] == "submitted" and s["scaled"] == 1000 and s["passed"]
        assert "PASS" in str(app.screen.query_one("#result-verdict").render())


@pytest.mark.asyncio
async def test_resume_an_interrupted_exam(dirs):
    from sagetutor.tui.screens.exam import ExamScreen, ResumeExamModal

    entry = load_entry(write_pack(dirs), "command line")
    clock = FakeClock()
    app = SageTutorApp([entry], seed=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exam(pilot, app, entry, clock)
        order = list(screen.question_ids)
        await choose(pilot, screen, "a")
        clock.now += 30
        await pilot.press("ctrl+right")
        await choose(pilot, screen, "c")
        await pilot.press("ctrl+f")
        clock.now += 30
        await pilot.press("ctrl+right")                         # saves the time left: 240 - 60
        await pilot.pause()
    # the app is gone, as if the learner closed it mid-exam

    clock2 = FakeClock()
    app2 = SageTutorApp([load_entry(write_pack(dirs), "command line")], seed=99)
    async with app2.run_test(size=SIZE) as pilot:
        app2.open_mode("exam", app2.packs[0], clock=clock2, tick=0.02)
        await settle(pilot, app2)
        assert isinstance(app2.screen, ResumeExamModal)
        assert "left" in str(app2.screen.query_one("#resume-info").render())
        await pilot.click("#resume")
        await settle(pilot, app2)
        screen = app2.screen
        assert screen.question_ids == order                     # same draw, not the new app's seed
        assert screen.answers == {order[0]: "a", order[1]: "c"}
        assert screen.flags == {order[1]}
        assert abs(screen.remaining() - 180) < 1
        assert screen.current_id == order[2]                   # first unanswered question
        assert screen.query_one("#exam-grid").answered == {0, 1}
        assert "3:00" in str(screen.query_one("#exam-clock").render())

        # leave (the exam stays open), come back, abandon it: a new exam starts
        first_id = screen.exam_id
        await pilot.press("escape")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        assert not isinstance(app2.screen, ExamScreen)
        assert app2.store.unfinished_exam("tiny-exam").seconds_remaining == pytest.approx(180, abs=1)
        app2.open_mode("exam", app2.packs[0], clock=clock2, tick=0.02)
        await settle(pilot, app2)
        assert isinstance(app2.screen, ResumeExamModal)
        await pilot.click("#abandon")
        await settle(pilot, app2)
        assert isinstance(app2.screen, ExamScreen)
        assert app2.screen.exam_id != first_id and app2.screen.answers == {}
        assert app2.store.unfinished_exam("tiny-exam").id == app2.screen.exam_id


@pytest.mark.asyncio
async def test_student_pack_writes_an_attempt_file(dirs):
    from sagetutor.tui.screens.exam_result import ExamResultScreen

    entry = student_entry(dirs)
    clock = FakeClock()
    app = SageTutorApp([entry], seed=5)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exam(pilot, app, entry, clock)
        assert screen.student
        await choose(pilot, screen, "b")
        clock.now += 999
        await pilot.pause(0.1)
        await settle(pilot, app)
        assert isinstance(app.screen, ExamResultScreen)
        path = Path(app.screen.summary["attempt_file"])
        assert path.parent == dirs / "data" / "attempts" and path.name.endswith("-tiny-exam.attempt.yaml")
        record = load_attempt(path)  # the classroom attempt format (docs/classroom.md), as headless exams write it
        assert record.pack_id == "tiny-exam" and record.pack_version == "1.0"
        assert record.pack_hash == pack_hash(entry.pack) and record.seed == 5
        assert record.questions == list(screen.question_ids)
        assert record.answers[screen.question_ids[0]] == "b"
        assert record.started_at <= record.ended_at
        assert str(path) in str(app.screen.query_one("#result-score").render())
