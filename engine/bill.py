"""The itemized bill: one line per resource and usage type.

General enough for every service: time-metered resources (training instances,
endpoints, notebooks) are *meters* that run from a start to a stop instant in
virtual time; counted usage (requests, GB processed, labeled objects) is added
as a quantity. Amounts are exact decimals rounded once, the same way every time:
``amount = quantity x unit_price`` rounded half-up to a millionth of a dollar.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MICRO = Decimal("0.000001")
CENT = Decimal("0.01")
PER_SECOND_PLACES = Decimal("1E-12")


def per_second(hourly: Decimal) -> Decimal:
    """An hourly rate as a per-second rate (12 decimal places, half-up)."""
    return (hourly / Decimal(3600)).quantize(PER_SECOND_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineItem:
    resource_arn: str
    service: str  # "sagemaker", "s3", "ec2", ...
    usage_type: str  # "training-instance-seconds", "hosting-instance-seconds", "requests", ...
    quantity: Decimal
    unit: str  # "instance-second", "GB-second", "GB", "request", "object", ...
    unit_price: Decimal  # USD per unit
    amount: Decimal  # USD, quantity x unit_price rounded half-up to 0.000001
    pricing_model: str  # "on-demand", "spot", "serverless", "per-request", ...
    instance_type: str | None = None
    instance_count: int | None = None
    start: float | None = None  # virtual seconds since the epoch of the clock
    end: float | None = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("quantity", "unit_price", "amount"):
            d[k] = str(d[k])
        return d


def line(resource_arn: str, service: str, usage_type: str, quantity: Decimal | int | float, unit: str,
         unit_price: Decimal, pricing_model: str, **kw: Any) -> LineItem:
    q = quantity if isinstance(quantity, Decimal) else Decimal(str(quantity))
    amount = (q * unit_price).quantize(MICRO, rounding=ROUND_HALF_UP)
    return LineItem(resource_arn, service, usage_type, q, unit, unit_price, amount, pricing_model, **kw)


@dataclass
class _Meter:
    resource_arn: str
    service: str
    usage_type: str
    unit_price_per_second: Decimal
    pricing_model: str
    instance_type: str | None
    instance_count: int
    start: float
    description: str
    unit: str = "instance-second"


class Bill:
    """What an engine has charged so far; iterate it for its lines."""

    def __init__(self, lines: list[LineItem]):
        self.lines = lines

    def __iter__(self):
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def total(self) -> Decimal:
        return sum((li.amount for li in self.lines), Decimal(0)).quantize(MICRO)

    def for_resource(self, arn_suffix: str) -> list[LineItem]:
        return [li for li in self.lines if li.resource_arn.endswith(arn_suffix)]

    def by_usage(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for li in self.lines:
            out[li.usage_type] = out.get(li.usage_type, Decimal(0)) + li.amount
        return dict(sorted(out.items()))

    def as_dicts(self) -> list[dict[str, Any]]:
        return [li.as_dict() for li in self.lines]

    def format(self) -> str:
        """A plain-text table, as the demo and the CLI print it; columns as wide as their widest cell, so
        no resource name or pricing model is cut short."""
        head = ("resource", "usage", "pricing", "quantity", "USD/unit", "amount USD")
        body = [(li.resource_arn.split(":", 5)[-1], li.usage_type, li.pricing_model, f"{li.quantity} {li.unit}",
                 f"{li.unit_price.normalize()}", f"{li.amount}") for li in self.lines]
        total = self.total.quantize(CENT, rounding=ROUND_HALF_UP)
        rows = [head, *body, ("total", "", "", "", "", f"{total}")]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        right = (False, False, False, True, True, True)
        return "\n".join(" ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True))
                         .rstrip() for row in rows)


class Ledger:
    """Where services record charges: closed lines plus meters still running."""

    def __init__(self, clock):
        self._clock = clock
        self._lines: list[LineItem] = []
        self._keyed: dict[tuple, int] = {}
        self._meters: dict[int, _Meter] = {}
        self._next = 0

    def add(self, item: LineItem) -> None:
        self._lines.append(item)

    def upsert(self, key: tuple, item: LineItem) -> None:
        """Add a line, or replace the line added earlier under ``key`` (usage that accrues, e.g. per day)."""
        index = self._keyed.get(key)
        if index is None:
            self._keyed[key] = len(self._lines)
            self._lines.append(item)
        else:
            self._lines[index] = item

    def start_meter(self, resource_arn: str, service: str, usage_type: str, hourly_price: Decimal,
                    pricing_model: str, instance_type: str | None = None, instance_count: int = 1,
                    description: str = "", unit: str = "instance-second") -> int:
        """Start charging an hourly rate per second from now, times ``instance_count``; returns a meter id.

        ``unit`` names what a second of the meter counts: instance-seconds for compute, GB-seconds
        for a storage volume metered with ``instance_count`` = its size in GB.
        """
        self._next += 1
        self._meters[self._next] = _Meter(resource_arn, service, usage_type, per_second(hourly_price), pricing_model,
                                          instance_type, instance_count, self._clock.seconds, description, unit)
        return self._next

    def stop_meter(self, meter_id: int) -> LineItem | None:
        m = self._meters.pop(meter_id, None)
        if m is None:
            return None
        item = self._close(m, self._clock.seconds)
        if item is not None:
            self._lines.append(item)
        return item

    def _close(self, m: _Meter, end: float) -> LineItem | None:
        seconds = int(round(end - m.start))  # per-second billing
        if seconds <= 0:
            return None
        return line(m.resource_arn, m.service, m.usage_type, seconds * m.instance_count, m.unit,
                    m.unit_price_per_second, m.pricing_model, instance_type=m.instance_type,
                    instance_count=m.instance_count, start=m.start, end=end, description=m.description)

    def bill(self) -> Bill:
        """Closed lines, then running meters charged up to now, in the order they started."""
        now = self._clock.seconds
        running = [self._close(m, now) for _, m in sorted(self._meters.items())]
        return Bill(self._lines + [r for r in running if r is not None])
