"""The instance and price tables: coverage of botocore's enums, known figures, sanity of estimates."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from decimal import Decimal

import botocore.session
import pytest

from engine import pricing
from engine.pricing import KINDS, InstanceSpec, Price, hourly_price, instance_spec, instance_types, unit_price

ENUM_OF_KIND = {
    "training": "TrainingInstanceType",
    "hosting": "ProductionVariantInstanceType",
    "transform": "TransformInstanceType",
    "notebook": "InstanceType",
    "processing": "ProcessingInstanceType",
    "studio": "AppInstanceType",
}


@functools.cache
def _enum(kind: str) -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return [v for v in model.shape_for(ENUM_OF_KIND[kind]).enum if v != "system"]


def _all_prices() -> list[tuple[str, Price]]:
    out = [(f"{k}:{t}", hourly_price(k, t)) for k in KINDS for t in instance_types(k)]
    return out + [(f"unit:{k}", p) for k, p in pricing._tables()[2].items()]


# ----------------------------------------------------------------------------- coverage


@pytest.mark.parametrize("kind", KINDS)
def test_every_botocore_enum_value_has_a_spec_and_a_price(kind: str) -> None:
    values = _enum(kind)
    assert len(values) > 50  # the enum really was read
    # Types newer than the table (a later botocore) are derived by rule and marked as estimates.
    for v in values:
        assert isinstance(instance_spec(v), InstanceSpec)
        assert hourly_price(kind, v).usd > 0


def test_instance_types_is_sorted_and_only_priced_types() -> None:
    for kind in KINDS:
        types = instance_types(kind)
        assert types == tuple(sorted(types))
        assert len(types) > 50


def test_a_type_newer_than_the_table_is_derived_from_its_relative() -> None:
    # ml.r9i does not exist (yet): it is derived from the newest r family of the same size.
    spec = instance_spec("ml.r9i.2xlarge")
    assert spec.estimate and spec.vcpus == 8 and spec.family == "r9i"
    price = hourly_price("training", "ml.r9i.2xlarge")
    assert price.estimate and price.source.startswith("estimate: derived at run time from ml.r")
    assert price.usd == hourly_price("training", price.source.split(" from ")[1].split(" ")[0]).usd
    flex = hourly_price("training", "ml.r9i-flex.2xlarge")
    assert flex.usd < price.usd
    # A kind the table lacks for a known type follows the table's own ratio.
    assert hourly_price("hosting", "ml.r9i.2xlarge").usd == (price.usd * Decimal("1.165")).quantize(Decimal("0.0001"))
    with pytest.raises(KeyError, match="ml.zz1.xlarge"):
        instance_spec("ml.zz1.xlarge")


def test_system_is_not_an_instance() -> None:
    with pytest.raises(KeyError):
        instance_spec("system")


# ----------------------------------------------------------------------------- known figures


@pytest.mark.parametrize(
    ("kind", "itype", "usd"),
    [
        ("training", "ml.m5.xlarge", "0.23"),
        ("training", "ml.m5.large", "0.115"),
        ("training", "ml.t3.medium", "0.05"),
        ("training", "ml.c5.2xlarge", "0.408"),
        ("training", "ml.p3.2xlarge", "3.825"),
        ("training", "ml.g4dn.xlarge", "0.7364"),
        ("training", "ml.p4d.24xlarge", "37.688"),
        ("notebook", "ml.t3.medium", "0.05"),
        ("notebook", "ml.p3.2xlarge", "3.825"),
        ("hosting", "ml.m5.large", "0.134"),
        ("hosting", "ml.m5.xlarge", "0.269"),
        ("hosting", "ml.c5.xlarge", "0.238"),
        ("hosting", "ml.g5.xlarge", "1.408"),
        ("hosting", "ml.t2.medium", "0.056"),
    ],
)
def test_published_figures(kind: str, itype: str, usd: str) -> None:
    p = hourly_price(kind, itype)
    assert p.usd == Decimal(usd)
    assert p.unit == "instance-hour"
    assert not p.estimate
    assert p.as_of == "2025-10-01"
    assert "aws.amazon.com/sagemaker/pricing" in p.source


def test_rules_of_thumb_for_unpublished_kinds() -> None:
    # processing = training, transform = hosting, studio = notebook (all flagged as estimates)
    assert hourly_price("processing", "ml.m5.xlarge").usd == Decimal("0.23")
    assert hourly_price("transform", "ml.m5.xlarge").usd == Decimal("0.269")
    assert hourly_price("studio", "ml.t3.medium").usd == Decimal("0.05")
    for kind, itype in [("processing", "ml.m5.xlarge"), ("transform", "ml.m5.xlarge"), ("studio", "ml.t3.medium")]:
        assert hourly_price(kind, itype).estimate
    for t in set(instance_types("processing")) & set(instance_types("training")):
        assert hourly_price("processing", t).usd == hourly_price("training", t).usd
    for t in set(instance_types("transform")) & set(instance_types("hosting")):
        assert hourly_price("transform", t).usd == hourly_price("hosting", t).usd
    for t in set(instance_types("studio")) & set(instance_types("notebook")):
        assert hourly_price("studio", t).usd == hourly_price("notebook", t).usd


def test_cpu_hosting_estimate_is_training_times_1_165() -> None:
    p = hourly_price("hosting", "ml.r5.large")
    assert p.estimate
    assert p.usd == (hourly_price("training", "ml.r5.large").usd * Decimal("1.165")).quantize(Decimal("0.0001"))


@pytest.mark.parametrize(
    ("itype", "vcpus", "mem", "gpus", "model"),
    [
        ("ml.p3.2xlarge", 8, 61, 1, "V100"),
        ("ml.p3.16xlarge", 64, 488, 8, "V100"),
        ("ml.g4dn.xlarge", 4, 16, 1, "T4"),
        ("ml.g4dn.12xlarge", 48, 192, 4, "T4"),
        ("ml.g5.48xlarge", 192, 768, 8, "A10G"),
        ("ml.p4d.24xlarge", 96, 1152, 8, "A100"),
        ("ml.p2.16xlarge", 64, 732, 16, "K80"),
        ("ml.p5.48xlarge", 192, 2048, 8, "H100"),
        ("ml.inf1.24xlarge", 96, 192, 16, "Inferentia"),
        ("ml.trn1.32xlarge", 128, 512, 16, "Trainium"),
        ("ml.m5.xlarge", 4, 16, 0, None),
        ("ml.c5.9xlarge", 36, 72, 0, None),
        ("ml.r5.large", 2, 16, 0, None),
        ("ml.m4.10xlarge", 40, 160, 0, None),
        ("ml.t3.medium", 2, 4, 0, None),
        ("ml.m8g.medium", 1, 4, 0, None),
    ],
)
def test_specs(itype: str, vcpus: int, mem: float, gpus: int, model: str | None) -> None:
    s = instance_spec(itype)
    assert (s.name, s.vcpus, s.memory_gib, s.gpus, s.gpu_model) == (itype, vcpus, mem, gpus, model)
    assert s.family == itype.split(".")[1]


def test_relative_speeds() -> None:
    assert instance_spec("ml.m5.xlarge").cpu_speed == 1.0
    assert instance_spec("ml.p3.2xlarge").gpu_speed == 1.0
    assert instance_spec("ml.m4.xlarge").cpu_speed < 1.0 < instance_spec("ml.c5.xlarge").cpu_speed
    speeds = [instance_spec(t).gpu_speed for t in
              ("ml.p2.xlarge", "ml.g4dn.xlarge", "ml.g5.xlarge", "ml.p3.2xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge")]
    assert speeds == sorted(speeds) and len(set(speeds)) == len(speeds)
    assert instance_spec("ml.m5.xlarge").gpu_speed == 0.0


def test_spec_invariants() -> None:
    for name, s in pricing._tables()[0].items():
        assert s.vcpus > 0 and s.memory_gib > 0 and s.network_gbps > 0 and s.cpu_speed > 0, name
        assert (s.gpus > 0) == (s.gpu_model is not None) == (s.gpu_speed > 0), name


# ----------------------------------------------------------------------------- monotonicity and ordering


def _family_pairs(kind: str):
    types = instance_types(kind)
    for a, b in itertools.permutations(types, 2):
        sa, sb = instance_spec(a), instance_spec(b)
        if sa.family == sb.family:
            yield a, sa, b, sb


@pytest.mark.parametrize("kind", KINDS)
def test_price_rises_with_vcpus_within_cpu_families(kind: str) -> None:
    bad = [(a, b) for a, sa, b, sb in _family_pairs(kind)
           if sa.gpus == 0 and sa.vcpus < sb.vcpus and not hourly_price(kind, a).usd < hourly_price(kind, b).usd]
    assert not bad


@pytest.mark.parametrize("kind", KINDS)
def test_bigger_in_every_dimension_costs_strictly_more(kind: str) -> None:
    # GPU families are not monotonic in vCPUs alone (ml.g5.16xlarge, 1 GPU, costs less than
    # ml.g5.12xlarge, 4 GPUs), so compare a type with one that is at least as big in vCPUs,
    # memory and accelerators.
    bad = []
    for a, sa, b, sb in _family_pairs(kind):
        dominated = sa.vcpus <= sb.vcpus and sa.memory_gib <= sb.memory_gib and sa.gpus <= sb.gpus
        if dominated and not hourly_price(kind, a).usd < hourly_price(kind, b).usd:
            bad.append((a, b))
    assert not bad


def test_hosting_costs_at_least_training() -> None:
    both = set(instance_types("hosting")) & set(instance_types("training"))
    assert len(both) > 50
    bad = [t for t in both if hourly_price("hosting", t).usd < hourly_price("training", t).usd]
    assert not bad


def test_gpu_costs_more_than_cpu_of_same_size() -> None:
    assert hourly_price("training", "ml.g4dn.xlarge").usd > hourly_price("training", "ml.m5.xlarge").usd
    assert hourly_price("training", "ml.p4d.24xlarge").usd > hourly_price("training", "ml.m5.24xlarge").usd


# ----------------------------------------------------------------------------- provenance


def test_every_price_has_provenance() -> None:
    prices = _all_prices()
    assert len(prices) > 900
    for where, p in prices:
        assert p.source.strip(), where
        assert len(p.as_of) == 10 and dt.date(2017, 1, 1) <= dt.date.fromisoformat(p.as_of), where
        assert p.estimate == p.source.startswith("estimate"), where
        assert isinstance(p.usd, Decimal) and p.usd >= 0, where
        assert p.unit, where


def test_only_free_items_are_zero() -> None:
    zeros = [w for w, p in _all_prices() if p.usd == 0]
    assert zeros == ["unit:vpc-gateway-endpoint-hour"]
    assert "free" in unit_price("vpc-gateway-endpoint-hour").source


@pytest.mark.parametrize(
    ("key", "usd", "estimate"),
    [
        ("serverless-inference-gb-second", "0.00002", True),
        ("serverless-inference-data-gb", "0.016", True),
        ("hosting-data-processed-gb", "0.016", True),
        ("groundtruth-object-first-50k", "0.08", True),
        ("groundtruth-object-next-950k", "0.04", True),
        ("groundtruth-object-over-1m", "0.02", True),
        ("s3-storage-gb-month", "0.023", False),
        ("s3-put-1k", "0.005", False),
        ("s3-get-1k", "0.0004", False),
        ("cloudwatch-logs-ingest-gb", "0.50", False),
        ("cloudwatch-metrics-custom-month", "0.30", False),
        ("nat-gateway-hour", "0.045", False),
        ("nat-gateway-gb", "0.045", False),
        ("vpc-interface-endpoint-hour", "0.01", False),
        ("vpc-interface-endpoint-gb", "0.01", False),
        ("vpc-gateway-endpoint-hour", "0", False),
        ("kms-key-month", "1.00", False),
        ("kms-requests-10k", "0.03", False),
        ("step-functions-transition-1k", "0.025", False),
    ],
)
def test_unit_prices(key: str, usd: str, estimate: bool) -> None:
    p = unit_price(key)
    assert p.usd == Decimal(usd)
    assert p.estimate is estimate
    assert p.unit != "instance-hour"


def test_no_placeholder_for_automated_labeling() -> None:
    with pytest.raises(KeyError):
        unit_price("groundtruth-automated-label")


# ----------------------------------------------------------------------------- errors and loading


def test_unknown_instance_type_is_named() -> None:
    with pytest.raises(KeyError, match=r"ml\.zz9\.plural"):
        instance_spec("ml.zz9.plural")
    with pytest.raises(KeyError, match=r"ml\.zz9\.plural"):
        hourly_price("training", "ml.zz9.plural")


def test_type_priced_for_another_kind_is_converted_by_the_table_ratio() -> None:
    # ml.t2.medium is a hosting/notebook type; the API's enum check refuses it for training, but a
    # newer botocore may allow a known type for a new kind, so the price never goes missing.
    p = hourly_price("training", "ml.t2.medium")
    assert p.estimate and p.source.startswith("estimate: derived at run time from the ")


def test_unknown_kind_and_unit_key_list_the_known_ones() -> None:
    with pytest.raises(KeyError, match="training, hosting"):
        hourly_price("spot", "ml.m5.xlarge")
    with pytest.raises(KeyError, match="s3-storage-gb-month"):
        unit_price("no-such-unit")


def test_tables_load_once_and_are_immutable() -> None:
    pricing._tables.cache_clear()
    hourly_price("training", "ml.m5.xlarge")
    instance_spec("ml.m5.xlarge")
    unit_price("s3-get-1k")
    assert pricing._tables.cache_info().misses == 1
    with pytest.raises(AttributeError):
        instance_spec("ml.m5.xlarge").vcpus = 99  # type: ignore[misc]


def test_data_is_read_as_package_resources() -> None:
    from importlib.resources import files

    data = files("engine") / "data"
    assert json.loads((data / "prices.json").read_text(encoding="utf-8"))["hourly"]["training"]
    assert json.loads((data / "instances.json").read_text(encoding="utf-8"))["instances"]


def _shipped() -> dict:
    from importlib.resources import files

    data = files("engine") / "data"
    prices = json.loads((data / "prices.json").read_text(encoding="utf-8"))
    specs = json.loads((data / "instances.json").read_text(encoding="utf-8"))["instances"]
    return {"specs": specs, "hourly": prices["hourly"], "units": prices["units"]}


def _break_estimate_flag(t: dict) -> None:
    t["hourly"]["training"]["ml.m5.xlarge"]["estimate"] = True  # source does not say "estimate"


def _break_float_price(t: dict) -> None:
    t["units"]["s3-get-1k"]["usd"] = 0.0004


def _break_zero_placeholder(t: dict) -> None:
    t["units"]["groundtruth-automated-label"] = {
        "usd": "0", "unit": "object", "source": "estimate: placeholder", "as_of": "2025-10-01", "estimate": True}


def _break_date(t: dict) -> None:
    t["hourly"]["training"]["ml.m5.xlarge"]["as_of"] = "2025-13-01"


def _break_gpu_model(t: dict) -> None:
    t["specs"]["ml.p3.2xlarge"]["gpu_model"] = None


def _break_orphan_price(t: dict) -> None:
    t["hourly"]["training"]["ml.zz9.plural"] = dict(t["hourly"]["training"]["ml.m5.xlarge"])


def _break_family(t: dict) -> None:
    t["specs"]["ml.m5.xlarge"]["family"] = "m6"


@pytest.mark.parametrize("breakage", [_break_estimate_flag, _break_float_price, _break_zero_placeholder,
                                      _break_date, _break_gpu_model, _break_orphan_price, _break_family])
def test_malformed_tables_are_rejected(breakage) -> None:
    pricing._Tables(**_shipped())  # the shipped data passes
    t = _shipped()
    breakage(t)
    with pytest.raises(ValueError):
        pricing._Tables(**t)
