"""Request parsing and response formats for the built-ins' endpoints.

Request bodies (``rows_from_body``):

* ``text/csv``: one record per line, features only (no label column).
* ``text/libsvm``: ``[label] idx:value ...`` (XGBoost); a leading label is ignored.
* ``application/json``: ``{"instances": [{"features": [..]}, ...]}`` (the 1P
  algorithms' dense format), ``{"instances": [[..], ...]}``, ``[[..], ...]`` or
  ``{"features": [..]}``.
* ``application/jsonlines``: one ``{"features": [..]}`` or ``[..]`` per line.

Malformed bodies raise ``ValueError`` with a plain message; the engine turns it
into the endpoint's ModelError (HTTP 424), as AWS does for a container's 4xx.

Responses: ``csv_body`` (one record per line, shortest round-trip float text so
the numbers read back exactly), ``json_body`` and ``jsonlines_body``.
``negotiate`` picks the response type from the Accept header.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from engine.algorithms.readers import media_type

_SHOWN = 60


def negotiate(accept: str | None, supported: tuple[str, ...], default: str) -> tuple[str, dict[str, str]]:
    """The response media type (and its parameters) for an Accept header; ValueError if none fits."""
    if not accept or not accept.strip():
        return default, {}
    options = [a for a in (x.strip() for x in accept.split(",")) if a]
    for option in options:
        mime, params = media_type(option)
        params.pop("q", None)
        if mime in ("*/*", "*"):
            return default, params
        if mime in supported:
            return mime, params
        if mime.endswith("/*"):
            family = mime[:-1]
            match = next((s for s in supported if s.startswith(family)), None)
            if match:
                return match, params
    raise ValueError(f"Accept type '{accept}' is not supported; supported: {', '.join(supported)}.")


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def body_text(body: bytes) -> str:
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("request body is not UTF-8 text") from None


def _check_width(x: np.ndarray, n_features: int | None) -> np.ndarray:
    if n_features is None or x.shape[1] == n_features:
        return x
    raise ValueError(f"each record must have {n_features} features, got {x.shape[1]}")


def csv_rows(body: bytes, n_features: int | None = None, *, allow_missing: bool = False) -> np.ndarray:
    """Rows of a text/csv body (features only); ValueError naming the first bad line."""
    text = body_text(body)
    if not text.strip():
        raise ValueError("empty request body: expected CSV records")
    try:
        with np.errstate(all="ignore"):
            x = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        if not allow_missing and not np.isfinite(x).all():
            raise ValueError
    except ValueError:
        x = _csv_rows_slow(text, allow_missing)
    return _check_width(x, n_features)


def _csv_rows_slow(text: str, allow_missing: bool) -> np.ndarray:
    rows: list[list[float]] = []
    width = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise ValueError(f"CSV line {number} has {len(cells)} values, line 1 has {width}: {_shown(line)}")
        row = []
        for c in cells:
            c = c.strip()
            if c == "" and allow_missing:
                row.append(np.nan)
                continue
            try:
                v = float(c)
            except ValueError:
                raise ValueError(f"CSV line {number}: non-numeric value {c!r}: {_shown(line)}") from None
            if not np.isfinite(v) and not allow_missing:
                raise ValueError(f"CSV line {number}: value {c!r} is not finite")
            row.append(v)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def libsvm_rows(body: bytes, n_features: int, index_base: int = 1) -> np.ndarray:
    """Rows of a text/libsvm body; a leading label token (no colon) is ignored."""
    text = body_text(body)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if ":" not in tokens[0]:
            tokens = tokens[1:]
        row = np.zeros(n_features, dtype=np.float64)
        for tok in tokens:
            i, sep, v = tok.partition(":")
            try:
                col = int(i) - index_base
                val = float(v)
                if sep != ":" or not np.isfinite(val):
                    raise ValueError
            except ValueError:
                raise ValueError(f"libsvm line {number}: {tok!r} is not an index:value pair") from None
            if not 0 <= col < n_features:
                raise ValueError(
                    f"libsvm line {number}: feature index {i} is outside the model's {n_features} features"
                )
            row[col] = val
        rows.append(row)
    if not rows:
        raise ValueError("empty request body: expected libsvm records")
    return np.vstack(rows)


def json_document(body: bytes) -> Any:
    text = body_text(body)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"request body is not valid JSON ({exc.msg} at position {exc.pos})") from None


def _record_features(rec: Any, i: int) -> list:
    if isinstance(rec, dict):
        if "features" in rec:
            rec = rec["features"]
        elif "data" in rec and isinstance(rec["data"], dict) and "features" in rec["data"]:
            rec = rec["data"]["features"].get("values")
        else:
            raise ValueError(f"instance {i} has no 'features' list")
    if not isinstance(rec, list):
        raise ValueError(f"instance {i} is not a list of numbers")
    return rec


def json_rows(body: bytes, n_features: int | None = None) -> np.ndarray:
    doc = json_document(body)
    if isinstance(doc, dict) and "instances" in doc:
        records = doc["instances"]
    elif isinstance(doc, dict) and "features" in doc:
        records = [doc]
    else:
        records = doc
    if not isinstance(records, list) or not records:
        raise ValueError('expected {"instances": [{"features": [...]}, ...]} with at least one instance')
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in records):
        records = [records]  # a single bare feature list
    return _to_matrix([_record_features(r, i) for i, r in enumerate(records)], n_features)


def jsonlines_rows(body: bytes, n_features: int | None = None) -> np.ndarray:
    recs = []
    for number, line in enumerate(body_text(body).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            recs.append(_record_features(json.loads(line), number))
        except json.JSONDecodeError as exc:
            raise ValueError(f"JSON Lines line {number} is not valid JSON ({exc.msg})") from None
    if not recs:
        raise ValueError("empty request body: expected JSON Lines records")
    return _to_matrix(recs, n_features)


def _to_matrix(records: list[list], n_features: int | None) -> np.ndarray:
    width = len(records[0])
    for i, r in enumerate(records):
        if len(r) != width:
            raise ValueError(f"instance {i} has {len(r)} features, instance 0 has {width}")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"instance {i} has a non-numeric feature {v!r}")
    x = np.asarray(records, dtype=np.float64).reshape(len(records), width)
    if not np.isfinite(x).all():
        raise ValueError("features must be finite numbers")
    return _check_width(x, n_features)


def rows_from_body(body: bytes, content_type: str | None, n_features: int | None, *,
                   supported: tuple[str, ...] = ("text/csv", "application/json", "application/jsonlines"),
                   default: str = "text/csv", index_base: int = 1, allow_missing: bool = False) -> np.ndarray:
    """Feature rows from a request body of any supported content type."""
    mime, _ = media_type(content_type)
    mime = mime or default
    if mime not in supported:
        raise ValueError(f"content type '{content_type}' is not supported; supported: {', '.join(supported)}")
    if mime == "text/csv":
        return csv_rows(body, n_features, allow_missing=allow_missing)
    if mime == "text/libsvm":
        if n_features is None:
            raise ValueError("libsvm input needs the model's feature count")
        return libsvm_rows(body, n_features, index_base)
    if mime == "application/json":
        return json_rows(body, n_features)
    if mime == "application/jsonlines":
        return jsonlines_rows(body, n_features)
    raise ValueError(f"content type '{content_type}' is not supported")


def fmt(v: Any) -> str:
    """Shortest text that reads back as the same float (integers stay integers)."""
    if isinstance(v, int | np.integer) and not isinstance(v, bool):
        return str(int(v))
    return repr(float(v))


def csv_body(values: np.ndarray | list) -> bytes:
    """One line per record: a scalar, or comma-separated values for a 2-D row."""
    arr = np.asarray(values)
    if arr.ndim == 1:
        lines = [fmt(v) for v in arr.tolist()]
    else:
        lines = [",".join(fmt(v) for v in row) for row in arr.tolist()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def json_body(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=False).encode("utf-8")


def jsonlines_body(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, allow_nan=False) + "\n" for r in records).encode("utf-8")


def plain(v: Any) -> Any:
    """numpy scalars/arrays to JSON-ready Python values."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v
