"""The timed exam: the pack's blueprint, a countdown, flags, a question grid, no feedback until the end.

``ExamScreen(pack, resume=None)``. What a caller may rely on:

* **The draw** (``plan_exam``) is deterministic in (pack, seed): the blueprint's number of
  questions, split across its domains by weight (largest remainder), a case study's questions
  always together, up to ``unscored`` of the pack's own pilot items (``scored: false``) among
  them, in a seeded order. A pack with fewer questions than the blueprint gives all of them and
  the time shrinks in proportion. Without a blueprint: every question, 2 minutes each.
* **Persistence.** Every answer and flag is written to the progress store when it changes, the
  remaining time every ``SAVE_EVERY`` seconds, on every move between questions and when the
  screen closes, so a killed app loses at most the answer being typed and a few seconds. On
  opening, an unfinished exam of the pack is offered for resuming (with the time it had left)
  or abandoning. Leaving the exam keeps it open; its clock stops until it is resumed.
* **The end** (submit after a confirmation, or time out): scoring runs in a worker thread
  (``QuizRuntime.exam``), the answers go to the store (``mode="exam"``) with one spaced-
  repetition review per topic, and the result screen replaces this one. A student pack (no
  answer key) writes an attempt file (``sagetutor.grading.attempt``, YAML) instead and shows where it is,
  with no score; with a ``student_id`` it draws that student's exam (``sagetutor.grading.draw``).
* **The clock** is a callable returning seconds (``time.monotonic`` by default); tests pass
  their own and a short ``tick``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Header, Label, Static

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

#: Seconds between saves of the remaining time while the clock runs.
SAVE_EVERY = 5.0
#: An answer that took longer than this many times the exam's time per question is "slow".
SLOW_FACTOR = 1.5
#: The clock turns to a warning below this many seconds.
LOW_TIME = 300


# -- the draw ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExamPlan:
    """The questions of one exam, in order, and the seconds allowed."""

    question_ids: list[str]
    seconds: int


def plan_exam(pack: Any, seed: int) -> ExamPlan:
    """The exam ``seed`` draws from ``pack``: the classroom draw (``sagetutor.grading.draw``: per domain by
    the blueprint's weights, unscored items as it says, case studies together, time scaled for a smaller
    pack) with an RNG seeded by the pack id and the seed."""
    from sagetutor.grading.draw import draw_questions

    ids, seconds = draw_questions(pack, random.Random(f"{pack.pack.id}:{seed}"))
    return ExamPlan(ids, max(int(round(seconds)), 60 if ids else 0))


def is_student_pack(pack: Any) -> bool:
    """A pack handed out without its answer key: marked so (``pack.student``), or no choice option
    marked correct anywhere (the loader refuses that for a normal pack)."""
    if getattr(pack.pack, "student", False):
        return True
    choices = [q for q in pack.items() if q.type in ("single", "multi")]
    return bool(choices) and not any(o.correct for q in choices for o in q.options)


def clock_text(seconds: float) -> str:
    """``1:05:09`` or ``4:07`` (rounded up, so 0:00 means the time is really up)."""
    s = max(0, int(math.ceil(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def is_empty(answer: Any) -> bool:
    if answer is None or answer == "":
        return True
    if isinstance(answer, Mapping):
        return all(v is None for v in answer.values())
    if isinstance(answer, Collection) and not isinstance(answer, str):
        return len(answer) == 0
    return False


def jsonable(answer: Any) -> Any:
    if isinstance(answer, Mapping):
        return {str(k): v for k, v in answer.items()}
    if isinstance(answer, set | frozenset):
        return sorted(answer)
    if isinstance(answer, tuple):
        return list(answer)
    return answer


def attempts_dir() -> Path:
    from sagetutor.progress.location import data_dir

    folder = data_dir() / "attempts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the question grid ---------------------------------------------------------------------------


class QuestionGrid(Widget, can_focus=True):
    """Numbered cells, one per question: answered (✓), flagged (⚑) or not yet; the current one marked.

    Arrows move the cursor, Enter (or a click) jumps to the question: posts ``QuestionGrid.Jump``."""

    CELL = 4
    COMPONENT_CLASSES = {"grid--answered", "grid--flagged", "grid--open", "grid--current", "grid--cursor"}
    BINDINGS = [
        Binding("left", "move(-1)", "Prev cell", show=False),
        Binding("right", "move(1)", "Next cell", show=False),
        Binding("up", "row(-1)", show=False),
        Binding("down", "row(1)", show=False),
        Binding("enter", "jump", "Go to question", show=False),
    ]
    DEFAULT_CSS = """
    QuestionGrid { height: auto; min-height: 2; padding: 0 0; }
    QuestionGrid > .grid--answered { background: $success 40%; color: $text; }
    QuestionGrid > .grid--flagged { background: $warning 60%; color: $text; text-style: bold; }
    QuestionGrid > .grid--open { color: $text-muted; }
    QuestionGrid > .grid--current { text-style: bold reverse; }
    QuestionGrid > .grid--cursor { text-style: underline; }
    """

    cursor = reactive(0)
    current = reactive(0)

    class Jump(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, count: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.count = count
        self.answered: set[int] = set()
        self.flagged: set[int] = set()

    def set_state(self, answered: set[int], flagged: set[int], current: int) -> None:
        self.answered, self.flagged = set(answered), set(flagged)
        self.current = current
        self.cursor = current
        self.refresh(layout=True)

    def _per_row(self) -> int:
        width = self.content_size.width or self.size.width or 24
        return max(1, width // self.CELL)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, math.ceil(self.count / max(1, width // self.CELL)))

    def render(self) -> Text:
        per = self._per_row()
        text = Text(no_wrap=True, overflow="crop")
        for i in range(self.count):
            if i and i % per == 0:
                text.append("\n")
            mark = "⚑" if i in self.flagged else "✓" if i in self.answered else " "
            cls = "grid--flagged" if i in self.flagged else "grid--answered" if i in self.answered else "grid--open"
            style = self.get_component_rich_style(cls)
            if i == self.current:
                style += self.get_component_rich_style("grid--current")
            if i == self.cursor and self.has_focus:
                style += self.get_component_rich_style("grid--cursor")
            text.append(f"{i + 1:>2}{mark}", style=style)
            text.append(" ")
        return text

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, step: int) -> None:
        self.cursor = max(0, min(self.count - 1, self.cursor + step))

    def action_row(self, step: int) -> None:
        self.action_move(step * self._per_row())

    def action_jump(self) -> None:
        self.post_message(self.Jump(self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = offset.y * self._per_row() + offset.x // self.CELL
        if 0 <= index < self.count:
            self.cursor = index
            self.post_message(self.Jump(index))


# -- modals --------------------------------------------------------------------------------------


class ResumeExamModal(ModalScreen[str]):
    """An unfinished exam of this pack: "resume", "abandon" (and start a new one) or "cancel"."""

    BINDINGS = [Binding("escape", "dismiss('cancel')", "Back")]
    DEFAULT_CSS = """
    ResumeExamModal { align: center middle; }
    ResumeExamModal > Vertical { width: 64; height: auto; border: thick $primary; background: $surface;
                                 padding: 1 2; }
    ResumeExamModal Horizontal { height: auto; margin-top: 1; }
    ResumeExamModal Button { margin-right: 1; }
    """

    def __init__(self, session: Any, title: str) -> None:
        super().__init__()
        self.session = session
        self.pack_title = title

    def compose(self) -> ComposeResult:
        s = self.session
        answered = len(s.answers)
        started = s.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if s.started_at else "earlier"
        with Vertical():
            yield Label(f"[b]You have an unfinished exam[/b] of {self.pack_title}", id="resume-title")
            yield Static(f"Started {started}. {answered} of {len(s.question_ids)} answered, "
                         f"{len(s.flags)} flagged, {clock_text(s.seconds_remaining)} left.", id="resume-info")
            with Horizontal():
                yield Button(f"Resume ({clock_text(s.seconds_remaining)} left)", id="resume", variant="primary")
                yield Button("Abandon it, start a new exam", id="abandon", variant="error")
                yield Button("Back", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; Enter on the focused button, Escape says no."""

    BINDINGS = [Binding("escape", "dismiss(False)", "No"), Binding("y", "dismiss(True)", "Yes", show=False)]
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical { width: 60; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmModal Horizontal { height: auto; margin-top: 1; }
    ConfirmModal Button { margin-right: 1; }
    """

    def __init__(self, question: str, detail: str = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.question}[/b]")
            if self.detail:
                yield Static(self.detail)
            with Horizontal():
                yield Button(self.yes, id="yes", variant="primary")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


# -- the exam ------------------------------------------------------------------------------------


class ExamScreen(Screen):
    """A timed exam on ``pack`` (the first usable pack when None); ``resume`` is a stored exam id."""

    BINDINGS = [
        Binding("ctrl+right,pagedown", "step(1)", "Next"),
        Binding("ctrl+left,pageup", "step(-1)", "Prev"),
        Binding("ctrl+f", "flag", "Flag"),
        Binding("ctrl+g", "grid", "Grid"),
        Binding("ctrl+s", "submit", "Submit"),
        Binding("escape", "leave", "Leave"),
    ]
    DEFAULT_CSS = """
    ExamScreen #exam-body { height: 1fr; }
    ExamScreen #exam-main { width: 1fr; height: 1fr; }
    ExamScreen #exam-side { width: 28; height: 1fr; border-left: solid $primary; padding: 0 1; }
    ExamScreen #exam-status { height: auto; padding: 0 1; background: $boost; }
    ExamScreen #exam-question { height: 1fr; padding: 0 1; }
    ExamScreen #exam-buttons { height: auto; padding: 0 1; }
    ExamScreen #exam-buttons Button { margin-right: 1; min-width: 10; }
    ExamScreen #exam-clock { text-style: bold; height: auto; content-align: center middle; width: 100%;
                             padding: 0 0 1 0; }
    ExamScreen #exam-clock.low { color: $error; }
    ExamScreen #exam-legend { color: $text-muted; height: auto; margin-top: 1; }
    ExamScreen #exam-message { padding: 1 2; }
    """

    def __init__(self, pack: PackEntry | None = None, resume: int | None = None, *,
                 clock: Callable[[], float] | None = None, tick: float = 0.5, seed: int | None = None,
                 student_id: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.student_id = student_id  # with a student pack: the per-student draw (sagetutor.grading.draw)
        self.entry = pack
        self.resume_id = resume
        self.clock = clock or time.monotonic
        self.tick = tick
        self.seed_override = seed
        self.exam_id: int | None = None
        self.question_ids: list[str] = []
        self.answers: dict[str, Any] = {}
        self.flags: set[str] = set()
        self.spent: dict[str, float] = {}
        self.seconds_allowed = 0.0
        self.seed = 0
        self.student = False
        self.started_at: datetime | None = None
        self.index = 0
        self.running = False
        self.finished = False
        self._budget = 0.0  # seconds remaining when the clock last (re)started at _t0
        self._t0 = 0.0
        self._entered = 0.0
        self._saved_at = 0.0
        self._timer = None
        self._shown = False
        self._clock_shown = ""
        self.finished_at: datetime | None = None

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="exam-body"):
            with Vertical(id="exam-main"):
                yield Static("", id="exam-status")
                yield VerticalScroll(id="exam-question")
                with Horizontal(id="exam-buttons"):
                    yield Button("◀ Prev", id="exam-prev")
                    yield Button("Flag", id="exam-flag", variant="warning")
                    yield Button("Next ▶", id="exam-next", variant="primary")
                    yield Button("Submit exam", id="exam-submit", variant="success")
            with Vertical(id="exam-side"):
                yield Static("--:--", id="exam-clock")
                yield QuestionGrid(0, id="exam-grid")
                yield Static("✓ answered  ⚑ flagged\nclick or Enter to jump", id="exam-legend")
        yield KeyFooter()

    @property
    def runtime(self):
        return self.entry.runtime()

    @property
    def store(self):
        return getattr(self.app, "store", None)

    def on_mount(self) -> None:
        if self.entry is None:
            packs = list(getattr(self.app, "usable_packs", []))
            self.entry = next((p for p in packs if p.pack.pack.blueprint is not None), packs[0] if packs else None)
        if self.entry is None or not self.entry.ok:
            self._message("There is no pack to take an exam from. Add a pack (see Help) and try again.")
            return
        self.sub_title = f"Exam: {self.entry.title}"
        self.student = is_student_pack(self.entry.pack)
        store = self.store
        if store is not None and self.resume_id is not None:
            from sagetutor.progress import ProgressError

            try:
                session = store.exam(self.resume_id)
            except ProgressError as e:
                self.notify(str(e), severity="error")
                session = None
            if session is not None and session.is_open:
                self._begin(session)
                return
        if store is not None:
            session = store.unfinished_exam(self.entry.pack_id)
            if session is not None and session.seconds_remaining <= 0:
                self.notify("Time ran out on your unfinished exam while SageTutor was closed: here is its result.",
                            title="Exam over", severity="warning")
                self._begin(session)
                return
            if session is not None:
                self.app.push_screen(ResumeExamModal(session, self.entry.title),
                                     lambda choice: self._resume_choice(session, choice))
                return
        self._start_new()

    def _message(self, text: str) -> None:
        for w in self.query("#exam-body").results():
            w.display = False
        self.mount(Static(text, id="exam-message"), before=self.query_one(KeyFooter))

    def _resume_choice(self, session: Any, choice: str | None) -> None:
        if choice == "resume":
            self._begin(session)
        elif choice == "abandon":
            self.store.abandon_exam(session.id)
            self._start_new()
        else:
            self.dismiss()

    def _start_new(self) -> None:
        app_seed = getattr(self.app, "seed", None)
        seed = self.seed_override if self.seed_override is not None else (
            app_seed if app_seed is not None else self.entry.pack.pack.seed)
        plan = plan_exam(self.entry.pack, seed)
        if self.student and self.student_id:
            from sagetutor.grading.draw import student_exam

            drawn = student_exam(self.entry.pack, self.student_id, seed)
            plan = ExamPlan(list(drawn.question_ids), int(round(drawn.seconds)))
        if not plan.question_ids:
            self._message("This pack has no questions to draw an exam from.")
            return
        self.seed = seed
        self.question_ids = plan.question_ids
        self.seconds_allowed = float(plan.seconds)
        self._budget = float(plan.seconds)
        self.started_at = datetime.now(UTC)
        if self.store is not None:
            session = self.store.start_exam(pack_id=self.entry.pack_id, pack_hash=self.entry.content_hash,
                                            question_ids=list(plan.question_ids), seconds_allowed=plan.seconds,
                                            seed=seed, student=self.student)
            self.exam_id = session.id
            self.started_at = session.started_at or self.started_at
        self._run()

    def _begin(self, session: Any) -> None:
        """Pick up a stored exam: its questions (those the pack still has), answers, flags and time left."""
        known = set(self.entry.question_ids)
        self.exam_id = session.id
        self.question_ids = [q for q in session.question_ids if q in known]
        dropped = len(session.question_ids) - len(self.question_ids)
        self.answers = {q: a for q, a in session.answers.items() if q in known and not is_empty(a)}
        self.flags = {q for q in session.flags if q in known}
        self.spent = {q: float(s) for q, s in session.seconds_spent.items() if q in known}
        self.seconds_allowed = float(session.seconds_allowed)
        self._budget = max(0.0, float(session.seconds_remaining))
        self.seed = int(session.seed)
        self.student = bool(session.student) or self.student
        self.started_at = session.started_at
        if session.pack_hash and session.pack_hash != self.entry.content_hash:
            self.notify("The pack changed since this exam started" +
                        (f"; {dropped} question(s) it no longer has were left out." if dropped else "."),
                        severity="warning")
        if not self.question_ids:
            self._message("None of this exam's questions are in the pack any more.")
            return
        first_open = next((i for i, q in enumerate(self.question_ids) if q not in self.answers), 0)
        self.index = first_open
        self._run()

    def _run(self) -> None:
        self.query_one(QuestionGrid).count = len(self.question_ids)
        self._t0 = self._saved_at = self._entered = self.clock()
        self.running = True
        self._show(self.index)
        self._timer = self.set_interval(self.tick, self._on_tick)
        self._update_clock()
        if self._budget <= 0:
            self.call_after_refresh(self._finish, "timeout")

    # -- time ------------------------------------------------------------------------------------
    def remaining(self) -> float:
        if not self.running:
            return self._budget
        return max(0.0, self._budget - (self.clock() - self._t0))

    def _on_tick(self) -> None:
        if not self.running:
            return
        self._update_clock()
        if self.remaining() <= 0:
            self._finish("timeout")
            return
        if self.clock() - self._saved_at >= SAVE_EVERY:
            self._save_remaining()

    def _update_clock(self) -> None:
        left = self.remaining()
        text = f"⏱ {clock_text(left)} left"
        if text != self._clock_shown:  # a redraw only when the shown second changes
            self._clock_shown = text
            clock = self.query_one("#exam-clock", Static)
            clock.update(text)
            clock.set_class(left < LOW_TIME, "low")

    def _save_remaining(self) -> None:
        self._saved_at = self.clock()
        if self.store is not None and self.exam_id is not None:
            self.store.set_remaining(self.exam_id, self.remaining())

    def _stop_clock(self) -> None:
        """Account the current question's time, save, and freeze the remaining time."""
        if not self.running:
            return
        self._account()
        self._save_answer(self.current_id)
        self._budget = self.remaining()
        self.running = False
        if self._timer is not None:
            self._timer.stop()
        if self.store is not None and self.exam_id is not None:
            self.store.set_remaining(self.exam_id, self._budget)

    def _account(self) -> None:
        """Add the time since the current question was shown to its total."""
        if not self.question_ids:
            return
        now = self.clock()
        qid = self.question_ids[self.index]
        self.spent[qid] = self.spent.get(qid, 0.0) + max(0.0, now - self._entered)
        self._entered = now

    # -- questions -------------------------------------------------------------------------------
    @property
    def current_id(self) -> str:
        return self.question_ids[self.index]

    def _show(self, index: int) -> None:
        from sagetutor.tui.widgets.question import QuestionView

        if self.running and self._shown:
            self._save_answer(self.current_id)  # its answer, flag and the time spent on it so far
            self._account()
        self._shown = True
        self.index = max(0, min(len(self.question_ids) - 1, index))
        self._entered = self.clock()
        qid = self.current_id
        holder = self.query_one("#exam-question", VerticalScroll)
        holder.remove_children()
        resolved = self.runtime.resolve(qid, self.seed)
        view = QuestionView(resolved, answer=self.answers.get(qid))
        holder.mount(view)
        holder.scroll_home(animate=False)
        self.call_after_refresh(view.focus_answer)
        self._refresh_state()

    def _refresh_state(self) -> None:
        n = len(self.question_ids)
        qid = self.current_id
        pos = {q: i for i, q in enumerate(self.question_ids)}
        self.query_one(QuestionGrid).set_state({pos[q] for q in self.answers if q in pos},
                                               {pos[q] for q in self.flags if q in pos}, self.index)
        flagged = " · ⚑ flagged for review" if qid in self.flags else ""
        answered = len(self.answers)
        self.query_one("#exam-status", Static).update(
            f"[b]Question {self.index + 1} of {n}[/b]{flagged}   ({answered} answered, {n - answered} to go)")
        self.query_one("#exam-flag", Button).label = "Unflag" if qid in self.flags else "Flag"

    def _save_answer(self, qid: str) -> None:
        if self.store is None or self.exam_id is None:
            return
        if qid == self.current_id and self.running:
            self._account()
        self.store.save_exam_answer(self.exam_id, qid, jsonable(self.answers.get(qid)), qid in self.flags,
                                    round(self.spent.get(qid, 0.0), 3))

    def on_question_view_changed(self, event: Message) -> None:
        view = getattr(event, "question_view", None)
        qid = getattr(getattr(view, "question", None), "id", None) or self.current_id
        self.set_answer(getattr(event, "answer", None), qid)

    def set_answer(self, answer: Any, question_id: str | None = None) -> None:
        """Record the learner's answer to a question (the current one by default) and save it."""
        if not self.running:
            return
        qid = question_id or self.current_id
        if qid not in self.question_ids:
            return
        if is_empty(answer):
            self.answers.pop(qid, None)
        else:
            self.answers[qid] = jsonable(answer)
        self._save_answer(qid)
        self._refresh_state()

    # -- actions ---------------------------------------------------------------------------------
    def action_step(self, step: int) -> None:
        if self.running:
            self.go_to(self.index + step)

    def go_to(self, index: int) -> None:
        if not self.running or not 0 <= index < len(self.question_ids) or index == self.index:
            return
        self._show(index)
        self._save_remaining()

    def action_flag(self) -> None:
        if not self.running:
            return
        qid = self.current_id
        if qid in self.flags:
            self.flags.discard(qid)
        else:
            self.flags.add(qid)
        if self.store is not None and self.exam_id is not None:
            self.store.set_flag(self.exam_id, qid, qid in self.flags)
        self._refresh_state()

    def action_grid(self) -> None:
        self.query_one(QuestionGrid).focus()

    def on_question_grid_jump(self, event: QuestionGrid.Jump) -> None:
        self.go_to(event.index)

    @on(Button.Pressed, "#exam-prev")
    def _prev(self) -> None:
        self.action_step(-1)

    @on(Button.Pressed, "#exam-next")
    def _next(self) -> None:
        self.action_step(1)

    @on(Button.Pressed, "#exam-flag")
    def _flag(self) -> None:
        self.action_flag()

    @on(Button.Pressed, "#exam-submit")
    def _submit(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        if not self.running:
            return
        n = len(self.question_ids)
        unanswered = n - len(self.answers)
        detail = (f"{unanswered} of {n} question(s) unanswered (they count as wrong). " if unanswered else
                  "Every question is answered. ") + (f"{len(self.flags)} flagged for review. " if self.flags else "")
        detail += f"{clock_text(self.remaining())} left."
        self.app.push_screen(ConfirmModal("Submit the exam?", detail, yes="Submit", no="Keep working"),
                             lambda yes: self._finish("submitted") if yes else None)

    def action_leave(self) -> None:
        if not self.running:
            self.dismiss()
            return
        where = "It is saved: open Exam on this pack to resume it. The clock stops while you are away." \
            if self.store is not None else "Progress is not being saved in this session, so it will be lost."
        self.app.push_screen(ConfirmModal("Leave the exam?", where, yes="Leave", no="Stay"),
                             lambda yes: self._leave() if yes else None)

    def _leave(self) -> None:
        self._stop_clock()
        self.dismiss()

    def on_unmount(self) -> None:
        if self.running:
            try:
                self._stop_clock()
            except Exception:  # the store may already be closed when the whole app goes down
                pass

    # -- the end ---------------------------------------------------------------------------------
    def _finish(self, reason: str) -> None:
        if self.finished or not self.question_ids:
            return
        self.finished = True
        self._stop_clock()
        self.finished_at = datetime.now(UTC)
        for b in self.query(Button).results():
            b.disabled = True
        if reason == "timeout":
            self.notify("Time is up: your answers were submitted.", title="Exam over", severity="warning")
        if self.student:
            self._finish_student(reason)
            return
        self.query_one("#exam-status", Static).update("[b]Scoring your exam…[/b]")
        self._score(reason)

    @work(thread=True, exclusive=True, group="exam-score")
    def _score(self, reason: str) -> None:
        from sagetutor.quiz.scoring import score_question

        rt = self.runtime
        answers: dict[str, Any] = {}
        items = []
        per_question = self.seconds_allowed / max(1, len(self.question_ids))
        for qid in self.question_ids:
            q = rt.resolve(qid, self.seed).question
            answer = self.answers.get(qid)
            try:
                score = score_question(q, answer) if answer is not None else 0.0
                if answer is not None:
                    answers[qid] = answer
            except ValueError:  # an answer the pack's current version cannot take
                score = 0.0
            seconds = self.spent.get(qid, 0.0)
            items.append({"question_id": qid, "title": q.title or _first_line(q.stem), "domain": q.domain,
                          "answer_label": answer_label(q, answer),
                          "topics": list(q.topics), "answer": answer, "score": score, "correct": score == 1.0,
                          "flagged": qid in self.flags, "seconds": round(seconds, 1), "scored": bool(q.scored),
                          "slow": seconds > SLOW_FACTOR * per_question})
        result = rt.exam(answers, self.question_ids, self.seed)
        summary = {
            "pack_id": self.entry.pack_id, "pack_hash": self.entry.content_hash, "seed": self.seed,
            "reason": reason, "raw_percent": result.raw_percent, "scaled": result.scaled,
            "pass_mark": result.pass_mark, "pass_percent": result.pass_percent, "passed": result.passed,
            "label": result.label, "scored_items": result.scored_items, "unscored_items": result.unscored_items,
            "domains": [{"domain": d.domain, "items": d.items, "points": d.points, "percent": d.percent}
                        for d in result.domains],
            "items": items, "seconds_allowed": self.seconds_allowed,
            "seconds_used": round(self.seconds_allowed - self._budget, 1),
        }
        self.app.call_from_thread(self._scored, summary)

    def _scored(self, summary: dict) -> None:
        store = self.store
        if store is not None:
            try:
                self._record(store, summary)
            except Exception as e:  # never lose the result screen to a store problem
                self.notify(f"Could not save the exam's answers: {e}", severity="error")
        self._show_result(summary)

    def _show_result(self, summary: dict) -> None:
        """Replace this screen with the result, closing whatever was open over it (a confirmation,
        help) when the time ran out."""
        from sagetutor.tui.screens.exam_result import ExamResultScreen

        if self not in self.app.screen_stack:
            return
        while self.app.screen is not self:
            self.app.pop_screen()
        self.app.switch_screen(ExamResultScreen(self.entry, summary=summary, exam_id=self.exam_id))

    def _record(self, store: Any, summary: dict) -> None:
        topics: dict[str, dict[str, bool]] = {}
        for it in summary["items"]:
            store.record_answer(pack_id=self.entry.pack_id, question_id=it["question_id"], domain=it["domain"],
                                topics=it["topics"], answer=it["answer"], correct=it["correct"],
                                score=it["score"], seconds=it["seconds"], flagged=it["flagged"], mode="exam",
                                exam_id=self.exam_id)
            for t in it["topics"]:
                agg = topics.setdefault(t, {"correct": True, "slow": False, "flagged": False})
                agg["correct"] = agg["correct"] and it["correct"]
                agg["slow"] = agg["slow"] or it["slow"]
                agg["flagged"] = agg["flagged"] or it["flagged"]
        for topic, agg in topics.items():
            store.review(topic, store.rating_for(**agg))
        if self.exam_id is not None:
            store.finish_exam(self.exam_id, summary)

    def _finish_student(self, reason: str) -> None:
        from sagetutor.grading.attempt import Attempt, default_attempt_path, write_attempt
        from sagetutor.grading.draw import pack_hash

        pack = self.entry.pack.pack
        finished = self.finished_at or datetime.now(UTC)
        student = self.student_id or _user()
        answers = {}
        for q in self.question_ids:
            a = jsonable(self.answers.get(q))
            if isinstance(a, dict):
                a = {k: v for k, v in a.items() if v is not None}
            if not is_empty(a):
                answers[q] = a
        path: Path | None = None
        error = None
        try:
            attempt = Attempt(format=1, pack_id=pack.id, pack_version=pack.version,
                              pack_hash=pack_hash(self.entry.pack), student=student, seed=self.seed,
                              questions=list(self.question_ids), answers=answers,
                              flags=[q for q in self.question_ids if q in self.flags],
                              seconds={q: round(self.spent.get(q, 0.0), 1) for q in self.question_ids},
                              started_at=self.started_at or finished, ended_at=finished)
            folder = attempts_dir()
            base = default_attempt_path(student, pack.id).name.removesuffix(".attempt.yaml")
            path = folder / f"{base}.attempt.yaml"
            n = 1
            while path.exists():
                n += 1
                path = folder / f"{base}-{n}.attempt.yaml"
            write_attempt(attempt, path)
        except Exception as e:
            error = f"Could not write the attempt file: {e}"
            path = None
        summary = {"pack_id": pack.id, "pack_hash": self.entry.content_hash, "seed": self.seed, "reason": reason,
                   "student": True, "attempt_file": str(path) if path else None, "error": error,
                   "answered": len(self.answers), "questions": len(self.question_ids)}
        if self.store is not None and self.exam_id is not None:
            try:
                self.store.finish_exam(self.exam_id, summary)
            except Exception as e:
                self.notify(f"Could not save the exam: {e}", severity="error")
        self._show_result(summary)


def _user() -> str:
    """The student id an attempt gets when none was given: the login name."""
    import getpass

    try:
        return getpass.getuser() or "student"
    except Exception:
        return "student"


def answer_label(question: Any, answer: Any) -> str:
    """An answer as the learner saw it: option letters (``B``, ``A, C``), the order of the items
    (``c → a → b``), or how many prompts were matched; ``—`` when unanswered."""
    if is_empty(answer):
        return "—"
    ids = [o.id for o in getattr(question, "options", [])]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def letter(x: str) -> str:
        return letters[ids.index(x) % 26] if x in ids else str(x)

    if question.type == "single" and isinstance(answer, str):
        return letter(answer)
    if question.type == "multi":
        return ", ".join(letter(x) for x in ([answer] if isinstance(answer, str) else answer))
    if question.type == "ordering":
        return " → ".join(map(str, answer))
    if question.type == "matching" and isinstance(answer, Mapping):
        given = sum(1 for v in answer.values() if v is not None)
        return f"{given} of {len(getattr(question, 'prompts', []))} matched"
    return str(answer)


def _first_line(text: str, width: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
