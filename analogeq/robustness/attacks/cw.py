"""Carlini & Wagner L2 attack (Carlini & Wagner 2017, "Towards evaluating the robustness of
neural networks"): a minimum-distortion attack, not bounded by an eps ball.

Change of variable x_adv = (tanh(w) + 1) / 2 keeps every pixel in [0, 1] (the "tanh box").
For a constant c, Adam (learning rate 0.01) minimises

    ||x_adv - x||_2^2 + c * max(z_y - max_{i != y} z_i, -kappa)

(the second term averaged over ``eot_samples`` differentiable draws on a stochastic substrate).
A binary search over c (``search_steps`` = 9, starting at c = 1e-3) keeps, per example, the
smallest-distortion x_adv the attack's own scores classify as wrong with margin kappa; c is
lowered where the attack succeeded and raised (x10 until an upper bound is known) where it did
not. With ``abort_early`` a search step stops when the objective has not fallen by 0.01% over
the last tenth of its iterations. Examples never broken keep x_adv = x.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from analogeq.contract import GradientSpec
from analogeq.robustness.attacks.common import WHITE_BOX, Attack, AttackResult, finish, margin
from analogeq.substrates.base import Substrate
from hardware_models.params import Boolean, Integer, Real

_C_UPPER_UNKNOWN = 1e10


@dataclass(frozen=True)
class CarliniWagnerL2(Attack):
    """C&W L2 (see module docstring). ``confidence`` is kappa (>= 0)."""

    steps: int = 200
    search_steps: int = 9
    initial_c: float = 1e-3
    confidence: float = 0.0
    learning_rate: float = 0.01
    abort_early: bool = True
    gradient: GradientSpec = field(default_factory=GradientSpec)
    eot_samples: int = 1
    seed: int = 0

    name = "cw_l2"
    constraints = {"steps": Integer(minimum=1), "search_steps": Integer(minimum=1),
                   "initial_c": Real(minimum=0.0, exclusive_minimum=True), "confidence": Real(minimum=0.0),
                   "learning_rate": Real(minimum=0.0, exclusive_minimum=True), "abort_early": Boolean(), **WHITE_BOX}

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started, x, y, _ = self.begin(substrate, x, y)
        batch = x.shape[0]
        device = x.device
        w0 = torch.atanh((2.0 * x - 1.0) * (1.0 - 1e-6))
        c = torch.full((batch,), float(self.initial_c), device=device)
        lower = torch.zeros(batch, device=device)
        upper = torch.full((batch,), _C_UPPER_UNKNOWN, device=device)
        best_l2sq = torch.full((batch,), float("inf"), device=device)
        best_adv = x.clone()
        best_c = torch.full((batch,), float("nan"), device=device)
        check_every = max(self.steps // 10, 1)

        for _ in range(self.search_steps):
            modifier = torch.zeros_like(x, requires_grad=True)
            optimizer = torch.optim.Adam([modifier], lr=self.learning_rate)
            succeeded = torch.zeros(batch, dtype=torch.bool, device=device)
            previous = float("inf")
            for it in range(self.steps):
                optimizer.zero_grad()
                total = 0.0
                logits_mean = torch.zeros(batch, substrate.num_classes, device=device)
                for _k in range(self.eot_samples):
                    with torch.enable_grad():
                        x_new = (torch.tanh(w0 + modifier) + 1.0) / 2.0
                        l2sq = ((x_new - x) ** 2).reshape(batch, -1).sum(dim=1)
                        logits = substrate.attack_logits(x_new, self.gradient)
                        f = torch.clamp(margin(logits, y), min=-self.confidence)
                        objective = (l2sq + c * f) / self.eot_samples
                        objective.sum().backward()
                    total += float(objective.detach().sum())
                    logits_mean += logits.detach() / self.eot_samples
                with torch.no_grad():
                    # record before the step: logits_mean belongs to this x_new
                    broken = margin(logits_mean, y) < -self.confidence if self.confidence > 0 else (
                        logits_mean.argmax(dim=1) != y
                    )
                    l2sq = l2sq.detach()
                    better = broken & (l2sq < best_l2sq)
                    best_l2sq[better] = l2sq[better]
                    best_adv[better] = x_new.detach()[better]
                    best_c[better] = c[better]
                    succeeded |= broken
                if not all(torch.isfinite(p.grad).all() for p in [modifier]):
                    raise RuntimeError("C&W: the gradient contains NaN or infinite values; check attack_logits")
                optimizer.step()
                if self.abort_early and (it + 1) % check_every == 0:
                    if total > previous * 0.9999:
                        break
                    previous = total
            with torch.no_grad():
                upper = torch.where(succeeded, torch.minimum(upper, c), upper)
                lower = torch.where(succeeded, lower, torch.maximum(lower, c))
                known = upper < _C_UPPER_UNKNOWN
                c = torch.where(known, (lower + upper) / 2.0, c * 10.0)

        return finish(
            self.name, self, substrate, x, y, best_adv, "l2", started, check_draws=self.eot_samples,
            extra={"c_of_best": [None if v != v else float(v) for v in best_c.cpu().tolist()]},
        )
