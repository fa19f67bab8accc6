"""PGD adversarial training (Madry et al. 2018, "Towards deep learning models resistant to
adversarial attacks").

    min_theta 1/B sum_i CE(f(x'_i), y_i),   x'_i ~= argmax_{||x' - x_i|| <= eps} CE(f(x'), y_i)

with x' from the harness's PGD (random start, ``steps`` projected steps). The paper's settings:
MNIST L_inf eps 0.3, 40 steps of 0.01 (Adam 1e-4); CIFAR-10 L_inf eps 8/255, 7 steps of 2/255
(SGD). Defaults here are for digits with the harness's headline radius: eps 0.1, 10 steps of
2.5 * eps / steps (the harness default; 8/255 with 10 steps gives 2/255, Madry's CIFAR step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import check_finite_loss
from analogeq.baselines.defences.input_attacks import PGDInputs


@dataclass(frozen=True)
class PGDAT(PGDInputs):
    """eps (>= 0, the radius in ``norm``), norm ("linf" or "l2"), steps, step_size (None:
    2.5 * eps / steps): the fields of
    :class:`~analogeq.baselines.defences.input_attacks.InputAttackDefence`."""

    name = "pgd_at"

    def loss(self, model, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        """CE(f(x'), y), mean over the batch."""
        loss = F.cross_entropy(model(x_adv), y)
        return check_finite_loss(self.name, loss), {"ce_adv": float(loss.detach())}

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name, **self.attack_dict()}
