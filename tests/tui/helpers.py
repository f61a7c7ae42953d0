"""Reading what widgets show, as plain text (for assertions that do not depend on layout)."""

from __future__ import annotations

from rich.console import Console


def text_of(widget, width: int = 160) -> str:
    """A Static's content rendered to plain text by Rich at ``width`` columns."""
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


async def settle(pilot) -> None:
    """Let workers finish and the screen catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
