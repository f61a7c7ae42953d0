"""SageMaker instance specs and us-east-1 on-demand prices, read from the package's own data.

The numbers live in ``engine/data/instances.json`` and ``engine/data/prices.json``
(how they were obtained and which are estimates: docs/prices.md). They are read
through ``importlib.resources`` so an installed wheel works without the source
tree, checked once on first use (a malformed table should fail loudly at start,
not bill a learner a wrong amount later), and cached for the process.

Every price says where it comes from: ``estimate`` is True for a figure derived
by a rule rather than copied from AWS, and its ``source`` then starts with
"estimate:" and states the rule. Spot discounts are not here: the engine models
them itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KINDS: tuple[str, ...] = ("training", "hosting", "transform", "notebook", "processing", "studio")
HOURLY_UNIT = "instance-hour"


@dataclass(frozen=True)
class InstanceSpec:
    """Hardware of one ML instance type; the time model turns it into throughput and bandwidth.

    ``cpu_speed`` (ml.m5 = 1.0) and ``gpu_speed`` (V100 = 1.0, per accelerator) are
    the simulator's assumptions, not AWS figures; ``estimate`` flags the AWS
    figures (vCPUs, memory, accelerators, network) that were inferred.
    """

    name: str
    family: str
    vcpus: int
    memory_gib: float
    gpus: int
    gpu_model: str | None
    cpu_speed: float
    gpu_speed: float
    network_gbps: float
    estimate: bool


@dataclass(frozen=True)
class Price:
    """A price per ``unit`` with its provenance, so a bill can show what is estimated."""

    usd: Decimal
    unit: str
    source: str
    as_of: str
    estimate: bool


# ----------------------------------------------------------------------------- validation models


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str = Field(min_length=1)
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(ge=0)
    gpu_model: str | None
    cpu_speed: float = Field(gt=0)
    gpu_speed: float = Field(ge=0)
    network_gbps: float = Field(gt=0)
    estimate: bool

    @model_validator(mode="after")
    def _accelerators_consistent(self) -> _Spec:
        if (self.gpus > 0) != (self.gpu_model is not None) or (self.gpus > 0) != (self.gpu_speed > 0):
            raise ValueError("gpus, gpu_model and gpu_speed must all be set, or all be empty (0 / null / 0.0)")
        return self


class _Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: Decimal = Field(ge=0)
    unit: str = HOURLY_UNIT
    source: str = Field(min_length=1)
    as_of: str
    estimate: bool

    @field_validator("usd", mode="before")
    @classmethod
    def _exact_decimal(cls, v: Any) -> Any:
        # Floats would smuggle binary rounding into the bill: the files keep prices as strings.
        if not isinstance(v, str):
            raise ValueError("usd must be a decimal string, not a JSON number")
        return v

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, v: str) -> str:
        dt.date.fromisoformat(v)
        if len(v) != 10:
            raise ValueError("as_of must be YYYY-MM-DD")
        return v

    @model_validator(mode="after")
    def _provenance(self) -> _Price:
        if self.estimate != self.source.startswith("estimate"):
            raise ValueError("source must start with 'estimate' exactly when estimate is true")
        if self.usd == 0 and "free" not in self.source.lower():
            raise ValueError("a zero price needs a source saying the item is free (no placeholders)")
        return self


class _Tables(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    specs: dict[str, _Spec]
    hourly: dict[str, dict[str, _Price]]
    units: dict[str, _Price]

    @model_validator(mode="after")
    def _cross_checks(self) -> _Tables:
        if set(self.hourly) != set(KINDS):
            raise ValueError(f"hourly kinds {sorted(self.hourly)} != {sorted(KINDS)}")
        for name, spec in self.specs.items():
            parts = name.split(".")
            if len(parts) != 3 or parts[0] != "ml" or parts[1] != spec.family:
                raise ValueError(f"{name}: name must be ml.<family>.<size> with family {spec.family!r}")
        for kind, table in self.hourly.items():
            for name, price in table.items():
                if name not in self.specs:
                    raise ValueError(f"{kind} price for {name} has no instance spec")
                if price.unit != HOURLY_UNIT or price.usd <= 0:
                    raise ValueError(f"{kind} {name}: hourly prices must be positive, per {HOURLY_UNIT}")
        return self


# ----------------------------------------------------------------------------- loading


def _read(name: str) -> Any:
    return json.loads((files("engine") / "data" / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _tables() -> tuple[Mapping[str, InstanceSpec], Mapping[str, Mapping[str, Price]], Mapping[str, Price]]:
    """Load and validate both files once; later calls hit the cache (read-only views, shared by all callers)."""
    instances, prices = _read("instances.json"), _read("prices.json")
    try:
        t = _Tables(specs=instances["instances"], hourly=prices["hourly"], units=prices["units"])
    except (KeyError, ValidationError) as e:
        raise RuntimeError(f"engine/data price or instance table is invalid: {e}") from e
    specs = {n: InstanceSpec(name=n, **s.model_dump()) for n, s in t.specs.items()}
    hourly = {k: MappingProxyType({n: Price(**p.model_dump()) for n, p in table.items()})
              for k, table in t.hourly.items()}
    units = {k: Price(**p.model_dump()) for k, p in t.units.items()}
    return MappingProxyType(specs), MappingProxyType(hourly), MappingProxyType(units)


def _kind_table(kind: str) -> Mapping[str, Price]:
    try:
        return _tables()[1][kind]
    except KeyError:
        raise KeyError(f"unknown price kind {kind!r}; known kinds: {', '.join(KINDS)}") from None


@lru_cache(maxsize=1024)
def _derived_spec(instance_type: str) -> InstanceSpec | None:
    """A type newer than the table (botocore adds types): derived by rule, see pricing_fallback."""
    from engine.pricing_fallback import derive_spec

    return derive_spec(instance_type, _tables()[0])


@lru_cache(maxsize=4096)
def _derived_price(kind: str, instance_type: str) -> Price | None:
    from engine.pricing_fallback import AS_OF, derive_price

    if instance_spec_or_none(instance_type) is None:
        return None

    def make(usd, source: str) -> Price:
        return Price(usd=usd, unit=HOURLY_UNIT, source=source, as_of=AS_OF, estimate=True)

    return derive_price(kind, instance_type, _tables()[0], _kind_table, make)


def instance_spec_or_none(instance_type: str) -> InstanceSpec | None:
    return _tables()[0].get(instance_type) or _derived_spec(instance_type)


# ----------------------------------------------------------------------------- API


def instance_spec(instance_type: str) -> InstanceSpec:
    """The hardware of ``instance_type``; KeyError naming it when the table does not know it."""
    specs = _tables()[0]
    spec = specs.get(instance_type) or _derived_spec(instance_type)
    if spec is None:
        raise KeyError(f"unknown instance type {instance_type!r}: no spec in engine/data/instances.json")
    return spec


def hourly_price(kind: str, instance_type: str) -> Price:
    """Per instance-hour price of ``instance_type`` for ``kind`` (one of ``KINDS``).

    KeyError names the type and kind when it is not priced there, which is also
    how SageMaker behaves: not every type is offered for every kind of job.
    """
    table = _kind_table(kind)
    price = table.get(instance_type) or _derived_price(kind, instance_type)
    if price is None:
        raise KeyError(f"instance type {instance_type!r} is not priced for {kind}")
    return price


def unit_price(key: str) -> Price:
    """A non-instance price (serverless GB-second, S3 requests, NAT GB, ...); KeyError lists the known keys."""
    units = _tables()[2]
    try:
        return units[key]
    except KeyError:
        raise KeyError(f"unknown unit price {key!r}; known keys: {', '.join(sorted(units))}") from None


def instance_types(kind: str) -> tuple[str, ...]:
    """The instance types priced for ``kind``, sorted."""
    return tuple(sorted(_kind_table(kind)))
