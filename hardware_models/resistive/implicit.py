"""The linearised steady state: implicit gradients of a settled resistive network.

At a steady state V* the KCL residual R(V, g, u) = A V - N(g, u) vanishes on the *active* nodes:
the outputs, ideal-diode nodes with s V > 0, every Shockley node. Clamped ideal nodes (V = 0)
are held fixed (the active set is locally constant). With the active set fixed,

    A = diag(G_j + g_d,j) - C,   C_ab = g_ab between free nodes a, b,

where g_d,j = (I_s / (n V_T)) exp(-s V_j / (n V_T)) is a Shockley diode's small-signal
conductance (0 for ideal diodes). A is symmetric positive definite. For a loss C(V*):

* the adjoint lambda = A^{-1} dC/dV* (0 on clamped nodes and on the sources);
* dC/dg_ab = -(lambda_a - lambda_b)(V_a - V_b) for a conductance between nodes a, b
  (a bias conductance to a source: lambda_source = 0);
* dC/du = C_in^T lambda, C_in the conductances from the sources into layer 1.

(Derivation: dR/dg_ab = (V_a - V_b) on a, its negative on b; dV*/dtheta = -A^{-1} dR/dtheta.)
"""

from __future__ import annotations

import numpy as np

from .network import ResistiveNetwork, ShockleyDiode
from .reference import edge_drops_V
from .settle import split_layers

__all__ = ["active_nodes", "system_matrix", "adjoint", "conductance_gradients", "source_gradients"]


def active_nodes(net: ResistiveNetwork, voltages_V: np.ndarray) -> np.ndarray:
    """(B, n_nodes) bool: the nodes whose KCL holds as an equation (module docstring)."""
    s = net.signs()[None]
    if isinstance(net.diode, ShockleyDiode):
        return np.ones(voltages_V.shape, dtype=bool)
    return (s == 0) | (s * voltages_V > 0.0)


def system_matrix(net: ResistiveNetwork, beta_S: float = 0.0) -> np.ndarray:
    """diag(G) - C over the free nodes (n_nodes, n_nodes), nudging conductance beta at the outputs."""
    n = net.n_nodes
    sizes = net.node_sizes
    offs = np.concatenate([[0], np.cumsum(sizes)])
    a = np.zeros((n, n))
    gs = net.conductances_S
    diag = np.zeros(n)
    for k in range(len(sizes)):
        sl = slice(offs[k], offs[k + 1])
        diag[sl] += gs[k].sum(axis=0)
        if k + 1 < len(sizes):
            diag[sl] += gs[k + 1].sum(axis=1)
            nxt = slice(offs[k + 1], offs[k + 2])
            a[sl, nxt] -= gs[k + 1]
            a[nxt, sl] -= gs[k + 1].T
        if net.bias_conductances_S is not None:
            diag[sl] += net.bias_conductances_S[k].sum(axis=0)
    diag[-sizes[-1]:] += beta_S
    a[np.arange(n), np.arange(n)] += diag
    return a


def adjoint(net: ResistiveNetwork, voltages_V: np.ndarray, rhs: np.ndarray, beta_S: float = 0.0,
            chunk: int = 32) -> np.ndarray:
    """lambda = A^{-1} rhs per sample (B, n_nodes), on the active nodes (0 elsewhere)."""
    base = system_matrix(net, beta_S)
    active = active_nodes(net, voltages_V)
    out = np.zeros_like(rhs, dtype=np.float64)
    s = net.signs()[None].astype(np.float64)
    for start in range(0, rhs.shape[0], chunk):
        v = voltages_V[start:start + chunk]
        m = active[start:start + chunk]
        a = np.repeat(base[None], v.shape[0], axis=0)
        if isinstance(net.diode, ShockleyDiode):
            slope = net.diode.slope_V
            gd = np.where(s != 0, net.diode.i_s_A / slope * np.exp(-s * v / slope), 0.0)
            idx = np.arange(net.n_nodes)
            a[:, idx, idx] += gd
        keep = m[:, :, None] & m[:, None, :]
        a = np.where(keep, a, 0.0)
        idx = np.arange(net.n_nodes)
        a[:, idx, idx] = np.where(m, a[:, idx, idx], 1.0)
        b = np.where(m, rhs[start:start + chunk], 0.0)
        out[start:start + chunk] = np.linalg.solve(a, b[..., None])[..., 0]
    return out


def conductance_gradients(net: ResistiveNetwork, x: np.ndarray, voltages_V: np.ndarray,
                          lam: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """dC/dg of every conductance matrix, and of every bias matrix (None without biases), summed
    over the batch, from the adjoint ``lam`` of :func:`adjoint`."""
    zeros = np.zeros((lam.shape[0], 2 * net.layer_sizes[0]))
    lams = [zeros] + split_layers(net, lam)
    drops = edge_drops_V(net, x, voltages_V)
    grads = [-((lams[k][:, :, None] - lams[k + 1][:, None, :]) * drops[k]).sum(axis=0) for k in range(len(drops))]
    if net.bias_conductances_S is None:
        return grads, None
    biases = []
    for v, lm in zip(split_layers(net, voltages_V), split_layers(net, lam)):
        # conductance between the node (lambda, V) and a source (lambda = 0, +-bias_V)
        biases.append(-np.stack([(lm * (v - net.bias_V)).sum(axis=0), (lm * (v + net.bias_V)).sum(axis=0)]))
    return grads, biases


def source_gradients(net: ResistiveNetwork, lam: np.ndarray) -> np.ndarray:
    """dC/du (B, 2 n_in) for the source voltages u, from the adjoint ``lam``."""
    return split_layers(net, lam)[0] @ net.conductances_S[0].T
