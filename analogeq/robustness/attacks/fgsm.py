"""Fast gradient sign method (Goodfellow et al. 2015) and its L2 form (fast gradient method).

One step from the clean input, then a clip to the image box:

    L_inf:  x_adv = clip(x + eps * sign(grad_x L), 0, 1)
    L2:     x_adv = clip(x + eps * grad_x L / ||grad_x L||_2, 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from analogeq.contract import GradientSpec
from analogeq.robustness.attacks.common import (
    EPS,
    NORM,
    UNTARGETED_LOSSES,
    WHITE_BOX,
    Attack,
    AttackResult,
    ascent_direction,
    finish,
    project,
)
from analogeq.robustness.eot import loss_and_gradient
from analogeq.substrates.base import Substrate
from hardware_models.params import OneOf


@dataclass(frozen=True)
class FGSM(Attack):
    """Single-step attack. ``loss``: "ce" (cross-entropy) or "margin" (-(z_y - max other))."""

    eps: float
    norm: str = "linf"
    loss: str = "ce"
    gradient: GradientSpec = field(default_factory=GradientSpec)
    eot_samples: int = 1
    seed: int = 0

    name = "fgsm"
    constraints = {"eps": EPS, "norm": NORM, "loss": OneOf(("ce", "margin")), **WHITE_BOX}

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started, x, y, _ = self.begin(substrate, x, y)
        loss_fn = UNTARGETED_LOSSES[self.loss]
        _, grad, _ = loss_and_gradient(substrate, x, lambda z: loss_fn(z, y), self.gradient, self.eot_samples)
        x_adv = project(x + self.eps * ascent_direction(grad, self.norm), x, self.eps, self.norm)
        return finish(self.name, self, substrate, x, y, x_adv, self.norm, started, check_draws=self.eot_samples)
