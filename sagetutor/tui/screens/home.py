"""Home: the packs found, progress by domain and the practice filters; the modes are the footer's keys.

The modes are not repeated as buttons: the footer already shows each one's key, and a mouse
click on it works too (six buttons were a twentieth of the time to the first screen).

The pack list shows every pack the catalog found (bundled, yours, command line) with its
question count; a pack that did not load is listed with its first problem and cannot be
chosen. The filters (domain, topic, scope, only missed) pick the questions Practice gets.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Header, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

MODE_KEYS = (("practice", "p", "Practice"), ("exam", "e", "Exam"), ("review", "r", "Review"),
             ("lab", "l", "Lab"), ("notes", "n", "Notes"), ("help", "question_mark", "Help"))
SCOPES = (("every question", "all"), ("exam scope only", "exam"), ("beyond SAA-C03 only", "beyond"))
BEYOND = "beyond-saa-c03"


def filter_questions(pack: PackEntry, *, domain: str | None = None, topic: str | None = None,
                     scope: str = "all", only: set[str] | None = None) -> list[str]:
    """The question ids of ``pack`` that pass the filters (``scope``: all, exam, beyond)."""
    out = []
    for q in pack.questions:
        if domain and q.domain != domain:
            continue
        if topic and topic not in q.topics:
            continue
        if scope == "exam" and q.scope == BEYOND or scope == "beyond" and q.scope != BEYOND:
            continue
        if only is not None and q.id not in only:
            continue
        out.append(q.id)
    return out


class HomeScreen(Screen):
    """Choose a pack and a mode."""

    BINDINGS = [
        *[Binding(key, f"mode('{mode}')", label) for mode, key, label in MODE_KEYS],
        Binding("m", "toggle_missed", "Only missed", show=False),
    ]

    def __init__(self, pack: PackEntry | None = None, **_: Any) -> None:
        super().__init__()
        self._initial = pack
        self._options: dict[str, list[str]] = {}  # what each filter Select lists now

    @property
    def pack(self) -> PackEntry | None:
        """The pack highlighted in the list (None when no usable pack is highlighted)."""
        try:
            ol = self.query_one("#packs", OptionList)
        except Exception:
            return self._initial
        if ol.highlighted is None:
            return None
        entry = self.app.packs[ol.highlighted]
        return entry if entry.ok else None

    def _start(self) -> int | None:
        """The pack highlighted first: the one asked for if it loads, else the first that loads."""
        packs = self.app.packs
        start = next((i for i, p in enumerate(packs) if p is self._initial and p.ok), None)
        return start if start is not None else next((i for i, p in enumerate(packs) if p.ok), None)

    @staticmethod
    def _filter_values(pack: PackEntry | None) -> dict[str, list[str]]:
        questions = pack.questions if pack else []
        return {"domain": sorted({q.domain for q in questions if q.domain}),
                "topic": sorted({t for q in questions for t in q.topics})}

    def compose(self) -> ComposeResult:
        start = self._start()
        # the filters are filled for the first pack here, not after mounting: refilling a Select
        # rebuilds its overlay, and three of those were a fifth of the time to the first screen
        self._options = self._filter_values(self.app.packs[start] if start is not None else None)
        yield Header()
        with Horizontal(id="home-body"):
            with Vertical(id="home-left"):
                yield Label(Text("Packs", style="bold"), classes="section")
                yield OptionList(*[self._pack_option(i, p) for i, p in enumerate(self.app.packs)], id="packs")
                yield Static(id="progress", classes="progress")
            with VerticalScroll(id="home-right"):
                yield Label(Text("Practice filters", style="bold"), classes="section")
                yield Select([(d, d) for d in self._options["domain"]], prompt="any domain", id="domain",
                             compact=True)
                yield Select([(t, t) for t in self._options["topic"]], prompt="any topic", id="topic", compact=True)
                yield Select(list(SCOPES), value="all", allow_blank=False, id="scope", compact=True)
                yield Checkbox("only questions I missed", id="missed", compact=True)
                yield Static(id="match-count", classes="match-count")
        yield KeyFooter()

    @staticmethod
    def _pack_option(index: int, p: PackEntry) -> Option:
        if p.ok:
            t = Text(p.title, style="bold")
            t.append(f"\n  {p.origin} · {len(p.question_ids)} questions · {p.exam}", style="dim")
            return Option(t, id=f"pack-{index}")
        t = Text(p.path.name, style="bold red")
        problem = p.problems[0] if p.problems else "does not load"
        t.append(f"\n  {p.origin} · broken: {problem}", style="red")
        return Option(t, id=f"pack-{index}", disabled=True)

    def on_mount(self) -> None:
        ol = self.query_one("#packs", OptionList)
        start = self._start()
        if start is not None:
            ol.highlighted = start
        ol.focus()
        self.refresh_pack()

    def on_screen_resume(self) -> None:
        self.refresh_pack()  # progress may have changed in practice or an exam

    @on(OptionList.OptionHighlighted, "#packs")
    def _pack_highlighted(self) -> None:
        self.refresh_pack()

    def refresh_pack(self) -> None:
        """Fill the filters and the progress for the highlighted pack."""
        pack = self.pack
        values = self._filter_values(pack)
        for name, options in values.items():
            if options == self._options.get(name):
                continue  # the same choices: keep the Select (and the learner's choice) as it is
            select = self.query_one(f"#{name}", Select)
            keep = select.value
            select.set_options([(v, v) for v in options])
            if keep in options:
                select.value = keep
        self._options = values
        self._show_progress(pack)
        self._update_count()

    def _show_progress(self, pack: PackEntry | None) -> None:
        box = self.query_one("#progress", Static)
        store = getattr(self.app, "store", None)
        if pack is None or store is None:
            box.update(Text(self.app.store_error or "", style="red") if getattr(self.app, "store_error", None)
                       else "")
            return
        try:
            progress = store.domain_progress(pack.pack_id)
        except Exception as e:  # a damaged store must not stop the home screen
            box.update(Text(f"progress not available: {e}", style="red"))
            return
        if not progress:
            box.update(Text("No answers recorded for this pack yet.", style="dim"))
            return
        t = Text("Progress by domain", style="bold")
        for domain, p in sorted(progress.items()):
            filled = round(p.percent / 10)
            t.append(f"\n{domain or 'other':<12} ")
            t.append("█" * filled, style="green")
            t.append("░" * (10 - filled), style="dim")
            t.append(f" {p.percent:3.0f}%  {p.correct}/{p.answered}")
        box.update(t)

    def selected_questions(self) -> list[str]:
        """The question ids Practice gets: the highlighted pack's, filtered."""
        pack = self.pack
        if pack is None:
            return []
        d = self.query_one("#domain", Select).value
        t = self.query_one("#topic", Select).value
        scope = self.query_one("#scope", Select).value
        only = None
        if self.query_one("#missed", Checkbox).value:
            store = getattr(self.app, "store", None)
            only = set(store.missed(pack.pack_id)) if store is not None else set()
        return filter_questions(pack, domain=d if isinstance(d, str) else None,
                                topic=t if isinstance(t, str) else None,
                                scope=scope if isinstance(scope, str) else "all", only=only)

    def _update_count(self) -> None:
        pack = self.pack
        label = self.query_one("#match-count", Static)
        if pack is None:
            label.update(Text("No usable pack: add one with `sagetutor pack new`.", style="yellow"))
            return
        n = len(self.selected_questions())
        label.update(Text(f"{n} of {len(pack.question_ids)} questions match", style="bold" if n else "yellow"))

    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _filters_changed(self) -> None:
        self._update_count()

    def action_toggle_missed(self) -> None:
        box = self.query_one("#missed", Checkbox)
        box.value = not box.value

    def action_mode(self, mode: str) -> None:
        pack = self.pack
        if mode in ("notes", "help"):
            self.app.open_mode(mode, pack)
            return
        if pack is None:
            self.notify("Choose a pack that loads first.", severity="warning")
            return
        if mode == "practice":
            ids = self.selected_questions()
            if not ids:
                self.notify("No question matches these filters.", severity="warning")
                return
            self.app.open_mode("practice", pack, question_ids=ids)
            return
        try:
            self.app.open_mode(mode, pack)
        except (ImportError, AttributeError):
            self.notify(f"The {mode} mode is not available in this build yet.", severity="warning")
