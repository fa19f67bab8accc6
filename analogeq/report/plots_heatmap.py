"""Heat map of a sweep: the seed mean of a metric over two axes, one panel per substrate.

The colour scale is shown honestly: a metric with a known full range in the label registry
(:mod:`analogeq.report.labels`; accuracies: 0 to 1) is drawn on that fixed range, so that a
one-point difference looks like one; any other metric spans the range of its data, and the
colour bar says so with the two end values. Every cell is annotated with its value. A substrate
whose metric is the same at every point gets no panel; the title gives its value.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from analogeq.report.grouping import aggregate, axis_values, substrate_label
from analogeq.report.labels import LABELS, format_value, label
from analogeq.report.plots_common import figure, flat_substrates, save, set_axis, substrates, wrap

__all__ = ["colour_range", "plot_heatmap"]


def colour_range(metric: str, values: np.ndarray) -> tuple[float, float, str]:
    """(vmin, vmax, what the colour bar says about them): the registry's bounds of ``metric``
    when it has some, else the range of the finite ``values``."""
    entry = LABELS.get(metric)
    if entry is not None and entry.bounds is not None:
        lo, hi = entry.bounds
        return float(lo), float(hi), f"colour: fixed full scale {lo:g} to {hi:g}"
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0, "no finite values"
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return lo - 0.5, hi + 0.5, f"colour: every cell {lo:.3g}"
    return lo, hi, f"colour spans the data only: {lo:.3g} to {hi:.3g}"


def plot_heatmap(
    rows: Sequence[dict[str, Any]], x_axis: str, y_axis: str, metric: str, path: str, *, title: str | None = None,
) -> str:
    """Seed mean of ``metric`` over ``x_axis`` x ``y_axis``, one panel per substrate (shared colour
    scale, see the module docstring); other axes are held at their first value (named in the title)."""
    axes_names = sorted({a for row in rows for a in row["axes"]})
    for a in (x_axis, y_axis):
        if a not in axes_names:
            raise ValueError(f"axis {a!r} is not an axis of these rows; allowed: {axes_names}")
    if x_axis == y_axis:
        raise ValueError(f"a heat map needs two different axes, got {x_axis!r} twice")
    fixed = {a: axis_values(rows, a)[0] for a in axes_names if a not in (x_axis, y_axis)}
    rows = [r for r in rows if all(r["axes"].get(a) == v for a, v in fixed.items())]
    xs, ys = axis_values(rows, x_axis), axis_values(rows, y_axis)
    flat = flat_substrates(rows, metric)
    panel_subs = [s for s in substrates(rows) if s not in flat]
    grids, n_seeds = [], 0
    for substrate in panel_subs:
        grid = np.full((len(ys), len(xs)), np.nan)
        for s in aggregate([r for r in rows if r["substrate"] == substrate], metric, by=[x_axis, y_axis]):
            grid[ys.index(s[y_axis]), xs.index(s[x_axis])] = s["mean"]
            n_seeds = max(n_seeds, s["n"])
        grids.append(grid)
    vmin, vmax, scale_text = colour_range(metric, np.concatenate([g.ravel() for g in grids]) if grids else np.array([]))
    fig = figure(len(panel_subs), height=3.9)
    panels = fig.subplots(1, len(panel_subs), squeeze=False)[0]
    image = None
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for ax, substrate, grid in zip(panels, panel_subs, grids):
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
        set_axis(ax, x_axis, xs, categorical=True)
        set_axis(ax, y_axis, ys, which="y", categorical=True)
        ax.set_title(substrate_label(substrate))
        for (i, j), v in np.ndenumerate(grid):
            if math.isfinite(v):
                r, g, b, _ = cmap((v - vmin) / (vmax - vmin))
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize="small",
                        color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")
    if image is not None:
        fig.colorbar(image, ax=list(panels), label=f"{label(metric)}\n({scale_text})", shrink=0.9)
    sup = title or f"{label(metric)}: {label(y_axis)} x {label(x_axis)}"
    sup += f" (cells: mean over {n_seeds} seeds)" if n_seeds > 1 else " (one seed)"
    notes = [f"{label(a)} = {format_value(a, v)}" for a, v in fixed.items()]
    notes += [f"{substrate_label(s)}: {v:.3g} at every point (no panel)" for s, v in flat.items()]
    if notes:
        sup += "\n" + "; ".join(notes)
    fig.suptitle(wrap(sup, fig), fontsize="medium")
    return save(fig, path)
