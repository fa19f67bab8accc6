"""A sweep database turned into a folder of PNG plots and a Markdown report.

:func:`write_sweep_report` makes, for every recorded sweep and every evaluation in it, and for
each of the evaluation's main metrics: one plot of the metric against every axis (95% bands over
seeds, substrates side by side), one heat map for every pair of axes, and a Markdown table of
the seed means with their confidence intervals. Under each metric's heading the report gives
its definition from the label registry (:mod:`analogeq.report.labels`). The files are written
atomically (:mod:`hardware_models.files`).

File names are short: ``<metric>_vs_<axis>.png`` and ``<metric>_<y axis>_x_<x axis>.png`` with the
registry's short names (``acc_vs_adc_bits.png``, ``rel_err_read_noise_x_adc_bits.png``); the sweep's
name is put in front when the database holds several sweeps, and the evaluation's where two
evaluations share a metric name.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any, Sequence

from analogeq.report.grouping import aggregate, numeric_metrics, substrate_label
from analogeq.report.labels import definition, label, short_name
from analogeq.report.plots import plot_heatmap, plot_metric_vs_axis
from analogeq.report.tables import markdown_table
from hardware_models.files import atomic_write


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _file_name(used: set[str], parts: Sequence[str], prefix: str, evaluation: str) -> str:
    """``prefix + "_".join(parts) + ".png"``, with the evaluation's name in front if that is taken."""
    name = prefix + "_".join(parts) + ".png"
    if name in used:
        name = prefix + _slug(evaluation)[:20] + "_" + "_".join(parts) + ".png"
    used.add(name)
    return name


def _main_metrics(evaluation: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    numeric = numeric_metrics(rows)
    try:
        from analogeq.sweeps.evaluations import get_evaluation

        declared = [m for m in get_evaluation(evaluation).metrics if m in numeric]
    except ValueError:  # an evaluation registered by a plugin that is not imported here
        declared = []
    return declared or numeric


def summary_table(rows: Sequence[dict[str, Any]], metric: str) -> str:
    """Markdown table of ``metric``: seed mean and 95% CI per substrate and axis values."""
    axes = sorted({a for r in rows for a in r["axes"]})
    stats = aggregate(rows, metric, by=["substrate", *axes])
    for s in stats:
        s["substrate"] = substrate_label(s["substrate"])
        if s["n"] < 2:
            s["ci95"] = None  # one seed: no interval (empty cell)
    columns = [("substrate", "substrate")] + [(a, label(a)) for a in axes] + [
        ("mean", f"{metric} (mean)"), ("ci95", "95% CI +-"), ("n", "seeds")]
    return markdown_table(stats, columns)


def write_sweep_report(
    db_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    heatmaps: bool = True,
    title: str = "Sweep report",
    report_name: str = "report.md",
) -> dict[str, Any]:
    """Write plots and ``report_name`` (Markdown) for every sweep in the database into ``out_dir``.

    ``metrics`` overrides each evaluation's main metrics. Returns ``{"report": path,
    "plots": [paths], "tables": {name: markdown}}``.
    """
    from analogeq.sweeps.store import ResultStore

    with ResultStore(db_path, create=False) as store:
        sweeps = store.sweeps()
        status = store.status_counts()
        all_rows = store.point_rows()
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    plots: list[str] = []
    tables: dict[str, str] = {}
    lines = [f"# {title}", "", f"Database: `{os.path.basename(os.fspath(db_path))}`", ""]
    lines.append(markdown_table(status, ["name", "planned", "ok", "skipped", "error", "pending", "runs"]))
    used: set[str] = set()
    for sweep in sweeps:
        prefix = _slug(sweep["name"])[:24] + "_" if len(sweeps) > 1 else ""
        rows = [r for r in all_rows if r["spec_hash"] == sweep["spec_hash"]]
        lines += [f"## Sweep `{sweep['name']}`", ""]
        if sweep["spec"].get("description"):
            lines += [sweep["spec"]["description"], ""]
        skipped = sorted({(substrate_label(r["substrate"]), r["reason"]) for r in rows if r["status"] == "skipped"})
        for sub, reason in skipped:
            lines.append(f"- skipped on {sub}: {reason}")
        if skipped:
            lines.append("")
        for evaluation in sorted({r["evaluation"] for r in rows}):
            ev_rows = [r for r in rows if r["evaluation"] == evaluation]
            ok_rows = [r for r in ev_rows if r["status"] == "ok"]
            if not ok_rows:
                continue
            axes = sorted({a for r in ok_rows for a in r["axes"]})
            for metric in (metrics or _main_metrics(evaluation, ok_rows)):
                lines += [f"### {evaluation}: {metric} ({label(metric)})", ""]
                if definition(metric):
                    lines += [f"Definition: {definition(metric)}.", ""]
                m = short_name(metric)
                for axis in axes:
                    path = os.path.join(out_dir, _file_name(used, [m, "vs", short_name(axis)], prefix, evaluation))
                    plots.append(plot_metric_vs_axis(ok_rows, axis, metric, path,
                                                     title=f"{evaluation}: {label(metric)} vs {label(axis)}"))
                    lines += [f"![{label(metric)} vs {label(axis)}]({os.path.basename(path)})", ""]
                if heatmaps:
                    for x_axis, y_axis in itertools.combinations(axes, 2):
                        parts = [m, short_name(y_axis), "x", short_name(x_axis)]
                        path = os.path.join(out_dir, _file_name(used, parts, prefix, evaluation))
                        plots.append(plot_heatmap(ok_rows, x_axis, y_axis, metric, path,
                                                  title=f"{evaluation}: {label(metric)}"))
                        lines += [f"![{label(metric)}: {label(y_axis)} x {label(x_axis)}]({os.path.basename(path)})", ""]
                table = summary_table(ok_rows, metric)
                tables[f"{sweep['name']}/{evaluation}/{metric}"] = table
                lines += [table, ""]
    report = os.path.join(out_dir, report_name)
    atomic_write(report, "\n".join(lines).rstrip() + "\n")
    return {"report": report, "plots": plots, "tables": tables}
