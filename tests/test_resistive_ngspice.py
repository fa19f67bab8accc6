"""The resistive settle against ngspice's operating point of the same netlist (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.export.spice import find_ngspice
from hardware_models.params import ParameterError
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle
from hardware_models.resistive.netlist import node_names, resistive_netlist, run_ngspice_voltages

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
