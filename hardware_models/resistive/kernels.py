"""Numba kernel: the steady state of a batch of layered resistive networks with diodes.

The steady state minimises the co-content (half the dissipated power, plus each diode's
co-content and the nudging term)

    P(V) = 1/2 sum_edges g_ab (V_a - V_b)^2 + sum_hidden D(V_j) + beta/2 sum_out (V_o - y_o)^2

under the ideal diodes' constraints s_j V_j >= 0 (Scellier, ICML 2024). A node j of layer k
only touches layers k-1 and k+1, so given its neighbours the nodes of a layer are independent
and each has an exact minimiser:

* with G_j = sum_a g_ja (+ beta at an output) [S] and N_j = sum_a g_ja V_a (+ beta y_j) [A],
  an output or linear node sits at m_j = N_j / G_j (the conductance-weighted average);
* an ideal-diode node at s_j max(s_j m_j, 0) (the clip);
* a Shockley node at the root of f(U) = G U - N' - I_s (exp(-U / (n V_T)) - 1) in U = s V,
  N' = s N: f is increasing, bracketed by [0, m'] when m' = N'/G >= 0 and by
  [-n V_T log1p(-N'/I_s), 0] otherwise; safeguarded Newton (bisection when a step leaves
  the bracket) solves it.

One sweep updates the odd layers (1, 3, ...) then the even ones: an exact block coordinate
descent, so P never increases. After each sweep the largest KCL imbalance over every node
(|sum of currents leaving| [A]; at a clamped ideal node only the part the diode cannot carry)
is measured; a sample stops when it is <= tol_A or at max_sweeps. Samples run in ``prange``;
every sum has a fixed order, so the numbers do not depend on the thread count.

Flat layout (see :mod:`.settle`): layers 0 (the 2 n_in sources) .. L (the output), ``sizes``
(L+1,); free nodes flat, layer k at ``noff[k-1]``; matrix k-1 (layer k-1 -> k, row-major
(sizes[k-1], sizes[k])) at ``w_off[k-1]`` of each row of ``W`` (Bw, total); ``G`` and ``bnum``
(Bw, n_nodes): total conductance and bias current of every node. Bw is 1 (one network) or B
(one conductance draw per sample).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["settle_batch", "settle_serial", "node_residual", "solve_node", "PARALLEL_MIN_WORK"]

#: batch x conductances below which :func:`settle_serial` runs instead of the parallel kernel
PARALLEL_MIN_WORK = 1_000_000

IDEAL = 0
SHOCKLEY = 1


@njit(cache=True, inline="always")
def solve_node(g, n, s, v_old, diode, i_s, a):
    """The exact minimiser of one node's co-content given its neighbours (module docstring)."""
    if s == 0:
        return n / g
    np_ = s * n
    m = np_ / g
    if diode == IDEAL:
        return s * max(m, 0.0)
    if m >= 0.0:
        lo, hi = 0.0, m
    else:
        lo, hi = -a * math.log1p(-np_ / i_s), 0.0
    u = min(max(s * v_old, lo), hi)
    if m < 0.0 and u >= hi:
        u = lo  # f is concave: Newton from the left end converges monotonically
    for _ in range(200):
        e = math.exp(-u / a)
        f = g * u - np_ - i_s * (e - 1.0)
        if f == 0.0:
            break
        if f < 0.0:
            lo = u
        else:
            hi = u
        un = u - f / (g + i_s / a * e)
        tol = 1e-15 * (abs(un) + a)
        if abs(un - u) <= tol:  # converged (test before the bracket: un may sit on its end)
            u = min(max(un, lo), hi)
            break
        if not (un > lo and un < hi):
            un = 0.5 * (lo + hi)
        if hi - lo <= tol:
            u = un
            break
        u = un
    return s * u


@njit(cache=True, inline="always")
def node_residual(g, n, s, v, diode, i_s, a):
    """|KCL imbalance| [A] of one node at voltage v (for an ideal clamped node: the part of the
    net current the diode cannot carry)."""
    if s == 0:
        return abs(g * v - n)
    u = s * v
    np_ = s * n
    if diode == IDEAL:
        if u > 0.0:
            return abs(g * u - np_)
        return max(np_ - g * u, 0.0)
    return abs(g * u - np_ - i_s * (math.exp(-u / a) - 1.0))


@njit(cache=True)
def _numerators(k, L, vb, drive, wb, w_off, sizes, noff, bnum, beta, yb, out):
    """N_j of every node of layer k into out[noff[k-1]:...] (fixed summation order)."""
    nk = sizes[k]
    o = noff[k - 1]
    for j in range(nk):
        out[o + j] = bnum[o + j]
    if k == 1:
        for j in range(nk):
            out[o + j] += drive[j]
    else:
        src = noff[k - 2]
        for i in range(sizes[k - 1]):
            vi = vb[src + i]
            base = w_off[k - 1] + i * nk
            for j in range(nk):
                out[o + j] += wb[base + j] * vi
    if k < L:
        nn = sizes[k + 1]
        dst = noff[k]
        for j in range(nk):
            acc = 0.0
            base = w_off[k] + j * nn
            for l in range(nn):
                acc += wb[base + l] * vb[dst + l]
            out[o + j] += acc
    else:
        for j in range(nk):
            out[o + j] += beta * yb[j]


@njit(cache=True)
def _settle_one(ub, vb, wb, w_off, sizes, noff, gb, bnum, signs, beta, yb, diode, i_s, a, tol, max_sweeps):
    L = sizes.shape[0] - 1
    n1 = sizes[1]
    drive = np.zeros(n1)
    for i in range(sizes[0]):
        ui = ub[i]
        if ui == 0.0:  # adds nothing (dark pixels): skipped
            continue
        base = w_off[0] + i * n1
        for j in range(n1):
            drive[j] += wb[base + j] * ui
    num = np.empty(vb.shape[0])
    o_out = noff[L - 1]
    res = np.inf
    for k in range(1, L + 1, 2):  # odd layers' numerators (after a sweep: from its residual pass)
        _numerators(k, L, vb, drive, wb, w_off, sizes, noff, bnum, beta, yb, num)
    for sweep in range(1, max_sweeps + 1):
        res_even = 0.0
        for parity in (1, 0):
            for k in range(1, L + 1):
                if k % 2 != parity:
                    continue
                if parity == 0:
                    _numerators(k, L, vb, drive, wb, w_off, sizes, noff, bnum, beta, yb, num)
                for j in range(sizes[k]):
                    idx = noff[k - 1] + j
                    g = gb[idx] + (beta if idx >= o_out else 0.0)
                    vb[idx] = solve_node(g, num[idx], signs[idx], vb[idx], diode, i_s, a)
                    if parity == 0:
                        r = node_residual(g, num[idx], signs[idx], vb[idx], diode, i_s, a)
                        res_even = max(res_even, r)
        res = res_even
        for k in range(1, L + 1, 2):  # odd layers: their neighbours moved after their update
            _numerators(k, L, vb, drive, wb, w_off, sizes, noff, bnum, beta, yb, num)
            for j in range(sizes[k]):
                idx = noff[k - 1] + j
                g = gb[idx] + (beta if idx >= o_out else 0.0)
                res = max(res, node_residual(g, num[idx], signs[idx], vb[idx], diode, i_s, a))
        if res <= tol:
            return res, sweep
    return res, max_sweeps


@njit(cache=True)
def settle_serial(u, v, w, w_off, sizes, noff, g, bnum, signs, beta, y, diode, i_s, a, tol, max_sweeps,
                  residual, sweeps):
    """:func:`settle_batch` on the calling thread (small batches: a parallel launch costs more
    than it saves); the same numbers."""
    stride = 0 if w.shape[0] == 1 else 1
    for b in range(u.shape[0]):
        wb = b * stride
        r, s = _settle_one(u[b], v[b], w[wb], w_off, sizes, noff, g[wb], bnum[wb], signs, beta, y[b], diode,
                           i_s, a, tol, max_sweeps)
        residual[b] = r
        sweeps[b] = s


@njit(cache=True, parallel=True)
def settle_batch(u, v, w, w_off, sizes, noff, g, bnum, signs, beta, y, diode, i_s, a, tol, max_sweeps,
                 residual, sweeps):
    """Settle every sample b of the batch in place: ``v[b]`` (initial state in, steady state out),
    ``residual[b]`` [A] and ``sweeps[b]``. ``u`` (B, 2 n_in) source voltages, ``y`` (B, n_out)
    nudging targets, ``beta`` [S] the nudging conductance (0: free phase)."""
    batch = u.shape[0]
    stride = 0 if w.shape[0] == 1 else 1
    for b in prange(batch):
        wb = b * stride
        r, s = _settle_one(u[b], v[b], w[wb], w_off, sizes, noff, g[wb], bnum[wb], signs, beta, y[b], diode,
                           i_s, a, tol, max_sweeps)
        residual[b] = r
        sweeps[b] = s
