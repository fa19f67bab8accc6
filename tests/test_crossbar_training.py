"""Training for crossbars: the local EqProp rule, pulse mapping, in-situ EqProp on the card's
update model, hardware-aware EqProp (noise in the loop), bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates import build_substrate
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.train import train
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import eqprop_gradients_from_states
from analogeq.train.hardware_aware import clip_weights, evaluate_substrate, train_hardware_aware
from analogeq.train.in_situ import InSituConfig, local_eqprop_updates, pulses_for, stochastic_round, train_in_situ
from hardware_models.cards import preset, with_value


def _small_ebm(**kw):
    cfg = dict(hidden_sizes=(32,), free_steps=30, nudge_steps=10, tol=1e-4, step_size=0.5, init_gain=1.0, seed=0)
    cfg.update(kw)
    return DenseEBM(DenseEBMConfig(**cfg))


def _rram_without_wires():
    card = preset("rram")
    for f in ("r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm"):
        card = with_value(card, f"wires.{f}", 0.0)
    return card


def test_local_rule_is_the_eqprop_gradient():
    """dW = lr/(2 beta) mean(post+ pre+^T - post- pre-^T) (only the two neurons a synapse joins)
    equals -lr times the EqProp estimate from autograd of Phi (a second method)."""
    torch.manual_seed(0)
    model = _small_ebm()
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 10, (6,))
    s_plus = [torch.rand(6, 32), torch.rand(6, 10)]
    s_minus = [torch.rand(6, 32), torch.rand(6, 10)]
    beta, lrs = 0.4, [0.1, 0.05]
    grads = eqprop_gradients_from_states(model, x, y, beta, s_plus, s_minus)
    d_w, d_b = local_eqprop_updates(x, s_plus, s_minus, beta, lrs)
    for k, lr in enumerate(lrs):
        np.testing.assert_allclose(d_w[k], -lr * grads[f"synapses.{k}.weight"].double().numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(d_b[k], -lr * grads[f"biases.{k}"].double().numpy(), rtol=1e-5, atol=1e-7)


def test_pulse_counts_are_unbiased_and_signed():
    rng = np.random.default_rng(0)
    v = np.full(200_000, 0.3)
    assert abs(stochastic_round(v, rng).mean() - 0.3) < 0.005
    d_g = np.array([2.5e-7, -2.5e-7, 0.0])
    n = np.stack([pulses_for(d_g, 1e-7, 2e-7, rng) for _ in range(20_000)])
    assert np.all(n[:, 0] >= 2) and np.all(n[:, 0] <= 3) and abs(n[:, 0].mean() - 2.5) < 0.03
    assert np.all(n[:, 1] <= -1) and np.all(n[:, 1] >= -2) and abs(n[:, 1].mean() + 1.25) < 0.03
    assert np.all(n[:, 2] == 0)


def test_in_situ_training_learns_within_the_device_bounds(digits_small):
    """A short in-situ run (pulses through rram's soft-bounded, asymmetric, noisy update model):
    every conductance stays in [g_min, g_max], stuck cells never move, and the arrays learn
    (validation accuracy far above chance, 0.1)."""
    card = _rram_without_wires()
    model = _small_ebm(hidden_sizes=(64,), init_gain=0.5)
    before = copy.deepcopy(model.state_dict())
    config = InSituConfig(epochs=6, batch_size=20, lr=(0.2, 0.1), w_max_factor=3.0, seed=1)
    sub, history = train_in_situ(model, digits_small, card, config)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the float model is untouched
    assert history["epochs"][-1]["pulses"] > 0
    g_min, g_max = card.device.g_min_S, card.device.g_max_S
    for array in sub.programmed.arrays:
        prog = array.programmed
        assert prog.g_prog_S.min() >= g_min and prog.g_prog_S.max() <= g_max
    assert evaluate_substrate(sub, digits_small.test) > 0.5
    # the trained arrays are read later like any programmed arrays (drift to one hour)
    later = CrossbarSubstrate(sub.model, card, drift_time_s=3600.0, programmed=sub.programmed)
    assert later.logits(digits_small.test.x[:8]).shape == (8, 10)


def test_in_situ_keeps_stuck_cells(digits_splits):
    card = with_value(_rram_without_wires(), "faults.stuck_at_gmax_rate", 0.05)
    splits = digits_splits.subset(n_train=40, n_val=20, n_test=20, seed=0)
    sub, _ = train_in_situ(_small_ebm(), splits, card, InSituConfig(epochs=1, batch_size=20, seed=2))
    prog = sub.programmed.arrays[0].programmed
    assert prog.stuck is not None and prog.stuck.any()
    np.testing.assert_array_equal(prog.g_prog_S[prog.stuck], card.device.g_max_S)


def test_hardware_aware_on_an_exact_card_is_float_eqprop(digits_small):
    """With an ideal device and ideal converters the crossbar computes the float network, so
    hardware-aware EqProp must give the weights of float EqProp (same batches and seeds)."""
    exact = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
    config = TrainConfig(epochs=1, batch_size=50, beta=0.5, lr=(0.1, 0.05), momentum=0.0, schedule="constant")
    a, b = _small_ebm(tol=0.0), _small_ebm(tol=0.0)
    train(a, digits_small, config, progress=False)
    history = train_hardware_aware(b, digits_small, config, exact, drift_time_s=0.0, seed=0)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=2e-5), name
    float_val = evaluate_substrate(build_substrate("float", b), digits_small.val)
    assert history["epochs"][0]["val_accuracy"] == pytest.approx(float_val, abs=0.02)


def test_hardware_aware_runs_with_noise(digits_small):
    model = _small_ebm()
    w0 = model.synapses[0].weight.detach().clone()
    config = TrainConfig(epochs=1, batch_size=50, beta=0.5, lr=(0.1, 0.05), momentum=0.0)
    history = train_hardware_aware(model, digits_small, config, "pcm-harsh", drift_time_s=3600.0, seed=0,
                                   reprogram="epoch")
    assert not torch.equal(w0, model.synapses[0].weight)
    assert 0.0 <= history["final_val_accuracy"] <= 1.0 and torch.isfinite(model.synapses[0].weight).all()


def test_training_bad_input(digits_small):
    with pytest.raises(ValueError, match="no update section"):
        train_in_situ(_small_ebm(), digits_small, "pcm", InSituConfig(epochs=1))
    with pytest.raises(ValueError, match="readout='mse'"):
        train_in_situ(_small_ebm(readout="ce"), digits_small, _rram_without_wires(), InSituConfig(epochs=1))
    with pytest.raises(ValueError, match="InSituConfig.lr"):
        InSituConfig(lr=-1.0)
    with pytest.raises(ValueError, match="InSituConfig.lr has 3 values"):
        InSituConfig(lr=(0.1, 0.1, 0.1)).lr_per_matrix(2)
    with pytest.raises(ValueError, match="reprogram"):
        train_hardware_aware(_small_ebm(), digits_small, TrainConfig(epochs=1), "pcm", reprogram="never")
    with pytest.raises(ValueError, match="nudging"):
        train_hardware_aware(_small_ebm(), digits_small, TrainConfig(epochs=1, nudging="random_sign"), "pcm")
    with pytest.raises(ValueError, match="drift_time_s"):
        train_hardware_aware(_small_ebm(), digits_small, TrainConfig(epochs=1), "pcm", drift_time_s=-5.0)


def test_weight_clipping_bounds_every_matrix():
    model = _small_ebm()
    with torch.no_grad():
        model.synapses[0].weight[0, 0] = 10.0  # an outlier
    std = [float(s.weight.detach().std()) for s in model.synapses]
    clip_weights(model, 2.0)
    for s, sd in zip(model.synapses, std):
        assert float(s.weight.detach().abs().max()) <= 2.0 * sd + 1e-7
    with pytest.raises(ValueError, match="weight_clip_sigma"):
        train_hardware_aware(_small_ebm(), None, TrainConfig(epochs=1), "pcm", weight_clip_sigma=0.0)
