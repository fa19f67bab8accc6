"""Numba: the whole settling of a group of samples of a convolutional layered EBM on crossbars.

:func:`settle_group` runs every step of a phase for samples g0 : g1 of a chunk, in lock-step
(the samples still settling step together; a sample that meets its stopping rule is stored and
leaves the group). One step, for each sample b (what :meth:`analogeq.ebm.layered.LayeredEBM.step`
does through the torch reads, :mod:`.reads`):

* conv synapse k >= 1: the forward read of W_k on the unfolded s_{k-1}, in blocks of samples
  (:func:`.conv_reads.forward_block`: one BLAS product per tile and block), pooled into the
  input current of layer k; then, per sample, the backward read on the unpooled s_k folded
  onto layer k-1 (its feedback). The input read (k = 0) keeps its products from the first step
  (only its noise and ADC change);
* dense synapses and the ``ce`` readout: :func:`.read_kernels.read` per sample;
* the periphery (biases, feedback, nudging, hard sigmoid, damped update) and the per-sample
  stopping rule max |s^{t+1} - s^t| <= tol (tol = 0: the whole budget).

Memory: the patch block of a layer holds at most ``blocks[k]`` samples (set by the caller so
that a block stays a few MiB); the per-sample arrays are the states, the pooling argmax and the
input read's products.
"""

from __future__ import annotations

import numba
import numpy as np

from analogeq.substrates.crossbar.conv_pack import BWD, BWD_G, FWD, FWD_G, KIND, N_PRE, POST_OFF, PRE_OFF
from analogeq.substrates.crossbar.conv_reads import conv_backward, forward_block, input_products, input_read
from analogeq.substrates.crossbar.read_kernels import (
    adc, ce_nudge, counted_read, dac, line_energy, mse_nudge, noise_scratch, pair, periphery, products, read,
    store_sample,
)

__all__ = ["settle_group"]


@numba.njit(cache=True, error_model="numpy")
def _finish(i, s, probs, ro_fwd, ro_fwd_g, ro_bias, last0, ce, done, res, energy, calls, keys, bg, batch,
            dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, xq, xq2, dmean, dvar, zbuf, abuf, hi_a, lo_a,
            out_states, logits, steps, residuals, energy_units, read_counts):
    """Store sample i of the chunk from its final states s (the ``ce`` readout's read first)."""
    if ce:
        energy = counted_read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, ro_fwd, ro_fwd_g, keys,
                              calls, s, last0, bg, batch, probs, 0, xq, xq2, dmean, dvar, zbuf, abuf, hi_a, lo_a,
                              energy)
    store_sample(i, s, s.shape[0], probs, ro_bias, last0, ce, done, res, energy, calls,
                 out_states, logits, steps, residuals, energy_units, read_counts)


@numba.njit(cache=True, error_model="numpy")
def settle_group(g0, g1, cm, cw, cs2, ced, ctl, cg, dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip,
                 layers, pmap, gsum, layer_off, bias, ro_fwd, ro_bwd, ro_fwd_g, ro_bwd_g, ro_bias, sizes, blocks,
                 x, states, labels, beta, eps, max_steps, tol, keys, b0, batch,
                 out_states, logits, steps, residuals, energy_units, read_counts):
    """Settle samples g0 : g1 of the chunk (rows of x, states, labels and of the outputs); sample
    i's noise is that of sample b0 + i of a batch of ``batch``. Arguments as
    :func:`.conv_settle.settle_conv_kernel` passes them; sizes: :func:`.conv_settle.buffer_sizes`."""
    n = g1 - g0
    n_syn = layers.shape[0]
    n_total = layer_off[n_syn]
    n_classes = logits.shape[1]
    ce = ro_fwd >= 0
    beta32 = np.float32(beta)
    eps32 = np.float32(eps)
    last0 = layer_off[n_syn - 1]
    n_last = n_total - last0
    lay0 = layers[0]
    # per sample
    s = np.empty((n, n_total), dtype=np.float32)
    for b in range(n):
        for u in range(n_total):
            s[b, u] = states[g0 + b, u]
    h = np.empty((n, n_total), dtype=np.float32)
    fb = np.zeros((n, n_total), dtype=np.float32)
    nudge = np.zeros((n, max(n_last, n_classes)), dtype=np.float32)
    probs = np.zeros((n, n_classes), dtype=np.float32)
    calls = np.zeros((n, keys.shape[1]), dtype=np.int64)
    energy = np.zeros(n)
    e_x = np.zeros(n)
    res = np.full(n, np.inf)
    argidx = np.empty((n, sizes[4]), dtype=np.int64)
    mean0 = np.empty((n, sizes[8]), dtype=np.float32)
    var0 = np.empty((n, sizes[8]), dtype=np.float32)
    # scratch
    xq, xq2 = pair(sizes[0])
    buf = np.empty(sizes[0], dtype=np.float32)
    patches, patches2 = pair(sizes[1])
    mean, var = pair(sizes[2])
    rows = np.empty(sizes[3], dtype=np.float32)
    sq, sq2 = pair(sizes[4])
    cidx = np.empty(sizes[4], dtype=np.int64)
    cval, cval2 = pair(sizes[4])
    start = np.empty(sizes[5] + 1, dtype=np.int64)
    zbuf, abuf, hi_a, lo_a = noise_scratch(sizes[6])
    dmean, dvar = pair(sizes[7])
    act = np.arange(n)
    n_act = n
    xs = x[g0:g1]
    # the clamped input: the mean and variance of its read are the same at every step
    if lay0[KIND] == 0:
        for a0 in range(0, n, blocks[0]):
            input_products(cm, cw, cs2, ced, dac_step, dac_clip, lay0, pmap, gsum, xs, act, a0,
                           min(n, a0 + blocks[0]), e_x, xq, xq2, patches, patches2, mean, var, mean0, var0)
    else:
        r0 = lay0[FWD]
        for b in range(n):
            dac(xs[b], 0, lay0[N_PRE], dac_step, dac_clip, xq, xq2)
            products(dm, dw, ds2, dwd, ds2d, ded, r0, xq, xq2, mean0[b], var0[b])
            e_x[b] = line_energy(xq2, dg, dm[r0, 9], lay0[N_PRE])
    for t in range(max_steps):
        for k in range(n_syn):
            lay = layers[k]
            gf, gb = lay[FWD_G], lay[BWD_G]
            if lay[KIND] == 0 and k > 0:
                for a0 in range(0, n_act, blocks[k]):
                    forward_block(cm, cw, cs2, ced, ctl, dac_step, dac_clip, lay, pmap, gsum, keys, gf, calls, s, act,
                                  a0, min(n_act, a0 + blocks[k]), b0 + g0, batch, energy, xq, xq2, patches, patches2,
                                  mean, var, rows, zbuf, abuf, hi_a, lo_a, h, argidx)
            for a in range(n_act):
                b = act[a]
                bg = b0 + g0 + b
                if k == 0:
                    key = keys[calls[b, gf], gf]
                    calls[b, gf] += 1
                    if lay[KIND] == 0:
                        input_read(cm, ced, ctl, lay, key, bg, batch, mean0[b], var0[b], rows, zbuf, abuf, hi_a, lo_a,
                                   h[b], argidx[b])
                    else:
                        adc(dm, ded, dtl, lay[FWD], mean0[b], var0[b], key, bg, batch, h[b], 0, zbuf, abuf, hi_a, lo_a)
                    energy[b] += e_x[b]
                    continue
                if lay[KIND] == 1:
                    key = keys[calls[b, gf], gf]
                    calls[b, gf] += 1
                    energy[b] += read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, lay[FWD], s[b],
                                      lay[PRE_OFF], key, bg, batch, h[b], lay[POST_OFF], xq, xq2, dmean, dvar, zbuf,
                                      abuf, hi_a, lo_a)
                key = keys[calls[b, gb], gb]
                calls[b, gb] += 1
                if lay[KIND] == 0:
                    energy[b] += conv_backward(cm, cw, cs2, ced, ctl, cg, dac_step, dac_clip, lay, pmap, key, bg, batch,
                                               s[b], sq, sq2, argidx[b], start, cidx, cval, cval2, mean, var, rows,
                                               zbuf, abuf, hi_a, lo_a, buf, fb[b])
                else:
                    energy[b] += read(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, lay[BWD], s[b],
                                      lay[POST_OFF], key, bg, batch, fb[b], lay[PRE_OFF], xq, xq2, dmean, dvar, zbuf,
                                      abuf, hi_a, lo_a)
        last = t == max_steps - 1
        kept = 0
        for a in range(n_act):
            b = act[a]
            bg = b0 + g0 + b
            # nudging of the output layer, from the current states
            if beta != 0.0 and ce:
                energy[b] = ce_nudge(dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, ro_fwd, ro_bwd,
                                     ro_fwd_g, ro_bwd_g, keys, calls[b], s[b], last0, n_last, bg, batch,
                                     labels[g0 + b], beta32, ro_bias, probs[b], nudge[b], xq, xq2, dmean, dvar, zbuf,
                                     abuf, hi_a, lo_a, energy[b])
            elif beta != 0.0:
                mse_nudge(nudge[b], s[b], last0, n_last, labels[g0 + b], beta32)
            # periphery: biases, feedback, nudging, hard sigmoid, damped update (into h)
            res[b] = periphery(s[b], h[b], fb[b], nudge[b], bias, n_total, last0, n_last, beta != 0.0, eps32,
                               tol > 0.0 or last, res[b])
            if last or (tol > 0.0 and res[b] <= tol):
                _finish(g0 + b, h[b], probs[b], ro_fwd, ro_fwd_g, ro_bias, last0, ce, t + 1, res[b], energy[b],
                        calls[b], keys, bg, batch, dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, xq, xq2,
                        dmean, dvar, zbuf, abuf, hi_a, lo_a, out_states, logits, steps, residuals, energy_units,
                        read_counts)
            else:
                act[kept] = b
                kept += 1
        n_act = kept
        s, h = h, s
        if n_act == 0:
            break
    if max_steps <= 0:  # no step: the readout of the given states
        for b in range(n):
            _finish(g0 + b, s[b], probs[b], ro_fwd, ro_fwd_g, ro_bias, last0, ce, 0, res[b], energy[b], calls[b],
                    keys, b0 + g0 + b, batch, dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, xq, xq2,
                    dmean, dvar, zbuf, abuf, hi_a, lo_a, out_states, logits, steps, residuals, energy_units,
                    read_counts)
