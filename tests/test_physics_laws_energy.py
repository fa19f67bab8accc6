"""Converter energy is a law of the bits: one conversion of a b-bit converter costs FOM * 2^b
(Walden figure of merit; 5 fJ/step for the ADC and 50 fJ / 2^7 for the DAC by default, see
hardware_models.cost). Expected values below are written out, not taken from the library."""

from __future__ import annotations

import numpy as np
import pytest

from analogeq.substrates.crossbar.cost import inference_cost
from hardware_models.cards import card_from_dict, preset, with_value
from hardware_models.cost import tile_read_cost
from hardware_models.crossbar import CrossbarArray


def _read_energies(card, n_in=16, n_out=12):
    g = np.full((n_in, n_out), 10e-6)
    return tile_read_cost(card, g, g, np.full((3, n_in), 0.1))


@pytest.mark.parametrize(("b1", "b2"), [(4, 9), (6, 8), (9, 12)])
def test_adc_energy_ratio_is_two_to_the_bit_difference(b1, b2):
    base = preset("pcm")
    c1, c2 = with_value(base, "adc.bits", b1), with_value(base, "adc.bits", b2)
    e1, e2 = _read_energies(c1), _read_energies(c2)
    assert e1.adc_energy_J / e2.adc_energy_J == pytest.approx(2.0 ** (b1 - b2), rel=1e-12)
    # 3 reads x 12 outputs at 5 fJ per conversion step
    assert e1.adc_energy_J == pytest.approx(3 * 12 * 5e-15 * 2.0**b1, rel=1e-12)
    assert e1.dac_energy_J == e2.dac_energy_J and e1.array_energy_J == e2.array_energy_J


@pytest.mark.parametrize(("b1", "b2"), [(4, 7), (6, 8)])
def test_dac_energy_ratio_is_two_to_the_bit_difference(b1, b2):
    base = preset("pcm")
    e1 = _read_energies(with_value(base, "dac.bits", b1))
    e2 = _read_energies(with_value(base, "dac.bits", b2))
    assert e1.dac_energy_J / e2.dac_energy_J == pytest.approx(2.0 ** (b1 - b2), rel=1e-12)
    assert e1.dac_energy_J == pytest.approx(3 * 16 * 50e-15 / 2**7 * 2.0**b1, rel=1e-12)
    assert e1.adc_energy_J == e2.adc_energy_J


def test_default_figures_of_merit_keep_the_aihwkit_like_energies():
    card = preset("pcm")  # 7-bit DAC, 9-bit ADC
    e = _read_energies(card)
    assert e.adc_energy_J / (3 * 12) == pytest.approx(2.56e-12, rel=1e-12)
    assert e.dac_energy_J / (3 * 16) == pytest.approx(50e-15, rel=1e-12)


def test_card_figure_of_merit_scales_the_energy():
    card = with_value(preset("pcm"), "cost.adc_fom_J_per_step", 1e-14)
    assert _read_energies(card).adc_energy_J == pytest.approx(3 * 12 * 1e-14 * 2**9, rel=1e-12)


def test_substrate_inference_cost_follows_the_bits():
    rng = np.random.default_rng(0)
    arr = CrossbarArray(rng.uniform(-1, 1, (10, 20)), preset("pcm").device, seed=1)
    reads = [arr.read_model(20.0, "forward"), arr.read_model(20.0, "backward")]
    row_reads = np.array([5.0, 3.0])
    out = {}
    for bits in (4, 8):
        card = with_value(preset("pcm"), "adc.bits", bits)
        out[bits] = inference_cost(card, reads, row_reads, 1e-4, 4.0, 30)
    assert out[4]["adc_energy_J"] / out[8]["adc_energy_J"] == pytest.approx(2.0**-4, rel=1e-12)
    # forward read: 10 outputs, backward: 20 outputs, one tile each
    assert out[4]["adc_energy_J"] == pytest.approx((5 * 10 + 3 * 20) * 5e-15 * 2**4, rel=1e-12)


def test_converter_summary_follows_the_bits():
    card = with_value(preset("pcm"), "adc.bits", 4)
    text = card.converter_summary()
    assert "4-bit ADC" in text and "9-bit" not in text and "7-bit DAC" in text
    assert "9-bit" not in card.description
    assert "0.08 pJ" in text  # 5 fJ x 2^4


def test_older_cards_with_fixed_energies_read_as_figures_of_merit():
    data = preset("rram").to_dict()  # 6-bit DAC, 8-bit ADC
    data["cost"] = {"e_dac_per_conversion_J": 6.4e-14, "e_adc_per_conversion_J": 1.28e-12, "e_neuron_update_J": 5e-13}
    card = card_from_dict(data)
    assert card.cost.dac_fom_J_per_step == pytest.approx(6.4e-14 / 64)
    assert card.cost.adc_fom_J_per_step == pytest.approx(1.28e-12 / 256)
    data["cost"]["adc_fom_J_per_step"] = 5e-15
    with pytest.raises(ValueError, match="not both"):
        card_from_dict(data)
