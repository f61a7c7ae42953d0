"""``Rendered``: a Rich renderable drawn once per width.

Textual asks a ``Static`` for its height at a width (by rendering it) and then for its lines at
that width (rendering it again), and a layout pass can ask twice (with and without a scroll
bar). A table of thirty rows is a few milliseconds each time, so the outcome view's tables are
wrapped in ``Rendered``, which keeps the lines of the last few widths and yields them again.
The wrapped renderable must not change after it is wrapped (build a new one instead).

Textual measures a ``Static`` with no height and then paints it with the height it measured, so
a table would still be drawn twice; the lines of the wrapped renderables (tables, text, groups of
them, Markdown) do not depend on the height, so a render at a height reuses the render without one
at the same width, cropped to that height (a render that is shorter is drawn again: Rich pads it).
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment

KEEP = 6  # (width, height) renders remembered


class Rendered:
    """``renderable``, rendered at most once per (console, width, options that change the lines)."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._console: Console | None = None
        self._lines: dict[tuple, list[list[Segment]]] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if console is not self._console:
            self._console, self._lines = console, {}
        key = (options.max_width, options.min_width, options.height, options.justify, options.overflow,
               options.no_wrap, options.ascii_only, options.encoding, options.markup, options.highlight)
        lines = self._lines.get(key)
        if lines is None and options.height is not None:
            free = self._lines.get(key[:2] + (None,) + key[3:])
            if free is not None and len(free) >= options.height:
                lines = self._keep(key, free[: options.height])
        if lines is None:
            lines = self._keep(key, console.render_lines(self.renderable, options, pad=False))
        newline = Segment.line()
        for line in lines:
            yield from line
            yield newline

    def _keep(self, key: tuple, lines: list[list[Segment]]) -> list[list[Segment]]:
        if len(self._lines) >= KEEP:
            self._lines.pop(next(iter(self._lines)))
        self._lines[key] = lines
        return lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)
