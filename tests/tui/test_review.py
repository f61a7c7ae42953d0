"""Spaced review: the topics the learner got wrong come due, and each leads to practice or its note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sagetutor.tui.app import SageTutorApp
from sagetutor.tui.catalog import load_entry
from tests.tui.test_exam import write_pack

SIZE = (100, 32)


@pytest.mark.asyncio
async def test_wrong_answers_make_their_topics_due(tmp_path, monkeypatch):
    from sagetutor.tui.screens.notes import NotesScreen
    from sagetutor.tui.screens.practice import PracticeScreen
    from sagetutor.tui.screens.review import ReviewScreen

    monkeypatch.setenv("SAGETUTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(tmp_path / "cache"))
    entry = load_entry(write_pack(tmp_path), "command line")
    items = {q.id: q for q in entry.pack.items()}
    app = SageTutorApp([entry], seed=5)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with app.run_test(size=SIZE) as pilot:
        store = app.store
        # the learner answered q1 right and q2 wrong, as practice or an exam records it
        for qid, correct in (("q1", True), ("q2", False)):
            q = items[qid]
            store.record_answer(pack_id="tiny-exam", question_id=qid, domain=q.domain, topics=q.topics,
                                answer="a" if correct else "b", correct=correct, score=float(correct),
                                seconds=30, flagged=False, mode="practice", at=t0)
            for topic in q.topics:
                store.review(topic, store.rating_for(correct=correct, slow=False, flagged=False), at=t0)

        # right after: nothing due yet; the screen says when the next topic is
        app.push_screen(ReviewScreen(entry, now=lambda: t0 + timedelta(seconds=10)))
        await pilot.pause()
        summary = str(app.screen.query_one("#review-summary").render())
        assert "Nothing is due now" in summary and "batch-transform" in summary
        await pilot.press("escape")
        await pilot.pause()

        # two minutes later the wrong answer's topic (Again: 1 min) is due, the right one's (Good) is not
        app.open_mode("review", entry, now=lambda: t0 + timedelta(minutes=2))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert [d.topic for d in screen.due] == items["q2"].topics == ["batch-transform"]
        table = screen.query_one("#review-topics")
        assert table.row_count == 1
        row = [str(c) for c in table.get_row_at(0)]
        assert row[0] == "batch-transform" and row[1] == "overdue by 1 min" and row[2] == "again"
        assert "1 question(s) in Tiny exam" in str(screen.query_one("#review-detail").render())

        await pilot.press("p")                                  # practise the topic's questions
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen)
        assert app.screen.question_ids == ["q2"]
        app.pop_screen()
        await pilot.pause()

        await pilot.press("n")                                  # its study note
        await pilot.pause()
        assert isinstance(app.screen, NotesScreen) and app.screen.topic == "batch-transform"
