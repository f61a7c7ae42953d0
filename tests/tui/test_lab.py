"""The lab screen: configure a Spot run with an injected reclaim, run it in the worker, see it live and kept."""

from __future__ import annotations

import importlib.util

import pytest
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, Static, Switch

from sagetutor.tui import app as app_module
from sagetutor.tui.app import SageTutorApp
from sagetutor.tui.screens.lab import LabScreen


@pytest.fixture
def lab_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGETUTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(tmp_path / "cache"))
    if importlib.util.find_spec("sagetutor.tui.screens.home") is None:  # the home screen is built elsewhere
        monkeypatch.setitem(app_module.MODES, "home", f"{__name__}:_Home")


class _Home(Screen):
    pass


def _rows(table: DataTable) -> list[str]:
    return [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def _open_lab(app, pilot) -> LabScreen:
    app.open_mode("lab", pace=0)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, LabScreen)
    return screen


@pytest.mark.asyncio
async def test_spot_run_with_reclaim_resumes_live_and_is_kept(lab_env):
    app = SageTutorApp(packs=[], seed=7)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await _open_lab(app, pilot)
        screen.query_one("#lab-dataset", Select).value = "breast-cancer"
        screen.query_one("#lab-algorithm", Select).value = "xgboost"
        screen.query_one("#lab-spot", Switch).value = True
        screen.query_one("#lab-checkpoints", Switch).value = True
        screen.query_one("#lab-interrupt", Switch).value = True
        screen.query_one("#lab-interrupt-min", Input).value = "10"
        screen.query_one("#lab-rows", Input).value = "20000000"
        screen.query_one("#lab-deployment", Select).value = "none"
        await pilot.pause()
        config = screen.read_config()
        assert config.spot and config.checkpoints and config.interrupt_after_minutes == 10
        await pilot.press("ctrl+r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

        timeline = _rows(screen.query_one("#lab-timeline", DataTable))
        assert any("Spot capacity reclaimed at round" in r for r in timeline)
        assert any("Resumed from checkpoint at round" in r for r in timeline)
        total = str(screen.query_one("#lab-total", Static).render())
        assert "$0.0" in total and total != "Total so far: $0.000000"
        assert screen.query_one("#lab-bill", DataTable).row_count >= 1
        compare = screen.query_one("#lab-compare", DataTable)
        assert compare.row_count == 1
        row = " ".join(str(c) for c in compare.get_row_at(0))
        assert "xgboost/breast-cancer" in row and "Completed" in row
        assert screen.last_summary is not None and screen.last_summary.resumes == 1
        assert not screen.running


@pytest.mark.asyncio
async def test_form_at_80x24_refuses_a_bad_value_and_adapts_when_wider(lab_env):
    app = SageTutorApp(packs=[], seed=7)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_lab(app, pilot)
        assert not screen.has_class("wide")
        screen.query_one("#lab-count", Input).value = "0"
        await pilot.pause()
        assert "instance_count" in str(screen.query_one("#lab-notes", Static).render())
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not screen.running and len(screen.history) == 0

        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert screen.has_class("wide")
        screen.query_one("#lab-dataset", Select).value = "blobs"
        await pilot.pause()
        algo = screen.query_one("#lab-algorithm", Select)
        assert algo.value in ("kmeans", "pca")
        assert {v for _, v in algo._options if v is not Select.NULL} == {"kmeans", "pca"}


@pytest.mark.asyncio
async def test_stop_binding_stops_the_run_and_keeps_it(lab_env):
    app = SageTutorApp(packs=[], seed=7)
    async with app.run_test(size=(100, 32)) as pilot:
        app.open_mode("lab", pace=0.2)
        await pilot.pause()
        screen = app.screen
        await pilot.press("ctrl+r")
        for _ in range(200):  # until the first snapshot is on screen
            if screen.last_snapshot is not None:
                break
            await pilot.pause(0.05)
        assert screen.running
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.running
        assert screen.last_summary is not None and screen.last_summary.stopped_by_user
        assert screen.query_one("#lab-compare", DataTable).row_count == 1
