"""Exact IR drop of a passive resistive crossbar: the effective conductance matrix.

Physical model of one array (``rows x cols`` cells), in the direction where the **rows are
driven** and the **columns are sensed** (the forward read; the backward read is the same
computation on the transposed array, see :func:`effective_conductance`):

* Cell ``(i, j)`` is a linear conductance ``g[i, j]`` [S] between row node ``R(i, j)`` and
  column node ``C(i, j)``.
* Row line ``i``: an ideal voltage source ``v[i]`` [V] in series with the driver's source
  resistance ``r_source_ohm``, then one wire segment ``r_row_segment_ohm`` to ``R(i, 0)``, then
  one segment between ``R(i, j)`` and ``R(i, j + 1)``; the line ends open after ``R(i, cols-1)``.
  The drivers sit on the side of column 0.
* Column line ``j``: ``C(i, j)`` is joined to ``C(i + 1, j)`` by one segment
  ``r_col_segment_ohm``; ``C(0, j)`` is joined by one segment and the sense resistance
  ``r_sense_ohm`` to a virtual ground (the transimpedance amplifier's input, 0 V); the line ends
  open after ``C(rows-1, j)``. The sense amplifiers sit on the side of row 0.
* The sensed column current ``I[j]`` [A] is the current flowing into the virtual ground.

Every element is linear, so the column currents are linear in the row voltages::

    I = v @ g_eff            (v: (rows,) [V], g_eff: (rows, cols) [S], I: (cols,) [A])

``g_eff`` is the *effective conductance matrix*; with all resistances zero it equals ``g``
exactly. It is computed once (per programmed state) and every later read is a matrix product.

Zero resistances are exact short circuits, handled by merging nodes rather than by huge
conductances: a line whose segment resistance is zero is one node; if its terminal resistance
(source or sense plus one segment) is zero too, its voltage is fixed (source voltage for rows,
0 V for columns) and it has no unknown.

Two solvers give the same matrix (they are tested against each other, against an independent
dense solve, and against ngspice):

* :func:`effective_conductance_sparse`: the nodal equations ``K u = B v`` (up to
  ``2 * rows * cols`` unknown node voltages) assembled as a sparse matrix
  (:func:`nodal_system`), factorised once with SuperLU, solved for all ports.
* :func:`effective_conductance_blocks` (the default): the same equations solved by exploiting
  their structure. Each row line couples only the cells of its own row, so the row nodes of row
  ``i`` are eliminated first (a tridiagonal solve) leaving a dense ``cols x cols`` Schur
  complement ``S_i`` on the column nodes of that row; the column lines then couple row ``i``
  only to rows ``i - 1`` and ``i + 1``, a block-tridiagonal system that is eliminated from the
  open end (row ``rows-1``) towards the sense amplifiers (row 0), carrying the responses to all
  row drivers at once. Cost about ``rows * cols^3`` flops in dense BLAS/LAPACK calls, memory
  ``O(cols^2 + rows * cols)``.
"""

from __future__ import annotations

import numpy as np

from .ir_blocks import effective_conductance_blocks
from .ir_nodal import NodalSystem, effective_conductance_sparse, nodal_system, solve_column_currents
from .wires import WireResistances

__all__ = [
    "WireResistances",
    "effective_conductance",
    "effective_conductance_blocks",
    "effective_conductance_sparse",
    "nodal_system",
    "NodalSystem",
    "solve_column_currents",
]


def effective_conductance(
    g: np.ndarray, wires: WireResistances | None = None, *, method: str = "blocks"
) -> np.ndarray:
    """Effective conductance matrix ``g_eff`` (rows, cols) [S]: column currents ``I = v @ g_eff``.

    ``g`` (rows, cols) [S] is the physical array, rows driven and columns sensed. For the
    transposed read (columns driven, rows sensed) call
    ``effective_conductance(g.T, wires.transposed())``: drivers and sense amplifiers sit at the
    same corner (row side of column 0, column side of row 0), so the transposed array has the
    same geometry. ``method``: ``"blocks"`` (structured, default) or ``"sparse"`` (SuperLU).
    """
    if method == "blocks":
        return effective_conductance_blocks(g, wires)
    if method == "sparse":
        return effective_conductance_sparse(g, wires)
    raise ValueError(f"method must be 'blocks' or 'sparse', got {method!r}")
