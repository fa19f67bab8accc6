"""Seed aggregation (Student t intervals), line plots with bands, heat maps, the sweep report."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

from analogeq.report import aggregate, plot_heatmap, plot_metric_vs_axis, write_sweep_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rows():
    rows = []
    rng = np.random.default_rng(0)
    for substrate in ("float", "crossbar"):
        for bits in (4, 6, 8):
            for noise in (0.0, 1.0):
                for seed in range(3):
                    value = 0.9 - 0.1 * noise / bits + (0.05 if substrate == "float" else 0.0) + 0.01 * rng.standard_normal()
                    rows.append({"sweep": "s", "evaluation": "clean_accuracy", "substrate": substrate, "seed": seed,
                                 "axes": {"adc.bits": bits, "device.read_noise_scale": noise}, "status": "ok",
                                 "metrics": {"accuracy": value}})
    rows.append({"sweep": "s", "evaluation": "clean_accuracy", "substrate": "float", "seed": 9,
                 "axes": {"adc.bits": 4, "device.read_noise_scale": 0.0}, "status": "error", "metrics": {}})
    return rows


def test_aggregate_uses_the_student_t_interval():
    rows = [{"substrate": "x", "axes": {"a": 1}, "status": "ok", "metrics": {"m": v}} for v in (1.0, 2.0, 4.0)]
    rows.append({"substrate": "x", "axes": {"a": 1}, "status": "error", "metrics": {"m": 100.0}})  # ignored
    rows.append({"substrate": "x", "axes": {"a": 1}, "status": "ok", "metrics": {"m": float("nan")}})  # ignored
    (group,) = aggregate(rows, "m", by=["substrate", "a"])
    # t(0.975, 2 dof) = 4.302653 (standard t table); s = sqrt(7/3)
    assert group["n"] == 3 and group["mean"] == pytest.approx(7 / 3)
    assert group["ci95"] == pytest.approx(4.302653 * np.sqrt(7 / 3) / np.sqrt(3), rel=1e-6)


def test_line_plot_and_heatmap_write_pngs(tmp_path):
    rows = [r for r in _rows() if r["status"] == "ok"]
    line = plot_metric_vs_axis(rows, "adc.bits", "accuracy", str(tmp_path / "line.png"))
    heat = plot_heatmap(rows, "adc.bits", "device.read_noise_scale", "accuracy", str(tmp_path / "heat.png"))
    for path in (line, heat):
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heat.png", "line.png"]  # no temp files left


def test_plots_refuse_unknown_axes(tmp_path):
    rows = _rows()
    with pytest.raises(ValueError, match=r"axis 'adc.bitz' is not an axis of these rows; allowed: \['adc.bits'"):
        plot_metric_vs_axis(rows, "adc.bitz", "accuracy", str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="two different axes"):
        plot_heatmap(rows, "adc.bits", "adc.bits", "accuracy", str(tmp_path / "x.png"))


def test_sweep_report_from_a_database(tmp_path):
    from analogeq.sweeps import load_spec, run_sweep

    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(textwrap.dedent("""
        name = "report-demo"
        seeds = [0, 1, 2]
        [card]
        preset = "pcm"
        [axes]
        "device.read_noise_scale" = [0.0, 2.0]
        "levels.n_levels" = [4, 16]
        drift_time_s = [10.0, 1000.0]
        [evaluations.conductance_error]
        n_cells = 256
    """))
    db = tmp_path / "s.db"
    run_sweep(load_spec(spec_path), db, progress=False)
    out = write_sweep_report(db, tmp_path / "report")
    # three axes: three line plots and three heat maps for the main metric
    assert len(out["plots"]) == 6
    for path in out["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
    text = open(out["report"]).read()
    assert "## Sweep `report-demo`" in text and "mean_abs_error_rel (mean)" in text
    # short file names from the label registry, each embedded, and the metric defined
    names = sorted(os.path.basename(p) for p in out["plots"])
    assert "g_err_vs_drift.png" in names and "g_err_levels_x_read_noise.png" in names
    assert max(map(len, names)) <= 40 and all(f"]({name})" in text for name in names)
    assert "Definition: mean_abs_error_rel = mean |g_read - g_target| / (g_max - g_min)" in text
    # the summary table has one line per (axes combination): 2 x 2 x 2 = 8, each over 3 seeds
    table = out["tables"]["report-demo/conductance_error/mean_abs_error_rel"]
    assert len(table.splitlines()) == 2 + 8 and all(line.endswith("| 3 |") for line in table.splitlines()[2:])
