"""An exam's result: the estimated scaled score, pass or fail, domain bars, and every question to review.

``ExamResultScreen(pack, summary=None, exam_id=None)`` shows the summary ``ExamScreen`` builds
(and stores with ``finish_exam``); given only ``exam_id`` it reads that summary back from the
store. The scaled score is always labelled an estimate: AWS equates scores across exam forms,
so 720 does not mean 72%. Selecting a question opens ``ExamAnswerScreen``, which runs the
learner's answer on the simulator in a worker thread and shows its ``OutcomeView`` (the
learner's run against the best run). A student pack's summary has no score: the screen says
where the attempt file was written.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, LoadingIndicator, Static

from sagetutor.tui.catalog import PackEntry
from sagetutor.tui.widgets.footer import KeyFooter

BAR_WIDTH = 30


def answer_text(answer: Any) -> str:
    """An answer in a few characters: ``b``, ``a, c``, ``c → a → b``, ``p1=x, p2=y``, or ``—``."""
    if answer is None or answer == "" or answer == [] or answer == {}:
        return "—"
    if isinstance(answer, str):
        return answer
    if isinstance(answer, dict):
        return ", ".join(f"{k}={v if v is not None else '?'}" for k, v in answer.items())
    return ", ".join(map(str, answer))


def plan_key(answer: Any) -> str | None:
    """The run ``OutcomeView`` shows first: a single answer's option; for the other types the view
    finds the learner's run itself."""
    return answer if isinstance(answer, str) else None


def domain_bars(domains: list[dict], pass_percent: float | None = None, width: int = BAR_WIDTH) -> Text:
    """One line per domain: name, a bar of its percentage, the percentage and the points."""
    text = Text()
    name_w = max([len(d["domain"]) for d in domains] + [6])
    for i, d in enumerate(domains):
        if i:
            text.append("\n")
        pct = float(d.get("percent", 0.0))
        filled = int(round(width * pct / 100))
        good = pass_percent is None or pct >= pass_percent
        text.append(f"{d['domain']:<{name_w}}  ")
        text.append("█" * filled, style="green" if good else "red")
        text.append("░" * (width - filled), style="dim")
        points = d.get("points", 0)
        points_s = f"{points:g}" if isinstance(points, int | float) else str(points)
        text.append(f" {pct:5.1f}%  ({points_s}/{d.get('items', 0)})" if d.get("items") else "   no questions")
    return text


class ExamResultScreen(Screen):
    """The end of an exam (see the module docstring)."""

    BINDINGS = [
        Binding("escape", "close", "Done"),
        Binding("enter", "open_selected", "Review question", show=False),
    ]
    DEFAULT_CSS = """
    ExamResultScreen #result-body { height: 1fr; padding: 0 1; }
    ExamResultScreen #result-head { height: auto; max-height: 50%; }
    ExamResultScreen #result-score { height: auto; padding: 1 1 0 1; }
    ExamResultScreen #result-verdict { height: auto; padding: 0 1; text-style: bold; }
    ExamResultScreen #result-verdict.pass { color: $success; }
    ExamResultScreen #result-verdict.fail { color: $error; }
    ExamResultScreen #result-domains { height: auto; padding: 1 1; }
    ExamResultScreen #result-note { height: auto; padding: 0 1; color: $text-muted; }
    ExamResultScreen #result-review-title { height: auto; padding: 1 1 0 1; text-style: bold; }
    ExamResultScreen #result-review { height: 1fr; }
    """

    def __init__(self, pack: PackEntry | None = None, summary: dict | None = None, exam_id: int | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.entry = pack
        self.summary = summary
        self.exam_id = exam_id

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="result-body"):
            yield VerticalScroll(id="result-head")
        yield KeyFooter()

    def on_mount(self) -> None:
        if self.summary is None and self.exam_id is not None and getattr(self.app, "store", None) is not None:
            session = self.app.store.exam(self.exam_id)
            self.summary = session.result if session is not None else None
        body = self.query_one("#result-head", VerticalScroll)
        s = self.summary
        if not s:
            body.mount(Static("This exam has no result to show.", id="result-score"))
            return
        self.sub_title = f"Exam result: {self.entry.title if self.entry else s.get('pack_id', '')}"
        if s.get("student"):
            self._student(body, s)
            return
        ended = "Time ran out: your answers were submitted automatically." if s.get("reason") == "timeout" \
            else "You submitted the exam."
        pct = s["raw_percent"]
        body.mount(
            Static(f"[b]Estimated scaled score: {s['scaled']}[/b] / 1000  ([i]estimate[/i]; pass mark "
                   f"{s['pass_mark']})\n{pct:.1f}% of {s['scored_items']} scored question(s) right"
                   + (f", {s['unscored_items']} unscored" if s.get("unscored_items") else "")
                   + f". {ended}", id="result-score"),
            Static(("PASS" if s["passed"] else "FAIL") + f" against the blueprint's mark of {s['pass_mark']} "
                   f"({s['pass_percent']:g}% raw)", id="result-verdict", classes="pass" if s["passed"] else "fail"),
            Static(domain_bars(s.get("domains", []), s.get("pass_percent")), id="result-domains"),
            Static("AWS equates scores across exam forms, so this is only an estimate: 720 does not mean 72%.",
                   id="result-note"),
            Static("Review every question (Enter opens what your answer does on SageMaker)",
                   id="result-review-title"),
        )
        table: DataTable = DataTable(id="result-review", cursor_type="row", zebra_stripes=True)
        self.query_one("#result-body").mount(table)
        table.add_columns("#", "result", "flag", "domain", "your answer", "question")
        for i, it in enumerate(s.get("items", [])):
            if it["answer"] is None:
                mark = Text("— unanswered", style="yellow")
            elif it["correct"]:
                mark = Text("✓ right", style="green")
            elif it["score"] > 0:
                mark = Text(f"◐ {it['score']:.0%}", style="yellow")
            else:
                mark = Text("✗ wrong", style="red")
            if not it.get("scored", True):
                mark.append(" (unscored)", style="dim")
            table.add_row(str(i + 1), mark, "⚑" if it["flagged"] else "", it.get("domain") or "",
                          it.get("answer_label") or answer_text(it["answer"]), it.get("title") or it["question_id"],
                          key=it["question_id"])
        table.focus()

    def _student(self, body: VerticalScroll, s: dict) -> None:
        where = s.get("attempt_file")
        lines = [f"[b]Exam handed in[/b]: {s.get('answered', 0)} of {s.get('questions', 0)} question(s) answered."]
        if where:
            lines.append(f"This pack has no answer key, so there is no score here. Your attempt was saved to\n\n"
                         f"  [b]{where}[/b]\n\nHand that file in to be graded.")
        else:
            lines.append(s.get("error") or "The attempt file could not be written.")
        body.mount(Static("\n".join(lines), id="result-score"))

    def item(self, question_id: str) -> dict | None:
        return next((it for it in (self.summary or {}).get("items", []) if it["question_id"] == question_id), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_question(str(event.row_key.value))

    def action_open_selected(self) -> None:
        tables = self.query(DataTable)
        if tables:
            t = tables.first()
            if t.row_count:
                self.open_question(str(t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value))

    def open_question(self, question_id: str) -> None:
        it = self.item(question_id)
        if it is None or self.entry is None or not self.entry.ok:
            return
        self.app.push_screen(ExamAnswerScreen(self.entry, question_id=question_id, answer=it["answer"],
                                              seed=int(self.summary.get("seed", 0)), flagged=it["flagged"]))

    def action_close(self) -> None:
        self.dismiss()


class ExamAnswerScreen(Screen):
    """One exam question after the exam: what the learner's answer did against the best run."""

    BINDINGS = [Binding("escape", "back", "Back to the results")]
    DEFAULT_CSS = """
    ExamAnswerScreen #answer-head { height: auto; padding: 0 1; background: $boost; }
    ExamAnswerScreen #answer-body { height: 1fr; padding: 0 1; }
    ExamAnswerScreen LoadingIndicator { height: 3; }
    """

    def __init__(self, pack: PackEntry | None = None, *, question_id: str, answer: Any, seed: int,
                 flagged: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.entry = pack
        self.question_id = question_id
        self.answer = answer
        self.seed = seed
        self.flagged = flagged
        self.result: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]{self.question_id}[/b]  your answer: {answer_text(self.answer)}"
                     + ("  ⚑ flagged" if self.flagged else ""), id="answer-head")
        with VerticalScroll(id="answer-body"):
            yield Static("Running your answer and the best answer on the simulator…", id="answer-wait")
            yield LoadingIndicator()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "Exam review"
        self._run()

    @work(thread=True, exclusive=True, group="exam-answer")
    def _run(self) -> None:
        try:
            rt = self.entry.runtime()
            question = rt.resolve(self.question_id, self.seed).question
            result = rt.answer(self.question_id, self.answer, self.seed)
        except Exception as e:  # a stale answer or an engine failure: say so, never a traceback
            self.app.call_from_thread(self._failed, f"{type(e).__name__}: {e}")
            return
        self.app.call_from_thread(self._show, result, question)

    def _failed(self, reason: str) -> None:
        body = self.query_one("#answer-body", VerticalScroll)
        body.remove_children()
        body.mount(Static(f"Could not run this answer: {reason}"))

    def _show(self, result: dict, question: Any = None) -> None:
        from sagetutor.tui.widgets.outcome import OutcomeView

        self.result = result
        verdict = "right" if result.get("correct") else f"score {result.get('score', 0):.0%}"
        self.query_one("#answer-head", Static).update(
            f"[b]{result.get('title') or self.question_id}[/b]  your answer: {answer_text(self.answer)} "
            f"({verdict})" + ("  ⚑ flagged" if self.flagged else ""))
        body = self.query_one("#answer-body", VerticalScroll)
        body.remove_children()
        body.mount(OutcomeView(result, chosen=plan_key(self.answer), question=question))

    def on_outcome_view_note_requested(self, event: Any) -> None:
        event.stop()
        self.app.open_mode("notes", None, topic=event.topic)

    def action_back(self) -> None:
        self.dismiss()
