"""Numba reads of a convolutional synapse for a group of samples, for :mod:`.conv_group`.

Forward (W on the unfolded patches of the pre layer), for a block of m samples at once: each
sample's L patch rows are DAC'd and gathered (:func:`.conv_kernels.im2col`) into one tile-major
block of m L rows, so each input tile ti costs two float32 BLAS sgemm of (m L, |I_ti|) x
(|I_ti|, n_out) (the weight tile is read once per block, not once per sample)::

    mean[ti] = P[:, I_ti] @ W^T[I_ti, :]      var[ti] = (P * P)[:, I_ti] @ S2^T[I_ti, :]

then, per sample and tile, the read noise (variance product) and the tile's ADC are added into
its output rows (:func:`.conv_kernels.adc_tile_rows`, its own noise streams) and the rows are
max- or average-pooled into the post layer. A row's sums depend only on that row (BLAS sums over
the inputs in an order set by its blocking over the inputs, never by the number of rows or
threads), so a sample's numbers do not depend on the samples it is read with.

Backward (W^T on the unpooled post layer), one sample at a time: only the non-zero inputs of its
rows are added (:func:`.conv_kernels.sparse_products`), then noise, ADC and the fold onto the
pre layer.
"""

from __future__ import annotations

import numba
import numpy as np

from analogeq.substrates.crossbar.conv_kernels import (
    adc_rows, adc_tile_rows, avg_pool, avg_unpool_rows, channel_energy, dac_padded, fold, im2col, max_pool, row_energy,
    sparse_products, tile_products, unpool_rows,
)
from analogeq.substrates.crossbar.conv_pack import (
    BWD, C_OUT, FWD, GSUM_OFF, H_P, K_PATCH, L_POS, N_PRE, N_POST, PMAP_OFF, POOL, POOL_AVG, POST_OFF, PRE_OFF, W_C,
    W_P,
)
from analogeq.substrates.crossbar.read_kernels import dac, line_energy

__all__: list[str] = []

_F0 = np.float32(0.0)


@numba.njit(cache=True, error_model="numpy")
def gather_block(cm, ced, dac_step, dac_clip, lay, pmap, gsum, src, src_off, act, a0, a1, energy,
                 xq, xq2, patches, patches2):
    """DAC and im2col of samples act[a0:a1] (pre layer: src[b, src_off:]) into one tile-major
    block of (a1 - a0) L rows; energy[b] += the forward read's energy units of sample b."""
    r = lay[FWD]
    n_pre, n_pos = lay[N_PRE], lay[L_POS]
    n_rows = (a1 - a0) * n_pos
    for a in range(a0, a1):
        b = act[a]
        dac_padded(src[b], src_off, n_pre, dac_step, dac_clip, xq, xq2)
        im2col(xq, xq2, pmap, lay[PMAP_OFF], n_pos, lay[K_PATCH], ced, cm[r, 4], cm[r, 5], n_rows, (a - a0) * n_pos,
               patches, patches2)
        energy[b] += line_energy(xq2, gsum, lay[GSUM_OFF], n_pre)


@numba.njit(cache=True, error_model="numpy")
def input_products(cm, cw, cs2, ced, dac_step, dac_clip, lay, pmap, gsum, x, act, a0, a1, e_x,
                   xq, xq2, patches, patches2, mean, var, mean0, var0):
    """The products of the clamped input's conv read for samples act[a0:a1] (the same at every
    step): mean0[b], var0[b] (n_ti, L, n_out) and e_x[b] its energy units."""
    r = lay[FWD]
    n_pos = lay[L_POS]
    n_out = cm[r, 1]
    n_rows = (a1 - a0) * n_pos
    gather_block(cm, ced, dac_step, dac_clip, lay, pmap, gsum, x, 0, act, a0, a1, e_x, xq, xq2, patches, patches2)
    block = n_pos * n_out
    for ti in range(cm[r, 5]):
        tile_products(cm, cw, cs2, ced, r, ti, n_rows, patches, patches2, mean, var)
        for a in range(a0, a1):
            b = act[a]
            src = (a - a0) * block
            for j in range(block):
                mean0[b, ti * block + j] = mean[src + j]
                var0[b, ti * block + j] = var[src + j]


@numba.njit(cache=True, error_model="numpy")
def pool_rows(lay, y, y_row0, dst, argidx):
    """Max- (argmax into argidx) or average pool of one sample's rows y[y_row0:] (L, C_out) into
    dst[post_off:]."""
    rows = y[y_row0 * lay[C_OUT]:]
    if lay[POOL_AVG]:
        avg_pool(rows, lay[C_OUT], lay[W_C], lay[POOL], lay[H_P], lay[W_P], dst, lay[POST_OFF])
    else:
        max_pool(rows, lay[C_OUT], lay[W_C], lay[POOL], lay[H_P], lay[W_P], dst, lay[POST_OFF], argidx)


@numba.njit(cache=True, error_model="numpy")
def forward_block(cm, cw, cs2, ced, ctl, dac_step, dac_clip, lay, pmap, gsum, keys, g, calls, s, act, a0, a1,
                  bg0, batch, energy, xq, xq2, patches, patches2, mean, var, y, zbuf, abuf, hi_a, lo_a, h, argidx):
    """The forward read of conv synapse ``lay`` (k >= 1) for samples act[a0:a1] (pre layer s[b],
    key keys[calls[b, g], g], noise rows of sample bg0 + b of ``batch``), pooled into h[b];
    calls[b, g] += 1 and energy[b] += its energy units."""
    r = lay[FWD]
    n_pos = lay[L_POS]
    n_out = cm[r, 1]
    n_rows = (a1 - a0) * n_pos
    gather_block(cm, ced, dac_step, dac_clip, lay, pmap, gsum, s, lay[PRE_OFF], act, a0, a1, energy,
                 xq, xq2, patches, patches2)
    for j in range(n_rows * n_out):
        y[j] = _F0
    for ti in range(cm[r, 5]):
        tile_products(cm, cw, cs2, ced, r, ti, n_rows, patches, patches2, mean, var)
        for a in range(a0, a1):
            b = act[a]
            adc_tile_rows(cm, ced, ctl, r, ti, mean, var, (a - a0) * n_pos, keys[calls[b, g], g], (bg0 + b) * n_pos,
                          batch * n_pos, n_pos, y, (a - a0) * n_pos, zbuf, abuf, hi_a, lo_a)
    for a in range(a0, a1):
        b = act[a]
        calls[b, g] += 1
        pool_rows(lay, y, (a - a0) * n_pos, h[b], argidx[b])


@numba.njit(cache=True, error_model="numpy")
def input_read(cm, ced, ctl, lay, key, b, batch, mean0, var0, rows, zbuf, abuf, hi_a, lo_a, h, argidx):
    """The clamped input's conv read at one step: noise and ADC of its cached products, pooled into h."""
    n_pos = lay[L_POS]
    adc_rows(cm, ced, ctl, lay[FWD], mean0, var0, key, b * n_pos, batch * n_pos, n_pos, rows, zbuf, abuf, hi_a, lo_a)
    pool_rows(lay, rows, 0, h, argidx)


@numba.njit(cache=True, error_model="numpy")
def conv_backward(cm, cw, cs2, ced, ctl, cg, dac_step, dac_clip, lay, pmap, key, b, batch, s,
                  sq, sq2, argidx, start, cidx, cval, cval2, mean, var, rows, zbuf, abuf, hi_a, lo_a, buf, fb):
    """Backward read of conv synapse ``lay`` on one sample's unpooled post layer s[post_off:],
    folded into fb[pre_off:]. Returns the energy units of the read."""
    r = lay[BWD]
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
