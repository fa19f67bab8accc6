"""Targeted APGD (APGD-T; Croce & Hein 2020), used as an untargeted attack as in AutoAttack.

For target rank t = 2 .. targets + 1 the target class is the class with the t-th highest score
on the clean input; APGD (same schedule as :mod:`~analogeq.robustness.attacks.apgd`) maximises the
targeted DLR loss -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2) (or -CE(z, t) with ``loss="ce"``).
Each target runs only on examples not yet misclassified. Success is misclassification
(any wrong class), as in AutoAttack.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from analogeq.robustness.attacks.apgd import apgd_search, check_schedule, run_with_restarts
from analogeq.robustness.attacks.common import (
    TARGETED_LOSSES,
    AttackResult,
    check_batch,
    check_int,
    check_loss,
    config_dict,
    finish,
    make_generator,
    margin,
    mean_logits,
)
from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate


@dataclass(frozen=True)
class APGDTargeted:
    """APGD-T over ``targets`` target classes (AutoAttack: 9, 100 steps, 1 restart each)."""

    eps: float
    norm: str = "linf"
    steps: int = 100
    targets: int = 9
    restarts: int = 1
    loss: str = "dlr"
    rho: float = 0.75
    momentum: float = 0.75
    gradient: GradientSpec = field(default_factory=GradientSpec)
    eot_samples: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        check_schedule(self)
        check_int("targets", self.targets, 1)
        check_loss(self.loss, ("ce", "dlr"))

    def to_dict(self) -> dict:
        return config_dict("apgd_t", self)

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started = time.perf_counter()
        x, y = check_batch(substrate, x, y)
        n_classes = substrate.num_classes
        if self.loss == "dlr" and n_classes < 4:
            raise ValueError(f"targeted APGD-DLR needs at least 4 classes, the substrate has {n_classes}")
        substrate.reseed(self.seed)
        gen = make_generator(self.seed)
        loss_fn = TARGETED_LOSSES[self.loss]
        n_targets = min(self.targets, n_classes - 1)
        order = mean_logits(substrate, x, self.eot_samples).argsort(dim=1, descending=True)

        best = x.clone()
        best_margin = margin(mean_logits(substrate, x, self.eot_samples), y)
        targets_run = 0
        for rank in range(1, n_targets + 1):
            todo = (best_margin >= 0).nonzero().squeeze(1)
            if todo.numel() == 0:
                break
            targets_run += 1
            target_all = order[:, rank]

            def one_run(idx, todo=todo, target_all=target_all):
                rows = todo[idx]
                yi, ti = y[rows], target_all[rows]
                return apgd_search(
                    substrate, x[rows], yi, lambda z: loss_fn(z, yi, ti),
                    eps=self.eps, norm=self.norm, steps=self.steps, rho=self.rho, momentum=self.momentum,
                    gradient=self.gradient, eot_samples=self.eot_samples, gen=gen,
                )

            cand, _ = run_with_restarts(substrate, x[todo], y[todo], self.restarts, self.eot_samples, one_run)
            cand_margin = margin(mean_logits(substrate, cand, self.eot_samples), y[todo])
            better = cand_margin < best_margin[todo]
            best[todo[better]] = cand[better]
            best_margin[todo[better]] = cand_margin[better]
        return finish("apgd_t", self, substrate, x, y, best, self.norm, started,
                      check_draws=self.eot_samples, extra={"targets_run": targets_run})
