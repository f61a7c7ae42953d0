"""``SageTutorApp``: the Textual application, its modes and what every screen shares.

Screens are thin: they render the quiz runtime's results and the engine's state and send the
learner's actions back. What they share lives here: the packs found (``catalog``), the
learner's progress store (``sagetutor.progress``; ``None`` with ``store_error`` set when the
database is damaged, so nothing is overwritten), the seed, and ``open_mode`` to move between
modes. Each mode's screen is imported only when first opened, so launching stays fast: Home
needs only the packs' summaries (``catalog``), and once it is on screen a worker parses the
packs and imports the quiz runtime and the engine (``preload``), so the first Practice or Exam
does not wait for them either.
"""

from __future__ import annotations

import gc
import importlib
import os
import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding

from sagetutor.tui.catalog import PackEntry, discover

PRELOAD_AFTER = 1.0  # seconds after Home is painted: parse the packs and import the runtime in the background

#: mode -> "module:Class" of its screen; every screen takes ``(pack: PackEntry | None = None, **kw)``.
MODES = {
    "home": "sagetutor.tui.screens.home:HomeScreen",
    "practice": "sagetutor.tui.screens.practice:PracticeScreen",
    "exam": "sagetutor.tui.screens.exam:ExamScreen",
    "review": "sagetutor.tui.screens.review:ReviewScreen",
    "lab": "sagetutor.tui.screens.lab:LabScreen",
    "notes": "sagetutor.tui.screens.notes:NotesScreen",
    "help": "sagetutor.tui.screens.help:HelpScreen",
}


def _commands() -> type:
    """The command palette's provider, imported when the palette first opens."""
    from sagetutor.tui.screens.help import SageTutorCommands

    return SageTutorCommands


def screen_class(mode: str) -> type:
    module, _, name = MODES[mode].partition(":")
    return getattr(importlib.import_module(module), name)


class SageTutorApp(App[None]):
    """SageTutor in the terminal. ``start`` is "home" or "exam" (``sagetutor exam PACK``)."""

    CSS_PATH = "sagetutor.tcss"
    TITLE = "SageTutor"
    SUB_TITLE = "Amazon SageMaker on a simulator that really runs"
    BINDINGS = [
        Binding("f1", "open('help')", "Help"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    #: The command palette (ctrl+p) offers the main actions: each mode, the theme, help.
    COMMANDS = App.COMMANDS | {_commands}

    def __init__(self, packs: list[PackEntry] | None = None, *, start: str = "home",
                 start_pack: PackEntry | None = None, store: Any = None, seed: int | None = None,
                 store_path: Path | None = None):
        super().__init__()
        self.packs: list[PackEntry] = packs if packs is not None else discover()
        self.start = start
        self.start_pack = start_pack
        self.seed = seed
        self.store_error: str | None = None
        self.store = store if store is not None else self._open_store(store_path)
        #: Held by every worker thread that calls a pack's QuizRuntime: the runtime, its cache and the
        #: engine's process-wide shares are not made for two simulations at once.
        self.runtime_lock = threading.RLock()
        #: Practice simulates a question's plans in the background as soon as it is shown.
        self.warm_outcomes = True
        self.theme = "textual-dark"

    def _open_store(self, path: Path | None):
        try:
            from sagetutor.progress import ProgressError, ProgressStore
        except ImportError:  # the progress layer is optional while it is being built
            return None
        try:
            return ProgressStore.open(path)
        except ProgressError as e:
            self.store_error = str(e)
            return None

    @property
    def usable_packs(self) -> list[PackEntry]:
        return [p for p in self.packs if p.ok]

    def on_mount(self) -> None:
        self.push_screen(screen_class("home")())
        # A moment after Home is painted and answers keys (the learner reads it meanwhile), so the
        # background work does not compete with drawing Home.
        self.call_after_refresh(self.set_timer, PRELOAD_AFTER, self.preload)
        if self.start == "exam":
            self.open_mode("exam", self.start_pack or (self.usable_packs[0] if self.usable_packs else None))
        if self.store_error:
            self.notify(self.store_error + " Your answers will not be saved in this session.",
                        title="Progress not available", severity="error", timeout=20)

    @work(thread=True, exclusive=True, group="preload", exit_on_error=False)
    def preload(self) -> None:
        """Parse the packs Home listed from their summaries and import what Practice needs, in the background.

        Anything that fails here fails again, and is reported, where it is used."""
        for entry in self.usable_packs:
            entry.load()
        import sagetutor.quiz.runtime  # noqa: F401  (the runtime, the engine and its libraries)
        from sagetutor.quiz import shared

        shared.prewarm()  # the botocore clients the simulations share

        # What is loaded now (modules, the packs, Home) lives as long as the app: move it out of
        # the garbage collector's sight, or every full collection walks it again (hundreds of
        # milliseconds with the engine's libraries loaded, at random moments such as a submit).
        # Only young garbage is collected first; anything created from here on is collected as usual.
        gc.collect(1)
        gc.freeze()

    def open_mode(self, mode: str, pack: PackEntry | None = None, **kw: Any) -> None:
        """Push the screen of ``mode`` (see MODES) for ``pack``."""
        self.push_screen(screen_class(mode)(pack, **kw) if mode != "home" else screen_class(mode)())

    def action_open(self, mode: str) -> None:
        """Open ``mode`` for the pack the current screen shows (else the first usable pack)."""
        if mode == "home":
            while len(self.screen_stack) > 2:  # the default screen, then home
                self.pop_screen()
            return
        pack = getattr(self.screen, "pack", None)
        if pack is None and mode not in ("home", "notes", "help"):
            pack = self.usable_packs[0] if self.usable_packs else None
        self.open_mode(mode, pack)

    def on_outcome_view_note_requested(self, message: Any) -> None:
        """An outcome's study-note button (``OutcomeView.NoteRequested``): open that note."""
        self.open_mode("notes", getattr(self.screen, "pack", None), topic=message.topic)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()


def run(paths: list[str] | None = None, start: str = "home") -> int:
    """Launch the app on the bundled packs plus ``paths``; ``start="exam"`` opens the first given pack's exam."""
    extra = [Path(p) for p in paths or []]
    missing = [str(p) for p in extra if not p.exists()]
    if missing:
        import sys

        for m in missing:
            print(f"{m}: no such file or folder", file=sys.stderr)
        return 2
    packs = discover(extra)
    start_pack = None
    if extra:
        given = [p for p in packs if p.origin == "command line"]
        start_pack = next((p for p in given if p.ok), None)
    seed = int(os.environ["SAGETUTOR_SEED"]) if os.environ.get("SAGETUTOR_SEED", "").isdigit() else None
    SageTutorApp(packs, start=start, start_pack=start_pack, seed=seed).run()
    return 0
