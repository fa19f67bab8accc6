"""Item 5 of issue 14: the dense EBM's default budget (stop on the residual, tol 1e-5, with a cap
of 1000 free and 1000 nudged steps; measured against a depth-scaled budget in
benchmarks/eqprop_budget.py) settles the deep network that exposed silent non-convergence,
64-37-23-19-10 at the config's own Glorot gain, in every phase, and its EqProp gradient then
follows backpropagation through a settle converged to 1e-11 (the old 60/20 default: cosine 0.23)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.train.bptt import bptt_gradients
from analogeq.train.eqprop import eqprop_gradients


def test_default_budget_settles_the_deep_network_and_its_gradient_follows_bptt(digits_splits):
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(37, 23, 19), seed=0))  # every other field a default
    x, y = digits_splits.train.x[:8], digits_splits.train.y[:8]
    phases = eqprop_gradients(model, x, y, 0.5)  # training's float32 phases
    assert phases.free.converged and phases.plus.converged and phases.minus.converged, (
        phases.free.residual, phases.plus.residual, phases.minus.residual)
    assert phases.free.steps < model.config.free_steps  # stopped on the residual, not on the cap
    m64 = DenseEBM(model.config).double()
    eqprop_gradients(m64, x.double(), y, 0.01)  # beta well above tol: the finite difference resolves
    ep = {n: p.grad.clone() for n, p in m64.named_parameters()}
    ref = DenseEBM(model.config).double()
    ref.config = dataclasses.replace(ref.config, free_steps=20000, nudge_steps=1, tol=1e-11)
    free = eqprop_gradients(ref, x.double(), y, 0.01).free
    assert free.converged
    bptt_gradients(ref, x.double(), y, 2 * free.steps)
    cos = {n: float(F.cosine_similarity(ep[n].flatten(), p.grad.flatten(), dim=0)) for n, p in ref.named_parameters()}
    assert min(c for n, c in cos.items() if "weight" in n) >= 0.99, cos  # measured 0.998
