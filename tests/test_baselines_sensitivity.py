"""Weight-space view: perturbation sizes against their definition, the AWP direction, weights
restored bit for bit, the programmed weights' error against the PCM closed form, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from analogeq.baselines import build_baseline
from analogeq.baselines.defences import AWP, PGDAT
from analogeq.baselines.defences.awp import perturbed_weights
from analogeq.baselines.sensitivity import (
    SensitivityConfig,
    _Weights,
    adversarial_offsets,
    programmed_weights,
    random_offsets,
    sensitivity_report,
)
from analogeq.robustness.attacks import PGD
from analogeq.substrates.float import FloatSubstrate
from hardware_models.cards import preset, with_value


def test_random_offsets_have_relative_norm_gamma():
    model = build_baseline({"kind": "cnn"})
    weights = {n: p.detach() for n, p in perturbed_weights(model).items()}
    v = random_offsets(weights, 0.03, torch.Generator().manual_seed(0))
    for n, w in weights.items():
        assert float(v[n].norm()) == pytest.approx(0.03 * float(w.norm()), rel=1e-5)


def test_one_adversarial_step_is_the_awp_perturbation(image_batch):
    model = build_baseline({"kind": "mlp", "hidden_sizes": [32], "seed": 1}).eval()
    x, y, _ = image_batch(40)
    snapshot = _Weights(model)
    v = adversarial_offsets(model, snapshot, x, y, 0.02, eps=0.1, norm="linf", pgd_steps=5, steps=1, seed=3)
    x_adv = PGD(eps=0.1, steps=5, seed=3)(FloatSubstrate(model), x, y).x_adv
    v_awp = AWP(gamma=0.02, base=PGDAT(eps=0.1, steps=5)).weight_perturbation(model, x, x_adv, y)
    for n in v:
        torch.testing.assert_close(v[n], v_awp[n], rtol=1e-5, atol=1e-8)


def test_multi_step_adversarial_offsets_stay_in_the_ball(image_batch):
    model = build_baseline({"kind": "mlp", "hidden_sizes": [32]}).eval()
    x, y, _ = image_batch(40)
    snapshot = _Weights(model)
    v = adversarial_offsets(model, snapshot, x, y, 0.05, eps=0.1, norm="linf", pgd_steps=3, steps=4, seed=0)
    for n, w in snapshot.original.items():
        assert float(v[n].norm()) <= 0.05 * float(w.norm()) * (1 + 1e-5)


def test_report_restores_weights_and_orders_the_perturbations(image_batch):
    model = build_baseline({"kind": "mlp", "hidden_sizes": [32], "seed": 2})
    x, y, _ = image_batch(60)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = SensitivityConfig(gammas=(0.0, 0.1), random_draws=2, pgd_steps=3, programming_noise_scales=(0.0, 1.0),
                               device_draws=2)
    report = sensitivity_report(model, x, y, config, preset("pcm"))
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), before[n])
    zero, big = report["weight_perturbation"]
    # gamma = 0 is the unperturbed model
    assert zero["random"]["robust_loss"] == pytest.approx(report["reference"]["robust_loss"], rel=1e-6)
    assert zero["adversarial"]["robust_loss"] == pytest.approx(report["reference"]["robust_loss"], rel=1e-6)
    # the adversarial direction raises the robust loss more than random ones of the same size
    assert big["adversarial"]["robust_loss"] > big["random"]["robust_loss"]
    assert big["adversarial"]["robust_loss"] > report["reference"]["robust_loss"]
    noiseless, pcm = report["device_noise"]
    assert noiseless["relative_weight_error"] < 1e-12
    assert noiseless["robust_loss"] == pytest.approx(report["reference"]["robust_loss"], rel=1e-5)
    assert 0.01 < pcm["relative_weight_error"] < 1.0


def _expected_sq_error(g, sigma):
    """E[(max(0, g + sigma Z) - g)^2], Z ~ N(0, 1), in closed form (a = -g / sigma):
    sigma^2 [(1 - Phi(a)) + a phi(a)] + g^2 Phi(a)."""
    a = -g / sigma
    return sigma ** 2 * ((1 - stats.norm.cdf(a)) + a * stats.norm.pdf(a)) + g ** 2 * stats.norm.cdf(a)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_programmed_weight_error_matches_the_pcm_closed_form(scale):
    card = with_value(preset("pcm"), "device.programming_noise_scale", scale)
    device = card.device
    assert device.g_min_S == 0.0  # the closed form below assumes the pcm preset's g_min = 0
    w = torch.randn(256, 64, generator=torch.Generator().manual_seed(0))
    w_hat, errors = programmed_weights({"w": w}, card, np.random.default_rng(1))
    w_max = float(w.abs().max())
    span = device.g_max_S - device.g_min_S
    g_plus = span * np.maximum(w.double().numpy(), 0) / w_max
    g_minus = span * np.maximum(-w.double().numpy(), 0) / w_max
    expected = sum(_expected_sq_error(g, device.programming_noise_std(g)).sum() for g in (g_plus, g_minus))
    expected_rel = math.sqrt(expected) * w_max / span / float(w.double().norm())
    assert errors["w"] == pytest.approx(expected_rel, rel=0.03)
    assert float((w_hat["w"] - w).norm() / w.norm()) == pytest.approx(errors["w"], rel=1e-5)


@pytest.mark.parametrize("fields, match", [
    ({"gammas": (-0.01,)}, r"SensitivityConfig.gammas\[0\]"),
    ({"gammas": ()}, r"SensitivityConfig.gammas: must be a non-empty list of numbers >= 0, got \[\]"),
    ({"random_draws": 0}, "SensitivityConfig.random_draws"),
    ({"programming_noise_scales": (1.0, -1.0)}, r"programming_noise_scales\[1\]"),
    ({"norm": "l1"}, "SensitivityConfig.norm"),
])
def test_bad_sensitivity_config(fields, match):
    with pytest.raises(ValueError, match=match):
        SensitivityConfig(**fields)
