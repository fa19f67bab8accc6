"""Matrix products of a crossbar read whose summation order is fixed by the code (Numba).

A BLAS GEMM splits its work by thread count and picks blocking and kernels from it, so the
float32 sums of ``xq @ W.T`` may round differently at 1 and at 2 threads; after the ADC one
output in about 10^5 or 10^6 moves by one ADC step (measured: one in 654,000 outputs of a
PCM read when OPENBLAS_NUM_THREADS went from 2 to 1). The products here do not depend on any
thread count: every output element is one sum in a fixed order::

    y[b, j] = (((0 + x[b, 0] * wt[0, j]) + x[b, 1] * wt[1, j]) + ...) + x[b, n-1] * wt[n-1, j]

each product and each sum rounded to the dtype (no fused multiply-add: the kernel is compiled
without ``fastmath``). An input index where all rows of a group of ``_ROWS`` batch rows are 0 is
skipped: its terms are exact zeros (the running sum starts at +0 and is never -0, so adding a
signed zero changes nothing). The batch is split over Numba threads by groups of rows; a row's
numbers depend only on its own inputs. :func:`fixed_order_reference` is the numpy twin (the
same additions, one input column at a time), bit-identical, for the tests.
"""

from __future__ import annotations

import numba
import numpy as np

from .normals import use_parallel

__all__ = ["fixed_order_matmul", "fixed_order_reference"]

#: batch rows that share one pass over ``wt``: their running sums stay in a small local block
#: (measured, 512 x 512 float32, batch 256, one thread: 8 rows 2.9 ms, 4 rows 3.1 ms, 1 row 8.1 ms;
#: OpenBLAS sgemm 1.6 ms)
_ROWS = 8


@numba.njit(cache=True, inline="always", error_model="numpy")
def _group(x, wt, out, b0, nr, acc, xs):
    """Rows b0 .. b0+nr-1 (nr <= _ROWS) of ``out``: acc[r, j] += x[b0 + r, i] * wt[i, j], i ascending."""
    n, m = wt.shape
    zero = acc.dtype.type(0.0)
    acc[:, :] = zero
    for i in range(n):
        nonzero = False
        for r in range(_ROWS):
            v = x[b0 + r, i] if r < nr else zero
            xs[r] = v
            nonzero |= v != zero
        if not nonzero:  # every term of this i is an exact zero
            continue
        if nr == _ROWS:
            for j in range(m):
                w = wt[i, j]
                for r in range(_ROWS):
                    acc[r, j] += xs[r] * w
        else:
            for j in range(m):
                w = wt[i, j]
                for r in range(nr):
                    acc[r, j] += xs[r] * w
    for r in range(nr):
        for j in range(m):
            out[b0 + r, j] = acc[r, j]


def _make(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(x, wt, out):
        batch = x.shape[0]
        m = wt.shape[1]
        for g in numba.prange((batch + _ROWS - 1) // _ROWS):
            b0 = g * _ROWS
            acc = np.empty((_ROWS, m), dtype=out.dtype)
            xs = np.empty(_ROWS, dtype=out.dtype)
            _group(x, wt, out, b0, min(_ROWS, batch - b0), acc, xs)

    return kernel


_serial = _make(False)
_parallel = _make(True)


def fixed_order_matmul(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``x @ wt`` (B, n) x (n, m) -> (B, m) in the dtype of both (float32 or float64), summed
    over ``i`` in increasing order for every output (module docstring): the same bits at any
    BLAS or Numba thread count. ``x`` and ``wt`` C-contiguous, same dtype."""
    if x.dtype != wt.dtype or x.ndim != 2 or wt.ndim != 2 or x.shape[1] != wt.shape[0]:
        raise ValueError(f"fixed_order_matmul: shapes {x.shape} x {wt.shape}, dtypes {x.dtype}/{wt.dtype}")
    x = np.ascontiguousarray(x)
    wt = np.ascontiguousarray(wt)
    out = np.empty((x.shape[0], wt.shape[1]), dtype=x.dtype)
    (_parallel if use_parallel(out.size) else _serial)(x, wt, out)
    return out


def fixed_order_reference(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """numpy twin of :func:`fixed_order_matmul`: one input column at a time, every term added
    (the kernel's skipped terms are exact zeros), bit-identical."""
    out = np.zeros((x.shape[0], wt.shape[1]), dtype=x.dtype)
    for i in range(x.shape[1]):
        out = out + x[:, i : i + 1] * wt[i][None, :]
    return out
