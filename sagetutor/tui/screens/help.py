"""Help: what each mode does and every key binding, read from the screens themselves; and the
command palette's provider (``SageTutorCommands``) with the main actions.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Markdown

from sagetutor.tui.app import screen_class
from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

MODES_TEXT = {
    "home": ("Home", "The packs found (bundled, yours, from the command line; broken ones with their first "
                     "problem), your progress by exam domain, the practice filters and the modes."),
    "practice": ("Practice", "One question at a time. Submit runs your choice and the best one on the "
                             "simulated SageMaker: requirements met or not, the timeline in virtual time, the "
                             "itemized bill, feedback, explanation and study notes. Answers are saved to your "
                             "progress."),
    "exam": ("Exam", "A timed exam drawn from the pack's blueprint, scored as AWS scores, with an estimated "
                     "scaled score. It can be resumed."),
    "review": ("Review", "Spaced repetition: the topics that are due, and the questions you missed."),
    "lab": ("Lab", "The simulator itself: run a plan and watch its timeline and bill."),
    "notes": ("Notes", "The study notes behind every topic, with exam tips."),
    "help": ("Help", "This page. The command palette (ctrl+p) offers the same actions by name."),
}
KEY_NAMES = {"question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]", "slash": "/",
             "escape": "esc"}


def key_text(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(k, k) for k in keys.split(","))


def bindings_of(cls: type) -> list[Binding]:
    out = []
    for b in getattr(cls, "BINDINGS", []):
        if isinstance(b, Binding):
            out.append(b)
        elif isinstance(b, tuple):
            out.append(Binding(*b))
    return out


def help_markdown(app_cls: type | None = None) -> str:
    """Every mode and its bindings, from each screen class that can be imported."""

    from sagetutor.tui.screens.dispute import DisputeScreen
    from sagetutor.tui.widgets.question import OrderList

    lines = ["# SageTutor", "",
             "Scenario questions whose options **run** on a simulated SageMaker. Everything works with the "
             "keyboard (the footer shows the keys of the screen you are on) and with the mouse.", ""]
    if app_cls is not None:
        lines += ["## Everywhere", "", "| key | action |", "|---|---|"]
        lines += [f"| `{key_text(b.key)}` | {b.description or b.action} |" for b in bindings_of(app_cls)]
        lines += ["| `ctrl+p` | command palette: every mode, theme, help |", ""]
    for mode, (title, text) in MODES_TEXT.items():
        lines += [f"## {title}", "", text, ""]
        try:
            cls = screen_class(mode)
        except Exception:
            continue
        rows = [b for b in bindings_of(cls) if b.description]
        if mode == "practice":
            rows += [b for b in bindings_of(OrderList) if b.description]
        if rows:
            lines += ["| key | action |", "|---|---|"]
            lines += [f"| `{key_text(b.key)}` | {b.description} |" for b in rows]
            lines.append("")
        if mode == "practice":
            lines += ["A question shows its options as radio buttons (one answer), a checklist (*Choose N*), a "
                      "list to put in order (ordering) or a drop-down per prompt (matching).", "",
                      "**Dispute** opens a comment box: " + ", ".join(
                          f"`{key_text(b.key)}` {b.description.lower()}" for b in bindings_of(DisputeScreen)) + ".",
                      ""]
    return "\n".join(lines)


class HelpScreen(Screen):
    """Every binding and what each mode does."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, pack: PackEntry | None = None, **_: Any) -> None:
        super().__init__()
        self.pack = pack

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="help-scroll"):
            yield Markdown(help_markdown(type(self.app)), id="help-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Help"
        self.query_one("#help-scroll").focus()

    def action_back(self) -> None:
        self.app.pop_screen()


class SageTutorCommands(Provider):
    """The command palette's SageTutor actions: open each mode, toggle the theme, help."""

    def _commands(self) -> list[tuple[str, Any, str]]:
        app = self.app
        out = []
        for mode, (title, text) in MODES_TEXT.items():
            out.append((f"Open {title}", partial(app.action_open, mode), text))
        out.append(("Toggle light/dark theme", app.action_toggle_theme, "Switch between the light and dark theme"))
        return out

    async def discover(self) -> Hits:
        for name, callback, text in self._commands():
            yield DiscoveryHit(name, callback, help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=text)
