"""The crossbar_read_error evaluation through a sweep, against closed forms and invariants."""

from __future__ import annotations

import math

import pytest
from fixtures_sweeps import spec_toml, sweep_rows


def _rows(tmp_path, card: str, axes: str, params: str = "", seeds: str = "[0]"):
    text = spec_toml("xbar", seeds=seeds, card=card, axes=axes,
                     evaluations=f"[evaluations.crossbar_read_error]\n{params}")
    return sweep_rows(tmp_path, text, "x.db")


def test_ideal_card_without_converters_reproduces_the_matrix_product(tmp_path):
    rows = _rows(tmp_path, "ideal", '"adc.bits" = ["null"]\n"dac.bits" = ["null"]', "direction = \"backward\"")
    (row,) = rows
    assert row["metrics"]["relative_error"] < 1e-5  # float32 arithmetic only
    assert row["metrics"]["gain"] == pytest.approx(1.0, abs=1e-5)


def test_adc_rounding_error_matches_the_uniform_quantisation_closed_form(tmp_path):
    # ideal devices and DAC: the only error is the ADC's rounding, uniform on a step of
    # range/L (L = 2^(b-1) - 1 levels per side) in units of w_max: std step/sqrt(12).
    # Outputs y = sum of 64 products of U(-1,1) numbers: rms sqrt(64/9); w_max = max|W| ~ 1.
    rows = _rows(
        tmp_path, "ideal",
        '"adc.bits" = [8, 10, 12]\n"adc.range_units" = [16.0]\n"dac.bits" = ["null"]',
        "n_in = 64\nn_out = 64\nbatch = 64",
    )
    for row in rows:
        bits = row["axes"]["adc.bits"]
        step = 16.0 / (2 ** (bits - 1) - 1)
        expected = step / math.sqrt(12) / math.sqrt(64 / 9)
        assert row["metrics"]["relative_error"] == pytest.approx(expected, rel=0.1)


def test_drift_lowers_the_gain_unless_compensated(tmp_path):
    rows = _rows(
        tmp_path, "pcm",
        '"drift_compensation" = ["none", "global"]\ndrift_time_s = [20.0, 86400.0]',
    )
    gain = {(r["axes"]["drift_compensation"], r["axes"]["drift_time_s"]): r["metrics"]["gain"] for r in rows}
    assert gain[("none", 86400.0)] < gain[("none", 20.0)] - 0.02
    assert abs(gain[("global", 86400.0)] - 1.0) < abs(gain[("none", 86400.0)] - 1.0)
