"""The counter-based normal generator of the crossbar reads (Numba, ``cache=True``).

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
counts or runs on one machine. :func:`counter_normals` returns the deviates of any range of
streams, which lets the numpy reference reproduce a read exactly. Every consumer (the Numba
reads, the fused settling kernels of ``analogeq.substrates.crossbar``, the torch reads through
:func:`counter_normals`) draws through :func:`_box_muller_pair`: it is the one place that
defines the numbers.

:func:`use_parallel` (when a kernel call takes its prange variant) and :func:`as_key` (the
check of a read's key) serve the DAC and ADC kernels as well.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..params import Integer

__all__ = ["as_key", "counter_normals", "stream_normals", "use_parallel"]


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


_KEY = Integer(minimum=0, maximum=2**64 - 1)
_STREAM0 = Integer(minimum=0)


def as_key(key: int) -> np.uint64:
    """The key of a read as the generator's uint64 (an integer in [0, 2**64))."""
    return np.uint64(_KEY("key", key))


def counter_normals(key: int, shape: tuple[int, ...] | int, stream0: int = 0) -> np.ndarray:
    """Standard normal deviates (float32) of streams ``stream0, stream0 + 1, ...`` in C order."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    stream0 = _STREAM0("stream0", stream0)
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=np.float32)
    if out.size:
        kernel = _counter_normals_parallel if use_parallel(out.size) else _counter_normals_serial
        kernel(as_key(key), np.int64(stream0), out)
    return out.reshape(shape)
