"""Pieces shared by the sweep plots (:mod:`analogeq.report.plots`, :mod:`analogeq.report.plots_heatmap`)
and the demo plots: the figure, the atomic PNG write, axes named from the label registry
(:mod:`analogeq.report.labels`), and the detection of substrates whose metric does not change.
"""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

from analogeq.report.grouping import metric_value
from analogeq.report.labels import TIME_TICKS, format_value, is_time, label
from hardware_models.files import atomic_output

__all__ = ["figure", "flat_substrates", "numeric_axis", "save", "set_axis", "substrates", "wrap"]


def figure(n_panels: int, height: float = 3.6, *, width: float | None = None):
    """A constrained-layout Agg figure, 3.9 inches per panel (at least 5.6), 120 dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width or max(5.6, 3.9 * n_panels), height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: str) -> str:
    """Write the PNG atomically (:func:`hardware_models.files.atomic_output`); returns ``path``."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def wrap(text: str, fig) -> str:
    """Wrap a figure title to the figure's width (about 11 characters per inch)."""
    width = max(30, int(fig.get_figwidth() * 11))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def substrates(rows: Sequence[dict[str, Any]]) -> list[str | None]:
    """The substrates of ``rows`` in first-seen order."""
    seen: list[str | None] = []
    for row in rows:
        if row["substrate"] not in seen:
            seen.append(row["substrate"])
    return seen


def flat_substrates(rows: Sequence[dict[str, Any]], metric: str) -> dict[str | None, float]:
    """Substrates whose ``metric`` has one value at every point and seed (e.g. floating point in a
    sweep of the crossbar's read noise): ``{substrate: value}``. Empty when fewer than two
    substrates, or when every substrate is flat (then each keeps its panel)."""
    subs = substrates(rows)
    if len(subs) < 2:
        return {}
    flat: dict[str | None, float] = {}
    for sub in subs:
        values = [v for r in rows if r["substrate"] == sub and (v := metric_value(r, metric)) is not None]
        if values and max(values) - min(values) <= 1e-12 * max(1.0, abs(values[0])):
            flat[sub] = values[0]
    return flat if len(flat) < len(subs) else {}


def numeric_axis(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _log_axis(name: str, values: Sequence[Any]) -> bool:
    if not numeric_axis(values) or not values or min(values) <= 0:
        return False
    if is_time(name):
        return len(values) > 1
    return len(values) > 2 and max(values) / min(values) >= 100


def set_axis(ax, name: str, values: Sequence[Any], *, which: str = "x", categorical: bool = False) -> None:
    """Label the ``which`` axis of ``ax`` from the registry and choose its scale and ticks: categories
    at 0, 1, ...; seconds on a log axis ticked at 1 s, 1 min, 1 h, 1 d, 30 d, 1 y; other wide positive
    ranges on a log axis; up to 12 integers ticked at each value."""
    from matplotlib.ticker import NullFormatter

    set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
    set_ticks = ax.set_xticks if which == "x" else ax.set_yticks
    set_label(label(name))
    if categorical:
        set_ticks(range(len(values)), [format_value(name, v) for v in values])
        return
    if _log_axis(name, values):
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
        if is_time(name):
            lo, hi = min(values) / 1.5, max(values) * 1.5
            ticks = [(t, s) for t, s in TIME_TICKS if lo <= t <= hi]
            if len(ticks) < 2:
                ticks = [(v, format_value(name, v)) for v in values]
            set_ticks([t for t, _ in ticks], [s for _, s in ticks])
            (ax.xaxis if which == "x" else ax.yaxis).set_minor_formatter(NullFormatter())
        return
    if is_time(name) and numeric_axis(values):
        set_ticks(list(values), [format_value(name, v) for v in values])
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in values) and len(values) <= 12:
        set_ticks(list(values), [str(v) for v in values])
