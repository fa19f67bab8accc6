"""Per-tile ADC range calibration (card ``adc.range_calibration``, the ideal preset's setting):
each tile's full scale is the largest current its programmed cells can give, checked against
that bound computed straight from W, the worst-case input, the fixed-range law, and what it
buys a conv EBM on the ideal card (issue 13: a fixed 512-unit range left a 16-bit step of
1/64 weight, about 9 effective bits on a small conv layer's reads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates.crossbar import CrossbarSubstrate
from hardware_models.cards import CardError, preset, with_value
from hardware_models.crossbar import CrossbarArray

IDEAL = preset("ideal")
IDEAL_FIXED = with_value(IDEAL, "adc.range_calibration", "fixed")
EXACT = with_value(with_value(IDEAL, "adc.bits", None), "dac.bits", None)
SMALL_TILES = with_value(with_value(IDEAL, "tile.max_rows", 7), "tile.max_cols", 3)


def _bound(w: np.ndarray, in_edges, out_edges, cap: float) -> np.ndarray:
    """min(cap, max over a tile's output lines of sum |w| over its inputs), per (input tile, output tile)."""
    out = np.empty((len(in_edges) - 1, len(out_edges) - 1))
    for i in range(len(in_edges) - 1):
        for j in range(len(out_edges) - 1):
            block = w[out_edges[j]:out_edges[j + 1], in_edges[i]:in_edges[i + 1]]
            out[i, j] = min(cap, np.abs(block).sum(axis=1).max())
    return out


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_tile_full_scale_is_the_largest_current_of_each_tile(direction):
    w = np.random.default_rng(1).uniform(-0.8, 0.5, (8, 17))
    arr = CrossbarArray.from_card(w, SMALL_TILES, seed=0)
    m = arr.read_model(0.0, direction)
    wd = w if direction == "forward" else w.T
    assert m.adc_clip.shape == (3, 3)  # 17 inputs / 7 rows, 8 outputs / 3 columns (and transposed)
    # ideal device, no wires: a tile's current in weight units is sum_i w_ji x_i
    np.testing.assert_allclose(m.adc_clip, _bound(wd, m.in_edges, m.out_edges, 512.0 * arr.w_max), rtol=1e-12)
    np.testing.assert_allclose(m.adc_step, m.adc_clip / (2**15 - 1), rtol=1e-12)
    # the worst-case input of every line (x_i = sign w_ji, on the DAC's rails) reads its full
    # current, to half a step per input tile: no tile saturates below its bound
    for j in range(wd.shape[0]):
        y = m.read(np.sign(wd[j])[None, :], key=0)
        assert abs(float(y[0, j]) - np.abs(wd[j]).sum()) <= 1.5 * m.adc_step.max() + 1e-5


def test_fixed_range_keeps_the_card_range():
    w = np.random.default_rng(2).normal(size=(5, 9))
    m = CrossbarArray.from_card(w, IDEAL_FIXED, seed=0).read_model(0.0, "forward")
    w_max = np.abs(w).max()
    np.testing.assert_allclose(m.adc_clip, 512.0 * w_max)
    np.testing.assert_allclose(m.adc_step, 512.0 * w_max / (2**15 - 1))


def test_card_field_round_trip_and_refusal():
    assert IDEAL.to_dict()["adc"]["range_calibration"] == "tile"
    assert "range_calibration" not in preset("pcm").to_dict()["adc"]  # the default: stored cards hash as before
    with pytest.raises((CardError, ValueError), match="range_calibration"):
        with_value(IDEAL, "adc.range_calibration", "auto")


def test_conv_ebm_on_the_ideal_card_is_closer_to_exact_reads():
    model = ConvEBM(ConvEBMConfig(channels=(4, 8), free_steps=15, tol=0.0, init_gain=1.5, seed=3, schedule="sync",
                                  per_sample_stop=False)).eval()
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    ref = CrossbarSubstrate(model, EXACT, drift_time_s=0.0).settle(x)

    def deviation(card):
        s = CrossbarSubstrate(model, card, drift_time_s=0.0).settle(x)
        return max(float((a - b).abs().max()) for a, b in zip(s.states + [s.logits], ref.states + [ref.logits]))

    tile, fixed = deviation(IDEAL), deviation(IDEAL_FIXED)
    assert 0.0 < tile < fixed / 10.0, (tile, fixed)
