"""Numba pieces of a convolutional read, for :mod:`.conv_reads` and :mod:`.conv_settle`.

A conv read of sample b (of a batch of B) on its L = H_c W_c positions is the read of
:mod:`.fused_settle` applied to L rows at once, rows m = b L + p of the torch read's (B L)-row
call, so the noise of tile row ti, position p, output j is stream ``(ti B L + b L + p) n_out + j``
(:class:`hardware_models.crossbar.LinearReadModel`'s rule), the numbers of the torch reads path.

Forward (W on unfolded patches): the DAC'd pre layer is gathered into patches through the
patch map (:func:`.conv_pack.patch_map`) into a block of the rows of m samples, tile-major:
tile ti's (m L, |I_ti|) matrix is contiguous, so its mean and variance products are two float32
BLAS matrix products (``np.dot``) with the rows I_ti of W^T and of the read variances::

    mean[ti] = P[:, I_ti] @ W^T[I_ti, :]      var[ti] = (P * P)[:, I_ti] @ S2^T[I_ti, :]

then each sample's rows take their noise and ADC (:func:`adc_tile_rows`).

Backward (W^T on the max-unpooled post layer): a post unit (c, py, px) feeds only the argmax
position p of its pooling window, so a row of the backward read has at most C_out / q^2
non-zero inputs on average; the products add rows of W (C_out, C k^2) for the non-zero inputs
only, four at a time. The output rows are folded back onto the pre layer with the patch map.
With an average pool a post unit feeds every position of its window with s / q^2 (DAC'd after
the division, as the torch read of the unpooled rows does): up to C_out inputs per row.

The sums are in float32 in an order fixed by the code and BLAS (never by the thread count).
"""

from __future__ import annotations

import numba
import numpy as np

from analogeq.substrates.crossbar.read_kernels import adc_tiles, dac, normals, product_fields, tile_noisy

__all__: list[str] = []

_F0 = np.float32(0.0)
_U = np.uint64


@numba.njit(cache=True, error_model="numpy", inline="always")
def dac_padded(src, src_off, n, step, clip, xq, xq2):
    """DAC of src[src_off : src_off + n] into xq, xq2 (as :func:`.read_kernels.dac`) with a zero at n."""
    dac(src, src_off, n, step, clip, xq, xq2)
    xq[n] = _F0
    xq2[n] = _F0


@numba.njit(cache=True, error_model="numpy")
def im2col(xq, xq2, pmap, p_off, n_pos, n_k, edges, e_in, n_ti, n_rows, row0, patches, patches2):
    """One sample's L patch rows of the DAC'd pre layer into rows row0 : row0 + L of a tile-major
    block of ``n_rows`` rows: tile ti's (n_rows, |I_ti|) matrix at n_rows * lo."""
    for ti in range(n_ti):
        lo = edges[e_in + ti]
        w = edges[e_in + ti + 1] - lo
        base = n_rows * lo + row0 * w
        for p in range(n_pos):
            src = p_off + p * n_k + lo
            dst = base + p * w
            for i in range(w):
                g = pmap[_U(src + i)]
                patches[_U(dst + i)] = xq[g]
                patches2[_U(dst + i)] = xq2[g]


@numba.njit(cache=True, error_model="numpy")
def tile_products(meta, w_flat, s2_flat, edges, r, ti, n_rows, patches, patches2, mean, var):
    """mean, var (n_rows, n_out) of input tile ti of read r on a tile-major block of n_rows patch
    rows (:func:`im2col`): one float32 BLAS sgemm each (var untouched without read variances)."""
    n_out, w_off, s2_off, e_in, _ = product_fields(meta, r)
    lo = edges[e_in + ti]
    hi = edges[e_in + ti + 1]
    w = hi - lo
    np.dot(patches[n_rows * lo:n_rows * hi].reshape(n_rows, w),
           w_flat[w_off + lo * n_out:w_off + hi * n_out].reshape(w, n_out),
           mean[:n_rows * n_out].reshape(n_rows, n_out))
    if s2_off >= 0:
        np.dot(patches2[n_rows * lo:n_rows * hi].reshape(n_rows, w),
               s2_flat[s2_off + lo * n_out:s2_off + hi * n_out].reshape(w, n_out),
               var[:n_rows * n_out].reshape(n_rows, n_out))


@numba.njit(cache=True, error_model="numpy")
def adc_tile_rows(meta, edges, tiles, r, ti, mean, var, m_row0, key, row0, n_rows_total, n_pos, dst, d_row0,
                  zbuf, abuf, hi_a, lo_a):
    """Noise + ADC of input tile ti of read r on one sample's L rows, added into dst rows
    d_row0 : d_row0 + L (n_out each) from mean, var rows m_row0 : m_row0 + L; the sample's row p
    is row ``row0 + p`` of a read of ``n_rows_total`` rows (its noise streams: consecutive, one call)."""
    n_out = meta[r, 1]
    noisy = tile_noisy(meta, tiles, r, ti)
    z = zbuf
    if noisy:
        z = normals(key, (ti * n_rows_total + row0) * n_out, n_pos * n_out, zbuf, hi_a, lo_a)
    for p in range(n_pos):
        adc_tiles(meta, edges, tiles, r, ti, mean, var, (m_row0 + p) * n_out, z, p * n_out, noisy, abuf,
                  dst, (d_row0 + p) * n_out)


@numba.njit(cache=True, error_model="numpy")
def adc_rows(meta, edges, tiles, r, mean, var, key, row0, n_rows_total, n_pos, dst, zbuf, abuf, hi_a, lo_a):
    """Noise + ADC of read r on L rows from mean, var (n_ti, L, n_out) into dst (L, n_out),
    overwritten; row p is row ``row0 + p`` of a read of ``n_rows_total`` rows (its noise streams);
    zbuf (L n_out + 2), hi_a, lo_a (L n_out / 2 + 2) and abuf (n_out) are scratch."""
    n_out = meta[r, 1]
    for j in range(n_pos * n_out):
        dst[_U(j)] = _F0
    for ti in range(meta[r, 5]):
        adc_tile_rows(meta, edges, tiles, r, ti, mean, var, ti * n_pos, key, row0, n_rows_total, n_pos, dst, 0,
                      zbuf, abuf, hi_a, lo_a)


@numba.njit(cache=True, error_model="numpy")
def max_pool(y, n_ch, wc, q, hp, wp, dst, dst_off, argidx):
    """dst[(c hp + py) wp + px] = max of y (L, C) over the q x q window (first maximum in
    row-major window order, as torch's max_pool2d); argidx holds its position p."""
    for c in range(n_ch):
        for py in range(hp):
            for px in range(wp):
                p0 = py * q * wc + px * q
                best = y[_U(p0 * n_ch + c)]
                bi = p0
                for wy in range(q):
                    for wx in range(q):
                        p = (py * q + wy) * wc + px * q + wx
                        v = y[_U(p * n_ch + c)]
                        if v > best:
                            best = v
                            bi = p
                u = (c * hp + py) * wp + px
                dst[dst_off + u] = best
                argidx[u] = bi


@numba.njit(cache=True, error_model="numpy")
def avg_pool(y, n_ch, wc, q, hp, wp, dst, dst_off):
    """dst[(c hp + py) wp + px] = (sum of y (L, C) over the q x q window, float32 in row-major
    window order) / q^2, as torch's avg_pool2d."""
    qq = np.float32(q * q)
    for c in range(n_ch):
        for py in range(hp):
            for px in range(wp):
                acc = _F0
                for wy in range(q):
                    for wx in range(q):
                        acc += y[_U(((py * q + wy) * wc + px * q + wx) * n_ch + c)]
                dst[dst_off + (c * hp + py) * wp + px] = acc / qq


@numba.njit(cache=True, error_model="numpy")
def avg_unpool_rows(sq, sq2, n_ch, q, hp, wp, wc, n_pos, start, cidx, cval, cval2):
    """The non-zero inputs of the backward read's rows under an average pool: row p = (oy, ox)
    inside the pooled area takes, for each channel c, the DAC'd s[c, oy // q, ox // q] / q^2 held
    in sq, sq2 (channels ascending, in :func:`unpool_rows`' layout); rows of the dropped last
    rows/columns are empty."""
    e = 0
    for p in range(n_pos):
        start[p] = e
        oy = p // wc
        ox = p - oy * wc
        if oy < hp * q and ox < wp * q:
            u0 = (oy // q) * wp + ox // q
            for c in range(n_ch):
                v = sq[c * hp * wp + u0]
                if v != _F0:
                    cidx[e] = c
                    cval[e] = v
                    cval2[e] = sq2[c * hp * wp + u0]
                    e += 1
    start[n_pos] = e


@numba.njit(cache=True, error_model="numpy")
def row_energy(start, cidx, cval2, n_pos, g, g_off):
    """sum over the rows' non-zero inputs e of cval2[e] g[g_off + cidx[e]]: the energy units of a
    backward conv read under an average pool (every input drives its channel's line)."""
    e = 0.0
    for i in range(start[n_pos]):
        e += np.float64(cval2[i]) * g[_U(g_off + cidx[i])]
    return e


@numba.njit(cache=True, error_model="numpy")
def unpool_rows(sq, sq2, argidx, n_ch, n_unit, n_pos, start, cidx, cval, cval2):
    """The non-zero inputs of the backward read's rows: for row p, entries start[p]:start[p+1]
    of (channel, DAC'd value, its square), channels ascending."""
    for p in range(n_pos + 1):
        start[p] = 0
    for c in range(n_ch):
        for u in range(n_unit):
            if sq[c * n_unit + u] != _F0:
                start[argidx[c * n_unit + u] + 1] += 1
    for p in range(n_pos):
        start[p + 1] += start[p]
    fill = start[:n_pos].copy()
    for c in range(n_ch):
        for u in range(n_unit):
            v = sq[c * n_unit + u]
            if v != _F0:
                p = argidx[c * n_unit + u]
                e = fill[p]
                cidx[e] = c
                cval[e] = v
                cval2[e] = sq2[c * n_unit + u]
                fill[p] = e + 1


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _add_rows(out, o, n, w, w_off, cidx, cval, e0, e1):
    """out[o : o + n] = sum_e cval[e] w[w_off + cidx[e] n : ... + n], four rows at a time."""
    for j in range(n):
        out[_U(o + j)] = _F0
    e = e0
    while e + 4 <= e1:
        a0, a1, a2, a3 = cval[e], cval[e + 1], cval[e + 2], cval[e + 3]
        b0 = w_off + cidx[e] * n
        b1 = w_off + cidx[e + 1] * n
        b2 = w_off + cidx[e + 2] * n
        b3 = w_off + cidx[e + 3] * n
        for j in range(n):
            out[_U(o + j)] += (a0 * w[_U(b0 + j)] + a1 * w[_U(b1 + j)]) + (a2 * w[_U(b2 + j)] + a3 * w[_U(b3 + j)])
        e += 4
    while e < e1:
        a0 = cval[e]
        b0 = w_off + cidx[e] * n
        for j in range(n):
            out[_U(o + j)] += a0 * w[_U(b0 + j)]
        e += 1


@numba.njit(cache=True, error_model="numpy")
def sparse_products(meta, w_flat, s2_flat, edges, r, n_pos, start, cidx, cval, cval2, mean, var):
    """mean, var (n_ti, L, n_out) of read r whose row p has the non-zero inputs of
    :func:`unpool_rows` (rows of W^T (n_in, n_out) added for those only)."""
    n_out, w_off, s2_off, e_in, n_ti = product_fields(meta, r)
    for ti in range(n_ti):
        lo = edges[e_in + ti]
        hi = edges[e_in + ti + 1]
        for p in range(n_pos):
            e0 = start[p]
            e1 = start[p + 1]
            while e0 < e1 and cidx[e0] < lo:
                e0 += 1
            e_end = e0
            while e_end < e1 and cidx[e_end] < hi:
                e_end += 1
            o = (ti * n_pos + p) * n_out
            _add_rows(mean, o, n_out, w_flat, w_off, cidx, cval, e0, e_end)
            if s2_off >= 0:
                _add_rows(var, o, n_out, s2_flat, s2_off, cidx, cval2, e0, e_end)


@numba.njit(cache=True, error_model="numpy")
def fold(rows, pmap, p_off, n_pos, n_k, n_pre, buf, dst, dst_off):
    """dst[dst_off : dst_off + n_pre] = the rows (L, C k^2) added back onto the pre layer
    (``torch.nn.functional.fold``); buf (n_pre + 1) is scratch (its last slot takes the padding)."""
    for i in range(n_pre + 1):
        buf[i] = _F0
    for d in range(n_pos * n_k):
        buf[pmap[_U(p_off + d)]] += rows[_U(d)]
    for i in range(n_pre):
        dst[dst_off + i] = buf[i]


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def channel_energy(sq2, g, g_off, n_ch, n_unit):
    """sum_{c, u} sq2[c n_unit + u] g[g_off + c]: the energy units of a backward conv read (each
    post unit drives its channel's line at one position)."""
    e = 0.0
    for c in range(n_ch):
        acc = 0.0
        for u in range(n_unit):
            acc += np.float64(sq2[c * n_unit + u])
        e += acc * g[_U(g_off + c)]
    return e
