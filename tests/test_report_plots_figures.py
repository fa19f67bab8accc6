"""The demo's and the sweeps' figures as a reader sees them (issue 17, items 15-17): each plot
function is drawn on small synthetic results and its matplotlib figure inspected."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest

from analogeq.report import demo_plots, plots, plots_heatmap
from analogeq.report.labels import format_time, label, short_name, value_text


@pytest.fixture
def captured(monkeypatch):
    """The figures the plot functions would save (drawn, so that layouts and extents are final)."""
    figs = []

    def keep(fig, path):
        fig.canvas.draw()
        figs.append(fig)
        return path

    monkeypatch.setattr(demo_plots, "save", keep)
    monkeypatch.setattr(plots_heatmap, "save", keep)
    monkeypatch.setattr(plots, "_save", keep)
    return figs


def _overlaps(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


def _result(n, draws, linf, l2, clean=0.9):
    ci = 0.05 if draws > 1 else None
    return {"n_examples": n, "stochastic": {"draws": draws}, "suite": {"unbounded_linf_eps": 1.0},
            "clean": {"accuracy": clean, "ci95": ci},
            "attacks": {"pgd_linf": {repr(e): {"accuracy": a, "ci95": ci} for e, a in linf.items()},
                        "pgd_l2": {repr(e): {"accuracy": a, "ci95": ci} for e, a in l2.items()}}}


def test_accuracy_vs_eps_tells_substrates_apart(captured, tmp_path):
    same_linf, same_l2 = {0.1: 0.5, 0.2: 0.1, 0.3: 0.0, 1.0: 0.0}, {0.25: 0.7, 0.5: 0.5, 1.0: 0.2, 2.0: 0.0}
    results = {"float": _result(40, 1, {0.05: 0.8, **same_linf}, same_l2),
               "crossbar pcm 1 h": _result(8, 3, same_linf, same_l2),
               "spiking ideal": _result(8, 1, same_linf, same_l2)}  # identical to the crossbar's means
    demo_plots.plot_accuracy_vs_eps(results, str(tmp_path / "eps.png"))
    (fig,) = captured
    linf_ax, l2_ax = fig.axes
    lines = [c.lines[0] for c in linf_ax.containers]  # the data line of each substrate's errorbar
    styles = {(line.get_marker(), str(line.get_linestyle()), mcolors.to_hex(line.get_markerfacecolor())) for line in lines}
    assert len(lines) == 3 and len({line.get_marker() for line in lines}) == 3 and len(styles) == 3
    assert len({str(line.get_linestyle()) for line in lines}) == 3
    # equal values stay visible: the crossbar and spiking points are not drawn at the same x
    assert np.all(np.abs(np.asarray(lines[1].get_xdata()) - np.asarray(lines[2].get_xdata())) > 0)
    # the L_inf axis ends at the largest eps drawn (0.3), not at the unbounded sanity eps 1.0
    assert 0.3 <= linf_ax.get_xlim()[1] <= 0.33 and max(lines[0].get_xdata()) < 0.35
    # at least 4 radii on the L2 panel for every substrate (plus eps 0)
    assert all(len(c.lines[0].get_xdata()) >= 5 for c in l2_ax.containers)
    # error bars of non-zero length only on the substrate with draws
    bar_lengths = [max(abs(seg[1][1] - seg[0][1]) for seg in c.lines[2][0].get_segments()) for c in linf_ax.containers]
    assert bar_lengths == [0.0, pytest.approx(0.1), 0.0]
    # the legend is outside every panel and names the image counts and the draws
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert not any(_overlaps(box, ax.get_window_extent()) for ax in fig.axes)
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0].startswith("float (40 images") and "8 images; 3 draws" in texts[1]


def _drift_points(draws=2):
    out = []
    for comp, slope in (("global", 0.005), ("none", 0.03)):
        for t in (1.0, 60.0, 3600.0, 86400.0, 2.592e6, 3.1536e7):
            a = 0.93 - slope * np.log10(t)
            out.append({"t_s": t, "compensation": comp, "accuracy": a, "ci95": 0.01, "accuracies": [a] * draws})
    return out


def test_drift_plot_log_axis_in_human_units_and_legend_off_the_data(captured, tmp_path):
    demo_plots.plot_accuracy_vs_drift(_drift_points(draws=2), str(tmp_path / "d.png"), n_images=360)
    (fig,) = captured
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert {"1 s", "1 h", "1 d", "1 y"} <= set(ticks)
    title = ax.get_title()
    assert "2 programming draws" in title and "360 test images" in title
    (legend,) = fig.legends
    assert not _overlaps(legend.get_window_extent(), ax.get_window_extent())  # cannot cover the 1 h marker
    labels = [t.get_text() for t in legend.get_texts()]
    assert any(text.startswith("1 h") for text in labels)  # the vertical line at 1 h is named
    (vline,) = [line for line in ax.get_lines() if list(line.get_xdata()) == [3600.0, 3600.0]]
    assert vline.get_label().startswith("1 h")


def test_label_registry_names_units_and_human_times():
    assert label("device.read_noise_scale") == "read-noise scale (x card)"
    assert label("adc.bits") == "ADC resolution (bits)"
    assert label("drift_time_s") == "time since programming"
    assert label("some.plugin_axis") == "some.plugin_axis"  # no entry: shown as it is
    assert [format_time(t) for t in (1, 20, 3600, 86400, 2.592e6, 3.1536e7)] == ["1 s", "20 s", "1 h", "1 d", "30 d", "1 y"]
    assert value_text("adc.bits", 4) == "4-bit ADC" and value_text("drift_time_s", 3600.0) == "t = 1 h"
    assert value_text("adc.bits", None) == "ideal ADC" and value_text("levels.n_levels", None) == "continuous levels"
    assert short_name("device.read_noise_scale") == "read_noise" and short_name("a.b.Weird name!") == "Weird_name"


def _sweep_rows():
    rows = []
    rng = np.random.default_rng(0)
    for sub in ("float", "crossbar"):
        for bits in (4, 6, 8):
            for noise in (0.0, 1.0, 3.0):
                for seed in range(3):
                    v = 0.93 if sub == "float" else 0.9 - 0.02 * noise / bits + 0.01 * rng.standard_normal()
                    rows.append({"substrate": sub, "seed": seed, "status": "ok", "metrics": {"accuracy": v},
                                 "axes": {"adc.bits": bits, "device.read_noise_scale": noise}})
    return rows


def test_sweep_line_plot_labels_from_registry_and_no_flat_panel(captured, tmp_path):
    plots.plot_metric_vs_axis(_sweep_rows(), "adc.bits", "accuracy", str(tmp_path / "l.png"))
    (fig,) = captured
    (ax,) = fig.axes  # float is the same at every point: no panel of its own
    assert ax.get_title() == "crossbar"
    assert ax.get_xlabel() == "ADC resolution (bits)" and ax.get_ylabel() == "test accuracy"
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert "read noise 1x" in texts and "float: 0.93 at every point" in texts
    assert any(line.get_linestyle() == "--" and set(line.get_ydata()) == {0.93} for line in ax.get_lines())


def test_drift_axis_of_a_sweep_is_log_with_human_ticks(captured, tmp_path):
    rows = [{"substrate": None, "seed": s, "status": "ok", "axes": {"drift_time_s": t},
             "metrics": {"relative_error": 0.05 + 0.01 * np.log10(t) + 0.001 * s}}
            for t in (20.0, 3600.0, 86400.0, 3.1536e7) for s in range(2)]
    plots.plot_metric_vs_axis(rows, "drift_time_s", "relative_error", str(tmp_path / "d.png"))
    (fig,) = captured
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "time since programming"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 min", "1 h", "1 d", "30 d", "1 y"]


def test_heatmap_colour_scales_are_stated(captured, tmp_path):
    rows = _sweep_rows()
    plots.plot_heatmap(rows, "adc.bits", "device.read_noise_scale", "accuracy", str(tmp_path / "a.png"))
    err_rows = [{**r, "substrate": None, "metrics": {"relative_error": 0.05 + 0.001 * r["axes"]["adc.bits"]}}
                for r in rows if r["substrate"] == "crossbar"]
    plots.plot_heatmap(err_rows, "adc.bits", "device.read_noise_scale", "relative_error", str(tmp_path / "e.png"))
    acc_fig, err_fig = captured
    acc_ax, acc_bar = acc_fig.axes  # one panel (float is flat: named in the title) and the colour bar
    assert acc_ax.images[0].get_clim() == (0.0, 1.0)  # accuracies on their full range
    assert "fixed full scale 0 to 1" in acc_bar.get_ylabel() and "float: 0.93 at every point" in acc_fig._suptitle.get_text()
    assert acc_ax.get_xlabel() == "ADC resolution (bits)" and acc_ax.get_ylabel() == "read-noise scale (x card)"
    assert len(acc_ax.texts) == 9  # every cell annotated
    err_ax, err_bar = err_fig.axes
    assert err_ax.images[0].get_clim() == pytest.approx((0.054, 0.058))
    assert "spans the data only: 0.054 to 0.058" in err_bar.get_ylabel()


def test_robustness_bars_show_zeros_missing_values_and_image_counts(captured, tmp_path):
    rows = [{"substrate": "float", "images": 40, "clean": 0.97, "pgd": 0.7},
            {"substrate": "spiking ideal", "images": 8, "clean": 1.0, "pgd": 0.0},
            {"substrate": "resistive", "clean": 0.9, "pgd": None}]
    demo_plots.plot_robustness_bars(rows, str(tmp_path / "b.png"), columns=[("clean", "clean"), ("pgd", "PGD")])
    (fig,) = captured
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["0.97", "1", "0.9", "0.7", "0", "n/a"]  # a 0 bar is not invisible
    assert [t.get_text() for t in ax.get_xticklabels()] == ["float\n(40 images)", "spiking ideal\n(8 images)", "resistive"]
    (legend,) = fig.legends
    assert not _overlaps(legend.get_window_extent(), ax.get_window_extent())
