"""``analogeq demo`` rows for the crossbar substrate: the digits EBM on an ideal crossbar and on
PCM one hour after programming, next to floating point.

:func:`section_crossbar` follows the section convention of :mod:`analogeq.demo`: it takes the
:class:`~analogeq.demo.DemoContext`, uses the trained dense EBM and the digits splits that the
``"float"`` section leaves in ``ctx.artifacts`` (``"dense_ebm"``, ``"splits"``; if they are
missing it trains the recipe for a few epochs itself) and returns one row per substrate:

* ``crossbar ideal``: the shipped ``ideal`` card (exact devices, 16-bit converters, no wires);
  every crossbar row also gives ``energy_breakdown`` (array, DAC, ADC and neuron shares);
  with ``agreement`` (fraction of test images predicted as floating point does);
* ``crossbar pcm 1 h``: the ``pcm`` card (aihwkit-like PCM statistics, 7-bit DAC, 9-bit ADC, TIA
  noise) read 3600 s after programming: accuracy mean and 95% interval over programming draws
  (3 in quick mode, 10 otherwise), one read-noise draw each.

It also measures the PCM accuracy against the time since programming (:data:`DRIFT_TIMES_S`, 1 s
to 1 year; with the card's global drift compensation and without it; mean over programming
draws) and leaves it in ``ctx.artifacts["pcm_drift"]`` for the report's plot.

Every row has ``energy_per_inference_uJ`` and ``latency_per_inference_us`` (one free-phase
settle, :mod:`analogeq.substrates.crossbar.cost`, in microjoules and microseconds so that the demo table
shows them), the mean settling steps and, in ``notes``, the settling time of the same network in
the circuit's continuous-time mode (tau = r c of the card's neuron).
"""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["DRIFT_TIMES_S", "pcm_accuracy_vs_drift", "section_crossbar"]

#: read times after programming of the drift curve [s]: 1 s, 1 min, 1 h, 1 day, 30 days, 1 year
DRIFT_TIMES_S = (1.0, 60.0, 3600.0, 86400.0, 2.592e6, 3.1536e7)


def _trained_ebm(ctx: Any) -> tuple[Any, Any]:
    if "dense_ebm" in ctx.artifacts and "splits" in ctx.artifacts:
        return ctx.artifacts["dense_ebm"], ctx.artifacts["splits"]
    from analogeq.data import load_dataset
    from analogeq.models import build_model
    from analogeq.train import train
    from analogeq.demo import DEMO_DATASETS
    from analogeq.train.recipes import recipe

    splits = load_dataset(ctx.dataset, seed=0)
    model_config, train_config = recipe(DEMO_DATASETS[ctx.dataset], ctx.seed, epochs=3 if ctx.quick else 8, device="cpu")
    model = build_model(model_config)
    train(model, splits, train_config, progress=ctx.progress)
    ctx.artifacts.update(dense_ebm=model, splits=splits)
    return model, splits


def section_crossbar(ctx: Any) -> list[dict[str, Any]]:
    """Rows ``crossbar ideal`` and ``crossbar pcm 1 h`` (see the module docstring)."""
    import numpy as np
    import torch

    from analogeq.train.hardware_aware import evaluate_substrate
    from analogeq.substrates import build_substrate
    from analogeq.stats import mean_ci95
    from analogeq.substrates.crossbar import CrossbarSubstrate
    from analogeq.report.energy import energy_breakdown_text
    from analogeq.report.tables import settle_columns

    model, splits = _trained_ebm(ctx)
    model = model.to("cpu").eval()
    test = splits.test.to("cpu")
    hidden = "-".join(str(h) for h in model.config.hidden_sizes)
    name = f"dense EBM {int(np.prod(model.input_shape))}-{hidden}-{model.num_classes} ({model.config.readout})"
    with torch.no_grad():
        float_pred = build_substrate("float", model).predict(test.x)
    rows = []

    t0 = time.perf_counter()
    ideal = CrossbarSubstrate(model, "ideal", drift_time_s=0.0, seed=ctx.seed)
    pred = ideal.predict(test.x)
    cost = ideal.cost()
    rows.append({
        "section": "crossbar",
        "substrate": "crossbar ideal",
        "model": name,
        "dataset": f"{splits.name} test ({len(test)})",
        "accuracy": float((pred == test.y).float().mean()),
        "accuracy_ci95": None,
        "agreement": float((pred == float_pred).float().mean()),
        "settle_steps": cost["steps"],
        **settle_columns(ideal.settle_report()),
        "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
        "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"],
        "energy_breakdown": energy_breakdown_text(cost),
        "eval_s": time.perf_counter() - t0,
        "notes": f"exact devices, {ideal.card.converter_summary()}, no wires; agreement = same class as float",
    })

    t0 = time.perf_counter()
    draws = 3 if ctx.quick else 10
    accs, first = [], None
    for k in range(draws):
        sub = CrossbarSubstrate(model, "pcm", drift_time_s=3600.0, seed=ctx.seed + 1 + k)
        accs.append(evaluate_substrate(sub, test))
        first = first or sub
    mean, ci = mean_ci95(accs)
    cost = first.cost()
    continuous = CrossbarSubstrate(model, "pcm", drift_time_s=3600.0, seed=ctx.seed + 1, settle_mode="continuous")
    ct_acc = evaluate_substrate(continuous, test)
    ct_cost = continuous.cost()
    rows.append({
        "section": "crossbar",
        "substrate": "crossbar pcm 1 h",
        "model": name,
        "dataset": f"{splits.name} test ({len(test)})",
        "accuracy": mean,
        "accuracy_ci95": None if math.isnan(ci) else ci,
        "draws": draws,
        "settle_steps": cost["steps"],
        **settle_columns(first.settle_report()),
        "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
        "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"],
        "energy_breakdown": energy_breakdown_text(cost),
        "eval_s": time.perf_counter() - t0,
        "notes": (f"PCM (aihwkit-like), {first.card.converter_summary()}, TIA noise, {draws} programming draws; "
                  f"continuous-time (tau {continuous.tau_s:.1e} s): accuracy {ct_acc:.3f}, "
                  f"settles in {ct_cost['settle_time_s']:.2e} s"),
    })
    ctx.artifacts["pcm_drift"] = pcm_accuracy_vs_drift(model, test, draws=2 if ctx.quick else 3, seed=ctx.seed)
    return rows


def pcm_accuracy_vs_drift(model: Any, test: Any, *, draws: int = 3, seed: int = 0,
                          times_s: tuple[float, ...] = DRIFT_TIMES_S) -> list[dict[str, Any]]:
    """Test accuracy of ``model`` on the ``pcm`` card read ``t`` seconds after programming, with
    the card's global drift compensation and with ``drift_compensation = "none"``: one dict per
    (t, compensation) with ``t_s``, ``compensation``, ``accuracy`` (mean over ``draws``
    programming draws), ``ci95`` and ``accuracies``."""
    from hardware_models.cards import preset, with_value

    from analogeq.train.hardware_aware import evaluate_substrate
    from analogeq.stats import mean_ci95
    from analogeq.substrates.crossbar import CrossbarSubstrate

    cards = {"global": preset("pcm"), "none": with_value(preset("pcm"), "drift_compensation", "none")}
    out = []
    for compensation, card in cards.items():
        for t in times_s:
            accs = [evaluate_substrate(CrossbarSubstrate(model, card, drift_time_s=t, seed=seed + 101 + k), test)
                    for k in range(draws)]
            mean, ci = mean_ci95(accs)
            out.append({"t_s": t, "compensation": compensation, "accuracy": mean,
                        "ci95": None if math.isnan(ci) else ci, "accuracies": accs})
    return out
