"""IR drop by structured elimination (the default solver): each row line is eliminated by a
tridiagonal solve, leaving a block-tridiagonal system on the column nodes that is eliminated
from the open end towards the sense amplifiers. See :mod:`hardware_models.crossbar.ir_drop`."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

from .wires import LineModel, WireResistances, check_conductances, check_wires, line_model

__all__ = ["effective_conductance_blocks", "row_schur", "spd_inverse_lower"]


def row_schur(g_row: np.ndarray, line: LineModel) -> tuple[np.ndarray, np.ndarray]:
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


def spd_inverse_lower(a: np.ndarray) -> np.ndarray:
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
    """Effective conductance matrix (rows, cols) [S] by structured elimination (see :mod:`hardware_models.crossbar.ir_drop`)."""
    g = check_conductances(g)
    wires = check_wires(wires)
    rows, cols = g.shape
    row_line = line_model(wires.r_row_segment_ohm, wires.r_source_ohm)
    col_line = line_model(wires.r_col_segment_ohm, wires.r_sense_ohm)
    if row_line.mode == "fixed" and col_line.mode == "fixed":
        return g.copy()
    if col_line.mode == "fixed":
        # columns at 0 V: the current of row i into column j is h_i[j] * v_i
        return np.stack([row_schur(g[i], row_line)[1] for i in range(rows)])

    if col_line.mode == "node":
        sigma = np.eye(cols) * col_line.g_term
        H = np.empty((cols, rows))
        for i in range(rows):
            S, H[:, i] = row_schur(g[i], row_line)
            sigma += S
        v0 = scipy.linalg.solve(sigma, H, assume_a="pos", check_finite=False)
        return np.ascontiguousarray((col_line.g_term * v0).T)

    # chained columns: block-tridiagonal elimination from the open end (row rows-1) to row 0
    g_c = col_line.g_seg

    def layer(i: int) -> tuple[np.ndarray, np.ndarray]:
        S, h = row_schur(g[i], row_line)
        couple = (col_line.g_term if i == 0 else g_c) + (g_c if i < rows - 1 else 0.0)
        S[np.diag_indices(cols)] += couple
        return S, h

    # Only lower triangles of the symmetric blocks are kept valid (LAPACK/BLAS read only those).
    # F (cols, rows): column k holds the reduced right-hand side of the response to row k.
    F = np.empty((cols, rows), order="F")
    sigma, F[:, rows - 1] = layer(rows - 1)
    for i in range(rows - 2, -1, -1):
        inv = spd_inverse_lower(sigma)
        A, F[:, i] = layer(i)
        sigma = A - (g_c * g_c) * inv
        F[:, i + 1 :] = blas.dsymm(g_c, inv, F[:, i + 1 :], side=0, lower=1)
    c, info = lapack.dpotrf(sigma, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"nodal block is not positive definite (potrf info {info})")
    v0, info = lapack.dpotrs(c, F, lower=1)
    return np.ascontiguousarray((col_line.g_term * v0).T)
