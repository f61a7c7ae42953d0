"""Step Functions: state machines in Amazon States Language, executed in virtual time.

One SimPy process per execution walks the definition (``engine.services.asl`` parses it and does
the data flow); it holds a busy token, so ``run_until_idle`` runs executions to their end. Task
states call the SageMaker backend directly, as the optimized service integrations
``arn:aws:states:::sagemaker:<action>[.sync]`` call the SageMaker API, with the API's own
parameter names. A ``.sync`` task waits, in virtual time, for the job to end and returns its
Describe* response; anything else returns the Create* response. Every step is recorded as the
history events GetExecutionHistory returns, stamped by the virtual clock.

Billing: Standard workflows charge per state transition (each state entered, and each retry),
``unit_price("step-functions-transition-1k")`` per 1,000, as one line per execution when it ends.
See docs/step-functions.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import simpy
from botocore import xform_name
from botocore.validate import ParamValidator

from engine.bill import line
from engine.errors import ServiceError
from engine.pricing import unit_price
from engine.protocol import constraints
from engine.protocol.client import Call, shared_session
from engine.services import asl

#: How often a .sync task looks at a job that has no SimPy process to wait on (virtual seconds).
POLL_SECONDS = 5
#: Job statuses that end a .sync task; only the first succeeds.
JOB_DONE = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class Action:
    """One SageMaker optimized integration."""

    operation: str  # the API operation, e.g. CreateTrainingJob
    describe: str | None = None  # for .sync: the Describe* operation ...
    name_key: str | None = None  # ... the request field naming the job ...
    status_key: str | None = None  # ... the Describe* field with its status ...
    part: str | None = None  # ... the SageMaker part whose ``jobs`` may hold a SimPy process ...
    stop: str | None = None  # ... and the operation that stops it (on StopExecution or a timeout)


ACTIONS: dict[str, Action] = {
    "createTrainingJob": Action("CreateTrainingJob", "DescribeTrainingJob", "TrainingJobName", "TrainingJobStatus",
                                "training", "StopTrainingJob"),
    "createTransformJob": Action("CreateTransformJob", "DescribeTransformJob", "TransformJobName",
                                 "TransformJobStatus", "transform", "StopTransformJob"),
    "createHyperParameterTuningJob": Action("CreateHyperParameterTuningJob", "DescribeHyperParameterTuningJob",
                                            "HyperParameterTuningJobName", "HyperParameterTuningJobStatus", "tuning",
                                            "StopHyperParameterTuningJob"),
    "createProcessingJob": Action("CreateProcessingJob", "DescribeProcessingJob", "ProcessingJobName",
                                  "ProcessingJobStatus", "processing", "StopProcessingJob"),
    "createLabelingJob": Action("CreateLabelingJob", "DescribeLabelingJob", "LabelingJobName", "LabelingJobStatus",
                                "labeling", "StopLabelingJob"),
    "createModel": Action("CreateModel"),
    "createEndpointConfig": Action("CreateEndpointConfig"),
    "createEndpoint": Action("CreateEndpoint"),
    "updateEndpoint": Action("UpdateEndpoint"),
}

#: SageMaker's modeled exceptions keep their Java class name; everything else is the service's base exception.
_ERROR_NAMES = {"ResourceInUse": "SageMaker.ResourceInUseException",
                "ResourceLimitExceeded": "SageMaker.ResourceLimitExceededException",
                "ResourceNotFound": "SageMaker.ResourceNotFoundException",
                "ConflictException": "SageMaker.ConflictException"}
GENERIC_ERROR = "SageMaker.AmazonSageMakerException"

_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_MACHINE_ARN = re.compile(r"^arn:aws:states:([a-z0-9-]+):(\d{12}):stateMachine:([^:]+)$")
_EXECUTION_ARN = re.compile(r"^arn:aws:states:([a-z0-9-]+):(\d{12}):execution:([^:]+):([^:]+)$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/.+$")


def parse_resource(arn: str) -> asl.Resource | str:
    """A Task's Resource, or the problem CreateStateMachine reports for it."""
    unrecognized = (f"The resource provided {arn} is not recognized. The value is not a valid resource ARN, or the "
                    "resource is not available in this region.")
    m = re.fullmatch(r"arn:aws:states:::([a-zA-Z0-9-]+):([a-zA-Z]+)(\.sync|\.waitForTaskToken)?(:\d+)?", arn)
    if m is None:
        if arn.startswith(("arn:aws:lambda:", "arn:aws:states:::lambda:", "arn:aws:states:::aws-sdk:",
                           "arn:aws:states:us-", "arn:aws:states:::")):
            return (f"SageTutor simulates only the SageMaker service integrations "
                    f"(arn:aws:states:::sagemaker:<action>[.sync]); the resource {arn} is not simulated")
        return unrecognized
    service, action, suffix = m.group(1), m.group(2), m.group(3)
    if service != "sagemaker":
        return (f"SageTutor simulates only the SageMaker service integrations "
                f"(arn:aws:states:::sagemaker:<action>[.sync]); the resource {arn} is not simulated")
    spec = ACTIONS.get(action)
    if spec is None or m.group(4) or suffix == ".waitForTaskToken" or (suffix == ".sync" and spec.describe is None):
        return unrecognized
    return asl.Resource(arn, service, action, suffix == ".sync")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _jsonable(value: Any) -> Any:
    """A backend response as Step Functions returns it: timestamps become epoch milliseconds."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return int(round(value.timestamp() * 1000))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return float(value)
    return value


@dataclass
class StateMachine:
    name: str
    arn: str
    definition_text: str
    definition: asl.Definition
    role: str
    created: float
    type: str = "STANDARD"
    status: str = "ACTIVE"
    description: str = ""


@dataclass
class Execution:
    arn: str
    name: str
    machine: StateMachine
    input: str
    start: float
    status: str = "RUNNING"
    stop: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    events: list[dict] = field(default_factory=list)
    transitions: int = 0
    process: simpy.Process | None = None
    job: tuple[Action, str] | None = None  # the .sync job in flight
    stop_reason: dict | None = None


class _Abort(Exception):  # noqa: N818 (a signal)
    """StopExecution, the execution's TimeoutSeconds, or a deleted state machine."""


class StepFunctions:
    """The ``stepfunctions`` client's backend."""

    def __init__(self, world):
        self.world = world
        self.machines: dict[str, StateMachine] = {}  # by ARN
        self.executions: dict[str, Execution] = {}  # by ARN
        self._sm_model = None
        self._ids = 0

    @property
    def clock(self):
        return self.world.clock

    # -- helpers -------------------------------------------------------------------------
    def _machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{self.world.region}:{self.world.account}:stateMachine:{name}"

    def _machine(self, arn: str) -> StateMachine:
        if not _MACHINE_ARN.match(arn or ""):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        sm = self.machines.get(arn)
        if sm is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return sm

    def _execution(self, arn: str) -> Execution:
        if not _EXECUTION_ARN.match(arn or ""):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        ex = self.executions.get(arn)
        if ex is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return ex

    def _uuid(self, *parts: Any) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(str(p) for p in (self.world.seed, *parts))))

    @staticmethod
    def _check_name(name: str) -> None:
        if not name or len(name) > 80 or _BAD_NAME.search(name):
            raise ServiceError("InvalidName", f"Invalid Name: '{name}'")

    # -- state machines ----------------------------------------------------------------------
    def create_state_machine(self, req: dict, call) -> dict:
        name = req["name"]
        self._check_name(name)
        role = req["roleArn"]
        if not _ROLE_ARN.match(role):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {role}'")
        if self.world.services["iam"].role_by_arn(role) is None:
            raise ServiceError("AccessDeniedException", "Neither the global service principal states.amazonaws.com, "
                                                        "nor the regional one is authorized to assume the provided "
                                                        "role.")
        kind = req.get("type", "STANDARD")
        if kind != "STANDARD":
            raise ServiceError("StateMachineTypeNotSupported",
                               "SageTutor simulates STANDARD workflows only (EXPRESS is not simulated).")
        try:
            definition = asl.parse(req["definition"], parse_resource)
        except asl.DefinitionError as e:
            raise ServiceError("InvalidDefinition", e.message) from None
        arn = self._machine_arn(name)
        existing = self.machines.get(arn)
        if existing is not None:
            if existing.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State Machine is being deleted: '{arn}'")
            if existing.definition_text == req["definition"] and existing.type == kind:
                return {"stateMachineArn": arn, "creationDate": self.clock.at(existing.created)}  # idempotent
            raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
        sm = StateMachine(name, arn, req["definition"], definition, role, self.clock.seconds, kind)
        self.machines[arn] = sm
        self.world.event(arn, "status", f"State machine created ({len(definition.states)} states)", "ACTIVE")
        return {"stateMachineArn": arn, "creationDate": self.clock.at(sm.created)}

    def describe_state_machine(self, req: dict, call) -> dict:
        sm = self._machine(req["stateMachineArn"])
        return {"stateMachineArn": sm.arn, "name": sm.name, "status": sm.status, "definition": sm.definition_text,
                "roleArn": sm.role, "type": sm.type, "creationDate": self.clock.at(sm.created),
                "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
                "tracingConfiguration": {"enabled": False}}

    def list_state_machines(self, req: dict, call) -> dict:
        items = sorted(self.machines.values(), key=lambda m: (m.created, m.name))
        start = int(req.get("nextToken") or 0)
        limit = req.get("maxResults") or 100
        page = items[start:start + limit]
        out: dict[str, Any] = {"stateMachines": [{"stateMachineArn": m.arn, "name": m.name, "type": m.type,
                                                  "creationDate": self.clock.at(m.created)} for m in page]}
        if start + limit < len(items):
            out["nextToken"] = str(start + limit)
        return out

    def delete_state_machine(self, req: dict, call) -> dict:
        arn = req["stateMachineArn"]
        if not _MACHINE_ARN.match(arn):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        sm = self.machines.get(arn)
        if sm is None:
            return {}  # AWS answers 200 for a machine that does not exist
        sm.status = "DELETING"
        self.world.event(arn, "status", "State machine deleting: running executions end at their next transition",
                         "DELETING")
        self._forget_if_done(sm)
        return {}

    def _forget_if_done(self, sm: StateMachine) -> None:
        if sm.status == "DELETING" and not any(e.machine is sm and e.status == "RUNNING"
                                               for e in self.executions.values()):
            self.machines.pop(sm.arn, None)  # its executions' histories stay readable, as AWS keeps them

    # -- executions ---------------------------------------------------------------------------
    def start_execution(self, req: dict, call) -> dict:
        sm = self._machine(req["stateMachineArn"])
        if sm.status == "DELETING":
            raise ServiceError("StateMachineDeleting", f"State Machine is being deleted: '{sm.arn}'")
        self._ids += 1
        name = req.get("name") or self._uuid(sm.arn, "execution", self._ids)
        self._check_name(name)
        text = req.get("input", "{}")
        try:
            json.loads(text)
        except ValueError as e:
            raise ServiceError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{e}'") from None
        arn = f"arn:aws:states:{self.world.region}:{self.world.account}:execution:{sm.name}:{name}"
        if arn in self.executions:
            ex = self.executions[arn]
            if ex.status == "RUNNING" and ex.input == text:
                return {"executionArn": arn, "startDate": self.clock.at(ex.start)}  # idempotent while running
            raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        ex = Execution(arn, name, sm, text, self.clock.seconds)
        self.executions[arn] = ex
        self._event(ex, "ExecutionStarted", "executionStartedEventDetails",
                    {"input": text, "inputDetails": {"truncated": False}, "roleArn": sm.role}, previous=0)
        self.world.event(arn, "status", f"Execution of {sm.name} started", "RUNNING")
        ex.process = self.clock.start(self._run(ex))
        if sm.definition.timeout_seconds:
            self.clock.env.process(self._execution_timer(ex, sm.definition.timeout_seconds))
        return {"executionArn": arn, "startDate": self.clock.at(ex.start)}

    def _execution_timer(self, ex: Execution, seconds: float):
        yield self.clock.env.timeout(seconds)
        if ex.status == "RUNNING" and ex.process is not None and ex.process.is_alive:
            ex.process.interrupt({"kind": "timeout"})

    def describe_execution(self, req: dict, call) -> dict:
        ex = self._execution(req["executionArn"])
        out: dict[str, Any] = {"executionArn": ex.arn, "stateMachineArn": ex.machine.arn, "name": ex.name,
                               "status": ex.status, "startDate": self.clock.at(ex.start), "input": ex.input,
                               "inputDetails": {"included": True}, "redriveCount": 0}
        if ex.stop is not None:
            out["stopDate"] = self.clock.at(ex.stop)
        if ex.output is not None:
            out["output"] = ex.output
            out["outputDetails"] = {"included": True}
        if ex.error is not None:
            out["error"] = ex.error
        if ex.cause is not None:
            out["cause"] = ex.cause
        return out

    def list_executions(self, req: dict, call) -> dict:
        if "stateMachineArn" not in req:
            raise ServiceError("ValidationException", "Must provide a StateMachine ARN or MapRun ARN")
        sm = self._machine(req["stateMachineArn"])
        items = [e for e in self.executions.values() if e.machine is sm]
        if req.get("statusFilter"):
            items = [e for e in items if e.status == req["statusFilter"]]
        items.sort(key=lambda e: (e.start, e.arn), reverse=True)
        start = int(req.get("nextToken") or 0)
        limit = req.get("maxResults") or 100
        page = items[start:start + limit]
        rows = []
        for e in page:
            row = {"executionArn": e.arn, "stateMachineArn": sm.arn, "name": e.name, "status": e.status,
                   "startDate": self.clock.at(e.start), "redriveCount": 0}
            if e.stop is not None:
                row["stopDate"] = self.clock.at(e.stop)
            rows.append(row)
        out: dict[str, Any] = {"executions": rows}
        if start + limit < len(items):
            out["nextToken"] = str(start + limit)
        return out

    def get_execution_history(self, req: dict, call) -> dict:
        ex = self._execution(req["executionArn"])
        data = req.get("includeExecutionData", True)
        events = []
        for e in ex.events:
            ev = {"timestamp": self.clock.at(e["seconds"]), "type": e["type"], "id": e["id"],
                  "previousEventId": e["previousEventId"]}
            if e.get("key"):
                details = dict(e["details"])
                if not data:
                    for k in ("input", "inputDetails", "output", "outputDetails"):
                        details.pop(k, None)
                ev[e["key"]] = details
            events.append(ev)
        if req.get("reverseOrder"):
            events.reverse()
        start = int(req.get("nextToken") or 0)
        limit = req.get("maxResults") or 100
        out: dict[str, Any] = {"events": events[start:start + limit]}
        if start + limit < len(events):
            out["nextToken"] = str(start + limit)
        return out

    def stop_execution(self, req: dict, call) -> dict:
        ex = self._execution(req["executionArn"])
        if ex.status == "RUNNING" and ex.process is not None and ex.process.is_alive:
            ex.process.interrupt({"kind": "stop", "error": req.get("error"), "cause": req.get("cause")})
            # The interrupt is delivered at this instant: let SimPy deliver it so the caller sees ABORTED.
            env = self.clock.env
            while ex.status == "RUNNING" and env.peek() <= env.now:
                env.step()
        return {"stopDate": self.clock.at(ex.stop if ex.stop is not None else self.clock.seconds)}

    # -- history -------------------------------------------------------------------------------
    def _event(self, ex: Execution, kind: str, key: str | None = None, details: dict | None = None,
               previous: int | None = None) -> int:
        eid = len(ex.events) + 1
        prev = previous if previous is not None else (ex.events[-1]["id"] if ex.events else 0)
        ex.events.append({"seconds": self.clock.seconds, "type": kind, "id": eid, "previousEventId": prev,
                          "key": key, "details": details or {}})
        return eid

    def _context(self, ex: Execution) -> dict:
        return {"Execution": {"Id": ex.arn, "Input": json.loads(ex.input), "Name": ex.name,
                              "RoleArn": ex.machine.role, "StartTime": _iso(self.clock.at(ex.start)),
                              "RedriveCount": 0},
                "StateMachine": {"Id": ex.machine.arn, "Name": ex.machine.name},
                "State": {}}

    # -- the interpreter -------------------------------------------------------------------------
    def _run(self, ex: Execution):
        defn = ex.machine.definition
        data = json.loads(ex.input)
        ctx = self._context(ex)
        name = defn.start_at
        entered = 0
        first = True
        try:
            while True:
                if ex.machine.status == "DELETING":
                    raise _Abort({"kind": "deleted"})
                st = defn.states[name]
                kind = st["Type"]
                ex.transitions += 1
                entered = self._event(ex, f"{kind}StateEntered", "stateEnteredEventDetails",
                                      {"name": name, "input": asl.dumps(data), "inputDetails": {"truncated": False}},
                                      previous=0 if first else None)
                first = False
                ctx["State"] = {"EnteredTime": _iso(self.clock.now), "Name": name, "RetryCount": 0}
                self.world.event(ex.arn, "step", f"{kind} state {name} entered")
                handler = getattr(self, f"_state_{kind.lower()}")
                outcome = yield from handler(ex, name, st, data, ctx, entered)
                if outcome[0] == "next":
                    name, data = outcome[1], outcome[2]
                elif outcome[0] == "succeed":
                    self._succeed(ex, outcome[1])
                    return
                else:
                    self._fail(ex, outcome[1], outcome[2])
                    return
        except simpy.Interrupt as intr:
            self._abort(ex, intr.cause if isinstance(intr.cause, dict) else {"kind": "stop"})
        except _Abort as a:
            self._abort(ex, a.args[0])
        except asl.RuntimeFailure as e:
            self._fail(ex, "States.Runtime", f"An error occurred while executing the state '{name}' (entered at "
                                             f"the event id #{entered}). {e.cause}")
        except asl.StatesError as e:
            self._fail(ex, e.error, e.cause)
        except Exception as e:  # never let a learner's definition crash the engine's clock
            self._fail(ex, "States.Runtime", f"An error occurred while executing the state '{name}' (entered at "
                                             f"the event id #{entered}). Internal error: {type(e).__name__}: {e}")

    def _exit(self, ex: Execution, kind: str, name: str, output: Any) -> None:
        self._event(ex, f"{kind}StateExited", "stateExitedEventDetails",
                    {"name": name, "output": asl.dumps(output), "outputDetails": {"truncated": False}})

    def _after(self, ex: Execution, kind: str, name: str, st: dict, output: Any) -> tuple:
        self._exit(ex, kind, name, output)
        if st.get("End") is True:
            return ("succeed", output)
        return ("next", st["Next"], output)

    def _state_pass(self, ex, name, st, raw, ctx, entered):
        effective = asl.select(st.get("InputPath", "$"), raw, ctx, "InputPath")
        if "Parameters" in st:
            effective = asl.render(st["Parameters"], effective, ctx)
        result = st["Result"] if "Result" in st else effective
        out = asl.put(st.get("ResultPath", "$"), raw, result)
        out = asl.select(st.get("OutputPath", "$"), out, ctx, "OutputPath")
        return self._after(ex, "Pass", name, st, out)
        yield  # a generator like the other handlers

    def _state_succeed(self, ex, name, st, raw, ctx, entered):
        out = asl.select(st.get("InputPath", "$"), raw, ctx, "InputPath")
        out = asl.select(st.get("OutputPath", "$"), out, ctx, "OutputPath")
        self._exit(ex, "Succeed", name, out)
        return ("succeed", out)
        yield

    def _state_fail(self, ex, name, st, raw, ctx, entered):
        error = st.get("Error")
        cause = st.get("Cause")
        if "ErrorPath" in st:
            error = asl.select(st["ErrorPath"], raw, ctx, "ErrorPath")
        if "CausePath" in st:
            cause = asl.select(st["CausePath"], raw, ctx, "CausePath")
        return ("fail", error, cause)
        yield

    def _state_wait(self, ex, name, st, raw, ctx, entered):
        effective = asl.select(st.get("InputPath", "$"), raw, ctx, "InputPath")
        now = self.clock.seconds
        if "Seconds" in st or "SecondsPath" in st:
            seconds = st["Seconds"] if "Seconds" in st else asl.select(st["SecondsPath"], effective, ctx, "SecondsPath")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise asl.RuntimeFailure(f"The SecondsPath parameter does not reference a valid non-negative "
                                         f"integer value: {asl.dumps(seconds)}")
            delay = float(seconds)
        else:
            stamp = st["Timestamp"] if "Timestamp" in st else asl.select(st["TimestampPath"], effective, ctx,
                                                                         "TimestampPath")
            when = asl._timestamp(stamp)
            if when is None:
                raise asl.RuntimeFailure(f"The TimestampPath parameter does not reference a valid ISO-8601 "
                                         f"extended offset date-time format string: {asl.dumps(stamp)}")
            delay = max(0.0, (when - self.clock.at(0)).total_seconds() - now)
        if delay > 0:
            yield self.clock.env.timeout(delay)
        out = asl.select(st.get("OutputPath", "$"), effective, ctx, "OutputPath")
        return self._after(ex, "Wait", name, st, out)

    def _state_choice(self, ex, name, st, raw, ctx, entered):
        effective = asl.select(st.get("InputPath", "$"), raw, ctx, "InputPath")
        target = None
        for rule in st["Choices"]:
            if asl.evaluate_rule(rule, effective, ctx):
                target = rule["Next"]
                break
        if target is None:
            target = st.get("Default")
        if target is None:
            return ("fail", "States.NoChoiceMatched", "No Matches!")
        out = asl.select(st.get("OutputPath", "$"), effective, ctx, "OutputPath")
        self._exit(ex, "Choice", name, out)
        return ("next", target, out)
        yield

    def _state_task(self, ex, name, st, raw, ctx, entered):
        res: asl.Resource = ex.machine.definition.resources[name]
        retriers = st.get("Retry", [])
        counts = [0] * len(retriers)
        effective = asl.select(st.get("InputPath", "$"), raw, ctx, "InputPath")
        env = self.clock.env
        while True:
            params = asl.render(st["Parameters"], effective, ctx) if "Parameters" in st else effective
            timeout = st.get("TimeoutSeconds")
            if "TimeoutSecondsPath" in st:
                timeout = asl.select(st["TimeoutSecondsPath"], effective, ctx, "TimeoutSecondsPath")
            try:
                result = yield from self._invoke(ex, name, res, params, entered, timeout)
                break
            except asl.StatesError as err:
                i = next((i for i, r in enumerate(retriers) if asl.error_matches(r["ErrorEquals"], err.error)), None)
                if i is not None and counts[i] < retriers[i].get("MaxAttempts", 3):
                    r = retriers[i]
                    delay = r.get("IntervalSeconds", 1) * r.get("BackoffRate", 2.0) ** counts[i]
                    if "MaxDelaySeconds" in r:
                        delay = min(delay, r["MaxDelaySeconds"])
                    if r.get("JitterStrategy") == "FULL":  # seeded, so the same run waits the same
                        h = hashlib.sha256(f"{self.world.seed}|{ex.arn}|{len(ex.events)}".encode()).digest()
                        delay *= int.from_bytes(h[:8], "big") / 2**64
                    counts[i] += 1
                    ex.transitions += 1
                    ctx["State"]["RetryCount"] = sum(counts)
                    self.world.event(ex.arn, "step", f"Retrying {name} ({err.error}) in {delay:g} s "
                                                     f"(attempt {counts[i] + 1})")
                    yield env.timeout(delay)
                    continue
                return self._catch(ex, name, st, raw, err)
        try:
            if "ResultSelector" in st:
                result = asl.render(st["ResultSelector"], result, ctx)
            out = asl.put(st.get("ResultPath", "$"), raw, result)
            out = asl.select(st.get("OutputPath", "$"), out, ctx, "OutputPath")
        except asl.StatesError as err:
            return self._catch(ex, name, st, raw, err)
        return self._after(ex, "Task", name, st, out)

    def _catch(self, ex: Execution, name: str, st: dict, raw: Any, err: asl.StatesError) -> tuple:
        for catcher in st.get("Catch", []):
            if asl.error_matches(catcher["ErrorEquals"], err.error):
                out = asl.put(catcher.get("ResultPath", "$"), raw, {"Error": err.error, "Cause": err.cause})
                self._exit(ex, "Task", name, out)
                self.world.event(ex.arn, "step", f"{err.error} caught in {name}; next: {catcher['Next']}")
                return ("next", catcher["Next"], out)
        return ("fail", err.error, err.cause)

    # -- SageMaker integration -------------------------------------------------------------------
    def _invoke(self, ex: Execution, state: str, res: asl.Resource, params: Any, entered: int, timeout):
        spec = ACTIONS[res.action]
        if not isinstance(params, dict):
            raise asl.RuntimeFailure(f"The Parameters '{asl.dumps(params)}' could not be used to start the Task: "
                                     "[The value for the field 'Parameters' must be an OBJECT]")
        known = self._operation(spec.operation).input_shape.members
        unknown = [k for k in params if k not in known]
        if unknown:
            raise asl.RuntimeFailure(
                f"The Parameters '{asl.dumps(params)}' could not be used to start the Task: ["
                + ", ".join(f"The field \"{k}\" is not supported by Step Functions" for k in unknown) + "]")
        details = {"resourceType": res.service, "resource": res.name, "region": self.world.region,
                   "parameters": asl.dumps(params)}
        if timeout:
            details["timeoutInSeconds"] = int(timeout)
        self._event(ex, "TaskScheduled", "taskScheduledEventDetails", details)
        base = {"resourceType": res.service, "resource": res.name}
        self._event(ex, "TaskStarted", "taskStartedEventDetails", dict(base))
        started = self.clock.seconds
        try:
            created = self._sagemaker(ex, spec.operation, params)
        except asl.StatesError as err:
            self._event(ex, "TaskFailed", "taskFailedEventDetails", {**base, "error": err.error, "cause": err.cause})
            raise
        response = {**created, **self._sdk_metadata(ex)}
        if not res.sync:
            self._event(ex, "TaskSucceeded", "taskSucceededEventDetails",
                        {**base, "output": asl.dumps(response), "outputDetails": {"truncated": False}})
            return response
        self._event(ex, "TaskSubmitted", "taskSubmittedEventDetails",
                    {**base, "output": asl.dumps(response), "outputDetails": {"truncated": False}})
        job = params.get(spec.name_key)
        ex.job = (spec, job)
        deadline = started + float(timeout) if timeout else None
        try:
            desc = yield from self._wait_job(ex, spec, job, deadline)
        except asl.StatesError as err:  # States.Timeout
            self._event(ex, "TaskTimedOut", "taskTimedOutEventDetails", {**base, "error": err.error,
                                                                        "cause": err.cause})
            self._stop_job(ex)
            raise
        except (simpy.Interrupt, _Abort):
            self._stop_job(ex)
            raise
        finally:
            ex.job = None
        if desc.get(spec.status_key) == "Completed":
            self._event(ex, "TaskSucceeded", "taskSucceededEventDetails",
                        {**base, "output": asl.dumps(desc), "outputDetails": {"truncated": False}})
            return desc
        err = asl.StatesError("States.TaskFailed", asl.dumps(desc))
        self._event(ex, "TaskFailed", "taskFailedEventDetails", {**base, "error": err.error, "cause": err.cause})
        raise err

    def _wait_job(self, ex: Execution, spec: Action, job_name: str, deadline: float | None):
        env = self.clock.env
        sm = self.world.services["sagemaker"]
        while True:
            desc = self._sagemaker(ex, spec.describe, {spec.name_key: job_name}, validate=False)
            if desc.get(spec.status_key) in JOB_DONE:
                return desc
            part = getattr(sm, spec.part, None) if spec.part else None
            job = getattr(part, "jobs", {}).get(job_name) if part is not None else None
            proc = getattr(job, "process", None)
            waiting = proc if isinstance(proc, simpy.Process) and proc.is_alive else env.timeout(POLL_SECONDS)
            if deadline is not None:
                remaining = deadline - env.now
                if remaining <= 0:
                    raise asl.StatesError("States.Timeout", "")
                waiting = env.any_of([waiting, env.timeout(remaining)])
            yield waiting

    def _stop_job(self, ex: Execution) -> None:
        if ex.job is None:
            return
        spec, job = ex.job
        ex.job = None
        try:
            self._sagemaker(ex, spec.stop, {spec.name_key: job}, validate=False)
        except asl.StatesError:
            pass

    def _operation(self, operation: str):
        if self._sm_model is None:
            self._sm_model = shared_session().get_service_model("sagemaker")
        return self._sm_model.operation_model(operation)

    def _sagemaker(self, ex: Execution, operation: str, params: dict, validate: bool = True) -> dict:
        """Call the SageMaker backend as the state machine's role; a ServiceError becomes a Task error."""
        rid = self._uuid(ex.arn, len(ex.events), operation)
        try:
            if validate:
                self._validate(operation, params)
            method = getattr(self.world.services["sagemaker"], xform_name(operation), None)
            if method is None:
                raise ServiceError("UnknownOperationException",
                                   f"SageTutor does not simulate SageMaker.{operation} yet.", 501)
            session = ex.name[:64]
            call = Call("sagemaker", operation, self.world.services["iam"].session_arn(ex.machine.role, session))
            result = method(copy.deepcopy(params), call) or {}
        except ServiceError as e:
            raise asl.StatesError(_ERROR_NAMES.get(e.code, GENERIC_ERROR),
                                  f"{e.message} (Service: AmazonSageMaker; Status Code: {e.status}; Error Code: "
                                  f"{e.code}; Request ID: {rid}; Proxy: null)") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise asl.StatesError(GENERIC_ERROR, f"{type(e).__name__}: {e} (Service: AmazonSageMaker; Status Code: "
                                                 f"400; Error Code: ValidationException; Request ID: {rid}; "
                                                 "Proxy: null)") from None
        return _jsonable(result)

    def _validate(self, operation: str, params: dict) -> None:
        """What the SageMaker API checks before the backend sees a request (botocore's checks, then AWS's)."""
        shape = self._operation(operation).input_shape
        problems: list[str] = []
        _required(shape, params, "", problems)
        if problems:
            n = len(problems)
            raise ServiceError("ValidationException",
                               f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise ServiceError("ValidationException", report.generate_report())
        constraints.check(shape, params)

    def _sdk_metadata(self, ex: Execution) -> dict:
        rid = self._uuid(ex.arn, len(ex.events), "sdk")
        date = format_datetime(self.clock.now, usegmt=True)
        headers = {"Content-Type": "application/x-amz-json-1.1", "Date": date, "x-amzn-RequestId": rid}
        return {"SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                    "HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": rid}}

    # -- endings -----------------------------------------------------------------------------------
    def _finish(self, ex: Execution, status: str) -> None:
        ex.status = status
        ex.stop = self.clock.seconds
        price = unit_price("step-functions-transition-1k")
        per = (price.usd / Decimal(1000)).normalize()
        if ex.transitions:
            self.world.ledger.add(line(ex.arn, "states", "state-transitions", ex.transitions, "state-transition", per,
                                       "standard", start=ex.start, end=ex.stop,
                                       description=f"{ex.transitions} state transitions at ${price.usd} per 1,000 "
                                                   "(Standard workflow)"))
        self.world.event(ex.arn, "status", f"Execution {status.lower()} after {ex.transitions} state transitions",
                         status)
        self._forget_if_done(ex.machine)

    def _succeed(self, ex: Execution, output: Any) -> None:
        ex.output = asl.dumps(output)
        self._event(ex, "ExecutionSucceeded", "executionSucceededEventDetails",
                    {"output": ex.output, "outputDetails": {"truncated": False}})
        self._finish(ex, "SUCCEEDED")

    def _fail(self, ex: Execution, error: str | None, cause: str | None) -> None:
        ex.error, ex.cause = error, cause
        details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
        self._event(ex, "ExecutionFailed", "executionFailedEventDetails", details)
        self._finish(ex, "FAILED")

    def _abort(self, ex: Execution, reason: dict) -> None:
        self._stop_job(ex)
        if reason.get("kind") == "timeout":
            ex.error, ex.cause = "States.Timeout", None
            self._event(ex, "ExecutionTimedOut", "executionTimedOutEventDetails", {"error": "States.Timeout"})
            self._finish(ex, "TIMED_OUT")
            return
        ex.error, ex.cause = reason.get("error"), reason.get("cause")
        details = {k: v for k, v in (("error", ex.error), ("cause", ex.cause)) if v is not None}
        self._event(ex, "ExecutionAborted", "executionAbortedEventDetails", details)
        self._finish(ex, "ABORTED")


def _required(shape, value: Any, path: str, out: list[str]) -> None:
    """AWS's text for missing required members: ``Value null at 'x.y' failed to satisfy constraint: ...``."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for name in shape.required_members:
            if value.get(name) is None:
                where = f"{path}.{name[:1].lower() + name[1:]}" if path else name[:1].lower() + name[1:]
                out.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if name in value:
                _required(member, value[name], f"{path}.{name[:1].lower() + name[1:]}" if path
                          else name[:1].lower() + name[1:], out)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _required(shape.member, item, f"{path}.{i + 1}.member", out)
