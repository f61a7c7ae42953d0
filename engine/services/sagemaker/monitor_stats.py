"""Model Monitor's analyzer: statistics.json, constraints.json and constraint_violations.json.

What the prebuilt ``sagemaker-model-monitor-analyzer`` container (Deequ on Spark)
computes, really computed here with numpy on the real rows, in AWS's schemas
(docs/model-monitor.md):

* **Types.** A cell is Integral (``-?[0-9]+``), Fractional (any other finite
  number) or String; empty cells (and ``nan``) are missing. A column with a
  String is String, else with a Fractional is Fractional, else Integral
  (Unknown when nothing is present), as Deequ decides.
* **Statistics.** num_present / num_missing, mean, sum, std_dev (population,
  as Deequ), min, max, ten equal-width KLL buckets and a KLL sketch
  (``c`` 0.64, ``k`` 2048). Up to ``k`` values the sketch holds every value
  exactly; beyond that one value in 2^h, at level h, each weighing 2^h.
* **Drift.** ``baseline_drift_check`` measures the Kolmogorov-Smirnov distance:
  the largest gap between the baseline's cumulative distribution (read back
  from its KLL sketch) and the current one. ``comparison_method`` "Simple"
  flags a distance above ``comparison_threshold``. "Robust" (what baselines
  suggest) first subtracts what sampling alone explains,
  ``1.95 * sqrt(1/m + 1/n)`` (the two-sample KS critical value at
  alpha = 0.001), with m the baseline's values and n the current ones, n
  counting distinct values (records for Integral columns): a replayed record
  tells nothing new about the distribution.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KLL_K = 2048
KLL_C = 0.64
BUCKETS = 10
ROBUST_Z = 1.95  # two-sample Kolmogorov-Smirnov coefficient c(alpha) at alpha = 0.001
DOMAIN_MAX = 20  # String columns with at most this many distinct values get a domain constraint

#: AWS's suggested monitoring_config (constraints.json).
MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

_INTEGRAL = re.compile(r"[+-]?\d+")
_MISSING = {"", "nan", "NaN", "NAN", "null", "NULL", "None"}


class AnalysisError(ValueError):
    """The dataset cannot be analysed (the job fails with this text)."""


# ----------------------------------------------------------------------------- reading


def csv_rows(texts: list[str], header: bool) -> tuple[list[str] | None, list[list[str]]]:
    """Cells of CSV texts (one per object); with ``header`` each object's first line names the columns."""
    names: list[str] | None = None
    rows: list[list[str]] = []
    for text in texts:
        reader = csv.reader(io.StringIO(text))
        first = True
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header and first:
                first = False
                if names is None:
                    names = [c.strip() for c in row]
                continue
            first = False
            rows.append(row)
    return names, rows


# ----------------------------------------------------------------------------- columns


@dataclass
class Column:
    name: str
    present: int = 0
    missing: int = 0
    integral: int = 0
    fractional: int = 0
    string: int = 0
    values: np.ndarray = field(default_factory=lambda: np.empty(0))  # the numeric cells
    strings: list[str] = field(default_factory=list)  # every present cell, as text
    output: bool = False  # a model-output column merged into captured records

    @property
    def inferred_type(self) -> str:
        if self.present == 0:
            return "Unknown"
        if self.string:
            return "String"
        if self.fractional:
            return "Fractional"
        return "Integral"

    @property
    def completeness(self) -> float:
        total = self.present + self.missing
        return self.present / total if total else 0.0

    def share_of(self, kind: str) -> float:
        """Share of present values compatible with ``kind`` (Integral fits Fractional; all fit String)."""
        if self.present == 0:
            return 1.0
        ok = {"Integral": self.integral, "Fractional": self.integral + self.fractional}.get(kind, self.present)
        return ok / self.present


@dataclass
class Analysis:
    columns: list[Column]
    item_count: int
    distinct_records: int

    def column(self, i: int) -> Column | None:
        return self.columns[i] if i < len(self.columns) else None


def analyse(rows: list[list[str]], names: list[str] | None = None, output_columns: frozenset[int] = frozenset()) \
        -> Analysis:
    """Type, count and collect every column of ``rows`` (ragged rows are padded with missing cells)."""
    width = max((len(r) for r in rows), default=0)
    if names:
        width = max(width, len(names))
    cols = []
    distinct = len({tuple(r) for r in rows})
    for i in range(width):
        name = names[i] if names and i < len(names) and names[i] else f"_c{i}"
        col = Column(name, output=i in output_columns)
        nums: list[float] = []
        for r in rows:
            cell = r[i].strip() if i < len(r) else ""
            if cell in _MISSING:
                col.missing += 1
                continue
            col.present += 1
            col.strings.append(cell)
            if _INTEGRAL.fullmatch(cell):
                col.integral += 1
                nums.append(float(cell))
                continue
            try:
                v = float(cell)
            except ValueError:
                col.string += 1
                continue
            if math.isfinite(v):
                col.fractional += 1
                nums.append(v)
            else:
                col.string += 1
        col.values = np.asarray(nums, dtype=np.float64)
        cols.append(col)
    return Analysis(cols, len(rows), distinct)


# ----------------------------------------------------------------------------- statistics.json


def kll_sketch(values: np.ndarray) -> dict:
    """A KLL-shaped sketch: every value while there are at most k, else one in 2^h at level h."""
    v = np.sort(values)
    level = 0
    while len(v) / (2 ** level) > KLL_K:
        level += 1
    step = 2 ** level
    kept = v[step // 2::step] if level else v
    data: list[list[float]] = [[] for _ in range(level)] + [[float(x) for x in kept]]
    return {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": data}


def _buckets(values: np.ndarray) -> list[dict]:
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return [{"lower_bound": lo, "upper_bound": hi, "count": float(len(values))}]
    counts, edges = np.histogram(values, bins=BUCKETS, range=(lo, hi))
    return [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
            for i in range(BUCKETS)]


def feature_statistics(col: Column) -> dict:
    common = {"num_present": col.present, "num_missing": col.missing}
    kind = col.inferred_type
    out: dict[str, Any] = {"name": col.name, "inferred_type": kind}
    if kind in ("Integral", "Fractional"):
        v = col.values
        out["numerical_statistics"] = {
            "common": common,
            "mean": float(v.mean()),
            "sum": float(v.sum()),
            "std_dev": float(v.std()),
            "min": float(v.min()),
            "max": float(v.max()),
            "distribution": {"kll": {"buckets": _buckets(v), "sketch": kll_sketch(v)}},
        }
    else:
        counts: dict[str, int] = {}
        for s in col.strings:
            counts[s] = counts.get(s, 0) + 1
        out["string_statistics"] = {
            "common": common,
            "distinct_count": float(len(counts)),
            "distribution": {"categorical": {"buckets": [{"value": k, "count": float(c)}
                                                         for k, c in sorted(counts.items())]}},
        }
    return out


def statistics(a: Analysis) -> dict:
    return {"version": 0.0, "dataset": {"item_count": a.item_count},
            "features": [feature_statistics(c) for c in a.columns]}


# ----------------------------------------------------------------------------- constraints.json


def constraints(a: Analysis) -> dict:
    features = []
    for c in a.columns:
        f: dict[str, Any] = {"name": c.name, "inferred_type": c.inferred_type, "completeness": c.completeness}
        if c.inferred_type in ("Integral", "Fractional"):
            f["num_constraints"] = {"is_non_negative": bool(c.values.min() >= 0)}
        elif c.inferred_type == "String":
            domain = sorted(set(c.strings))
            if len(domain) <= DOMAIN_MAX:
                f["string_constraints"] = {"domains": domain}
        features.append(f)
    return {"version": 0.0, "features": features,
            "monitoring_config": {**MONITORING_CONFIG,
                                  "distribution_constraints": dict(MONITORING_CONFIG["distribution_constraints"])}}


# ----------------------------------------------------------------------------- distances


def sketch_items(feature_stats: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, weights) of a numeric feature's baseline distribution, from its KLL sketch (or buckets)."""
    dist = (feature_stats.get("numerical_statistics") or {}).get("distribution", {}).get("kll", {})
    data = (dist.get("sketch") or {}).get("data")
    values: list[float] = []
    weights: list[float] = []
    if data:
        for level, items in enumerate(data):
            values += [float(x) for x in items]
            weights += [float(2 ** level)] * len(items)
    else:
        for b in dist.get("buckets", []):
            values.append((float(b["lower_bound"]) + float(b["upper_bound"])) / 2)
            weights.append(float(b["count"]))
    if not values or sum(weights) <= 0:
        return None
    order = np.argsort(values, kind="stable")
    return np.asarray(values)[order], np.asarray(weights)[order]


def ks_distance(base_values: np.ndarray, base_weights: np.ndarray, current: np.ndarray) -> float:
    """Largest gap between the (weighted) baseline CDF and the current empirical CDF."""
    cur = np.sort(current)
    points = np.union1d(base_values, cur)
    cum = np.concatenate([[0.0], np.cumsum(base_weights)])
    fb = cum[np.searchsorted(base_values, points, side="right")] / cum[-1]
    fc = np.searchsorted(cur, points, side="right") / len(cur)
    return float(np.max(np.abs(fb - fc)))


def linf_distance(base: dict[str, float], current: dict[str, float]) -> float:
    """L-infinity distance between two categorical frequency distributions."""
    tb, tc = sum(base.values()) or 1.0, sum(current.values()) or 1.0
    keys = set(base) | set(current)
    return max((abs(base.get(k, 0.0) / tb - current.get(k, 0.0) / tc) for k in keys), default=0.0)


def sampling_allowance(m: float, n: float) -> float:
    """What two samples of m and n values of one distribution may differ by (KS, alpha 0.001)."""
    return ROBUST_Z * math.sqrt(1.0 / max(m, 1.0) + 1.0 / max(n, 1.0))


# ----------------------------------------------------------------------------- constraint_violations.json


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x * 100 == round(x * 100, 1) else f"{x * 100}%"


@dataclass
class Finding:
    """What a monitoring execution measured for one feature (also its CloudWatch metrics)."""

    name: str
    completeness: float
    drift: float | None = None


def check(current: Analysis, baseline_stats: dict | None, baseline_constraints: dict | None) \
        -> tuple[list[dict], list[Finding]]:
    """Violations of ``baseline_constraints`` by the current dataset, and per-feature measurements."""
    findings = [Finding(c.name, c.completeness) for c in current.columns]
    if not baseline_constraints:
        return [], findings
    cfg = {**MONITORING_CONFIG, **(baseline_constraints.get("monitoring_config") or {})}
    dist_cfg = {**MONITORING_CONFIG["distribution_constraints"], **(cfg.get("distribution_constraints") or {})}
    if cfg.get("evaluate_constraints", "Enabled") != "Enabled":
        return [], findings
    features = baseline_constraints.get("features") or []
    stats_by_name = {f["name"]: f for f in (baseline_stats or {}).get("features", [])}
    out: list[dict] = []
    n_base, n_cur = len(features), len(current.columns)
    if n_cur < n_base:
        for f in features[n_cur:]:
            out.append({"feature_name": f["name"], "constraint_check_type": "missing_column_check",
                        "description": f"There are missing columns in current dataset. Number of columns in "
                                       f"current dataset: {n_cur}, Number of columns in baseline constraints: "
                                       f"{n_base}"})
    elif n_cur > n_base:
        for c in current.columns[n_base:]:
            out.append({"feature_name": c.name, "constraint_check_type": "extra_column_check",
                        "description": f"There are extra columns in current dataset. Number of columns in "
                                       f"current dataset: {n_cur}, Number of columns in baseline constraints: "
                                       f"{n_base}"})
    for i, f in enumerate(features):
        col = current.column(i)
        if col is None:
            continue
        name = f["name"]
        over = {**cfg, **(f.get("monitoringConfigOverrides") or {})}
        expected = f.get("completeness")
        if expected is not None and col.completeness + 1e-12 < float(expected):
            out.append({"feature_name": name, "constraint_check_type": "completeness_check",
                        "description": f"Data completeness requirement is not met. Expected: "
                                       f"{_pct(float(expected))}, Observed: {_pct(col.completeness)}."})
        if col.output or col.present == 0:
            continue  # model outputs are not held to the label's type or distribution (docs/model-monitor.md)
        kind = f.get("inferred_type")
        if kind in ("Integral", "Fractional"):
            share = col.share_of(kind)
            if 1.0 - share > float(over.get("datatype_check_threshold", 0.1)) + 1e-12:
                out.append({"feature_name": name, "constraint_check_type": "data_type_check",
                            "description": f"Data type match requirement is not met. Expected data type: {kind}, "
                                           f"Expected match: 100.0%. Observed: Only {_pct(share)} of data is "
                                           f"{kind}."})
        domains = (f.get("string_constraints") or {}).get("domains")
        if kind == "String" and domains:
            known = set(domains)
            unknown = sum(1 for s in col.strings if s not in known) / col.present
            if unknown > float(over.get("domain_content_threshold", 0.1)) + 1e-12:
                out.append({"feature_name": name, "constraint_check_type": "categorical_values_check",
                            "description": f"Categorical values requirement is not met. Expected: only values "
                                           f"from the baseline domain, Observed: {_pct(unknown)} of values are "
                                           f"unknown."})
        feature_dist = {**dist_cfg, **(over.get("distribution_constraints") or {}),
                        **{k: over[k] for k in ("comparison_threshold", "comparison_method") if k in over}}
        base = stats_by_name.get(name)
        if base is None or feature_dist.get("perform_comparison", "Enabled") != "Enabled":
            continue
        v = _drift(col, base, feature_dist, current.distinct_records)
        if v is None:
            continue
        distance, flagged, threshold = v
        findings[i].drift = distance
        if flagged:
            out.append({"feature_name": name, "constraint_check_type": "baseline_drift_check",
                        "description": f"Baseline drift distance: {distance} exceeds threshold: {threshold}"})
    return out, findings


def _drift(col: Column, base: dict, dist_cfg: dict, distinct_records: int) -> tuple[float, bool, float] | None:
    if "numerical_statistics" in base and len(col.values):
        items = sketch_items(base)
        if items is None:
            return None
        distance = ks_distance(items[0], items[1], col.values)
        threshold = float(dist_cfg.get("comparison_threshold", 0.1))
        if dist_cfg.get("comparison_method", "Robust") == "Simple":
            return distance, distance > threshold, threshold
        m = float(base["numerical_statistics"]["common"].get("num_present") or items[1].sum())
        n = len(np.unique(col.values)) if col.inferred_type == "Fractional" else min(len(col.values),
                                                                                     distinct_records)
        return distance, distance - sampling_allowance(m, n) > threshold, threshold
    if "string_statistics" in base and col.strings:
        buckets = base["string_statistics"].get("distribution", {}).get("categorical", {}).get("buckets", [])
        ref = {str(b["value"]): float(b["count"]) for b in buckets}
        cur: dict[str, float] = {}
        for s in col.strings:
            cur[s] = cur.get(s, 0.0) + 1.0
        distance = linf_distance(ref, cur)
        threshold = float(dist_cfg.get("categorical_comparison_threshold", 0.1))
        return distance, distance > threshold, threshold
    return None
