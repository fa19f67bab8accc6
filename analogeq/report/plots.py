"""Plots of sweep results (matplotlib, Agg canvas: no display, no global backend change).

* :func:`plot_metric_vs_axis`: a metric against one axis, mean over seeds with its 95% band
  (Student t, :func:`analogeq.stats.mean_ci95`), one panel per substrate side by side
  on a shared y scale, one line per combination of the other axes.
* :func:`plot_heatmap`: the seed mean of a metric over two axes, one panel per substrate with a
  shared colour scale, every cell annotated.

Both take the rows of :meth:`analogeq.sweeps.store.ResultStore.point_rows` (already filtered to
one sweep and one evaluation) and write a PNG; they return the path.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import numpy as np

from analogeq.report.grouping import aggregate, axis_values, substrate_label
from hardware_models.files import atomic_output

#: more combinations of the other axes than this: the extra axes are held at their first value
MAX_LINES = 8


def _figure(n_panels: int, height: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5.6, 3.9 * n_panels), height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str) -> str:
    """Write the PNG atomically (:func:`hardware_models.files.atomic_output`); returns ``path``."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _substrates(rows: Sequence[dict[str, Any]]) -> list[str | None]:
    seen: list[str | None] = []
    for row in rows:
        if row["substrate"] not in seen:
            seen.append(row["substrate"])
    return seen


def _is_log_axis(values: Sequence[Any]) -> bool:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return len(nums) == len(values) and len(nums) > 2 and min(nums) > 0 and max(nums) / min(nums) >= 100


def _wrap(text: str, fig) -> str:
    """Wrap a figure title to the figure's width (about 11 characters per inch)."""
    import textwrap

    width = max(30, int(fig.get_figwidth() * 11))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _short_names(paths: Sequence[str]) -> dict[str, str]:
    """Last segment of each dotted path, or the whole path where two last segments clash."""
    last = [p.rsplit(".", 1)[-1] for p in paths]
    return {p: (s if last.count(s) == 1 else p) for p, s in zip(paths, last)}


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


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
    note = "; ".join(f"{a} = {_fmt(v)}" for a, v in fixed.items())
    return [{lead: v, **fixed} for v in values[lead][:MAX_LINES]], note


def plot_metric_vs_axis(
    rows: Sequence[dict[str, Any]], axis: str, metric: str, path: str, *, title: str | None = None,
) -> str:
    """``metric`` against ``axis``: mean over seeds with the 95% band, substrates side by side."""
    axes_names = sorted({a for row in rows for a in row["axes"]})
    if axis not in axes_names:
        raise ValueError(f"axis {axis!r} is not an axis of these rows; allowed: {axes_names}")
    substrates = _substrates(rows)
    groups, note = _line_groups(rows, axis, axes_names)
    short = _short_names(axes_names)
    label_len = sum(len(short[a]) + 6 for a in axes_names if a != axis)
    ncols = 2 if len(groups) > 3 and label_len * 2 < 11 * max(5.6, 3.9 * len(substrates)) else 1
    legend_rows = 0 if groups == [{}] else -(-len(groups) // ncols)
    fig = _figure(len(substrates), height=3.6 + 0.22 * legend_rows)
    panels = fig.subplots(1, len(substrates), sharey=True, squeeze=False)[0]
    xs_all = axis_values(rows, axis)
    categorical = not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs_all)
    for ax, substrate in zip(panels, substrates):
        sub_rows = [r for r in rows if r["substrate"] == substrate]
        for combo in groups:
            sel = [r for r in sub_rows if all(r["axes"].get(a) == v for a, v in combo.items())]
            stats = {repr(s[axis]): s for s in aggregate(sel, metric, by=[axis])}
            xs = [x for x in xs_all if repr(x) in stats]
            if not xs:
                continue
            mean = np.array([stats[repr(x)]["mean"] for x in xs])
            half = np.array([stats[repr(x)]["ci95"] for x in xs])
            xpos = [xs_all.index(x) for x in xs] if categorical else xs
            label = ", ".join(f"{short[a]}={_fmt(v)}" for a, v in combo.items()) or None
            (line,) = ax.plot(xpos, mean, marker="o", ms=4, label=label)
            ok = np.isfinite(half)
            if ok.any():
                ax.fill_between(np.asarray(xpos, dtype=float)[ok], (mean - half)[ok], (mean + half)[ok],
                                color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(substrate_label(substrate))
        ax.set_xlabel(axis)
        if categorical:
            ax.set_xticks(range(len(xs_all)), [_fmt(v) for v in xs_all])
        elif _is_log_axis(xs_all):
            ax.set_xscale("log")
        elif all(isinstance(v, int) for v in xs_all) and len(xs_all) <= 12:
            ax.set_xticks(xs_all, [str(v) for v in xs_all])
        ax.grid(True, alpha=0.3)
    panels[0].set_ylabel(metric)
    if any(g for g in groups):
        handles, labels = panels[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize="small")
    n_seeds = max((s["n"] for s in aggregate(rows, metric, by=["substrate", *axes_names])), default=0)
    sup = title or f"{metric} vs {axis}"
    sup += f"  (mean, 95% CI over {n_seeds} seeds)" if n_seeds > 1 else "  (one seed: no band)"
    if note:
        sup += f"\n{note}"
    fig.suptitle(_wrap(sup, fig), fontsize="medium")
    return _save(fig, path)


def plot_heatmap(
    rows: Sequence[dict[str, Any]], x_axis: str, y_axis: str, metric: str, path: str, *, title: str | None = None,
) -> str:
    """Seed mean of ``metric`` over ``x_axis`` x ``y_axis``, one panel per substrate (shared colour
    scale); other axes are held at their first value (named in the title)."""
    axes_names = sorted({a for row in rows for a in row["axes"]})
    for a in (x_axis, y_axis):
        if a not in axes_names:
            raise ValueError(f"axis {a!r} is not an axis of these rows; allowed: {axes_names}")
    if x_axis == y_axis:
        raise ValueError(f"a heat map needs two different axes, got {x_axis!r} twice")
    fixed = {a: axis_values(rows, a)[0] for a in axes_names if a not in (x_axis, y_axis)}
    rows = [r for r in rows if all(r["axes"].get(a) == v for a, v in fixed.items())]
    xs, ys = axis_values(rows, x_axis), axis_values(rows, y_axis)
    substrates = _substrates(rows)
    grids = []
    for substrate in substrates:
        grid = np.full((len(ys), len(xs)), np.nan)
        for s in aggregate([r for r in rows if r["substrate"] == substrate], metric, by=[x_axis, y_axis]):
            grid[ys.index(s[y_axis]), xs.index(s[x_axis])] = s["mean"]
        grids.append(grid)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    fig = _figure(len(substrates), height=3.8)
    panels = fig.subplots(1, len(substrates), squeeze=False)[0]
    image = None
    for ax, substrate, grid in zip(panels, substrates, grids):
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
        ax.set_xlabel(x_axis)
        ax.set_ylabel(y_axis)
        ax.set_title(substrate_label(substrate))
        mid = (vmin + vmax) / 2
        for (i, j), v in np.ndenumerate(grid):
            if math.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize="x-small",
                        color="white" if v < mid else "black")
    if image is not None:
        fig.colorbar(image, ax=list(panels), label=metric, shrink=0.9)
    sup = title or f"{metric}: {y_axis} x {x_axis} (mean over seeds)"
    if fixed:
        sup += "\n" + "; ".join(f"{a} = {_fmt(v)}" for a, v in fixed.items())
    fig.suptitle(_wrap(sup, fig), fontsize="medium")
    return _save(fig, path)
