"""TRADES (Zhang et al. 2019, "Theoretically principled trade-off between robustness and accuracy").

    L = 1/B sum_i [ CE(f(x_i), y_i) + beta * KL(p(x_i) || p(x'_i)) ],   p = softmax f
    x'_i ~= argmax_{||x' - x_i|| <= eps} KL(p(x_i) || p(x'))

The gradient flows through both p(x) and p(x') in the outer minimisation (as in the paper's
code). Inner maximisation: :func:`~analogeq.baselines.defences.input_attacks.trades_inputs`
(start x + 0.001 N(0, I), signed/normalised steps, projection). The paper's settings: beta = 6
(1/lambda) on CIFAR-10 with eps 0.031, 10 steps of 0.007; MNIST beta 1 with eps 0.3, 40 steps of
0.01. Defaults: beta 6, eps 0.1, 10 steps of 2.5 * eps / steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import check_finite_loss, kl_divergence
from analogeq.baselines.defences.input_attacks import TRADESInputs
from hardware_models.params import check_float


def trades_loss(logits_clean: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, mean CE term, mean KL term) of the TRADES objective from the two logit batches."""
    ce = F.cross_entropy(logits_clean, y)
    kl = kl_divergence(logits_clean, logits_adv).mean()
    return ce + beta * kl, ce, kl


@dataclass(frozen=True)
class TRADES(TRADESInputs):
    """beta (>= 0, weight of the KL term); eps, norm, steps, step_size (None: 2.5 * eps / steps):
    the fields of :class:`~analogeq.baselines.defences.input_attacks.InputAttackDefence`."""

    beta: float = 6.0

    name = "trades"

    def __post_init__(self) -> None:
        check_float("beta", self.beta, minimum=0.0, owner="TRADES")
        super().__post_init__()

    def loss(self, model, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        loss, ce, kl = trades_loss(model(x), model(x_adv), y, self.beta)
        return check_finite_loss(self.name, loss), {"ce": float(ce.detach()), "kl": float(kl.detach())}

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name, "beta": self.beta, **self.attack_dict()}
