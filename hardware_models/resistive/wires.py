"""Wire resistance that the exact solve includes: a series resistance at every input driver.

A driver of resistance R [ohm] between each source u_i (the 2 n_in sources +x, -x) and its
crossbar row makes one more node per source, d_i, with KCL

    (u_i - d_i) / R = sum_j g_ij (d_i - V_j)      (j over layer 1)

i.e. d_i is the conductance-weighted average of u_i (weight 1/R) and its layer-1 neighbours: a
linear node. :func:`with_source_resistance` returns the equivalent network with these nodes as
an extra hidden layer without diodes (``linear_layers``), joined to the sources by the diagonal
matrix diag(1/R) and to layer 1 by the original first matrix. Every solver of the package then
includes them exactly: the block coordinate descent updates the driver layer with the even
layers (closed form, like an output), the KCL check, the co-content, the dissipated power (the
drivers' I^2 R included), the implicit gradient and the ngspice netlist follow the node signs.
The equivalent network's free nodes are [drivers (2 n_in), the original nodes]: :func:`original_nodes`
takes the original ones back. Not included: the segment resistances along rows and columns of a
crossbar (one node per cross point; they break the layer-by-layer closed form), and the output
sense resistance (the outputs are read as voltages, no current flows through it).
"""

from __future__ import annotations

import numpy as np

from ..params import check_float
from .network import ResistiveNetwork

__all__ = ["original_nodes", "with_source_resistance"]


def with_source_resistance(net: ResistiveNetwork, r_source_ohm: float) -> ResistiveNetwork:
    """The network of ``net`` with a driver resistance ``r_source_ohm`` (> 0, finite) [ohm] in
    series with every source (module docstring)."""
    r = check_float("r_source_ohm", r_source_ohm, minimum=0.0, exclusive_minimum=True, owner="with_source_resistance")
    n_src = 2 * net.layer_sizes[0]
    sizes = (net.layer_sizes[0], n_src, *net.layer_sizes[1:])
    wires = np.eye(n_src) / r
    biases = None
    if net.bias_conductances_S is not None:
        biases = (np.zeros((2, n_src)), *net.bias_conductances_S)
    linear = (1, *(k + 1 for k in net.linear_layers))
    return ResistiveNetwork(sizes, (wires, *net.conductances_S), net.input_gain, net.diode, biases, net.bias_V,
                            net.g_min_S, net.g_max_S, linear)


def original_nodes(net: ResistiveNetwork, voltages_V: np.ndarray) -> np.ndarray:
    """The original network's node voltages (B, n_nodes) from a settle of the network of
    :func:`with_source_resistance` built on it (``net`` is that original network)."""
    return np.asarray(voltages_V)[:, 2 * net.layer_sizes[0]:]
