"""Study notes: the Markdown files in ``content/`` (one per topic key), listed in the order of
``content/index.md``, read in a Markdown view. Links between notes open the linked note.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Markdown, OptionList
from textual.widgets.option_list import Option

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

LINK = re.compile(r"\[([^\]]+)\]\(([A-Za-z0-9_.-]+)\.md\)(?:\s*[—-]\s*(.*))?")


def note_index(folder: Path | None) -> list[tuple[str, str]]:
    """(topic, title) of every note: index.md's order first, then any note it does not list."""
    if folder is None:
        return []
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    index = folder / "index.md"
    if index.is_file():
        for m in LINK.finditer(index.read_text(encoding="utf-8")):
            topic = m.group(2)
            if topic not in seen and (folder / f"{topic}.md").is_file():
                seen.add(topic)
                out.append((topic, (m.group(3) or m.group(1)).strip()))
    for p in sorted(folder.glob("*.md")):
        if p.stem not in seen and p.stem not in ("index", "README"):
            seen.add(p.stem)
            out.append((p.stem, p.stem.replace("-", " ")))
    return out


class NotesScreen(Screen):
    """Browse the study notes; ``topic`` opens that note first."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("tab", "focus_next", "Switch pane", show=False),
        Binding("slash", "focus_list", "Notes list"),
    ]

    def __init__(self, pack: PackEntry | None = None, topic: str | None = None, **_: Any) -> None:
        super().__init__()
        self.pack = pack
        self.topic = topic
        from sagetutor.quiz.runtime import content_dir

        self.folder = content_dir()
        self.notes = note_index(self.folder)
        self.pack_topics = ({t for q in pack.pack.items() for t in q.topics} if pack is not None and pack.ok
                            else set())

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="notes-body"):
            options = []
            for topic, title in self.notes:
                t = Text(topic, style="bold" if topic in self.pack_topics else "")
                t.append(f"\n  {title}", style="dim")
                options.append(Option(t, id=topic))
            yield OptionList(*options, id="notes-list")
            with VerticalScroll(id="note-scroll"):
                yield Markdown(id="note", open_links=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Study notes"
        ol = self.query_one("#notes-list", OptionList)
        if not self.notes:
            self.query_one("#note", Markdown).update("No study notes were found (`content/` is missing).")
            return
        topics = [t for t, _ in self.notes]
        start = self.topic if self.topic in topics else topics[0]
        if self.topic and self.topic not in topics:
            self.notify(f"No study note for '{self.topic}' yet.", severity="warning")
        ol.highlighted = topics.index(start)
        self.open_note(start)
        ol.focus()

    def open_note(self, topic: str) -> None:
        """Show the note of ``topic`` (its file ``content/<topic>.md``)."""
        if self.folder is None:
            return
        path = self.folder / f"{topic}.md"
        if not path.is_file():
            self.notify(f"No study note for '{topic}'.", severity="warning")
            return
        self.topic = topic
        self.query_one("#note", Markdown).update(path.read_text(encoding="utf-8"))
        self.query_one("#note-scroll", VerticalScroll).scroll_home(animate=False)
        self.sub_title = f"Study notes · {topic}"

    @on(OptionList.OptionHighlighted, "#notes-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.topic:
            self.open_note(event.option.id)

    @on(OptionList.OptionSelected, "#notes-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#note-scroll").focus()

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        href = event.href
        m = re.fullmatch(r"(?:\./)?([A-Za-z0-9_.-]+)\.md(?:#.*)?", href)
        if m:
            event.prevent_default()
            topics = [t for t, _ in self.notes]
            if m.group(1) in topics:
                self.query_one("#notes-list", OptionList).highlighted = topics.index(m.group(1))
            self.open_note(m.group(1))
        elif href.startswith(("http://", "https://")):
            event.prevent_default()
            self.app.open_url(href)

    def action_focus_list(self) -> None:
        self.query_one("#notes-list").focus()

    def action_back(self) -> None:
        self.app.pop_screen()
