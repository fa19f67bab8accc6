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
"""

from __future__ import annotations

import torch

from analogeq.baselines.defences.common import kl_divergence
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
