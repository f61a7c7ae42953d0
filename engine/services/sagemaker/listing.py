"""What every SageMaker List* call does alike: name and status filters, time windows, sort, pages.

Training, transform, tuning, labeling and processing jobs and monitoring schedules answer
``NameContains``, ``StatusEquals``, ``CreationTime{After,Before}``, ``LastModifiedTime{After,Before}``,
``SortBy``/``SortOrder`` and ``MaxResults``/``NextToken`` the same way; only the default sort order
and the summary shape differ, so those stay with each resource.
"""

from __future__ import annotations

from typing import Any

from engine.errors import validation

TIME_FILTERS = {"CreationTimeAfter": ("created", True), "CreationTimeBefore": ("created", False),
                "LastModifiedTimeAfter": ("last_modified", True), "LastModifiedTimeBefore": ("last_modified", False)}


def time_window(items: list, req: dict, clock, fields: dict[str, tuple[str, bool]] | None = None) -> list:
    """Keep the items whose instants fall inside the request's bounds: ``fields`` maps a request key to
    (attribute in virtual seconds, True for "after"); by default creation and last-modified times."""
    for key, (attr, after) in (fields or TIME_FILTERS).items():
        if key in req:
            t = req[key]
            items = [i for i in items if (clock.at(getattr(i, attr)) > t if after else clock.at(getattr(i, attr)) < t)]
    return items


def select(items: list, req: dict, clock, *, default_by: str = "CreationTime",
           default_order: str = "Descending") -> list:
    """NameContains, StatusEquals and the time window, then SortBy (Name | CreationTime | Status)."""
    if "NameContains" in req:
        items = [j for j in items if req["NameContains"].lower() in j.name.lower()]
    if "StatusEquals" in req:
        items = [j for j in items if j.status == req["StatusEquals"]]
    return ordered(time_window(items, req, clock), req, default_by=default_by, default_order=default_order)


def ordered(items: list, req: dict, *, default_by: str = "CreationTime", default_order: str = "Descending") -> list:
    keyf = {"Name": lambda j: j.name, "CreationTime": lambda j: (j.created, j.name),
            "Status": lambda j: (j.status, j.name)}[req.get("SortBy", default_by)]
    return sorted(items, key=keyf, reverse=req.get("SortOrder", default_order) == "Descending")


def page(items: list, req: dict, default: int = 10) -> tuple[list, dict[str, Any]]:
    """The page ``NextToken`` (an offset) and ``MaxResults`` ask for, and ``{"NextToken": ...}`` when more follow."""
    try:
        start = int(req.get("NextToken") or 0)
    except ValueError:
        raise validation("Invalid pagination token.") from None
    limit = req.get("MaxResults", default)
    extra = {"NextToken": str(start + limit)} if start + limit < len(items) else {}
    return items[start:start + limit], extra
