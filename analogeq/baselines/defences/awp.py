"""Adversarial weight perturbation (Wu et al. 2020, "Adversarial weight perturbation helps robust
generalization"), on top of PGD-AT (AT-AWP) or TRADES (TRADES-AWP).

    min_w max_{v: ||v_l|| <= gamma ||w_l|| for every layer l}  L_base(w + v; x, x', y)

with x' the base defence's adversarial examples, crafted at the unperturbed weights w. As in
the paper's algorithm, v is found by one ascent step and put on the boundary of its ball,
layer by layer:

    g_l = dL_base/dw_l (at w, with x'),   v_l = gamma * ||w_l|| * g_l / ||g_l||      (Frobenius norms)

so ||v_l|| = gamma ||w_l|| exactly (v_l = 0 where g_l = 0). The step then takes the gradient of
L_base at w + v, removes v and applies the optimiser to w. Perturbed: the weight matrices and
kernels (parameters named ``*weight`` with two or more dimensions: every nn.Linear / nn.Conv2d,
the crossbar-mapped weights); biases and LayerNorm scales are not, as in the paper's code.
The paper's setting: gamma = 5e-3 (CIFAR-10, both AT-AWP and TRADES-AWP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines.defences.common import Defence
from analogeq.baselines.defences.pgd_at import PGDAT
from analogeq.baselines.defences.trades import TRADES
from hardware_models.params import check_float, check_int

#: keeps g / ||g|| finite where a layer's gradient vanishes
_TINY = 1e-20


def perturbed_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters AWP perturbs: names ending in ``weight`` with >= 2 dimensions."""
    return {n: p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2 and p.requires_grad}


def scale_to_relative_norm(directions: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], gamma: float) -> dict[str, torch.Tensor]:
    """v_l = gamma * ||w_l|| * d_l / ||d_l|| for every layer l (v_l = 0 where d_l = 0)."""
    out = {}
    for name, d in directions.items():
        w_norm = weights[name].detach().norm()
        d_norm = d.norm()
        out[name] = torch.zeros_like(d) if float(d_norm) == 0.0 else gamma * w_norm * d / (d_norm + _TINY)
    return out


def add_to_weights(model: nn.Module, offsets: dict[str, torch.Tensor], sign: float = 1.0) -> None:
    """w_l <- w_l + sign * v_l in place (no autograd)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, v in offsets.items():
            params[name].add_(v, alpha=sign)


@dataclass(frozen=True)
class AWP(Defence):
    """gamma (>= 0): relative radius of the per-layer weight perturbation; base: PGDAT or TRADES
    (the input attack and loss that AWP perturbs); warmup_epochs: epochs trained with the base
    defence alone before AWP starts (the paper's code has this option, 0 for CIFAR-10 AT-AWP)."""

    gamma: float = 5e-3
    base: PGDAT | TRADES = field(default_factory=PGDAT)
    warmup_epochs: int = 0

    name = "awp"

    def __post_init__(self) -> None:
        check_float("gamma", self.gamma, minimum=0.0, owner="AWP")
        if not isinstance(self.base, (PGDAT, TRADES)):
            raise TypeError(f"AWP.base must be a PGDAT or TRADES defence, got {type(self.base).__name__}")
        check_int("warmup_epochs", self.warmup_epochs, minimum=0, owner="AWP")

    def perturb_inputs(self, substrate, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        return self.base.perturb_inputs(substrate, x, y, seed)

    def weight_perturbation(self, model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor,
                            generator=None, epoch: int | None = None) -> dict[str, torch.Tensor] | None:
        """v (per-layer offsets, see module docstring), or None during the warm-up epochs."""
        if epoch is not None and epoch < self.warmup_epochs:
            return None
        weights = perturbed_weights(model)
        loss, _ = self.base.loss(model, x, x_adv, y, generator)
        grads = torch.autograd.grad(loss, list(weights.values()))
        return scale_to_relative_norm(dict(zip(weights, (g.detach() for g in grads))), weights, self.gamma)

    def loss(self, model, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        """The base defence's loss (evaluated by the trainer at w + v)."""
        return self.base.loss(model, x, x_adv, y, generator)

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name, "gamma": self.gamma, "warmup_epochs": self.warmup_epochs, "base": self.base.to_dict()}
