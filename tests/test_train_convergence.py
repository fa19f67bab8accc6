"""Unconverged phases are never silent: training warns and records the residual, and the deep
network that exposed it (64-37-23-19-10) matches backprop once its budget lets it settle."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.train import train
from analogeq.train.bptt import bptt_gradients
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import eqprop_gradients

DEEP = dict(hidden_sizes=(37, 23, 19), readout="mse", init_gain=0.5)


def _train_one_epoch(splits, caplog, **budget):
    small = splits.subset(n_train=128, n_val=32, seed=0)
    model = DenseEBM(DenseEBMConfig(**DEEP, **budget, seed=0))
    with caplog.at_level(logging.WARNING, logger="analogeq.train.loop"):
        history = train(model, small, TrainConfig(epochs=1, batch_size=64, lr=0.05), progress=False)
    return history["epochs"][-1], [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_unconverged_free_phase_warns_once_and_is_recorded(digits_splits, caplog):
    # the defaults the bug report used: 60 free steps, tol 1e-5 (stops at residual ~0.017)
    record, warnings = _train_one_epoch(digits_splits, caplog, free_steps=60, nudge_steps=20, tol=1e-5)
    assert record["free_unconverged_fraction"] > 0.01
    assert record["free_max_residual"] > 1e-5
    free = [w for w in warnings if w.startswith("free phase ended unconverged")]
    assert len(free) == 1, warnings  # once per run, not once per batch
    assert "tol 1e-05 after 60 steps" in free[0] and "free_steps" in free[0]


def test_a_settled_run_does_not_warn(digits_splits, caplog):
    record, warnings = _train_one_epoch(digits_splits, caplog, free_steps=3000, nudge_steps=3000, tol=1e-5)
    assert record["free_unconverged_fraction"] == 0.0 and record["nudged_unconverged_fraction"] == 0.0
    assert record["free_max_residual"] <= 1e-5
    assert warnings == []


def test_deep_network_eqprop_matches_bptt_at_a_budget_that_converges(digits_splits):
    torch.manual_seed(0)
    model = DenseEBM(DenseEBMConfig(**DEEP, free_steps=20000, nudge_steps=20000, tol=1e-12, seed=0)).double()
    x, y = digits_splits.train.x[:16].double(), digits_splits.train.y[:16]
    phases = eqprop_gradients(model, x, y, 0.001)
    assert phases.free.converged and phases.plus.converged and phases.minus.converged
    ep = {n: p.grad.clone() for n, p in model.named_parameters()}
    bptt_gradients(model, x, y, 2 * phases.free.steps)
    cos = {n: float(F.cosine_similarity(ep[n].flatten(), p.grad.flatten(), dim=0)) for n, p in model.named_parameters()}
    assert min(c for n, c in cos.items() if "weight" in n) >= 0.99, cos
