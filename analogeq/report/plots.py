"""Plots of sweep results (matplotlib, Agg canvas: no display, no global backend change).

* :func:`plot_metric_vs_axis`: a metric against one axis, mean over seeds with its 95% band
  (Student t, :func:`analogeq.stats.mean_ci95`), one panel per substrate side by side
  on a shared y scale, one line per combination of the other axes.
* :func:`~analogeq.report.plots_heatmap.plot_heatmap`: the seed mean of a metric over two axes
  (re-exported here).

Axes and metrics are named with their units from :mod:`analogeq.report.labels` (times since
programming on a log axis ticked 1 s, 1 min, 1 h, 1 d, 30 d, 1 y). A substrate whose metric is the
same at every point (floating point in a sweep of crossbar parameters) gets no panel: it is drawn
as a grey reference line in the other panels and named in the legend. Lines differ in colour,
marker, fill and line style, so that lines that coincide stay visible.

Both take the rows of :meth:`analogeq.sweeps.store.ResultStore.point_rows` (already filtered to
one sweep and one evaluation) and write a PNG; they return the path.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from analogeq.report.grouping import aggregate, axis_values, substrate_label
from analogeq.report.labels import format_value, label, value_text
from analogeq.report.plots_common import figure as _figure
from analogeq.report.plots_common import flat_substrates, numeric_axis, set_axis, substrates as _substrates, wrap as _wrap
from analogeq.report.plots_common import save as _save
from analogeq.report.plots_heatmap import plot_heatmap

#: more combinations of the other axes than this: the extra axes are held at their first value
MAX_LINES = 8


def _line_groups(rows, axis: str, axes: Sequence[str]) -> tuple[list[dict[str, Any]], str]:
    """Combinations of the other axes to draw as lines, and a note on what is held fixed."""
    others = [a for a in axes if a != axis]
    if not others:
        return [{}], ""
    values = {a: axis_values(rows, a) for a in others}
    combos = [dict(zip(others, vs)) for vs in itertools.product(*(values[a] for a in others))]
    if len(combos) <= MAX_LINES:
        return combos, ""
    # too many: vary the first other axis, hold the rest at their first value
    lead, rest = others[0], others[1:]
    fixed = {a: values[a][0] for a in rest}
    note = "; ".join(f"{label(a)} = {format_value(a, v)}" for a, v in fixed.items())
    return [{lead: v, **fixed} for v in values[lead][:MAX_LINES]], note


def plot_metric_vs_axis(
    rows: Sequence[dict[str, Any]], axis: str, metric: str, path: str, *, title: str | None = None,
) -> str:
    """``metric`` against ``axis``: mean over seeds with the 95% band, substrates side by side."""
    axes_names = sorted({a for row in rows for a in row["axes"]})
    if axis not in axes_names:
        raise ValueError(f"axis {axis!r} is not an axis of these rows; allowed: {axes_names}")
    flat = flat_substrates(rows, metric)
    panel_subs = [s for s in _substrates(rows) if s not in flat]
    groups, note = _line_groups(rows, axis, axes_names)
    # a legend entry names the axes that vary between lines (those held fixed are in the title)
    varying = [a for a in (groups[0] if groups else {}) if len({repr(g[a]) for g in groups}) > 1]
    names = [", ".join(value_text(a, combo[a]) for a in varying) for combo in groups if combo]
    names += [f"{substrate_label(sub)}: {value:.3g} at every point" for sub, value in flat.items()]
    n_legend = len(names)
    width = max(5.6, 3.9 * len(panel_subs))
    # an entry is about 0.07 inch per character in "small" type plus 0.7 inch for its handle
    ncols = max(1, min(n_legend, int(width / (0.07 * max(map(len, names), default=1) + 0.7))))
    legend_rows = -(-n_legend // ncols) if n_legend else 0
    fig = _figure(len(panel_subs), height=3.6 + 0.22 * legend_rows)
    panels = fig.subplots(1, len(panel_subs), sharey=True, squeeze=False)[0]
    xs_all = axis_values(rows, axis)
    categorical = not numeric_axis(xs_all)
    markers = "osD^v<>p"
    for ax, substrate in zip(panels, panel_subs):
        sub_rows = [r for r in rows if r["substrate"] == substrate]
        for k, combo in enumerate(groups):
            sel = [r for r in sub_rows if all(r["axes"].get(a) == v for a, v in combo.items())]
            stats = {repr(s[axis]): s for s in aggregate(sel, metric, by=[axis])}
            xs = [x for x in xs_all if repr(x) in stats]
            if not xs:
                continue
            mean = np.array([stats[repr(x)]["mean"] for x in xs])
            half = np.array([stats[repr(x)]["ci95"] for x in xs])
            xpos = [xs_all.index(x) for x in xs] if categorical else xs
            name = ", ".join(value_text(a, combo[a]) for a in varying) or None
            (line,) = ax.plot(xpos, mean, marker=markers[k % len(markers)], ms=5 if k % 2 else 4, color=f"C{k % 10}",
                              mfc="white" if k % 2 else f"C{k % 10}", ls=("-", "--", "-.", ":")[k % 4], label=name)
            ok = np.isfinite(half)
            if ok.any():
                ax.fill_between(np.asarray(xpos, dtype=float)[ok], (mean - half)[ok], (mean + half)[ok],
                                color=line.get_color(), alpha=0.2, linewidth=0)
        for j, (sub, value) in enumerate(flat.items()):
            ax.axhline(value, color="0.35", ls=("--", ":", "-.")[j % 3], lw=1.2,
                       label=f"{substrate_label(sub)}: {value:.3g} at every point")
        ax.set_title(substrate_label(substrate))
        set_axis(ax, axis, xs_all, categorical=categorical)
        ax.grid(True, alpha=0.3)
    panels[0].set_ylabel(label(metric))
    if n_legend:
        handles, labels = panels[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize="small")
    n_seeds = max((s["n"] for s in aggregate(rows, metric, by=["substrate", *axes_names])), default=0)
    sup = title or f"{label(metric)} vs {label(axis)}"
    sup += f"  (mean, 95% CI over {n_seeds} seeds)" if n_seeds > 1 else "  (one seed: no band)"
    if note:
        sup += f"\n{note}"
    fig.suptitle(_wrap(sup, fig), fontsize="medium")
    return _save(fig, path)

__all__ = ["MAX_LINES", "plot_heatmap", "plot_metric_vs_axis"]
