"""The spiking card: presets, JSON round trip, bad cards, mismatch draws, quantisation, energy.
Pure hardware_models (numpy): no Brian2 network is built here."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from hardware_models import CardError, card_from_dict, list_presets, load_card, preset, save_card, with_value
from hardware_models.spiking import (
    SpikingCard,
    lognormal_factors,
    map_dense_network,
    quantize_weights,
    spiking_inference_cost,
)

SPIKING_PRESETS = ["spiking-digital", "spiking-ideal", "spiking-mixed-signal"]


def test_presets_are_listed_valid_and_round_trip(tmp_path):
    assert set(SPIKING_PRESETS) <= set(list_presets())
    for name in SPIKING_PRESETS:
        card = preset(name)
        assert isinstance(card, SpikingCard) and card.name == name and card.references
        path = save_card(card, tmp_path / f"{name}.json")
        assert load_card(path) == card
        assert card_from_dict(json.loads(path.read_text())).to_dict() == card.to_dict()


def test_ideal_preset_is_ideal():
    card = preset("spiking-ideal")
    assert card.mismatch.threshold_cv == 0 and card.mismatch.tau_mem_cv == 0
    assert card.noise.membrane_std == 0 and card.synapse.weight_bits is None
    assert card.neuron.tau_mem_s is None and card.refractory_steps == 0 and card.max_rate == 1.0
    assert not card.stochastic and preset("spiking-mixed-signal").stochastic
    assert card.timing.free_steps == 500 and card.timing.window_steps == 100
    assert math.isclose(card.syn_decay, math.exp(-0.1))


@pytest.mark.parametrize(
    "path, value, json_path",
    [
        ("synapse.tau_syn_s", -1e-3, "$.synapse.tau_syn_s"),
        ("neuron.tau_mem_s", -0.02, "$.neuron.tau_mem_s"),
        ("neuron.refractory_s", -1e-4, "$.neuron.refractory_s"),
        ("timing.dt_s", 0.0, "$.timing.dt_s"),
        ("timing.t_free_s", 0.05005, "$.timing.t_free_s"),  # not a multiple of dt
        ("timing.decode_window_s", 0.03, "$.timing.decode_window_s"),  # longer than t_nudge_s
        ("neuron.refractory_s", 1.5e-4, "$.neuron.refractory_s"),  # not a multiple of dt
        ("neuron.tau_mem_s", 5e-5, "$.neuron.tau_mem_s"),  # below dt
        ("mismatch.tau_mem_cv", 0.1, "$.mismatch.tau_mem_cv"),  # no leak to mismatch
        ("mismatch.threshold_cv", -0.1, "$.mismatch.threshold_cv"),
        ("noise.membrane_std", -1.0, "$.noise.membrane_std"),
        ("synapse.weight_bits", 1, "$.synapse.weight_bits"),
        ("cost.e_spike_J", -1e-12, "$.cost.e_spike_J"),
    ],
)
def test_bad_cards_name_the_field(path, value, json_path):
    with pytest.raises(CardError) as err:
        with_value(preset("spiking-ideal"), path, value)
    assert err.value.json_path == json_path, str(err.value)
    assert isinstance(err.value, ValueError)


def test_unknown_and_missing_fields_are_rejected():
    d = preset("spiking-ideal").to_dict()
    d["neuron"]["tau_membrane"] = 1.0
    with pytest.raises(CardError, match=r"\$\.neuron\.tau_membrane"):
        card_from_dict(d)
    d = preset("spiking-ideal").to_dict()
    del d["timing"]["dt_s"]
    with pytest.raises(CardError, match=r"\$\.timing\.dt_s"):
        card_from_dict(d)


def test_quantize_weights_levels_and_saturation():
    w = np.linspace(-1.0, 1.0, 1001)
    q = quantize_weights(w, 4)  # 7 levels per sign: step 1/7
    assert np.unique(q).size == 15
    np.testing.assert_allclose(np.abs(q - w).max(), 0.5 / 7, rtol=1e-9)
    q2 = quantize_weights(w, 3, w_max=0.5)  # saturates at +-0.5
    assert q2.max() == 0.5 and q2.min() == -0.5 and np.unique(q2).size == 7
    np.testing.assert_array_equal(quantize_weights(w, None), w)
    with pytest.raises(ValueError, match="bits"):
        quantize_weights(w, 1)


def test_lognormal_factors_have_mean_one_and_the_cv():
    f = lognormal_factors(np.random.default_rng(0), 200_000, 0.2)
    assert abs(f.mean() - 1.0) < 3e-3 and abs(f.std() / f.mean() - 0.2) < 3e-3 and f.min() > 0


def _toy_weights(rng):
    return [rng.normal(size=(5, 4)), rng.normal(size=(3, 5))], [rng.normal(size=5), rng.normal(size=3)]


def test_mismatch_draws_are_seeded_and_per_neuron():
    card = preset("spiking-mixed-signal")
    w, b = _toy_weights(np.random.default_rng(0))
    kw = dict(input_shape=(4,), num_classes=3, readout="mse", card=card)
    m0 = map_dense_network(w, b, seed=0, **kw)
    m0b = map_dense_network(w, b, seed=0, **kw)
    m1 = map_dense_network(w, b, seed=1, **kw)
    for a, c in zip(m0.theta, m0b.theta):
        np.testing.assert_array_equal(a, c)
    assert not np.array_equal(m0.concat("theta"), m1.concat("theta"))
    # thresholds log-normal around 1 with cv 0.1; leaks dt / (tau_mem * factor)
    assert np.all(m0.concat("theta") > 0) and np.unique(m0.concat("theta")).size == 8
    leak = m0.concat("leak")
    assert np.all((leak > 0) & (leak < 1)) and np.unique(leak).size == 8
    np.testing.assert_allclose(np.median(card.timing.dt_s / leak), card.neuron.tau_mem_s, rtol=0.5)
    # weights quantised to 6 bits: at most 2 * 31 + 1 levels per matrix, same for both seeds
    assert all(np.unique(q).size <= 63 for q in m0.weights)
    np.testing.assert_array_equal(m0.weights[0], m1.weights[0])
    # the ideal card leaves everything exact
    ideal = map_dense_network(w, b, seed=3, input_shape=(4,), num_classes=3, readout="mse", card=preset("spiking-ideal"))
    np.testing.assert_array_equal(ideal.weights[1], w[1])
    assert np.all(ideal.concat("theta") == 1.0) and np.all(ideal.concat("leak") == 0.0)


def test_mapped_network_validation():
    card = preset("spiking-ideal")
    w, b = _toy_weights(np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_classes"):
        map_dense_network(w, b, seed=0, input_shape=(4,), num_classes=4, readout="mse", card=card)
    with pytest.raises(ValueError, match=r"weights\[1\]"):
        map_dense_network([w[0], w[1].T], b, seed=0, input_shape=(4,), num_classes=3, readout="mse", card=card)
    with pytest.raises(ValueError, match="NaN"):
        map_dense_network([w[0] * np.nan, w[1]], b, seed=0, input_shape=(4,), num_classes=3, readout="mse", card=card)
    with pytest.raises(ValueError, match="seed"):
        map_dense_network(w, b, seed=-1, input_shape=(4,), num_classes=3, readout="mse", card=card)
    m = map_dense_network(w, b, seed=0, input_shape=(4,), num_classes=3, readout="mse", card=card)
    assert m.layer_sizes == [4, 5, 3] and m.n_neurons == 8 and m.fan_out() == [3, 5] and m.n_synapses == 30


def test_energy_is_the_sum_of_its_parts():
    card = preset("spiking-mixed-signal")
    c = spiking_inference_cost(card, spikes=1000, synaptic_events=20_000, neuron_steps=1e5)
    expected = 1000 * card.cost.e_spike_J + 20_000 * card.cost.e_synaptic_event_J + 1e5 * card.cost.e_neuron_step_J
    assert math.isclose(c.energy_per_inference_J, expected)
    assert c.latency_per_inference_s == card.timing.t_free_s
    with pytest.raises(ValueError, match="spikes"):
        spiking_inference_cost(card, spikes=-1, synaptic_events=0, neuron_steps=0)


def test_hardware_models_spiking_imports_neither_torch_nor_brian2():
    code = (
        "import sys; import hardware_models, hardware_models.spiking, hardware_models.export.nir; "
        "hardware_models.preset('spiking-mixed-signal'); "
        "print('torch' in sys.modules, 'brian2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
