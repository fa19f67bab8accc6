"""The inner maximisations of adversarial training, built on the robustness harness.

* :func:`pgd_inputs` (PGD-AT, AT-AWP): the harness's :class:`~analogeq.robustness.attacks.PGD`
  on the cross-entropy, random start, one restart, returning its last iterate.
* :func:`trades_inputs` (TRADES, TRADES-AWP, WEAT): the TRADES inner problem

      x' = argmax_{||x' - x|| <= eps} KL(p(x) || p(x')),   p = softmax f

  from x' = x + 0.001 N(0, I) (Zhang et al. 2019: the KL and its gradient vanish at x' = x),
  by projected steps x' <- Proj(x' + step * d), d = sign(g) (L_inf) or g/||g||_2 (L2). The
  harness's PGD takes its loss from a fixed list of label losses (ce, margin, dlr), so this loop
  uses the harness's own pieces instead: ``loss_and_gradient`` (gradient through
  ``substrate.attack_logits``), ``ascent_direction`` and ``project``; no projection or step rule
  is re-implemented here.

:class:`PGDInputs` and :class:`TRADESInputs` are the bases of the defences that train on these
examples (PGD-AT and AT-AWP's base; TRADES, WEAT): the fields ``eps``, ``norm``, ``steps``,
``step_size`` are checked, written to JSON and passed to the attack in one place.
"""

from __future__ import annotations

import torch

from dataclasses import dataclass
from typing import Any

from analogeq.baselines.defences.common import Defence, check_attack_fields, effective_step_size, kl_divergence
from analogeq.robustness.attacks import PGD
from analogeq.robustness.attacks.common import ascent_direction, make_generator, project, randn_like
from analogeq.robustness.eot import loss_and_gradient
from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate

#: std of the TRADES start x + 0.001 N(0, I) (Zhang et al. 2019, their released code)
TRADES_START_STD = 0.001


def pgd_inputs(substrate: Substrate, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str,
               steps: int, step_size: float, seed: int) -> torch.Tensor:
    """PGD adversarial examples (harness PGD, random start, one restart, CE loss)."""
    attack = PGD(eps=float(eps), norm=norm, steps=int(steps), step_size=float(step_size), random_start=True,
                 restarts=1, loss="ce", seed=int(seed))
    return attack(substrate, x, y).x_adv.detach()


def trades_inputs(substrate: Substrate, x: torch.Tensor, *, eps: float, norm: str, steps: int,
                  step_size: float, seed: int) -> torch.Tensor:
    """TRADES adversarial examples maximising KL(p(x) || p(x')) (see module docstring)."""
    x = x.detach()
    with torch.no_grad():
        logits_clean = substrate.logits(x).detach()
    gen = make_generator(seed)
    x_adv = project(x + TRADES_START_STD * randn_like(x, gen), x, eps, norm)
    for _ in range(steps):
        _, grad, _ = loss_and_gradient(substrate, x_adv, lambda z: kl_divergence(logits_clean, z), GradientSpec(), 1)
        x_adv = project(x_adv + step_size * ascent_direction(grad, norm), x, eps, norm)
    return x_adv.detach()


@dataclass(frozen=True, kw_only=True)
class InputAttackDefence(Defence):
    """The fields of the input attack of an adversarial-training defence (keyword-only, so that
    each defence's own hyperparameter stays its first positional field):

    eps: radius of the perturbation in ``norm``, >= 0 (0.1: the harness's digits headline radius);
    norm: "linf" or "l2";
    steps: projected ascent steps, >= 1;
    step_size: > 0, or None for the harness's PGD default 2.5 * eps / steps.
    """

    eps: float = 0.1
    norm: str = "linf"
    steps: int = 10
    step_size: float | None = None

    def __post_init__(self) -> None:
        self.check_attack()

    def check_attack(self) -> None:
        check_attack_fields(type(self).__name__, self.eps, self.norm, self.steps, self.step_size)

    def attack_dict(self) -> dict[str, Any]:
        """The attack fields and the step size actually used, for ``to_dict``."""
        return {"eps": self.eps, "norm": self.norm, "steps": self.steps, "step_size": self.step_size,
                "effective_step_size": effective_step_size(self.eps, self.steps, self.step_size)}

    def attack_args(self, seed: int) -> dict[str, Any]:
        """Keyword arguments of :func:`pgd_inputs` / :func:`trades_inputs` for one batch."""
        return {"eps": self.eps, "norm": self.norm, "steps": self.steps,
                "step_size": effective_step_size(self.eps, self.steps, self.step_size), "seed": seed}


class PGDInputs(InputAttackDefence):
    """Trains on :func:`pgd_inputs` (the CE maximiser)."""

    def perturb_inputs(self, substrate, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        return pgd_inputs(substrate, x, y, **self.attack_args(seed))


class TRADESInputs(InputAttackDefence):
    """Trains on :func:`trades_inputs` (the KL(p(x) || p(x')) maximiser)."""

    def perturb_inputs(self, substrate, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
        return trades_inputs(substrate, x, **self.attack_args(seed))
