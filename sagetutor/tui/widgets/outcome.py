"""What an answer did: one ``QuizRuntime.answer`` result, rendered.

``OutcomeView(result, *, chosen=None, question=None)``:

* the verdict (score, right or wrong, the right answer);
* side by side, stacked when the view is narrower than ``WIDE`` cells, the learner's run and
  the best (correct) run: each requirement met or not with the values compared, key metrics,
  pictures where they help (latency percentiles, instance counts), the timeline in virtual time
  and the itemized bill with its total;
* every run of the question in one comparison table, with cost bars when a requirement
  compares options (``cost.total is minimal``);
* the feedback per option (item, prompt), the explanation, the references and buttons for the
  linked study notes (``OutcomeView.NoteRequested``; the app opens the notes screen).

``chosen`` picks which of the learner's runs is shown first (a plan key: option id or
``order:...``); ``question`` (the resolved question model) adds the options' texts to the
feedback. Outcomes with ``"supported": false`` say why they were not simulated; questions
without runs (matching) show only the verdict and the feedback.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, Markdown, Static

from sagetutor.tui.widgets.bill import BillTable, money
from sagetutor.tui.widgets.charts import BarChart, SeriesChart
from sagetutor.tui.widgets.question import LETTERS, plain
from sagetutor.tui.widgets.timeline import TimelineView

WIDE = 110  # cells: below this the two runs stack
KEY_FACTS = ("cost.total", "time.total", "time.training", "time.transform", "time.deploy", "time.tuning",
             "time.labeling", "spot.interruptions", "spot.savings", "latency.p95", "requests.answered",
             "requests.errors", "instances.max", "status")


def show_value(value: Any, fact: str | None = None) -> str:
    """A fact's value as the runtime's messages write it ($0.0207, 1h 02min, 4.5ms, 75.0%)."""
    from sagetutor.quiz.runtime import _show

    if isinstance(value, str):
        return value
    return _show(value, fact)


def mark(met: bool | None) -> Text:
    if met is None:
        return Text("?", style="bold yellow")
    return Text("✔", style="bold green") if met else Text("✘", style="bold red")


def pick_runs(result: dict, chosen: str | None = None) -> tuple[str | None, str | None]:
    """The learner's run to show and the best run beside it (a wrong choice against a right one)."""
    runs = result.get("runs", {})
    mine_keys = [k for k, r in runs.items() if r.get("chosen")]
    right_keys = [k for k, r in runs.items() if r.get("correct")]
    if chosen in runs:
        mine = chosen
    else:
        wrong = [k for k in mine_keys if k not in right_keys]
        mine = (wrong or mine_keys or [None])[0]
    best_pool = [k for k in right_keys if k != mine] or right_keys
    met = [k for k in best_pool if runs[k].get("meets_all")]
    best = (met or best_pool or [None])[0]
    return mine, best


class RunPanel(Vertical):
    """One run: requirements, key metrics, pictures, timeline and bill."""

    DEFAULT_CSS = """
    RunPanel { width: 1fr; height: auto; padding: 0 1; border: round $panel; }
    RunPanel#run-best { border: round $success; }
    RunPanel .run-heading { color: $accent; }
    RunPanel .section { margin-top: 1; }
    RunPanel .requirements, RunPanel .key-metrics, RunPanel .latency-chart { margin-top: 1; }
    RunPanel SeriesChart { height: auto; margin-top: 1; }
    RunPanel SeriesChart Sparkline { height: 2; }
    """

    def __init__(self, key: str, run: dict, heading: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="run-panel")
        self.key = key
        self.run = run
        self.heading = heading

    def compose(self) -> ComposeResult:
        run, out = self.run, self.run.get("outcome", {})
        yield Static(Text(self.heading, style="bold"), classes="run-heading")
        yield Static(Text(plain(run.get("label", self.key))), classes="run-label")
        if not out.get("supported", True):
            reason = out.get("reason") or out.get("kind") or "not simulated"
            what = "The simulation failed" if out.get("kind") == "internal-error" else "Not simulated yet"
            yield Static(Text(f"{what}: {reason}", style="italic yellow"), classes="unsupported")
            yield from self._requirements(run)
            return
        yield from self._requirements(run)
        facts = out.get("facts", {})
        rows = [(f, facts[f]) for f in KEY_FACTS if f in facts and facts[f] not in (None, 0, 0.0, False)
                or f in ("cost.total", "time.total") and f in facts]
        rows += sorted((f'metric["{k}"]', v) for k, v in facts.get("metric", {}).items()
                       if k.startswith("validation:") or k.startswith("test:"))[:4]
        if rows:
            from rich.table import Table

            t = Table(box=None, show_header=False, show_edge=False, pad_edge=False)
            t.add_column("fact", style="dim", overflow="fold")
            t.add_column("value", overflow="fold")
            for name, value in rows:
                t.add_row(name, money(value) if name == "cost.total" else show_value(value, name))
            yield Static(t, classes="key-metrics")
        metrics = out.get("metrics", {})
        lat = metrics.get("latency_ms")
        if lat:
            yield BarChart({k: lat[k] for k in ("p50", "p95", "p99", "max") if k in lat},
                           title=f"Latency over {lat.get('count', 0)} requests", fmt=lambda v: f"{v:.1f} ms",
                           width=16, classes="latency-chart")
        for name, counts in (metrics.get("endpoint_instances") or {}).items():
            if len(counts) > 1:
                yield SeriesChart(counts, title=f"{name.split('/')[-1]} instances", classes="instances-chart")
        for step, entry in (metrics.get("tuning") or {}).items():
            hp = ", ".join(f"{k}={v}" for k, v in sorted(entry.get("hyperparameters", {}).items()))
            yield Static(Text(f"tuning {step}: {entry.get('training_jobs', 0)} training jobs, {entry.get('status')}"
                              + (f"; best {hp}" if hp else "")), classes="tuning")
        notes = list(out.get("notes", [])) + [f"{e.get('operation', '')}: {e.get('code', '')} {e.get('message', '')}"
                                             .strip() if isinstance(e, dict) else str(e)
                                             for e in out.get("errors", [])]
        if notes:
            yield Static(Text("\n".join(f"• {n}" for n in notes[:8]), style="yellow"), classes="run-notes")
        yield Label(Text("Timeline (virtual time)", style="bold"), classes="section")
        yield TimelineView(out.get("timeline", []), limit=30)
        yield Label(Text("Bill", style="bold"), classes="section")
        yield BillTable(out.get("bill"))

    @staticmethod
    def _requirements(run: dict) -> ComposeResult:
        reqs = run.get("requirements", [])
        if not reqs:
            return
        t = Text()
        for i, x in enumerate(reqs):
            if i:
                t.append("\n")
            t.append_text(mark(x.get("met")))
            t.append(" " + x.get("requirement", ""))
            values = ", ".join(f"{n} = {money(v) if n.startswith('cost.') else show_value(v, n)}"
                               for n, v in (x.get("values") or {}).items())
            if values:
                t.append(f"  ({values})", style="dim")
        yield Static(t, classes="requirements")


class OutcomeView(Vertical):
    """The result of one answer (see the module docstring)."""

    DEFAULT_CSS = """
    OutcomeView { height: auto; padding: 0 1; }
    OutcomeView > .runs { height: auto; layout: horizontal; margin-top: 1; }
    OutcomeView.-narrow > .runs { layout: vertical; }
    OutcomeView > .section { margin-top: 1; }
    OutcomeView > .verdict { margin-top: 1; }
    OutcomeView .note-buttons { height: auto; }
    OutcomeView .note-button { margin-right: 1; }
    OutcomeView Markdown { margin: 0; padding: 0 1; }
    """

    class NoteRequested(Message):
        """The learner asked for the study note of ``topic``."""

        def __init__(self, topic: str) -> None:
            super().__init__()
            self.topic = topic

    def __init__(self, result: dict, *, chosen: str | None = None, question: Any = None,
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="outcome-view")
        self.result = result
        self.question = question
        self.mine, self.best = pick_runs(result, chosen)

    # -- helpers ---------------------------------------------------------------------------------
    def _text_of(self, option: str) -> str:
        q = self.question
        for o in getattr(q, "options", []) if q is not None else []:
            if o.id == option:
                return plain(o.text)
        run = self.result.get("runs", {}).get(option)
        return plain(run["label"]) if run else option

    def _letter(self, option: str) -> str:
        q = self.question
        ids = [o.id for o in getattr(q, "options", [])] if q is not None else []
        return LETTERS[ids.index(option) % 26] + ". " if option in ids else ""

    def _answer_text(self, answer: Any) -> str:
        if answer is None or answer == [] or answer == {}:
            return "no answer"
        if isinstance(answer, str):
            return self._letter(answer) + self._text_of(answer)
        if isinstance(answer, dict):
            return "; ".join(f"{self._prompt_text(p)} → {self._text_of(a) if a else '—'}" for p, a in answer.items())
        if self.result.get("type") == "ordering":
            return " → ".join(self._text_of(a) for a in answer)
        return "; ".join(self._letter(a) + self._text_of(a) for a in answer)

    def _prompt_text(self, prompt: str) -> str:
        q = self.question
        for p in getattr(q, "prompts", []) if q is not None else []:
            if p.id == prompt:
                return plain(p.text)
        return prompt

    # -- rendering ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        r = self.result
        score = float(r.get("score", 0.0))
        if r.get("correct"):
            verdict = Text("✔ Correct", style="bold green")
        elif score > 0:
            verdict = Text(f"◐ Partly right: score {score:.2f}", style="bold yellow")
        else:
            verdict = Text("✘ Not the best choice", style="bold red")
        verdict.append(f"   score {score:.2f} ({r.get('scoring', 'all_or_nothing')})", style="dim")
        yield Static(verdict, classes="verdict")
        summary = Text()
        summary.append("Your answer: ", style="dim")
        summary.append(self._answer_text(r.get("answer")))
        if not r.get("correct"):
            summary.append("\nBest answer: ", style="dim")
            summary.append(self._answer_text(r.get("correct_answer")))
        yield Static(summary, classes="answer-summary")
        if r.get("requirements"):
            yield Static(Text("Requirements: " + " · ".join(r["requirements"]), style="italic"),
                         classes="question-requirements")
        runs = r.get("runs", {})
        if runs:
            with Horizontal(classes="runs"):
                if self.mine is not None and self.mine != self.best:
                    yield RunPanel(self.mine, runs[self.mine], "Your choice", id="run-mine")
                if self.best is not None:
                    heading = "Your choice: the best one" if self.best == self.mine else "The best choice"
                    yield RunPanel(self.best, runs[self.best], heading, id="run-best")
            if len(runs) > 1:
                yield from self._comparison(runs)
        elif r.get("type") != "matching":
            yield Static(Text("Nothing was simulated for this answer.", style="dim"), classes="no-runs")
        yield from self._feedback()
        if r.get("explanation"):
            yield Label(Text("Explanation", style="bold"), classes="section")
            yield Markdown(r["explanation"], classes="explanation")
        if r.get("references"):
            yield Label(Text("References", style="bold"), classes="section")
            yield Static(Text("\n".join(f"• {u}" for u in r["references"]), style="underline"),
                         classes="references")
        notes = [n for n in r.get("notes", []) if n.get("available")]
        if notes:
            yield Label(Text("Study notes", style="bold"), classes="section")
            with Horizontal(classes="note-buttons"):
                for n in notes:
                    yield Button(n["topic"], id=f"note-{n['topic']}", classes="note-button", compact=True)

    def _comparison(self, runs: dict) -> ComposeResult:
        from rich.table import Table

        table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold")
        table.add_column("option", ratio=4, overflow="fold")
        table.add_column("", no_wrap=True)
        table.add_column("meets all", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("cost", justify="right", no_wrap=True)
        costs: dict[str, float] = {}
        best_costs: list[str] = []
        for key, run in runs.items():
            out = run.get("outcome", {})
            facts = out.get("facts", {})
            tags = ("you" if run.get("chosen") else "") + (" best" if run.get("correct") else "")
            label = (self._letter(key) if not key.startswith("order:") else "") + plain(run.get("label", key))
            supported = out.get("supported", True)
            table.add_row(label, tags.strip(), mark(run.get("meets_all")),
                          show_value(facts.get("time.total"), "time.total") if supported else "-",
                          money(facts.get("cost.total")) if supported else "not simulated")
            if supported and "cost.total" in facts:
                short = (self._letter(key) or "") + label[len(self._letter(key)):][:28]
                costs[short] = facts["cost.total"]
                if run.get("correct"):
                    best_costs.append(short)
        yield Label(Text("Every option that ran", style="bold"), classes="section")
        yield Static(table, classes="comparison")
        if len(costs) > 1 and any(x.get("among") for run in runs.values() for x in run.get("requirements", [])):
            yield BarChart(costs, title="Cost per option", fmt=money, highlight=best_costs, width=20,
                           classes="cost-chart")

    def _feedback(self) -> ComposeResult:
        r = self.result
        items = r.get("feedback", [])
        if not items:
            return
        lines = []
        for f in items:
            if "prompt" in f:
                ok = f.get("given") == f.get("answer")
                given = self._text_of(f["given"]) if f.get("given") else "no answer"
                lines.append(f"- {'✔' if ok else '✘'} **{self._prompt_text(f['prompt'])}** → {given}"
                             + ("" if ok else f" (right: {self._text_of(f['answer'])})") + f". {f.get('text', '')}")
            elif "position" in f:
                ok = f.get("placed") == f.get("position")
                placed = f.get("placed") or "-"
                lines.append(f"- {'✔' if ok else '✘'} **{self._text_of(f['option'])}**: placed {placed}, "
                             f"belongs at {f['position']}. {f.get('text', '')}")
            else:
                sign = "✔" if f.get("correct") else "✘"
                who = "your choice, " if f.get("chosen") else ""
                right = "right" if f.get("correct") else "wrong"
                lines.append(f"- {sign} **{self._letter(f['option'])}{self._text_of(f['option'])}** ({who}{right}): "
                             f"{f.get('text', '')}")
        yield Label(Text("Feedback", style="bold"), classes="section")
        yield Markdown("\n".join(lines), classes="feedback")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("note-"):
            event.stop()
            self.post_message(self.NoteRequested(event.button.id[len("note-"):]))

    def on_resize(self) -> None:
        self.set_class(self.size.width < WIDE, "-narrow")

    def on_mount(self) -> None:
        self.set_class(self.size.width < WIDE, "-narrow")
