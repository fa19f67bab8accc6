"""White-box gradients of a convolutional EBM on the crossbar: the implicit gradient at the
fixed point (the default for conv EBMs; fixed point from the fused settle, one recorded step
through the torch reads) against full backpropagation through the settle, and EOT batching."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from analogeq.contract import GradientSpec
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.robustness.eot import loss_and_gradient
from analogeq.substrates.crossbar import CrossbarSubstrate
from hardware_models.cards import preset, with_value

EXACT = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)


def _model() -> ConvEBM:
    # a settling that converges (damped, moderate gain): the implicit gradient's premise
    cfg = ConvEBMConfig(channels=(4, 8), free_steps=200, tol=1e-6, step_size=0.5, init_gain=0.8, seed=2,
                        schedule="sync", per_sample_stop=False)
    return ConvEBM(cfg).eval()


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(2)
    return torch.rand(4, 1, 8, 8, generator=g), torch.arange(4) % 10


def _grad(sub, x, y, gradient):
    xr = x.clone().requires_grad_(True)
    logits = sub.attack_logits(xr) if gradient is None else sub.attack_logits(xr, gradient)
    (g,) = torch.autograd.grad(F.cross_entropy(logits, y), xr)
    return g


def test_implicit_is_the_default_and_matches_full_backprop_on_an_ideal_card(batch):
    x, y = batch
    sub = CrossbarSubstrate(_model(), EXACT, drift_time_s=0.0)
    assert sub.backend == "numba" and sub.default_gradient == GradientSpec("implicit")
    assert sub.settle(x).converged.all()
    implicit = _grad(sub, x, y, None)
    full = _grad(sub, x, y, GradientSpec("full"))
    assert torch.equal(implicit, _grad(sub, x, y, GradientSpec("implicit")))
    assert float(full.abs().max()) > 0
    cos = F.cosine_similarity(implicit.flatten(1), full.flatten(1), dim=1)
    assert float(cos.min()) >= 0.99, cos


def test_implicit_scores_are_the_fused_settle_scores(batch):
    x, _ = batch
    sub = CrossbarSubstrate(_model(), EXACT, drift_time_s=0.0)
    with torch.no_grad():
        ref = sub.logits(x)
    assert torch.allclose(sub.attack_logits(x).detach(), ref, atol=1e-4)


def test_eot_batches_on_a_noisy_card(batch):
    """EOT stacks copies of the batch into one call: every copy a different noise draw, finite
    gradients, and the mean over draws."""
    x, y = batch
    sub = CrossbarSubstrate(_model(), "pcm", drift_time_s=3600.0, seed=0)
    assert sub.stochastic
    loss, grad, logits = loss_and_gradient(sub, x, lambda z: F.cross_entropy(z, y, reduction="none"),
                                           sub.default_gradient, 3)
    assert loss.shape == (4,) and grad.shape == x.shape and logits.shape == (4, 10)
    assert torch.isfinite(grad).all() and float(grad.abs().max()) > 0
    one = _grad(sub, x, y, None)
    assert not torch.equal(one, grad)


def test_dense_ebm_implicit_default_matches_full_backprop_on_an_ideal_card():
    """The dense EBM on the crossbar attacks through the implicit gradient too (fixed point from
    the fused Numba settle): it agrees with backprop through every step on an exact card."""
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig

    model = DenseEBM(DenseEBMConfig(input_shape=(1, 8, 8), hidden_sizes=(32,), readout="ce", free_steps=300, tol=1e-7,
                                    seed=3)).eval()
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(6, 1, 8, 8, generator=g), torch.arange(6) % 10
    sub = CrossbarSubstrate(model, EXACT, drift_time_s=0.0)
    assert sub.backend == "numba" and sub.default_gradient == GradientSpec("implicit")
    assert sub.settle(x).converged.all()
    implicit = _grad(sub, x, y, None)
    full = _grad(sub, x, y, GradientSpec("full"))
    assert float(full.abs().max()) > 0
    cos = F.cosine_similarity(implicit.flatten(1), full.flatten(1), dim=1)
    assert float(cos.min()) >= 0.99, cos
