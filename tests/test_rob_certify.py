"""Randomized smoothing: Clopper-Pearson bound, radius, abstention, closed-form classifiers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from analogeq.robustness.certify import (
    ABSTAIN,
    Certification,
    certified_accuracy,
    certified_radius,
    certify,
    lower_confidence_bound,
    predict_smoothed,
    summarize,
)
from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate
from fixtures_robustness import NoisyLogits, float_substrate

SHAPE = (1, 4, 4)


class ScriptedSubstrate(Substrate):
    """Returns class ``pattern[i mod len(pattern)]`` for draw i: exact known counts.

    Draws are numbered over all calls since the last reseed. ``ScriptedSubstrate(hits, period)``
    is class 0 for (i mod period) < hits, else class 1, so n draws (n a multiple of ``period``)
    hold exactly n * hits / period votes for class 0.
    """

    name = "scripted"
    input_shape = SHAPE
    num_classes = 3
    device = torch.device("cpu")

    def __init__(self, hits: int = 0, period: int = 1, pattern: list[int] | None = None):
        self.pattern = torch.tensor(pattern if pattern is not None else [0] * hits + [1] * (period - hits))
        self.i = 0

    @property
    def stochastic(self) -> bool:
        return True

    def logits(self, x):
        idx = torch.arange(self.i, self.i + x.shape[0])
        self.i += x.shape[0]
        cls = self.pattern[idx % len(self.pattern)]
        return nn.functional.one_hot(cls, self.num_classes).float()

    def attack_logits(self, x, gradient=GradientSpec()):
        raise NotImplementedError

    def reseed(self, seed):
        self.i = 0

    def describe(self):
        return {"substrate": self.name}


class FirstPixelThreshold(nn.Module):
    """Linear classifier: class 1 if pixel 0 exceeds 0.5, else class 0."""

    def forward(self, x):
        z = (x.flatten(1)[:, 0] - 0.5) * 100.0
        return torch.stack([-z, z], dim=1)


class Constant(nn.Module):
    def forward(self, x):
        out = torch.zeros(x.shape[0], 4)
        out[:, 3] = 1.0
        return out


def x_batch(values=(0.3,)) -> torch.Tensor:
    x = torch.full((len(values), *SHAPE), 0.5)
    for i, v in enumerate(values):
        x[i, 0, 0, 0] = v
    return x


# ----------------------------------------------------------------------------- formulas


@pytest.mark.parametrize("count,n,alpha", [(700, 1000, 0.001), (51, 100, 0.05), (100000, 100000, 0.001), (1, 10, 0.1)])
def test_lower_bound_is_the_clopper_pearson_beta_quantile(count, n, alpha):
    p = lower_confidence_bound(count, n, alpha)
    assert p == pytest.approx(stats.beta.ppf(alpha, count, n - count + 1), rel=1e-12)
    # independent check: at p_lower, seeing >= count successes has probability exactly alpha
    assert stats.binom.sf(count - 1, n, p) == pytest.approx(alpha, rel=1e-6)


def test_lower_bound_edges():
    assert lower_confidence_bound(0, 50, 0.01) == 0.0
    assert lower_confidence_bound(10, 10, 0.01) == pytest.approx(0.01 ** (1 / 10))  # Beta(n, 1)
    with pytest.raises(ValueError, match="count must be <= n"):
        lower_confidence_bound(11, 10, 0.01)


def test_certified_radius_closed_form():
    assert certified_radius(0.9, 0.25) == pytest.approx(0.25 * stats.norm.ppf(0.9))
    assert certified_radius(0.5, 0.25) == 0.0 and certified_radius(0.3, 0.25) == 0.0


# ------------------------------------------------------------------------------ CERTIFY


@pytest.mark.parametrize("hits", [7, 9, 10])
def test_certify_radius_from_constructed_counts(hits):
    sub = ScriptedSubstrate(hits=hits, period=10)
    sigma, n, alpha = 0.5, 1000, 0.001
    pred, radius = certify(sub, x_batch(), sigma, n0=10, n=n, alpha=alpha, batch_size=100, seed=0)
    n_a = n * hits // 10
    p_lower = stats.beta.ppf(alpha, n_a, n - n_a + 1)
    assert int(pred[0]) == 0
    assert float(radius[0]) == pytest.approx(sigma * stats.norm.ppf(p_lower), rel=1e-12)


@pytest.mark.parametrize(
    "pattern,n_a,n",
    [
        ([0] * 9 + [1] * 6 + [2] * 5, 450, 1000),  # top class 45% of three
        ([0] * 5 + [1] * 5, 500, 1000),  # a tie
        ([0] * 52 + [1] * 48, 52, 100),  # point estimate .52, but the 99.9% lower bound is .35
    ],
)
def test_certify_abstains_when_the_lower_bound_is_below_one_half(pattern, n_a, n):
    sub = ScriptedSubstrate(pattern=pattern)
    assert lower_confidence_bound(n_a, n, 0.001) < 0.5
    pred, radius = certify(sub, x_batch(), 0.25, n0=len(pattern), n=n, alpha=0.001, batch_size=64, seed=0)
    assert int(pred[0]) == ABSTAIN and float(radius[0]) == 0.0


def test_smoothed_constant_classifier_certifies_the_maximal_radius():
    # n_A = n: p_lower = Beta(alpha; n, 1) quantile = alpha^(1/n); R = sigma PhiInv(alpha^(1/n))
    sub = float_substrate(Constant(), SHAPE, 4)
    sigma, n, alpha = 0.25, 100_000, 0.001
    pred, radius = certify(sub, x_batch((0.1, 0.9)), sigma, n0=100, n=n, alpha=alpha, batch_size=10_000, seed=1)
    expected = sigma * stats.norm.ppf(alpha ** (1.0 / n))
    assert pred.tolist() == [3, 3]
    np.testing.assert_allclose(radius.numpy(), expected, rtol=1e-9)
    assert expected == pytest.approx(0.25 * 3.8106, rel=1e-3)  # ~3.8 sigma, Cohen et al. 2019 section 4


def test_linear_classifier_radius_approaches_the_distance_to_the_boundary():
    # f = [x_0 > .5]; under N(0, sigma^2) noise p_A = Phi(|.5 - x_0| / sigma), so the exact
    # certified radius sigma PhiInv(p_A) is the distance |.5 - x_0| (the bound is tight for
    # linear classifiers, Cohen et al. 2019, section 3.1). With a lower bound on p_A the
    # certificate is a little smaller, never larger.
    sub = float_substrate(FirstPixelThreshold(), SHAPE, 2)
    x = x_batch((0.3, 0.8, 0.45))
    pred, radius = certify(sub, x, sigma=0.25, n0=100, n=20_000, alpha=0.001, batch_size=5000, seed=2)
    assert pred.tolist() == [0, 1, 0]
    distance = np.array([0.2, 0.3, 0.05])
    assert (radius.numpy() <= distance).all()
    np.testing.assert_allclose(radius.numpy(), distance, atol=0.02)


def test_certify_is_seeded_on_a_stochastic_substrate():
    sub = NoisyLogits(float_substrate(FirstPixelThreshold(), SHAPE, 2), noise=20.0)
    x = x_batch((0.4, 0.55))
    a = certify(sub, x, 0.2, n0=50, n=2000, alpha=0.01, batch_size=500, seed=5)
    b = certify(sub, x, 0.2, n0=50, n=2000, alpha=0.01, batch_size=500, seed=5)
    c = certify(sub, x, 0.2, n0=50, n=2000, alpha=0.01, batch_size=500, seed=6)
    assert torch.equal(a.prediction, b.prediction) and torch.equal(a.radius, b.radius)
    assert not torch.equal(a.radius, c.radius)
    # the batch size changes how draws are grouped, not what is certified (up to the draws)
    assert isinstance(a, Certification)


# ------------------------------------------------------------------------------ PREDICT


@pytest.mark.parametrize("hits", [50, 60, 65, 100])
def test_predict_abstains_unless_the_binomial_test_rejects(hits):
    sub = ScriptedSubstrate(hits=hits, period=100)
    alpha = 0.05
    pred = predict_smoothed(sub, x_batch(), 0.25, n=100, alpha=alpha, batch_size=30, seed=0)
    n_a, n_b = max(hits, 100 - hits), min(hits, 100 - hits)
    # two-sided p-value of a fair coin, computed from the binomial tail
    p_value = min(1.0, 2.0 * stats.binom.sf(n_a - 1, n_a + n_b, 0.5))
    expected = (0 if hits >= 50 else 1) if p_value <= alpha else ABSTAIN
    assert int(pred[0]) == expected
    assert (expected == ABSTAIN) == (hits in (50, 60))


def test_predict_constant_classifier():
    sub = float_substrate(Constant(), SHAPE, 4)
    assert predict_smoothed(sub, x_batch((0.2, 0.7)), 0.5, n=50, alpha=0.001, seed=0).tolist() == [3, 3]


# ---------------------------------------------------------------------- certified accuracy


def test_certified_accuracy_counts_correct_certificates_at_each_radius():
    pred = torch.tensor([0, 1, ABSTAIN, 2, 1])
    radius = torch.tensor([0.5, 0.2, 0.0, 1.0, 0.7], dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0, 1])
    table = certified_accuracy(Certification(pred, radius), labels, [0.0, 0.25, 0.5, 0.75])
    assert table == {0.0: 3 / 5, 0.25: 2 / 5, 0.5: 2 / 5, 0.75: 0.0}
    summary = summarize(Certification(pred, radius), labels, [0.0, 0.5])
    assert summary["abstain_rate"] == pytest.approx(0.2)
    assert summary["certified_accuracy"] == {"0": 0.6, "0.5": 0.4}
    assert summary["mean_radius_correct"] == pytest.approx((0.5 + 0.2 + 0.7) / 3)


# ----------------------------------------------------------------------------- bad input


def test_bad_input():
    sub = float_substrate(Constant(), SHAPE, 4)
    x = x_batch()
    for sigma in (0.0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="sigma"):
            certify(sub, x, sigma, n0=1, n=1)
    for alpha in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"alpha: must be a finite number > 0 and < 1"):
            certify(sub, x, 0.1, n0=1, n=1, alpha=alpha)
        with pytest.raises(ValueError, match="alpha"):
            predict_smoothed(sub, x, 0.1, n=1, alpha=alpha)
    with pytest.raises(ValueError, match="n0: must be an integer >= 1"):
        certify(sub, x, 0.1, n0=0, n=1)
    with pytest.raises(ValueError, match="batch_size"):
        certify(sub, x, 0.1, n0=1, n=1, batch_size=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        certify(sub, x + 1.0, 0.1, n0=1, n=1)
    with pytest.raises(ValueError, match="empty batch"):
        certify(sub, x[:0], 0.1, n0=1, n=1)
    with pytest.raises(ValueError, match="empty batch"):
        predict_smoothed(sub, x[:0], 0.1, n=1)
    with pytest.raises(ValueError, match="shape"):
        certify(sub, torch.zeros(1, 1, 8, 8), 0.1, n0=1, n=1)
    with pytest.raises(ValueError, match="one length"):
        certified_accuracy((torch.tensor([0]), torch.tensor([0.1])), torch.tensor([0, 1]), [0.0])
    with pytest.raises(ValueError, match="radii"):
        certified_accuracy((torch.tensor([0]), torch.tensor([0.1])), torch.tensor([0]), [-1.0])
