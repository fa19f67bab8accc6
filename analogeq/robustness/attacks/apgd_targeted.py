"""Targeted APGD (APGD-T; Croce & Hein 2020), used as an untargeted attack as in AutoAttack.

For target rank t = 2 .. targets + 1 the target class is the class with the t-th highest score
on the clean input; APGD (same schedule as :mod:`~analogeq.robustness.attacks.apgd`) maximises the
targeted DLR loss -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2) (or -CE(z, t) with ``loss="ce"``).
Each target runs only on examples not yet misclassified. Success is misclassification
(any wrong class), as in AutoAttack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from analogeq.robustness.attacks.apgd import APGDSchedule
from analogeq.robustness.attacks.common import (
    TARGETED_LOSSES,
    AttackResult,
    finish,
    keep_lowest_margin,
    margin,
    mean_logits,
)
from analogeq.substrates.base import Substrate
from hardware_models.params import Integer, OneOf


@dataclass(frozen=True)
class APGDTargeted(APGDSchedule):
    """APGD-T over ``targets`` target classes (AutoAttack: 9, 100 steps, 1 restart each)."""

    targets: int = 9
    loss: str = "dlr"

    name = "apgd_t"
    constraints = {**APGDSchedule.constraints, "targets": Integer(minimum=1), "loss": OneOf(("ce", "dlr"))}

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started, x, y, gen = self.begin(substrate, x, y)
        n_classes = substrate.num_classes
        if self.loss == "dlr" and n_classes < 4:
            raise ValueError(f"targeted APGD-DLR needs at least 4 classes, the substrate has {n_classes}")
        loss_fn = TARGETED_LOSSES[self.loss]
        n_targets = min(self.targets, n_classes - 1)
        order = mean_logits(substrate, x, self.eot_samples).argsort(dim=1, descending=True)

        def one_target(index, todo):
            """APGD with restarts on the examples ``todo`` towards their class of rank index + 1."""
            xt, yt, target = x[todo], y[todo], order[todo, index + 1]

            def loss_of(rows):
                yi, ti = yt[rows], target[rows]
                return lambda z: loss_fn(z, yi, ti)

            return self.search_with_restarts(substrate, xt, yt, loss_of, gen)[0]

        best, targets_run = keep_lowest_margin(substrate, x, y, n_targets, self.eot_samples, one_target,
                                               best_margin=margin(mean_logits(substrate, x, self.eot_samples), y))
        return finish(self.name, self, substrate, x, y, best, self.norm, started,
                      check_draws=self.eot_samples, extra={"targets_run": targets_run})
