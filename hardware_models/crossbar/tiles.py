"""The tile grid of a programmed matrix and what is computed tile by tile: the mean response
of each tile with its IR drop, and the global drift compensation factors.

Layouts: ``W`` is (n_out, n_in); a physical tile holds a block of ``G.T`` (rows = inputs,
columns = outputs). A read's *read layout* is (outputs of the read, inputs of the read):
``W`` itself for the forward read, ``W.T`` for the backward read (see
:mod:`hardware_models.crossbar.array`).
"""

from __future__ import annotations

import numpy as np

from .ir_drop import effective_conductance
from .wires import WireResistances

__all__ = ["drift_alpha", "tile_edges", "unit_response"]


def tile_edges(size: int, block: int) -> np.ndarray:
    """Edges ``[0, block, 2 block, ..., size]`` of the tiles along one axis of ``size`` lines."""
    return np.unique(np.append(np.arange(0, size, block), size)).astype(np.int64)


def unit_response(g: np.ndarray, direction: str, wires: WireResistances, row_edges: np.ndarray,
                  col_edges: np.ndarray, span_S: float, ir_method: str) -> np.ndarray:
    """Mean differential response ``(G+_eff - G-_eff) / (g_max_S - g_min_S)`` in read layout
    (float64), from the conductances ``g = (G+, G-)`` [S] in ``W`` layout (2, n_out, n_in).

    With ideal wires this is ``(G+ - G-) / span``; otherwise each tile's two arrays are solved
    for their effective conductance (:func:`~hardware_models.crossbar.ir_drop.effective_conductance`),
    the backward read on the transposed array with transposed wires."""
    n_out, n_in = g.shape[1:]
    diff = (g[0] - g[1]) / span_S  # W layout
    if wires.is_ideal:
        return diff if direction == "forward" else diff.T.copy()
    units = np.empty((n_out, n_in) if direction == "forward" else (n_in, n_out))
    for rb in range(len(row_edges) - 1):
        r_sl = slice(int(row_edges[rb]), int(row_edges[rb + 1]))
        for cb in range(len(col_edges) - 1):
            c_sl = slice(int(col_edges[cb]), int(col_edges[cb + 1]))
            resp = []
            for pol in (0, 1):
                g_phys = g[pol][c_sl, r_sl].T  # (rows, cols)
                if direction == "forward":
                    resp.append(effective_conductance(g_phys, wires, method=ir_method))
                else:
                    resp.append(effective_conductance(g_phys.T, wires.transposed(), method=ir_method))
            eff = (resp[0] - resp[1]) / span_S
            # forward: I_cols = v_rows @ eff (rows, cols) -> read layout (cols, rows)
            # backward: I_rows = v_cols @ eff (cols, rows) -> read layout (rows, cols)
            if direction == "forward":
                units[c_sl, r_sl] = eff.T
            else:
                units[r_sl, c_sl] = eff.T
    return units


def drift_alpha(units: np.ndarray, units_ref: np.ndarray, in_edges: np.ndarray, out_edges: np.ndarray) -> np.ndarray:
    """Global drift compensation factors (n_tiles_in, n_tiles_out) of one read.

    For each tile, a reference read with all inputs at +1 gives ``r = mean_j |sum_i u[j, i]|``
    over the tile's outputs j and inputs i; ``alpha = r(t0) / r(t)`` from the responses at
    programming (``units_ref``) and now (``units``), both in read layout; 1 where either is 0."""
    n_ti, n_to = len(in_edges) - 1, len(out_edges) - 1
    alpha = np.ones((n_ti, n_to))
    for ti in range(n_ti):
        i_sl = slice(int(in_edges[ti]), int(in_edges[ti + 1]))
        for to in range(n_to):
            o_sl = slice(int(out_edges[to]), int(out_edges[to + 1]))
            r_now = float(np.mean(np.abs(units[o_sl, i_sl].sum(axis=1))))
            r_ref = float(np.mean(np.abs(units_ref[o_sl, i_sl].sum(axis=1))))
            if r_now > 0.0 and r_ref > 0.0:
                alpha[ti, to] = r_ref / r_now
    return alpha
