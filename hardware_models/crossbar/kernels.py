"""Numba kernels for the per-read work of a crossbar: DAC, output noise, TIA noise, ADC.

All kernels are compiled with ``cache=True`` and give the same numbers whatever the thread
count (``numba.set_num_threads``): the work is split by batch row, every output element is
computed from its own inputs only, and random numbers come from a **counter-based** generator,
so element ``n`` of a read gets the same normal deviate for the same key whichever thread
computes it. Each kernel has a plain numpy twin (:func:`dac_reference`, :func:`adc_reference`)
that gives bit-identical results; the tests hold them to that.

Counter-based normal generator
------------------------------
Stream ``n`` (the index of an output element of a read, see
:class:`hardware_models.crossbar.read_model.LinearReadModel`) gets its deviate from the 64-bit
SplitMix64 word (Steele, Lea & Flood 2014) of the pair ``p = n // 2``::

    w      = mix64(key + p * 0x9E3779B97F4A7C15)       (mod 2**64)
    u1     = ((w >> 32) + 1) * 2**-32                   in (0, 1]
    theta  = 2 pi * (w & 0xFFFFFFFF) * 2**-32           in [0, 2 pi)
    z(2p)  = sqrt(-2 ln u1) cos(theta),   z(2p + 1) = sqrt(-2 ln u1) sin(theta)

the Box-Muller transform (1958), exact in distribution. The logarithm, sine and cosine are
evaluated in float32 with short polynomials (error below 1e-6 relative; ``ln u1`` is taken
from ``1 - u1`` where u1 is near 1, so small radii keep full precision; the kernels vectorise),
u1 and theta have 32-bit resolution, so |z| never exceeds sqrt(64 ln 2) = 6.66 (probability of
exceeding it under N(0, 1): 3e-11). The generator's polynomials may use fused multiply-adds
(Numba ``fastmath={"contract"}``, only there): its last bits may differ between CPUs with and
without FMA, never between thread counts or runs on one machine. The DAC and ADC arithmetic is
never contracted, so the numpy twins match bit for bit. :func:`counter_normals` returns the
deviates of any range of streams, which lets the numpy reference reproduce a read exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "counter_normals",
    "stream_normals",
    "dac_kernel",
    "dac_reference",
    "adc_kernel",
    "adc_reference",
    "use_parallel",
]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW30 = np.uint64((1 << 30) - 1)

_F32 = np.float32
_ONE = _F32(1.0)
_TWO = _F32(2.0)
_HALF = _F32(0.5)
_QUARTER = _F32(0.25)
_LN2 = _F32(math.log(2.0))
_SQRT2 = _F32(math.sqrt(2.0))
_SQRT_HALF = _F32(math.sqrt(0.5))
_TWO_M32 = _F32(2.0**-32)
_TWO_M30 = _F32(2.0**-30)
_HALF_PI = _F32(math.pi / 2.0)
_MANT23 = np.int32((1 << 23) - 1)
_EXP127 = np.int32(127 << 23)
_S23 = np.int32(23)
_BIAS = np.int32(127)
_I1 = np.int32(1)
# ln(m) = 2 atanh(t), t = (m - 1)/(m + 1), |t| <= 0.1716: odd series up to t^9 (error < 3e-9)
_L3, _L5, _L7, _L9 = (_F32(1.0 / 3.0), _F32(1.0 / 5.0), _F32(1.0 / 7.0), _F32(1.0 / 9.0))
# sin/cos Taylor series on [-pi/4, pi/4], up to x^9 and x^8 (errors < 2e-9 and 3e-8)
_S3, _S5, _S7, _S9 = (_F32(-1.0 / 6.0), _F32(1.0 / 120.0), _F32(-1.0 / 5040.0), _F32(1.0 / 362880.0))
_C2, _C4, _C6, _C8 = (_F32(-0.5), _F32(1.0 / 24.0), _F32(-1.0 / 720.0), _F32(1.0 / 40320.0))

_PARALLEL_MIN_ELEMENTS = 1 << 15


def use_parallel(n_elements: int) -> bool:
    """Whether a kernel call on ``n_elements`` outputs uses the parallel (prange) variant.

    Both variants give identical numbers; the parallel one only pays off on large calls and
    with more than one Numba thread.
    """
    return n_elements >= _PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1


# --------------------------------------------------------------------------------------------
# counter-based normals
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always", error_model="numpy")
def _mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


_ZERO = _F32(0.0)
_ALL32 = np.uint32(0xFFFFFFFF)
_LOW30_32 = np.uint32((1 << 30) - 1)
_S30_32 = np.uint32(30)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _box_muller_pair(hi, lo):
    """(z0, z1) from the two 32-bit halves of a pair's word (float32 arithmetic).

    u1 = (hi + 1) 2^-32; ln u1 from the exponent split of u1 and 2 atanh((m - 1)/(m + 1)), or,
    where d = 1 - u1 = (2^32 - 1 - hi) 2^-32 < 1/4, from 2 atanh(-d / (2 - d)) so that radii
    near 0 keep full precision; theta = 2 pi lo 2^-32 from its quadrant (top 2 bits) and
    sin/cos polynomials of the remaining angle shifted to [-pi/4, pi/4).
    """
    u = (np.float32(hi) + _ONE) * _TWO_M32
    d = np.float32(_ALL32 - hi) * _TWO_M32
    bits = np.float32(u).view(np.int32)
    e = np.float32((bits >> _S23) - _BIAS)
    m = np.int32((bits & _MANT23) | _EXP127).view(np.float32)  # [1, 2)
    big = np.float32(m > _SQRT2)
    m = m * (_ONE - _HALF * big)  # [sqrt(1/2), sqrt(2))
    e = e + big
    near = d < _QUARTER
    num = -d if near else m - _ONE
    den = _TWO - d if near else m + _ONE
    e = _ZERO if near else e
    t = num / den
    t2 = t * t
    ln_u = _TWO * t * (_ONE + t2 * (_L3 + t2 * (_L5 + t2 * (_L7 + t2 * _L9)))) + e * _LN2
    r = np.sqrt(-_TWO * ln_u)
    q = np.int32(lo >> _S30_32)  # quadrant of theta
    q_odd = np.float32(q & _I1)
    q_high = np.float32(q >> _I1)
    cos_q = (_ONE - q_odd) * (_ONE - _TWO * q_high)  # cos(q pi/2)
    sin_q = q_odd * (_ONE - _TWO * q_high)  # sin(q pi/2)
    x = (np.float32(np.int32(lo & _LOW30_32)) * _TWO_M30 - _HALF) * _HALF_PI  # [-pi/4, pi/4)
    x2 = x * x
    sx = x * (_ONE + x2 * (_S3 + x2 * (_S5 + x2 * (_S7 + x2 * _S9))))
    cx = _ONE + x2 * (_C2 + x2 * (_C4 + x2 * (_C6 + x2 * _C8)))
    s = (sx + cx) * _SQRT_HALF  # sin(phi + pi/4), phi = theta - q pi/2 in [0, pi/2)
    c = (cx - sx) * _SQRT_HALF
    return r * (cos_q * c - sin_q * s), r * (sin_q * c + cos_q * s)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _word_halves(key, p):
    w = _mix64(key + np.uint64(p) * _GAMMA)
    return np.uint32(w >> _S32), np.uint32(w & _LOW32)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _box_muller(key, p0, out):
    """Deviates of pairs p0, p0 + 1, ... into out (out[2k], out[2k+1] = pair p0 + k), one pass."""
    for k in range(out.shape[0] // 2):
        hi, lo = _word_halves(key, p0 + k)
        out[2 * k], out[2 * k + 1] = _box_muller_pair(hi, lo)


@numba.njit(cache=True, error_model="numpy")
def _hash_pairs(key, p0, hi_a, lo_a):
    for k in range(hi_a.shape[0]):
        hi_a[k], lo_a[k] = _word_halves(key, p0 + k)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _transform_pairs(hi_a, lo_a, out):
    for k in range(hi_a.shape[0]):
        out[2 * k], out[2 * k + 1] = _box_muller_pair(hi_a[k], lo_a[k])


@numba.njit(cache=True, inline="always")
def _stream_normals(key, s0, m, buf):
    """Deviates of streams s0 .. s0 + m - 1 (buf: float32 scratch of length >= m + 2)."""
    p0 = s0 >> 1
    n_pairs = ((s0 + m - 1) >> 1) - p0 + 1
    _box_muller(key, p0, buf[: 2 * n_pairs])
    off = s0 - 2 * p0
    return buf[off : off + m]


@numba.njit(cache=True, inline="always")
def _stream_normals_split(key, s0, m, hi_a, lo_a, buf):
    """As _stream_normals, in two vectorised passes (hash, then transform); the same numbers.
    hi_a, lo_a: uint32 scratch of length >= m // 2 + 2; buf: float32 of length >= m + 2."""
    p0 = s0 >> 1
    n_pairs = ((s0 + m - 1) >> 1) - p0 + 1
    _hash_pairs(key, p0, hi_a[:n_pairs], lo_a[:n_pairs])
    _transform_pairs(hi_a[:n_pairs], lo_a[:n_pairs], buf[: 2 * n_pairs])
    off = s0 - 2 * p0
    return buf[off : off + m]


#: Public name of the in-kernel generator for other Numba code (fused settling loops):
#: ``stream_normals(key: uint64, s0: int64, m: int64, buf: float32[>= m + 2]) -> float32[m]``
#: returns a view of ``buf`` holding the deviates of streams ``s0 .. s0 + m - 1``.
stream_normals = _stream_normals

_CHUNK = 4096


def _make_counter_normals(parallel: bool):
    @numba.njit(parallel=parallel, cache=True)
    def kernel(key, stream0, out):
        n = out.shape[0]
        n_chunks = (n + _CHUNK - 1) // _CHUNK
        for c in numba.prange(n_chunks):
            lo = c * _CHUNK
            hi = min(n, lo + _CHUNK)
            hi_a = np.empty(_CHUNK // 2 + 2, dtype=np.uint32)
            lo_a = np.empty(_CHUNK // 2 + 2, dtype=np.uint32)
            buf = np.empty(_CHUNK + 2, dtype=np.float32)
            out[lo:hi] = _stream_normals_split(key, stream0 + lo, hi - lo, hi_a, lo_a, buf)

    return kernel


_counter_normals_serial = _make_counter_normals(False)
_counter_normals_parallel = _make_counter_normals(True)


def _key(key: int) -> np.uint64:
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= int(key) < 2**64:
        raise ValueError(f"key must be an integer in [0, 2**64), got {key!r}")
    return np.uint64(int(key))


def counter_normals(key: int, shape: tuple[int, ...] | int, stream0: int = 0) -> np.ndarray:
    """Standard normal deviates (float32) of streams ``stream0, stream0 + 1, ...`` in C order."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if int(stream0) < 0:
        raise ValueError(f"stream0 must be >= 0, got {stream0!r}")
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=np.float32)
    if out.size:
        kernel = _counter_normals_parallel if use_parallel(out.size) else _counter_normals_serial
        kernel(_key(key), np.int64(stream0), out)
    return out.reshape(shape)


# --------------------------------------------------------------------------------------------
# DAC
# --------------------------------------------------------------------------------------------


def _make_dac(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(x, step, clip, xq, xq2, bad_rows):
        n_rows, n_cols = x.shape
        for b in numba.prange(n_rows):
            n_bad = 0
            for i in range(n_cols):
                v = np.float64(x[b, i])
                finite = abs(v) < np.inf  # False for NaN and +-inf
                n_bad += np.int64(not finite)
                v = min(max(v if finite else 0.0, -clip), clip)
                if step > 0.0:
                    v = np.rint(v / step) * step
                xq[b, i] = v
                xq2[b, i] = v * v
            bad_rows[b] = n_bad > 0

    return kernel


_dac_serial = _make_dac(False)
_dac_parallel = _make_dac(True)


def dac_kernel(x: np.ndarray, step: float, clip: float, dtype=np.float32):
    """DAC of a batch ``x`` (B, n): returns ``(xq, xq2, bad_rows)``.

    In float64, each result rounded once to ``dtype``::

        xq  = step * rint(min(max(x, -clip), clip) / step)      (no rint where step == 0)
        xq2 = xq * xq

    NaN/inf inputs give 0 and ``bad_rows[b] = True`` for their row (the caller raises).
    """
    xq = np.empty(x.shape, dtype=dtype)
    xq2 = np.empty(x.shape, dtype=dtype)
    bad_rows = np.empty(x.shape[0], dtype=np.bool_)
    kernel = _dac_parallel if use_parallel(x.size) else _dac_serial
    kernel(x, float(step), float(clip), xq, xq2, bad_rows)
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


# --------------------------------------------------------------------------------------------
# output noise + TIA noise + ADC
# --------------------------------------------------------------------------------------------


_ROWS_PER_CHUNK = 8


def _make_adc(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(mean, var, has_var, noise_var, key, stream0, row_stride, step, clip, y, accumulate):
        n_rows, n_cols = mean.shape
        zero = step - step
        noisy = has_var or noise_var > zero
        n_chunks = (n_rows + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK
        for c in numba.prange(n_chunks):
            hi_a = np.empty(n_cols // 2 + 2, dtype=np.uint32)
            lo_a = np.empty(n_cols // 2 + 2, dtype=np.uint32)
            buf = np.empty(n_cols + 2, dtype=np.float32)
            for b in range(c * _ROWS_PER_CHUNK, min(n_rows, (c + 1) * _ROWS_PER_CHUNK)):
                if noisy:
                    z = _stream_normals_split(key, stream0 + b * row_stride, n_cols, hi_a, lo_a, buf)
                else:
                    z = buf[:n_cols]
                for j in range(n_cols):
                    a = mean[b, j]
                    if noisy:
                        s2 = var[b, j] + noise_var if has_var else noise_var
                        a = a + np.sqrt(s2) * z[j]
                    a = min(max(a, -clip), clip)
                    if step > zero:
                        a = np.rint(a / step) * step
                    if accumulate:
                        y[b, j] = y[b, j] + a
                    else:
                        y[b, j] = a

    return kernel


_adc_serial = _make_adc(False)
_adc_parallel = _make_adc(True)


def adc_kernel(mean, var, noise_var, key, stream0, row_stride, step, clip, y, accumulate):
    """Output noise + TIA noise + ADC of one tile into ``y`` (B, m) (written, or added to).

    All arithmetic in ``mean.dtype`` (``var`` and ``y`` must share it)::

        a        = mean[b, j] + sqrt(var[b, j] + noise_var) * z(stream0 + b * row_stride + j)
        y[b, j] (+)= step * rint(min(max(a, -clip), clip) / step)

    No deviate is drawn (and ``a = mean``) when ``var`` is None and ``noise_var == 0``;
    ``clip = inf`` and ``step = 0`` give an ideal ADC.
    """
    dtype = mean.dtype.type
    has_var = var is not None
    if var is None:
        var = mean  # placeholder of the right type, never read
    kernel = _adc_parallel if use_parallel(mean.size) else _adc_serial
    kernel(
        mean, var, has_var, dtype(noise_var), _key(key), np.int64(stream0), np.int64(row_stride),
        dtype(step), dtype(clip), y, bool(accumulate),
    )


def adc_reference(mean, var, noise_var, z, step, clip, y, accumulate):
    """numpy twin of :func:`adc_kernel` with the deviates ``z`` (B, m) given (float32)."""
    dtype = mean.dtype.type
    a = mean
    if var is not None or noise_var > 0:
        s2 = var + dtype(noise_var) if var is not None else np.full(mean.shape, dtype(noise_var))
        a = a + np.sqrt(s2) * z.astype(mean.dtype)
    a = np.minimum(np.maximum(a, -dtype(clip)), dtype(clip))
    if step > 0:
        a = np.rint(a / dtype(step)) * dtype(step)
    if accumulate:
        y += a
    else:
        y[...] = a
