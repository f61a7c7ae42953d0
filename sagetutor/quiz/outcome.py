"""A plan's outcome: what a learner sees after an option ran, and the facts requirements read.

``build(run)`` reads the engine after ``runner.run_plan`` through its clients and its bill
and timeline, and returns a JSON-ready ``dict`` (sorted, no wall-clock, no memory
addresses, so the same plan and seed give the same bytes in any process):

* ``facts`` - every fact of the requirement language (``sagetutor.packs.requirements.FACTS``)
  the plan gives a value to, as flat keys, in the language's units (seconds, dollars,
  fractions 0-1), with training metrics under ``metric``. A fact that does not apply (no
  request was sent, so no latency) is left out; a requirement naming it is not met.
* ``bill`` - the itemized lines (resource, usage type, quantity and unit, unit price, amount,
  pricing model, instance type and count, the fact's cost category) and the total.
* ``timeline`` - the engine's events in virtual time: ``HH:MM:SS`` from the plan's start,
  the resource, the kind and the message.
* ``metrics`` - training and tuning metrics per step, request latencies (p50/p95/p99, mean,
  max in ms), transform and deployment times, endpoint instance counts.
* ``security`` - the security facts, read from the resources' own settings (network
  isolation, VpcConfig, KmsKeyId); a placeholder until the engine simulates VPCs and KMS.
* ``steps``, ``errors``, ``notes`` - what each step did, the API errors, the runner's notes.

``not_supported(exc)`` is the outcome of a plan the engine cannot run yet.
``requirement_report(...)`` says, per requirement, met or not and the values compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sagetutor.packs.requirements import Extreme, Fact, MissingFact, Requirement, check, lookup, parse

#: Cost fact -> what it covers (docs/pack-format.md), for the bill's categories.
COST_CATEGORIES = ("training", "tuning", "hosting", "transform", "labeling", "notebook", "studio", "monitoring",
                   "network", "storage", "encryption", "orchestration")
MAX_TIMELINE = 400
JOB_END = ("Completed", "Failed", "Stopped")


def clock_text(seconds: float) -> str:
    """Virtual seconds since the plan's start as ``HH:MM:SS`` (hours go past 24: ``26:00:00``)."""
    s = int(math.floor(seconds + 1e-6))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _seconds(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds(), 3)


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def _category(arn: str, usage: str, service: str, tuning_children: set[str]) -> str:
    res = _short(arn)
    if service == "kms":
        return "encryption"
    if "storage" in usage or service in ("s3", "ecr"):
        return "storage"
    if service == "ec2" or any(w in usage for w in ("nat-gateway", "vpc-endpoint", "data-transfer")):
        return "network"
    if service == "states" or res.startswith(("stateMachine", "execution", "pipeline")):
        return "orchestration"
    if res.startswith("training-job/"):
        return "tuning" if res.split("/", 1)[1] in tuning_children else "training"
    if res.startswith("hyper-parameter-tuning-job/"):
        return "tuning"
    if res.startswith("endpoint/") or usage.startswith(("hosting", "serverless", "async")):
        return "hosting"
    if res.startswith("transform-job/"):
        return "transform"
    if res.startswith(("labeling-job/", "workteam/")) or usage.startswith("groundtruth"):
        return "labeling"
    if res.startswith("notebook-instance"):
        return "notebook"
    if res.startswith(("app/", "domain/", "user-profile/")) or usage.startswith("studio"):
        return "studio"
    if res.startswith(("processing-job/", "monitoring-schedule/")) or usage.startswith("processing"):
        return "monitoring"
    return "other"


class _Reader:
    """Describe calls that never raise (a resource that is gone answers None)."""

    def __init__(self, run: Any):
        self.sm = run.client("sagemaker")
        self.eng = run.eng

    def get(self, operation: str, **kw: Any) -> dict | None:
        try:
            return getattr(self.sm, operation)(**kw)
        except Exception:
            return None


def simulate(steps: list, seed: int) -> dict:
    """Run a plan on a fresh ``Engine(seed)`` and return its outcome (or the not-supported outcome)."""
    from sagetutor.quiz.runner import PlanNotSupported, run_plan

    try:
        run = run_plan(steps, seed)
    except PlanNotSupported as e:
        return not_supported(e)
    try:
        return build(run)
    finally:
        run.close()


def not_supported(exc: Any) -> dict:
    """The outcome of a plan with a step the engine cannot run yet (``runner.PlanNotSupported``)."""
    return {"supported": False, "reason": str(getattr(exc, "message", exc)), "kind": getattr(exc, "kind", None),
            "step": getattr(exc, "step", None)}


def build(run: Any) -> dict:
    """The outcome of a plan that ran (a ``runner.PlanRun``)."""
    eng = run.eng
    r = _Reader(run)
    res = run.resources
    facts: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    notes = list(run.notes)

    # -- training and tuning
    trainings = []
    for step, job in res.training_jobs:
        d = r.get("describe_training_job", TrainingJobName=job)
        if d is not None:
            trainings.append((step, d))
    tunings = []
    children: dict[str, list[dict]] = {}
    for step, name in res.tuning_jobs:
        d = r.get("describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name)
        if d is None:
            continue
        tunings.append((step, d))
        kids = []
        token = None
        while True:
            kw = {"HyperParameterTuningJobName": name, "MaxResults": 100}
            if token:
                kw["NextToken"] = token
            page = r.get("list_training_jobs_for_hyper_parameter_tuning_job", **kw) or {}
            kids += page.get("TrainingJobSummaries", [])
            token = page.get("NextToken")
            if not token:
                break
        children[step] = kids
    tuning_children = {k["TrainingJobName"] for kids in children.values() for k in kids}
    child_details = [d for kids in children.values() for k in kids
                     if (d := r.get("describe_training_job", TrainingJobName=k["TrainingJobName"])) is not None]
    all_training = [d for _, d in trainings] + child_details

    metric: dict[str, float] = {}
    training_metrics: dict[str, dict] = {}
    tuning_metrics: dict[str, dict] = {}
    by_step_training = dict(trainings)
    by_step_tuning = dict(tunings)
    for rec in run.steps:
        if rec.name in by_step_training:
            d = by_step_training[rec.name]
            m = {x["MetricName"]: x["Value"] for x in d.get("FinalMetricDataList", [])}
            training_metrics[rec.name] = m
            metric.update(m)
        elif rec.name in by_step_tuning:
            d = by_step_tuning[rec.name]
            best = d.get("BestTrainingJob") or {}
            entry: dict[str, Any] = {"status": d["HyperParameterTuningJobStatus"],
                                     "training_jobs": len(children.get(rec.name, []))}
            if best:
                bd = r.get("describe_training_job", TrainingJobName=best["TrainingJobName"]) or {}
                m = {x["MetricName"]: x["Value"] for x in bd.get("FinalMetricDataList", [])}
                objective = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
                if objective:
                    m[objective["MetricName"]] = objective["Value"]
                entry.update(best_training_job=best["TrainingJobName"], metrics=m,
                             hyperparameters=best.get("TunedHyperParameters", {}))
                metric.update(m)
            tuning_metrics[rec.name] = entry
    facts["metric"] = metric
    if training_metrics:
        metrics["training"] = training_metrics
    if tuning_metrics:
        metrics["tuning"] = tuning_metrics

    if trainings:
        times = []
        for _, d in trainings:
            t = d.get("TrainingTimeInSeconds")
            if t is None:
                t = _seconds(d.get("CreationTime"), d.get("TrainingEndTime")) or 0.0
            times.append(float(t))
        facts["time.training"] = max(times)
    interruptions = 0
    interrupted_ok = []
    spot_training = spot_billable = 0
    for d in all_training:
        n = sum(1 for t in d.get("SecondaryStatusTransitions", []) if t["Status"] == "Interrupted")
        interruptions += n
        if n:
            interrupted_ok.append(d["TrainingJobStatus"] == "Completed")
        if d.get("EnableManagedSpotTraining") and d.get("TrainingTimeInSeconds"):
            spot_training += d["TrainingTimeInSeconds"]
            spot_billable += d.get("BillableTimeInSeconds", d["TrainingTimeInSeconds"])
    if all_training:
        facts["spot.interruptions"] = interruptions
        facts["spot.savings"] = round(1 - spot_billable / spot_training, 6) if spot_training else 0.0
    facts["survived_interruption"] = bool(interrupted_ok) and all(interrupted_ok)
    timeline = eng.timeline()
    facts["resumed_from_checkpoint"] = any(e.kind == "spot" and e.message.startswith("Resumed from checkpoint")
                                           for e in timeline)
    if tunings:
        facts["time.tuning"] = max(_seconds(d["CreationTime"], d.get("HyperParameterTuningEndTime") or eng.now) or 0.0
                                   for _, d in tunings)

    # -- transform, labeling, processing
    transforms = [(s, d) for s, j in res.transform_jobs
                  if (d := r.get("describe_transform_job", TransformJobName=j)) is not None]
    if transforms:
        secs = {s: _seconds(d.get("TransformStartTime"), d.get("TransformEndTime")) for s, d in transforms}
        metrics["transform_seconds"] = secs
        known = [v for v in secs.values() if v is not None]
        if known:
            facts["time.transform"] = max(known)
    labelings = [(s, d) for s, j in res.labeling_jobs
                 if (d := r.get("describe_labeling_job", LabelingJobName=j)) is not None]
    if labelings:
        facts["time.labeling"] = max(_seconds(d["CreationTime"], d["LastModifiedTime"]) or 0.0 for _, d in labelings)
        total = sum(d.get("LabelCounters", {}).get("TotalLabeled", 0) for _, d in labelings)
        machine = sum(d.get("LabelCounters", {}).get("MachineLabeled", 0) for _, d in labelings)
        facts["labeling.automated"] = round(machine / total, 6) if total else 0.0
        metrics["labeling"] = {s: d.get("LabelCounters", {}) for s, d in labelings}
    processing = [(s, d) for s, j in res.processing_jobs
                  if (d := r.get("describe_processing_job", ProcessingJobName=j)) is not None]

    # -- endpoints and requests
    endpoints = [(s, name, r.get("describe_endpoint", EndpointName=name)) for s, name in res.endpoints]
    deploy_times = {}
    for _, name, _d in endpoints:
        created = res.endpoint_created_at.get(name)
        arn_tail = f"endpoint/{name.lower()}"
        ready = next((e.seconds for e in timeline if e.status == "InService" and e.resource.endswith(arn_tail)), None)
        if created is not None and ready is not None:
            deploy_times[name] = round(ready - created, 3)
    if deploy_times:
        facts["time.deploy"] = max(deploy_times.values())
        metrics["deploy_seconds"] = deploy_times
    latencies = list(run.requests.latencies_ms)
    sent, answered = run.requests.sent, run.requests.answered
    errors = dict(run.requests.errors)
    for t in run.traffic:
        sent += t.sent
        answered += t.answered
        latencies.extend(t.latencies_ms)
        for code, n in t.errors.items():
            errors[code] = errors.get(code, 0) + n
    failed = sum(errors.values())
    facts["requests.sent"] = sent
    facts["requests.answered"] = answered
    facts["requests.errors"] = failed
    facts["requests.error_rate"] = round(failed / sent, 6) if sent else 0.0
    if latencies:
        lat = {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95),
               "p99": _percentile(latencies, 99), "max": float(max(latencies)),
               "mean": math.fsum(latencies) / len(latencies)}
        for k, v in lat.items():
            facts[f"latency.{k}"] = round(v / 1000.0, 9)
        metrics["latency_ms"] = {**{k: round(v, 4) for k, v in lat.items()}, "count": len(latencies)}
    if sent:
        metrics["requests"] = {"sent": sent, "answered": answered, "errors": dict(sorted(errors.items()))}

    # -- the bill
    bill = eng.bill()
    lines = []
    costs = dict.fromkeys(COST_CATEGORIES, Decimal(0))
    hosting: dict[str, list] = {}
    for li in bill:
        cat = _category(li.resource_arn, li.usage_type, li.service, tuning_children)
        if cat in costs:
            costs[cat] += li.amount
        lines.append({"resource": _short(li.resource_arn), "service": li.service, "usage_type": li.usage_type,
                      "quantity": str(li.quantity), "unit": li.unit, "unit_price": str(li.unit_price.normalize()),
                      "amount": str(li.amount), "pricing_model": li.pricing_model,
                      "instance_type": li.instance_type, "instance_count": li.instance_count,
                      "category": cat, "description": li.description})
        if li.usage_type == "hosting-instance-seconds" and li.start is not None:
            hosting.setdefault(_short(li.resource_arn), []).append((li.start, li.end, li.instance_count or 1))
    total = bill.total
    facts["cost.total"] = float(total)
    for cat, amount in costs.items():
        facts[f"cost.{cat}"] = float(amount)
    sweep = []
    for spans in hosting.values():
        for start, end, count in spans:
            sweep += [(start, 1, count), (end if end is not None else math.inf, 0, -count)]
    running = peak = 0
    for _, _, delta in sorted(sweep):
        running += delta
        peak = max(peak, running)
    facts["instances.max"] = peak
    facts["autoscaled"] = any(max(c for _, _, c in spans) > spans[0][2] for spans in hosting.values())
    if hosting:
        metrics["endpoint_instances"] = {name: [c for _, _, c in spans] for name, spans in sorted(hosting.items())}

    # -- monitoring
    drift = False
    for _, name in res.schedules:
        page = r.get("list_monitoring_executions", MonitoringScheduleName=name, MaxResults=100) or {}
        statuses = [x["MonitoringExecutionStatus"] for x in page.get("MonitoringExecutionSummaries", [])]
        drift = drift or "CompletedWithViolations" in statuses
        metrics.setdefault("monitoring", {})[name] = statuses
    facts["drift_detected"] = drift

    # -- denials, errors, completion, status
    failures = [d.get("FailureReason", "") for d in all_training] + \
        [d.get("FailureReason", "") for _, d in transforms] + [d.get("FailureReason", "") for _, d in labelings] + \
        [d.get("FailureReason", "") for _, d in processing]
    denials = sum(1 for e in run.errors if e.code.startswith("AccessDenied")) + \
        sum(1 for f in failures if "AccessDenied" in (f or ""))
    facts["denials"] = denials
    facts["access_denied"] = denials > 0
    facts["error"] = run.errors[0].code if run.errors else ""
    executions = []
    sfn = run.client("stepfunctions")
    for step, arn in res.executions:
        try:
            executions.append((step, sfn.describe_execution(executionArn=arn)))
        except Exception:
            continue
    stopped = {rec.resource for rec in run.steps if rec.kind == "stop" and rec.resource}
    ok = [d["TrainingJobStatus"] == "Completed" for _, d in trainings]
    ok += [d["HyperParameterTuningJobStatus"] == "Completed" for _, d in tunings]
    ok += [d["TransformJobStatus"] == "Completed" for _, d in transforms]
    ok += [d["LabelingJobStatus"] == "Completed" for _, d in labelings]
    ok += [d["ProcessingJobStatus"] == "Completed" for _, d in processing]
    ok += [d["EndpointStatus"] == "InService" if d is not None else f"endpoint/{name}" in stopped
           for _, name, d in endpoints]
    ok += [d["status"] == "SUCCEEDED" for _, d in executions]
    for _, nb in res.notebooks:
        d = r.get("describe_notebook_instance", NotebookInstanceName=nb)
        ok.append(d is not None and d["NotebookInstanceStatus"] in ("InService", "Stopped", "Stopping"))
    steps_ok = all(rec.status in ("ok", "deferred") for rec in run.steps)
    facts["completed"] = steps_ok and all(ok)
    facts["status"] = _final_status(run, r, sfn)
    facts["time.total"] = round(run.ended, 3)

    # -- security facts (the engine records every path, key and decision)
    security = _security(r, res, [d for _, d in trainings], eng)
    facts.update({k: v for k, v in security.items() if k != "public_paths"})
    if security["public_paths"]:
        metrics["public_paths"] = security["public_paths"][:20]

    # -- timeline
    events = []
    for e in timeline:
        events.append({"time": clock_text(e.seconds), "seconds": round(e.seconds, 3), "resource": _short(e.resource),
                       "kind": e.kind, "message": e.message, **({"status": e.status} if e.status else {})})
    if len(events) > MAX_TIMELINE:
        notes.append(f"the timeline has {len(events):,} events; the first {MAX_TIMELINE} are shown")
        events = events[:MAX_TIMELINE]

    return {
        "supported": True,
        "seed": run.seed,
        "facts": _clean(facts),
        "metrics": _clean(metrics),
        "bill": {"lines": lines, "total": str(total), "total_usd": float(total),
                 "by_category": {k: float(v) for k, v in costs.items() if v}},
        "timeline": events,
        "security": security,
        "steps": [{"name": s.name, "kind": s.kind, "status": s.status, "at": clock_text(s.at),
                   **({"resource": s.resource} if s.resource else {}),
                   **({"error_code": s.error_code} if s.error_code else {}),
                   **({"error": s.error} if s.error else {})} for s in run.steps],
        "errors": [{"step": e.step, "operation": e.operation, "code": e.code, "message": e.message,
                    "time": clock_text(e.at)} for e in run.errors],
        "notes": notes,
    }


def _final_status(run: Any, r: _Reader, sfn: Any) -> str:
    """The status of the plan's last job or endpoint (``Failed`` when its API call was refused)."""
    kinds = ("train", "tune", "deploy", "transform", "label", "monitor", "notebook", "studio", "orchestrate")
    for rec in reversed(run.steps):
        if rec.kind not in kinds:
            continue
        if rec.status in ("error", "skipped"):
            return "Failed"
        if not rec.resource:
            continue
        kind, _, name = rec.resource.partition("/")
        d: dict | None = None
        key = ""
        if kind == "training-job":
            d, key = r.get("describe_training_job", TrainingJobName=name), "TrainingJobStatus"
        elif kind == "hyper-parameter-tuning-job":
            d, key = r.get("describe_hyper_parameter_tuning_job", HyperParameterTuningJobName=name), \
                "HyperParameterTuningJobStatus"
        elif kind == "endpoint":
            d, key = r.get("describe_endpoint", EndpointName=name), "EndpointStatus"
            if d is None:
                return "Deleted"
        elif kind == "transform-job":
            d, key = r.get("describe_transform_job", TransformJobName=name), "TransformJobStatus"
        elif kind == "labeling-job":
            d, key = r.get("describe_labeling_job", LabelingJobName=name), "LabelingJobStatus"
        elif kind == "monitoring-schedule":
            d, key = r.get("describe_monitoring_schedule", MonitoringScheduleName=name), "MonitoringScheduleStatus"
        elif kind == "notebook-instance":
            d, key = r.get("describe_notebook_instance", NotebookInstanceName=name), "NotebookInstanceStatus"
        elif kind == "domain":
            d, key = r.get("describe_domain", DomainId=name), "Status"
        elif kind == "execution":
            arn = next((a for s, a in run.resources.executions if s == rec.name), None)
            try:
                status = sfn.describe_execution(executionArn=arn)["status"] if arn else ""
            except Exception:
                status = ""
            return {"SUCCEEDED": "Completed", "FAILED": "Failed", "RUNNING": "InProgress", "ABORTED": "Stopped",
                    "TIMED_OUT": "Failed"}.get(status, status)
        if d is not None:
            return str(d.get(key, ""))
    return ""


def _security(r: _Reader, res: Any, trainings: list[dict], eng: Any) -> dict:
    """Read from the engine's security facts (engine.security): paths data took, keys, isolation."""
    facts = eng.security()
    isolated: list[bool] = []
    transit: list[bool] = []
    for d in trainings:
        isolated.append(bool(d.get("EnableNetworkIsolation")))
        if d.get("ResourceConfig", {}).get("InstanceCount", 1) > 1:
            transit.append(bool(d.get("EnableInterContainerTrafficEncryption")))
    for _, name in res.models:
        d = r.get("describe_model", ModelName=name)
        if d is not None:
            isolated.append(bool(d.get("EnableNetworkIsolation")))
    public = [t for t in facts.transfers if t.public]
    # what the plan stored: volumes, and objects its jobs wrote (not the code or request bodies it uploaded)
    stored = [e for e in facts.encryption if e.kind.endswith("volume") or (
        e.kind == "s3-object" and not e.resource.split(":::", 1)[-1].split("/", 1)[-1].startswith(("code/", "async/")))]
    return {"network_isolation": bool(isolated) and all(isolated),
            "no_public_network_path": not public,
            "encrypted_with_customer_managed_key": bool(stored) and all(e.customer_managed for e in stored),
            "encrypted_in_transit": all(transit),
            "network.blocked": sum(1 for t in facts.transfers if t.path == "none" and t.service != "internet"),
            "public_paths": sorted({f"{_short(t.resource)} -> {t.service} ({t.purpose}): {t.path}" for t in public})}


def _clean(value: Any) -> Any:
    """JSON-ready: Decimals to floats, tuples to lists, keys sorted (json.dumps sorts too)."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- requirements -------------------------------------------------------------------------------


def _fact_of(name: str) -> Fact:
    if name.startswith('metric["') and name.endswith('"]'):
        return Fact("metric", name[8:-2])
    return Fact(name)


def _extremes(node: Any, out: list) -> None:
    if isinstance(node, Extreme):
        out.append(node)
    for child in getattr(node, "items", ()) or ():
        _extremes(child, out)
    item = getattr(node, "item", None)
    if item is not None:
        _extremes(item, out)


def requirement_report(requirements: Sequence[Requirement | str], key: str,
                       outcomes: Mapping[str, Mapping | None]) -> list[dict]:
    """Per requirement: met or not for ``key``'s outcome, the values compared, and for ``is minimal``
    the values among the options that meet the other requirements. An outcome that is None (not run
    or not supported) meets nothing: ``met`` is None (unknown)."""
    reqs = [parse(q) if isinstance(q, str) else q for q in requirements]
    facts_by = {k: (o.get("facts") if o and o.get("supported", True) else None) for k, o in outcomes.items()}
    mine = facts_by.get(key)
    if mine is None:
        return [{"requirement": q.text, "met": None, "values": {}} for q in reqs]
    comparable = {k: f for k, f in facts_by.items() if f is not None}
    met = check(reqs, key, comparable)
    out = []
    plain = [q for q in reqs if not q.comparative]
    for q, ok in zip(reqs, met, strict=True):
        values = {}
        for name in sorted(q.facts):
            try:
                values[name] = lookup(mine, _fact_of(name))
            except MissingFact:
                values[name] = None
        item: dict[str, Any] = {"requirement": q.text, "met": bool(ok), "values": values}
        if q.comparative:
            ext: list = []
            _extremes(q.root, ext)
            among = {}
            for k, f in sorted(comparable.items()):
                if all(check([p], k, comparable)[0] for p in plain):
                    try:
                        among[k] = {str(e.fact): lookup(f, e.fact) for e in ext}
                    except MissingFact:
                        continue
            item["among"] = among
        out.append(item)
    return out
