"""Card <-> aihwkit-style parameter dict: values against aihwkit's published formulas and
defaults (ANCHORS.md, "Analog crossbar simulators"; aihwkit's IOParameters and
PCMLikeNoiseModel), round trips, losses, bad input. aihwkit itself is not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardware_models.cards import preset, with_value
from hardware_models.crossbar.converters import adc_quantizer, dac_quantizer
from hardware_models.export.aihwkit import (
    aihwkit_losses,
    aihwkit_to_card,
    bits_to_res,
    card_to_aihwkit,
    res_to_bits,
)
from hardware_models.export.crosssim import card_to_crosssim

from fixtures_interop import assert_close_tree, shared_fields

# aihwkit PCMLikeNoiseModel defaults (ANCHORS.md): coefficients in uS for g_max 25 uS
AIHWKIT_PROG_COEFF_uS = [0.26348, 1.9650, -1.1731]

NOT_CARRIED = ("name", "description", "references", "timing", "neuron", "cost", "update")


def _aihwkit_sigma_prog_uS(nm: dict, g_uS: np.ndarray) -> np.ndarray:
    """aihwkit's programming std written from its formula: sum c_i (g/g_max)^i * g_max / ref, with
    ref = g_max when prog_coeff is passed without a reference (aihwkit 1.2.0's __init__)."""
    g_max = nm["g_converter"]["g_max"]
    x = g_uS / g_max
    poly = sum(c * x**i for i, c in enumerate(nm["prog_coeff"]))
    return np.maximum(poly * g_max / nm.get("prog_coeff_g_max_reference", g_max), 0.0) * nm["prog_noise_scale"]


def _aihwkit_nu_stats(nm: dict, g_uS: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """aihwkit's drift-exponent mean and std (ANCHORS.md form), from the dict's constants."""
    pc = nm["pcm_constants"]
    lx = np.log(np.maximum(g_uS / nm["g_converter"]["g_max"], 1e-7))
    mu = np.clip(pc["nu_mean"]["slope"] * lx + pc["nu_mean"]["offset"], pc["nu_mean"]["min"], pc["nu_mean"]["max"])
    sd = np.clip(pc["nu_std"]["slope"] * lx + pc["nu_std"]["offset"], pc["nu_std"]["min"], pc["nu_std"]["max"])
    return mu, sd


def _shared(card) -> dict:
    return shared_fields(card, NOT_CARRIED)


def test_pcm_preset_matches_aihwkit_defaults():
    d = card_to_aihwkit(preset("pcm"))
    fwd = d["forward"]
    # aihwkit I/O defaults: 7-bit DAC (inp_res 1/126), 9-bit ADC (out_res 1/510), out_bound 12, out_noise 0.06
    assert fwd["inp_res"] == pytest.approx(1 / 126, rel=1e-15)
    assert fwd["out_res"] == pytest.approx(1 / 510, rel=1e-15)
    assert fwd["inp_bound"] == 1.0 and fwd["out_bound"] == 12.0 and fwd["out_noise"] == 0.06
    assert d["mapping"] == {"max_input_size": 512, "max_output_size": 512}
    assert d["drift_compensation"] == "GlobalDriftCompensation"
    nm = d["noise_model"]
    assert nm["class"] == "PCMLikeNoiseModel"
    assert nm["g_converter"] == {"class": "SinglePairConductanceConverter", "g_max": 25.0, "g_min": 0.0}
    assert "prog_coeff_g_max_reference" not in nm  # aihwkit 1.2.0 crashes when it is passed
    np.testing.assert_allclose(nm["prog_coeff"], AIHWKIT_PROG_COEFF_uS, rtol=1e-13)
    assert nm["t_0"] == 20.0 and nm["t_read"] == 250e-9
    assert (nm["prog_noise_scale"], nm["read_noise_scale"], nm["drift_scale"]) == (1.0, 1.0, 1.0)
    pc = nm["pcm_constants"]
    assert pc["nu_mean"] == {"slope": -0.0155, "offset": 0.0244, "min": 0.049, "max": 0.1}
    assert pc["nu_std"] == {"slope": -0.0125, "offset": -0.0059, "min": 0.008, "max": 0.045}
    assert pc["read_noise_q"] == {"q0": 0.0088, "exponent": 0.65, "q_max": 0.2}
    assert aihwkit_losses(preset("pcm")) == []


@pytest.mark.parametrize("g_max_S", [25e-6, 10e-6, 60e-6])
def test_dict_formulas_reproduce_the_device_statistics(g_max_S):
    card = with_value(preset("pcm"), "device.g_max_S", g_max_S)
    card = with_value(card, "device.programming_noise_scale", 0.7)
    nm = card_to_aihwkit(card)["noise_model"]
    g_S = np.linspace(0.0, g_max_S, 41)
    g_uS = g_S * 1e6
    np.testing.assert_allclose(_aihwkit_sigma_prog_uS(nm, g_uS) * 1e-6, card.device.programming_noise_std(g_S), rtol=1e-12, atol=1e-22)
    mu, sd = _aihwkit_nu_stats(nm, g_uS)
    mu_dev, sd_dev = card.device.drift_exponent_stats(g_S)
    np.testing.assert_allclose(mu, mu_dev, rtol=1e-12)
    np.testing.assert_allclose(sd, sd_dev, rtol=1e-12)
    q = nm["pcm_constants"]["read_noise_q"]
    x = g_uS[1:] / nm["g_converter"]["g_max"]
    q_aihwkit = np.minimum(q["q0"] / np.maximum(x ** q["exponent"], 1e-3), q["q_max"])
    np.testing.assert_allclose(q_aihwkit, card.device.read_noise_q(g_S[1:]), rtol=1e-12)


@pytest.mark.parametrize("bits", range(2, 17))
def test_resolution_gives_the_same_step_as_our_converters(bits):
    # aihwkit discretises with step res * 2 * bound (rpu_pulsed_meta_parameter.cpp: res * range)
    res = bits_to_res(bits)
    assert res * 2 * 1.0 == pytest.approx(dac_quantizer(bits).step, rel=1e-14)
    assert res * 2 * 12.0 == pytest.approx(adc_quantizer(bits, 12.0).step, rel=1e-14)
    assert res_to_bits(res, "x") == bits
    assert res_to_bits(1.0 / res, "x") == bits  # aihwkit reads res > 1 as a number of steps


def _fixed_range(card):
    """The card with one ADC range for every tile (the ideal preset calibrates per tile: a loss)."""
    if card.adc.range_calibration == "fixed":
        return card
    with pytest.raises(ValueError, match="adc.range_calibration"):
        card_to_aihwkit(card)
    return with_value(card, "adc.range_calibration", "fixed")


@pytest.mark.parametrize("name", ["pcm", "ideal", "pcm-crosssim"])
def test_round_trip_presets(name):
    card = _fixed_range(preset(name))
    data = json.loads(json.dumps(card_to_aihwkit(card)))
    back = aihwkit_to_card(data)
    assert_close_tree(_shared(back), _shared(card))
    assert back.name == card.name
    # with the card itself as base, nothing at all changes
    assert_close_tree(aihwkit_to_card(data, base=card).to_dict(), card.to_dict())


def test_round_trip_of_a_non_default_card():
    card = preset("pcm")
    for path, value in [
        ("dac.bits", 5), ("adc.bits", 11), ("adc.range_units", 7.5), ("tia.noise_units", 0.02),
        ("tile.max_rows", 128), ("tile.max_cols", 64), ("device.g_min_S", 1e-6), ("device.g_max_S", 20e-6),
        ("device.prog_noise_coeffs", [0.01, 0.02, 0.003, -0.001]), ("device.programming_noise_scale", 0.5),
        ("device.read_noise_scale", 2.0), ("device.drift_scale", 0.25), ("device.t0_s", 30.0),
        ("device.t_read_s", 1e-6), ("drift_compensation", "none"), ("device.nu_mean_log_coeffs", [-0.02, 0.03]),
        ("device.read_noise_q0", 0.01),
    ]:
        card = with_value(card, path, value)
    with pytest.raises(ValueError, match="nu_mean_log_coeffs"):
        card_to_aihwkit(card)  # non-aihwkit constants are a loss for aihwkit ...
    data = card_to_aihwkit(card, allow_loss=True)
    assert data["drift_compensation"] is None
    assert data["forward"]["inp_res"] == pytest.approx(1 / 30)
    assert_close_tree(_shared(aihwkit_to_card(json.loads(json.dumps(data)))), _shared(card))  # ... but round-trip here


def test_ideal_dac_and_adc():
    card = with_value(with_value(preset("pcm"), "dac.bits", None), "adc.bits", None)
    assert "adc.bits = None" in " ".join(aihwkit_losses(card))
    data = card_to_aihwkit(card, allow_loss=True)
    assert data["forward"]["inp_res"] == -1.0 and data["forward"]["out_res"] == -1.0
    back = aihwkit_to_card(data)
    assert back.dac.bits is None and back.adc.bits is None and back.adc.range_units == 12.0


def test_losses_refused_unless_allowed():
    harsh = preset("pcm-harsh")
    with pytest.raises(ValueError, match="faults"):
        card_to_aihwkit(harsh)
    data = card_to_aihwkit(harsh, allow_loss=True)
    assert aihwkit_to_card(data).faults.any is False
    for path, value, word in [
        ("levels.n_levels", 16, "levels"), ("wires.r_row_segment_ohm", 1.0, "wires"), ("mapping.w_max", 1.0, "w_max"),
    ]:
        with pytest.raises(ValueError, match=word):
            card_to_aihwkit(with_value(preset("pcm"), path, value))
    with pytest.raises(ValueError, match="rram"):
        card_to_aihwkit(preset("rram"))
    with pytest.raises(ValueError, match="even with allow_loss"):
        card_to_aihwkit(preset("rram"), allow_loss=True)


def test_bad_input():
    good = card_to_aihwkit(preset("pcm"))

    def variant(path, value):
        data = json.loads(json.dumps(good))
        node = data
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
        return data

    cases = [
        (variant("forward.inp_res", 0.3), ValueError, "inp_res"),
        (variant("forward.out_res", float("nan")), ValueError, "out_res"),
        (variant("forward.inp_bound", 2.0), ValueError, "inp_bound"),
        (variant("forward.out_bound", "12"), TypeError, "out_bound"),
        (variant("forward", KeyError), ValueError, "forward"),
        (variant("forward.surprise", 1), ValueError, "surprise"),
        (variant("noise_model.class", "ReRamWan2022NoiseModel"), ValueError, "PCMLikeNoiseModel"),
        (variant("noise_model.prog_coeff", []), TypeError, "prog_coeff"),
        (variant("drift_compensation", "PerColumnDriftCompensation"), ValueError, "drift_compensation"),
        (variant("format", "something-else"), ValueError, "format"),
        (preset("pcm").to_dict(), ValueError, "device card"),  # a card given where an aihwkit dict is expected
        (card_to_crosssim(preset("pcm-crosssim")), ValueError, "CrossSim"),
        ([1, 2], TypeError, "JSON object"),
    ]
    for data, exc, word in cases:
        with pytest.raises(exc, match=word):
            aihwkit_to_card(data)
    with pytest.raises(ValueError, match="g_max_S"):  # card validation names the field
        aihwkit_to_card(variant("noise_model.g_converter.g_max", -1.0))
    with pytest.raises(TypeError, match="CrossbarCard"):
        card_to_aihwkit(good)
    with pytest.raises(ValueError, match="bits"):
        bits_to_res(1)
