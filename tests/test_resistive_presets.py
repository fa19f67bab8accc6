"""Card presets of the resistive substrate (issue 18): they resolve, build a substrate, and the
ideal one computes the model's own steady state."""

from __future__ import annotations

import numpy as np
import torch

from analogeq.substrates import build_substrate
from analogeq.substrates.resistive import ResistiveClassifier
from hardware_models.cards import resolve_card
from hardware_models.devices import IdealDevice, PCMDevice
from hardware_models.resistive import ResistiveNetwork

X = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _model() -> ResistiveClassifier:
    net = ResistiveNetwork.random((16, 12, 4), np.random.default_rng(2), input_gain=2.0, g_min_S=1e-7, g_max_S=25e-6)
    return ResistiveClassifier(net, (1, 4, 4), tol_A=1e-16)


def test_presets_resolve_as_crossbar_cards():
    ideal, pcm = resolve_card("resistive-ideal", "crossbar"), resolve_card("resistive-pcm", "crossbar")
    assert isinstance(ideal.device, IdealDevice) and isinstance(pcm.device, PCMDevice)
    assert ideal.device.g_min_S > 0.0 and ideal.device.g_max_S == pcm.device.g_max_S == 25e-6
    assert ideal.wires.ideal and pcm.wires.ideal  # the substrate has no wire resistance (see its docstring)


def test_resistive_ideal_preset_computes_the_model():
    model = _model()
    sub = build_substrate("resistive", model, card="resistive-ideal", seed=0, tol_A=1e-16)
    assert not sub.stochastic and sub.describe()["card"] == "resistive-ideal"
    np.testing.assert_allclose(sub.logits(X).numpy(), model(X).numpy(), rtol=1e-6, atol=1e-9)


def test_resistive_pcm_preset_programs_noisy_conductances_in_range():
    model = _model()
    sub = build_substrate("resistive", model, card="resistive-pcm", drift_time_s=86400.0, seed=0, tol_A=1e-14)
    assert sub.stochastic
    for g, g0 in zip(sub.network.conductances_S, model.network.conductances_S):
        assert g.min() >= 0.0 and not np.allclose(g, g0)  # programming noise and drift moved them
    out = sub.logits(X)
    assert out.shape == (6, 4) and torch.isfinite(out).all()
    assert sub.cost()["energy_per_inference_J"] > 0.0


def test_a_card_with_wire_segments_warns_that_they_are_not_modelled(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="analogeq.substrates.resistive"):
        sub = build_substrate("resistive", _model(), card="rram", seed=0, tol_A=1e-14)
    assert any("does not model them" in r.getMessage() and "'rram'" in r.getMessage() for r in caplog.records)
    assert sub.describe()["wires"]["r_source_ohm"] == 10.0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="analogeq.substrates.resistive"):
        build_substrate("resistive", _model(), card="resistive-ideal", seed=0)
    assert not caplog.records
    assert sub.logits(X).shape == (6, 4)


def test_driver_resistance_of_the_card_is_solved_exactly():
    from hardware_models.cards import preset, with_value
    from hardware_models.resistive import settle
    from hardware_models.resistive.wires import with_source_resistance

    model = _model()
    card = with_value(preset("resistive-ideal"), "wires.r_source_ohm", 2e3)
    sub = build_substrate("resistive", model, card=card, seed=0, tol_A=1e-16)
    flat = X.reshape(6, -1).numpy()
    wired = settle(with_source_resistance(sub.network, 2e3), flat, tol_A=1e-16).output_V
    plain = settle(sub.network, flat, tol_A=1e-16).output_V
    out = sub.logits(X).double().numpy()
    np.testing.assert_allclose(out, wired, rtol=1e-6, atol=1e-9)
    assert np.abs(out - plain).max() > 1e-3  # 2 kohm drivers change the outputs
    # the attack gradient is the wired circuit's: central differences of its outputs
    x = X[:1].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(sub.attack_logits(x)[0, 1], x)
    h, fd = 1e-6, np.zeros(16)
    for i in range(16):
        e = np.zeros((1, 16))
        e[0, i] = h
        up = settle(with_source_resistance(sub.network, 2e3), flat[:1] + e, tol_A=1e-20).output_V[0, 1]
        down = settle(with_source_resistance(sub.network, 2e3), flat[:1] - e, tol_A=1e-20).output_V[0, 1]
        fd[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad.reshape(-1).numpy(), fd, rtol=2e-3, atol=1e-4 * np.abs(fd).max())
    # a noisy card with drivers settles too (per-sample draws behind the same drivers)
    noisy = build_substrate("resistive", model, card=with_value(preset("resistive-pcm"), "wires.r_source_ohm", 2e3),
                            seed=0, tol_A=1e-14)
    assert noisy.stochastic and torch.isfinite(noisy.logits(X)).all() and noisy.cost()["energy_per_inference_J"] > 0
