"""``analogeq demo`` section ``resistive``: a deep resistive network (diodes, conductances) whose
steady state is the inference, trained with EqProp on digits.

:func:`section_resistive` follows the section convention of :mod:`analogeq.demo`. It needs no
other section: it trains the digits recipe of :mod:`analogeq.train.resistive_loop` (64-100-10,
ideal diodes; 30 epochs, 8 in quick mode) with EqProp (the local rule from the squared voltage
drops) on the digits splits, and returns the rows

* ``resistive ideal``: the ``resistive-ideal`` card (exact conductances in [0.1, 25] uS);
* ``resistive pcm 1 d``: the ``resistive-pcm`` card one day after programming (programming noise,
  drift, read noise drawn per settle): mean accuracy and 95% interval over programming draws
  (3 in quick mode, 10 otherwise);

each with the energy of one inference (steady-state power times the card's settling window, plus
one DAC conversion per source and one ADC conversion per output) and the mean sweeps of the exact
block coordinate descent (``settle_steps``) with the settle report (fraction of the samples
within the KCL tolerance, median sweeps). A row in the ``robustness`` table gives the
resistive network's clean and attacked accuracies (the harness unchanged, white-box gradients
implicit at the steady state) on the first test images (16; 8 in quick mode) at the hardware
substrates' demo budgets (:data:`analogeq.demo.robustness.DEMO_SUITE_HARDWARE`) cut to the headline
radii, Square 50 queries, one corruption severity and smoothing on 4 images (the section stays
cheap), beside the dense EBM's substrates.
The trained network is ``ctx.artifacts["resistive_drn"]``, the harness result
``ctx.artifacts["robustness_extra"]["resistive ideal (DRN)"]`` (not on the eps plot of the dense
EBM's substrates) and the checkpoint ``resistive_drn.safetensors``.
"""

from __future__ import annotations

import math
import time
from typing import Any

__all__ = ["section_resistive"]

#: robustness: (test images in the full demo, in the quick demo)
ROBUSTNESS_IMAGES = (16, 8)


def _splits(ctx: Any) -> Any:
    splits = ctx.artifacts.get("splits")
    if splits is not None and splits.name == "digits":
        return splits
    from analogeq.data import load_dataset

    return load_dataset("digits", seed=0)  # the recipe is the digits one, whatever --dataset says


def section_resistive(ctx: Any) -> list[dict[str, Any]]:
    """Train the resistive network and run it on the two resistive presets (module docstring)."""
    import torch

    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model
    from analogeq.report.energy import energy_breakdown_text
    from analogeq.report.tables import settle_columns
    from analogeq.stats import mean_ci95
    from analogeq.substrates import build_substrate
    from analogeq.train.resistive_loop import RESISTIVE_DIGITS_MODEL, RESISTIVE_DIGITS_TRAIN, train_drn

    splits = _splits(ctx)
    epochs = 8 if ctx.quick else 30
    model = build_model(dict(RESISTIVE_DIGITS_MODEL, input_shape=list(splits.input_shape),
                             num_classes=splits.num_classes, seed=ctx.seed))
    history = train_drn(model, splits, RESISTIVE_DIGITS_TRAIN, epochs=epochs, seed=ctx.seed)
    save_checkpoint(ctx.out_dir / "resistive_drn.safetensors", model,
                    {"dataset": "digits", "split_seed": 0, "epochs": epochs, "history": history["epochs"]})
    ctx.artifacts["resistive_drn"] = model
    test = splits.test
    name = f"resistive {'-'.join(str(n) for n in model.config.layer_sizes)} (ideal diodes, EqProp, {epochs} ep.)"
    dataset = f"digits test ({len(test)})"
    rows = []

    t0 = time.perf_counter()
    ideal = build_substrate("resistive", model, card="resistive-ideal", seed=ctx.seed, tol_A=model.tol_A)
    with torch.no_grad():
        ideal_pred = ideal.predict(test.x)
    cost = ideal.cost()
    rows.append(_row("resistive ideal", name, dataset, float((ideal_pred == test.y).float().mean()), None, cost,
                     history["train_seconds"], time.perf_counter() - t0,
                     "resistive-ideal card: exact conductances in [0.1, 25] uS; energy = steady-state power x "
                     f"{ideal.card.timing.t_read_s:g} s + converters", energy_breakdown_text(cost)))
    rows[-1].update(settle_columns(ideal.settle_report()))

    t0 = time.perf_counter()
    draws = 3 if ctx.quick else 10
    accs, first = [], None
    for k in range(draws):
        sub = build_substrate("resistive", model, card="resistive-pcm", drift_time_s=86400.0, seed=ctx.seed + 1 + k,
                              tol_A=model.tol_A)
        with torch.no_grad():
            accs.append(float((sub.predict(test.x) == test.y).float().mean()))
        first = first or sub
    mean, ci = mean_ci95(accs)
    cost = first.cost()
    rows.append(_row("resistive pcm 1 d", name, dataset, mean, None if math.isnan(ci) else ci, cost, None,
                     time.perf_counter() - t0,
                     f"resistive-pcm card one day after programming, {draws} programming draws, read noise per settle",
                     energy_breakdown_text(cost)))
    rows[-1].update(settle_columns(first.settle_report()), draws=draws)
    rows.append(_robustness_row(ideal, test, ctx))
    return rows


def _row(substrate: str, model: str, dataset: str, accuracy: float, ci: float | None, cost: dict[str, Any],
         train_s: float | None, eval_s: float, notes: str, breakdown: str) -> dict[str, Any]:
    return {"section": "resistive", "substrate": substrate, "model": model, "dataset": dataset, "accuracy": accuracy,
            "accuracy_ci95": ci, "settle_steps": cost["mean_sweeps"],
            "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
            "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"], "energy_breakdown": breakdown,
            "train_s": train_s, "eval_s": eval_s, "notes": notes}


def _robustness_row(substrate: Any, test: Any, ctx: Any) -> dict[str, Any]:
    """The harness on the ideal resistive substrate (a row of the ``robustness`` table)."""
    from analogeq.demo.robustness import DEMO_SUITE_HARDWARE, _evaluate, _row as robustness_row
    from analogeq.robustness.evaluate import write_report

    n = ROBUSTNESS_IMAGES[1] if ctx.quick else ROBUSTNESS_IMAGES[0]
    suite = DEMO_SUITE_HARDWARE.replace(
        name="demo-resistive", linf_eps=(0.1,), l2_eps=(1.0,), square_queries=50, corruption_severities=(3,),
        corruption_examples=8, certify_examples=4, certify_n=100, certify_n0=20)
    t0 = time.perf_counter()
    result = _evaluate(substrate, test.x[:n], test.y[:n], suite, None, ctx.seed)
    write_report(result, ctx.out_dir, stem="robustness_resistive_ideal")
    ctx.artifacts.setdefault("robustness_extra", {})["resistive ideal (DRN)"] = result  # the report's notes
    row = robustness_row("resistive ideal (DRN)", result, n, time.perf_counter() - t0)
    row["notes"] = "deep resistive network (its own weights, not the dense EBM's); " + row["notes"]
    return row
