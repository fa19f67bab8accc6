"""The resistive substrate (issue 18): ideal card = the model, PCM noise per read, implicit input gradient."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from analogeq.contract import GradientSpec
from analogeq.substrates import build_substrate
from analogeq.substrates.resistive import ResistiveClassifier
from hardware_models.params import ParameterError
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle


def _model(diode=IdealDiode()):
    net = ResistiveNetwork.random((16, 12, 6, 4), np.random.default_rng(0), diode=diode, input_gain=2.0)
    return ResistiveClassifier(net, (1, 4, 4), tol_A=1e-16)


X = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_ideal_card_computes_the_model():
    model = _model()
    sub = build_substrate("resistive", model, card="ideal", seed=0, tol_A=1e-16)
    assert not sub.stochastic
    np.testing.assert_allclose(sub.logits(X).numpy(), model(X).numpy(), rtol=1e-5, atol=1e-7)
    json.dumps(sub.describe())
    cost = sub.cost()
    assert cost["energy_per_inference_J"] > 0 and cost["latency_per_inference_s"] > 0 and cost["mean_sweeps"] >= 1


def test_pcm_card_reads_are_independent_per_copy_and_reseedable():
    sub = build_substrate("resistive", _model(), card="pcm", drift_time_s=86400.0, seed=0)
    assert sub.stochastic
    copies = X[:1].repeat(4, 1, 1, 1)
    sub.reseed(3)
    a = sub.logits(copies)
    assert not torch.equal(a, a[:1].expand_as(a))
    sub.reseed(3)
    assert torch.equal(sub.logits(copies), a)
    other = build_substrate("resistive", _model(), card="pcm", drift_time_s=86400.0, seed=1)
    other.reseed(3)
    assert not torch.equal(other.logits(copies), a)  # another programming draw


@pytest.mark.parametrize("diode", [IdealDiode(), ShockleyDiode(i_s_A=1e-10)], ids=["ideal", "shockley"])
def test_attack_gradient_matches_finite_differences_of_the_input(diode):
    model = _model(diode)
    sub = build_substrate("resistive", model, card="ideal", seed=0, tol_A=1e-18)
    x = X[:2].clone().requires_grad_(True)
    w = torch.tensor([1.0, -2.0, 0.5, 0.3])
    (grad,) = torch.autograd.grad((sub.attack_logits(x, GradientSpec(settle="implicit")) * w).sum(), x)
    net = sub.network
    flat = X[:2].reshape(2, -1).numpy()
    h = 1e-6
    fd = np.zeros_like(flat)
    for i in range(flat.shape[1]):
        e = np.zeros_like(flat)
        e[:, i] = h
        up = settle(net, flat + e, tol_A=1e-20).output_V @ w.numpy()
        down = settle(net, flat - e, tol_A=1e-20).output_V @ w.numpy()
        fd[:, i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad.reshape(2, -1).numpy(), fd, rtol=2e-3, atol=1e-4 * np.abs(fd).max())


def test_bad_options_are_named():
    with pytest.raises(ParameterError, match=r"^tol_A: must be a finite number >= 0"):
        build_substrate("resistive", _model(), tol_A=-1.0)
    with pytest.raises(ParameterError, match=r"^max_sweeps: must be an integer >= 1"):
        build_substrate("resistive", _model(), max_sweeps=0)
