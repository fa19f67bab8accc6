"""Card <-> CrossSim-style JSON parameters: values against CrossSim's formulas (Joshi PCM fit,
ANCHORS.md; generic normal errors; sign-magnitude converters), round trips, losses, bad input.
CrossSim itself is not installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardware_models.cards import preset, with_value
from hardware_models.crossbar.converters import dac_quantizer
from hardware_models.export.aihwkit import card_to_aihwkit
from hardware_models.export.crosssim import (
    card_to_crosssim,
    crosssim_losses,
    crosssim_to_card,
    joshi_coeffs_rel,
)

from fixtures_interop import assert_close_tree, shared_fields

NOT_CARRIED = ("name", "description", "references", "timing", "neuron", "cost", "update", "drift_compensation")


def _joshi_sigma_uS(g_uS):
    # CrossSim PCM (Joshi) programming error, ANCHORS.md: sigma_G = -0.00178767 G^2 + 0.07585724 G + 0.28638599 uS
    return np.maximum(-0.00178767 * g_uS**2 + 0.07585724 * g_uS + 0.28638599, 0.0)


def _shared(card) -> dict:
    return shared_fields(card, NOT_CARRIED)


def _generic_card(model_coeffs):
    card = preset("pcm-crosssim")
    for path, value in [
        ("device.prog_noise_coeffs", model_coeffs), ("device.g_min_S", 0.5e-6), ("device.g_max_S", 50e-6),
        ("levels.n_levels", 16), ("wires.r_row_segment_ohm", 0.8), ("wires.r_col_segment_ohm", 1.3),
        ("tile.max_rows", 256), ("tile.max_cols", 128), ("mapping.w_max", 0.75), ("adc.bits", 6),
        ("adc.range_units", 9.0), ("dac.bits", None),
    ]:
        card = with_value(card, path, value)
    return card


def test_pcm_crosssim_preset_values():
    d = card_to_crosssim(preset("pcm-crosssim"))
    dev = d["xbar"]["device"]
    assert dev["Rmin"] == pytest.approx(40e3, rel=1e-15)  # 1 / 25 uS
    assert dev["infinite_on_off_ratio"] is True and "Rmax" not in dev
    assert dev["programming_error"] == {"enable": True, "model": "PCMJoshi", "magnitude": 0.0}
    assert dev["read_noise"]["model"] == "IdealDevice" and dev["drift_error"]["model"] == "IdealDevice"
    assert dev["cell_bits"] == 0
    adc = d["xbar"]["adc"]["mvm"]
    assert adc == {"model": "SignMagnitudeADC", "bits": 9, "signed": True,
                   "calibrated_range": [-12.0, 12.0], "adc_range_option": "CALIBRATED"}
    assert d["xbar"]["adc"]["vmm"] == adc
    assert d["xbar"]["dac"]["mvm"] == {"model": "SignMagnitudeDAC", "bits": 7, "signed": True}
    assert d["core"]["style"] == "BALANCED" and d["core"]["rows_max"] == 512
    assert crosssim_losses(preset("pcm-crosssim")) == []


@pytest.mark.parametrize("r_min_ohm", [40e3, 50e3, 125e3])
def test_imported_joshi_device_reproduces_the_crosssim_formula(r_min_ohm):
    d = card_to_crosssim(preset("pcm-crosssim"))
    d["xbar"]["device"]["Rmin"] = r_min_ohm
    card = crosssim_to_card(d)
    g_max_uS = 1e6 / r_min_ohm
    assert card.device.g_max_S == pytest.approx(g_max_uS * 1e-6, rel=1e-15)
    g_uS = np.linspace(0.0, g_max_uS, 33)
    np.testing.assert_allclose(card.device.programming_noise_std(g_uS * 1e-6) * 1e6, _joshi_sigma_uS(g_uS), rtol=1e-12)
    assert card.device.drift_scale == 0.0 and card.device.read_noise_scale == 0.0
    # and the card goes back to PCMJoshi
    assert card_to_crosssim(card)["xbar"]["device"]["programming_error"]["model"] == "PCMJoshi"


def test_generic_error_models_follow_crosssim_definitions():
    # NormalIndependentDevice: sigma = magnitude * Gmax; NormalProportionalDevice: sigma = magnitude * G
    g = np.linspace(0.5e-6, 50e-6, 9)
    for coeffs, model, sigma in [
        ([0.03], "NormalIndependentDevice", lambda g: 0.03 * 50e-6 * np.ones_like(g)),
        ([0.0, 0.05], "NormalProportionalDevice", lambda g: 0.05 * g),
    ]:
        card = with_value(_generic_card(coeffs), "device.programming_noise_scale", 2.0)
        prog = card_to_crosssim(card)["xbar"]["device"]["programming_error"]
        assert prog["model"] == model and prog["magnitude"] == pytest.approx(2.0 * coeffs[-1])
        np.testing.assert_allclose(card.device.programming_noise_std(g), 2.0 * sigma(g), rtol=1e-12)
        back = crosssim_to_card(card_to_crosssim(card))
        np.testing.assert_allclose(back.device.programming_noise_std(g), card.device.programming_noise_std(g), rtol=1e-12)


@pytest.mark.parametrize("bits", range(2, 17))
def test_sign_magnitude_dac_has_our_step(bits):
    # CrossSim SignMagnitudeDAC: 2**bits - 1 levels over [-1, 1]
    assert 2.0 / (2**bits - 2) == pytest.approx(dac_quantizer(bits).step, rel=1e-14)


@pytest.mark.parametrize("name", ["pcm-crosssim", "ideal"])
def test_round_trip_presets(name):
    card = preset(name)
    if card.adc.range_calibration != "fixed":  # the ideal preset calibrates each tile's ADC: a loss
        with pytest.raises(ValueError, match="adc.range_calibration"):
            card_to_crosssim(card)
        card = with_value(card, "adc.range_calibration", "fixed")
    data = json.loads(json.dumps(card_to_crosssim(card)))
    assert_close_tree(_shared(crosssim_to_card(data)), _shared(card))
    assert_close_tree(crosssim_to_card(data, base=card).to_dict(), card.to_dict())


@pytest.mark.parametrize("coeffs", [[0.03], [0.0, 0.05]])
def test_round_trip_of_a_non_default_card(coeffs):
    card = _generic_card(coeffs)
    data = json.loads(json.dumps(card_to_crosssim(card)))
    assert data["xbar"]["device"]["Rmax"] == pytest.approx(2e6)
    assert data["xbar"]["device"]["cell_bits"] == 4
    assert data["xbar"]["array"]["parasitics"]["Rp_row"] == pytest.approx(0.8 / 20e3)  # r / Rmin (CrossSim 3.0 units)
    assert data["core"]["rows_max"] == 128 and data["core"]["cols_max"] == 256  # CrossSim rows are outputs
    assert data["xbar"]["dac"]["mvm"]["model"] == "IdealDAC"
    # ADC range in CrossSim units of one Gmax cell: range_units * (g_max - g_min) / g_max
    assert data["xbar"]["adc"]["mvm"]["calibrated_range"][1] == pytest.approx(9.0 * 49.5 / 50.0)
    assert_close_tree(_shared(crosssim_to_card(data)), _shared(card))
    ohms = card_to_crosssim(card, rp_normalized=False)
    assert ohms["xbar"]["array"]["parasitics"]["Rp_col"] == 1.3
    assert crosssim_to_card(ohms, rp_normalized=False).wires.r_col_segment_ohm == pytest.approx(1.3)


def test_losses_refused_unless_allowed():
    with pytest.raises(ValueError, match="drift") as info:
        card_to_crosssim(preset("pcm"))
    for word in ("read noise", "prog_noise_coeffs", "tia.noise_units"):
        assert word in str(info.value)
    data = card_to_crosssim(preset("pcm"), allow_loss=True)
    assert data["xbar"]["device"]["programming_error"]["model"] == "IdealDevice"
    for path, value, word in [
        ("levels.n_levels", 12, "n_levels"), ("wires.r_source_ohm", 5.0, "r_source_ohm"),
        ("faults.stuck_at_gmin_rate", 0.01, "faults"), ("device.programming_noise_scale", 1.5, "scale"),
    ]:
        with pytest.raises(ValueError, match=word):
            card_to_crosssim(with_value(preset("pcm-crosssim"), path, value))
    with pytest.raises(ValueError, match="rram"):
        card_to_crosssim(preset("rram"))


def test_bad_input():
    good = card_to_crosssim(preset("pcm-crosssim"))

    def variant(mutate):
        data = json.loads(json.dumps(good))
        mutate(data)
        return data

    def set_in(path, value):
        def mutate(data):
            node = data
            keys = path.split(".")
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value
        return mutate

    cases = [
        (variant(set_in("xbar.device.Rmin", 10e3)), ValueError, "25 uS"),  # PCMJoshi needs Gmax <= 25 uS
        (variant(set_in("xbar.device.Rmin", -1.0)), ValueError, "Rmin"),
        (variant(set_in("xbar.device.programming_error.model", "RRAMMilo")), ValueError, "supported"),
        (variant(set_in("xbar.device.read_noise", {"enable": True, "model": "NormalProportionalDevice", "magnitude": 0.01})),
         ValueError, "read_noise"),
        (variant(set_in("xbar.adc.mvm.calibrated_range", [-3.0, 12.0])), ValueError, "symmetric"),
        (variant(set_in("xbar.adc.mvm.adc_range_option", "GRANULAR")), ValueError, "CALIBRATED"),
        (variant(set_in("xbar.adc.mvm.model", "RampADC")), ValueError, "SignMagnitudeADC"),
        (variant(set_in("core.style", "OFFSET")), ValueError, "BALANCED"),
        (variant(set_in("xbar.device.cell_bits", 2.5)), TypeError, "cell_bits"),
        (variant(lambda d: d.pop("xbar")), ValueError, "xbar"),
        (variant(lambda d: d.update(surprise=1)), ValueError, "unknown key"),
        (preset("pcm").to_dict(), ValueError, "device card"),  # a card where CrossSim JSON is expected
        (card_to_aihwkit(preset("pcm")), ValueError, "aihwkit"),
        ("{}", TypeError, "JSON object"),
    ]
    for data, exc, word in cases:
        with pytest.raises(exc, match=word):
            crosssim_to_card(data)
    # allow_loss imports what it can
    noisy = variant(set_in("xbar.device.read_noise", {"enable": True, "model": "NormalIndependentDevice", "magnitude": 0.01}))
    assert crosssim_to_card(noisy, allow_loss=True).device.kind == "pcm"


def test_joshi_coefficients_relative_to_g_max():
    # at g_max = 25 uS they are the device module's constants (hardware_models.devices.pcm)
    from hardware_models.devices.pcm import CROSSSIM_JOSHI_COEFFS_REL

    np.testing.assert_allclose(joshi_coeffs_rel(25e-6), CROSSSIM_JOSHI_COEFFS_REL, rtol=1e-15)
