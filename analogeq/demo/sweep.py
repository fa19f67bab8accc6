"""``analogeq demo`` section ``sweep``: a small noise-sensitivity sweep of the trained network.

:func:`section_sweep` runs :func:`analogeq.demo.sweep_spec.run_demo_sweep` in ``<demo folder>/sweep``
with the checkpoint the ``float`` section saved: read-noise scale (0, 1, 3 x the card's) x ADC
bits (4, 6, 8) on the ``pcm`` card one hour after programming, 3 seeds (programming and read
draws) per point, evaluations ``crossbar_read_error`` (a random 64 x 64 matrix, physics only)
and ``clean_accuracy`` on the float and crossbar substrates. The sweep's SQLite database,
CSV, TOML spec, plots and ``sweep-report.md`` stay in that folder; running the demo again into
the same folder re-runs only the points that are missing (a changed network is a new point).

Rows (table ``sweep``): one per (read-noise scale, ADC bits) with the crossbar accuracy, mean
and 95% interval over the seeds, and the relative read error of the physics-only evaluation.
``ctx.artifacts["sweep"]`` holds ``run_demo_sweep``'s result (paths of the plots, tables).
"""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["NOISE_AXIS", "BITS_AXIS", "section_sweep"]

NOISE_AXIS = "device.read_noise_scale"
BITS_AXIS = "adc.bits"


def section_sweep(ctx: Any) -> list[dict[str, Any]]:
    """Run the demo sweep; one row per grid point (see the module docstring)."""
    from analogeq.report.grouping import aggregate
    from analogeq.demo.sweep_spec import run_demo_sweep
    from analogeq.sweeps.store import ResultStore

    t0 = time.perf_counter()
    out = run_demo_sweep(ctx.out_dir / "sweep", checkpoint=ctx.artifacts["dense_ebm_checkpoint"], quick=True,
                         progress=False)
    seconds = time.perf_counter() - t0
    ctx.artifacts["sweep"] = out
    with ResultStore(out["db"], create=False) as store:
        rows = store.point_rows()
    crossbar = [r for r in rows if r["evaluation"] == "clean_accuracy" and r["substrate"] == "crossbar"]
    physics = [r for r in rows if r["evaluation"] == "crossbar_read_error"]
    acc = {(g[NOISE_AXIS], g[BITS_AXIS]): g for g in aggregate(crossbar, "accuracy", [NOISE_AXIS, BITS_AXIS])}
    err = {(g[NOISE_AXIS], g[BITS_AXIS]): g for g in aggregate(physics, "relative_error", [NOISE_AXIS, BITS_AXIS])}
    summary = out["summary"]
    table = []
    for key in sorted(set(acc) | set(err)):
        a, e = acc.get(key), err.get(key)
        table.append({
            "section": "sweep",
            "table": "sweep",
            "read_noise_scale": key[0],
            "adc_bits": key[1],
            "crossbar_accuracy": a["mean"] if a else None,
            "crossbar_accuracy_ci95": None if not a or math.isnan(a["ci95"]) else a["ci95"],
            "seeds": a["n"] if a else None,
            "relative_error": e["mean"] if e else None,
        })
    if table:
        table[0]["notes"] = (f"{summary.get('planned', '?')} points planned, {summary.get('ran', '?')} run now "
                             f"in {seconds:.1f} s; spec {out['spec']}")
    return table

