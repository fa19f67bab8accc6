"""Numba pieces shared by the fused settling kernels (:mod:`.fused_settle` dense,
:mod:`.conv_settle` and :mod:`.conv_kernels` convolutional): one dense read of one sample, the
noise and ADC of a tile row, and the neuron periphery of one step.

A dense read r of sample b (batch size B) with key k, for every input tile ti and output j::

    xq      = dac(x)                      (float64, rounded once to float32, as the read model)
    mean_j  = sum_{i in ti} xq_i  w_t[i, j]          var_j = sum_{i in ti} xq_i^2 s2_t[i, j]
    a_j     = mean_j + sqrt(var_j + noise_var[ti, to]) * z((ti * B + b) * n_out + j; k)
    y_j    += adc_step * rint(clip(a_j, +-adc_clip) / adc_step)          (per tile (ti, to))

with z the counter-based normals of :mod:`hardware_models.crossbar.kernels` (layout of the
packed arrays in :mod:`.fused_settle`). The periphery of a step (layer k, float32)::

    h   = read inputs + bias + feedback (k < last) + nudge (last layer, beta != 0)
    s' = s + eps (clip(h, 0, 1) - s)          residual = max_i |s'_i - s_i|

Every sum runs in an order fixed by the code (never by the thread count), so a sample's numbers
depend only on its own inputs and its noise streams.
"""

from __future__ import annotations

import numba
import numpy as np

from hardware_models.crossbar.kernels import stream_normals

try:  # the same deviates in two vectorised passes (hash, then transform): faster on long reads
    from hardware_models.crossbar.kernels import _stream_normals_split

    @numba.njit(cache=True, inline="always")
    def normals(key, s0, m, zbuf, hi_a, lo_a):
        return _stream_normals_split(key, s0, m, hi_a, lo_a, zbuf)

except ImportError:  # pragma: no cover - older hardware_models

    @numba.njit(cache=True, inline="always")
    def normals(key, s0, m, zbuf, hi_a, lo_a):
        return stream_normals(key, s0, m, zbuf)

__all__: list[str] = []

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
#: reads with fewer outputs than this use dot products (see products)
_DOT_MAX_OUT = 32


# Hot loops index flat arrays with unsigned offsets (``_U(off + i)``): a signed index makes Numba
# test for negative (wrap-around) indices, which stops LLVM from vectorising the loop, and slicing
# views inside the loops costs reference counting.
_U = np.uint64


@numba.njit(cache=True, error_model="numpy", inline="always")
def dac(src, src_off, n, step, clip, xq, xq2):
    """xq[i] = step * rint(clip(src[src_off + i]) / step) in float64, rounded to float32 (as
    the read model's DAC); xq2 = xq^2 (float64 product rounded to float32)."""
    for i in range(n):
        v = min(max(np.float64(src[_U(src_off + i)]), -clip), clip)
        if step > 0.0:
            v = np.rint(v / step) * step
        xq[i] = np.float32(v)
        xq2[i] = np.float32(v * v)


@numba.njit(cache=True, error_model="numpy", inline="always")
def product_fields(meta, r):
    """(n_out, w_off, s2_off, e_in, n_ti) of read r: what its mean and variance products need."""
    return meta[r, 1], meta[r, 2], meta[r, 3], meta[r, 4], meta[r, 5]


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r, xq, xq2, mean, var):
    """Per input tile ti: mean[ti * n_out + j] = sum_{i in ti} xq_i W[j, i] and var likewise
    with xq^2 and the read variances.

    Reads with few outputs (< ``_DOT_MAX_OUT``) use dot products over rows of W (n_out, n_in)
    (``wd_flat``); the others add rows of W^T (n_in, n_out) for the non-zero inputs only. The
    order of the additions is fixed by the code (never by the thread count)."""
    n_in = meta[r, 0]
    n_out, w_off, s2_off, e_in, n_ti = product_fields(meta, r)
    has_var = s2_off >= 0
    for ti in range(n_ti):
        lo = edges[e_in + ti]
        n = edges[e_in + ti + 1] - lo
        o = ti * n_out
        if n_out < _DOT_MAX_OUT:
            for j in range(n_out):
                base = w_off + j * n_in + lo
                acc = _F0
                for i in range(n):
                    acc += xq[_U(lo + i)] * wd_flat[_U(base + i)]
                mean[_U(o + j)] = acc
                acc2 = _F0
                if has_var:
                    base2 = s2_off + j * n_in + lo
                    for i in range(n):
                        acc2 += xq2[_U(lo + i)] * s2d_flat[_U(base2 + i)]
                var[_U(o + j)] = acc2
        else:
            for j in range(n_out):
                mean[_U(o + j)] = _F0
                var[_U(o + j)] = _F0
            for i in range(lo, lo + n):
                v = xq[_U(i)]
                if v == _F0:
                    continue
                base = w_off + i * n_out
                for j in range(n_out):
                    mean[_U(o + j)] += v * w_flat[_U(base + j)]
                if has_var:
                    v2 = xq2[_U(i)]
                    base2 = s2_off + i * n_out
                    for j in range(n_out):
                        var[_U(o + j)] += v2 * s2_flat[_U(base2 + j)]


@numba.njit(cache=True, error_model="numpy", inline="always")
def tile_noisy(meta, tiles, r, ti):
    """Whether input tile row ti of read r draws noise (read variances, or TIA noise on a tile)."""
    noisy = meta[r, 3] >= 0
    n_to = meta[r, 7]
    t_off = meta[r, 8]
    for to in range(n_to):
        if tiles[t_off + ti * n_to + to, 2] > _F0:
            noisy = True
    return noisy


@numba.njit(cache=True, error_model="numpy", inline="always")
def adc_tiles(meta, edges, tiles, r, ti, mean, var, o, z, z_off, noisy, abuf, dst, dst_off):
    """Noise + ADC of input tile row ti of read r, every output tile:
    dst[dst_off + j] += adc(mean[o + j] + sqrt(var[o + j] + nvar) z[z_off + j]) (no noise term
    where not ``noisy``); abuf is scratch."""
    has_var = meta[r, 3] >= 0
    e_out = meta[r, 6]
    n_to = meta[r, 7]
    t_off = meta[r, 8]
    for to in range(n_to):
        row = t_off + ti * n_to + to
        step = tiles[row, 0]
        clip = tiles[row, 1]
        nvar = tiles[row, 2]
        lo = edges[e_out + to]
        hi = edges[e_out + to + 1]
        if noisy and has_var:
            for j in range(lo, hi):
                abuf[_U(j)] = mean[_U(o + j)] + np.sqrt(var[_U(o + j)] + nvar) * z[_U(z_off + j)]
        elif noisy:
            sd = np.sqrt(nvar)
            for j in range(lo, hi):
                abuf[_U(j)] = mean[_U(o + j)] + sd * z[_U(z_off + j)]
        else:
            for j in range(lo, hi):
                abuf[_U(j)] = mean[_U(o + j)]
        if step > _F0:
            for j in range(lo, hi):
                dst[_U(dst_off + j)] += np.rint(min(max(abuf[_U(j)], -clip), clip) / step) * step
        else:
            for j in range(lo, hi):
                dst[_U(dst_off + j)] += min(max(abuf[_U(j)], -clip), clip)


@numba.njit(cache=True, error_model="numpy", inline="always")
def adc(meta, edges, tiles, r, mean, var, key, b, batch, dst, dst_off, zbuf, abuf, hi_a, lo_a):
    """Noise + ADC of every tile of read r from its products (left unchanged) into
    dst[dst_off : dst_off + n_out] (overwritten); zbuf (n_out + 2), abuf (n_out) and hi_a, lo_a
    (uint32, n_out // 2 + 2) are scratch."""
    n_out = meta[r, 1]
    for j in range(n_out):
        dst[_U(dst_off + j)] = _F0
    for ti in range(meta[r, 5]):
        noisy = tile_noisy(meta, tiles, r, ti)
        z = zbuf
        if noisy:
            z = normals(key, (ti * batch + b) * n_out, n_out, zbuf, hi_a, lo_a)
        adc_tiles(meta, edges, tiles, r, ti, mean, var, ti * n_out, z, 0, noisy, abuf, dst, dst_off)


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def line_energy(xq2, g, g_off, n):
    """sum_i xq2_i g[g_off + i] in float64: the array energy units of one read [S] (a cost
    estimate: the order of the additions is left to the compiler, fixed for a given machine)."""
    e = 0.0
    for i in range(n):
        e += np.float64(xq2[i]) * g[_U(g_off + i)]
    return e


@numba.njit(cache=True, error_model="numpy", inline="always")
def read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, r,
         src, src_off, key, b, batch, dst, dst_off, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a):
    """One dense read r of src[src_off : src_off + n_in] into dst[dst_off : dst_off + n_out];
    returns sum_i xq_i^2 line_g_i [S] (for the array energy)."""
    n_in = meta[r, 0]
    dac(src, src_off, n_in, dac_step, dac_clip, xq, xq2)
    products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r, xq, xq2, mean, var)
    adc(meta, edges, tiles, r, mean, var, key, b, batch, dst, dst_off, zbuf, abuf, hi_a, lo_a)
    return line_energy(xq2, line_g, meta[r, 9], n_in)


@numba.njit(cache=True, error_model="numpy", inline="always")
def ce_error(probs, ro_bias, n_classes, label):
    """probs <- onehot(label) - softmax(probs + ro_bias) in float32: the error a ``ce`` readout
    feeds back (through its transposed read) to nudge the output layer."""
    m = -np.inf
    for c in range(n_classes):
        probs[c] = probs[c] + ro_bias[c]
        m = max(m, probs[c])
    total = _F0
    for c in range(n_classes):
        probs[c] = np.exp(probs[c] - np.float32(m))
        total += probs[c]
    for c in range(n_classes):
        probs[c] = (_F1 if c == label else _F0) - probs[c] / total


@numba.njit(cache=True, error_model="numpy", inline="always")
def counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, r, g, keys,
                 calls, src, src_off, b, batch, dst, dst_off, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a, energy):
    """:func:`read` r with the key of the next read of direction g (``keys[calls[g], g]``, then
    ``calls[g] += 1``); returns energy + its energy units."""
    energy += read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, r,
                   src, src_off, keys[calls[g], g], b, batch, dst, dst_off, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
    calls[g] += 1
    return energy


@numba.njit(cache=True, error_model="numpy")
def ce_nudge(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, ro_fwd, ro_bwd,
             g_fwd, g_bwd, keys, calls, s, last0, n_last, b, batch, label, beta32, ro_bias, probs, nudge,
             xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a, energy):
    """The ``ce`` nudge of the output layer: nudge = beta R^T (onehot(label) - softmax(R s_last +
    b_R)), R the readout, read forward (read r = ro_fwd, key direction g_fwd) then transposed
    (ro_bwd, g_bwd); returns energy + the units of both reads."""
    energy = counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, ro_fwd,
                          g_fwd, keys, calls, s, last0, b, batch, probs, 0, xq, xq2, mean, var, zbuf, abuf, hi_a,
                          lo_a, energy)
    ce_error(probs, ro_bias, probs.shape[0], label)
    energy = counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, ro_bwd,
                          g_bwd, keys, calls, probs, 0, b, batch, nudge, 0, xq, xq2, mean, var, zbuf, abuf, hi_a,
                          lo_a, energy)
    for i in range(n_last):
        nudge[i] = beta32 * nudge[i]
    return energy


@numba.njit(cache=True, error_model="numpy", inline="always")
def mse_nudge(nudge, s, last0, n_last, label, beta32):
    """nudge_i = beta (onehot(label)_i - s[last0 + i]): the squared-error nudge of the output layer."""
    for i in range(n_last):
        target = _F1 if i == label else _F0
        nudge[i] = beta32 * (target - s[last0 + i])


@numba.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf"})
def _residual(s_new, s, n):
    """max_i |s_new_i - s_i| in float32, as the float settle measures it (finite states only)."""
    res = _F0
    for i in range(n):
        res = max(res, abs(s_new[i] - s[i]))
    return res


@numba.njit(cache=True, error_model="numpy", inline="always")
def periphery(s, h, fb, nudge, bias, n_total, last0, n_last, nudged, eps, measure, res):
    """The neuron periphery of one step: h <- h + bias, + feedback (layers before the last), +
    nudge (the last layer, when ``nudged``), then h <- s + eps (clip(h, 0, 1) - s) (the new
    states; clip(h, 0, 1) for eps = 1). Returns max |h - s| (float64) when ``measure``, else res."""
    for i in range(n_total):
        h[i] = h[i] + bias[i]
    for i in range(last0):
        h[i] = h[i] + fb[i]
    if nudged:
        for i in range(n_last):
            h[_U(last0 + i)] = h[_U(last0 + i)] + nudge[i]
    for i in range(n_total):
        rho = min(max(h[i], _F0), _F1)
        if eps == _F1:
            h[i] = rho
        else:
            h[i] = s[i] + eps * (rho - s[i])
    if measure:
        return np.float64(_residual(h, s, n_total))
    return res


@numba.njit(cache=True, error_model="numpy", inline="always")
def pair(n):
    """Two float32 scratch vectors of n: a value and its square (xq, xq2), or a mean and a variance."""
    return np.empty(n, dtype=np.float32), np.empty(n, dtype=np.float32)


@numba.njit(cache=True, error_model="numpy", inline="always")
def noise_scratch(n):
    """Scratch of the noise and ADC of a read of up to n outputs: (zbuf (n + 2), abuf (n) float32,
    hi_a, lo_a (n // 2 + 2) uint32)."""
    return (np.empty(n + 2, dtype=np.float32), np.empty(n, dtype=np.float32),
            np.empty(n // 2 + 2, dtype=np.uint32), np.empty(n // 2 + 2, dtype=np.uint32))


@numba.njit(cache=True, error_model="numpy", inline="always")
def sample_start(states, b, n_total, n_last, n_classes, n_reads):
    """One sample's state vectors: (s = states[b], h, fb = 0, nudge = 0, probs, calls = 0 (int64, R))."""
    s = np.empty(n_total, dtype=np.float32)
    for i in range(n_total):
        s[i] = states[b, i]
    return (s, np.empty(n_total, dtype=np.float32), np.zeros(n_total, dtype=np.float32),
            np.zeros(max(n_last, n_classes), dtype=np.float32), np.empty(n_classes, dtype=np.float32),
            np.zeros(n_reads, dtype=np.int64))


@numba.njit(cache=True, error_model="numpy", inline="always")
def store_sample(b, s, n_total, scores, ro_bias, last0, ce, done, res, energy, calls,
                 out_states, logits, steps, residuals, energy_units, read_counts):
    """Row b of the kernel's outputs: final states, class scores (``ce``: the readout's read in
    ``scores`` plus its bias; mse: the output layer), steps, residual, energy, read counts."""
    for i in range(n_total):
        out_states[b, i] = s[i]
    for c in range(logits.shape[1]):
        logits[b, c] = scores[c] + ro_bias[c] if ce else s[last0 + c]
    steps[b] = done
    residuals[b] = res
    energy_units[b] = energy
    for r in range(calls.shape[0]):
        read_counts[b, r] = calls[r]


def settle_outputs(batch: int, n_total: int, n_classes: int, n_reads: int) -> tuple:
    """The output arrays of a settle kernel: (states (B, n_total) float32, logits (B, n_classes)
    float32, steps (B,) int64, residuals (B,) float64, energy_units (B,) float64, read_counts
    (B, R) int64)."""
    return (np.empty((batch, n_total), dtype=np.float32), np.empty((batch, n_classes), dtype=np.float32),
            np.empty(batch, dtype=np.int64), np.empty(batch, dtype=np.float64), np.empty(batch, dtype=np.float64),
            np.empty((batch, n_reads), dtype=np.int64))


def pick_kernel(serial, parallel_kernel, batch: int, parallel):
    """The parallel kernel when asked (``parallel=True``) or, for ``None``, when there are
    several samples and several Numba threads; else the serial one."""
    if parallel is None:
        parallel = batch > 1 and numba.get_num_threads() > 1
    return parallel_kernel if parallel else serial
