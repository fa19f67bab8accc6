"""Numba kernel: the whole settling of a dense layered EBM on emulated crossbars, in one call.

One call of :func:`settle_dense_kernel` runs every step of a phase (free or nudged) for a batch:
for every sample, every step, every matrix read (forward W and feedback W^T of each synapse, the
readout of a ``ce`` network) it does what :class:`hardware_models.crossbar.LinearReadModel`
specifies for one read (DAC, per-tile mean and variance products, output noise, TIA noise,
ADC, digital accumulation over input tiles), then the neuron periphery (biases, nudging, the
hard sigmoid and the damped update). No Python runs between steps.

Read r of sample b (batch size B) with key k, for every input tile ti and output j::

    xq      = dac(x)                      (float64, rounded once to float32, as the read model)
    mean_j  = sum_{i in ti} xq_i  w_t[i, j]          var_j = sum_{i in ti} xq_i^2 s2_t[i, j]
    a_j     = mean_j + sqrt(var_j + noise_var[ti, to]) * z((ti * B + b) * n_out + j; k)
    y_j    += adc_step * rint(clip(a_j, +-adc_clip) / adc_step)          (per tile (ti, to))

with z the counter-based normals of :mod:`hardware_models.crossbar.kernels` (its
``stream_normals``, in its two-pass form), so a read here gives the numbers of ``LinearReadModel.read(x, key=k)``
up to the summation order of the products (float32). The key of the n-th read of matrix
direction r by a sample in one call is ``keys[n, r]``: the same rule in the torch emulation
(:mod:`analogeq.substrates.crossbar.reads`) gives the same numbers.

The read of the first synapse on the clamped input x has the same mean and variance at every
step (only its noise and ADC differ), so they are computed once per sample; nothing else is
cached. Zero inputs (pixels at 0, saturated neurons) are skipped in the products: they add
nothing to either sum.

Thread invariance: the batch is split over threads by sample (``prange``); a sample's numbers
depend only on its own inputs and on its stream indices, never on which thread runs it.
Convergence is checked per sample: a sample stops when max |s^{t+1} - s^t| <= ``tol``
(``tol = 0`` runs the whole budget).

Packed layout (built by :func:`analogeq.substrates.crossbar.programmed.pack_dense_network`)
---------------------------------------------------------------------------
``meta`` (R, 10) int64 per read: n_in, n_out, w_off, s2_off (-1: no read noise), edge_in_off,
n_ti, edge_out_off, n_to, tile_off, line_off. ``w_flat``/``s2_flat`` float32 hold each read's
matrix transposed, (n_in, n_out) C order. ``edges`` int64; ``tiles`` (n, 3) float32: ADC step,
ADC clip, TIA noise variance per tile; ``line_g`` float64: conductance on each driven line
(G+ + G- summed along it) [S], for the energy.
"""

from __future__ import annotations

import numba
import numpy as np

from hardware_models.crossbar.kernels import stream_normals

try:  # the same deviates in two vectorised passes (hash, then transform): faster on long reads
    from hardware_models.crossbar.kernels import _stream_normals_split

    @numba.njit(cache=True, inline="always")
    def _normals(key, s0, m, zbuf, hi_a, lo_a):
        return _stream_normals_split(key, s0, m, hi_a, lo_a, zbuf)

except ImportError:  # pragma: no cover - older hardware_models

    @numba.njit(cache=True, inline="always")
    def _normals(key, s0, m, zbuf, hi_a, lo_a):
        return stream_normals(key, s0, m, zbuf)

__all__ = ["settle_dense_kernel"]

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
#: reads with fewer outputs than this use dot products (see _products)
_DOT_MAX_OUT = 32


# Hot loops index flat arrays with unsigned offsets (``_U(off + i)``): a signed index makes Numba
# test for negative (wrap-around) indices, which stops LLVM from vectorising the loop, and slicing
# views inside the loops costs reference counting.
_U = np.uint64


@numba.njit(cache=True, error_model="numpy", inline="always")
def _dac(src, src_off, n, step, clip, xq, xq2):
    """xq[i] = step * rint(clip(src[src_off + i]) / step) in float64, rounded to float32 (as
    the read model's DAC); xq2 = xq^2 (float64 product rounded to float32)."""
    for i in range(n):
        v = min(max(np.float64(src[_U(src_off + i)]), -clip), clip)
        if step > 0.0:
            v = np.rint(v / step) * step
        xq[i] = np.float32(v)
        xq2[i] = np.float32(v * v)


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r, xq, xq2, mean, var):
    """Per input tile ti: mean[ti * n_out + j] = sum_{i in ti} xq_i W[j, i] and var likewise
    with xq^2 and the read variances.

    Reads with few outputs (< ``_DOT_MAX_OUT``) use dot products over rows of W (n_out, n_in)
    (``wd_flat``); the others add rows of W^T (n_in, n_out) for the non-zero inputs only. The
    order of the additions is fixed by the code (never by the thread count)."""
    n_in = meta[r, 0]
    n_out = meta[r, 1]
    w_off = meta[r, 2]
    s2_off = meta[r, 3]
    e_in = meta[r, 4]
    n_ti = meta[r, 5]
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
def _adc(meta, edges, tiles, r, mean, var, key, b, batch, dst, dst_off, zbuf, abuf, hi_a, lo_a):
    """Noise + ADC of every tile of read r from its products (left unchanged) into
    dst[dst_off : dst_off + n_out] (overwritten); zbuf (n_out + 2), abuf (n_out) and hi_a, lo_a
    (uint32, n_out // 2 + 2) are scratch."""
    n_out = meta[r, 1]
    has_var = meta[r, 3] >= 0
    n_ti = meta[r, 5]
    e_out = meta[r, 6]
    n_to = meta[r, 7]
    t_off = meta[r, 8]
    for j in range(n_out):
        dst[_U(dst_off + j)] = _F0
    for ti in range(n_ti):
        o = ti * n_out
        noisy = has_var
        for to in range(n_to):
            if tiles[t_off + ti * n_to + to, 2] > _F0:
                noisy = True
        z = zbuf
        if noisy:
            z = _normals(key, (ti * batch + b) * n_out, n_out, zbuf, hi_a, lo_a)
        for to in range(n_to):
            row = t_off + ti * n_to + to
            step = tiles[row, 0]
            clip = tiles[row, 1]
            nvar = tiles[row, 2]
            lo = edges[e_out + to]
            hi = edges[e_out + to + 1]
            if noisy and has_var:
                for j in range(lo, hi):
                    abuf[_U(j)] = mean[_U(o + j)] + np.sqrt(var[_U(o + j)] + nvar) * z[_U(j)]
            elif noisy:
                sd = np.sqrt(nvar)
                for j in range(lo, hi):
                    abuf[_U(j)] = mean[_U(o + j)] + sd * z[_U(j)]
            else:
                for j in range(lo, hi):
                    abuf[_U(j)] = mean[_U(o + j)]
            if step > _F0:
                for j in range(lo, hi):
                    dst[_U(dst_off + j)] += np.rint(min(max(abuf[_U(j)], -clip), clip) / step) * step
            else:
                for j in range(lo, hi):
                    dst[_U(dst_off + j)] += min(max(abuf[_U(j)], -clip), clip)


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _line_energy(xq2, g, g_off, n):
    """sum_i xq2_i g[g_off + i]: the array energy units of one read [S] (a cost estimate: the
    order of the additions is left to the compiler, fixed for a given machine)."""
    e = 0.0
    for i in range(n):
        e += np.float64(xq2[i]) * g[_U(g_off + i)]
    return e


@numba.njit(cache=True, error_model="numpy", inline="always")
def _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip, r,
          src, src_off, key, b, batch, dst, dst_off, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a):
    """One read r of src[src_off : src_off + n_in] into dst[dst_off : dst_off + n_out];
    returns sum_i xq_i^2 line_g_i [S] (for the array energy)."""
    n_in = meta[r, 0]
    _dac(src, src_off, n_in, dac_step, dac_clip, xq, xq2)
    _products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r, xq, xq2, mean, var)
    _adc(meta, edges, tiles, r, mean, var, key, b, batch, dst, dst_off, zbuf, abuf, hi_a, lo_a)
    return _line_energy(xq2, line_g, meta[r, 9], n_in)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _update(s, h, eps, n):
    """s <- s + eps (clip(h, 0, 1) - s) (s <- clip(h, 0, 1) for eps = 1)."""
    for i in range(n):
        rho = min(max(h[i], _F0), _F1)
        if eps == _F1:
            h[i] = rho
        else:
            h[i] = s[i] + eps * (rho - s[i])


@numba.njit(cache=True, error_model="numpy", fastmath={"nnan", "ninf"})
def _residual(s_new, s, n):
    """max_i |s_new_i - s_i| in float32, as the float settle measures it (finite states only)."""
    res = _F0
    for i in range(n):
        res = max(res, abs(s_new[i] - s[i]))
    return res


def _make_settle(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip,
               layer_off, fwd_read, bwd_read, ro_fwd, ro_bwd, bias, ro_bias,
               x, states, labels, beta, eps, max_steps, tol, keys,
               out_states, logits, steps, residuals, energy_units, read_counts):
        batch = x.shape[0]
        n_layers = fwd_read.shape[0]
        n_total = layer_off[n_layers]
        n_reads = meta.shape[0]
        n_classes = logits.shape[1]
        max_in = 1
        max_out = 1
        max_tile_out = 1
        for r in range(n_reads):
            max_in = max(max_in, meta[r, 0])
            max_out = max(max_out, meta[r, 1])
            max_tile_out = max(max_tile_out, meta[r, 5] * meta[r, 1])
        r0 = fwd_read[0]
        n_x = meta[r0, 0]
        ce = ro_fwd >= 0
        beta32 = np.float32(beta)
        eps32 = np.float32(eps)
        last0 = layer_off[n_layers - 1]
        n_last = n_total - last0
        for b in numba.prange(batch):
            s = np.empty(n_total, dtype=np.float32)
            h = np.empty(n_total, dtype=np.float32)
            fb = np.zeros(n_total, dtype=np.float32)
            nudge = np.zeros(max(n_last, n_classes), dtype=np.float32)
            xq = np.empty(max_in, dtype=np.float32)
            xq2 = np.empty(max_in, dtype=np.float32)
            mean = np.empty(max_tile_out, dtype=np.float32)
            var = np.empty(max_tile_out, dtype=np.float32)
            zbuf = np.empty(max_out + 2, dtype=np.float32)
            abuf = np.empty(max_out, dtype=np.float32)
            hi_a = np.empty(max_out // 2 + 2, dtype=np.uint32)
            lo_a = np.empty(max_out // 2 + 2, dtype=np.uint32)
            mean0 = np.empty(meta[r0, 5] * meta[r0, 1], dtype=np.float32)
            var0 = np.empty(meta[r0, 5] * meta[r0, 1], dtype=np.float32)
            probs = np.empty(n_classes, dtype=np.float32)
            calls = np.zeros(n_reads, dtype=np.int64)
            energy = 0.0
            for i in range(n_total):
                s[i] = states[b, i]
            # the clamped input: mean and variance of its read are the same at every step
            _dac(x[b], 0, n_x, dac_step, dac_clip, xq, xq2)
            _products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r0, xq, xq2, mean0, var0)
            e_x = _line_energy(xq2, line_g, meta[r0, 9], n_x)
            done = 0
            res = np.inf
            for t in range(max_steps):
                # forward reads: layer k gets syn_k(s_{k-1}) (k = 0: the cached input read)
                _adc(meta, edges, tiles, r0, mean0, var0, keys[calls[r0], r0], b, batch, h, 0, zbuf, abuf, hi_a, lo_a)
                calls[r0] += 1
                energy += e_x
                for k in range(1, n_layers):
                    r = fwd_read[k]
                    energy += _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                    dac_clip, r, s, layer_off[k - 1], keys[calls[r], r], b, batch,
                                    h, layer_off[k], xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
                    calls[r] += 1
                    # feedback read of the same array, transposed: syn_k^T(s_k) into layer k-1
                    rb = bwd_read[k]
                    energy += _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                    dac_clip, rb, s, layer_off[k], keys[calls[rb], rb], b, batch,
                                    fb, layer_off[k - 1], xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
                    calls[rb] += 1
                # nudging of the output layer, from the current states
                if beta != 0.0:
                    if ce:
                        energy += _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                        dac_clip, ro_fwd, s, last0, keys[calls[ro_fwd], ro_fwd], b, batch,
                                        probs, 0, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
                        calls[ro_fwd] += 1
                        m = -np.inf
                        for c in range(n_classes):
                            probs[c] = probs[c] + ro_bias[c]
                            m = max(m, probs[c])
                        total = _F0
                        for c in range(n_classes):
                            probs[c] = np.exp(probs[c] - np.float32(m))
                            total += probs[c]
                        for c in range(n_classes):
                            probs[c] = (_F1 if c == labels[b] else _F0) - probs[c] / total
                        energy += _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                        dac_clip, ro_bwd, probs, 0, keys[calls[ro_bwd], ro_bwd], b, batch,
                                        nudge, 0, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
                        calls[ro_bwd] += 1
                        for i in range(n_last):
                            nudge[i] = beta32 * nudge[i]
                    else:
                        for i in range(n_last):
                            target = _F1 if i == labels[b] else _F0
                            nudge[i] = beta32 * (target - s[last0 + i])
                # periphery: biases, feedback, nudging, hard sigmoid, damped update
                for i in range(n_total):
                    h[i] = h[i] + bias[i]
                for i in range(last0):
                    h[i] = h[i] + fb[i]
                if beta != 0.0:
                    for i in range(n_last):
                        h[_U(last0 + i)] = h[_U(last0 + i)] + nudge[i]
                _update(s, h, eps32, n_total)  # h now holds the new states
                if tol > 0.0 or t == max_steps - 1:
                    res = np.float64(_residual(h, s, n_total))
                s, h = h, s
                done = t + 1
                if tol > 0.0 and res <= tol:
                    break
            for i in range(n_total):
                out_states[b, i] = s[i]
            # class scores: the output layer (mse) or one read of the readout (ce)
            if ce:
                energy += _read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                dac_clip, ro_fwd, s, last0, keys[calls[ro_fwd], ro_fwd], b, batch,
                                probs, 0, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)
                calls[ro_fwd] += 1
                for c in range(n_classes):
                    logits[b, c] = probs[c] + ro_bias[c]
            else:
                for c in range(n_classes):
                    logits[b, c] = s[last0 + c]
            steps[b] = done
            residuals[b] = res
            energy_units[b] = energy
            for r in range(n_reads):
                read_counts[b, r] = calls[r]

    return kernel


_settle_serial = _make_settle(False)
_settle_parallel = _make_settle(True)


def settle_dense_kernel(packed, x, states, labels, beta, eps, max_steps, tol, keys, *, parallel=None):
    """Run the fused settling on a batch; returns (states, logits, steps, residuals, energy_units,
    read_counts). ``packed``: a :class:`~analogeq.substrates.crossbar.programmed.PackedDenseNetwork`;
    ``x`` (B, n_in) float32; ``states`` (B, n_state) float32 start; ``labels`` (B,) int64;
    ``keys`` (rows, R) uint64 with rows > the number of reads of one matrix direction."""
    batch = x.shape[0]
    n_total = int(packed.layer_off[-1])
    out_states = np.empty((batch, n_total), dtype=np.float32)
    logits = np.empty((batch, packed.n_classes), dtype=np.float32)
    steps = np.empty(batch, dtype=np.int64)
    residuals = np.empty(batch, dtype=np.float64)
    energy_units = np.empty(batch, dtype=np.float64)
    read_counts = np.empty((batch, packed.meta.shape[0]), dtype=np.int64)
    if parallel is None:
        parallel = batch > 1 and numba.get_num_threads() > 1
    kernel = _settle_parallel if parallel else _settle_serial
    kernel(
        packed.meta, packed.w_flat, packed.s2_flat, packed.wd_flat, packed.s2d_flat, packed.edges, packed.tiles, packed.line_g,
        float(packed.dac_step), float(packed.dac_clip), packed.layer_off, packed.fwd_read, packed.bwd_read,
        int(packed.ro_fwd), int(packed.ro_bwd), packed.bias, packed.ro_bias,
        x, states, labels, float(beta), float(eps), int(max_steps), float(tol), keys,
        out_states, logits, steps, residuals, energy_units, read_counts,
    )
    return out_states, logits, steps, residuals, energy_units, read_counts
