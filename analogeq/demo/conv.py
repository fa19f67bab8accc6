"""``analogeq demo`` section ``conv``: a convolutional EBM on real 28x28 digits, on every substrate.

:func:`section_conv` follows the section convention of :mod:`analogeq.demo` and needs no other
section. It trains the ``mnist5k_conv_avg`` recipe's network (:mod:`analogeq.train.recipes`: 1x28x28
-> 16 channels 5x5, 2x2 average pool -> 32 channels 5x5, 2x2 average pool -> 10, ce readout) with
symmetric EqProp on the first 1,000 training images of ``mnist-5k`` (500 in quick mode) for
2 epochs (1 in quick mode), saves it as ``conv_ebm_mnist5k.safetensors`` and returns the rows

* ``conv float``: the float settle (test accuracy on the first 100 test images; 50 in quick mode);
* ``conv crossbar ideal``: the fused Numba conv settle on the ``ideal`` card (the unfolded patches
  through the tiles), with its agreement with float;
* ``conv crossbar pcm 1 d``: the ``pcm`` card one day after programming, mean and 95% interval over
  programming draws (3; 2 in quick mode);
* ``conv spiking ideal``: the same weights as a Brian2 network (convolutions wired as sparse
  synapses in both directions, average pools as linear maps; ``spiking-ideal`` card), with its
  agreement with float, spikes and energy per inference, on the first 25 test images (10 in
  quick mode: :data:`BUDGET`);

* ``conv float PGD`` and ``conv crossbar pcm 1 d PGD``: PGD at L_inf 0.1 (:data:`ATTACK`: 10 steps,
  5 in quick mode; EOT 2 on the crossbar) on the first 20 test images (10 in quick mode) through
  the implicit gradient at the fixed point, whose adjoint is solved with Anderson acceleration
  (:func:`analogeq.ebm.gradients.solve_adjoint`): the accuracy left, and the time per attack
  step. A demo budget, not a robustness figure to publish (``benchmarks/bench_robustness.py``);

and it writes the network's NIR graph (``conv_ebm_mnist5k.nir``: Conv2d, AvgPool2d, Affine and
neuron nodes), reads it back and puts the round trip's largest difference (weights and class
scores; 0 expected) in the spiking row's notes.

Without ``mlxtend`` (the light install) the section says so in one row and runs nothing.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

__all__ = ["section_conv"]

#: (training images, epochs, test images, PCM draws, test images as spikes): full demo, quick demo.
#: The Brian2 network of this conv EBM delivers about 230,000 spikes per image (about 2 s per
#: image on Brian2's numpy target), so the spiking row runs on the first test images only.
BUDGET = {False: (1000, 2, 100, 3, 25), True: (500, 1, 50, 2, 10)}

#: (test images, PGD steps, EOT draws on a stochastic substrate): full demo, quick demo; L_inf radius 0.1
ATTACK = {False: (20, 10, 2), True: (10, 5, 2)}
ATTACK_EPS = 0.1

RECIPE = "mnist5k_conv_avg"
CHECKPOINT = "conv_ebm_mnist5k.safetensors"
NIR_FILE = "conv_ebm_mnist5k.nir"


def _model_name(model: Any) -> str:
    c = model.config
    layers = "-".join(f"{ch}c{k}" for ch, k in zip(c.channels, c.kernel_sizes))
    return f"conv EBM 1x28x28-{layers}-{c.num_classes} (avg pools, {c.readout})"


def section_conv(ctx: Any) -> list[dict[str, Any]]:
    """Train the conv EBM and run it on float, crossbar and spiking (module docstring)."""
    import torch

    from analogeq.checkpoint import save_checkpoint
    from analogeq.data import load_dataset
    from analogeq.data.errors import DataModuleNotFoundError
    from analogeq.models import build_model
    from analogeq.report.energy import energy_breakdown_text
    from analogeq.report.tables import settle_columns
    from analogeq.stats import mean_ci95
    from analogeq.substrates import build_substrate
    from analogeq.train import train
    from analogeq.train.hardware_aware import evaluate_substrate
    from analogeq.train.recipes import recipe

    n_train, epochs, n_test, draws, n_spiking = BUDGET[bool(ctx.quick)]
    try:
        splits = load_dataset("mnist-5k", seed=0)
    except DataModuleNotFoundError as exc:
        return [{"section": "conv", "substrate": "conv (not run)", "notes": f"needs mnist-5k: {exc}"}]
    splits = splits.subset(n_train=n_train, n_val=200, seed=ctx.seed)
    test = splits.test.subset(n_test, seed=0)
    model_config, train_config = recipe(RECIPE, ctx.seed, epochs=epochs, device="cpu")
    model = build_model(model_config)
    t0 = time.perf_counter()
    train(model, splits, train_config, progress=ctx.progress)
    train_s = time.perf_counter() - t0
    model = model.eval()
    save_checkpoint(ctx.out_dir / CHECKPOINT, model, {"dataset": "mnist-5k", "split_seed": 0,
                                                      "train_config": train_config.to_dict(),
                                                      "limit_train": n_train})
    ctx.artifacts["conv_ebm"] = model
    name, dataset = _model_name(model), f"mnist-5k test ({len(test)})"
    base = {"section": "conv", "model": name, "dataset": dataset}

    def timed_predict(substrate: Any, n: int = len(test)) -> tuple[Any, float]:
        start = time.perf_counter()
        with torch.no_grad():
            return substrate.predict(test.x[:n]), time.perf_counter() - start

    floating = build_substrate("float", model)
    float_pred, eval_s = timed_predict(floating)
    rows = [{**base, "substrate": "conv float", "accuracy": float((float_pred == test.y).float().mean()),
             "train_s": train_s, "eval_s": eval_s, **settle_columns(floating.settle_report()),
             "notes": f"EqProp (symmetric), {epochs} epoch(s) on {n_train} mnist-5k images; "
                      f"checkpoint {CHECKPOINT}"}]

    ideal = build_substrate("crossbar", model, card="ideal", seed=ctx.seed)
    pred, eval_s = timed_predict(ideal)
    cost = ideal.cost()
    rows.append({**base, "substrate": "conv crossbar ideal", "accuracy": float((pred == test.y).float().mean()),
                 "agreement": float((pred == float_pred).float().mean()), "eval_s": eval_s,
                 **settle_columns(ideal.settle_report()),
                 "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
                 "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"],
                 "energy_breakdown": energy_breakdown_text(cost),
                 "notes": f"fused Numba conv settle, {ideal.card.converter_summary()}"})

    t0, accs, first = time.perf_counter(), [], None
    for k in range(draws):
        pcm = build_substrate("crossbar", model, card="pcm", drift_time_s=86400.0, seed=ctx.seed + 1 + k)
        accs.append(evaluate_substrate(pcm, test))
        first = first or pcm
    mean, ci = mean_ci95(accs)
    cost = first.cost()
    rows.append({**base, "substrate": "conv crossbar pcm 1 d", "accuracy": mean,
                 "accuracy_ci95": None if math.isnan(ci) else ci, "draws": draws,
                 "eval_s": time.perf_counter() - t0, **settle_columns(first.settle_report()),
                 "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
                 "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"],
                 "energy_breakdown": energy_breakdown_text(cost),
                 "notes": f"PCM one day after programming, {first.card.converter_summary()}, {draws} programming draws"})

    spiking = build_substrate("spiking", model, card="spiking-ideal", seed=ctx.seed,
                              target=os.environ.get("ANALOGEQ_BRIAN_TARGET", "numpy"))
    pred, eval_s = timed_predict(spiking, n_spiking)
    cost = spiking.cost()
    rows.append({**base, "dataset": f"mnist-5k test (first {n_spiking})", "substrate": "conv spiking ideal",
                 "accuracy": float((pred == test.y[:n_spiking]).float().mean()),
                 "agreement": float((pred == float_pred[:n_spiking]).float().mean()), "eval_s": eval_s,
                 "energy_per_inference_uJ": 1e6 * cost["energy_per_inference_J"],
                 "latency_per_inference_us": 1e6 * cost["latency_per_inference_s"],
                 "spikes_per_inference": cost.get("spikes_per_inference"),
                 "energy_breakdown": energy_breakdown_text(cost),
                 "notes": f"Brian2 {spiking.backend.target}, convolutions as sparse synapses; "
                          f"NIR round trip ({NIR_FILE}): max |difference| {_nir_roundtrip(model, ctx, test.x):.3g}"})
    rows += [_attack_row(base, floating, "conv float PGD", test, ctx),
             _attack_row(base, first, "conv crossbar pcm 1 d PGD", test, ctx)]
    return rows


def _attack_row(base: dict[str, Any], substrate: Any, name: str, test: Any, ctx: Any) -> dict[str, Any]:
    """PGD at L_inf :data:`ATTACK_EPS` on the first test images with implicit gradients (module
    docstring); EOT draws only where the substrate is stochastic."""
    from analogeq.contract import GradientSpec
    from analogeq.robustness.attacks import PGD

    n, steps, draws = ATTACK[bool(ctx.quick)]
    eot = draws if substrate.stochastic else 1
    x, y = test.x[:n], test.y[:n]
    attack = PGD(eps=ATTACK_EPS, norm="linf", steps=steps, gradient=GradientSpec("implicit"), eot_samples=eot,
                 seed=ctx.seed)
    result = attack(substrate, x, y)
    return {**base, "dataset": f"mnist-5k test (first {n})", "substrate": name,
            "accuracy": float((~result.success).float().mean()), "eval_s": result.wall_time_s,
            "notes": f"PGD L_inf {ATTACK_EPS}, {steps} steps, EOT {eot}; implicit gradient at the fixed point "
                     f"(Anderson-accelerated adjoint), {result.wall_time_s / steps:.2f} s per step; demo budget"}


def _nir_roundtrip(model: Any, ctx: Any, x: Any) -> float:
    """Export ``model`` to NIR, read it back; the largest difference of weights and class scores."""
    from analogeq.substrates.spiking.nir_conv import export_conv_ebm_nir, import_conv_ebm_nir, roundtrip_errors
    from hardware_models import preset

    path = ctx.out_dir / NIR_FILE
    export_conv_ebm_nir(model, str(path), card=preset("spiking-ideal"))
    back, _ = import_conv_ebm_nir(str(path))
    return max(roundtrip_errors(model, back, x).values())
