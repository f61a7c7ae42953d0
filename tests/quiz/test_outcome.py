"""What an outcome holds: the bill, the timeline, the metrics, the facts, the requirement report."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from sagetutor.packs.requirements import FACTS
from sagetutor.quiz import outcome
from sagetutor.quiz.runner import run_plan
from tests.quiz.conftest import plan


@pytest.fixture(scope="module")
def served():
    """Train, deploy, a little traffic and one invoke, an hour standing: the outcome and the run's bill."""
    steps = plan({"train": {}}, {"deploy": {}}, {"invoke": {"rows": 3}},
                 {"traffic": {"per_minute": 30, "minutes": 5}}, {"advance": "1h"})
    run = run_plan(steps, 7)
    try:
        bill = run.eng.bill()
        return outcome.build(run), bill
    finally:
        run.close()


def test_bill_lines_are_itemized_and_add_up(served):
    out, bill = served
    lines = out["bill"]["lines"]
    assert sorted((li["resource"].split("/")[0], li["usage_type"]) for li in lines) == [
        ("endpoint", "hosting-instance-seconds"), ("key", "kms-requests"), ("training-job", "training-instance-seconds")]
    # the model artifact is SSE-KMS with the AWS managed aws/s3 key: S3's requests to KMS are billed
    [kms] = [li for li in lines if li["usage_type"] == "kms-requests"]
    assert kms["category"] == "encryption" and Decimal(kms["unit_price"]) == Decimal("0.000003")
    for li in [li for li in lines if li is not kms]:
        assert set(li) >= {"resource", "usage_type", "quantity", "unit", "unit_price", "amount", "pricing_model",
                           "instance_type", "instance_count", "category"}
        assert Decimal(li["amount"]) == (Decimal(li["quantity"]) * Decimal(li["unit_price"])).quantize(
            Decimal("0.000001"))
        assert li["pricing_model"] == "on-demand"
    assert out["bill"]["total"] == str(bill.total)
    assert sum(Decimal(li["amount"]) for li in lines) == Decimal(out["bill"]["total"])
    facts = out["facts"]
    assert facts["cost.total"] == float(bill.total)
    assert facts["cost.training"] + facts["cost.hosting"] + facts["cost.encryption"] == pytest.approx(
        facts["cost.total"])
    assert out["bill"]["by_category"] == {"hosting": facts["cost.hosting"], "training": facts["cost.training"],
                                          "encryption": facts["cost.encryption"]}


def test_timeline_in_virtual_time(served):
    out, _ = served
    events = out["timeline"]
    assert events and all(re.fullmatch(r"\d\d:\d\d:\d\d", e["time"]) for e in events)
    assert [e["seconds"] for e in events] == sorted(e["seconds"] for e in events)
    assert events[0]["time"] == "00:00:00" and events[0]["resource"] == "training-job/train"
    in_service = [e for e in events if e.get("status") == "InService"]
    assert in_service and in_service[0]["resource"] == "endpoint/deploy"
    assert any(e["kind"] == "traffic" for e in events)
    assert outcome.clock_text(26 * 3600 + 61.9) == "26:01:01"


def test_metrics_and_facts(served):
    out, _ = served
    facts, metrics = out["facts"], out["metrics"]
    assert metrics["training"]["train"]["validation:auc"] > 0.95
    assert facts["metric"]["validation:auc"] == metrics["training"]["train"]["validation:auc"]
    latency = metrics["latency_ms"]
    assert latency["count"] == 151  # one invoke and 5 x 30 traffic requests
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] < 20
    assert facts["latency.p95"] == pytest.approx(latency["p95"] / 1000, rel=1e-4)
    assert facts["requests.sent"] == facts["requests.answered"] == 151 and facts["requests.error_rate"] == 0.0
    assert facts["instances.max"] == 1 and facts["autoscaled"] is False
    assert 200 < facts["time.deploy"] < 600 and facts["time.total"] > 3600
    assert facts["completed"] is True and facts["status"] == "InService" and facts["error"] == ""
    assert facts["access_denied"] is False and facts["denials"] == 0
    deploy = out["steps"][1]
    assert (deploy["name"], deploy["status"], deploy["resource"]) == ("deploy", "ok", "endpoint/deploy")
    assert re.fullmatch(r"00:0\d:\d\d", deploy["at"])  # deploy waited minutes for its model
    for name in facts:  # every fact a plan sets is one the language knows
        assert name == "metric" or name in FACTS, name
    json.dumps(out, allow_nan=False)  # plain JSON


def test_requirement_report_names_the_values_compared():
    a = {"supported": True, "facts": {"cost.total": 1.0, "completed": True, "time.total": 100.0}}
    b = {"supported": True, "facts": {"cost.total": 0.5, "completed": False, "time.total": 50.0}}
    c = {"supported": True, "facts": {"cost.total": 2.0, "completed": True, "time.total": 10.0}}
    off = {"supported": False, "reason": "network"}
    outs = {"a": a, "b": b, "c": c, "off": off}
    reqs = ["completed", "time.total < 2min", "cost.total is minimal"]
    report = outcome.requirement_report(reqs, "a", outs)
    assert [r["met"] for r in report] == [True, True, True]
    assert report[1]["values"] == {"time.total": 100.0}
    assert report[2]["among"] == {"a": {"cost.total": 1.0}, "c": {"cost.total": 2.0}}  # b fails 'completed'
    assert [r["met"] for r in outcome.requirement_report(reqs, "b", outs)] == [False, True, False]
    assert [r["met"] for r in outcome.requirement_report(reqs, "off", outs)] == [None, None, None]


def test_network_and_key_steps_run_and_their_facts_are_read_from_the_engine():
    private = outcome.simulate(plan({"network": {"endpoints": ["s3"]}}, {"key": {}},
                                    {"train": {"vpc": True, "kms_key": True}}), 7)
    facts = private["facts"]
    assert facts["completed"] and facts["no_public_network_path"] and facts["encrypted_with_customer_managed_key"]
    assert facts["network.blocked"] == 0 and facts["cost.encryption"] > 0  # the key's month, prorated, and requests
    public = outcome.simulate(plan({"train": {}}), 7)
    assert not public["facts"]["no_public_network_path"]
    assert not public["facts"]["encrypted_with_customer_managed_key"]  # the AWS managed aws/s3 key
    assert public["metrics"]["public_paths"] == ["training-job/train -> s3 (input data): public-internet",
                                                 "training-job/train -> s3 (model artifact): public-internet"]
    blocked = outcome.simulate(plan({"network": {}}, {"train": {"vpc": True}}), 7)
    assert blocked["facts"]["status"] == "Failed" and blocked["facts"]["network.blocked"] == 1


