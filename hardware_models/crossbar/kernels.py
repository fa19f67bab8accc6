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
evaluated in float32 with short fitted polynomials (errors at the float32 rounding level:
|z - z_exact| < 2e-7 max(1, r); ``ln u1`` is taken from ``1 - u1`` where u1 is near 1, so small
radii keep full precision; theta is split into its quadrant and an angle in [-pi/4, pi/4), see
:func:`_box_muller_pair`; the loops vectorise), u1 and theta have 32-bit resolution, so |z|
never exceeds sqrt(64 ln 2) = 6.66 (probability of exceeding it under N(0, 1): 3e-11). The
generator's polynomials may use fused multiply-adds (Numba ``fastmath={"contract"}``, only
there): its last bits may differ between CPUs with and without FMA, never between thread
counts or runs on one machine. The DAC and ADC arithmetic is never contracted, so the numpy
twins match bit for bit. :func:`counter_normals` returns the deviates of any range of
streams, which lets the numpy reference reproduce a read exactly. Every consumer (the Numba
reads, the fused settling kernels of ``analogeq.substrates.crossbar``, the torch reads through
:func:`counter_normals`) draws through :func:`_box_muller_pair`: it is the one place that
defines the numbers.
"""

from __future__ import annotations

import functools
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

_F32 = np.float32
_ONE = _F32(1.0)
_TWO = _F32(2.0)
_QUARTER = _F32(0.25)
_LN2 = _F32(math.log(2.0))
_TWO_M32 = _F32(2.0**-32)
_ANGLE_30 = _F32(math.pi / 2.0 * 2.0**-30)  # radians per unit of the low 30 bits of lo
_QUARTER_PI = _F32(math.pi / 4.0)
_MANT23 = np.int32((1 << 23) - 1)
_SQRT_HALF_BITS = np.int32(0x3F3504F3)  # float32 bits of sqrt(1/2)
_OCTAVE_SHIFT = np.int32(0x3F800000 - 0x3F3504F3)  # moves mantissas in [sqrt(1/2), 1) up one octave
_S23 = np.int32(23)
_BIAS = np.int32(127)
# Polynomials fitted (near-minimax, float64) on the ranges used; in float32 the errors are at
# the rounding level (< 7e-8 absolute for sin/cos on [-pi/4, pi/4], < 1.2e-7 relative for ln):
# ln(1 + f) = 2 atanh(t), t = f / (2 + f), |t| <= 0.1716:  atanh(t) / t = 1 + t^2 (L2 + t^2 (L4 + t^2 L6))
_L2, _L4, _L6 = _F32(0.3333338696811693), _F32(0.1998889686028762), _F32(0.14932903941820394)
# sin x = x + x^3 (S3 + x^2 (S5 + x^2 S7)),  cos x = 1 - x^2 / 2 + x^4 (C4 + x^2 (C6 + x^2 C8))
_S3, _S5, _S7 = _F32(-0.1666665484853634), _F32(0.008332172380327251), _F32(-0.0001951657691194134)
_C2 = _F32(-0.5)
_C4, _C6, _C8 = _F32(0.04166664680643892), _F32(-0.0013887365224006247), _F32(2.443823661283844e-05)

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
_BIT30_32 = np.uint32(1 << 30)
_SIGN_32 = np.uint32(0x80000000)
_ONE_32 = np.uint32(1)
_ZERO_32 = np.uint32(0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _box_muller_pair(hi, lo):
    """(z0, z1) from the two 32-bit halves of a pair's word (float32 arithmetic).

    u1 = (hi + 1) 2^-32 = 2^e m with m in [sqrt(1/2), sqrt(2)) (from the float's bits), and
    ln u1 = e ln 2 + 2 atanh((m - 1)/(m + 1)); where d = 1 - u1 = (2^32 - 1 - hi) 2^-32 < 1/4
    it is 2 atanh(-d / (2 - d)) instead, so that radii near 0 keep full precision.
    theta = 2 pi lo 2^-32 = q pi/2 + pi/4 + x with the quadrant q (top 2 bits of lo) and
    x in [-pi/4, pi/4); with c = cos x, s = sin x, r cos(pi/4 + x) = (c - s) r / sqrt(2) and
    r sin(pi/4 + x) = (c + s) r / sqrt(2), r / sqrt(2) = sqrt(-ln u1); the quadrant swaps the
    two (q odd) and sets their signs (cos < 0 for q = 1, 2; sin < 0 for q = 2, 3).
    Integer steps are cast back to 32 bits: Numba would widen them to 64 and halve the
    vector width.
    """
    u = np.float32(hi) * _TWO_M32 + _TWO_M32  # (fl32(hi) + 1) 2^-32, one rounding either way
    d = np.float32(_ALL32 - hi) * _TWO_M32
    bits = np.int32(np.float32(u).view(np.int32) + _OCTAVE_SHIFT)
    e = np.float32(np.int32(bits >> _S23) - _BIAS)
    m = np.int32(np.int32(bits & _MANT23) + _SQRT_HALF_BITS).view(np.float32)  # [sqrt(1/2), sqrt(2))
    near = d < _QUARTER
    f = -d if near else m - _ONE
    e = _ZERO if near else e
    t = f / (f + _TWO)
    t2 = t * t
    ln_u = _TWO * t * (_ONE + t2 * (_L2 + t2 * (_L4 + t2 * _L6))) + e * _LN2
    r_half = np.sqrt(-ln_u)  # r / sqrt(2)
    x = np.float32(np.int32(lo & _LOW30_32)) * _ANGLE_30 - _QUARTER_PI  # [-pi/4, pi/4)
    x2 = x * x
    sx = x + x * x2 * (_S3 + x2 * (_S5 + x2 * _S7))
    cx = _ONE + x2 * (_C2 + x2 * (_C4 + x2 * (_C6 + x2 * _C8)))
    a = (cx - sx) * r_half  # r cos(pi/4 + x)
    b = (cx + sx) * r_half  # r sin(pi/4 + x)
    odd = np.uint32(lo & _BIT30_32) != _ZERO_32
    c_abs = b if odd else a
    s_abs = a if odd else b
    c_sign = np.uint32(np.uint32(lo ^ np.uint32(lo << _ONE_32)) & _SIGN_32)  # q = 1, 2
    s_sign = np.uint32(lo & _SIGN_32)  # q = 2, 3
    z0 = np.uint32(np.float32(c_abs).view(np.uint32) ^ c_sign).view(np.float32)
    z1 = np.uint32(np.float32(s_abs).view(np.uint32) ^ s_sign).view(np.float32)
    return z0, z1


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
    """The two halves of the words of pairs p0, p0 + 1, ... (the Weyl counter key + p * gamma
    advanced by additions: the loop then needs two 64-bit multiplies per word, not three)."""
    z = key + np.uint64(p0) * _GAMMA
    for k in range(hi_a.shape[0]):
        w = _mix64(z)
        hi_a[k] = np.uint32(w >> _S32)
        lo_a[k] = np.uint32(w & _LOW32)
        z += _GAMMA


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


# --------------------------------------------------------------------------------------------
# output noise + TIA noise + ADC
# --------------------------------------------------------------------------------------------


_ROWS_PER_CHUNK = 8
_NO_NOISE, _TIA_NOISE, _READ_NOISE = 0, 1, 2
_WRITE, _IN_PLACE, _ACCUMULATE = 0, 1, 2


def _make_adc_rows(noise: int, mode: int):
    """Noise + ADC of a range of rows, specialised on the noise terms present and on where the
    result goes (``y``, over ``mean``, or added to ``y``): one loop per case vectorises (one loop
    holding the cases as branches computed every term under masks, ~20% slower, and writing
    through a second array that is ``mean`` would fail LLVM's overlap check and run scalar).
    The rows are looped here, not by the caller: a call per row cost ~0.1 us."""

    @numba.njit(cache=True, inline="always", error_model="numpy")
    def value(mean, var, noise_var, sd, z, b, j):
        if noise == _READ_NOISE:
            return mean[b, j] + np.sqrt(var[b, j] + noise_var) * z[j]
        if noise == _TIA_NOISE:
            return mean[b, j] + sd * z[j]
        return mean[b, j]

    @numba.njit(cache=True, inline="always", error_model="numpy")
    def store(mean, v, y, b, j, a):
        """The result a of element (b, j) to where ``mode`` says (a compile-time branch)."""
        if mode == _IN_PLACE:
            mean[b, j] = a
        elif mode == _ACCUMULATE:
            v[0, j] = a
        else:
            y[b, j] = a

    @numba.njit(cache=True, error_model="numpy")
    def rows(mean, var, noise_var, key, stream0, row_stride, b0, b1, step, clip, inv_step, r_max, y):
        """For rows b0 .. b1 - 1: y[b, j] (=, or += with ACCUMULATE; mean[b, j] = IN_PLACE)
        step * rint(min(max(a_j, -clip), clip) / step) (no rint where step == 0), with
        a_j = mean[b, j] + sqrt(var[b, j] + noise_var) z(stream0 + b * row_stride + j).

        Where ``r_max > 0`` the quotient is r = a_j * inv_step: the caller guarantees that it
        differs from the definition's a_j / step by less than 1/2 - r_max, so both round to the
        same integer wherever |r - rint(r)| <= r_max; a row holding an element beyond is redone
        with the division from its a_j (kept in a scratch row)."""
        n = mean.shape[1]
        sd = np.sqrt(noise_var)
        hi_a = np.empty(n // 2 + 2, dtype=np.uint32)
        lo_a = np.empty(n // 2 + 2, dtype=np.uint32)
        buf = np.empty(n + 2, dtype=np.float32)
        v = np.empty((1, n), dtype=mean.dtype)  # the row's results (ACCUMULATE)
        a_keep = np.empty(n, dtype=mean.dtype)
        zero = step - step
        fast = r_max > zero
        quantise = step > zero
        for b in range(b0, b1):
            z = buf[:n]
            if noise != _NO_NOISE:
                z = _stream_normals_split(key, stream0 + b * row_stride, n, hi_a, lo_a, buf)
            if fast:
                doubt = False
                for j in range(n):
                    a = value(mean, var, noise_var, sd, z, b, j)
                    a_keep[j] = a  # for a redo (in place, mean[b, j] is overwritten)
                    r = min(max(a, -clip), clip) * inv_step
                    q = np.rint(r)
                    doubt |= abs(r - q) > r_max
                    store(mean, v, y, b, j, q * step)
                if doubt:
                    for j in range(n):
                        store(mean, v, y, b, j, np.rint(min(max(a_keep[j], -clip), clip) / step) * step)
            elif quantise:
                for j in range(n):
                    a = np.rint(min(max(value(mean, var, noise_var, sd, z, b, j), -clip), clip) / step) * step
                    store(mean, v, y, b, j, a)
            else:
                for j in range(n):
                    store(mean, v, y, b, j, min(max(value(mean, var, noise_var, sd, z, b, j), -clip), clip))
            if mode == _ACCUMULATE:
                for j in range(n):
                    y[b, j] = y[b, j] + v[0, j]

    return rows


_adc_rows = {(noise, mode): _make_adc_rows(noise, mode)
             for mode in (_WRITE, _IN_PLACE, _ACCUMULATE) for noise in (_NO_NOISE, _TIA_NOISE, _READ_NOISE)}


def _make_adc(parallel: bool, noise: int, mode: int):
    rows = _adc_rows[noise, mode]

    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(mean, var, noise_var, key, stream0, row_stride, step, clip, inv_step, r_max, y):
        # rows are split into chunks for the threads (each with its scratch); one chunk when serial
        n_rows = mean.shape[0]
        rows_per_chunk = _ROWS_PER_CHUNK if parallel else max(n_rows, 1)
        n_chunks = (n_rows + rows_per_chunk - 1) // rows_per_chunk
        for c in numba.prange(n_chunks):
            rows(mean, var, noise_var, key, stream0, row_stride, c * rows_per_chunk,
                 min(n_rows, (c + 1) * rows_per_chunk), step, clip, inv_step, r_max, y)

    return kernel


#: _adc_kernels[parallel, noise, mode]
_adc_kernels = {(parallel, noise, mode): _make_adc(parallel, noise, mode)
                for parallel in (False, True) for noise in (_NO_NOISE, _TIA_NOISE, _READ_NOISE)
                for mode in (_WRITE, _IN_PLACE, _ACCUMULATE)}


def adc_kernel(mean, var, noise_var, key, stream0, row_stride, step, clip, y, accumulate):
    """Output noise + TIA noise + ADC of one tile into ``y`` (B, m) (written, or added to).

    All arithmetic in ``mean.dtype`` (``var`` and ``y`` must share it)::

        a        = mean[b, j] + sqrt(var[b, j] + noise_var) * z(stream0 + b * row_stride + j)
        y[b, j] (+)= step * rint(min(max(a, -clip), clip) / step)

    No deviate is drawn (and ``a = mean``) when ``var`` is None and ``noise_var == 0``;
    ``clip = inf`` and ``step = 0`` give an ideal ADC. ``y`` may be ``mean`` itself (written in
    place, without ``accumulate``): a read then needs no separate output buffer.
    Where ``clip / step <= 2**14`` (float32; ``2**43`` in float64) the quotient is taken as
    ``a * (1 / step)``, and a row holding an element whose rounding could then differ is redone
    with the division (see :func:`_adc_fast_constants`): the results are the definition's, bit
    for bit, either way.
    """
    dtype = mean.dtype.type
    in_place = y is mean
    if in_place and accumulate:
        raise ValueError("adc_kernel: y is mean: in-place output cannot accumulate")
    if var is not None:
        noise = _READ_NOISE
    else:
        noise = _TIA_NOISE if dtype(noise_var) > 0 else _NO_NOISE
    if var is None:
        var = mean  # placeholder of the right type, never read
    mode = _IN_PLACE if in_place else (_ACCUMULATE if accumulate else _WRITE)
    kernel = _adc_kernels[use_parallel(mean.size), noise, mode]
    inv_step, r_max = _adc_fast_constants(float(step), float(clip), dtype)
    kernel(mean, var, dtype(noise_var), _key(key), np.int64(stream0), np.int64(row_stride), dtype(step), dtype(clip),
           inv_step, r_max, y)


@functools.lru_cache(maxsize=256)
def _adc_fast_constants(step: float, clip: float, dtype):
    """(fl(1 / step), r_max) of the ADC's multiply path in ``dtype``, r_max = 0 where it does not
    apply. With L = clip / step, r = fl(a * fl(1 / step)) and the definition's fl(a / step)
    differ by less than L 2^-22 (float32; L 2^-51 in float64) for |a| <= clip: where
    |r - rint(r)| <= r_max = 1/2 - that bound (rounded down) both round to the same integer."""
    step_, clip_ = dtype(step), dtype(clip)
    if not (step_ > 0 and np.isfinite(clip_)):
        return dtype(0.0), dtype(0.0)
    levels = float(clip_) / float(step_)
    bound = levels * (2.0**-22 if dtype == np.float32 else 2.0**-51)
    if not bound <= 2.0**-8:  # beyond ~2^14 levels (float32) most rows would be redone
        return dtype(0.0), dtype(0.0)
    return dtype(1.0) / step_, np.nextafter(dtype(0.5 - bound), dtype(0.0))


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
