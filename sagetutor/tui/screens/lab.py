"""``LabScreen``: the sandbox. Configure one training job, run it live, compare the runs kept.

A thin face over ``sagetutor.lab``: the form builds a ``LabConfig``, a thread worker steps a
``LabRun`` a minute of virtual time at a time and posts each ``LabSnapshot`` back with
``call_from_thread``, and finished runs go to a ``LabHistory`` shared by every lab screen of the
app (so leaving the lab and coming back keeps them). The UI never waits on the engine.

Tabs: Setup (the form and what the config will teach), Live (clock, status, timeline, bill,
objective metric, training log) and Compare (every kept run side by side).
"""

from __future__ import annotations

import threading
import time
import weakref
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Header,
    Input,
    Label,
    RichLog,
    Select,
    Sparkline,
    Static,
    Switch,
    TabbedContent,
    TabPane,
)

from sagetutor.lab import (
    DEPLOYMENTS,
    TICK,
    LabConfig,
    LabHistory,
    LabRun,
    LabSnapshot,
    LabSummary,
    algorithms_for,
    datasets,
    deploy_instances,
    training_instances,
)
from sagetutor.tui.widgets.footer import KeyFooter

#: Kept runs per app, so every lab screen of one app shares them (and tests' apps do not).
_HISTORIES: weakref.WeakKeyDictionary[Any, LabHistory] = weakref.WeakKeyDictionary()

KIND_STYLES = {"spot": "bold yellow", "fault": "bold red", "checkpoint": "cyan", "billing": "dim",
               "lab": "italic green"}
#: Below this width the live panes stack; at or above it they sit side by side (and the form uses 4 columns).
WIDE = 110
#: With ``pace=0`` the worker redraws at most this often (wall seconds); the final snapshot always.
MIN_REDRAW = 0.1


def history_for(app: Any) -> LabHistory:
    try:
        return _HISTORIES.setdefault(app, LabHistory())
    except TypeError:  # not weak-referenceable: no sharing
        return LabHistory()


def money(value: Decimal | float) -> str:
    d = Decimal(str(value))
    return f"${d:,.6f}" if abs(d) < 1 else f"${d:,.4f}"


def _int(text: str, name: str, *, blank: int | None = None) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return blank
    try:
        return int(float(text))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number") from None


def _float(text: str, name: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number") from None


class LabScreen(Screen):
    """The lab: a form, a live run in a worker thread, and the runs kept for comparison."""

    TITLE = "Lab"
    BINDINGS = [
        Binding("ctrl+r,f5", "run", "Run"),
        Binding("ctrl+s,f6", "stop", "Stop"),
        Binding("f2", "show_tab('lab-setup')", "Setup"),
        Binding("f3", "show_tab('lab-live')", "Live"),
        Binding("f4", "show_tab('lab-compare')", "Compare"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    LabScreen #lab-form { grid-size: 2; grid-columns: 22 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; }
    LabScreen.wide #lab-form { grid-size: 4; grid-columns: 22 1fr 22 1fr; }
    LabScreen #lab-form > Label { height: 3; content-align: left middle; color: $text-muted; }
    LabScreen #lab-form Switch { width: auto; }
    LabScreen #lab-notes { margin: 1 0; color: $warning; height: auto; }
    LabScreen #lab-run-row { height: auto; }
    LabScreen #lab-run-row Button { margin-right: 2; }
    LabScreen #lab-status { height: auto; padding: 0 1; background: $boost; }
    LabScreen #lab-panes { height: auto; }
    LabScreen.wide #lab-panes { layout: horizontal; height: 1fr; min-height: 14; }
    LabScreen #lab-timeline { height: 12; }
    LabScreen.wide #lab-timeline { width: 3fr; height: 1fr; }
    LabScreen #lab-side { height: auto; }
    LabScreen.wide #lab-side { width: 2fr; height: 1fr; margin-left: 1; }
    LabScreen #lab-bill { height: auto; max-height: 8; }
    LabScreen #lab-total { height: 1; text-style: bold; padding: 0 1; }
    LabScreen #lab-metric-label { height: 1; padding: 0 1; color: $text-muted; }
    LabScreen #lab-metric { height: 2; margin: 0 1; }
    LabScreen #lab-result { height: auto; padding: 0 1; }
    LabScreen #lab-log { height: 10; border-top: solid $primary-darken-2; }
    LabScreen.wide #lab-log { height: 1fr; min-height: 8; }
    LabScreen #lab-live-scroll { height: 1fr; }
    LabScreen #lab-compare { height: auto; max-height: 20; }
    LabScreen #lab-compare-detail { height: auto; padding: 1 1; }
    LabScreen TabbedContent { height: 1fr; }
    LabScreen TabPane { padding: 0 1; }
    """

    def __init__(self, pack: Any = None, *, history: LabHistory | None = None, pace: float = 0.03,
                 config: LabConfig | None = None, **kw: Any) -> None:
        """``pace``: wall seconds the worker waits between one-minute slices (0 runs flat out)."""
        super().__init__(**kw)
        self.pack = pack
        self._history = history
        self.pace = pace
        self._initial = config
        self._stop_event = threading.Event()
        self._lab_running = False
        self._shown_events = 0
        self._shown_logs = 0
        self.last_snapshot: LabSnapshot | None = None
        self.last_summary: LabSummary | None = None

    @property
    def history(self) -> LabHistory:
        if self._history is None:
            self._history = history_for(self.app)
        return self._history

    @property
    def running(self) -> bool:
        return self._lab_running

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        c = self._initial or LabConfig(seed=self.app.seed if getattr(self.app, "seed", None) is not None else 7)
        yield Header()
        with TabbedContent(initial="lab-setup", id="lab-tabs"):
            with TabPane("Setup", id="lab-setup"), VerticalScroll(id="lab-setup-scroll"):
                with Grid(id="lab-form"):
                    yield Label("Dataset")
                    yield Select([(d, d) for d in datasets()], value=c.dataset, allow_blank=False, id="lab-dataset")
                    yield Label("Algorithm")
                    yield Select([(a, a) for a in algorithms_for(c.dataset)], value=c.algorithm,
                                 allow_blank=False, id="lab-algorithm")
                    yield Label("Training instance")
                    yield Select([(i, i) for i in training_instances()], value=c.instance_type,
                                 allow_blank=False, id="lab-instance")
                    yield Label("Instance count")
                    yield Input(str(c.instance_count), type="integer", id="lab-count")
                    yield Label("Nominal rows")
                    yield Input(str(c.nominal_rows or ""), placeholder="real size", type="integer",
                                id="lab-rows")
                    yield Label("Managed Spot")
                    yield Switch(c.spot, id="lab-spot")
                    yield Label("Checkpoints to S3")
                    yield Switch(c.checkpoints, id="lab-checkpoints")
                    yield Label("Max runtime (min)")
                    yield Input(str(c.max_runtime_minutes), type="integer", id="lab-max-runtime")
                    yield Label("Max wait (min)")
                    yield Input(str(c.max_wait_minutes), type="integer", id="lab-max-wait")
                    yield Label("Inject Spot reclaim")
                    yield Switch(c.interrupt_after_minutes is not None, id="lab-interrupt")
                    yield Label("  after (min training)")
                    yield Input(f"{c.interrupt_after_minutes or 10:g}", type="number", id="lab-interrupt-min")
                    yield Label("Inject no capacity")
                    yield Switch(c.no_capacity_minutes is not None, id="lab-nocap")
                    yield Label("  for (min)")
                    yield Input(f"{c.no_capacity_minutes or 15:g}", type="number", id="lab-nocap-min")
                    yield Label("Deployment")
                    yield Select([(text, key) for key, text in DEPLOYMENTS.items()], value=c.deployment,
                                 allow_blank=False, id="lab-deployment")
                    yield Label("Deploy instance")
                    yield Select([(i, i) for i in deploy_instances(c.deployment)], value=c.deploy_instance,
                                 allow_blank=False, id="lab-deploy-instance")
                    yield Label("Endpoint stands (min)")
                    yield Input(str(c.endpoint_minutes), type="integer", id="lab-endpoint-min")
                    yield Label("Seed")
                    yield Input(str(c.seed), type="integer", id="lab-seed")
                yield Static("", id="lab-notes")
                with Horizontal(id="lab-run-row"):
                    yield Button("Run  (ctrl+r)", id="lab-run", variant="primary")
                    yield Button("Stop  (ctrl+s)", id="lab-stop", variant="error", disabled=True)
            with TabPane("Live", id="lab-live"), VerticalScroll(id="lab-live-scroll"):
                yield Static("Not started: set up a run and press ctrl+r.", id="lab-status")
                with Vertical(id="lab-panes"):
                    yield DataTable(id="lab-timeline", cursor_type="row", zebra_stripes=False)
                    with Vertical(id="lab-side"):
                        yield DataTable(id="lab-bill", cursor_type="none")
                        yield Static("Total so far: $0.000000", id="lab-total")
                        yield Static("objective metric", id="lab-metric-label")
                        yield Sparkline([], id="lab-metric")
                        yield Static("", id="lab-result")
                yield RichLog(id="lab-log", max_lines=2000, wrap=False, markup=False)
            with TabPane("Compare", id="lab-compare-tab"), VerticalScroll():
                yield DataTable(id="lab-compare", cursor_type="row")
                yield Static("No runs yet. Each finished run is kept here.", id="lab-compare-detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#lab-timeline", DataTable).add_columns("time", "resource", "what happened")
        self.query_one("#lab-bill", DataTable).add_columns("resource", "usage", "pricing", "quantity", "amount")
        self.query_one("#lab-compare", DataTable).add_columns(*LabHistory.COLUMNS)
        self._fill_compare()
        self._sync_form()
        self._layout(self.size.width)

    def on_resize(self, event: Any) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.set_class(width >= WIDE, "wide")

    # -- the form -----------------------------------------------------------------------------------
    def read_config(self) -> LabConfig:
        """The form as a ``LabConfig`` (``ValueError``/``ValidationError`` on a bad field)."""
        q = self.query_one
        spot = q("#lab-spot", Switch).value
        return LabConfig(
            dataset=q("#lab-dataset", Select).value,
            algorithm=q("#lab-algorithm", Select).value,
            instance_type=q("#lab-instance", Select).value,
            instance_count=_int(q("#lab-count", Input).value, "instance count", blank=1),
            nominal_rows=_int(q("#lab-rows", Input).value, "nominal rows"),
            spot=spot,
            checkpoints=q("#lab-checkpoints", Switch).value,
            max_runtime_minutes=_int(q("#lab-max-runtime", Input).value, "max runtime", blank=120),
            max_wait_minutes=_int(q("#lab-max-wait", Input).value, "max wait", blank=240),
            interrupt_after_minutes=(_float(q("#lab-interrupt-min", Input).value, "reclaim after")
                                     if q("#lab-interrupt", Switch).value else None),
            no_capacity_minutes=(_float(q("#lab-nocap-min", Input).value, "no capacity for")
                                 if q("#lab-nocap", Switch).value else None),
            deployment=q("#lab-deployment", Select).value,
            deploy_instance=q("#lab-deploy-instance", Select).value,
            endpoint_minutes=_int(q("#lab-endpoint-min", Input).value, "endpoint minutes", blank=60),
            seed=_int(q("#lab-seed", Input).value, "seed", blank=7),
        )

    @staticmethod
    def _problem_text(e: Exception) -> str:
        if isinstance(e, ValidationError):
            return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
                             for err in e.errors())
        return str(e)

    def _sync_form(self) -> None:
        """Enable what applies, and say what the config will teach (or what is wrong with it)."""
        q = self.query_one
        spot = q("#lab-spot", Switch).value
        for wid in ("#lab-checkpoints", "#lab-max-wait", "#lab-interrupt", "#lab-nocap"):
            q(wid).disabled = not spot
        q("#lab-interrupt-min", Input).disabled = not (spot and q("#lab-interrupt", Switch).value)
        q("#lab-nocap-min", Input).disabled = not (spot and q("#lab-nocap", Switch).value)
        deployment = q("#lab-deployment", Select).value
        q("#lab-deploy-instance", Select).disabled = deployment in ("none", "serverless")
        q("#lab-endpoint-min", Input).disabled = deployment not in ("realtime", "serverless")
        notes = q("#lab-notes", Static)
        try:
            config = self.read_config()
        except (ValueError, ValidationError) as e:
            notes.update(Text("Cannot run this: " + self._problem_text(e), style="bold red"))
            return
        lines = config.notes()
        notes.update("\n".join(f"• {n}" for n in lines) if lines else config.label())

    @on(Select.Changed, "#lab-dataset")
    def _dataset_changed(self, event: Select.Changed) -> None:
        algo = self.query_one("#lab-algorithm", Select)
        current = algo.value
        allowed = algorithms_for(str(event.value))
        algo.set_options([(a, a) for a in allowed])
        if current in allowed:
            algo.value = current
        self._sync_form()

    @on(Select.Changed, "#lab-deployment")
    def _deployment_changed(self, event: Select.Changed) -> None:
        inst = self.query_one("#lab-deploy-instance", Select)
        current = inst.value
        allowed = deploy_instances(str(event.value))
        inst.set_options([(i, i) for i in allowed])
        if current in allowed:
            inst.value = current
        self._sync_form()

    @on(Select.Changed)
    @on(Switch.Changed)
    @on(Input.Changed)
    def _form_changed(self, event: Any) -> None:
        if getattr(event, "control", None) is not None and event.control.id not in ("lab-dataset", "lab-deployment"):
            self._sync_form()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#lab-run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#lab-stop")
    def _stop_pressed(self) -> None:
        self.action_stop()

    # -- actions ------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run" and self._lab_running:
            return None  # shown, dimmed
        if action == "stop" and not self._lab_running:
            return None
        return True

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#lab-tabs", TabbedContent).active = "lab-compare-tab" if tab == "lab-compare" else tab

    def action_back(self) -> None:
        self._stop_event.set()
        self.app.pop_screen()

    def action_stop(self) -> None:
        if self._lab_running:
            self._stop_event.set()
            self.query_one("#lab-status", Static).update("Stopping: StopTrainingJob / DeleteEndpoint ...")

    def action_run(self) -> None:
        if self._lab_running:
            self.notify("A run is in progress: stop it (ctrl+s) or wait for it to finish.", severity="warning")
            return
        try:
            config = self.read_config()
        except (ValueError, ValidationError) as e:
            self.notify(self._problem_text(e), title="Cannot run this", severity="error", timeout=8)
            return
        self._reset_live(config)
        self._set_running(True)
        self.action_show_tab("lab-live")
        self._run_worker(config)

    def _set_running(self, running: bool) -> None:
        self._lab_running = running
        self.query_one("#lab-run", Button).disabled = running
        self.query_one("#lab-stop", Button).disabled = not running
        self.refresh_bindings()

    def _reset_live(self, config: LabConfig) -> None:
        self._stop_event.clear()
        self._shown_events = self._shown_logs = 0
        self.query_one("#lab-timeline", DataTable).clear()
        self.query_one("#lab-bill", DataTable).clear()
        self.query_one("#lab-log", RichLog).clear()
        self.query_one("#lab-metric", Sparkline).data = []
        self.query_one("#lab-result", Static).update("")
        self.query_one("#lab-total", Static).update("Total so far: $0.000000")
        self.query_one("#lab-status", Static).update(f"Starting a fresh engine (seed {config.seed}) ...\n"
                                                     f"{config.label()}")

    # -- the worker -----------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="lab", name="lab-run")
    def _run_worker(self, config: LabConfig) -> None:
        """Step the run a minute of virtual time at a time; every snapshot goes back to the UI thread."""
        run = LabRun(config)
        snap = None
        try:
            snap = run.start()
            self._post(self.show_snapshot, snap)
            posted = time.monotonic()
            while not run.done:
                if self._stop_event.is_set():
                    snap = run.stop()
                    break
                snap = run.step(TICK)
                # flat out, redraw at most every MIN_REDRAW s; paced, every slice (the last one always)
                if self.pace or time.monotonic() - posted >= MIN_REDRAW:
                    self._post(self.show_snapshot, snap)
                    posted = time.monotonic()
                if self.pace:
                    time.sleep(self.pace)
            summary = run.summary()
        except Exception as e:  # never leave the screen stuck in "running"
            self._post(self._failed, f"{type(e).__name__}: {e}")
            return
        self._post(self._finished, summary, snap)

    def _post(self, callback: Any, *args: Any) -> None:
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError:  # the app has stopped
            pass

    # -- showing ----------------------------------------------------------------------------------------
    def show_snapshot(self, snap: LabSnapshot) -> None:
        """Redraw the live view from one snapshot (only what changed is appended)."""
        if not self.is_attached:
            return
        self.last_snapshot = snap
        status = Text()
        status.append(f"⏱ {snap.clock}", style="bold")
        status.append(f"  {snap.phase}  ", style="reverse")
        status.append(f" {snap.job_status or '-'}")
        if snap.secondary_status:
            status.append(f"/{snap.secondary_status}")
        if snap.endpoint_status:
            status.append(f"  endpoint/transform: {snap.endpoint_status}")
        status.append(f"  total {money(snap.total)}", style="bold")
        if snap.status_message:
            status.append(f"\n{snap.status_message}", style="dim")
        self.query_one("#lab-status", Static).update(status)
        timeline = self.query_one("#lab-timeline", DataTable)
        new_events = snap.events[self._shown_events:]
        for e in new_events:
            timeline.add_row(e.clock, e.resource, Text(e.message, style=KIND_STYLES.get(e.kind, "")))
        if new_events:
            timeline.move_cursor(row=timeline.row_count - 1, animate=False)
        self._shown_events = len(snap.events)
        log = self.query_one("#lab-log", RichLog)
        for line in snap.logs[self._shown_logs:]:
            log.write(line)
        self._shown_logs = len(snap.logs)
        bill = self.query_one("#lab-bill", DataTable)
        bill.clear()
        for li in snap.bill:
            bill.add_row(li.resource.rsplit("/", 1)[-1][:16], li.usage_type.removesuffix("-seconds"),
                         li.pricing_model, f"{li.quantity.normalize():f} {li.unit}",
                         Text(money(li.amount), justify="right"))
        self.query_one("#lab-total", Static).update(f"Total so far: {money(snap.total)}")
        metric = self.query_one("#lab-metric", Sparkline)
        metric.data = list(snap.objective_series)
        last = snap.metrics.get(snap.objective)
        self.query_one("#lab-metric-label", Static).update(
            f"{snap.objective}: {last:.4g} ({len(snap.objective_series)} rounds posted)" if last is not None
            else f"{snap.objective}: posted when an attempt ends")

    def _finished(self, summary: LabSummary, snap: LabSnapshot | None) -> None:
        if not self.is_attached:
            self.history.add(summary)  # still keep it
            return
        if snap is not None:
            self.show_snapshot(snap)
        self.last_summary = summary
        number = self.history.add(summary)
        self.query_one("#lab-result", Static).update(Text("\n".join([f"Run {number} kept:"] + summary.lines())))
        self._fill_compare()
        self._set_running(False)
        self.notify(f"Run {number}: {summary.status}, {money(summary.total_cost)}"
                    + (f", Spot saved {summary.spot_savings:.0%}" if summary.spot_savings is not None else ""),
                    title="Lab run finished")

    def _failed(self, message: str) -> None:
        if not self.is_attached:
            return
        self.query_one("#lab-result", Static).update(Text(f"The run broke: {message}", style="bold red"))
        self._set_running(False)
        self.notify(message, title="Lab run failed", severity="error", timeout=10)

    def _fill_compare(self) -> None:
        table = self.query_one("#lab-compare", DataTable)
        table.clear()
        for row in self.history.rows():
            table.add_row(*row)
        if len(self.history):
            self._detail(len(self.history) - 1)

    def _detail(self, index: int) -> None:
        if 0 <= index < len(self.history):
            s = self.history[index]
            self.query_one("#lab-compare-detail", Static).update("\n".join(s.lines()))

    @on(DataTable.RowHighlighted, "#lab-compare")
    def _compare_row(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def on_unmount(self) -> None:
        self._stop_event.set()
