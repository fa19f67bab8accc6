"""The weight-space view of robustness (the AWP seed), next to analog device noise.

Wu et al. (2020) tie robust generalisation to a *flat weight loss landscape*: how much the
robust loss changes when the weights move. On an analog crossbar the weights do move: every
programmed conductance carries programming noise. This module measures both on one axis, the
relative per-layer size of the weight change

    gamma_l = ||dW_l|| / ||W_l||      (Frobenius norms, every weight matrix / kernel W_l)

1. **Weight perturbations** of prescribed size gamma (every layer ||v_l|| = gamma ||W_l||):
   *random*: v_l = gamma ||W_l|| d_l / ||d_l||, d_l ~ N(0, I), averaged over draws;
   *adversarial*: v = argmax of the robust loss in that set, by ``adversarial_steps`` normalised
   gradient-ascent steps with per-layer projection (1 step = AWP's perturbation).
2. **Device programming noise**: each weight matrix (conv kernels as (out, in*k*k)) is mapped
   to differential conductance pairs as on the crossbar (``hardware_models.crossbar.mapping``:
   G+- = g_min + (g_max - g_min) max(+-W, 0) / w_max, w_max = max |W|), programmed with the
   card's device, levels and faults (``program_conductances``), and read back *without* drift,
   read noise or converters: W_hat = w_max (G+_prog - G-_prog) / (g_max - g_min). The card's
   ``programming_noise_scale`` is swept; the measured gamma_l of W_hat - W places each point on
   the same axis as (1).

At every point: the robust loss 1/N sum CE(f(x'), y) and robust accuracy with x' = harness PGD
*recomputed at the perturbed weights*, and the clean accuracy. Biases and normalisation
parameters are not perturbed (as in AWP; on a crossbar they are digital).

``sensitivity_report(model, x, y, config, card)`` returns one JSON-serialisable dict.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analogeq.baselines.defences.awp import perturbed_weights, scale_to_relative_norm
from analogeq.contract import GradientSpec
from analogeq.ebm.config_dict import JSONConfig, check_fields
from analogeq.robustness.attacks import PGD
from analogeq.robustness.attacks.common import NORMS
from analogeq.stats import mean_ci95
from analogeq.substrates.float import FloatSubstrate
from hardware_models.cards import with_value
from hardware_models.crossbar.mapping import differential_targets, resolve_w_max
from hardware_models.devices import program_conductances
from hardware_models.params import Integer, OneOf, ParameterError, Real

_SENSITIVITY_CONSTRAINTS = {
    "random_draws": Integer(minimum=1),
    "adversarial_steps": Integer(minimum=1),
    "eps": Real(minimum=0.0),
    "norm": OneOf(NORMS),
    "pgd_steps": Integer(minimum=1),
    "device_draws": Integer(minimum=1),
    "seed": Integer(minimum=0),
}


def _non_negative_list(field: str, values: Any) -> tuple[float, ...]:
    """A non-empty list of finite numbers >= 0 as a tuple of floats (entries named by index)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ParameterError("SensitivityConfig", field, f"must be a non-empty list of numbers >= 0, got {values!r}")
    out = tuple(Real(minimum=0.0)(f"{field}[{i}]", v, "SensitivityConfig") for i, v in enumerate(values))
    if not out:
        raise ParameterError("SensitivityConfig", field, "must be a non-empty list of numbers >= 0, got []")
    return out


@dataclass(frozen=True)
class SensitivityConfig(JSONConfig):
    """gammas (>= 0): relative perturbation sizes; random_draws; adversarial_steps (1 = AWP);
    eps, norm, pgd_steps: the harness PGD of the robust loss (step 2.5 * eps / pgd_steps);
    programming_noise_scales (>= 0): multipliers of the card's programming noise;
    device_draws: programming draws per scale; seed."""

    gammas: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
    random_draws: int = 5
    adversarial_steps: int = 1
    eps: float = 0.1
    norm: str = "linf"
    pgd_steps: int = 10
    programming_noise_scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    device_draws: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "gammas", _non_negative_list("gammas", self.gammas))
        object.__setattr__(self, "programming_noise_scales",
                           _non_negative_list("programming_noise_scales", self.programming_noise_scales))
        check_fields(self, _SENSITIVITY_CONSTRAINTS)


# --------------------------------------------------------------------------- measurements
def robust_metrics(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str = "linf",
                   steps: int = 10, seed: int = 0) -> dict[str, float]:
    """Clean accuracy, robust accuracy and robust loss mean CE(f(x'), y) with x' = harness PGD
    (random start, ``steps`` steps of 2.5 * eps / steps) at the model's current weights."""
    substrate = FloatSubstrate(model)
    attack = PGD(eps=float(eps), norm=norm, steps=int(steps), seed=int(seed))
    x_adv = attack(substrate, x, y).x_adv
    with torch.no_grad():
        clean = substrate.logits(x)
        adv = substrate.logits(x_adv)
    return {
        "clean_accuracy": float((clean.argmax(1) == y).float().mean()),
        "robust_accuracy": float((adv.argmax(1) == y).float().mean()),
        "robust_loss": float(F.cross_entropy(adv, y)),
    }


class _Weights:
    """Snapshot of the perturbable weights; ``set(offsets)`` = original + offsets, ``restore()``."""

    def __init__(self, model: nn.Module):
        self.params = perturbed_weights(model)
        if not self.params:
            raise ValueError(f"{type(model).__name__} has no weight matrices or kernels to perturb")
        self.original = {n: p.detach().clone() for n, p in self.params.items()}

    def set(self, offsets: dict[str, torch.Tensor] | None = None, replace: dict[str, torch.Tensor] | None = None) -> None:
        with torch.no_grad():
            for n, p in self.params.items():
                if replace is not None:
                    p.copy_(replace[n])
                else:
                    p.copy_(self.original[n] + (offsets[n] if offsets else 0.0))

    def restore(self) -> None:
        self.set()


def random_offsets(weights: dict[str, torch.Tensor], gamma: float, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """v_l = gamma ||W_l|| d_l / ||d_l||, d_l ~ N(0, I) (drawn on the CPU from ``generator``)."""
    directions = {n: torch.randn(w.shape, generator=generator).to(w.device, w.dtype) for n, w in weights.items()}
    return scale_to_relative_norm(directions, weights, gamma)


def adversarial_offsets(model: nn.Module, snapshot: _Weights, x: torch.Tensor, y: torch.Tensor, gamma: float, *,
                        eps: float, norm: str, pgd_steps: int, steps: int, seed: int) -> dict[str, torch.Tensor]:
    """Ascent on the robust loss in {||v_l|| <= gamma ||W_l||}: ``steps`` steps of size
    gamma/steps (relative), each along the normalised per-layer gradient at W + v with x'
    crafted at W (as AWP), then projected layer by layer onto the ball."""
    substrate = FloatSubstrate(model)
    snapshot.restore()
    x_adv = PGD(eps=float(eps), norm=norm, steps=pgd_steps, seed=seed)(substrate, x, y).x_adv
    offsets = {n: torch.zeros_like(w) for n, w in snapshot.original.items()}
    for _ in range(steps):
        snapshot.set(offsets)
        # forward_for_attack: differentiable also for an EBM (backprop through the settling)
        loss = F.cross_entropy(model.forward_for_attack(x_adv, GradientSpec()), y)
        grads = torch.autograd.grad(loss, list(snapshot.params.values()))
        step = scale_to_relative_norm(dict(zip(snapshot.params, (g.detach() for g in grads))), snapshot.original, gamma / steps)
        for n in offsets:
            v = offsets[n] + step[n]
            limit = gamma * float(snapshot.original[n].norm())
            norm_v = float(v.norm())
            offsets[n] = v * (limit / norm_v) if norm_v > limit else v
    snapshot.restore()
    return offsets


def programmed_weights(weights: dict[str, torch.Tensor], card: Any, rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """One programming draw of every weight matrix on ``card`` (see module docstring):
    W_hat per layer and the relative error ||W_hat - W|| / ||W|| per layer."""
    device = card.device
    span = device.g_max_S - device.g_min_S
    card_w_max = getattr(getattr(card, "mapping", None), "w_max", None)
    out, errors = {}, {}
    for name, w in weights.items():
        w2 = w.detach().cpu().double().numpy().reshape(w.shape[0], -1)
        w_max = resolve_w_max(w2, card_w_max)
        g_plus, g_minus = differential_targets(w2, device.g_min_S, device.g_max_S, w_max)
        p_plus = program_conductances(card, g_plus, rng).g_prog_S
        p_minus = program_conductances(card, g_minus, rng).g_prog_S
        w_hat = w_max * (p_plus - p_minus) / span
        norm_w = float(np.linalg.norm(w2))
        errors[name] = float(np.linalg.norm(w_hat - w2)) / norm_w if norm_w > 0 else math.nan
        out[name] = torch.from_numpy(w_hat.reshape(tuple(w.shape))).to(w.device, w.dtype)
    return out, errors


def _summarise(points: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in points[0]:
        mean, half = mean_ci95([p[key] for p in points])
        out[key] = mean
        out[f"{key}_ci95"] = None if math.isnan(half) else half
    return out


# --------------------------------------------------------------------------- the report
def sensitivity_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       config: SensitivityConfig = SensitivityConfig(), card: Any = None) -> dict[str, Any]:
    """Robust loss and accuracy under random / adversarial weight perturbations of relative size
    gamma, and under device programming noise (``card``: a crossbar card, e.g.
    ``hardware_models.cards.preset("pcm")``; None skips that part). See the module docstring.

    The model's weights are restored afterwards, bit for bit."""
    if not isinstance(config, SensitivityConfig):
        raise TypeError(f"config must be a SensitivityConfig, got {type(config).__name__}")
    started = time.perf_counter()
    model.eval()
    snapshot = _Weights(model)
    pgd = dict(eps=config.eps, norm=config.norm, steps=config.pgd_steps, seed=config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    try:
        reference = robust_metrics(model, x, y, **pgd)
        rows = []
        for gamma in config.gammas:
            random_points = []
            for _ in range(config.random_draws):
                snapshot.set(random_offsets(snapshot.original, gamma, gen))
                random_points.append(robust_metrics(model, x, y, **pgd))
            adv = adversarial_offsets(model, snapshot, x, y, gamma, eps=config.eps, norm=config.norm,
                                      pgd_steps=config.pgd_steps, steps=config.adversarial_steps, seed=config.seed)
            snapshot.set(adv)
            adversarial = robust_metrics(model, x, y, **pgd)
            rows.append({"gamma": gamma, "random": _summarise(random_points), "adversarial": adversarial})
        device_rows = None
        if card is not None:
            device_rows = []
            for scale in config.programming_noise_scales:
                scaled = with_value(card, "device.programming_noise_scale", float(scale))
                # the stream of a scale is keyed by (seed, scale in 1e-6 units), not derive_seed:
                # kept, so that the reported device-noise numbers stay those measured before
                rng = np.random.default_rng([config.seed, int(round(scale * 1e6))])
                points, layer_errors = [], []
                for _ in range(config.device_draws):
                    w_hat, errors = programmed_weights(snapshot.original, scaled, rng)
                    snapshot.set(replace=w_hat)
                    metrics = robust_metrics(model, x, y, **pgd)
                    metrics["relative_weight_error"] = float(np.mean(list(errors.values())))
                    points.append(metrics)
                    layer_errors.append(errors)
                row = {"programming_noise_scale": float(scale), **_summarise(points)}
                row["relative_weight_error_per_layer"] = {n: float(np.mean([e[n] for e in layer_errors])) for n in layer_errors[0]}
                device_rows.append(row)
    finally:
        snapshot.restore()
    return {
        "config": config.to_dict(),
        "card": getattr(card, "name", None),
        "layers": {n: list(w.shape) for n, w in snapshot.original.items()},
        "n_examples": int(x.shape[0]),
        "reference": reference,
        "weight_perturbation": rows,
        "device_noise": device_rows,
        "wall_time_s": time.perf_counter() - started,
    }
