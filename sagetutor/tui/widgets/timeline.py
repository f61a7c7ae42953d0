"""An outcome's event timeline in virtual time: ``HH:MM:SS``, the resource and what happened.

``TimelineView(events, *, limit=None, title=None)`` takes the outcome's ``timeline`` list (and
an optional heading drawn above it). Spot, fault and
checkpoint events stand out, since they are usually what the question is about. Events past
``limit`` are summarised in one line so a long traffic run does not bury the rest.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from sagetutor.tui.widgets.render import Rendered

KIND_STYLES = {"spot": "bold yellow", "fault": "bold red", "checkpoint": "cyan", "scaling": "magenta",
               "billing": "dim", "traffic": "blue"}


def short_resource(resource: str) -> str:
    """The resource's own name: ``training-job/train`` -> ``train`` (the message says what it is)."""
    return resource.rsplit("/", 1)[-1]


def timeline_table(events: list[dict] | None, *, limit: int | None = 40, title: str | None = None) -> Table:
    """The timeline as a Rich table (what ``TimelineView`` shows; the outcome view's run panels
    draw it inside their own renderable)."""
    events = list(events or [])
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None, show_header=False,
                  title=title, title_justify="left", title_style="bold")
    table.add_column("time", no_wrap=True, style="bold", width=8)
    table.add_column("resource", overflow="ellipsis", no_wrap=True, style="dim", max_width=14)
    table.add_column("message", ratio=4, overflow="fold")
    shown = events if limit is None else events[:limit]
    previous = None
    for e in shown:
        style = KIND_STYLES.get(e.get("kind", ""), "")
        resource = short_resource(e.get("resource", ""))
        table.add_row(e.get("time", ""), resource if resource != previous else "",
                      Text(e.get("message", ""), style=style))
        previous = resource
    hidden = len(events) - len(shown)
    if hidden > 0:
        last = events[-1]
        table.add_row("…", "", Text(f"{hidden} more events, the last at {last.get('time', '')}: "
                                    f"{last.get('message', '')}", style="dim italic"))
    if not events:
        table.add_row("", "", Text("no events", style="dim"))
    return table


class TimelineView(Static):
    """The events of one run, oldest first."""

    def __init__(self, events: list[dict] | None, *, limit: int | None = 40, title: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        self.events = list(events or [])
        self.limit = limit
        self.title = title
        super().__init__(Rendered(timeline_table(self.events, limit=limit, title=title)), id=id,
                         classes=("timeline " + (classes or "")).strip())
