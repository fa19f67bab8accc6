"""Item 3 of issue 14: every substrate's cost() and describe() give the parts of one inference's
energy; the parts sum to the total, and the ADC's share follows the converter law
E_adc = FOM * 2^bits when only adc.bits changes."""

from __future__ import annotations

import math

import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.report.energy import energy_breakdown_text
from analogeq.substrates import build_substrate
from hardware_models.cards import preset, with_value


@pytest.fixture(scope="module")
def model():
    return DenseEBM(DenseEBMConfig(hidden_sizes=(16,), init_gain=0.5, free_steps=200, tol=1e-5, seed=2))


@pytest.fixture
def images():
    return torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(5))


def _parts_sum(cost) -> float:
    return math.fsum(cost["energy_breakdown_J"].values())


def test_crossbar_parts_sum_to_the_total_bound_and_measured(model, images):
    sub = build_substrate("crossbar", model, card="pcm", seed=1)
    bound = sub.cost()
    assert list(bound["energy_breakdown_J"]) == ["array", "DAC", "ADC", "neurons"]
    assert _parts_sum(bound) == pytest.approx(bound["energy_per_inference_J"], rel=1e-12)
    assert sub.describe()["energy_model"]["bound_breakdown_J"] == bound["energy_breakdown_J"]
    sub.logits(images)
    measured = sub.cost()
    assert measured["basis"] == "measured"
    assert _parts_sum(measured) == pytest.approx(measured["energy_per_inference_J"], rel=1e-12)
    assert measured["energy_breakdown_J"]["ADC"] == measured["adc_energy_J"]
    shares = [float(p.split()[-1].rstrip("%")) for p in energy_breakdown_text(measured).split(", ")]
    assert sum(shares) == pytest.approx(100.0, abs=2.0)  # whole-percent rounding of four parts


@pytest.mark.parametrize("bits", [(4, 8), (6, 9)])
def test_adc_share_moves_with_the_bits_as_the_converter_law_says(model, bits):
    b1, b2 = bits
    card = preset("pcm")
    c1 = build_substrate("crossbar", model, card=with_value(card, "adc.bits", b1), seed=1).cost()["energy_breakdown_J"]
    sub2 = build_substrate("crossbar", model, card=with_value(card, "adc.bits", b2), seed=1)
    c2 = sub2.cost()["energy_breakdown_J"]
    # the law written out: E_adc = FOM_adc * 2^bits per conversion, the other parts unchanged
    assert sub2.describe()["energy_model"]["e_adc_J"] == pytest.approx(card.cost.adc_fom_J_per_step * 2 ** b2, rel=1e-12)
    assert c2["ADC"] / c1["ADC"] == pytest.approx(2.0 ** (b2 - b1), rel=1e-12)
    rest = c1["array"] + c1["DAC"] + c1["neurons"]
    assert c2["array"] + c2["DAC"] + c2["neurons"] == pytest.approx(rest, rel=1e-12)
    predicted = c1["ADC"] * 2 ** (b2 - b1) / (rest + c1["ADC"] * 2 ** (b2 - b1))
    assert c2["ADC"] / math.fsum(c2.values()) == pytest.approx(predicted, rel=1e-9)
    assert c2["ADC"] / math.fsum(c2.values()) > c1["ADC"] / math.fsum(c1.values())


def test_spiking_parts_sum_to_the_total(model):
    sub = build_substrate("spiking", model, card="spiking-ideal", target="numpy")
    cost = sub.cost()
    assert list(cost["energy_breakdown_J"]) == ["spikes", "synaptic events", "neuron steps"]
    assert _parts_sum(cost) == pytest.approx(cost["energy_per_inference_J"], rel=1e-12)
    e = sub.describe()["energy_model"]
    steps = sub.mapped.n_neurons * sub.card.timing.free_steps  # no inference yet: only the neuron steps
    assert cost["energy_breakdown_J"]["neuron steps"] == pytest.approx(steps * e["e_neuron_step_J"], rel=1e-12)


def test_resistive_parts_sum_to_the_total(model, images):
    sub = build_substrate("resistive", model, card="pcm")
    sub.logits(images)
    cost = sub.cost()
    assert list(cost["energy_breakdown_J"]) == ["network", "DAC", "ADC"]
    assert _parts_sum(cost) == pytest.approx(cost["energy_per_inference_J"], rel=1e-12)
    e = sub.describe()["energy_model"]
    assert cost["energy_breakdown_J"]["ADC"] == pytest.approx(10 * e["e_adc_J"], rel=1e-12)  # one per output
    assert cost["energy_breakdown_J"]["DAC"] == pytest.approx(2 * 64 * e["e_dac_J"], rel=1e-12)  # two per input


def test_float_has_no_energy_model(model):
    sub = build_substrate("float", model)
    assert sub.cost() is None and sub.describe()["energy_model"] is None
