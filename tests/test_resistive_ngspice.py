"""The resistive settle against ngspice's operating point of the same netlist (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.export.spice import find_ngspice
from hardware_models.params import ParameterError
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle
from hardware_models.resistive.netlist import node_names, resistive_netlist, run_ngspice_voltages
from hardware_models.resistive.wires import original_nodes, with_source_resistance

needs_ngspice = pytest.mark.skipif(find_ngspice() is None, reason="ngspice binary not found on PATH")


def _network(seed=0):
    return ResistiveNetwork.random((12, 16, 8, 5), np.random.default_rng(seed), input_gain=1.5,
                                   diode=ShockleyDiode(i_s_A=1e-11, n=1.3))


@pytest.mark.ngspice
@needs_ngspice
@pytest.mark.parametrize("beta", [0.0, 3e-6, -3e-6])
def test_node_voltages_match_ngspice(beta):
    net = _network()
    rng = np.random.default_rng(1)
    x, y = rng.random((1, 12)), rng.uniform(-0.2, 0.2, (1, 5))
    ours = settle(net, x, beta_S=beta, y=y, tol_A=1e-18).voltages_V[0]
    spice = run_ngspice_voltages(resistive_netlist(net, x[0], beta_S=beta, y=y[0]))
    rel = np.abs(ours - spice) / np.abs(spice)
    assert rel.max() <= 1e-6, rel.max()


def test_netlist_names_every_element_once():
    net = _network()
    text = resistive_netlist(net, np.full(12, 0.5))
    lines = text.splitlines()
    assert sum(line.startswith("R") for line in lines) == sum(g.size for g in net.conductances_S) + 2 * net.n_nodes
    assert sum(line.startswith("D") for line in lines) == 16 + 8  # one diode per hidden node
    assert [line[8:-1] for line in lines if line.startswith("print v(")] == node_names(net)
    assert "D(IS=1e-11" in text and sum(line.startswith("V") for line in lines) == 2 * 12 + 2


def test_ideal_diodes_have_no_spice_model():
    net = _network().with_diode(IdealDiode())
    with pytest.raises(ParameterError, match=r"^resistive_netlist\.diode: only Shockley diodes"):
        resistive_netlist(net, np.zeros(12))


def _with_source_resistors(text: str, r_ohm: float) -> str:
    """The netlist with a resistor between every input source and its node (written independently
    of :mod:`hardware_models.resistive.wires`: the source is moved to a node of its own)."""
    out = []
    for line in text.splitlines():
        name = line.split()[1] if line.startswith(("Vup", "Vun")) else None
        if name is None:
            out.append(line)
            continue
        out += [line.replace(f" {name} 0 ", f" {name}_drv 0 ", 1), f"Rsrc_{name} {name}_drv {name} {r_ohm!r}"]
    return "\n".join(out) + "\n"


@pytest.mark.ngspice
@needs_ngspice
def test_source_resistance_matches_ngspice():
    net = _network(2)
    x = np.random.default_rng(3).random((1, 12))
    r = 2e3  # ohm: 1/R = 500 uS, comparable to a row's total conductance
    wired = with_source_resistance(net, r)
    ours = original_nodes(net, settle(wired, x, tol_A=1e-18).voltages_V)[0]
    spice = run_ngspice_voltages(_with_source_resistors(resistive_netlist(net, x[0]), r))
    rel = np.abs(ours - spice) / np.abs(spice)
    assert rel.max() <= 1e-6, rel.max()
    unwired = settle(net, x, tol_A=1e-18).voltages_V[0]
    assert np.abs(unwired - spice).max() > 1e-3  # the resistance matters at this size


def test_source_resistance_kcl_at_the_drivers_and_its_small_r_limit():
    net = _network(4).with_diode(IdealDiode())
    x = np.random.default_rng(5).random((3, 12))
    u = net.sources_V(x)
    g0 = net.conductances_S[0]
    for r in (1e3, 1e1, 1e-1):
        v = settle(with_source_resistance(net, r), x, tol_A=1e-16).voltages_V
        d, v1 = v[:, :24], v[:, 24:24 + 16]
        into_row = (u - d) / r  # current through each driver resistance
        out_of_row = (g0[None] * (d[:, :, None] - v1[:, None, :])).sum(axis=2)
        # the settle's tolerance plus the rounding of d (a few ulps of 1.5 V) amplified by 1/R
        np.testing.assert_allclose(into_row, out_of_row, rtol=0, atol=1e-15 + 1e-15 / r)
    plain = settle(net, x, tol_A=1e-16).voltages_V
    small = original_nodes(net, settle(with_source_resistance(net, 1e-3), x, tol_A=1e-16).voltages_V)
    assert np.abs(small - plain).max() < 1e-5  # 1 mohm drivers: the ideal sources back
    with pytest.raises(ParameterError, match="r_source_ohm"):
        with_source_resistance(net, 0.0)
