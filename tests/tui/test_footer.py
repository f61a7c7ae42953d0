"""The key bar: rebuilt when the keys it shows change, not on every focus change."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from sagetutor.tui.widgets.footer import KeyFooter


class _Extra(Button):
    BINDINGS = [Binding("x", "noop", "Extra")]

    def action_noop(self) -> None:
        pass


class _Bar(App):
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Button("one", id="one")
        yield Button("two", id="two")
        yield _Extra("three", id="three")
        yield KeyFooter()


def _keys(app: App) -> list[str]:
    return [k.key for k in app.screen.query(FooterKey)]


@pytest.mark.asyncio
async def test_moving_focus_between_widgets_with_the_same_keys_keeps_the_key_widgets():
    app = _Bar()
    async with app.run_test() as pilot:
        app.query_one("#one").focus()
        await pilot.pause()
        before = list(app.screen.query(FooterKey))
        assert [k.key for k in before] == ["ctrl+q"]
        app.query_one("#two").focus()
        await pilot.pause()
        assert list(app.screen.query(FooterKey)) == before  # the same widgets: nothing was rebuilt


@pytest.mark.asyncio
async def test_focus_on_a_widget_with_its_own_key_shows_it_and_leaving_hides_it():
    app = _Bar()
    async with app.run_test() as pilot:
        app.query_one("#one").focus()
        await pilot.pause()
        app.query_one("#three").focus()
        await pilot.pause()
        assert _keys(app) == ["x", "ctrl+q"]
        app.query_one("#two").focus()
        await pilot.pause()
        assert _keys(app) == ["ctrl+q"]
