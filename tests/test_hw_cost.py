"""Cost model: array dissipation against an explicit per-cell sum, conversion counts, latency,
the full-scale bound, settle cost, and bad input."""

import math

import numpy as np
import pytest

from hardware_models.cards import preset, with_value
from hardware_models.cost import (
    ReadCost,
    adc_energy_walden_J,
    conversion_energies_J,
    settle_cost,
    tile_read_cost,
    tile_read_cost_bound,
)


def per_cell_energy(g_pos, g_neg, v, t_read, transpose):
    """Independent reference: loop over reads and cells, P = V^2 G per device."""
    total = 0.0
    rows, cols = g_pos.shape
    for vb in np.atleast_2d(v):
        for i in range(rows):
            for j in range(cols):
                volt = vb[j] if transpose else vb[i]
                total += volt**2 * (g_pos[i, j] + g_neg[i, j]) * t_read
    return total


@pytest.mark.parametrize("transpose", [False, True])
def test_array_energy_matches_per_cell_sum(transpose):
    card = preset("pcm")
    rng = np.random.default_rng(0)
    g_pos = rng.uniform(0, 25e-6, (7, 5))
    g_neg = rng.uniform(0, 25e-6, (7, 5))
    n_in = 5 if transpose else 7
    v = rng.uniform(-0.2, 0.2, (3, n_in))
    cost = tile_read_cost(card, g_pos, g_neg, v, transpose=transpose)
    ref = per_cell_energy(g_pos, g_neg, v, card.timing.t_read_s, transpose)
    assert cost.array_energy_J == pytest.approx(ref, rel=1e-12)
    n_out = 7 if transpose else 5
    assert (cost.n_reads, cost.n_dac_conversions, cost.n_adc_conversions) == (3, 3 * n_in, 3 * n_out)
    e_dac, e_adc = conversion_energies_J(card)
    assert cost.dac_energy_J == pytest.approx(3 * n_in * e_dac)
    assert cost.adc_energy_J == pytest.approx(3 * n_out * e_adc)
    assert cost.energy_J == pytest.approx(cost.array_energy_J + cost.dac_energy_J + cost.adc_energy_J)
    assert cost.latency_s == pytest.approx(3 * (card.timing.t_read_s + card.timing.t_adc_s))
    assert cost.energy_per_read_J == pytest.approx(cost.energy_J / 3)


def test_single_device_mapping_and_one_read():
    card = preset("ideal")
    g = np.full((4, 3), 10e-6)
    cost = tile_read_cost(card, g, None, np.full(4, 0.1))
    # 12 cells at 10 uS, 0.1 V, t_read 100 ns: 12 * 1e-5 * 0.01 * 1e-7 J
    assert cost.array_energy_J == pytest.approx(12 * 1e-5 * 0.01 * 1e-7, rel=1e-12)
    assert cost.n_reads == 1


def test_bound_closed_form():
    card = preset("pcm")
    b = tile_read_cost_bound(card, 512, 512)
    # 512*512 pairs, both devices at 25 uS, 0.2 V, 250 ns (see hardware_models.cost docstring)
    assert b.array_energy_J == pytest.approx(512 * 512 * 2 * 25e-6 * 0.2**2 * 250e-9, rel=1e-12)
    assert b.adc_energy_J == pytest.approx(512 * 5e-15 * 2**9)
    assert b.latency_s == pytest.approx(250e-9 + 100e-9)
    rng = np.random.default_rng(1)
    g = rng.uniform(0, 25e-6, (512, 512))
    typical = tile_read_cost(card, g, g[::-1], rng.uniform(-0.2, 0.2, 512))
    assert typical.energy_J < b.energy_J


def test_preset_adc_energies_follow_walden():
    assert adc_energy_walden_J(9) == pytest.approx(2.56e-12)
    for name in ("pcm", "rram", "pcm-harsh"):
        card = preset(name)
        assert conversion_energies_J(card)[1] == pytest.approx(adc_energy_walden_J(card.adc.bits))


def test_settle_cost_closed_form():
    card = preset("rram")
    read = ReadCost(energy_J=6e-9, latency_s=6e-7, array_energy_J=0, dac_energy_J=0, adc_energy_J=0,
                    n_reads=3, n_dac_conversions=0, n_adc_conversions=0)
    s = settle_cost(card, read, reads_per_step=4, steps=30, neuron_updates_per_step=100)
    assert s.n_reads == 120 and s.n_neuron_updates == 3000
    assert s.energy_J == pytest.approx(120 * 2e-9 + 3000 * card.cost.e_neuron_update_J)
    assert s.latency_s == pytest.approx(120 * 2e-7)
    zero = settle_cost(card, read, reads_per_step=4, steps=0, neuron_updates_per_step=100)
    assert zero.energy_J == 0.0 and zero.latency_s == 0.0


def test_cost_scales_with_card_values():
    card = preset("pcm")
    g = np.full((8, 8), 5e-6)
    v = np.full(8, 0.2)
    base = tile_read_cost(card, g, g, v)
    slow = tile_read_cost(with_value(card, "timing.t_read_s", 5e-7), g, g, v)
    assert slow.array_energy_J == pytest.approx(2 * base.array_energy_J)


def test_cost_bad_input():
    card = preset("pcm")
    g = np.full((4, 3), 1e-6)
    with pytest.raises(ValueError, match="shape"):
        tile_read_cost(card, g, g, np.zeros(3))
    with pytest.raises(ValueError, match="must match"):
        tile_read_cost(card, g, g[:, :2], np.zeros(4))
    with pytest.raises(ValueError, match="2-D"):
        tile_read_cost(card, g.ravel(), None, np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        tile_read_cost(card, g, None, np.array([0, 0, 0, math.nan]))
    with pytest.raises(ValueError, match="finite conductances"):
        tile_read_cost(card, -g, None, np.zeros(4))
    with pytest.raises(ValueError, match="v_read_V"):
        tile_read_cost(card, g, None, np.full(4, 0.3))
    with pytest.raises(ValueError, match="B = 0"):
        tile_read_cost(card, g, None, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="rows"):
        tile_read_cost_bound(card, 0, 4)
    with pytest.raises(ValueError, match="bits"):
        adc_energy_walden_J(0)
    read = tile_read_cost(card, g, None, np.zeros(4))
    with pytest.raises(ValueError, match="steps"):
        settle_cost(card, read, reads_per_step=1, steps=-1, neuron_updates_per_step=0)
    with pytest.raises(TypeError, match="ReadCost"):
        settle_cost(card, 1e-9, reads_per_step=1, steps=1, neuron_updates_per_step=0)
