"""Export a sweep database to CSV: one line per planned point of every recorded sweep."""

from __future__ import annotations

import csv
import json
import os
from typing import Any

from analogeq.sweeps.store import ResultStore
from hardware_models.files import atomic_output

_LEAD = ["sweep", "key", "evaluation", "substrate", "seed"]
_TAIL = ["status", "reason", "eval_time_s", "point_time_s"]


def export_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Flatten point rows (``ResultStore.point_rows``) into CSV columns: the lead columns, one
    column per axis, status, one column per metric (prefixed ``metric:`` only when a metric name
    collides with another column), reason and timings. Non-number metrics are JSON text."""
    axes = sorted({a for r in rows for a in r["axes"]})
    metrics = sorted({m for r in rows for m in r["metrics"]})
    taken = set(_LEAD) | set(axes) | set(_TAIL)
    metric_cols = {m: (f"metric:{m}" if m in taken else m) for m in metrics}
    columns = _LEAD + axes + ["status"] + [metric_cols[m] for m in metrics] + _TAIL[1:]
    out = []
    for r in rows:
        line: dict[str, Any] = {k: r.get(k) for k in _LEAD}
        line["key"] = r["key"]
        line.update({a: r["axes"].get(a) for a in axes})
        line["status"] = r["status"]
        for m in metrics:
            v = r["metrics"].get(m)
            line[metric_cols[m]] = json.dumps(v) if isinstance(v, (list, dict)) else v
        for k in _TAIL[1:]:
            line[k] = r.get(k)
        out.append(line)
    return columns, out


def export_csv(db_path: str | os.PathLike, csv_path: str | os.PathLike) -> int:
    """Write every planned point of the database (with its result, if any) to ``csv_path``
    (atomically, through ``hardware_models.files.atomic_output``). Returns the number of lines
    written (without the header)."""
    with ResultStore(db_path, create=False) as store:
        rows = store.point_rows()
    columns, lines = export_rows(rows)
    with atomic_output(csv_path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="raise")
            writer.writeheader()
            for line in lines:
                writer.writerow({k: ("" if v is None else v) for k, v in line.items()})
    return len(lines)
