"""Dispute a question: a modal with a comment box that appends a line to the pack's errata.

``DisputeScreen(pack_id, question_id, *, pack_title="", pack_version="")`` is a
``ModalScreen[Path | None]``: it dismisses with the errata file it wrote to
(``sagetutor.progress.add_dispute``), or ``None`` when cancelled.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea


class DisputeScreen(ModalScreen[Path | None]):
    """Say what is wrong with a question; the comment goes to the pack's errata file."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, pack_id: str, question_id: str, *, pack_title: str = "", pack_version: str = "") -> None:
        super().__init__()
        self.pack_id = pack_id
        self.question_id = question_id
        self.pack_title = pack_title
        self.pack_version = pack_version

    def compose(self) -> ComposeResult:
        with Vertical(id="dispute-dialog"):
            yield Label(Text(f"Dispute {self.question_id}", style="bold"))
            yield Label(Text("What is wrong with this question, its answer or its outcome? "
                             "The comment is saved for the pack's authors.", style="dim"))
            yield TextArea(id="dispute-comment")
            with Horizontal(id="dispute-buttons"):
                yield Button("Save [ctrl+s]", id="dispute-save", variant="primary", compact=True)
                yield Button("Cancel [esc]", id="dispute-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "dispute-save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        comment = self.query_one(TextArea).text.strip()
        if not comment:
            self.notify("Write what is wrong first.", severity="warning")
            return
        try:
            from sagetutor.progress import add_dispute

            path = add_dispute(self.pack_id, self.question_id, comment, pack_title=self.pack_title,
                               pack_version=self.pack_version)
        except Exception as e:  # ImportError, ProgressError, OSError: say so and keep the text
            self.notify(f"The dispute was not saved: {e}", severity="error", timeout=15)
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
