"""Group sweep results over seeds: mean and 95% confidence interval (Student t) per group.

Rows are the dicts of :meth:`analogeq.sweeps.store.ResultStore.point_rows`: ``sweep``,
``evaluation``, ``substrate``, ``seed``, ``axes`` (dict), ``status``, ``metrics`` (dict).
Only rows with ``status == "ok"`` and a finite number for the metric count.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

from analogeq.stats import mean_ci95


def substrate_label(substrate: str | None) -> str:
    """How a substrate is named in tables and legends (physics-only points: ``"physics"``)."""
    return substrate if substrate is not None else "physics"


def metric_value(row: dict[str, Any], metric: str) -> float | None:
    value = row.get("metrics", {}).get(metric)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def numeric_metrics(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the metrics that are numbers in at least one ok row, sorted."""
    names: set[str] = set()
    for row in rows:
        if row.get("status") == "ok":
            names.update(k for k in row.get("metrics", {}) if metric_value(row, k) is not None)
    return sorted(names)


def axis_values(rows: Iterable[dict[str, Any]], axis: str) -> list[Any]:
    """The distinct values of ``axis`` in ``rows``, sorted (numbers numerically)."""
    values = {row["axes"][axis] for row in rows if axis in row.get("axes", {})}
    return sorted(values, key=lambda v: (not isinstance(v, (int, float)), v if isinstance(v, (int, float)) else str(v)))


def aggregate(rows: Sequence[dict[str, Any]], metric: str, by: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and 95% CI half-width of ``metric`` over the rows of each group.

    ``by`` names grouping keys: ``"evaluation"``, ``"substrate"`` or an axis path. Returns one dict
    per group (in first-seen order) with the group keys, ``mean``, ``ci95`` (``nan`` with one
    value), ``n`` (number of values) and ``values``.
    """
    groups: dict[tuple, list[float]] = {}
    labels: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        value = metric_value(row, metric)
        if value is None:
            continue
        key_parts = {}
        for name in by:
            if name in ("evaluation", "substrate", "sweep"):
                key_parts[name] = row.get(name)
            else:
                key_parts[name] = row.get("axes", {}).get(name)
        key = tuple(repr(key_parts[n]) for n in by)
        groups.setdefault(key, []).append(value)
        labels.setdefault(key, key_parts)
    out = []
    for key, values in groups.items():
        mean, half = mean_ci95(values)
        out.append({**labels[key], "mean": mean, "ci95": half, "n": len(values), "values": values})
    return out
