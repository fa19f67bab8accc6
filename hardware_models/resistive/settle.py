"""Settle a batch of inputs on a :class:`ResistiveNetwork`: the free or nudged steady state.

    result = settle(net, x, tol_A=1e-12)                    # free phase from V = 0
    nudged = settle(net, x, beta_S=1e-6, y=y, v0=result.voltages_V)
    result.output_V, result.residual_A, result.sweeps

Nudging injects beta (y - V_o) [A] into every output node o (beta [S], y [V]); a negative
beta (the symmetric phase of EqProp) must keep every output's total conductance positive.
The packing of the network into the kernel's flat arrays is :class:`PackedNetwork`; conductance
draws per sample (read noise) are passed as ``conductances_S`` with a leading batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..params import ParameterError, check_float, check_int
from .kernels import IDEAL, PARALLEL_MIN_WORK, SHOCKLEY, settle_batch, settle_serial
from .network import ResistiveNetwork, ShockleyDiode

__all__ = ["PackedNetwork", "SettleResult", "pack", "settle", "split_layers"]


@dataclass(frozen=True)
class PackedNetwork:
    """Flat arrays of the kernel (layout in :mod:`.kernels`); ``w``, ``g``, ``bnum`` have a leading
    axis of 1 (one network) or B (one conductance draw per sample)."""

    sizes: np.ndarray
    noff: np.ndarray
    w_off: np.ndarray
    w: np.ndarray
    g: np.ndarray
    bnum: np.ndarray
    signs: np.ndarray


def pack(net: ResistiveNetwork, conductances_S: tuple[np.ndarray, ...] | None = None,
         bias_conductances_S: tuple[np.ndarray, ...] | None = None) -> PackedNetwork:
    """Pack ``net`` (or per-sample draws: each matrix (B, rows, cols), each bias (B, 2, n))."""
    gs = net.conductances_S if conductances_S is None else conductances_S
    bs = net.bias_conductances_S if bias_conductances_S is None else bias_conductances_S
    gs = [np.asarray(m, dtype=np.float64) for m in gs]
    if gs[0].ndim == 2:
        gs = [m[None] for m in gs]
        bs = None if bs is None else [np.asarray(b, dtype=np.float64)[None] for b in bs]
    bw = gs[0].shape[0]
    sizes, noff, w_off = _layout(net.layer_sizes)
    L = len(sizes) - 1
    w = np.concatenate([m.reshape(bw, -1) for m in gs], axis=1)
    g = np.empty((bw, net.n_nodes))
    bnum = np.zeros((bw, net.n_nodes))
    for k in range(1, L + 1):
        sl = slice(noff[k - 1], noff[k - 1] + sizes[k])
        gk = gs[k - 1].sum(axis=1)  # incoming (rows of the matrix into layer k)
        if k < L:
            gk += gs[k].sum(axis=2)  # outgoing
        if bs is not None:
            b = np.asarray(bs[k - 1], dtype=np.float64)
            b = b[None] if b.ndim == 2 else b
            gk += b[:, 0] + b[:, 1]
            bnum[:, sl] = net.bias_V * (b[:, 0] - b[:, 1])
        g[:, sl] = gk
    if not g.min() > 0.0:
        raise ParameterError(net.owner, "conductances_S", "every node needs a positive total conductance; "
                             f"{int((~(g > 0.0)).sum())} node(s) are floating (all their conductances are 0)")
    return PackedNetwork(sizes, noff, w_off, w, g, bnum, net.signs())


@lru_cache(maxsize=64)
def _layout(layer_sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sizes (sources, free layers), noff (offset of free layer k), w_off (offset of matrix k)."""
    sizes = np.array([2 * layer_sizes[0], *layer_sizes[1:]], dtype=np.int64)
    noff = np.concatenate([[0], np.cumsum(sizes[1:])[:-1]]).astype(np.int64)
    w_off = np.concatenate([[0], np.cumsum(sizes[:-1] * sizes[1:])[:-1]]).astype(np.int64)
    for a in (sizes, noff, w_off):
        a.setflags(write=False)
    return sizes, noff, w_off


@dataclass(frozen=True)
class SettleResult:
    """voltages_V (B, n_nodes): every free node (hidden layers, then outputs) [V];
    residual_A (B,): largest KCL imbalance; sweeps (B,); converged (B,): residual <= tol_A."""

    voltages_V: np.ndarray
    residual_A: np.ndarray
    sweeps: np.ndarray
    converged: np.ndarray
    n_out: int

    @property
    def output_V(self) -> np.ndarray:
        return self.voltages_V[:, -self.n_out:]


def split_layers(net: ResistiveNetwork, voltages_V: np.ndarray) -> list[np.ndarray]:
    """The flat node voltages (B, n_nodes) as one (B, n_k) array per free layer."""
    cuts = np.cumsum(net.node_sizes)[:-1]
    return np.split(np.asarray(voltages_V), cuts, axis=1)


def _diode_args(net: ResistiveNetwork) -> tuple[int, float, float]:
    if isinstance(net.diode, ShockleyDiode):
        return SHOCKLEY, net.diode.i_s_A, net.diode.slope_V
    return IDEAL, 1.0, 1.0


def settle(net: ResistiveNetwork, x: np.ndarray, *, beta_S: float = 0.0, y: np.ndarray | None = None,
           v0: np.ndarray | None = None, tol_A: float = 1e-12, max_sweeps: int = 10_000,
           packed: PackedNetwork | None = None) -> SettleResult:
    """The steady state of every input of ``x`` (B, n_in) (module docstring)."""
    tol_A = check_float("tol_A", tol_A, minimum=0.0, owner="settle")
    max_sweeps = check_int("max_sweeps", max_sweeps, minimum=1, owner="settle")
    beta_S = check_float("beta_S", beta_S, owner="settle")
    u = np.ascontiguousarray(net.sources_V(x))
    batch, n_out = u.shape[0], net.layer_sizes[-1]
    p = pack(net) if packed is None else packed
    if p.w.shape[0] not in (1, batch):
        raise ParameterError("settle", "packed", f"holds {p.w.shape[0]} conductance draws for a batch of {batch}")
    if beta_S != 0.0:
        if y is None:
            raise ParameterError("settle", "y", "targets are needed when beta_S != 0")
        if np.any(p.g[:, -n_out:] + beta_S <= 0.0):
            raise ParameterError("settle", "beta_S", f"{beta_S!r} S makes an output's total conductance <= 0 "
                                 f"(smallest output conductance {float(p.g[:, -n_out:].min())!r} S)")
    yy = np.zeros((batch, n_out)) if y is None else np.ascontiguousarray(np.broadcast_to(np.asarray(y, float), (batch, n_out)))
    if not np.all(np.isfinite(yy)):
        raise ParameterError("settle", "y", "contains NaN or infinite values")
    v = np.zeros((batch, net.n_nodes)) if v0 is None else np.array(v0, dtype=np.float64, copy=True)
    if v.shape != (batch, net.n_nodes):
        raise ParameterError("settle", "v0", f"must have shape {(batch, net.n_nodes)}, got {v.shape}")
    residual = np.empty(batch)
    sweeps = np.empty(batch, dtype=np.int64)
    diode, i_s, a = _diode_args(net)
    kernel = settle_batch if batch > 1 and batch * p.w.shape[1] >= PARALLEL_MIN_WORK else settle_serial
    kernel(u, v, p.w, p.w_off, p.sizes, p.noff, p.g, p.bnum, p.signs, beta_S, yy, diode, i_s, a, tol_A, max_sweeps,
           residual, sweeps)
    return SettleResult(v, residual, sweeps, residual <= tol_A, n_out)
