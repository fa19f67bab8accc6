"""The built-in evaluations, registered by name when ``analogeq.sweeps`` is imported.

``conductance_error`` (physics only, no network, no substrate)
    Program ``n_cells`` target conductances drawn uniformly in [g_min, g_max] with the card's
    device, finite levels and stuck-at faults (``hardware_models.devices.program_conductances``),
    let them drift for ``drift_time_s``, read each once (one Gaussian read-noise draw) and
    compare with the targets: ``mean_abs_error_rel`` = mean |g_read - g_target| / (g_max - g_min),
    ``rms_error_rel``, ``mean_error_rel`` (signed: drift shows as a negative bias),
    ``stuck_fraction``.
``crossbar_read_error`` (physics only, no network, no substrate)
    Relative error ||y - x W^T|| / ||x W^T|| of one read of a random matrix programmed into
    crossbar tiles with the whole card (``hardware_models.crossbar.CrossbarArray``), and the
    read's gain.
``clean_accuracy`` (network on a substrate)
    Top-1 accuracy on the test split (``n_test`` images, 0 = all) from one draw of the
    substrate's logits, plus the substrate's energy and latency per inference where it has a
    cost model.
``robust_accuracy`` (network on a substrate; needs ``analogeq.robustness.evaluate``)
    The robustness harness's quick suite on ``n_test`` test images.

Random streams (``PointContext.rng`` / ``stream_seed``, i.e. ``hardware_models.seeds``):
``conductance_error``, ``crossbar_read_error``, ``crossbar_program``, ``crossbar_reads``,
``robustness``, and the context's ``substrate`` and ``reads``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analogeq.sweeps.context import PointContext
from analogeq.sweeps.evaluations import Param, register_evaluation
from hardware_models.crossbar import CrossbarArray
from hardware_models.devices import program_conductances
from hardware_models.params import Boolean, Integer, OneOf, Real

__all__ = ["clean_accuracy", "conductance_error", "crossbar_read_error", "robust_accuracy"]


def conductance_error(ctx: PointContext) -> dict[str, Any]:
    """Mean relative conductance error after programming, drift and one read (module docstring)."""
    card = ctx.card
    device = card.device
    n = ctx.params["n_cells"]
    t_s = ctx.params["drift_time_s"]
    g_range = device.g_max_S - device.g_min_S
    rng = ctx.rng("conductance_error")
    g_target = rng.uniform(device.g_min_S, device.g_max_S, size=n)
    programmed = program_conductances(card, g_target, rng)
    g_mean = programmed.at_time(t_s)
    sigma = programmed.read_sigma(t_s)
    g_read = g_mean + sigma * rng.standard_normal(n)
    err = (g_read - g_target) / g_range
    stuck = 0.0 if programmed.stuck is None else float(np.mean(programmed.stuck))
    return {
        "mean_abs_error_rel": float(np.mean(np.abs(err))),
        "rms_error_rel": float(np.sqrt(np.mean(err * err))),
        "mean_error_rel": float(np.mean(err)),
        "stuck_fraction": stuck,
    }


def crossbar_read_error(ctx: PointContext) -> dict[str, Any]:
    """Relative error of one read of a programmed crossbar against the exact matrix product.

    W (n_out x n_in) and the inputs x (batch x n_in) are drawn uniformly in [-1, 1] from the
    point's seed; W is programmed with the card (``CrossbarArray.from_card``: device, levels,
    faults, tiles, mapping, DAC, ADC, TIA, wires, drift compensation) and read once at
    ``drift_time_s`` in ``direction``. Metrics: ``relative_error`` = ||y - y_ideal||_F /
    ||y_ideal||_F, ``gain`` = <y, y_ideal> / <y_ideal, y_ideal> (1 = no systematic scale
    error; drift without compensation lowers it), ``n_tiles``.
    """
    p = ctx.params
    rng = ctx.rng("crossbar_read_error")
    w = rng.uniform(-1.0, 1.0, size=(p["n_out"], p["n_in"]))
    n_x = p["n_in"] if p["direction"] == "forward" else p["n_out"]
    x = rng.uniform(-1.0, 1.0, size=(p["batch"], n_x))
    array = CrossbarArray.from_card(w, ctx.card, seed=ctx.stream_seed("crossbar_program"))
    y = np.asarray(array.read(x, p["drift_time_s"], p["direction"], rng=ctx.rng("crossbar_reads")), dtype=np.float64)
    ideal = x @ w.T if p["direction"] == "forward" else x @ w
    norm2 = float(np.sum(ideal * ideal))
    tiles = array.n_tiles
    return {
        "relative_error": float(np.linalg.norm(y - ideal) / np.sqrt(norm2)),
        "gain": float(np.sum(y * ideal) / norm2),
        "n_tiles": int(tiles[0] * tiles[1]),
    }


def clean_accuracy(ctx: PointContext) -> dict[str, Any]:
    """Top-1 accuracy of one draw of the substrate's logits on the test split, the numbers of its
    ``cost()`` and, where it settles, ``settle_converged_fraction`` and ``settle_median_steps``."""
    import torch  # network points only (3 s to import; physics-only workers never load it)

    test = ctx.dataset().test
    n_test = ctx.params["n_test"]
    if n_test:
        test = test.subset(n_test, seed=0)
    substrate = ctx.substrate()
    correct = 0
    with torch.no_grad():
        for x, y in test.batches(ctx.params["batch_size"]):
            pred = substrate.predict(x.to(substrate.device))
            correct += int((pred.cpu() == y).sum())
    out: dict[str, Any] = {"accuracy": correct / len(test), "n_test": len(test)}
    cost = substrate.cost() or {}
    # energy/latency figures of the substrate's cost model (numbers only; absent entries skipped)
    out.update({k: float(v) for k, v in cost.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    settle = substrate.settle_report()  # every substrate that settles on a tolerance, float included
    if settle is not None:
        out.update(settle_converged_fraction=settle["converged_fraction"], settle_median_steps=settle["median_steps"])
    return out


def robust_accuracy(ctx: PointContext) -> dict[str, Any]:
    """The robustness harness (``evaluate_robustness``) on ``n_test`` test images.

    The suite is the named one (``quick`` or ``full``) with its headline eps set to ``eps_linf`` /
    ``eps_l2`` (and only those eps attacked), transfer off (it needs a second substrate) and
    the gradient-mode comparison off unless asked; the harness's sanity gates run as always and
    their verdict is a metric. Metrics: every number of the harness's ``summary`` (``clean``,
    ``pgd_linf``, ``pgd_l2``, ``square``, ``worst_case_linf``, ...), ``sanity_gates_passed``
    (1 or 0) and ``robustness_wall_time_s``.
    """
    # torch: network points only (see clean_accuracy)
    from analogeq.robustness.evaluate import evaluate_robustness
    from analogeq.robustness.suite import get_suite

    p = ctx.params
    suite = get_suite(p["suite"]).replace(
        linf_eps=(p["eps_linf"],), headline_linf_eps=p["eps_linf"],
        l2_eps=(p["eps_l2"],), headline_l2_eps=p["eps_l2"],
        transfer=False, gradient_modes=p["gradient_modes"],
    )
    test = ctx.dataset().test.subset(p["n_test"], seed=0)
    substrate = ctx.substrate()
    # the harness derives torch seeds as seed * 1000 + k: keep its seed within 31 bits
    result = evaluate_robustness(
        substrate, test.x.to(substrate.device), test.y.to(substrate.device), suite=suite,
        seed=ctx.stream_seed("robustness") % (2**31), batch_size=p["batch_size"], extras=False,
    )
    out: dict[str, Any] = {}
    for name, value in result["summary"].items():
        if name.startswith("headline_"):  # the eps themselves: already in the params
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    out["sanity_gates_passed"] = 1.0 if result.get("sanity_gates_passed") else 0.0
    out["robustness_wall_time_s"] = float(result.get("wall_time_s", math.nan))
    out["n_test"] = int(result.get("n_examples", len(test)))
    return out


# sizes are bounded so that a typo cannot plan a point that allocates terabytes (issue 17)
_AT_LEAST_1 = Integer(minimum=1, maximum=10_000_000)
_MATRIX_SIDE = Integer(minimum=1, maximum=8192)  # a random n_out x n_in matrix: at most 8192^2 entries
_READ_DRIFT = Param(3600.0, Real(minimum=0.0), "time between programming and the read [s]")
_CROSSBAR_PARAMS = {
    "n_in": Param(64, _MATRIX_SIDE, "inputs of the forward read (columns of W)"),
    "n_out": Param(32, _MATRIX_SIDE, "outputs of the forward read (rows of W)"),
    "batch": Param(32, Integer(minimum=1, maximum=100_000), "input vectors read"),
    "direction": Param("forward", OneOf(("forward", "backward")), "read W (forward) or W^T (backward)"),
    "drift_time_s": _READ_DRIFT,
}
_ROBUST_PARAMS = {
    "suite": Param("quick", OneOf(("quick", "full")), "attack suite of analogeq.robustness.suite"),
    "n_test": Param(100, _AT_LEAST_1, "test images attacked"),
    "eps_linf": Param(0.1, Real(minimum=0.0, maximum=1.0), "Linf budget (pixels in [0, 1])"),
    "eps_l2": Param(1.0, Real(minimum=0.0, maximum=100.0), "L2 budget"),
    "gradient_modes": Param(False, Boolean(), "also compare full / truncated / implicit gradients"),
    "batch_size": Param(256, _AT_LEAST_1, "examples per attack chunk"),
}

register_evaluation(
    "conductance_error", conductance_error,
    params={"n_cells": Param(4096, _AT_LEAST_1, "number of programmed cells"), "drift_time_s": _READ_DRIFT},
    description="relative conductance error of programmed cells after drift and one read (no network)",
    metrics=("mean_abs_error_rel",),
)
register_evaluation(
    "crossbar_read_error", crossbar_read_error, params=_CROSSBAR_PARAMS,
    description="relative error of a programmed crossbar read of a random matrix (no network)",
    metrics=("relative_error",),
)
register_evaluation(
    "clean_accuracy", clean_accuracy,
    params={"n_test": Param(0, Integer(minimum=0, maximum=10_000_000), "test images (0 = the whole test split)"),
            "batch_size": Param(256, _AT_LEAST_1, "images per substrate call")},
    uses_substrate=True, needs_network=True,
    description="top-1 accuracy on the test split, one draw of the substrate's noise",
    metrics=("accuracy",),
)
register_evaluation(
    "robust_accuracy", robust_accuracy, params=_ROBUST_PARAMS, uses_substrate=True, needs_network=True,
    description="robust accuracy from the robustness harness's quick (or full) suite, with its sanity gates",
    metrics=("clean", "pgd_linf", "worst_case_linf"),
)
