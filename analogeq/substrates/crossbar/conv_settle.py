"""Numba kernel: the whole settling of a convolutional layered EBM on emulated crossbars.

The conv twin of :mod:`.fused_settle`: one call of :func:`settle_conv_kernel` runs every step
of a phase for a batch, each sample on its own (``prange`` over samples), with no Python
between steps. Per step and sample, what :meth:`analogeq.ebm.layered.LayeredEBM.step` does
through the torch reads (:mod:`.reads`):

* conv synapse k: the forward read of W_k on the L unfolded patches of s_{k-1} (the input read
  of k = 0 keeps its mean and variance from the first step: only its noise and ADC change),
  max-pool with argmax (or average pool) -> the input current of layer k; for k >= 1 the
  backward read of the same array on the unpooled s_k (max: at the argmax positions of this
  step's forward read; average: s_k / q^2 over each window), folded onto layer k-1 -> its
  feedback (:mod:`.conv_kernels`);
* dense synapse (after the convolutions) and the ``ce`` readout: the dense kernel's read;
* the periphery: biases (per channel), feedback, nudging, hard sigmoid, damped update, and the
  per-sample stopping rule max |s^{t+1} - s^t| <= tol (tol = 0: the whole budget).

Noise: the n-th read of matrix direction r by a sample uses ``keys[n, r]`` and, row p of sample
b, the streams of row b L + p of a (B L)-row read (:mod:`.conv_kernels`), as the torch reads
path does on the whole batch at once: the same numbers with the same keys, up to the float32
summation order of the products (and where that moves a value across an ADC step).

Memory: the working buffers are one sample's (patches L x C k^2 of one layer at a time, its
products, its read output), allocated per sample inside the parallel loop; nothing of size
(B, L, C k^2) exists. Thread invariance: a sample's numbers depend only on its inputs, its
index b and the keys.
"""

from __future__ import annotations

import numba
import numpy as np

from analogeq.substrates.crossbar.conv_kernels import (
    adc_rows, avg_pool, avg_unpool_rows, channel_energy, conv_products, dac_padded, fold, im2col, max_pool, row_energy,
    sparse_products, unpool_rows,
)
from analogeq.substrates.crossbar.conv_pack import (
    BWD, BWD_G, C_IN, C_OUT, FWD, FWD_G, GSUM_OFF, H_P, KIND, K_PATCH, L_POS, N_PRE, N_POST, PMAP_OFF, POOL,
    POOL_AVG, POST_OFF, PRE_OFF, W_C, W_P,
)
from analogeq.substrates.crossbar.read_kernels import (
    adc, ce_nudge, counted_read, dac, line_energy, mse_nudge, noise_scratch, pair, periphery, pick_kernel, products,
    read, sample_start, settle_outputs, store_sample,
)

__all__ = ["settle_conv_kernel"]

@numba.njit(cache=True, error_model="numpy")
def _conv_forward(cm, cw, cs2, ced, ctl, dac_step, dac_clip, lay, pmap, gsum, r, src, src_off, key, b, batch,
                  xq, xq2, patches, patches2, mean, var, y, zbuf, abuf, hi_a, lo_a, dst, argidx, cached):
    """Forward read of conv synapse ``lay`` (a row of ``layers``) on src[src_off:], max- or
    average-pooled into dst[post_off:]; ``cached``: mean/var already hold the products (the clamped input).
    Returns the energy units of the read."""
    n_pre, n_pos, n_k = lay[N_PRE], lay[L_POS], lay[K_PATCH]
    e = 0.0
    if not cached:
        dac_padded(src, src_off, n_pre, dac_step, dac_clip, xq, xq2)
        im2col(xq, xq2, pmap, lay[PMAP_OFF], n_pos, n_k, ced, cm[r, 4], cm[r, 5], patches, patches2)
        conv_products(cm, cw, cs2, ced, r, n_pos, patches, patches2, mean, var)
        e = line_energy(xq2, gsum, lay[GSUM_OFF], n_pre)
    adc_rows(cm, ced, ctl, r, mean, var, key, b * n_pos, batch * n_pos, n_pos, y, zbuf, abuf, hi_a, lo_a)
    if lay[POOL_AVG]:
        avg_pool(y, lay[C_OUT], lay[W_C], lay[POOL], lay[H_P], lay[W_P], dst, lay[POST_OFF])
    else:
        max_pool(y, lay[C_OUT], lay[W_C], lay[POOL], lay[H_P], lay[W_P], dst, lay[POST_OFF], argidx)
    return e


@numba.njit(cache=True, error_model="numpy")
def _conv_backward(cm, cw, cs2, ced, ctl, cg, dac_step, dac_clip, lay, pmap, r, s, key, b, batch,
                   sq, sq2, argidx, start, cidx, cval, cval2, mean, var, rows, zbuf, abuf, hi_a, lo_a, buf, fb):
    """Backward read of conv synapse ``lay`` on the unpooled post layer s[post_off:], folded
    into fb[pre_off:]. Returns the energy units of the read."""
    n_ch, n_pos, n_k, n_post = lay[C_OUT], lay[L_POS], lay[K_PATCH], lay[N_POST]
    n_unit = n_post // n_ch
    avg = lay[POOL_AVG] != 0
    if avg:  # the unpooled value s / q^2 is what the DAC converts
        qq = np.float32(lay[POOL] * lay[POOL])
        for u in range(n_post):
            sq[u] = np.float32(s[lay[POST_OFF] + u]) / qq
        dac(sq, 0, n_post, dac_step, dac_clip, sq, sq2)
        avg_unpool_rows(sq, sq2, n_ch, lay[POOL], lay[H_P], lay[W_P], lay[W_C], n_pos, start, cidx, cval, cval2)
    else:
        dac(s, lay[POST_OFF], n_post, dac_step, dac_clip, sq, sq2)
        unpool_rows(sq, sq2, argidx, n_ch, n_unit, n_pos, start, cidx, cval, cval2)
    sparse_products(cm, cw, cs2, ced, r, n_pos, start, cidx, cval, cval2, mean, var)
    adc_rows(cm, ced, ctl, r, mean, var, key, b * n_pos, batch * n_pos, n_pos, rows, zbuf, abuf, hi_a, lo_a)
    fold(rows, pmap, lay[PMAP_OFF], n_pos, n_k, lay[N_PRE], buf, fb, lay[PRE_OFF])
    if avg:
        return row_energy(start, cidx, cval2, n_pos, cg, cm[r, 9])
    return channel_energy(sq2, cg, cm[r, 9], n_ch, n_unit)


def _make_settle(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(cm, cw, cs2, ced, ctl, cg, dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip,
               layers, pmap, gsum, layer_off, bias, ro_fwd, ro_bwd, ro_fwd_g, ro_bwd_g, ro_bias, sizes,
               x, states, labels, beta, eps, max_steps, tol, keys, b0, batch,
               out_states, logits, steps, residuals, energy_units, read_counts):
        n_here = x.shape[0]
        n_syn = layers.shape[0]
        n_total = layer_off[n_syn]
        n_reads = keys.shape[1]
        n_classes = logits.shape[1]
        ce = ro_fwd >= 0
        beta32 = np.float32(beta)
        eps32 = np.float32(eps)
        last0 = layer_off[n_syn - 1]
        n_last = n_total - last0
        lay0 = layers[0]
        conv0 = lay0[KIND] == 0
        for i in numba.prange(n_here):
            bg = b0 + i  # the sample's index in the whole batch (its noise streams)
            s, h, fb, nudge, probs, calls = sample_start(states, i, n_total, n_last, n_classes, n_reads)
            xq, xq2 = pair(sizes[0])
            patches, patches2 = pair(sizes[1])
            mean, var = pair(sizes[2])
            rows = np.empty(sizes[3], dtype=np.float32)
            sq, sq2 = pair(sizes[4])
            argidx = np.empty(sizes[4], dtype=np.int64)
            cidx = np.empty(sizes[4], dtype=np.int64)
            cval, cval2 = pair(sizes[4])
            start = np.empty(sizes[5] + 1, dtype=np.int64)
            zbuf, abuf, hi_a, lo_a = noise_scratch(sizes[6])
            dmean, dvar = pair(sizes[7])
            mean0, var0 = pair(sizes[8])
            buf = np.empty(sizes[0], dtype=np.float32)
            energy = 0.0
            # the clamped input: the mean and variance of its read are the same at every step
            r0 = lay0[FWD]
            if conv0:
                dac_padded(x[i], 0, lay0[N_PRE], dac_step, dac_clip, xq, xq2)
                im2col(xq, xq2, pmap, lay0[PMAP_OFF], lay0[L_POS], lay0[K_PATCH], ced, cm[r0, 4], cm[r0, 5],
                       patches, patches2)
                conv_products(cm, cw, cs2, ced, r0, lay0[L_POS], patches, patches2, mean0, var0)
                e_x = line_energy(xq2, gsum, lay0[GSUM_OFF], lay0[N_PRE])
            else:
                dac(x[i], 0, lay0[N_PRE], dac_step, dac_clip, xq, xq2)
                products(dm, dw, ds2, dwd, ds2d, ded, r0, xq, xq2, mean0, var0)
                e_x = line_energy(xq2, dg, dm[r0, 9], lay0[N_PRE])
            done = 0
            res = np.inf
            for t in range(max_steps):
                for k in range(n_syn):
                    lay = layers[k]
                    rf, rb, gf, gb = lay[FWD], lay[BWD], lay[FWD_G], lay[BWD_G]
                    key = keys[calls[gf], gf]
                    calls[gf] += 1
                    if lay[KIND] == 0:
                        if k == 0:
                            _conv_forward(cm, cw, cs2, ced, ctl, dac_step, dac_clip, lay, pmap, gsum, rf, s, 0, key,
                                          bg, batch, xq, xq2, patches, patches2, mean0, var0, rows, zbuf, abuf,
                                          hi_a, lo_a, h, argidx, True)
                            energy += e_x
                            continue
                        energy += _conv_forward(cm, cw, cs2, ced, ctl, dac_step, dac_clip, lay, pmap, gsum, rf, s,
                                                lay[PRE_OFF], key, bg, batch, xq, xq2, patches, patches2, mean, var,
                                                rows, zbuf, abuf, hi_a, lo_a, h, argidx, False)
                        key = keys[calls[gb], gb]
                        calls[gb] += 1
                        energy += _conv_backward(cm, cw, cs2, ced, ctl, cg, dac_step, dac_clip, lay, pmap, rb, s, key,
                                                 bg, batch, sq, sq2, argidx, start, cidx, cval, cval2, mean, var, rows,
                                                 zbuf, abuf, hi_a, lo_a, buf, fb)
                    else:
                        if k == 0:
                            adc(dm, ded, dtl, rf, mean0, var0, key, bg, batch, h, 0, zbuf, abuf, hi_a, lo_a)
                            energy += e_x
                            continue
                        energy += read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, rf, s, lay[PRE_OFF],
                                       key, bg, batch, h, lay[POST_OFF], xq, xq2, dmean, dvar, zbuf, abuf, hi_a, lo_a)
                        key = keys[calls[gb], gb]
                        calls[gb] += 1
                        energy += read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, rb, s, lay[POST_OFF],
                                       key, bg, batch, fb, lay[PRE_OFF], xq, xq2, dmean, dvar, zbuf, abuf, hi_a, lo_a)
                # nudging of the output layer, from the current states
                if beta != 0.0 and ce:
                    energy = ce_nudge(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, ro_fwd, ro_bwd,
                                      ro_fwd_g, ro_bwd_g, keys, calls, s, last0, n_last, bg, batch, labels[i], beta32,
                                      ro_bias, probs, nudge, xq, xq2, dmean, dvar, zbuf, abuf, hi_a, lo_a, energy)
                elif beta != 0.0:
                    mse_nudge(nudge, s, last0, n_last, labels[i], beta32)
                # periphery: biases, feedback, nudging, hard sigmoid, damped update (into h)
                res = periphery(s, h, fb, nudge, bias, n_total, last0, n_last, beta != 0.0, eps32,
                                tol > 0.0 or t == max_steps - 1, res)
                s, h = h, s
                done = t + 1
                if tol > 0.0 and res <= tol:
                    break
            if ce:
                energy = counted_read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, ro_fwd, ro_fwd_g, keys,
                                      calls, s, last0, bg, batch, probs, 0, xq, xq2, dmean, dvar, zbuf, abuf, hi_a,
                                      lo_a, energy)
            store_sample(i, s, n_total, probs, ro_bias, last0, ce, done, res, energy, calls,
                         out_states, logits, steps, residuals, energy_units, read_counts)

    return kernel


_settle_serial = _make_settle(False)
_settle_parallel = _make_settle(True)


def buffer_sizes(packed) -> np.ndarray:
    """Per-sample scratch sizes of the kernel: [pre layer + 1, patches, products, read rows,
    post units, positions, noise deviates, dense products, input-read products]."""
    cm, dm, lays = packed.conv.meta, packed.dense.meta, packed.layers
    conv = lays[lays[:, KIND] == 0]
    pre = int(max(lays[:, N_PRE].max(), lays[:, N_POST].max(), dm[:, 0].max() if len(dm) else 1)) + 1
    patch = int((conv[:, L_POS] * conv[:, K_PATCH]).max()) if len(conv) else 1
    prods, rows = 1, 1
    for lay in conv:
        for r in (lay[FWD], lay[BWD]):
            prods = max(prods, int(cm[r, 5] * lay[L_POS] * cm[r, 1]))
            rows = max(rows, int(lay[L_POS] * cm[r, 1]))
    # post units, or the non-zero inputs of an average pool's backward rows (L C_out)
    post = int(np.where(conv[:, POOL_AVG] != 0, conv[:, L_POS] * conv[:, C_OUT], conv[:, N_POST]).max()) if len(conv) else 1
    pos = int(conv[:, L_POS].max()) if len(conv) else 1
    outs = int(max(rows, dm[:, 1].max() if len(dm) else 1))  # noise of one read of one sample
    dprod = int((dm[:, 1] * dm[:, 5]).max()) if len(dm) else 1
    r0 = lays[0, FWD]
    first = (cm if lays[0, KIND] == 0 else dm)[r0]
    in_prod = int(first[5] * first[1] * (lays[0, L_POS] if lays[0, KIND] == 0 else 1))
    return np.array([pre, patch, prods, rows, post, pos, outs, dprod, in_prod], dtype=np.int64)


def settle_conv_kernel(packed, x, states, labels, beta, eps, max_steps, tol, keys, *, chunk: int = 64,
                       parallel=None):
    """Run the fused conv settling on a batch (in chunks of ``chunk`` samples, each chunk one
    kernel call with the batch's own noise indices); returns (states, logits, steps,
    residuals, energy_units, read_counts) as :func:`.fused_settle.settle_dense_kernel` does.
    ``packed``: a :class:`~analogeq.substrates.crossbar.conv_pack.PackedConvNetwork`; ``x``
    (B, n_in) float32; ``states`` (B, n_state) float32; ``labels`` (B,) int64; ``keys`` (rows, R)."""
    batch = x.shape[0]
    outputs = settle_outputs(batch, int(packed.layer_off[-1]), packed.n_classes, packed.n_reads)
    out_states, logits, steps, residuals, energy_units, read_counts = outputs
    kernel = pick_kernel(_settle_serial, _settle_parallel, batch, parallel)
    sizes = buffer_sizes(packed)
    c, d = packed.conv, packed.dense
    for b0 in range(0, batch, chunk):
        sl = slice(b0, min(batch, b0 + chunk))
        kernel(c.meta, c.w_flat, c.s2_flat, c.edges, c.tiles, c.line_g,
               d.meta, d.w_flat, d.s2_flat, d.wd_flat, d.s2d_flat, d.edges, d.tiles, d.line_g,
               float(c.dac_step if len(c.meta) else d.dac_step), float(c.dac_clip if len(c.meta) else d.dac_clip),
               packed.layers, packed.pmap, packed.gsum, packed.layer_off, packed.bias,
               int(packed.ro_fwd), int(packed.ro_bwd), int(packed.ro_fwd_g), int(packed.ro_bwd_g), packed.ro_bias, sizes,
               x[sl], states[sl], labels[sl], float(beta), float(eps), int(max_steps), float(tol), keys, b0, batch,
               out_states[sl], logits[sl], steps[sl], residuals[sl], energy_units[sl], read_counts[sl])
    return outputs
