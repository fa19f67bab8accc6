"""Weighted energy adversarial training (WEAT; Mirza, Briglia, Beadini & Masi, ECCV 2024,
"Shedding more light on robust classifiers under the lens of energy-based models").

A classifier f is read as an EBM with the free energy E(x) = -logsumexp_k f_k(x). WEAT is TRADES
with a per-example weight that down-weights examples of large |E| (high-confidence, low-energy
natural images, which the paper links to robust overfitting):

    w_i = 1 / softplus(|E(x_i)|) = 1 / log(1 + exp(|E(x_i)|))     (natural x_i; no gradient)

    WEAT_adv:  L = 1/B sum_i w_i [ CE(f(x'_i), y_i) + beta * KL(p(x_i) || p(x'_i)) ]
    WEAT_nat:  L = 1/B sum_i w_i [ CE(f(x_i),  y_i) + beta * KL(p(x_i) || p(x'_i)) ]

with x' the TRADES inner maximiser of KL(p(x) || p(x')) (start x + 0.001 N(0, I)). The weights
are *not* renormalised (divided by B, not by sum w). This is what the authors' released code
computes (their WEAT_adv uses beta 7, WEAT_nat beta 6; CIFAR-10 eps 0.031, 10 steps of 0.007).
Differences: softplus is evaluated stably (their log(1 + exp(.)) overflows for |E| > 88 in
float32) and log q uses log_softmax instead of log(softmax + 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from analogeq.baselines.defences.common import check_finite_loss, energy, kl_divergence
from analogeq.baselines.defences.input_attacks import TRADESInputs
from hardware_models.params import check_float, check_one_of

WEAT_VARIANTS = ("adv", "nat")
#: beta of the authors' code per variant
WEAT_DEFAULT_BETA = {"adv": 7.0, "nat": 6.0}


def weat_weights(logits_clean: torch.Tensor) -> torch.Tensor:
    """w_i = 1 / softplus(|E(x_i)|), E = -logsumexp f, detached: (B,)."""
    return 1.0 / F.softplus(energy(logits_clean.detach()).abs())


def weat_loss(logits_clean: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor, beta: float, variant: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, weights) of WEAT (see module docstring)."""
    w = weat_weights(logits_clean)
    ce = F.cross_entropy(logits_adv if variant == "adv" else logits_clean, y, reduction="none")
    kl = kl_divergence(logits_clean, logits_adv)
    return (w * (ce + beta * kl)).mean(), w


@dataclass(frozen=True)
class WEAT(TRADESInputs):
    """variant ("adv": CE on x', the paper's WEAT_adv; "nat": CE on x); beta (>= 0; None: 7 for
    adv, 6 for nat, the authors' values); eps, norm, steps, step_size of the TRADES inner problem."""

    variant: str = "adv"
    beta: float | None = None

    name = "weat"

    def __post_init__(self) -> None:
        check_one_of("variant", self.variant, WEAT_VARIANTS, owner="WEAT")
        if self.beta is None:
            object.__setattr__(self, "beta", WEAT_DEFAULT_BETA[self.variant])
        check_float("beta", self.beta, minimum=0.0, owner="WEAT")
        super().__post_init__()

    def loss(self, model, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, generator=None) -> tuple[torch.Tensor, dict[str, float]]:
        loss, w = weat_loss(model(x), model(x_adv), y, float(self.beta), self.variant)
        return check_finite_loss(self.name, loss), {"mean_weight": float(w.mean())}

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name, "variant": self.variant, "beta": self.beta, **self.attack_dict()}
