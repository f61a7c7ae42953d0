"""Home (packs, filters, progress), notes, help and the command palette, headless."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Markdown, OptionList, Select

from sagetutor.tui.catalog import load_entry
from sagetutor.tui.screens.help import HelpScreen, SageTutorCommands, help_markdown
from sagetutor.tui.screens.home import HomeScreen, filter_questions
from sagetutor.tui.screens.notes import NotesScreen, note_index
from sagetutor.tui.screens.practice import PracticeScreen

from .helpers import text_of


@pytest.mark.asyncio
async def test_home_lists_packs_and_broken_ones(make_app, pack_entry, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack:\n  format: 1\n  id: Bad Id\n")
    app = make_app(packs=[pack_entry("spot"), pack_entry("flows"), load_entry(bad, "yours")])
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        home = app.screen
        assert isinstance(home, HomeScreen)
        ol = home.query_one("#packs", OptionList)
        assert ol.option_count == 3
        shown = [str(ol.get_option_at_index(i).prompt) for i in range(3)]
        assert "Spot training under interruption" in shown[0] and "2 questions" in shown[0]
        assert "bad.yaml" in shown[2] and "broken" in shown[2]
        assert ol.get_option_at_index(2).disabled
        assert home.pack is app.packs[0]
        assert "2 of 2 questions match" in text_of(home.query_one("#match-count"))


@pytest.mark.asyncio
async def test_home_filters_feed_practice(make_app):
    app = make_app(packs=["flows", "spot"])
    app.warm_outcomes = False  # nothing is answered here
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        home = app.screen
        assert home.pack.pack_id == "quiz-flows"
        home.query_one("#topic", Select).value = "batch-transform"
        await pilot.pause()
        assert home.selected_questions() == ["clinic-scoring", "clinic-speed"]
        assert "2 of 5 questions match" in text_of(home.query_one("#match-count"))
        await pilot.press("p")
        await pilot.pause()
        practice = app.screen
        assert isinstance(practice, PracticeScreen)
        assert practice.question_ids == ["clinic-scoring", "clinic-speed"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is home
        # only the questions I missed: none recorded yet, then one
        home.query_one("#topic", Select).clear()
        home.query_one("#missed", Checkbox).value = True
        await pilot.pause()
        assert home.selected_questions() == []
        app.store.record_answer(pack_id="quiz-flows", question_id="pick-algorithms", domain=None,
                                topics=["built-in-algorithms"], answer={}, correct=False, score=0.0, seconds=3.0)
        assert home.selected_questions() == ["pick-algorithms"]
        await pilot.press("p")
        await pilot.pause()
        assert app.screen.question_ids == ["pick-algorithms"]


def test_filter_scope(pack_entry):
    flows = pack_entry("flows")
    everything = filter_questions(flows)
    assert everything == flows.question_ids
    assert filter_questions(flows, scope="beyond") == [q.id for q in flows.pack.items()
                                                       if q.scope == "beyond-saa-c03"]
    assert filter_questions(flows, scope="exam") == [q.id for q in flows.pack.items()
                                                     if q.scope != "beyond-saa-c03"]


@pytest.mark.asyncio
async def test_home_shows_progress_by_domain(make_app):
    app = make_app(packs=["nightly"])
    qid = app.packs[0].question_ids[0]
    app.store.record_answer(pack_id=app.packs[0].pack_id, question_id=qid, domain="cost", topics=[],
                            answer="x", correct=True, score=1.0, seconds=5.0)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        text = text_of(app.screen.query_one("#progress"))
        assert "Progress by domain" in text and "cost" in text and "100%" in text and "1/1" in text


@pytest.mark.asyncio
async def test_notes_open_a_note_and_follow_the_list(make_app):
    app = make_app(packs=["spot"])
    async with app.run_test(size=(100, 32)) as pilot:
        app.open_mode("notes", app.packs[0], topic="spot-training")
        await pilot.pause()
        notes = app.screen
        assert isinstance(notes, NotesScreen) and notes.topic == "spot-training"
        assert "Managed Spot Training" in notes.query_one("#note", Markdown).source
        ol = notes.query_one("#notes-list", OptionList)
        ol.focus()
        await pilot.press("down")
        await pilot.pause()
        assert notes.topic != "spot-training"
        assert notes.query_one("#note", Markdown).source.startswith("#")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


def test_note_index_follows_content_index():
    from sagetutor.quiz.runtime import content_dir

    topics = [t for t, _ in note_index(content_dir())]
    assert topics[:2] == ["ground-truth", "active-learning"]
    assert "spot-training" in topics and "index" not in topics


@pytest.mark.asyncio
async def test_help_lists_every_binding(make_app):
    app = make_app(packs=["spot"])
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text", Markdown).source
        for needle in ("`ctrl+s` | Submit", "`n` | Next", "`d` | Dispute", "`ctrl+up / [` | Move up",
                       "`ctrl+t` | Theme", "`f1` | Help", "## Practice", "## Notes"):
            assert needle in text, needle
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


@pytest.mark.asyncio
async def test_command_palette_offers_modes_and_theme(make_app):
    app = make_app(packs=["spot"])
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        provider = SageTutorCommands(app.screen)
        names = [hit.text async for hit in provider.discover()]
        assert "Open Practice" in names and "Open Notes" in names and "Toggle light/dark theme" in names
        hits = [hit async for hit in provider.search("notes")]
        assert hits
        hits[0].command()
        await pilot.pause()
        assert isinstance(app.screen, NotesScreen)
        before = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != before


def test_help_markdown_without_app():
    assert "## Practice" in help_markdown()
