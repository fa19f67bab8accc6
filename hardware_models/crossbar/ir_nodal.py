"""IR drop by the sparse nodal equations of one array (the reference solver; operating points
and the SPICE comparison use it): ``K u = B v`` assembled node by node and solved with SuperLU.
The circuit is described in :mod:`hardware_models.crossbar.ir_drop`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .wires import WireResistances, check_conductances, check_wires, line_model

__all__ = ["NodalSystem", "effective_conductance_sparse", "nodal_system", "solve_column_currents"]


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
    g = check_conductances(g)
    wires = check_wires(wires)
    rows, cols = g.shape
    row_line = line_model(wires.r_row_segment_ohm, wires.r_source_ohm)
    col_line = line_model(wires.r_col_segment_ohm, wires.r_sense_ohm)
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
    g = check_conductances(g)
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
    g = check_conductances(g)
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
