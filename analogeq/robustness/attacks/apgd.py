"""Auto-PGD (APGD; Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks", Algorithm 1) with the cross-entropy or the DLR loss.

Step-size schedule without tuning (the paper's values are the defaults):

* first step size eta = 2 * eps; first step without momentum;
* update with momentum alpha = 0.75:
      z      = P(x_k + eta * d(g_k))                          d = sign (L_inf) or g/||g||_2 (L2)
      x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))
* checkpoints w_0 = 0, w_1 = 0.22 N, w_{j+1} = w_j + max(w_j - w_{j-1} - 0.03 N, 0.06 N);
  at each checkpoint, per example, eta is halved and the iterate restarts from the best point
  so far when
      (1) the loss grew in fewer than rho = 0.75 of the steps since the last checkpoint, or
      (2) eta was not halved at the last checkpoint and the best loss has not improved since.

The attack returns, per example, the first iterate found misclassified (by the attack's own
forward pass) or else the iterate with the highest loss. Restarts (from random points of the
ball) run only on examples not yet misclassified by ``substrate.logits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

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
    keep_lowest_margin,
    project,
    random_start,
)
from analogeq.robustness.eot import loss_and_gradient
from analogeq.substrates.base import Substrate
from hardware_models.params import Integer, OneOf, Real


def checkpoint_lengths(steps: int) -> tuple[int, int, int]:
    """(first interval, minimum interval, decrease) in iterations: 0.22 N, 0.06 N, 0.03 N (each >= 1)."""
    return max(int(math.ceil(0.22 * steps)), 1), max(int(math.ceil(0.06 * steps)), 1), max(int(math.ceil(0.03 * steps)), 1)


def apgd_search(
    substrate: Substrate,
    x0: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    eps: float,
    norm: str,
    steps: int,
    rho: float,
    momentum: float,
    gradient: GradientSpec,
    eot_samples: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """One APGD run from a random start (see module docstring); returns the chosen iterates."""
    batch = x0.shape[0]
    device = x0.device
    view = (-1,) + (1,) * (x0.dim() - 1)

    def evaluate(point):
        return loss_and_gradient(substrate, point, loss_fn, gradient, eot_samples)

    x_adv = random_start(x0, eps, norm, gen)
    loss, grad, logits = evaluate(x_adv)
    eta = torch.full((batch,), 2.0 * eps, device=device)
    x_best, loss_best, grad_best = x_adv.clone(), loss.clone(), grad.clone()
    fooled = logits.argmax(dim=1) != y
    x_best_adv = torch.where(fooled.reshape(view), x_adv, x0)

    interval, interval_min, interval_decr = checkpoint_lengths(steps)
    since_check = 0
    increases = torch.zeros(batch, device=device)
    loss_prev = loss.clone()
    loss_best_at_check = loss_best.clone()
    reduced_at_check = torch.zeros(batch, dtype=torch.bool, device=device)
    x_prev = x_adv.clone()

    for i in range(steps):
        alpha = 1.0 if i == 0 else momentum
        with torch.no_grad():
            z = project(x_adv + eta.reshape(view) * ascent_direction(grad, norm), x0, eps, norm)
            x_new = project(x_adv + alpha * (z - x_adv) + (1.0 - alpha) * (x_adv - x_prev), x0, eps, norm)
            x_prev, x_adv = x_adv, x_new
        loss, grad, logits = evaluate(x_adv)

        now_fooled = logits.argmax(dim=1) != y
        newly = now_fooled & ~fooled
        x_best_adv[newly] = x_adv[newly]
        fooled |= now_fooled

        increases += (loss > loss_prev).float()
        loss_prev = loss.clone()
        improved = loss > loss_best
        x_best[improved] = x_adv[improved]
        grad_best[improved] = grad[improved]
        loss_best[improved] = loss[improved]

        since_check += 1
        if since_check == interval:
            oscillating = increases <= rho * interval
            stalled = ~reduced_at_check & (loss_best_at_check >= loss_best)
            reduce = oscillating | stalled
            reduced_at_check = reduce
            loss_best_at_check = loss_best.clone()
            eta[reduce] /= 2.0
            x_adv[reduce] = x_best[reduce]
            grad[reduce] = grad_best[reduce]
            interval = max(interval - interval_decr, interval_min)
            since_check = 0
            increases.zero_()

    return torch.where(fooled.reshape(view), x_best_adv, x_best)


@dataclass(frozen=True)
class APGDSchedule(Attack):
    """The fields every APGD variant shares (the schedule of the module docstring) and one run
    of it with restarts; :class:`APGD` and
    :class:`~analogeq.robustness.attacks.apgd_targeted.APGDTargeted` add their loss."""

    eps: float
    norm: str = "linf"
    steps: int = 100
    restarts: int = 1
    rho: float = 0.75
    momentum: float = 0.75
    gradient: GradientSpec = field(default_factory=GradientSpec)
    eot_samples: int = 1
    seed: int = 0

    constraints = {"eps": EPS, "norm": NORM, "steps": Integer(minimum=1), "restarts": Integer(minimum=1),
                   "rho": Real(minimum=0.0, maximum=1.0), "momentum": Real(minimum=0.0, maximum=1.0), **WHITE_BOX}

    def search_with_restarts(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor,
                             loss_of: Callable[[torch.Tensor], Callable[[torch.Tensor], torch.Tensor]],
                             gen: torch.Generator) -> tuple[torch.Tensor, int]:
        """``restarts`` APGD runs on (x, y), each only on the examples not yet misclassified;
        ``loss_of(rows)`` is the loss of the examples ``rows`` (indices into x)."""

        def one_run(_, rows):
            return apgd_search(substrate, x[rows], y[rows], loss_of(rows), eps=self.eps, norm=self.norm,
                               steps=self.steps, rho=self.rho, momentum=self.momentum, gradient=self.gradient,
                               eot_samples=self.eot_samples, gen=gen)

        return keep_lowest_margin(substrate, x, y, self.restarts, self.eot_samples, one_run)


@dataclass(frozen=True)
class APGD(APGDSchedule):
    """Untargeted APGD; ``loss="ce"`` is APGD-CE, ``loss="dlr"`` is APGD-DLR (needs >= 3 classes)."""

    loss: str = "ce"

    constraints = {**APGDSchedule.constraints, "loss": OneOf(("ce", "dlr"))}

    @property
    def name(self) -> str:
        return f"apgd_{self.loss}"

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started, x, y, gen = self.begin(substrate, x, y)
        if self.loss == "dlr" and substrate.num_classes < 3:
            raise ValueError(f"APGD-DLR needs at least 3 classes, the substrate has {substrate.num_classes}")
        loss_fn = UNTARGETED_LOSSES[self.loss]

        def loss_of(rows):
            yi = y[rows]
            return lambda z: loss_fn(z, yi)

        best, runs = self.search_with_restarts(substrate, x, y, loss_of, gen)
        return finish(self.name, self, substrate, x, y, best, self.norm, started,
                      check_draws=self.eot_samples, extra={"restarts_run": runs})
