"""The spiking substrate (Brian2, numpy target) against the float substrate and its own surrogate.

A small dense EBM (64-64-10, mse readout) is trained once per module with the core's EqProp
loop (about ten seconds); the spiking substrate must then predict like the float substrate on
digits test images, its rate-model surrogate must equal the float EBM for the ideal card, and
the spiking EqProp phases must give the float EqProp gradient.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates import build_substrate, substrate_kinds
from analogeq.contract import GradientSpec
from analogeq.substrates.spiking import SpikingSubstrate
from hardware_models import card_from_dict, preset, with_value

pytestmark = pytest.mark.brian2

N_AGREE = 200  # test images for the agreement check


@pytest.fixture(scope="module")
def trained(digits_splits):
    """A 64-64-10 dense EBM trained 4 epochs with symmetric EqProp (~95% test accuracy)."""
    from analogeq.train.config import TrainConfig
    from analogeq.train.loop import train

    torch.manual_seed(0)
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(64,), readout="mse", free_steps=40, nudge_steps=15, seed=0))
    train(model, digits_splits, TrainConfig(epochs=4, batch_size=16, lr=[0.2, 0.1], momentum=0.0, beta=0.5, seed=0), progress=False)
    return model.eval()


def spiking(model, card="spiking-ideal", **kw):
    kw.setdefault("target", "numpy")
    return build_substrate("spiking", model, card=card, **kw)


def test_kind_is_registered():
    assert "spiking" in substrate_kinds()


def test_predictions_agree_with_float_on_digits(trained, digits_splits):
    """Spiking-ideal card: 50 ms free phase at dt = 0.1 ms, rates from the spike counts of the
    last 10 ms: the class predicted by the spikes is the float substrate's on >= 97% of the
    test images (measured: all of them)."""
    x, y = digits_splits.test.x[:N_AGREE], digits_splits.test.y[:N_AGREE]
    float_pred = build_substrate("float", trained).predict(x)
    sub = spiking(trained)
    pred = sub.predict(x)
    agreement = float((pred == float_pred).float().mean())
    assert agreement >= 0.97, agreement
    assert float((pred == y).float().mean()) >= 0.85  # and it is a working classifier
    # the decoded output rates are close to the float fixed point, not just the argmax
    with torch.no_grad():
        float_scores = trained(x)
    assert float((sub.logits(x) - float_scores).abs().mean()) < 0.02


def test_surrogate_is_the_float_ebm_for_the_ideal_card(trained, digits_splits):
    x = digits_splits.test.x[:64]
    sub = spiking(trained)
    with torch.no_grad():
        np.testing.assert_allclose(sub.surrogate(x).numpy(), trained(x).numpy(), atol=1e-5)
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    y = digits_splits.test.y[:64]
    torch.nn.functional.cross_entropy(sub.attack_logits(xa), y).backward()
    torch.nn.functional.cross_entropy(trained.forward_for_attack(xb, GradientSpec()), y).backward()
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), atol=1e-5)
    xt = x.clone().requires_grad_(True)
    truncated = sub.attack_logits(xt, GradientSpec(settle="truncated", truncated_steps=5))
    truncated.sum().backward()
    assert truncated.shape == (64, 10) and float(xt.grad.abs().sum()) > 0
    # implicit differentiation at the fixed point: the same as the float EBM's
    xi, xf = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(sub.attack_logits(xi, GradientSpec(settle="implicit")), y).backward()
    torch.nn.functional.cross_entropy(trained.forward_for_attack(xf, GradientSpec(settle="implicit")), y).backward()
    np.testing.assert_allclose(xi.grad.numpy(), xf.grad.numpy(), atol=1e-5)


def test_surrogate_folds_in_mismatch_and_quantisation(trained, digits_splits):
    """With 30% threshold mismatch and 4-bit weights (no noise), the surrogate predicts the spiking
    network's output rates much better than the float EBM does."""
    x = digits_splits.test.x[:100]
    card = with_value(with_value(preset("spiking-ideal"), "mismatch.threshold_cv", 0.3), "synapse.weight_bits", 4)
    sub = spiking(trained, card, seed=3)
    spikes = sub.logits(x)
    with torch.no_grad():
        surrogate = sub.surrogate(x)
        floating = trained(x)
    err_surrogate = float((spikes - surrogate).abs().mean())
    err_float = float((spikes - floating).abs().mean())
    assert err_surrogate < 0.02 and err_surrogate < 0.5 * err_float, (err_surrogate, err_float)


def test_noise_makes_it_stochastic_and_reseed_repeats_draws(trained, digits_splits):
    x = digits_splits.test.x[:20]
    ideal = spiking(trained)
    assert not ideal.stochastic
    torch.testing.assert_close(ideal.logits(x), ideal.logits(x), rtol=0, atol=0)
    noisy = spiking(trained, with_value(preset("spiking-ideal"), "noise.membrane_std", 0.3), seed=1)
    assert noisy.stochastic
    first, second = noisy.logits(x), noisy.logits(x)
    assert not torch.equal(first, second)
    noisy.reseed(1)
    torch.testing.assert_close(noisy.logits(x), first, rtol=0, atol=0)
    # the surrogate draws rate noise only when the card has membrane noise
    a, b = noisy.attack_logits(x), noisy.attack_logits(x)
    assert not torch.equal(a, b)
    torch.testing.assert_close(ideal.attack_logits(x), ideal.attack_logits(x))


def test_chunks_and_padding_give_the_same_scores(trained, digits_splits):
    x = digits_splits.test.x[:45]
    whole = spiking(trained, batch_size=64).logits(x)
    chunked = spiking(trained, batch_size=20).logits(x)  # 20 + 20 + 5 (padded) copies
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)


def test_cost_counts_spikes_and_synaptic_events(trained, digits_splits):
    card = preset("spiking-mixed-signal")
    sub = spiking(trained, card)
    before = sub.cost()
    assert before["inferences_measured"] == 0 and before["spikes_per_inference"] == 0
    x = digits_splits.test.x[:30]
    sub.logits(x)
    c = sub.cost()
    assert c["inferences_measured"] == 30 and c["spikes_per_inference"] > 0
    # each spike of a hidden neuron reaches the 10 outputs, each output spike the 64 hidden neurons
    assert 10 * c["spikes_per_inference"] <= c["synaptic_events_per_inference"] <= 64 * c["spikes_per_inference"]
    expected = (
        c["spikes_per_inference"] * card.cost.e_spike_J
        + c["synaptic_events_per_inference"] * card.cost.e_synaptic_event_J
        + (64 + 10) * card.timing.free_steps * card.cost.e_neuron_step_J
    )
    assert c["energy_per_inference_J"] == pytest.approx(expected)
    assert c["latency_per_inference_s"] == card.timing.t_free_s
    d = sub.describe()
    json.dumps(d)
    assert d["substrate"] == "spiking" and d["brian2_target"] == "numpy" and d["card"]["name"] == "spiking-mixed-signal"


def test_ce_readout_runs_off_chip(digits_splits):
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), readout="ce", seed=2))
    x = digits_splits.test.x[:40]
    sub = spiking(model)
    scores = sub.logits(x)
    with torch.no_grad():
        reference = model(x)
    assert scores.shape == (40, 10)
    assert float((scores - reference).abs().max()) < 0.1


def test_spiking_eqprop_gradient_matches_float_eqprop(digits_splits):
    """The EqProp estimate from spiking phases points where the float one does (untrained
    network: large gradients; cosine similarity > 0.95 per parameter)."""
    from analogeq.train.spiking_eqprop import SpikingEqProp
    from analogeq.train.eqprop import eqprop_gradients

    model = DenseEBM(DenseEBMConfig(hidden_sizes=(48,), readout="mse", free_steps=200, nudge_steps=200, tol=1e-6, seed=1))
    x, y = digits_splits.train.x[:24], digits_splits.train.y[:24]
    eqprop_gradients(model, x, y, 0.5)
    reference = [p.grad.clone() for p in model.parameters()]
    SpikingEqProp(model, "spiking-ideal", batch_size=32, target="numpy").gradients(x, y, 0.5)
    for ref, p in zip(reference, model.parameters()):
        cos = torch.nn.functional.cosine_similarity(ref.flatten(), p.grad.flatten(), dim=0)
        assert cos > 0.95, (tuple(p.shape), float(cos))
        assert 0.8 < float(p.grad.norm() / ref.norm()) < 1.25


def test_bad_input(trained, digits_splits):
    from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
    from analogeq.train.spiking_eqprop import SpikingEqProp

    conv = ConvEBM(ConvEBMConfig(input_shape=(1, 8, 8), channels=(4,)))
    with pytest.raises(ValueError, match=r"cannot run max-pool .* use pool_kinds=\('avg'"):
        spiking(conv)
    # a model of the wrong kind is bad input (one line on the command line), not a bug
    from hardware_models.errors import AnalogeqError

    with pytest.raises(AnalogeqError, match="layered energy-based"):
        spiking(torch.nn.Linear(64, 10))
    sub = spiking(trained)
    with pytest.raises(ValueError, match="shape"):
        sub.logits(torch.zeros(2, 1, 7, 7))
    with pytest.raises(ValueError, match="NaN"):
        sub.logits(torch.full((2, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="batch_size"):
        spiking(trained, batch_size=0)
    with pytest.raises(ValueError, match="target"):
        spiking(trained, target="gpu")
    with pytest.raises(ValueError, match="spiking"):
        spiking(trained, card="pcm")  # a crossbar card
    bad = preset("spiking-ideal").to_dict()
    bad["synapse"]["tau_syn_s"] = -1e-3
    with pytest.raises(ValueError, match=r"\$\.synapse\.tau_syn_s"):
        spiking(trained, card=bad)
    assert isinstance(card_from_dict(preset("spiking-ideal").to_dict()), type(sub.card))
    assert isinstance(sub, SpikingSubstrate)
