"""Plots of the demo report (matplotlib, Agg canvas; each function writes one PNG, returns its path).

* :func:`plot_training_curve`: train and validation accuracy and the training cost per epoch.
* :func:`plot_accuracy_vs_eps`: accuracy under PGD against the attack radius, one line per
  substrate, one panel per norm (L_inf, L2), with the 95% interval where the substrate is
  stochastic (mean over evaluation draws).
* :func:`plot_accuracy_vs_drift`: accuracy against the time since programming (log axis), one
  line per drift-compensation mode, with the 95% interval over programming draws.
* :func:`plot_robustness_bars`: clean, attacked and corrupted accuracy side by side per substrate.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from analogeq.report.plots import _figure, _save

__all__ = ["plot_accuracy_vs_drift", "plot_accuracy_vs_eps", "plot_robustness_bars", "plot_training_curve"]


def plot_training_curve(history: Mapping[str, Any], path: str, *, title: str = "EqProp training on digits") -> str:
    """``history`` as returned by :func:`analogeq.train.train` (``epochs``: dicts with ``epoch``,
    ``train_accuracy``, ``val_accuracy``, ``train_cost``)."""
    epochs = history.get("epochs") or []
    if not epochs:
        raise ValueError("history has no epochs to plot")
    e = [r["epoch"] for r in epochs]
    fig = _figure(2)
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
    bx.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    return _save(fig, path)


def _eps_curve(result: Mapping[str, Any], attack: str) -> tuple[list[float], list[float], list[float]]:
    """(eps, accuracy, ci95) of one attack key of an evaluate_robustness result, clean at eps 0."""
    clean = result["clean"]
    xs, ys, cs = [0.0], [clean["accuracy"]], [clean.get("ci95") or 0.0]
    for eps, entry in sorted(result["attacks"].get(attack, {}).items(), key=lambda kv: float(kv[0])):
        xs.append(float(eps))
        ys.append(entry["accuracy"])
        cs.append(entry.get("ci95") or 0.0)
    return xs, ys, cs


def plot_accuracy_vs_eps(results: Mapping[str, Mapping[str, Any]], path: str,
                         *, attacks: Sequence[tuple[str, str]] = (("pgd_linf", "PGD $L_\\infty$"), ("pgd_l2", "PGD $L_2$"))
                         ) -> str:
    """``results``: substrate name -> :func:`analogeq.robustness.evaluate.evaluate_robustness`
    result. One panel per attack key, accuracy (eps = 0 is the clean accuracy) against eps."""
    if not results:
        raise ValueError("no robustness results to plot")
    fig = _figure(len(attacks))
    axes = np.atleast_1d(fig.subplots(1, len(attacks), sharey=True))
    for ax, (attack, label) in zip(axes, attacks):
        for i, (name, result) in enumerate(results.items()):
            xs, ys, cs = _eps_curve(result, attack)
            ax.errorbar(xs, ys, yerr=cs, marker="osd^v"[i % 5], ms=7 - 1.5 * i, capsize=3, color=f"C{i}",
                        linestyle=("-", "--", ":", "-.")[i % 4], alpha=0.85,
                        label=f"{name} ({result['n_examples']} images)")
        ax.set_xlabel("eps (pixels in [0, 1])")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].set_ylim(-0.02, 1.02)
    axes[-1].legend(loc="upper right", fontsize=8)
    fig.suptitle("Accuracy under attack, one harness on every substrate")
    return _save(fig, path)


def plot_accuracy_vs_drift(points: Sequence[Mapping[str, Any]], path: str,
                           *, title: str = "PCM crossbar: accuracy vs time since programming") -> str:
    """``points``: dicts with ``t_s``, ``compensation``, ``accuracy`` and ``ci95`` (see
    :func:`analogeq.demo.crossbar.pcm_accuracy_vs_drift`)."""
    if not points:
        raise ValueError("no drift points to plot")
    fig = _figure(1)
    ax = fig.subplots()
    labels = {"global": "global drift compensation", "none": "no compensation"}
    for i, mode in enumerate(dict.fromkeys(p["compensation"] for p in points)):
        pts = sorted((p for p in points if p["compensation"] == mode), key=lambda p: p["t_s"])
        ax.errorbar([p["t_s"] for p in pts], [p["accuracy"] for p in pts], yerr=[p.get("ci95") or 0.0 for p in pts],
                    marker="o", ms=4, capsize=3, color=f"C{i}", label=labels.get(mode, mode))
    ax.set_xscale("log")
    ax.set_xlabel("time since programming [s]")
    ax.set_ylabel("test accuracy")
    low = min(p["accuracy"] - (p.get("ci95") or 0.0) for p in points)
    bottom = max(0.0, min(low - 0.02, 0.9))
    ax.set_ylim(bottom, 1.0)
    for t, name in ((60, "1 min"), (3600, "1 h"), (86400, "1 day"), (3.1536e7, "1 yr")):
        ax.axvline(t, color="0.85", lw=0.8, zorder=0)
        ax.text(t, bottom + 0.005, name, fontsize=7, color="0.4", ha="center")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(title)
    return _save(fig, path)


def plot_robustness_bars(rows: Sequence[Mapping[str, Any]], path: str,
                         *, columns: Sequence[tuple[str, str]]) -> str:
    """Grouped bars: one group per row (substrate), one bar per ``(key, label)`` of ``columns``."""
    if not rows:
        raise ValueError("no rows to plot")
    fig = _figure(1, height=3.8)
    ax = fig.subplots()
    width = 0.8 / len(columns)
    x = np.arange(len(rows))
    for j, (key, label) in enumerate(columns):
        values = [r.get(key) for r in rows]
        ax.bar(x + (j - (len(columns) - 1) / 2) * width, [np.nan if v is None else v for v in values], width,
               label=label, color=f"C{j}")
    ax.set_xticks(x, [str(r.get("substrate")) for r in rows])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.32)  # room for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, ncols=min(len(columns), 3), loc="upper center")
    ax.set_title("Robustness per substrate (headline eps: $L_\\infty$ 0.1, $L_2$ 1.0)")
    return _save(fig, path)
