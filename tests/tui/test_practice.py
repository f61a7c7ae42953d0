"""Practice, driven headless through the real app: answer, outcome, progress, dispute."""

from __future__ import annotations

import json

import pytest
from textual.widgets import RadioSet, Select, SelectionList

from sagetutor.tui.screens.practice import PracticeScreen
from sagetutor.tui.widgets.outcome import OutcomeView, RunPanel
from sagetutor.tui.widgets.question import OrderList, QuestionView

from .helpers import settle, text_of


async def open_practice(pilot, pack_index: int = 0, ids=None) -> PracticeScreen:
    app = pilot.app
    app.open_mode("practice", app.packs[pack_index], question_ids=ids)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PracticeScreen)
    return screen


@pytest.mark.asyncio
async def test_single_answer_shows_outcome_bill_and_requirements(make_app):
    app = make_app(packs=["spot"])
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_practice(pilot)
        assert screen.question_id == "spot-checkpoints"
        assert isinstance(app.focused, RadioSet)
        await pilot.press("down", "enter")  # B: Spot without checkpoints
        assert screen.query_one(QuestionView).answer == "spot"
        await pilot.press("ctrl+s")
        await settle(pilot)
        result = screen.results["spot-checkpoints"]
        assert result["answer"] == "spot" and result["correct"] is False
        outcome = screen.query_one(OutcomeView)
        mine = outcome.query_one("#run-mine", RunPanel)
        best = outcome.query_one("#run-best", RunPanel)
        assert (mine.key, best.key) == ("spot", "spot-checkpoints")
        total = result["runs"]["spot"]["outcome"]["bill"]["total"]
        assert mine.total == total
        panel = text_of(mine)  # one renderable: requirements, key facts, timeline, bill
        assert "$" + total in panel
        assert "✘ cost.total is minimal" in panel and "✔ survived_interruption" in panel
        assert "00:00:00" in panel
        assert "Cost per option" in text_of(outcome.query_one(".cost-chart"))
        # recorded in the progress store, topics reviewed
        history = app.store.history("quiz-spot")
        assert [(h.question_id, h.correct) for h in history] == [("spot-checkpoints", False)]
        assert "spot-checkpoints" in app.store.missed("quiz-spot")


@pytest.mark.asyncio
async def test_multi_needs_n_choices_and_next_previous(make_app):
    app = make_app(packs=["spot"])
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_practice(pilot)
        await pilot.press("n")
        assert screen.question_id == "spot-two"
        view = screen.query_one(QuestionView)
        sl = view.query_one(SelectionList)
        changes = []
        sl.select(sl.get_option_at_index(0).value)
        await pilot.pause()
        assert not view.answered
        q = view.question
        sl.deselect_all()
        for o in q.options:
            if o.correct:
                sl.select(o.id)
        await pilot.pause()
        assert view.answered and sorted(view.answer) == sorted(q.correct_ids)
        changes.append(view.answer)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.results["spot-two"]["correct"] is True
        assert "Correct" in text_of(screen.query_one(".verdict"))
        await pilot.press("p")
        assert screen.question_id == "spot-checkpoints"
        await pilot.press("p")  # the first question stays
        assert screen.question_id == "spot-checkpoints"


@pytest.mark.asyncio
async def test_ordering_moves_with_keys_and_runs_both_orders(make_app):
    app = make_app(packs=["flows"])
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_practice(pilot, ids=["serve-in-order"])
        view = screen.query_one(QuestionView)
        ol = view.query_one(OrderList)
        assert ol.order != view.question.correct_order  # never starts solved
        assert view.answer is None
        ol.focus()
        ol.index = 0
        first = ol.order[0]
        await pilot.press("ctrl+down")
        assert ol.order[1] == first and ol.index == 1
        await pilot.press("left_square_bracket")
        assert ol.order[0] == first
        assert view.answered and view.answer == ol.order
        await pilot.press("ctrl+s")
        await settle(pilot)
        result = screen.results["serve-in-order"]
        assert result["answer"] == ol.order
        assert screen.query_one("#run-best", RunPanel).key == "order:train,deploy,invoke"


@pytest.mark.asyncio
async def test_matching_has_no_runs_and_gives_feedback(make_app):
    app = make_app(packs=["flows"])
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_practice(pilot, ids=["pick-algorithms"])
        view = screen.query_one(QuestionView)
        for p in view.question.prompts:
            view.query_one(f"#match-{p.id}", Select).value = p.answer
        await pilot.pause()
        assert view.answered and view.answer == view.question.answer_key
        await pilot.press("ctrl+s")
        await settle(pilot)
        outcome = screen.query_one(OutcomeView)
        assert not outcome.query(RunPanel)
        assert screen.results["pick-algorithms"]["correct"] is True


@pytest.mark.asyncio
async def test_submit_without_answer_warns(make_app):
    app = make_app(packs=["spot"])
    app.warm_outcomes = False
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_practice(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not screen.results and not screen.query(OutcomeView)


@pytest.mark.asyncio
async def test_dispute_writes_the_errata_line(make_app, private_dirs):
    app = make_app(packs=["spot"])
    app.warm_outcomes = False
    async with app.run_test(size=(100, 32)) as pilot:
        await open_practice(pilot)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press(*"The bill is wrong")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen)
    errata = private_dirs / "errata" / "quiz-spot.jsonl"
    entry = json.loads(errata.read_text().splitlines()[-1])
    assert entry["question_id"] == "spot-checkpoints"
    assert entry["comment"] == "The bill is wrong"
    assert entry["pack_title"] == "Spot training under interruption"
