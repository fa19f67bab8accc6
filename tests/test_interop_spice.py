"""A programmed layer written as an ngspice netlist: ngspice's currents against the crossbar
code's own exact solves (sparse nodal solve and the substrate's structured effective
conductance), the variability instance in the netlist, node names, reproducibility."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hardware_models.cards import preset, with_value
from hardware_models.crossbar.array import CrossbarArray
from hardware_models.crossbar.ir_drop import effective_conductance, solve_column_currents
from hardware_models.export.layer_spice import layer_output, layer_tiles, run_layer_netlist, write_layer_netlist
from hardware_models.export.spice import find_ngspice

NO_NGSPICE = "ngspice binary not installed (apt-get install ngspice; .ci/run installs it)"
T_READ_S = 3600.0  # an hour after programming: drift has moved every PCM cell


def _card(max_rows=16, max_cols=16):
    card = preset("pcm")
    for path, value in [
        ("wires.r_row_segment_ohm", 2.5), ("wires.r_col_segment_ohm", 3.0), ("wires.r_source_ohm", 50.0),
        ("wires.r_sense_ohm", 20.0), ("tile.max_rows", max_rows), ("tile.max_cols", max_cols),
    ]:
        card = with_value(card, path, value)
    return card


def _array(shape=(16, 16), seed=7, **tile):
    weights = np.random.default_rng(seed).normal(size=shape)
    return CrossbarArray.from_card(weights, _card(**tile), seed=seed, dtype=np.float64)


def _rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def test_netlist_holds_the_programmed_instance(tmp_path):
    array = _array()
    x = np.random.default_rng(1).uniform(-1, 1, 16)
    path = tmp_path / "tile.cir"
    write_layer_netlist(array, x, path, t_s=T_READ_S)
    text = path.read_text()
    g_plus, g_minus = array.tile_conductances(T_READ_S, 0, 0)
    for prefix, g in (("tile0_0p_", g_plus), ("tile0_0n_", g_minus)):
        cells = re.findall(rf"^R{prefix}x(\d+)_(\d+) \S+ \S+ (\S+)$", text, flags=re.MULTILINE)
        written = np.zeros_like(g)
        for i, j, r in cells:
            written[int(i), int(j)] = 1.0 / float(r)
        np.testing.assert_allclose(written, g, rtol=1e-15)  # zero conductances are open (no resistor)
    # it is the noisy, drifted draw, not the nominal targets
    assert not np.allclose(g_plus - g_minus, array.weights.T / array.w_max * array.span_S, rtol=1e-3)
    # drivers carry v_read * dac(x) (7-bit DAC of the pcm card)
    drivers = dict(re.findall(r"^Vtile0_0p_in(\d+) \S+ 0 DC (\S+)$", text, flags=re.MULTILINE))
    dac = np.rint(np.clip(x, -1, 1) * 63) / 63
    np.testing.assert_allclose([float(drivers[str(i)]) for i in range(16)], 0.2 * dac, rtol=1e-15)


def test_node_names_and_reproducibility(tmp_path):
    array = _array(shape=(12, 20), max_rows=8, max_cols=8)
    x = np.linspace(-1, 1, 20)
    first = write_layer_netlist(array, x, tmp_path / "a.cir", t_s=T_READ_S)
    write_layer_netlist(_array(shape=(12, 20), max_rows=8, max_cols=8), x, tmp_path / "b.cir", t_s=T_READ_S)
    assert (tmp_path / "a.cir").read_bytes() == (tmp_path / "b.cir").read_bytes()  # same seed, same netlist
    assert first["n_tiles"] == [3, 2] and len(first["tiles"]) == 6
    text = (tmp_path / "a.cir").read_text()
    for tile in first["tiles"]:
        rb, cb = tile["row_block"], tile["col_block"]
        for pol in "pn":
            assert f"Vtile{rb}_{cb}{pol}_in0 tile{rb}_{cb}{pol}_in0 0 DC" in text
            assert f"Vtile{rb}_{cb}{pol}_sense0 tile{rb}_{cb}{pol}_vg0 0 DC 0" in text
    covered = np.zeros((12, 20), dtype=int)
    for tile in first["tiles"]:
        covered[slice(*tile["outputs"]), slice(*tile["inputs"])] += 1
    assert np.all(covered == 1)
    other = write_layer_netlist(_array(shape=(12, 20), seed=8, max_rows=8, max_cols=8), x, tmp_path / "c.cir", t_s=T_READ_S)
    assert other["tiles"][0]["substrate_i_plus_A"] != first["tiles"][0]["substrate_i_plus_A"]
    with pytest.raises(ValueError, match="shape"):
        layer_tiles(array, np.zeros(19), T_READ_S)
    with pytest.raises(ValueError, match="NaN"):
        layer_tiles(array, np.full(20, np.nan), T_READ_S)


@pytest.mark.ngspice
@pytest.mark.skipif(find_ngspice() is None, reason=NO_NGSPICE)
def test_ngspice_matches_the_exact_solve_on_a_16x16_tile(tmp_path):
    array = _array()
    x = np.random.default_rng(2).uniform(-1, 1, 16)
    path = tmp_path / "tile.cir"
    description = write_layer_netlist(array, x, path, t_s=T_READ_S)
    (spice,) = run_layer_netlist(path, description)
    tile = layer_tiles(array, x, T_READ_S)[0]
    for key, g in (("i_plus_A", tile.g_plus_S), ("i_minus_A", tile.g_minus_S)):
        sparse = solve_column_currents(g, tile.v_rows_V, array.wires)  # exact sparse nodal solve
        blocks = tile.v_rows_V @ effective_conductance(g, array.wires)  # the substrate's structured solve
        assert _rel_err(spice[key], sparse) <= 1e-6
        assert _rel_err(spice[key], blocks) <= 1e-6
        big = np.abs(sparse) > 1e-3 * np.max(np.abs(sparse))
        assert np.all(np.abs(spice[key][big] - sparse[big]) <= 1e-6 * np.abs(sparse[big]))
    # and the layer output equals the substrate's noise-free read
    y_spice = layer_output(description, [spice])
    assert _rel_err(y_spice, array.read_model(T_READ_S).ideal_output(x)) <= 1e-6


@pytest.mark.ngspice
@pytest.mark.skipif(find_ngspice() is None, reason=NO_NGSPICE)
def test_ngspice_matches_the_substrate_on_a_layer_of_six_tiles(tmp_path):
    array = _array(shape=(12, 20), max_rows=8, max_cols=8)
    x = np.random.default_rng(3).uniform(-1, 1, 20)
    path = tmp_path / "layer.cir"
    description = write_layer_netlist(array, x, path, t_s=T_READ_S)
    currents = run_layer_netlist(path, description)
    y_sub = array.read_model(T_READ_S).ideal_output(x)
    assert _rel_err(layer_output(description, currents), y_sub) <= 1e-6
    assert _rel_err(np.asarray(description["substrate_output"]), y_sub) <= 1e-9
