"""Energy view: E(x) = -logsumexp f(x), AUROC, natural against adversarial (FGSM) inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score
from torch import nn

from fixtures_robustness import NoisyLogits, float_substrate, plain_fgsm

from analogeq.robustness.energy import EnergyComparison, auroc, energy, energy_comparison


class ConstantLogits(nn.Module):
    def __init__(self, value, classes):
        super().__init__()
        self.value, self.classes = value, classes

    def forward(self, x):
        return torch.full((x.shape[0], self.classes), self.value)


def test_energy_is_minus_logsumexp_of_the_logits(nearest_mean_digits):
    substrate, x, _ = nearest_mean_digits
    e = energy(substrate, x[:50], batch_size=7)
    ref = -logsumexp(substrate.logits(x[:50]).double().numpy(), axis=1)
    np.testing.assert_allclose(e.numpy(), ref, rtol=1e-6)  # float32 logits, batch 7 against 50
    const = float_substrate(ConstantLogits(1.5, 4), classes=4)
    # K equal logits c: E = -(c + log K)
    np.testing.assert_allclose(energy(const, x[:3]).numpy(), -(1.5 + math.log(4)), rtol=1e-6)


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    neg = np.round(rng.normal(0.0, 1.0, 200), 1)
    pos = np.round(rng.normal(0.5, 1.0, 150), 1)
    ref = roc_auc_score(np.r_[np.zeros(200), np.ones(150)], np.r_[neg, pos])
    assert auroc(neg, pos) == pytest.approx(ref, rel=1e-12)
    assert auroc([0.0, 1.0], [2.0, 3.0]) == 1.0 and auroc([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert auroc([1.0, 1.0], [1.0]) == 0.5


def test_energy_comparison_summary_and_fgsm(nearest_mean_digits):
    substrate, x, y = nearest_mean_digits
    x_nat, y_nat = x[1400:], y[1400:]
    same = energy_comparison(substrate, x_nat, x_nat)
    assert same.auroc == 0.5 and same.mean_gap == 0.0
    x_adv = plain_fgsm(substrate, x_nat, y_nat, 0.1)
    cmp = energy_comparison(substrate, x_nat, x_adv, batch_size=100)
    assert isinstance(cmp, EnergyComparison)
    e_nat, e_adv = energy(substrate, x_nat).numpy(), energy(substrate, x_adv).numpy()
    d = cmp.to_dict()
    assert d["natural_mean"] == pytest.approx(e_nat.mean()) and d["adversarial_std"] == pytest.approx(e_adv.std(ddof=1))
    assert d["mean_gap"] == pytest.approx(e_adv.mean() - e_nat.mean())
    assert d["auroc"] == pytest.approx(roc_auc_score(np.r_[np.zeros(e_nat.size), np.ones(e_adv.size)], np.r_[e_nat, e_adv]))
    assert d["separation"] == max(d["auroc"], 1 - d["auroc"])
    # measured for this linear model: FGSM at 0.1 raises the energy (auroc 0.62, gap +0.9)
    assert d["auroc"] > 0.55 and d["mean_gap"] > 0.0
    assert "natural" not in d and len(cmp.to_dict(include_samples=True)["adversarial"]) == e_adv.size


def test_energy_on_a_stochastic_substrate_is_seeded_and_averaged(nearest_mean_digits):
    substrate, x, _ = nearest_mean_digits
    noisy = NoisyLogits(substrate, noise=1.0)
    noisy.reseed(3)
    a = energy(noisy, x[:40])
    noisy.reseed(3)
    b = energy(noisy, x[:40])
    assert torch.equal(a, b)
    exact = energy(substrate, x[:40])
    one = torch.stack([energy(noisy, x[:40]) for _ in range(20)])
    many = torch.stack([energy(noisy, x[:40], n_draws=16) for _ in range(20)])
    assert (many.std(dim=0).mean() < 0.5 * one.std(dim=0).mean()).item()  # ~1/4 expected
    assert (one.mean(dim=0) - exact).abs().mean() < 1.0


def test_bad_input(nearest_mean_digits):
    substrate, x, _ = nearest_mean_digits
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        energy(substrate, x[:3] * 2.0 + 0.5)
    with pytest.raises(ValueError, match="empty batch"):
        energy_comparison(substrate, x[:0], x[:3])
    with pytest.raises(ValueError, match="batch_size"):
        energy(substrate, x[:3], batch_size=0)
    with pytest.raises(ValueError, match="n_draws"):
        energy(substrate, x[:3], n_draws=0)
    with pytest.raises(ValueError, match="both sides"):
        auroc([], [1.0])
