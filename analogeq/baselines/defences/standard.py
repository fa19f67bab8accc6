"""Standard training: L = 1/B sum_i CE(f(x_i), y_i). No input or weight perturbation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import Defence, check_finite_loss


@dataclass(frozen=True)
class Standard(Defence):
    """Empirical risk minimisation with the cross-entropy (no defence)."""

    name = "standard"

    def loss(self, model, x: torch.Tensor, x_adv: Any, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        loss = F.cross_entropy(model(x), y)
        return check_finite_loss(self.name, loss), {"ce": float(loss.detach())}
