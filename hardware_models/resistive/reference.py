"""Plain numpy laws of a settled resistive network, written edge by edge (independent of the
kernel's flat layout): KCL imbalances, the co-content the settle minimises, the dissipated power.

Notation: for inputs x (B, n_in) the sources are u = gain [x, -x]; ``voltages_V`` (B, n_nodes) are
the free nodes (hidden layers, then outputs); beta [S] and y [V] the nudging.
"""

from __future__ import annotations

import numpy as np

from .network import ResistiveNetwork, ShockleyDiode
from .settle import split_layers

__all__ = ["resistor_currents_A", "diode_currents_A", "kcl_residual_A", "co_content", "dissipated_power_W",
           "edge_drops_V"]


def edge_drops_V(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray) -> list[np.ndarray]:
    """V_a - V_b across every conductance of matrix k (B, rows, cols) (a: the row's node)."""
    layers = [net.sources_V(x)] + split_layers(net, voltages_V)
    return [layers[k][:, :, None] - layers[k + 1][:, None, :] for k in range(len(layers) - 1)]


def _bias_drops(net: ResistiveNetwork, voltages_V: np.ndarray) -> list[np.ndarray]:
    """V_node - (+bias_V) and V_node - (-bias_V) for every node (B, 2, n_k)."""
    return [np.stack([v - net.bias_V, v + net.bias_V], axis=1) for v in split_layers(net, voltages_V)]


def resistor_currents_A(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray, beta_S: float = 0.0,
                        y: np.ndarray | None = None) -> np.ndarray:
    """Current leaving every free node through its conductances, bias and nudging (B, n_nodes) [A]."""
    drops = edge_drops_V(net, x, voltages_V)
    parts = []
    for k in range(len(net.node_sizes)):
        i = -(net.conductances_S[k][None] * drops[k]).sum(axis=1)  # from layer k+1 back to layer k
        if k + 1 < len(drops):
            i = i + (net.conductances_S[k + 1][None] * drops[k + 1]).sum(axis=2)
        parts.append(i)
    out = np.concatenate(parts, axis=1)
    if net.bias_conductances_S is not None:
        out += np.concatenate([(b[None] * d).sum(axis=1)
                               for b, d in zip(net.bias_conductances_S, _bias_drops(net, voltages_V))], axis=1)
    if beta_S:
        n_out = net.layer_sizes[-1]
        out[:, -n_out:] -= beta_S * (np.asarray(y, dtype=np.float64) - voltages_V[:, -n_out:])
    return out


def diode_currents_A(net: ResistiveNetwork, voltages_V: np.ndarray) -> np.ndarray:
    """Current leaving every free node through its Shockley diode (B, n_nodes) [A] (0 at outputs)."""
    s = net.signs()[None].astype(np.float64)
    d = net.diode
    return np.where(s != 0, -s * d.i_s_A * np.expm1(-s * voltages_V / d.slope_V), 0.0)


def kcl_residual_A(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray, beta_S: float = 0.0,
                   y: np.ndarray | None = None) -> np.ndarray:
    """|KCL imbalance| of every free node (B, n_nodes) [A]. An ideal diode node at s V > 0 carries
    no diode current; at V = 0 its diode carries any current in its conducting direction, so only
    a net current the wrong way is an imbalance; s V < 0 is a violated constraint (returned as inf)."""
    i = resistor_currents_A(net, x, voltages_V, beta_S, y)
    s = net.signs()[None].astype(np.float64)
    if isinstance(net.diode, ShockleyDiode):
        return np.abs(i + diode_currents_A(net, voltages_V))
    u = s * voltages_V
    clamped = np.maximum(-s * i, 0.0)
    out = np.where(s == 0, np.abs(i), np.where(u > 0, np.abs(i), clamped))
    return np.where((s != 0) & (u < 0), np.inf, out)


def co_content(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray, beta_S: float = 0.0,
               y: np.ndarray | None = None) -> np.ndarray:
    """P(V) per sample (B,) [W]: 1/2 sum g dV^2 (bias included) + diode co-content
    + beta/2 |V_o - y|^2; +inf where an ideal diode's constraint is violated."""
    p = sum(0.5 * (g[None] * d * d).sum(axis=(1, 2)) for g, d in zip(net.conductances_S, edge_drops_V(net, x, voltages_V)))
    if net.bias_conductances_S is not None:
        p = p + sum(0.5 * (b[None] * d * d).sum(axis=(1, 2))
                    for b, d in zip(net.bias_conductances_S, _bias_drops(net, voltages_V)))
    s = net.signs()[None].astype(np.float64)
    u = s * voltages_V
    if isinstance(net.diode, ShockleyDiode):
        i_s, a = net.diode.i_s_A, net.diode.slope_V
        p = p + np.where(s != 0, i_s * a * np.expm1(-u / a) + i_s * u, 0.0).sum(axis=1)
    else:
        p = np.where(((s != 0) & (u < 0)).any(axis=1), np.inf, p)
    if beta_S:
        n_out = net.layer_sizes[-1]
        p = p + 0.5 * beta_S * ((voltages_V[:, -n_out:] - np.asarray(y, dtype=np.float64)) ** 2).sum(axis=1)
    return p


def dissipated_power_W(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray) -> np.ndarray:
    """Power dissipated at a free steady state (B,) [W]: sum g dV^2 over every conductance (bias
    included) plus V I in the Shockley diodes (an ideal diode dissipates nothing: V I = 0)."""
    p = sum((g[None] * d * d).sum(axis=(1, 2)) for g, d in zip(net.conductances_S, edge_drops_V(net, x, voltages_V)))
    if net.bias_conductances_S is not None:
        p = p + sum((b[None] * d * d).sum(axis=(1, 2)) for b, d in zip(net.bias_conductances_S, _bias_drops(net, voltages_V)))
    if isinstance(net.diode, ShockleyDiode):
        p = p + (voltages_V * diode_currents_A(net, voltages_V)).sum(axis=1)
    return p
