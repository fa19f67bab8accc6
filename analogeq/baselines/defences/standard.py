"""Standard training: L = 1/B sum_i CE(f(x_i), y_i). No input or weight perturbation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import check_finite_loss


@dataclass(frozen=True)
class Standard:
    """Empirical risk minimisation with the cross-entropy (no defence)."""

    name = "standard"

    def perturb_inputs(self, substrate, x, y, seed: int) -> None:
        return None

    def weight_perturbation(self, model, x, x_adv, y, generator=None, epoch=None) -> None:
        return None

    def loss(self, model, x: torch.Tensor, x_adv: Any, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        loss = F.cross_entropy(model(x), y)
        return check_finite_loss(self.name, loss), {"ce": float(loss.detach())}

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name}
