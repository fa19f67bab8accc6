"""Numba kernel of the output side of a crossbar read: output noise + TIA noise + ADC, and its
numpy twin (bit-identical results given the same deviates).

The deviates come from :mod:`hardware_models.crossbar.normals` (stream
``stream0 + b * row_stride + j`` for element (b, j)); the ADC arithmetic is never contracted,
so :func:`adc_reference` with ``z`` from :func:`~hardware_models.crossbar.normals.counter_normals`
matches :func:`adc_kernel` bit for bit whatever the thread count.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from .normals import _stream_normals_split, as_key, use_parallel

__all__ = ["adc_kernel", "adc_reference"]


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
    kernel(mean, var, dtype(noise_var), as_key(key), np.int64(stream0), np.int64(row_stride), dtype(step), dtype(clip),
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
