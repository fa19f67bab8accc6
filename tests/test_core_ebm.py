"""Layered EBMs: synapse reads, energy, settling, the convolutional EBM, bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from analogeq.contract import GradientSpec
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig, ConvPoolSynapse
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.ebm.settle import settle
from analogeq.substrates import build_substrate
from analogeq.train import TrainConfig, build_optimizer, eqprop_gradients


@pytest.mark.parametrize(
    "in_shape,kernel,padding,pool",
    [((3, 8, 8), 3, 1, 2), ((4, 7, 7), 3, 0, 2), ((2, 5, 5), 3, 1, 1), ((3, 9, 9), 2, 1, 3)],
)
def test_conv_synapse_adjoint_is_the_derivative_of_phi(in_shape, kernel, padding, pool):
    # adjoint(post, pre) must be d <P(W * pre), post> / d pre, which autograd computes independently
    g = torch.Generator().manual_seed(0)
    syn = ConvPoolSynapse(in_shape, 5, kernel, padding, pool, generator=g).double()
    pre = torch.rand(2, *in_shape, generator=g, dtype=torch.float64, requires_grad=True)
    post = torch.rand(2, *syn.out_shape, generator=g, dtype=torch.float64)
    (auto,) = torch.autograd.grad(syn.phi(pre, post).sum(), pre)
    torch.testing.assert_close(syn.adjoint(post, pre), auto)
    f, a = syn.forward_and_adjoint(pre, post)
    torch.testing.assert_close(f, syn(pre))
    torch.testing.assert_close(a, auto)
    # the matrix view used by hardware substrates gives the same reads
    w = syn.weight_matrix()
    torch.testing.assert_close(syn.forward_with(pre, lambda r: r @ w.t()), syn(pre))
    torch.testing.assert_close(syn.adjoint_with(post, pre, lambda r: r @ w.t(), lambda r: r @ w), auto)


def test_conv_output_shapes_follow_the_formula():
    syn = ConvPoolSynapse((3, 32, 32), 8, kernel_size=3, padding=1, pool_size=2)
    assert syn.conv_shape == (8, 32, 32) and syn.out_shape == (8, 16, 16)
    cfg = ConvEBMConfig.cifar10()
    # Laborieux et al. 2021: 32 -> 16 -> 8 -> 4 -> (pad 0) 2 -> pool 1: 512 x 1 x 1 before the 512->10 readout
    assert cfg.layer_shapes() == [(128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 1, 1)]


@pytest.mark.parametrize("make", ["dense", "conv"])
def test_phi_gradient_is_net_input_minus_state(make):
    # dPhi/ds_k = h_k - s_k with h_k the net input of the update: checks phi against step (eps = 1,
    # states and net inputs strictly inside (0, 1) so that rho(h) = h)
    torch.manual_seed(0)
    if make == "dense":
        model = DenseEBM(DenseEBMConfig(hidden_sizes=(6, 5), num_classes=3, input_shape=(4,), step_size=1.0, init_gain=0.1)).double()
        x = torch.rand(3, 4, dtype=torch.float64)
    else:
        model = ConvEBM(ConvEBMConfig(input_shape=(1, 6, 6), channels=(2,), hidden_sizes=(4,), num_classes=3, readout="mse", step_size=1.0, init_gain=0.1)).double()
        x = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        for b in model.biases:
            b.fill_(0.3)
    states = [torch.rand(3, *shape, dtype=torch.float64) * 0.2 + 0.4 for shape in model.state_shapes]
    states = [s.requires_grad_() for s in states]
    grads = torch.autograd.grad(model.phi(x, states).sum(), states)
    with torch.no_grad():
        new = model.step(x, [s.detach() for s in states])
    for g, s, n in zip(grads, states, new):
        assert float(n.min()) > 0 and float(n.max()) < 1
        torch.testing.assert_close(g, n - s.detach())


def test_settling_reports_residual_and_stops_on_tolerance():
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), init_gain=0.5))
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        r = settle(model, x, max_steps=500, tol=1e-6)
    assert r.converged and r.steps < 500 and r.residual <= 1e-6 and r.converged_fraction == 1.0
    # one more step changes nothing beyond the tolerance (a fixed point)
    with torch.no_grad():
        s2 = model.step(x, r.states)
        short = settle(model, x, max_steps=2, tol=1e-6)
    assert max(float((a - b).abs().max()) for a, b in zip(s2, r.states)) <= 1e-6
    assert short.steps == 2 and not short.converged and short.residual > 1e-6
    assert short.sample_residual.shape == (4,)
    full = settle(model, x, max_steps=7, tol=0.0)
    assert full.steps == 7


def test_step_size_damps_the_period_two_oscillation():
    # a 2-unit chain with strong symmetric coupling oscillates under plain synchronous updates;
    # the Euler step (eps = 0.5) of tau ds/dt = -s + rho(h) reaches a fixed point
    cfg = dict(input_shape=(1,), hidden_sizes=(1,), num_classes=2, readout="mse", free_steps=200, tol=1e-6)
    results = {}
    for eps in (1.0, 0.5):
        model = DenseEBM(DenseEBMConfig(step_size=eps, **cfg))
        with torch.no_grad():
            model.synapses[0].weight.fill_(1.0)
            model.synapses[1].weight.copy_(torch.tensor([[-2.0], [0.0]]))
            for b in model.biases:
                b.zero_()
            model.biases[1][0] = 1.0
        results[eps] = settle(model, torch.ones(1, 1), max_steps=200, tol=1e-6)
    assert not results[1.0].converged and results[1.0].residual == pytest.approx(1.0)
    assert results[0.5].converged


def test_ebm_on_float_substrate_cpu():
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(16,)))
    sub = build_substrate("float", model, device="cpu")
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    a, b = sub.logits(x), sub.logits(x)
    assert a.shape == (5, 10) and torch.equal(a, b) and not sub.stochastic
    torch.testing.assert_close(a, model(x))
    for spec in (GradientSpec("full"), GradientSpec("implicit"), GradientSpec("truncated", truncated_steps=5)):
        xg = x.clone().requires_grad_()
        sub.attack_logits(xg, spec).sum().backward()
        assert xg.grad is not None and bool(torch.isfinite(xg.grad).all())
    assert sub.describe()["model_config"]["kind"] == "dense_ebm"


@pytest.mark.parametrize(
    "bad,match",
    [
        (torch.rand(2, 1, 7, 7), r"shape \(B, 1, 8, 8\)"),
        (torch.rand(2, 64), r"shape \(B, 1, 8, 8\)"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.int64), "floating-point"),
        (torch.rand(2, 1, 8, 8, dtype=torch.float64), "float64.*float32"),
        (torch.full((2, 1, 8, 8), float("nan")), "NaN or infinite"),
        (torch.full((2, 1, 8, 8), float("inf")), "NaN or infinite"),
        (torch.rand(0, 1, 8, 8), "empty batch"),
    ],
)
@pytest.mark.parametrize("make", ["dense", "conv"])
def test_bad_inputs_are_rejected(bad, match, make):
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(8,))) if make == "dense" else ConvEBM(ConvEBMConfig(channels=(2,)))
    with pytest.raises(ValueError, match=match):
        model(bad)
    with pytest.raises(ValueError, match=match):
        model.forward_for_attack(bad)
    with pytest.raises(TypeError):
        model([[0.0] * 64])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(free_steps=-1), "free_steps"),
        (dict(nudge_steps=0), "nudge_steps"),
        (dict(free_steps=2.5), "free_steps"),
        (dict(step_size=0.0), "step_size"),
        (dict(step_size=1.5), "step_size"),
        (dict(tol=-1e-3), "tol"),
        (dict(init_gain=float("nan")), "init_gain"),
        (dict(readout="hinge"), "readout"),
        (dict(num_classes=1), "num_classes"),
    ],
)
def test_bad_model_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenseEBMConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        ConvEBMConfig(**kwargs)


def test_bad_conv_configs_and_budgets():
    with pytest.raises(ValueError, match="kernel_sizes"):
        ConvEBMConfig(channels=(4, 8), kernel_sizes=(3, 3, 3))
    with pytest.raises(ValueError, match="do not fit"):
        ConvEBMConfig(input_shape=(1, 4, 4), channels=(4, 8, 8), paddings=0)
    with pytest.raises(ValueError, match="unknown ConvEBMConfig"):
        ConvEBMConfig.from_dict({"kind": "conv_ebm", "chanels": [4]})
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(4,)))
    with pytest.raises(ValueError, match="max_steps: must be an integer >= 1, got -3"):
        settle(model, torch.rand(1, 1, 8, 8), max_steps=-3)
    with pytest.raises(ValueError, match="tol: must be a finite number >= 0, got nan"):
        settle(model, torch.rand(1, 1, 8, 8), max_steps=3, tol=float("nan"))


def test_config_round_trip():
    for cfg in (DenseEBMConfig(hidden_sizes=(5, 3), readout="ce"), ConvEBMConfig.cifar10(seed=3)):
        d = cfg.to_dict()
        assert type(cfg).from_dict(d) == cfg
        assert json.loads(json.dumps(d)) == d


def test_cifar10_shape_completes_a_training_step():
    # the seed study's network (Laborieux et al. 2021 shape) on a random 32x32x3 batch of 2; the
    # settling budgets are cut to keep the test short (the shapes and the code path are the real ones)
    cfg = ConvEBMConfig.cifar10(free_steps=6, nudge_steps=3, tol=0.0)
    model = ConvEBM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    # 128*3*9 + 256*128*9 + 512*256*9 + 512*512*9 + 10*512 weights, 128+256+512+512+10 biases
    assert n_params == 128 * 27 + 256 * 128 * 9 + 512 * 256 * 9 + 512 * 512 * 9 + 5120 + 1418
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = torch.tensor([3, 7])
    opt = build_optimizer(model, TrainConfig(lr=(0.25, 0.15, 0.1, 0.08, 0.05), momentum=0.9, weight_decay=3e-4))
    before = [p.detach().clone() for p in model.parameters()]
    phases = eqprop_gradients(model, x, y, 0.5, "symmetric")
    assert phases.free.steps == 6 and phases.plus.steps == 3
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())
    opt.step()
    changed = [not torch.equal(a, p) for a, p in zip(before, model.parameters())]
    assert all(changed[-2:])  # the readout learns at least
    assert math.isfinite(float(model(x).sum()))
