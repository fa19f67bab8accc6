"""A small sweep with its plots, for ``analogeq demo`` and for trying the machinery out.

    from analogeq.demo.sweep_spec import run_demo_sweep
    out = run_demo_sweep("demo-report/sweep", checkpoint="demo-report/dense_ebm_digits.safetensors")
    out["plots"]   # PNG paths; out["report"] is a Markdown file with the tables and plots

The sweep is read-noise scale x ADC bits on the PCM preset card, one hour after programming:

* ``crossbar_read_error`` (physics only: a random 64 x 64 matrix programmed with the card and
  read once; always runs, needs no network);
* ``clean_accuracy`` of the trained network on the ``float`` and ``crossbar`` substrates, when a
  checkpoint is given (points on a substrate kind that is not registered yet are stored as
  skipped with the reason, and run when the sweep is re-run after it lands).

Everything goes into ``out_dir``: ``sweep.toml`` (the spec, to re-run or extend it with
``analogeq sweep run``), ``sweep.db``, ``sweep.csv``, the PNG plots and ``sweep-report.md``.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from hardware_models.files import atomic_write


def demo_spec_toml(
    *,
    checkpoint: str | None = None,
    quick: bool = True,
    substrates: Sequence[str] = ("float", "crossbar"),
    robust: bool = False,
) -> str:
    """The TOML text of the demo sweep (see the module docstring).

    ``quick``: 3 read-noise scales x 3 ADC bit widths x 3 seeds (else 5 x 4 x 5).
    ``robust``: also the quick robustness suite (``robust_accuracy``) on 100 test images.
    """
    noise = "[0.0, 1.0, 3.0]" if quick else "[0.0, 0.5, 1.0, 2.0, 4.0]"
    bits = "[4, 6, 8]" if quick else "[3, 4, 6, 8]"
    seeds = "[0, 1, 2]" if quick else "{ start = 0, count = 5 }"
    lines = [
        'name = "demo-read-noise-x-adc-bits"',
        'description = "PCM crossbar, 1 h after programming: read-noise scale x ADC bits"',
        f"seeds = {seeds}",
    ]
    if checkpoint is not None:
        lines.append("substrates = [" + ", ".join(f'"{s}"' for s in substrates) + "]")
    lines += [
        "",
        "[card]",
        'preset = "pcm"',
        "",
    ]
    if checkpoint is not None:
        lines += ["[network]", f"checkpoint = {_toml_string(os.path.abspath(checkpoint))}", ""]
    lines += [
        "[axes]",
        f'"device.read_noise_scale" = {noise}',
        f'"adc.bits" = {bits}',
        "",
        "[evaluations.crossbar_read_error]",
        "n_in = 64",
        "n_out = 64",
        "drift_time_s = 3600.0",
    ]
    if checkpoint is not None:
        lines += ["", "[evaluations.clean_accuracy]", "drift_time_s = 3600.0"]
        if robust:
            lines += ["", "[evaluations.robust_accuracy]", "drift_time_s = 3600.0", "n_test = 100"]
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_demo_sweep(
    out_dir: str | os.PathLike,
    *,
    checkpoint: str | None = None,
    quick: bool = True,
    substrates: Sequence[str] = ("float", "crossbar"),
    robust: bool = False,
    executor: str = "inprocess",
    workers: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write the demo spec, run it, export CSV and write the plots and report into ``out_dir``.

    Returns ``{"spec", "db", "csv", "report", "plots", "tables", "summary"}`` (paths, the
    Markdown tables by name, and the run's :class:`~analogeq.sweeps.runner.SweepSummary` as a
    dict). Re-running into the same folder only runs what is missing.
    """
    from analogeq.report.sweep_report import write_sweep_report
    from analogeq.sweeps.export import export_csv
    from analogeq.sweeps.runner import run_sweep
    from analogeq.sweeps.spec import load_spec

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    spec_path = os.path.join(out_dir, "sweep.toml")
    text = demo_spec_toml(checkpoint=checkpoint, quick=quick, substrates=substrates, robust=robust)
    atomic_write(spec_path, text)
    db = os.path.join(out_dir, "sweep.db")
    summary = run_sweep(load_spec(spec_path), db, executor=executor, workers=workers, progress=progress)
    csv_path = os.path.join(out_dir, "sweep.csv")
    export_csv(db, csv_path)
    report = write_sweep_report(db, out_dir, report_name="sweep-report.md", title="Sweep: read noise x ADC bits")
    return {"spec": spec_path, "db": db, "csv": csv_path, "summary": summary.to_dict(), **report}
