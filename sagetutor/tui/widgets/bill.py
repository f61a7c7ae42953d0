"""An itemized bill (an outcome's ``bill``: ``lines``, ``total``, ``by_category``) as a table.

``BillTable(bill, *, title=None)`` renders every line (resource, usage, quantity and unit, unit
price, amount, pricing model) and the exact total as the engine's bill has it, under ``title``
when one is given. It is a static
renderable, so it sizes to its content and scrolls with the screen around it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from sagetutor.tui.widgets.render import Rendered


def money(value: Any) -> str:
    """A dollar amount as a learner reads it: ``$0.038975``, ``$6.4579``, ``$1,234.56``."""
    if value is None:
        return "-"
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    places = 6 if abs(d) < 1 else 4 if abs(d) < 100 else 2
    return f"${d:,.{places}f}"


def quantity(line: dict) -> str:
    q = str(line.get("quantity", ""))
    try:
        d = Decimal(q)
        q = f"{d.normalize():,f}" if d == d.to_integral() else f"{d:,.3f}".rstrip("0")
    except InvalidOperation:
        pass
    unit = line.get("unit") or ""
    return f"{q} {unit}".strip()


def bill_table(bill: dict | None, *, title: str | None = None) -> Table:
    """The bill as a Rich table with its total (what ``BillTable`` shows; the outcome view's run
    panels draw it inside their own renderable)."""
    bill = bill or {}
    lines = bill.get("lines", [])
    table = Table(expand=True, show_edge=False, pad_edge=False, box=None, header_style="bold",
                  show_footer=True, title=title, title_justify="left", title_style="bold")
    table.add_column("resource", footer="Total", ratio=3, overflow="fold")
    table.add_column("usage", ratio=3, overflow="fold")
    table.add_column("quantity", justify="right", ratio=2, overflow="fold")
    table.add_column("amount", footer=Text("$" + str(bill.get("total", "0")), style="bold"),
                     justify="right", ratio=2, no_wrap=True)
    for line in lines:
        usage = line.get("usage_type", "")
        extra = []
        if line.get("instance_type"):
            n = line.get("instance_count") or 1
            extra.append(f"{n} x {line['instance_type']}" if n != 1 else line["instance_type"])
        if line.get("pricing_model") and line["pricing_model"] not in ("on-demand", "per-request"):
            extra.append(line["pricing_model"])
        if extra:
            usage += " (" + ", ".join(extra) + ")"
        table.add_row(line.get("resource", ""), usage, quantity(line), "$" + str(line.get("amount", "0")))
    if not lines:
        table.add_row(Text("nothing was billed", style="dim"), "", "", "$0")
    return table


class BillTable(Static):
    """The itemized bill of one run, with its total."""

    def __init__(self, bill: dict | None, *, title: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        self.bill = bill or {}
        self._title = title
        super().__init__(Rendered(bill_table(self.bill, title=title)), id=id,
                         classes=("bill-table " + (classes or "")).strip())

    @property
    def total(self) -> str:
        return str(self.bill.get("total", "0"))
