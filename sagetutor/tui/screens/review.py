"""Spaced review: the topics due today, and a question or the study note for each.

``ReviewScreen(pack=None)``. Topics (``spot-training``, ``batch-transform``...) are scheduled by
FSRS in the progress store from the learner's answers (wrong -> Again, right but slow or
flagged -> Hard, right -> Good; ``ProgressStore.rating_for``). The screen lists the due topics,
most overdue first, with how overdue each is and how many questions the usable packs have on
it. For the highlighted topic, ``p`` (or Enter) practises its questions (``open_mode("practice",
pack, question_ids=...)``, the pack with the most questions on the topic, ``pack`` first) and
``n`` opens its study note. With nothing due it says when the next topic is due. The list is
read again whenever the screen comes back (after a practice session, say).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Static

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

#: How far ahead "when is the next topic due" looks.
HORIZON = timedelta(days=3650)


def how_long(delta: timedelta) -> str:
    """``5 min``, ``3 h``, ``2 days`` (never negative)."""
    s = max(0.0, delta.total_seconds())
    if s < 90:
        return "1 min" if s >= 30 else "less than a minute"
    if s < 90 * 60:
        return f"{round(s / 60)} min"
    if s < 36 * 3600:
        return f"{round(s / 3600)} h"
    days = round(s / 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def overdue_text(due: datetime, now: datetime) -> str:
    late = now - due
    if late < timedelta(minutes=1):
        return "due now"
    return f"overdue by {how_long(late)}"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class ReviewScreen(Screen):
    """Topics due for review (see the module docstring). ``now`` is for tests (default: the wall clock)."""

    BINDINGS = [
        Binding("p", "practise", "Practise topic"),
        Binding("n", "note", "Study note"),
        Binding("r", "reload", "Refresh", show=False),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    ReviewScreen #review-body { height: 1fr; padding: 0 1; }
    ReviewScreen #review-summary { height: auto; padding: 1 1; }
    ReviewScreen #review-topics { height: 1fr; }
    ReviewScreen #review-detail { height: auto; padding: 0 1; color: $text-muted; }
    ReviewScreen #review-buttons { height: auto; padding: 0 1; }
    ReviewScreen #review-buttons Button { margin-right: 1; }
    """

    def __init__(self, pack: PackEntry | None = None, *, now: Callable[[], datetime] | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.entry = pack
        self.now = now or (lambda: datetime.now(UTC))
        self.due: list[Any] = []
        self.next_due: Any = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="review-body"):
            yield Static("", id="review-summary")
            yield DataTable(id="review-topics", cursor_type="row", zebra_stripes=True)
            yield Static("", id="review-detail")
            with Horizontal(id="review-buttons"):
                yield Button("Practise this topic", id="review-practise", variant="primary")
                yield Button("Read the study note", id="review-note")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Review: topics due today"
        table = self.query_one("#review-topics", DataTable)
        table.add_columns("topic", "due", "last rating", "reviews", "questions")
        self.reload()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.reload()

    # -- data ------------------------------------------------------------------------------------
    def packs(self) -> list[PackEntry]:
        packs = list(getattr(self.app, "usable_packs", []))
        if self.entry is not None and self.entry.ok:
            packs = [self.entry] + [p for p in packs if p is not self.entry and p.path != self.entry.path]
        return packs

    def questions_on(self, topic: str) -> list[tuple[PackEntry, list[str]]]:
        """Each usable pack's questions whose topics include ``topic``, the best-stocked pack first
        (the screen's own pack wins a tie)."""
        found = []
        for entry in self.packs():
            ids = [q.id for q in entry.pack.items() if topic in (q.topics or [])]
            if ids:
                found.append((entry, ids))
        found.sort(key=lambda x: -len(x[1]))  # stable: the screen's pack stays first among equals
        return found

    def reload(self) -> None:
        store = getattr(self.app, "store", None)
        summary = self.query_one("#review-summary", Static)
        table = self.query_one("#review-topics", DataTable)
        table.clear()
        self.due, self.next_due = [], None
        if store is None:
            why = getattr(self.app, "store_error", None)
            summary.update("Review needs your progress, which is not available in this session"
                           + (f": {why}" if why else "."))
            self._show_controls(False)
            return
        now = _utc(self.now())
        self.due = list(store.due_topics(at=now))
        if not self.due:
            upcoming = store.due_topics(at=now + HORIZON)
            self.next_due = upcoming[0] if upcoming else None
            if self.next_due is None:
                summary.update("Nothing to review yet. Answer some questions in Practice or an Exam: each topic "
                               "you meet is then scheduled for review (FSRS).")
            else:
                when = _utc(self.next_due.due)
                local = when.astimezone().strftime("%a %d %b %H:%M")
                summary.update(f"Nothing is due now. Next: [b]{self.next_due.topic}[/b] in "
                               f"{how_long(when - now)} ({local}).")
            self._show_controls(False)
            return
        n = len(self.due)
        summary.update(f"[b]{n} topic{'s' if n != 1 else ''} due[/b], most overdue first. "
                       "p practises the highlighted topic, n opens its study note.")
        for d in self.due:
            count = sum(len(ids) for _, ids in self.questions_on(d.topic))
            table.add_row(d.topic, overdue_text(_utc(d.due), now), d.last_rating, str(d.reviews),
                          str(count) if count else "none", key=d.topic)
        self._show_controls(True)
        table.focus()
        self._describe()

    def _show_controls(self, show: bool) -> None:
        self.query_one("#review-topics").display = show
        self.query_one("#review-buttons").display = show
        self.query_one("#review-detail").display = show

    def selected_topic(self) -> str | None:
        if not self.due:
            return None
        table = self.query_one("#review-topics", DataTable)
        if not table.row_count:
            return None
        row = max(0, min(table.cursor_row, table.row_count - 1))
        return str(table.coordinate_to_cell_key((row, 0)).row_key.value)

    def _describe(self) -> None:
        topic = self.selected_topic()
        if topic is None:
            return
        found = self.questions_on(topic)
        if found:
            entry, ids = found[0]
            more = f" (and {sum(len(i) for _, i in found[1:])} in other packs)" if len(found) > 1 else ""
            text = f"{topic}: {len(ids)} question(s) in {entry.title}{more}."
        else:
            text = f"{topic}: no question in the loaded packs; read its study note."
        self.query_one("#review-detail", Static).update(text)
        self.query_one("#review-practise", Button).disabled = not found

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_practise()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "review-practise":
            self.action_practise()
        elif event.button.id == "review-note":
            self.action_note()

    # -- actions ---------------------------------------------------------------------------------
    def action_practise(self) -> None:
        topic = self.selected_topic()
        if topic is None:
            return
        found = self.questions_on(topic)
        if not found:
            self.notify(f"No loaded pack has a question on {topic}. Try its study note (n).", severity="warning")
            return
        entry, ids = found[0]
        self.app.open_mode("practice", entry, question_ids=ids)

    def action_note(self) -> None:
        topic = self.selected_topic()
        if topic is not None:
            self.app.open_mode("notes", None, topic=topic)

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.dismiss()
