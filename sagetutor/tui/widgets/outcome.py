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

Built for speed (the learner waits for it after submitting): each run panel, the comparison and
the reading part (feedback, explanation, references) are one ``Static`` each, holding a Rich
group of tables, bars, a one-line sparkline and Rich Markdown, so the whole view is about ten
widgets (each widget costs a style pass and a box in every layout), and ``prepare_outcome``
builds every renderable from plain data,
so a worker thread can build them before the view is mounted on the UI thread
(``OutcomeView(result, ..., prepared=prepare_outcome(result, ...))``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Label, Static

from sagetutor.tui.widgets.bill import bill_table, money
from sagetutor.tui.widgets.charts import bar_table, series_text
from sagetutor.tui.widgets.question import LETTERS, plain
from sagetutor.tui.widgets.render import Rendered
from sagetutor.tui.widgets.timeline import timeline_table

WIDE = 110  # cells: below this the two runs stack
KEY_FACTS = ("cost.total", "time.total", "time.training", "time.transform", "time.deploy", "time.tuning",
             "time.labeling", "spot.interruptions", "spot.savings", "latency.p95", "requests.answered",
             "requests.errors", "instances.max", "status")
GAP = Text("")  # a blank line between the parts of one Static


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


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    """``parts`` with a blank line between each two."""
    out: list[RenderableType] = []
    for part in parts:
        out += [GAP, part] if out else [part]
    return out


def titled(title: str, body: RenderableType) -> Group:
    """A section: its bold title over ``body``."""
    return Group(Text(title, style="bold"), body)


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


# -- the renderables, built from plain data (any thread) -------------------------------------------


@dataclass
class RunParts:
    """What one ``RunPanel`` shows, as renderables."""

    head: Text
    requirements: Text | None = None
    facts: RenderableType | None = None  # key metrics, latency bars, instance series, tuning, notes
    supported: bool = True
    timeline: Table | None = None
    bill: Table | None = None

    def renderable(self) -> Group:
        """The whole panel: heading, requirements, key facts, timeline and bill, a blank line apart."""
        parts = (self.head, self.requirements, self.facts, self.timeline, self.bill)
        return Group(*_spaced([p for p in parts if p is not None]))


@dataclass
class OutcomeParts:
    """Everything an ``OutcomeView`` shows, as renderables (see ``prepare_outcome``)."""

    verdict: Text
    mine: str | None
    best: str | None
    runs: dict[str, RunParts] = field(default_factory=dict)
    comparison: Table | None = None
    cost_chart: Table | None = None
    no_runs: bool = False
    feedback: Group | None = None
    explanation: RenderableType | None = None
    references: Text | None = None
    notes: list[str] = field(default_factory=list)


def run_parts(key: str, run: dict, heading: str) -> RunParts:
    out = run.get("outcome", {})
    head = Text(heading, style="bold")
    head.append("\n" + plain(run.get("label", key)), style="not bold")
    reqs = _requirements(run)
    if not out.get("supported", True):
        reason = out.get("reason") or out.get("kind") or "not simulated"
        what = "The simulation failed" if out.get("kind") == "internal-error" else "Not simulated yet"
        head.append(f"\n{what}: {reason}", style="not bold italic yellow")
        return RunParts(head, reqs, supported=False)
    parts: list[RenderableType] = []
    facts = out.get("facts", {})
    rows = [(f, facts[f]) for f in KEY_FACTS if f in facts and facts[f] not in (None, 0, 0.0, False)
            or f in ("cost.total", "time.total") and f in facts]
    rows += sorted((f'metric["{k}"]', v) for k, v in facts.get("metric", {}).items()
                   if k.startswith("validation:") or k.startswith("test:"))[:4]
    if rows:
        t = Table(box=None, show_header=False, show_edge=False, pad_edge=False)
        t.add_column("fact", style="dim", overflow="fold")
        t.add_column("value", overflow="fold")
        for name, value in rows:
            t.add_row(name, money(value) if name == "cost.total" else show_value(value, name))
        parts.append(t)
    metrics = out.get("metrics", {})
    lat = metrics.get("latency_ms")
    if lat:
        parts.append(bar_table({k: lat[k] for k in ("p50", "p95", "p99", "max") if k in lat},
                               title=f"Latency over {lat.get('count', 0)} requests", fmt=lambda v: f"{v:.1f} ms",
                               width=16))
    for name, counts in (metrics.get("endpoint_instances") or {}).items():
        if len(counts) > 1:
            parts.append(series_text(counts, title=f"{name.split('/')[-1]} instances"))
    tuning = [Text(f"tuning {step}: {entry.get('training_jobs', 0)} training jobs, {entry.get('status')}"
                   + (f"; best {hp}" if (hp := ", ".join(f"{k}={v}" for k, v in
                                                         sorted(entry.get("hyperparameters", {}).items())))
                      else ""))
              for step, entry in (metrics.get("tuning") or {}).items()]
    if tuning:
        parts.append(Group(*tuning))
    notes = list(out.get("notes", [])) + [f"{e.get('operation', '')}: {e.get('code', '')} {e.get('message', '')}"
                                         .strip() if isinstance(e, dict) else str(e)
                                         for e in out.get("errors", [])]
    if notes:
        parts.append(Text("\n".join(f"• {n}" for n in notes[:8]), style="yellow"))
    return RunParts(head, reqs, Group(*_spaced(parts)) if parts else None,
                    timeline=timeline_table(out.get("timeline", []), limit=30, title="Timeline (virtual time)"),
                    bill=bill_table(out.get("bill"), title="Bill"))


def _requirements(run: dict) -> Text | None:
    reqs = run.get("requirements", [])
    if not reqs:
        return None
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
    return t


class _Texts:
    """How options, prompts and answers read (the question's texts, else the runs' labels)."""

    def __init__(self, result: dict, question: Any) -> None:
        self.result = result
        self.question = question

    def text_of(self, option: str) -> str:
        q = self.question
        for o in getattr(q, "options", []) if q is not None else []:
            if o.id == option:
                return plain(o.text)
        run = self.result.get("runs", {}).get(option)
        return plain(run["label"]) if run else option

    def letter(self, option: str) -> str:
        q = self.question
        ids = [o.id for o in getattr(q, "options", [])] if q is not None else []
        return LETTERS[ids.index(option) % 26] + ". " if option in ids else ""

    def answer_text(self, answer: Any) -> str:
        if answer is None or answer == [] or answer == {}:
            return "no answer"
        if isinstance(answer, str):
            return self.letter(answer) + self.text_of(answer)
        if isinstance(answer, dict):
            return "; ".join(f"{self.prompt_text(p)} → {self.text_of(a) if a else '—'}" for p, a in answer.items())
        if self.result.get("type") == "ordering":
            return " → ".join(self.text_of(a) for a in answer)
        return "; ".join(self.letter(a) + self.text_of(a) for a in answer)

    def prompt_text(self, prompt: str) -> str:
        q = self.question
        for p in getattr(q, "prompts", []) if q is not None else []:
            if p.id == prompt:
                return plain(p.text)
        return prompt


def prepare_outcome(result: dict, *, chosen: str | None = None, question: Any = None) -> OutcomeParts:
    """Every renderable of the outcome view of ``result`` (pure; safe in a worker thread)."""
    r = result
    tx = _Texts(r, question)
    score = float(r.get("score", 0.0))
    if r.get("correct"):
        verdict = Text("✔ Correct", style="bold green")
    elif score > 0:
        verdict = Text(f"◐ Partly right: score {score:.2f}", style="bold yellow")
    else:
        verdict = Text("✘ Not the best choice", style="bold red")
    verdict.append(f"   score {score:.2f} ({r.get('scoring', 'all_or_nothing')})", style="dim")
    verdict.append("\nYour answer: ", style="dim")
    verdict.append(tx.answer_text(r.get("answer")))
    if not r.get("correct"):
        verdict.append("\nBest answer: ", style="dim")
        verdict.append(tx.answer_text(r.get("correct_answer")))
    if r.get("requirements"):
        verdict.append("\nRequirements: " + " · ".join(r["requirements"]), style="italic")
    mine, best = pick_runs(r, chosen)
    parts = OutcomeParts(verdict, mine, best)
    runs = r.get("runs", {})
    if runs:
        if mine is not None and mine != best:
            parts.runs[mine] = run_parts(mine, runs[mine], "Your choice")
        if best is not None:
            parts.runs[best] = run_parts(best, runs[best], "Your choice: the best one" if best == mine
                                         else "The best choice")
        if len(runs) > 1:
            parts.comparison, parts.cost_chart = _comparison(runs, tx)
    elif r.get("type") != "matching":
        parts.no_runs = True
    parts.feedback = _feedback(r, tx)
    if r.get("explanation"):
        from rich.markdown import Markdown

        parts.explanation = titled("Explanation", Markdown(r["explanation"], justify="left"))
    if r.get("references"):
        parts.references = Text("References", style="bold")
        parts.references.append("\n" + "\n".join(f"• {u}" for u in r["references"]), style="not bold underline")
    parts.notes = [n["topic"] for n in r.get("notes", []) if n.get("available")]
    return parts


def _comparison(runs: dict, tx: _Texts) -> tuple[Table, Table | None]:
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold",
                  title="Every option that ran", title_justify="left", title_style="bold")
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
        letter = tx.letter(key)
        label = (letter if not key.startswith("order:") else "") + plain(run.get("label", key))
        supported = out.get("supported", True)
        table.add_row(label, tags.strip(), mark(run.get("meets_all")),
                      show_value(facts.get("time.total"), "time.total") if supported else "-",
                      money(facts.get("cost.total")) if supported else "not simulated")
        if supported and "cost.total" in facts:
            short = (letter or "") + label[len(letter):][:28]
            costs[short] = facts["cost.total"]
            if run.get("correct"):
                best_costs.append(short)
    chart = None
    if len(costs) > 1 and any(x.get("among") for run in runs.values() for x in run.get("requirements", [])):
        chart = bar_table(costs, title="Cost per option", fmt=money, highlight=best_costs, width=20)
    return table, chart


def _feedback(r: dict, tx: _Texts) -> Group | None:
    items = r.get("feedback", [])
    if not items:
        return None
    table = Table(box=None, show_header=False, show_edge=False, pad_edge=False, expand=True)
    table.add_column("", no_wrap=True)  # bullets, with the text hanging beside them
    table.add_column("feedback", ratio=1, overflow="fold")
    for f in items:
        t = Text()
        if "prompt" in f:
            ok = f.get("given") == f.get("answer")
            given = tx.text_of(f["given"]) if f.get("given") else "no answer"
            t.append_text(mark(ok))
            t.append(" ")
            t.append(tx.prompt_text(f["prompt"]), style="bold")
            t.append(f" → {given}" + ("" if ok else f" (right: {tx.text_of(f['answer'])})") + f". {f.get('text', '')}")
        elif "position" in f:
            ok = f.get("placed") == f.get("position")
            placed = f.get("placed") or "-"
            t.append_text(mark(ok))
            t.append(" ")
            t.append(tx.text_of(f["option"]), style="bold")
            t.append(f": placed {placed}, belongs at {f['position']}. {f.get('text', '')}")
        else:
            who = "your choice, " if f.get("chosen") else ""
            right = "right" if f.get("correct") else "wrong"
            t.append_text(mark(bool(f.get("correct"))))
            t.append(" ")
            t.append(tx.letter(f["option"]) + tx.text_of(f["option"]), style="bold")
            t.append(f" ({who}{right}): {f.get('text', '')}")
        table.add_row("•", t)
    return titled("Feedback", table)


# -- the widgets (UI thread) -------------------------------------------------------------------------


class RunPanel(Static):
    """One run: heading, requirements, key metrics, pictures, timeline and bill, in one ``Static``.

    One widget, not one per part: the learner waits for this view after submitting, and each
    widget costs a style pass and a box in every layout (five per panel were a tenth of the wait).
    """

    DEFAULT_CSS = """
    RunPanel { width: 1fr; height: auto; padding: 0 1; border: round $panel; }
    RunPanel#run-best { border: round $success; }
    """

    def __init__(self, key: str, run: dict, heading: str, *, id: str | None = None,
                 parts: RunParts | None = None) -> None:
        self.key = key
        self.run = run
        self.heading = heading
        self.parts = parts or run_parts(key, run, heading)
        super().__init__(Rendered(self.parts.renderable()), id=id, classes="run-panel")

    @property
    def total(self) -> str:
        """The run's bill total (the exact string the engine's bill has)."""
        return str((self.run.get("outcome", {}).get("bill") or {}).get("total", "0"))


class OutcomeView(Vertical):
    """The result of one answer (see the module docstring)."""

    DEFAULT_CSS = """
    OutcomeView { height: auto; padding: 0 1; }
    OutcomeView > .runs { height: auto; layout: horizontal; margin-top: 1; }
    OutcomeView.-narrow > .runs { layout: vertical; }
    OutcomeView > .verdict, OutcomeView > .section, OutcomeView > .comparison,
    OutcomeView > .feedback { margin-top: 1; }
    OutcomeView .note-buttons { height: auto; }
    OutcomeView .note-button { margin-right: 1; }
    """

    class NoteRequested(Message):
        """The learner asked for the study note of ``topic``."""

        def __init__(self, topic: str) -> None:
            super().__init__()
            self.topic = topic

    def __init__(self, result: dict, *, chosen: str | None = None, question: Any = None,
                 id: str | None = None, prepared: OutcomeParts | None = None) -> None:
        super().__init__(id=id, classes="outcome-view")
        self.result = result
        self.question = question
        self.parts = prepared or prepare_outcome(result, chosen=chosen, question=question)
        self.mine, self.best = self.parts.mine, self.parts.best

    def compose(self) -> ComposeResult:
        p = self.parts
        # A first guess from the parent's width (refined on mount), so the first layout is the right one.
        parent = self.parent
        guess = parent.size.width if isinstance(parent, Widget) and parent.size.width else self.app.size.width
        self.set_class(guess - 2 < WIDE, "-narrow")  # less the padding, as self.size.width
        yield Static(p.verdict, classes="verdict")
        runs = self.result.get("runs", {})
        if runs:
            with Horizontal(classes="runs"):
                if p.mine is not None and p.mine != p.best:
                    yield RunPanel(p.mine, runs[p.mine], "Your choice", id="run-mine", parts=p.runs.get(p.mine))
                if p.best is not None:
                    heading = "Your choice: the best one" if p.best == p.mine else "The best choice"
                    yield RunPanel(p.best, runs[p.best], heading, id="run-best", parts=p.runs.get(p.best))
            charts = [c for c in (p.comparison, p.cost_chart) if c is not None]
            if charts:
                yield Static(Rendered(Group(*_spaced(charts))),
                             classes="comparison" + (" cost-chart" if p.cost_chart is not None else ""))
        elif p.no_runs:
            yield Static(Text("Nothing was simulated for this answer.", style="dim"), classes="no-runs")
        words = [w for w in (p.feedback, p.explanation, p.references) if w is not None]
        if words:  # one widget for the reading part, for the reason RunPanel is one
            yield Static(Rendered(Group(*_spaced(words))), classes="feedback")
        if p.notes:
            yield Label(Text("Study notes", style="bold"), classes="section")
            with Horizontal(classes="note-buttons"):
                for topic in p.notes:
                    yield Button(topic, id=f"note-{topic}", classes="note-button", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id and event.button.id.startswith("note-"):
            event.stop()
            self.post_message(self.NoteRequested(event.button.id[len("note-"):]))

    def on_resize(self) -> None:
        self._fit()

    def on_mount(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Stack the runs when the view is narrow. Before the first layout the view has no width
        yet: the guess ``compose`` made stands (flipping it would lay the whole view out twice more)."""
        if self.size.width:
            self.set_class(self.size.width < WIDE, "-narrow")
