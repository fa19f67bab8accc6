"""NIR export and import of mapped spiking EBMs, through the ``nir`` package's own writer/reader."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates.spiking import SpikingSubstrate, map_model
from hardware_models import preset, with_value
from hardware_models.export.nir import export_nir, import_nir

CARD_NO_NOISE = "spiking-digital"


def mixed_signal_card():
    return preset("spiking-mixed-signal")


def model(readout="mse", hidden=(12, 8), seed=0):
    return DenseEBM(DenseEBMConfig(hidden_sizes=hidden, readout=readout, seed=seed))


def test_graph_structure_weights_and_metadata():
    card = mixed_signal_card()
    mapped = map_model(model(), card, seed=7)
    g = export_nir(mapped, card)
    assert isinstance(g, nir.NIRGraph)
    kinds = {name: type(node).__name__ for name, node in g.nodes.items()}
    assert kinds == {
        "input": "Input", "affine_1": "Affine", "layer_1": "LIF", "affine_2": "Affine", "layer_2": "LIF",
        "feedback_2": "Linear", "affine_3": "Affine", "layer_3": "LIF", "feedback_3": "Linear", "output": "Output",
    }
    # weights (n_post, n_pre); feedback = transposed forward weights; the cycle layer_1 -> layer_2 -> layer_1
    assert g.nodes["affine_1"].weight.shape == (12, 64) and g.nodes["affine_2"].weight.shape == (8, 12)
    np.testing.assert_array_equal(g.nodes["feedback_2"].weight, mapped.weights[1].T)
    edges = set(g.edges)
    assert {("layer_1", "affine_2"), ("affine_2", "layer_2"), ("layer_2", "feedback_2"), ("feedback_2", "layer_1")} <= edges
    # neuron parameters: drawn thresholds and membrane time constants, input = charge per step
    lif = g.nodes["layer_2"]
    np.testing.assert_array_equal(lif.v_threshold, mapped.theta[1])
    np.testing.assert_allclose(lif.tau, card.timing.dt_s / mapped.leak[1])
    np.testing.assert_allclose(lif.r * card.timing.dt_s / lif.tau, 1.0)
    # card fields in node metadata (the documented table)
    meta = lif.metadata
    assert meta["threshold_cv"] == card.mismatch.threshold_cv and meta["tau_mem_cv"] == card.mismatch.tau_mem_cv
    assert meta["mismatch_seed"] == 7 and meta["membrane_noise_std"] == card.noise.membrane_std
    assert meta["tau_syn_s"] == card.synapse.tau_syn_s and meta["reset_mode"] == "subtract" and meta["dt_s"] == card.timing.dt_s
    assert g.nodes["affine_2"].metadata["weight_bits"] == 6 and g.nodes["feedback_2"].metadata["direction"] == "feedback"
    assert json.loads(g.metadata["card_json"]) == card.to_dict()
    # the ideal card gives IF nodes with r = 1/dt
    ideal = export_nir(map_model(model(), preset("spiking-ideal"), seed=0), preset("spiking-ideal"))
    assert type(ideal.nodes["layer_1"]).__name__ == "IF"
    np.testing.assert_allclose(ideal.nodes["layer_1"].r, 1.0 / preset("spiking-ideal").timing.dt_s)


@pytest.mark.brian2
@pytest.mark.parametrize("card_name", ["spiking-mixed-signal", CARD_NO_NOISE])
def test_round_trip_through_nir_files(tmp_path, digits_splits, card_name):
    """export -> nir.write -> nir.read -> import: bit-identical weights, thresholds and leaks, the
    same card, and the same spiking predictions (same noise seed, same batch)."""
    sub = SpikingSubstrate.from_model(model(), card_name, seed=3, target="numpy")
    path = tmp_path / "net.nir"
    sub.export_nir(path)
    back = SpikingSubstrate.from_nir(path, seed=3, target="numpy")
    for name in ("weights", "biases", "theta", "leak"):
        for a, b in zip(getattr(sub.mapped, name), getattr(back.mapped, name)):
            assert a.shape == b.shape and float(np.max(np.abs(a - b))) == 0.0
    assert back.card == sub.card and back.mapped.input_shape == (1, 8, 8) and back.mapped.mismatch_seed == 3
    assert back.surrogate.free_steps == sub.surrogate.free_steps
    x = digits_splits.test.x[:16]
    torch.testing.assert_close(back.logits(x), sub.logits(x), rtol=0, atol=0)


def test_ce_readout_round_trip(tmp_path):
    card = preset("spiking-ideal")
    mapped = map_model(model("ce", hidden=(10,)), card, seed=0)
    path = tmp_path / "ce.nir"
    export_nir(mapped, card, path)
    back, back_card, _ = import_nir(nir.read(path))
    assert back.readout == "ce" and back_card == card
    np.testing.assert_array_equal(back.readout_weight, mapped.readout_weight)
    np.testing.assert_array_equal(back.readout_bias, mapped.readout_bias)


def _graph(card=None):
    card = card or preset("spiking-ideal")
    return export_nir(map_model(model(hidden=(6, 4)), card, seed=0), card)


def test_unsupported_nodes_are_refused():
    g = _graph()
    g.nodes["conv"] = nir.Conv2d(
        input_shape=(8, 8), weight=np.zeros((1, 1, 3, 3)), stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(1)
    )
    with pytest.raises(ValueError, match=r"'conv' has unsupported type Conv2d"):
        import_nir(g)
    g = _graph()
    g.nodes["layer_2"] = nir.CubaLIF(
        tau_syn=np.ones(4), tau_mem=np.ones(4), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4)
    )
    with pytest.raises(ValueError, match="CubaLIF"):
        import_nir(g)


def test_asymmetric_or_broken_graphs_are_refused():
    g = _graph()
    g.nodes["feedback_2"].weight = g.nodes["feedback_2"].weight * 1.01
    with pytest.raises(ValueError, match="transpose"):
        import_nir(g)
    g = _graph()
    g.edges = [e for e in g.edges if e != ("layer_2", "feedback_2")]
    with pytest.raises(ValueError, match="feedback"):
        import_nir(g)
    g = _graph()
    g.nodes["layer_1"].r = g.nodes["layer_1"].r * 2
    with pytest.raises(ValueError, match="r must be 1/dt_s"):
        import_nir(g)
    g = _graph()
    g.nodes["layer_1"].v_reset = np.full(6, 0.5)
    with pytest.raises(ValueError, match="v_reset"):
        import_nir(g)
    g = _graph()
    del g.metadata["dt_s"]
    for name in ("layer_1", "layer_2", "layer_3"):
        del g.nodes[name].metadata["dt_s"]
    with pytest.raises(ValueError, match="dt_s"):
        import_nir(g)
    with pytest.raises(TypeError, match="NIRGraph"):
        import_nir({"nodes": {}})
    g = _graph()
    del g.metadata["card_json"]
    assert import_nir(g)[1] is None
    with pytest.raises(ValueError, match="no spiking card"):
        SpikingSubstrate.from_nir(g, target="numpy")


def test_card_inconsistent_with_the_mapping_is_refused():
    mapped = map_model(model(), preset("spiking-ideal"), seed=0)  # no leak drawn
    with pytest.raises(ValueError, match="without leak"):
        export_nir(mapped, with_value(preset("spiking-ideal"), "neuron.tau_mem_s", 0.02))
    leaky = map_model(model(), preset("spiking-mixed-signal"), seed=0)
    with pytest.raises(ValueError, match="has a leak"):
        export_nir(leaky, preset("spiking-ideal"))
