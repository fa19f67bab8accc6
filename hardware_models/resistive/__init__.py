"""Deep resistive networks with diodes (Kendall et al. 2020; Scellier, ICML 2024).

* :mod:`.network`: the description (layer sizes, conductances, input gain, diodes, biases);
* :mod:`.kernels`, :mod:`.settle`: the exact block coordinate descent, a batch in Numba;
* :mod:`.reference`: KCL imbalances, co-content and dissipated power in plain numpy;
* :mod:`.implicit`: the linearised steady state (implicit gradients, active diodes fixed);
* :mod:`.netlist`: the network and one input as an ngspice netlist, and its operating point.
* :mod:`.wires`: a series resistance at every input driver, as an equivalent network (exact).
"""

from .network import THERMAL_VOLTAGE_300K_V, IdealDiode, ResistiveNetwork, ShockleyDiode
from .settle import PackedNetwork, SettleResult, pack, settle, split_layers

__all__ = ["IdealDiode", "PackedNetwork", "ResistiveNetwork", "SettleResult", "ShockleyDiode",
           "THERMAL_VOLTAGE_300K_V", "pack", "settle", "split_layers"]
