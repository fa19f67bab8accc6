"""Numba DAC kernel of a crossbar read, and its numpy twin (bit-identical results).

The DAC arithmetic is never contracted (no fused multiply-adds), so :func:`dac_reference`
matches :func:`dac_kernel` bit for bit whatever the thread count; see :func:`dac_kernel` for the
definition and its division-free float32 path.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from .normals import use_parallel

__all__ = ["dac_kernel", "dac_reference"]

_F32 = np.float32


@numba.njit(cache=True, inline="always", error_model="numpy")
def _dac_row(x, b, step, clip, xq, xq2):
    """DAC of row b by the definition (float64 division); returns whether it holds NaN/inf."""
    n_bad = 0
    for i in range(x.shape[1]):
        v = np.float64(x[b, i])
        finite = abs(v) < np.inf  # False for NaN and +-inf
        n_bad += np.int64(not finite)
        v = min(max(v if finite else 0.0, -clip), clip)
        if step > 0.0:
            v = np.rint(v / step) * step
        xq[b, i] = v
        xq2[b, i] = v * v
    return n_bad > 0


#: float32 inputs take the quotient x * (1/step) in float32 where clip / step <= this bound
_DAC_FAST_MAX_LEVELS = 1024.0
_F32_INF = _F32(np.inf)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _dac_row_f32(x, b, step, clip32, inv32, r_max, xq, xq2):
    """DAC of row b of a float32 batch without a division; returns False where the row must be
    redone by :func:`_dac_row` (it holds NaN/inf, or an element whose rounding is in doubt).

    r = fl32(x * fl32(1 / step)) differs from the definition's quotient fl64(x / step) by less
    than delta = (clip / step) 2^-22 (two float32 roundings of at most 2^-24 relative each, and
    |x / step| <= clip / step), so where |r - rint(r)| <= r_max = 1/2 - delta both round to the
    same integer k; then xq = fl32(k * step) and xq2 = fl32((k * step)^2) in float64, as the
    definition."""
    ok = True
    for i in range(x.shape[1]):
        v = x[b, i]
        ok &= abs(v) < _F32_INF
        r = min(max(v, -clip32), clip32) * inv32
        q = np.rint(r)
        ok &= abs(r - q) <= r_max
        w = np.float64(q) * step
        xq[b, i] = w
        xq2[b, i] = w * w
    return ok


@functools.lru_cache(maxsize=64)
def _dac_f32_constants(step: float, clip: float):
    """(fl32(1 / step), 1/2 - delta rounded down) of the float32 DAC path, or (None, None) where
    it does not apply (see :func:`_dac_row_f32`)."""
    levels = clip / step if step > 0.0 else math.inf
    if not (levels <= _DAC_FAST_MAX_LEVELS and float(np.float32(clip)) == clip):
        return None, None
    # an element within delta of a tie is never taken fast
    return np.float32(1.0 / step), np.nextafter(np.float32(0.5 - levels * 2.0**-22), np.float32(0.0))


def _make_dac(parallel: bool, f32_input: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(x, step, clip, inv32, r_max, xq, xq2, bad_rows):
        clip32 = np.float32(clip)
        for b in numba.prange(x.shape[0]):
            done = False
            if f32_input:
                done = _dac_row_f32(x, b, step, clip32, inv32, r_max, xq, xq2)
            bad_rows[b] = False if done else _dac_row(x, b, step, clip, xq, xq2)

    return kernel


_dac_serial = _make_dac(False, False)
_dac_parallel = _make_dac(True, False)
_dac_serial_f32 = _make_dac(False, True)
_dac_parallel_f32 = _make_dac(True, True)


def dac_kernel(x: np.ndarray, step: float, clip: float, dtype=np.float32):
    """DAC of a batch ``x`` (B, n): returns ``(xq, xq2, bad_rows)``.

    In float64, each result rounded once to ``dtype``::

        xq  = step * rint(min(max(x, -clip), clip) / step)      (no rint where step == 0)
        xq2 = xq * xq

    NaN/inf inputs give 0 and ``bad_rows[b] = True`` for their row (the caller raises).
    A float32 ``x`` with ``0 < step`` and ``clip / step <= 1024`` (DACs up to 11 bits) takes the
    quotient in float32 without a division and redoes by the definition the rare rows where
    that could round otherwise (see :func:`_dac_row_f32`): the results are the definition's,
    bit for bit, either way.
    """
    step, clip = float(step), float(clip)
    xq = np.empty(x.shape, dtype=dtype)
    xq2 = np.empty(x.shape, dtype=dtype)
    bad_rows = np.empty(x.shape[0], dtype=np.bool_)
    parallel = use_parallel(x.size)
    inv32, r_max = _dac_f32_constants(step, clip) if x.dtype == np.float32 else (None, None)
    if inv32 is not None:
        kernel = _dac_parallel_f32 if parallel else _dac_serial_f32
    else:
        kernel = _dac_parallel if parallel else _dac_serial
        inv32, r_max = _F32(0.0), _F32(0.0)
    kernel(x, step, clip, inv32, r_max, xq, xq2, bad_rows)
    return xq, xq2, bad_rows


def dac_reference(x: np.ndarray, step: float, clip: float, dtype=np.float32):
    """numpy twin of :func:`dac_kernel` (raises nothing; NaN/inf rows are reported)."""
    v = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(v)
    bad_rows = ~finite.all(axis=1)
    v = np.clip(np.where(finite, v, 0.0), -clip, clip)
    if step > 0.0:
        v = np.rint(v / step) * step
    return v.astype(dtype), (v * v).astype(dtype), bad_rows
