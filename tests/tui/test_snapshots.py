"""Snapshots of Home and a Practice outcome at 80x24 and 120x40, seed 7, dark theme.

Nothing on these screens reads the wall clock (the header has no clock; outcomes are in
virtual time), and the fixture packs are listed by origin, not path, so the SVGs are stable.
Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after a deliberate change.
"""

from __future__ import annotations

import pytest

from .helpers import settle

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, make_app, size):
    app = make_app(packs=["spot", "nightly", "flows"])
    app.warm_outcomes = False
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_practice_outcome(snap_compare, make_app, size):
    app = make_app(packs=["nightly"])

    async def answer(pilot):
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("down", "enter", "ctrl+s")  # B: the real-time endpoint, a wrong choice
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=answer)
