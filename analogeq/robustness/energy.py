"""The energy view of a classifier: E(x) = -logsumexp_y f(x)[y] on natural and adversarial inputs.

Any classifier with logits f(x) defines an energy-based model of its inputs,
p(x) proportional to exp(-E(x)) with E(x) = -log sum_y exp f(x)[y] (Grathwohl et al. 2020, "Your
classifier is secretly an energy based model"). Mirza et al. (seed 001 of this project,
"Shedding more light on robust classifiers under the lens of energy-based models", ECCV 2024,
arXiv 2407.06315)
read adversarial training through it: untargeted attacks move inputs to *lower* energy than
the natural data (more "in-distribution" for the model), targeted attacks to higher energy;
robust overfitting shows as a growing gap between natural and adversarial energies; TRADES
works by aligning the two, and their Weighted Energy Adversarial Training (WEAT) weights
training examples by energy. :func:`energy_comparison` measures exactly these two
distributions and how well the energy alone separates them (AUROC), so the question can be
asked of every substrate: does device noise, like adversarial training, bring the natural
and adversarial energies together?

Not to be confused with the Hopfield-like energy that an EqProp network minimises while it
settles (``analogeq.ebm``): this is the energy of the *classifier's* output, defined for any
substrate, feed-forward or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats

from analogeq.substrates.base import Substrate
from analogeq.contract import check_input
from hardware_models.params import check_int


def _check_batch(substrate: Substrate, x: Any, field: str) -> None:
    check_input(x, substrate.input_shape, name=field)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{field} must have pixel values in [0, 1], got min {lo:.6g} and max {hi:.6g}")


def energy(substrate: Substrate, x: torch.Tensor, batch_size: int = 256, n_draws: int = 1) -> torch.Tensor:
    """E(x) = -logsumexp(logits) per input, float64 (B,), in the units of the logits.

    On a stochastic substrate the energy of one draw is averaged over ``n_draws`` draws.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n_draws = check_int("n_draws", n_draws, minimum=1)
    _check_batch(substrate, x, "x")
    parts = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size].to(substrate.device)
        total = torch.zeros(xb.shape[0], dtype=torch.float64)
        for _ in range(n_draws):
            total += -torch.logsumexp(substrate.logits(xb).double(), dim=-1).cpu()
        parts.append(total / n_draws)
    return torch.cat(parts)


def auroc(negative: np.ndarray | torch.Tensor, positive: np.ndarray | torch.Tensor) -> float:
    """Area under the ROC curve of a score separating ``positive`` from ``negative`` samples:
    P(score_pos > score_neg) + P(tie) / 2, from the Mann-Whitney U statistic (midranks)."""
    neg = np.asarray(torch.as_tensor(negative).detach().cpu(), dtype=np.float64).ravel()
    pos = np.asarray(torch.as_tensor(positive).detach().cpu(), dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ValueError(f"auroc needs samples on both sides, got {neg.size} negative and {pos.size} positive")
    ranks = stats.rankdata(np.concatenate([neg, pos]))
    u = ranks[neg.size :].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (neg.size * pos.size))


@dataclass(frozen=True)
class EnergyComparison:
    """Energies of natural and adversarial inputs and their summary.

    ``auroc``: P(E_adversarial > E_natural) (+ ties / 2): 0.5 = the energy does not separate
    them, above 0.5 = adversarial inputs sit at higher energy, below 0.5 = at lower energy (what
    Mirza et al. find for untargeted attacks). ``separation`` = max(auroc, 1 - auroc).
    """

    natural: np.ndarray
    adversarial: np.ndarray

    @property
    def natural_mean(self) -> float:
        return float(self.natural.mean())

    @property
    def natural_std(self) -> float:
        return float(self.natural.std(ddof=1)) if self.natural.size > 1 else float("nan")

    @property
    def adversarial_mean(self) -> float:
        return float(self.adversarial.mean())

    @property
    def adversarial_std(self) -> float:
        return float(self.adversarial.std(ddof=1)) if self.adversarial.size > 1 else float("nan")

    @property
    def mean_gap(self) -> float:
        """mean E_adversarial - mean E_natural."""
        return self.adversarial_mean - self.natural_mean

    @property
    def auroc(self) -> float:
        return auroc(self.natural, self.adversarial)

    @property
    def separation(self) -> float:
        a = self.auroc
        return max(a, 1.0 - a)

    def to_dict(self, include_samples: bool = False) -> dict[str, Any]:
        """JSON-ready summary (and the raw energies if ``include_samples``)."""
        out: dict[str, Any] = {
            "natural_mean": self.natural_mean,
            "natural_std": self.natural_std,
            "adversarial_mean": self.adversarial_mean,
            "adversarial_std": self.adversarial_std,
            "mean_gap": self.mean_gap,
            "auroc": self.auroc,
            "separation": self.separation,
            "n_natural": int(self.natural.size),
            "n_adversarial": int(self.adversarial.size),
        }
        if include_samples:
            out["natural"] = self.natural.tolist()
            out["adversarial"] = self.adversarial.tolist()
        return out


def energy_comparison(
    substrate: Substrate,
    x_natural: torch.Tensor,
    x_adversarial: torch.Tensor,
    batch_size: int = 256,
    n_draws: int = 1,
) -> EnergyComparison:
    """Energies of natural inputs and of an adversarial batch (any attack's output) on one substrate."""
    e_nat = energy(substrate, x_natural, batch_size=batch_size, n_draws=n_draws).numpy()
    e_adv = energy(substrate, x_adversarial, batch_size=batch_size, n_draws=n_draws).numpy()
    return EnergyComparison(natural=e_nat, adversarial=e_adv)
