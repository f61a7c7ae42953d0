"""Practice: one question at a time, run on the simulator, with the outcome beside the best choice.

As soon as a question is shown a background worker warms its outcomes
(``QuizRuntime.simulate_all``: every runnable plan, cached in memory and on disk), so
submitting is usually instant. Submitting runs ``QuizRuntime.answer`` in a worker thread too,
which also builds the outcome view's renderables (``prepare_outcome``), so the UI thread only
mounts them; the screen never blocks, and shows a loading indicator when the answer takes
longer than ``LOADING_DELAY`` (a warmed answer does not flash one). Every runtime call holds
``app.runtime_lock``. Each answer is recorded in the progress store (when there is one) and
reviews the question's topics for spaced repetition.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, LoadingIndicator, Static
from textual.worker import get_current_worker

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter
from sagetutor.tui.widgets.outcome import OutcomeView, prepare_outcome
from sagetutor.tui.widgets.question import QuestionView

SLOW_SECONDS = 120  # an answer slower than this reviews its topics as "hard"
LOADING_DELAY = 0.25  # seconds: the loading indicator shows only when an answer takes longer


class PracticeScreen(Screen):
    """Practice the questions ``question_ids`` of ``pack`` (default: all) at ``seed``."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit"),
        Binding("enter", "submit", "Submit", show=False),
        Binding("n", "next", "Next"),
        Binding("p", "previous", "Previous"),
        Binding("f", "flag", "Flag"),
        Binding("d", "dispute", "Dispute"),
        Binding("o", "notes", "Notes"),
        Binding("escape", "home", "Home"),
    ]

    def __init__(self, pack: PackEntry | None = None, question_ids: list[str] | None = None,
                 seed: int | None = None, **_: Any) -> None:
        super().__init__()
        if pack is None:
            raise ValueError("practice needs a pack")
        self.pack = pack
        self.question_ids = list(question_ids) if question_ids else list(pack.question_ids)
        self._seed = seed
        self.index = 0
        self.results: dict[str, dict] = {}  # question id -> the last answer's result
        self.answers: dict[str, Any] = {}
        self.flagged: set[str] = set()
        self.shown_at = 0.0
        self.resolved: Any = None
        self.busy = False
        self._loading_timer: Any = None

    @property
    def seed(self) -> int:
        if self._seed is not None:
            return int(self._seed)
        app_seed = getattr(self.app, "seed", None)
        return int(app_seed) if app_seed is not None else self.pack.pack.pack.seed

    @property
    def question_id(self) -> str:
        return self.question_ids[self.index]

    @property
    def runtime_lock(self) -> Any:
        import threading

        return getattr(self.app, "runtime_lock", None) or threading.RLock()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="practice-status", classes="status-line")
        with VerticalScroll(id="practice-body"):
            yield Vertical(id="question-box")
            yield LoadingIndicator(id="loading")
            yield Static(id="working", classes="working")
            yield Vertical(id="outcome-box")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"Practice · {self.pack.title}"
        self.query_one("#loading").display = False
        self.query_one("#working").display = False
        self.show_question()

    # -- showing a question ----------------------------------------------------------------------
    def show_question(self) -> None:
        qid = self.question_id
        self.resolved = self.pack.runtime().resolve(qid, self.seed)
        box = self.query_one("#question-box", Vertical)
        box.remove_children()
        outcome_box = self.query_one("#outcome-box", Vertical)
        outcome_box.remove_children()
        outcome_box.styles.min_height = None
        view = QuestionView(self.resolved, answer=self.answers.get(qid))
        box.mount(view)
        self.call_after_refresh(view.focus_answer)
        self.shown_at = time.monotonic()
        self._status()
        if qid in self.results:
            self.call_later(self._show_outcome, self.results[qid])
        if getattr(self.app, "warm_outcomes", True):
            self.warm(qid, self.seed)

    def _status(self, extra: str = "") -> None:
        qid = self.question_id
        t = Text(f"Question {self.index + 1} of {len(self.question_ids)}", style="bold")
        t.append(f"  ·  {qid}  ·  seed {self.seed}", style="dim")
        if qid in self.flagged:
            t.append("  ·  ⚑ flagged", style="yellow")
        if qid in self.results:
            r = self.results[qid]
            verdict = "✔ right" if r.get("correct") else f"score {float(r.get('score', 0.0)):.2f}"
            t.append(f"  ·  {verdict}", style="green" if r.get("correct") else "red")
        if extra:
            t.append("  ·  " + extra, style="italic")
        self.query_one("#practice-status", Static).update(t)

    @work(thread=True, exclusive=True, group="warm")
    def warm(self, qid: str, seed: int) -> None:
        """Simulate every runnable plan of the question now, so submitting reads the cache."""
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        with self.runtime_lock:
            if worker.is_cancelled:
                return
            try:
                self.pack.runtime().simulate_all(qid, seed)
            except Exception:  # the answer worker reports errors; warming is only a head start
                return
        # Collect the garbage of the simulations and of the screens left behind now, while the
        # learner reads, rather than in a full collection that would otherwise fall at random,
        # quite possibly between submitting and the outcome.
        if not worker.is_cancelled:
            gc.collect()

    # -- answering -------------------------------------------------------------------------------
    def action_submit(self) -> None:
        if self.busy:
            return
        view = self.query_one(QuestionView)
        answer = view.answer
        if answer is None:
            hint = " (move an item, or press space to keep the order)" if view.question.type == "ordering" else ""
            self.notify("Choose an answer first" + hint + ".", severity="warning")
            return
        self.busy = True
        self.answers[self.question_id] = answer
        box = self.query_one("#outcome-box", Vertical)
        if box.children:
            box.remove_children()
        # Make room for the outcome and scroll there now, while the answer runs: when it comes the
        # screen is laid out and painted once, already at the outcome.
        body = self.query_one("#practice-body")
        box.styles.min_height = max(1, body.scrollable_content_region.height)
        self.call_after_refresh(self._scroll_to_outcome)
        self._loading_timer = self.set_timer(LOADING_DELAY, self._show_loading)
        question = self.resolved.question if self.resolved else None
        self.run_answer(self.question_id, answer, self.seed, time.monotonic() - self.shown_at,
                        self.question_id in self.flagged, question)

    def _show_loading(self) -> None:
        """The answer is taking a while (nothing was warmed yet): say so."""
        if not self.busy:
            return
        self.query_one("#loading").display = True
        working = self.query_one("#working", Static)
        working.update(Text("Running your choice and the best one on the simulator…", style="italic"))
        working.display = True

    def _hide_loading(self) -> None:
        if self._loading_timer is not None:
            self._loading_timer.stop()
            self._loading_timer = None
        for wid in ("#loading", "#working"):
            widget = self.query_one(wid)
            if widget.display:
                widget.display = False

    @work(thread=True, exclusive=True, group="answer")
    def run_answer(self, qid: str, answer: Any, seed: int, seconds: float, flagged: bool,
                   question: Any = None) -> None:
        try:
            with self.runtime_lock:
                result = self.pack.runtime().answer(qid, answer, seed=seed)
        except Exception as e:
            self.app.call_from_thread(self._answer_failed, qid, f"{type(e).__name__}: {e}")
            return
        try:  # the view's renderables, built here so the UI thread only mounts them
            prepared = prepare_outcome(result, question=question)
        except Exception:  # the view builds them itself (and reports a problem there)
            prepared = None
        self.app.call_from_thread(self._answered, qid, result, seconds, flagged, prepared)

    def _answer_failed(self, qid: str, message: str) -> None:
        self.busy = False
        self._hide_loading()
        self.query_one("#outcome-box").styles.min_height = None
        self.notify(message, title="Could not run this answer", severity="error", timeout=15)

    async def _answered(self, qid: str, result: dict, seconds: float, flagged: bool, prepared: Any = None) -> None:
        self.busy = False
        self.results[qid] = result
        self._record(qid, result, seconds, flagged)
        if qid == self.question_id:
            self._status()
            await self._show_outcome(result, prepared)
        else:
            self._hide_loading()

    async def _show_outcome(self, result: dict, prepared: Any = None) -> None:
        # One batch: the screen is laid out and painted once, with the whole view, not once per
        # part as its widgets mount.
        with self.app.batch_update():
            self._hide_loading()
            box = self.query_one("#outcome-box", Vertical)
            if box.children:
                await box.remove_children()
            view = OutcomeView(result, question=self.resolved.question if self.resolved else None,
                               prepared=prepared)
            await box.mount(view)
        self.call_after_refresh(self._scroll_to_outcome)

    def _scroll_to_outcome(self) -> None:
        box = self.query_one("#outcome-box")
        body = self.query_one("#practice-body")
        if box.children or box.styles.min_height is not None:
            body.scroll_to_widget(box, top=True, animate=False)

    def _record(self, qid: str, result: dict, seconds: float, flagged: bool) -> None:
        store = getattr(self.app, "store", None)
        if store is None:
            return
        q = self.resolved.question if self.resolved and self.resolved.question.id == qid else \
            self.pack.pack.question(qid)
        try:
            store.record_answer(pack_id=self.pack.pack_id, question_id=qid, domain=q.domain, topics=list(q.topics),
                                answer=result.get("answer"), correct=bool(result.get("correct")),
                                score=float(result.get("score", 0.0)), seconds=round(seconds, 3),
                                flagged=flagged, mode="practice")
            rating = store.rating_for(correct=bool(result.get("correct")), slow=seconds > SLOW_SECONDS,
                                      flagged=flagged)
            for topic in q.topics:
                store.review(topic, rating)
        except Exception as e:  # never lose the outcome because the history could not be written
            self.notify(f"Your answer was not saved: {e}", severity="error", timeout=10)

    # -- navigation and the rest -----------------------------------------------------------------
    def _go(self, index: int) -> None:
        if not 0 <= index < len(self.question_ids) or index == self.index:
            if index >= len(self.question_ids):
                self.notify("That was the last question. Escape goes back home.")
            return
        view = self.query_one(QuestionView)
        if view.answer is not None and self.question_id not in self.results:
            self.answers[self.question_id] = view.answer
        self.index = index
        self.busy = False
        self.show_question()

    def action_next(self) -> None:
        self._go(self.index + 1)

    def action_previous(self) -> None:
        self._go(self.index - 1)

    def action_flag(self) -> None:
        qid = self.question_id
        self.flagged.symmetric_difference_update({qid})
        self._status()

    def action_notes(self) -> None:
        topics = self.resolved.question.topics if self.resolved else []
        self.app.open_mode("notes", self.pack, topic=topics[0] if topics else None)

    def action_home(self) -> None:
        self.app.pop_screen()

    def action_dispute(self) -> None:
        from sagetutor.tui.screens.dispute import DisputeScreen

        qid = self.question_id
        info = self.pack.pack.pack

        def saved(path: Any) -> None:
            if path:
                self.notify(f"Saved to {path}", title="Question disputed", timeout=10)

        self.app.push_screen(DisputeScreen(self.pack.pack_id, qid, pack_title=info.title,
                                           pack_version=str(info.version)), saved)
