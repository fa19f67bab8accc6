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

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from scipy.linalg import blas, lapack

__all__ = [
    "WireResistances",
    "effective_conductance",
    "effective_conductance_blocks",
    "effective_conductance_sparse",
    "nodal_system",
    "NodalSystem",
    "solve_column_currents",
]

_WIRE_FIELDS = ("r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm")


@dataclass(frozen=True)
class WireResistances:
    """Parasitic resistances of a crossbar, in ohm (the ``wires`` section of a device card).

    Attributes
    ----------
    r_row_segment_ohm:
        Resistance of the row wire between two adjacent cells (and between the driver and the
        first cell).
    r_col_segment_ohm:
        Resistance of the column wire between two adjacent cells (and between the last cell on
        the sense side and the sense amplifier).
    r_source_ohm:
        Output resistance of each line driver (DAC buffer).
    r_sense_ohm:
        Input resistance of each sense amplifier (TIA) in front of its virtual ground.

    All values must be finite and >= 0; all zero means no IR drop (``g_eff == g``).
    """

    r_row_segment_ohm: float = 0.0
    r_col_segment_ohm: float = 0.0
    r_source_ohm: float = 0.0
    r_sense_ohm: float = 0.0

    def __post_init__(self) -> None:
        for name in _WIRE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise TypeError(f"wires.{name} must be a real number >= 0, got {value!r}")
            if not math.isfinite(float(value)) or float(value) < 0.0:
                raise ValueError(f"wires.{name} must be finite and >= 0 ohm, got {value!r}")
            object.__setattr__(self, name, float(value))

    @property
    def is_ideal(self) -> bool:
        """True when every resistance is zero (no IR drop)."""
        return all(getattr(self, name) == 0.0 for name in _WIRE_FIELDS)

    def transposed(self) -> "WireResistances":
        """The same wires seen from the transposed array (row and column segments swapped).

        The backward read drives the columns and senses the rows; it is the forward computation
        on ``g.T`` with these wires (the drivers and sense amplifiers keep their resistances).
        """
        return WireResistances(
            r_row_segment_ohm=self.r_col_segment_ohm,
            r_col_segment_ohm=self.r_row_segment_ohm,
            r_source_ohm=self.r_source_ohm,
            r_sense_ohm=self.r_sense_ohm,
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WireResistances":
        missing = [name for name in _WIRE_FIELDS if name not in data]
        if missing:
            raise ValueError(f"wires: missing field(s) {missing}; required: {list(_WIRE_FIELDS)}")
        return cls(**{name: data[name] for name in _WIRE_FIELDS})


# --------------------------------------------------------------------------------------------
# line topology
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """How one kind of line (rows or columns) is modelled.

    mode: ``"chain"`` (one node per cell, segment conductance ``g_seg``), ``"node"`` (zero
    segment resistance: one node per line) or ``"fixed"`` (zero segment and terminal
    resistance: the line voltage is known). ``g_term`` is the conductance between the line's
    first node and its terminal (source or virtual ground), ``inf`` for ``"fixed"``.
    """

    mode: str
    g_seg: float
    g_term: float


def _line(r_segment: float, r_terminal: float) -> _Line:
    if r_segment > 0.0:
        return _Line("chain", 1.0 / r_segment, 1.0 / (r_terminal + r_segment))
    if r_terminal > 0.0:
        return _Line("node", math.inf, 1.0 / r_terminal)
    return _Line("fixed", math.inf, math.inf)


def _check_conductances(g: np.ndarray, name: str = "g") -> np.ndarray:
    g = np.asarray(g)
    if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (rows, cols) with rows, cols >= 1, got shape {g.shape}")
    if not np.issubdtype(g.dtype, np.number) or np.issubdtype(g.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real array of conductances [S], got dtype {g.dtype}")
    g = g.astype(np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} contains NaN or inf conductances")
    if np.any(g < 0.0):
        raise ValueError(f"{name} contains negative conductances (min {g.min()!r} S); conductances must be >= 0")
    return g


def _check_wires(wires: WireResistances | None) -> WireResistances:
    if wires is None:
        return WireResistances()
    if not isinstance(wires, WireResistances):
        raise TypeError(f"wires must be a WireResistances, got {type(wires).__name__}")
    return wires


# --------------------------------------------------------------------------------------------
# sparse nodal system (reference solver, operating points, SPICE comparison)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodalSystem:
    """Nodal equations of one array: ``K u = B v``, column currents ``I = Cu u + Dv v``.

    ``u`` are the unknown node voltages [V], ``v`` the row source voltages [V] (rows,), ``I``
    the sensed column currents [A] (cols,). ``K`` (n, n) is symmetric positive definite
    (sparse CSC), ``B`` (n, rows), ``Cu`` (cols, n) and ``Dv`` (cols, rows) are sparse.
    ``row_node`` / ``col_node`` give the index of node ``R(i, j)`` / ``C(i, j)`` in ``u``
    (-1 where the node voltage is fixed).
    """

    K: scipy.sparse.csc_matrix
    B: scipy.sparse.csr_matrix
    Cu: scipy.sparse.csr_matrix
    Dv: scipy.sparse.csr_matrix
    row_node: np.ndarray
    col_node: np.ndarray


def nodal_system(g: np.ndarray, wires: WireResistances | None = None) -> NodalSystem:
    """Assemble the nodal equations of an array with rows driven and columns sensed.

    Node numbering: row nodes first (``R(i, j)`` -> ``i * cols + j`` for chained rows, ``i``
    for single-node rows), then column nodes (``C(i, j)`` -> offset ``+ i * cols + j`` for
    chained columns, ``+ j`` for single-node columns). Equation of node ``a``:
    ``sum_b g_ab (u_a - u_b) + sum_k g_ak (u_a - v_k) = 0``.
    """
    g = _check_conductances(g)
    wires = _check_wires(wires)
    rows, cols = g.shape
    row_line = _line(wires.r_row_segment_ohm, wires.r_source_ohm)
    col_line = _line(wires.r_col_segment_ohm, wires.r_sense_ohm)
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")

    n_row = {"chain": rows * cols, "node": rows, "fixed": 0}[row_line.mode]
    n_col = {"chain": rows * cols, "node": cols, "fixed": 0}[col_line.mode]
    n = n_row + n_col
    if row_line.mode == "chain":
        row_node = ii * cols + jj
    elif row_line.mode == "node":
        row_node = ii.copy()
    else:
        row_node = np.full((rows, cols), -1)
    if col_line.mode == "chain":
        col_node = n_row + ii * cols + jj
    elif col_line.mode == "node":
        col_node = n_row + jj
    else:
        col_node = np.full((rows, cols), -1)

    k_i: list[np.ndarray] = []
    k_j: list[np.ndarray] = []
    k_v: list[np.ndarray] = []
    b_i: list[np.ndarray] = []
    b_j: list[np.ndarray] = []
    b_v: list[np.ndarray] = []

    def between_unknowns(a: np.ndarray, b: np.ndarray, cond: np.ndarray) -> None:
        k_i.extend([a, b, a, b])
        k_j.extend([a, b, b, a])
        k_v.extend([cond, cond, -cond, -cond])

    def to_known(a: np.ndarray, cond: np.ndarray, source_row: np.ndarray | None) -> None:
        # conductance from unknown node a to a known voltage: source row k (or ground if None)
        k_i.append(a)
        k_j.append(a)
        k_v.append(cond)
        if source_row is not None:
            b_i.append(a)
            b_j.append(source_row)
            b_v.append(cond)

    # row wires
    if row_line.mode == "chain":
        if cols > 1:
            a = (ii[:, :-1] * cols + jj[:, :-1]).ravel()
            between_unknowns(a, a + 1, np.full(a.size, row_line.g_seg))
        to_known(np.arange(rows) * cols, np.full(rows, row_line.g_term), np.arange(rows))
    elif row_line.mode == "node":
        to_known(np.arange(rows), np.full(rows, row_line.g_term), np.arange(rows))
    # column wires
    if col_line.mode == "chain":
        if rows > 1:
            a = n_row + (ii[:-1, :] * cols + jj[:-1, :]).ravel()
            between_unknowns(a, a + cols, np.full(a.size, col_line.g_seg))
        to_known(n_row + np.arange(cols), np.full(cols, col_line.g_term), None)
    elif col_line.mode == "node":
        to_known(n_row + np.arange(cols), np.full(cols, col_line.g_term), None)
    # cells
    gr = g.ravel()
    rn = row_node.ravel()
    cn = col_node.ravel()
    both = (rn >= 0) & (cn >= 0)
    between_unknowns(rn[both], cn[both], gr[both])
    only_row = (rn >= 0) & (cn < 0)  # column fixed at 0 V
    to_known(rn[only_row], gr[only_row], None)
    only_col = (rn < 0) & (cn >= 0)  # row fixed at its source voltage
    to_known(cn[only_col], gr[only_col], ii.ravel()[only_col])

    def coo(i_list, j_list, v_list, shape):
        if not i_list:
            return scipy.sparse.csr_matrix(shape)
        return scipy.sparse.coo_matrix(
            (np.concatenate(v_list), (np.concatenate(i_list), np.concatenate(j_list))), shape=shape
        ).tocsr()

    K = coo(k_i, k_j, k_v, (n, n)).tocsc()
    B = coo(b_i, b_j, b_v, (n, rows))

    # sensed currents
    if col_line.mode in ("chain", "node"):
        Cu = scipy.sparse.coo_matrix(
            (np.full(cols, col_line.g_term), (np.arange(cols), n_row + np.arange(cols))), shape=(cols, n)
        ).tocsr()
        Dv = scipy.sparse.csr_matrix((cols, rows))
    else:  # columns at 0 V: I_j = sum_i g_ij * (voltage of R(i, j))
        if row_line.mode == "fixed":
            Cu = scipy.sparse.csr_matrix((cols, n))
            Dv = scipy.sparse.csr_matrix(g.T)
        else:
            Cu = scipy.sparse.coo_matrix((gr, (jj.ravel(), rn)), shape=(cols, n)).tocsr()
            Dv = scipy.sparse.csr_matrix((cols, rows))
    return NodalSystem(K=K, B=B, Cu=Cu, Dv=Dv, row_node=row_node, col_node=col_node)


def solve_column_currents(
    g: np.ndarray, v_rows: np.ndarray, wires: WireResistances | None = None
) -> np.ndarray:
    """Column currents [A] of one operating point (row voltages ``v_rows`` [V]) by a sparse solve."""
    g = _check_conductances(g)
    v = np.asarray(v_rows, dtype=np.float64)
    if v.shape != (g.shape[0],):
        raise ValueError(f"v_rows must have shape ({g.shape[0]},) to match g {g.shape}, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("v_rows contains NaN or inf")
    sys = nodal_system(g, wires)
    current = sys.Dv @ v
    if sys.K.shape[0] > 0:
        u = scipy.sparse.linalg.splu(sys.K, permc_spec="MMD_AT_PLUS_A").solve(sys.B @ v)
        current = current + sys.Cu @ u
    return np.asarray(current, dtype=np.float64)


def effective_conductance_sparse(
    g: np.ndarray, wires: WireResistances | None = None, *, chunk: int = 64
) -> np.ndarray:
    """Effective conductance matrix (rows, cols) [S] from one sparse LU factorisation.

    Solves the adjoint system ``K^T Z = Cu^T`` (``K`` is symmetric) for all column ports, in
    chunks of ``chunk`` right-hand sides, then ``g_eff = (Z^T B + Dv)^T``.
    """
    g = _check_conductances(g)
    sys = nodal_system(g, wires)
    result = sys.Dv.toarray()  # (cols, rows)
    n = sys.K.shape[0]
    if n > 0:
        lu = scipy.sparse.linalg.splu(sys.K, permc_spec="MMD_AT_PLUS_A")
        cu_t = sys.Cu.T.tocsc()
        B_csc = sys.B.tocsc()
        cols = g.shape[1]
        for start in range(0, cols, chunk):
            stop = min(start + chunk, cols)
            rhs = cu_t[:, start:stop].toarray()
            z = lu.solve(rhs, trans="T")
            result[start:stop, :] += (B_csc.T @ z).T
    return np.ascontiguousarray(result.T)


# --------------------------------------------------------------------------------------------
# structured solver
# --------------------------------------------------------------------------------------------


def _row_schur(g_row: np.ndarray, line: _Line) -> tuple[np.ndarray, np.ndarray]:
    """Eliminate the row nodes of one row: Schur complement ``S`` (cols, cols) and drive ``h``.

    With the column nodes of this row at voltages ``c`` and the source at ``v``, the current
    flowing from the row into the column nodes through the cells is ``h * v - S @ c``.
    """
    cols = g_row.size
    if line.mode == "fixed":
        return np.diag(g_row), g_row.copy()
    if line.mode == "node":
        total = line.g_term + g_row.sum()
        return np.diag(g_row) - np.outer(g_row, g_row) / total, g_row * (line.g_term / total)
    # chain: symmetric tridiagonal M = Laplacian of the row wire + terminal + diag(g)
    diag = g_row.copy()
    diag[0] += line.g_term
    if cols > 1:
        diag[:-1] += line.g_seg
        diag[1:] += line.g_seg
    if cols == 1:
        m_inv = 1.0 / diag[:, None]
    else:
        ab = np.zeros((2, cols))
        ab[0, 1:] = -line.g_seg
        ab[1] = diag
        m_inv = scipy.linalg.solveh_banded(ab, np.eye(cols), check_finite=False)
    S = -(g_row[:, None] * m_inv * g_row[None, :])
    S[np.diag_indices(cols)] += g_row
    h = g_row * m_inv[:, 0] * line.g_term
    return S, h


def _spd_inverse_lower(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix; only its lower triangle is valid.

    Reads only the lower triangle of ``a`` (Cholesky, LAPACK potrf then potri); the strict upper
    triangle of the result is zero (so no garbage accumulates in the callers' recursions).
    """
    c, info = lapack.dpotrf(a, lower=1, clean=1, overwrite_a=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"nodal block is not positive definite (potrf info {info})")
    inv, info = lapack.dpotri(c, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info {info})")
    return inv


def effective_conductance_blocks(g: np.ndarray, wires: WireResistances | None = None) -> np.ndarray:
    """Effective conductance matrix (rows, cols) [S] by structured elimination (see module doc)."""
    g = _check_conductances(g)
    wires = _check_wires(wires)
    rows, cols = g.shape
    row_line = _line(wires.r_row_segment_ohm, wires.r_source_ohm)
    col_line = _line(wires.r_col_segment_ohm, wires.r_sense_ohm)
    if row_line.mode == "fixed" and col_line.mode == "fixed":
        return g.copy()
    if col_line.mode == "fixed":
        # columns at 0 V: the current of row i into column j is h_i[j] * v_i
        return np.stack([_row_schur(g[i], row_line)[1] for i in range(rows)])

    if col_line.mode == "node":
        sigma = np.eye(cols) * col_line.g_term
        H = np.empty((cols, rows))
        for i in range(rows):
            S, H[:, i] = _row_schur(g[i], row_line)
            sigma += S
        v0 = scipy.linalg.solve(sigma, H, assume_a="pos", check_finite=False)
        return np.ascontiguousarray((col_line.g_term * v0).T)

    # chained columns: block-tridiagonal elimination from the open end (row rows-1) to row 0
    g_c = col_line.g_seg

    def layer(i: int) -> tuple[np.ndarray, np.ndarray]:
        S, h = _row_schur(g[i], row_line)
        couple = (col_line.g_term if i == 0 else g_c) + (g_c if i < rows - 1 else 0.0)
        S[np.diag_indices(cols)] += couple
        return S, h

    # Only lower triangles of the symmetric blocks are kept valid (LAPACK/BLAS read only those).
    # F (cols, rows): column k holds the reduced right-hand side of the response to row k.
    F = np.empty((cols, rows), order="F")
    sigma, F[:, rows - 1] = layer(rows - 1)
    for i in range(rows - 2, -1, -1):
        inv = _spd_inverse_lower(sigma)
        A, F[:, i] = layer(i)
        sigma = A - (g_c * g_c) * inv
        F[:, i + 1 :] = blas.dsymm(g_c, inv, F[:, i + 1 :], side=0, lower=1)
    c, info = lapack.dpotrf(sigma, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"nodal block is not positive definite (potrf info {info})")
    v0, info = lapack.dpotrs(c, F, lower=1)
    return np.ascontiguousarray((col_line.g_term * v0).T)


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
