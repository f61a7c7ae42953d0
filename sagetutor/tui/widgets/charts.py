"""Small pictures of an outcome: text bars (costs per option, latency percentiles, metrics)
and a series (instance counts over an endpoint's life).

Both are plain Rich renderables (``bar_table``, ``series_text``), so they are deterministic in
snapshots, readable in any terminal, cheap to lay out and can be built off the UI thread; the
bar of the best value is marked. ``BarChart`` is a ``Static`` around ``bar_table``;
``SeriesChart`` draws a series with Textual's ``Sparkline`` where a widget that stretches is
wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline, Static

from sagetutor.tui.widgets.render import Rendered

BLOCKS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"


def bar(value: float, largest: float, width: int) -> str:
    """A horizontal bar of ``value`` on a scale where ``largest`` fills ``width`` cells (eighth cells)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")


def bar_table(values: dict[str, float], *, title: str | None = None,
              fmt: Callable[[float], str] = lambda v: f"{v:g}", highlight: Sequence[str] = (),
              marks: dict[str, str] | None = None, width: int = 24) -> Table:
    """Labelled horizontal bars as a Rich table (what ``BarChart`` shows)."""
    highlight = set(highlight)
    marks = marks or {}
    table = Table(show_header=False, box=None, pad_edge=False, show_edge=False, expand=False,
                  title=title, title_justify="left", title_style="bold")
    table.add_column("label", overflow="fold", max_width=34)
    table.add_column("bar", no_wrap=True, min_width=width)
    table.add_column("value", justify="right", no_wrap=True)
    largest = max([v for v in values.values() if v is not None] or [0])
    for label, value in values.items():
        style = "bold green" if label in highlight else ""
        mark = marks.get(label, "")
        table.add_row(Text(label + (f" {mark}" if mark else ""), style=style),
                      Text(bar(value or 0, largest, width), style="green" if label in highlight else "cyan"),
                      fmt(value) if value is not None else "-")
    return table


def series_text(series: Sequence[float], *, title: str, unit: str = "", width: int = 40) -> Text:
    """A titled one-line sparkline of ``series`` (at most ``width`` cells, each the max of its steps)."""
    values = [float(x) for x in series]
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    head = (f"{title}: {lo:g}–{hi:g}{unit} over {len(values)} steps" if lo != hi
            else f"{title}: {hi:g}{unit} throughout")
    out = Text(head, style="bold")
    cells = min(width, len(values)) or 1
    buckets = [values[i * len(values) // cells:max((i + 1) * len(values) // cells, i * len(values) // cells + 1)]
               for i in range(cells)] if values else [[0.0]]
    line = "".join(SPARKS[0] if hi == lo else SPARKS[round((max(b) - lo) / (hi - lo) * (len(SPARKS) - 1))]
                   for b in buckets)
    out.append("\n" + line, style="not bold green")
    return out


class BarChart(Static):
    """Labelled horizontal bars: ``BarChart({"A": 1.0, "B": 2.5}, fmt=str, highlight={"A"})``."""

    def __init__(self, values: dict[str, float], *, title: str | None = None,
                 fmt: Callable[[float], str] = lambda v: f"{v:g}", highlight: Sequence[str] = (),
                 marks: dict[str, str] | None = None, width: int = 24, id: str | None = None,
                 classes: str | None = None) -> None:
        self.values = dict(values)
        self.title = title
        self.fmt = fmt
        self.highlight = set(highlight)
        self.marks = marks or {}
        self.width = width
        super().__init__(Rendered(self._table()), id=id, classes=("bar-chart " + (classes or "")).strip())

    def _table(self) -> Table:
        return bar_table(self.values, title=self.title, fmt=self.fmt, highlight=self.highlight, marks=self.marks,
                         width=self.width)


class SeriesChart(Vertical):
    """A titled ``Sparkline`` of a series (instance counts, latency over time), with its range."""

    def __init__(self, series: Sequence[float], *, title: str, unit: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=("series-chart " + (classes or "")).strip())
        self.series = [float(x) for x in series]
        self.title = title
        self.unit = unit

    def compose(self) -> ComposeResult:
        lo, hi = (min(self.series), max(self.series)) if self.series else (0, 0)
        yield Label(Text(f"{self.title}: {lo:g}–{hi:g}{self.unit} over {len(self.series)} steps"
                         if lo != hi else f"{self.title}: {hi:g}{self.unit} throughout", style="bold"))
        yield Sparkline(self.series or [0], summary_function=max)
