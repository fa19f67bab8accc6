"""Plots of the demo report (matplotlib, Agg canvas; each function writes one PNG, returns its path).

* :func:`plot_training_curve`: train and validation accuracy and the training cost per epoch.
* :func:`plot_accuracy_vs_eps`: accuracy under PGD against the attack radius, one line per
  substrate (its own marker and line style), one panel per norm (L_inf, L2), with the 95%
  interval where the substrate is stochastic (mean over evaluation draws), the image counts in
  the legend below the panels.
* :func:`plot_accuracy_vs_drift`: accuracy against the time since programming (log axis in
  human units), one line per drift-compensation mode, with the 95% interval over programming
  draws; the draws and images in the title.
* :func:`plot_robustness_bars`: clean, attacked and corrupted accuracy side by side per substrate.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from analogeq.report.plots_common import figure, save, set_axis, wrap

__all__ = ["plot_accuracy_vs_drift", "plot_accuracy_vs_eps", "plot_robustness_bars", "plot_training_curve"]


def plot_training_curve(history: Mapping[str, Any], path: str, *, title: str = "EqProp training on digits") -> str:
    """``history`` as returned by :func:`analogeq.train.train` (``epochs``: dicts with ``epoch``,
    ``train_accuracy``, ``val_accuracy``, ``train_cost``)."""
    epochs = history.get("epochs") or []
    if not epochs:
        raise ValueError("history has no epochs to plot")
    e = [r["epoch"] for r in epochs]
    fig = figure(2)
    ax, bx = fig.subplots(1, 2)
    ax.plot(e, [r["train_accuracy"] for r in epochs], marker="o", ms=3, label="train (free phase)")
    ax.plot(e, [r["val_accuracy"] for r in epochs], marker="s", ms=3, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    low = min(min(r["val_accuracy"], r["train_accuracy"]) for r in epochs)
    ax.set_ylim(max(0.0, low - 0.02), 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    bx.plot(e, [r["train_cost"] for r in epochs], marker="o", ms=3, color="C2")
    bx.set_xlabel("epoch")
    bx.set_ylabel("training cost (mean per sample)")
    bx.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    bx.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    bx.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    bx.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    return save(fig, path)


#: (marker, line style, filled marker) per substrate of the attack plot, in order
EPS_STYLES = (("o", "-", True), ("s", "--", False), ("^", ":", True), ("D", "-.", False), ("v", (0, (5, 1)), True))


def _eps_curve(result: Mapping[str, Any], attack: str) -> tuple[list[float], list[float], list[float]]:
    """(eps, accuracy, ci95) of one attack key of an evaluate_robustness result, clean at eps 0;
    the unbounded sanity-gate eps (``suite.unbounded_linf_eps``, the whole image box) is left out."""
    clean = result["clean"]
    unbounded = float((result.get("suite") or {}).get("unbounded_linf_eps") or float("inf"))
    xs, ys, cs = [0.0], [clean["accuracy"]], [clean.get("ci95") or 0.0]
    for eps, entry in sorted(result["attacks"].get(attack, {}).items(), key=lambda kv: float(kv[0])):
        if attack.endswith("linf") and float(eps) >= unbounded:
            continue
        xs.append(float(eps))
        ys.append(entry["accuracy"])
        cs.append(entry.get("ci95") or 0.0)
    return xs, ys, cs


def _substrate_legend(name: str, result: Mapping[str, Any]) -> str:
    draws = (result.get("stochastic") or {}).get("draws") or 1
    spread = f"{draws} draws, bars 95% CI" if draws > 1 else "deterministic"
    return f"{name} ({result['n_examples']} images; {spread})"


def plot_accuracy_vs_eps(results: Mapping[str, Mapping[str, Any]], path: str,
                         *, attacks: Sequence[tuple[str, str]] = (("pgd_linf", "PGD $L_\\infty$"), ("pgd_l2", "PGD $L_2$"))
                         ) -> str:
    """``results``: substrate name -> :func:`analogeq.robustness.evaluate.evaluate_robustness`
    result. One panel per attack key, accuracy (eps = 0 is the clean accuracy) against eps.

    Each substrate has its own marker, fill and line style (:data:`EPS_STYLES`) and is shifted
    sideways by 1% of the axis per substrate so that equal values stay visible; error bars are
    the 95% interval over evaluation draws (stochastic substrates); the legend (below the panels)
    gives each substrate's image count and draws. Each eps axis ends at the largest eps drawn."""
    if not results:
        raise ValueError("no robustness results to plot")
    fig = figure(len(attacks), height=4.3)
    axes = np.atleast_1d(fig.subplots(1, len(attacks), sharey=True))
    n = len(results)
    for ax, (attack, label) in zip(axes, attacks):
        curves = {name: _eps_curve(result, attack) for name, result in results.items()}
        xmax = max(max(xs) for xs, _, _ in curves.values()) or 1.0
        for i, (name, (xs, ys, cs)) in enumerate(curves.items()):
            marker, style, filled = EPS_STYLES[i % len(EPS_STYLES)]
            shift = (i - (n - 1) / 2) * 0.01 * xmax
            ax.errorbar(np.asarray(xs) + shift, ys, yerr=cs, marker=marker, ms=6, capsize=3, color=f"C{i}",
                        mfc=f"C{i}" if filled else "white", mew=1.3, linestyle=style, lw=1.4,
                        label=_substrate_legend(name, results[name]))
        ax.set_xlim(-0.05 * xmax, 1.05 * xmax)
        ax.set_xlabel("attack radius eps (pixels in [0, 1])")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (eps 0: clean)")
    axes[0].set_ylim(-0.03, 1.03)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=1 if n > 2 else n, fontsize="small")
    fig.suptitle("Accuracy under attack, one harness on every substrate\n"
                 "(points shifted sideways by 1% of the axis per substrate so that equal values stay visible)",
                 fontsize="medium")
    return save(fig, path)


def plot_accuracy_vs_drift(points: Sequence[Mapping[str, Any]], path: str, *, n_images: int | None = None,
                           mark_s: float | None = 3600.0, mark_label: str = "1 h: the demo's PCM row",
                           title: str = "PCM crossbar: accuracy vs time since programming") -> str:
    """``points``: dicts with ``t_s``, ``compensation``, ``accuracy``, ``ci95`` and ``accuracies``
    (one per programming draw; see :func:`analogeq.demo.crossbar.pcm_accuracy_vs_drift`).

    Time on a log axis ticked 1 s, 1 min, 1 h, 1 d, 30 d, 1 y; ``mark_s`` is drawn as a labelled
    vertical line; the legend sits below the axes; the title gives the draws and ``n_images``.
    The compensation modes are shifted by a factor 10^(+-0.05) in time so that their bars stay apart; each
    programming draw is also drawn as a faint open marker."""
    if not points:
        raise ValueError("no drift points to plot")
    fig = figure(1, height=4.3, width=6.4)
    ax = fig.subplots()
    labels = {"global": "global drift compensation", "none": "no compensation"}
    styles = (("o", "-"), ("s", "--"), ("^", ":"))
    modes = list(dict.fromkeys(p["compensation"] for p in points))
    for i, mode in enumerate(modes):
        pts = sorted((p for p in points if p["compensation"] == mode), key=lambda p: p["t_s"])
        marker, style = styles[i % len(styles)]
        shift = 10.0 ** ((i - (len(modes) - 1) / 2) * 0.1)  # series side by side on the log axis
        ts = [p["t_s"] * shift for p in pts]
        ax.errorbar(ts, [p["accuracy"] for p in pts], yerr=[p.get("ci95") or 0.0 for p in pts],
                    marker=marker, linestyle=style, ms=5, capsize=3, color=f"C{i}", label=labels.get(mode, mode))
        singles = [(t, a) for t, p in zip(ts, pts) for a in (p.get("accuracies") or [])]
        if singles:
            ax.plot(*zip(*singles), linestyle="none", marker=marker, ms=3, alpha=0.4, color=f"C{i}", mfc="none")
    if any(p.get("accuracies") for p in points):
        ax.plot([], [], linestyle="none", marker="o", ms=3, alpha=0.6, color="0.3", mfc="none", label="single draws")
    times = sorted({p["t_s"] for p in points})
    set_axis(ax, "drift_time_s", times)
    ax.set_xlim(times[0] / 2, times[-1] * 2)
    ax.set_ylabel("test accuracy")
    low = min(min(p["accuracy"] - (p.get("ci95") or 0.0), *(p.get("accuracies") or [1.0])) for p in points)
    bottom = max(0.0, min(low - 0.02, 0.9))
    ax.set_ylim(bottom, 1.0)
    if mark_s is not None:
        ax.axvline(mark_s, color="0.5", lw=1.0, ls=":", zorder=0, label=mark_label)
    ax.grid(alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small")
    draws = sorted({len(p.get("accuracies") or []) for p in points} - {0})
    what = [f"mean over {'/'.join(map(str, draws))} programming draws" if draws else "one programming draw"]
    if n_images:
        what.append(f"{n_images} test images")
    what.append("bars: 95% CI, faint: single draws")
    ax.set_title(wrap(f"{title}\n({', '.join(what)})", fig), fontsize="medium")
    return save(fig, path)


def plot_robustness_bars(rows: Sequence[Mapping[str, Any]], path: str,
                         *, columns: Sequence[tuple[str, str]]) -> str:
    """Grouped bars: one group per row (substrate), one bar per ``(key, label)`` of ``columns``;
    each bar carries its value (a 0 shows as "0", a missing figure as "n/a"), each group the
    row's ``images`` count, and the legend sits below the axes."""
    if not rows:
        raise ValueError("no rows to plot")
    fig = figure(1, height=4.4, width=max(6.4, 2.4 * len(rows)))
    ax = fig.subplots()
    width = 0.8 / len(columns)
    x = np.arange(len(rows))
    for j, (key, label) in enumerate(columns):
        values = [r.get(key) for r in rows]
        pos = x + (j - (len(columns) - 1) / 2) * width
        ax.bar(pos, [np.nan if v is None else v for v in values], width, label=label, color=f"C{j}")
        for xp, v in zip(pos, values):
            ax.text(xp, (v or 0.0) + 0.01, "n/a" if v is None else f"{v:.2f}".rstrip("0").rstrip("."),
                    ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(x, [str(r.get("substrate")) + (f"\n({r['images']} images)" if r.get("images") else "")
                      for r in rows])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.12)  # room for the values above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(alpha=0.3, axis="y")
    fig.legend(*ax.get_legend_handles_labels(), fontsize="small", ncols=min(len(columns), 3), loc="outside lower center")
    ax.set_title("Robustness per substrate (headline eps: $L_\\infty$ 0.1, $L_2$ 1.0)")
    return save(fig, path)
