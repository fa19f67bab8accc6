"""SPICE netlists of programmed tiles, validated against ngspice (ISSUE 3: relative error <= 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.crossbar import CrossbarArray, WireResistances, effective_conductance, solve_column_currents
from hardware_models.devices import PCMDevice
from hardware_models.export.spice import NgspiceError, crossbar_netlist, find_ngspice, run_ngspice, write_netlist

needs_ngspice = pytest.mark.skipif(
    find_ngspice() is None,
    reason="ngspice binary not found on PATH (Debian/Ubuntu package 'ngspice'; .ci/run installs it)",
)

WIRES = WireResistances(r_row_segment_ohm=2.5, r_col_segment_ohm=2.5, r_source_ohm=200.0, r_sense_ohm=100.0)


def programmed_tile(n: int, seed: int):
    """A PCM-programmed n x n tile read after one hour (programming noise and drift)."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((n, n))
    array = CrossbarArray(weights, PCMDevice(), wires=WIRES, seed=seed, dac_bits=8, v_read_V=0.2)
    g_plus, g_minus = array.tile_conductances(3600.0, 0, 0)
    x = rng.uniform(-1, 1, n)
    v = array.v_read_V * np.rint(x * 127) / 127  # the 8-bit DAC voltages
    return array, g_plus, g_minus, v


@pytest.mark.ngspice
@needs_ngspice
def test_ngspice_agrees_with_sparse_solve_32x32():
    _, g_plus, _, v = programmed_tile(32, seed=11)
    spice = run_ngspice(crossbar_netlist(g_plus, v, WIRES))
    ours = solve_column_currents(g_plus, v, WIRES)
    ours_matrix = v @ effective_conductance(g_plus, WIRES)
    rel = np.abs(spice - ours) / np.abs(ours)
    assert rel.max() <= 1e-6, rel.max()
    assert np.max(np.abs(ours_matrix - ours) / np.abs(ours)) <= 1e-9
    # the wires matter at this size: the IR-drop-free currents differ by far more than 1e-6
    assert np.max(np.abs(v @ g_plus - spice) / np.abs(spice)) > 1e-4


@pytest.mark.ngspice
@needs_ngspice
def test_ngspice_differential_pair_16x16_matches_read_model(tmp_path):
    array, g_plus, g_minus, v = programmed_tile(16, seed=12)
    path = write_netlist(tmp_path / "pair.cir", [("p", g_plus, v), ("m", g_minus, v)], WIRES)
    currents = run_ngspice(path)
    i_diff = currents[:16] - currents[16:]
    # the read model's mean map in weight units, back to amperes (undoing the drift compensation)
    model = array.read_model(3600.0, "forward")
    x_q = v / array.v_read_V
    units = x_q @ (model.w_eff.astype(np.float64).T / model.drift_alpha[0, 0]) / array.w_max
    ours = units * array.v_read_V * array.span_S
    # w_eff is stored in float32: agreement to float32 precision of the largest current
    assert np.max(np.abs(ours - i_diff)) <= 1e-6 * np.abs(i_diff).max()
    exact = solve_column_currents(g_plus, v, WIRES) - solve_column_currents(g_minus, v, WIRES)
    assert np.max(np.abs(exact - i_diff) / np.abs(exact).max()) <= 1e-6


def test_netlist_names_shorts_and_open_cells():
    g = np.array([[2.0**-16, 0.0], [2.0**-15, 2.0**-14]])  # 1/g exact in binary
    text = crossbar_netlist(g, np.array([0.1, -0.2]), WireResistances(0.0, 3.0, 50.0, 0.0), prefix="p")
    lines = text.splitlines()
    assert lines[0].startswith("*") and lines[-1] == ".end"
    assert "Vpin1 pin1 0 DC -0.2" in lines
    assert "Rpsrc0 pin0 prd0 50.0" in lines
    assert "Vprw0_0_short prd0 pr0_0 DC 0" in lines  # zero row segment: an exact short
    assert "Rpx0_0 pr0_0 pc0_0 65536.0" in lines
    assert not any(line.startswith("Rpx0_1 ") for line in lines)  # 0 S cell: open
    assert "Rpcw1_1 pc0_1 pc1_1 3.0" in lines
    assert "Vpsns1_short pcs1 pvg1 DC 0" in lines
    assert "Vpsense1 pvg1 0 DC 0" in lines
    assert "print i(vpsense1)" in lines


def test_netlist_bad_input(tmp_path):
    g = np.full((2, 3), 1e-5)
    with pytest.raises(ValueError, match="v_rows_V"):
        crossbar_netlist(g, np.zeros(3))
    with pytest.raises(ValueError, match="v_rows_V"):
        crossbar_netlist(g, np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="negative"):
        crossbar_netlist(-g, np.zeros(2))
    with pytest.raises(ValueError, match="prefix"):
        crossbar_netlist(g, np.zeros(2), prefix="a b")
    with pytest.raises(ValueError, match="distinct"):
        write_netlist(tmp_path / "x.cir", [("a", g, np.zeros(2)), ("A", g, np.zeros(2))])
    with pytest.raises(NgspiceError, match="not found"):
        run_ngspice(crossbar_netlist(g, np.zeros(2)), executable="ngspice-that-does-not-exist")
    with pytest.raises(NgspiceError, match="print"):
        run_ngspice("* empty\n.end\n")
