"""NIR graphs that snnTorch and Norse import and run as the spiking substrate runs them.

A digits EBM (64-64-10, trained here for 5 epochs) is mapped on the ideal and the mixed-signal
spiking cards; its client-form NIR graph (``export_nir_for_client``) is imported by each
client's own importer (snnTorch ``import_from_nir``, Norse ``from_nir``), run for the card's
``t_free_s`` (the same simulated time) and decoded over the card's window; on 100 test digits
its predictions must agree with the spiking substrate's (Brian2, numpy target) on >= 97%.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.models import build_model
from analogeq.substrates.spiking import SpikingSubstrate, map_model
from analogeq.train import train
from analogeq.train.config import TrainConfig
from analogeq.train.recipes import DIGITS_DENSE_MODEL
from hardware_models import preset
from hardware_models.export.nir_clients import export_nir_for_client, nir_client_losses

snntorch = pytest.importorskip("snntorch", reason="snnTorch is not installed (pip install -e .[test])")
norse = pytest.importorskip("norse", reason="Norse is not installed (pip install -e .[test])")

_spec = importlib.util.spec_from_file_location(
    "benchmarks_nir_client_run", Path(__file__).resolve().parent.parent / "benchmarks" / "nir_client_run.py"
)
nir_client_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nir_client_run)

CARDS = ("spiking-ideal", "spiking-mixed-signal")
CLIENTS = ("snntorch", "norse")


@pytest.fixture(scope="module")
def trained(digits_splits):
    model = build_model(dict(DIGITS_DENSE_MODEL, hidden_sizes=[64], seed=0))
    train(model, digits_splits, TrainConfig(epochs=5, batch_size=20, lr=[0.1, 0.05], momentum=0.0, beta=0.5, seed=0), progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def spiking_predictions(trained, digits_splits):
    x = digits_splits.test.x[:100]
    out = {}
    for name in CARDS:
        sub = SpikingSubstrate.from_model(trained, name, seed=0, target="numpy", batch_size=100)
        out[name] = (sub, sub.predict(x))
    return x, out


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("card_name", CARDS)
def test_client_runs_the_graph_as_the_spiking_substrate(spiking_predictions, card_name, client):
    x, subs = spiking_predictions
    sub, reference = subs[card_name]
    agreement = nir_client_run.client_agreement(sub.mapped, sub.card, x, reference, client, substeps=8)
    assert agreement >= 0.97, f"{client} on {card_name}: agreement {agreement:.2f} with the spiking substrate"


@pytest.mark.parametrize("card_name", ("spiking-ideal", "spiking-digital", "spiking-mixed-signal"))
def test_importers_accept_the_graph_of_every_card(card_name):
    card = preset(card_name)
    mapped = map_model(DenseEBM(DenseEBMConfig(hidden_sizes=(12, 8), readout="ce", seed=0)), card, seed=3)
    for client in CLIENTS:
        g = export_nir_for_client(mapped, card, client, allow_loss=True)
        scores = nir_client_run.run_nir_graph(g, torch.rand(4, 1, 8, 8), client)
        assert scores.shape == (4, 10) and np.all(np.isfinite(scores))
        assert json.loads(g.metadata["client_losses"]) == nir_client_losses(card, client)


def test_export_refuses_without_allow_loss_and_names_the_losses():
    card = preset("spiking-mixed-signal")
    mapped = map_model(DenseEBM(DenseEBMConfig(hidden_sizes=(8,), seed=0)), card, seed=0)
    with pytest.raises(ValueError, match="reset by subtraction.*membrane_std"):
        export_nir_for_client(mapped, card, "norse")
    with pytest.raises(ValueError, match="client must be one of"):
        export_nir_for_client(mapped, card, "loihi", allow_loss=True)


def test_thresholds_and_leaks_are_folded_into_the_weights():
    """One LIF neuron per layer form, checked against the substrate's per-step law written out:
    v <- (1 - leak) v + c per step (c constant), fire at theta; client: threshold 1."""
    card = preset("spiking-mixed-signal")
    mapped = map_model(DenseEBM(DenseEBMConfig(hidden_sizes=(6,), seed=1)), card, seed=2)
    k = 4
    g = export_nir_for_client(mapped, card, "norse", substeps=k, allow_loss=True)
    lif, aff = g.nodes["layer_1"], g.nodes["affine_1"]
    np.testing.assert_array_equal(lif.v_threshold, 1.0)
    np.testing.assert_array_equal(lif.r, 1.0)
    h = card.timing.dt_s / k
    a = h / lif.tau  # Norse's Euler factor per client step
    np.testing.assert_allclose(a, mapped.leak[0] / k)
    # a * I' (what Norse adds per step) = (W_1 x + b_1) / (theta k): the substrate's charge per substep in thresholds
    np.testing.assert_allclose(a[:, None] * aff.weight, mapped.weights[0] / (mapped.theta[0][:, None] * k))
    np.testing.assert_allclose(a * aff.bias, mapped.biases[0] / (mapped.theta[0] * k))
    s = export_nir_for_client(mapped, card, "snntorch", substeps=k, allow_loss=True)
    # snnTorch: w_scale = r * 1e-4 / tau = 1 (threshold stays 1), beta = 1 - 1e-4 / tau = 1 - leak / k
    np.testing.assert_allclose(s.nodes["layer_1"].r * 1e-4 / s.nodes["layer_1"].tau, 1.0)
    np.testing.assert_allclose(1e-4 / s.nodes["layer_1"].tau, mapped.leak[0] / k)
    np.testing.assert_allclose(s.nodes["affine_1"].weight, mapped.weights[1 - 1] / (mapped.theta[0][:, None] * k))
