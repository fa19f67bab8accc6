"""The reads of a convolutional layered EBM laid out for the fused conv settling kernel.

A convolutional synapse k (pre layer (C_in, H, W) -> convolution (C_out, H_c, W_c) -> max- or
average pool q -> post layer (C_out, H_c // q, W_c // q)) is one programmed matrix W_k (C_out, C_in k^2) read
on unfolded patches: one row read per convolution position p = oy W_c + ox, the row holding the
pre-layer values at patch index i = (c k + dy) k + dx (``torch.nn.functional.unfold`` order),
pixel (c, oy + dy - pad, ox + dx - pad), zero outside the image. The same map, position-major,
folds the backward read (one row of C k^2 per position) back onto the pre layer (``fold``).

:func:`pack_conv_network` gives:

* ``conv``: :class:`~analogeq.substrates.crossbar.programmed.PackedReads` of the conv reads
  (forward and backward of every conv matrix, W^T layout only);
* ``dense``: the same for the dense reads (dense synapses after the convolutions and the ``ce``
  readout, with the dot-product layout the dense kernel uses);
* ``layers`` (N, 21) int64, one row per synapse: kind (0 conv, 1 dense), local forward and
  backward read (in its pack), global forward and backward read (the key table column),
  pre offset in the state vector (-1: the input), post offset, n_pre, n_post, then for a conv:
  C_in, C_out, L = H_c W_c, K = C_in k^2, H_c, W_c, q, H_p, W_p, offsets in ``pmap`` and ``gsum``,
  and 1 for an average pool (q > 1), 0 for a max-pool;
* ``pmap`` int32: per conv synapse, L x K source indices into the pre layer (n_pre: a zero pad);
* ``gsum`` float64: per conv synapse and pre unit u, the line conductance its patch entries
  drive, sum of G_i over the (p, i) reading u [S]: the forward read's energy units are then
  sum_u xq_u^2 gsum_u;
* the biases expanded per unit (float32), the readout's local/global reads and bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from analogeq.substrates.crossbar.programmed import PackedReads, pack_reads, read_index

__all__ = ["PackedConvNetwork", "pack_conv_network", "patch_map"]

#: columns of ``PackedConvNetwork.layers``
KIND, FWD, BWD, FWD_G, BWD_G, PRE_OFF, POST_OFF, N_PRE, N_POST = range(9)
C_IN, C_OUT, L_POS, K_PATCH, H_C, W_C, POOL, H_P, W_P, PMAP_OFF, GSUM_OFF, POOL_AVG = range(9, 21)
N_COLS = 21


@dataclass(frozen=True, eq=False)
class PackedConvNetwork:
    conv: PackedReads
    dense: PackedReads
    layers: np.ndarray
    pmap: np.ndarray
    gsum: np.ndarray
    layer_off: np.ndarray
    bias: np.ndarray
    ro_fwd: int
    ro_bwd: int
    ro_fwd_g: int
    ro_bwd_g: int
    ro_bias: np.ndarray
    n_classes: int
    n_reads: int


def patch_map(in_shape: tuple[int, int, int], kernel_size: int, padding: int) -> np.ndarray:
    """(L, C k^2) int32: pre-layer index of every patch entry of a stride-1 convolution with zero
    padding; C H W (one past the last unit) where the patch reaches the padding."""
    c_in, h, w = in_shape
    k, pad = kernel_size, padding
    hc, wc = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    oy, ox = np.meshgrid(np.arange(hc), np.arange(wc), indexing="ij")
    c, dy, dx = np.meshgrid(np.arange(c_in), np.arange(k), np.arange(k), indexing="ij")
    y = oy.reshape(-1, 1) + dy.reshape(1, -1) - pad
    x = ox.reshape(-1, 1) + dx.reshape(1, -1) - pad
    src = (c.reshape(1, -1) * h + y) * w + x
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.where(inside, src, c_in * h * w).astype(np.int32)


def pack_conv_network(model: Any, read_models: list, line_g: list[np.ndarray]) -> PackedConvNetwork:
    """Pack a layered EBM whose synapses are convolutions (``crossbar_matrix().read ==
    "patches"``, a :class:`~analogeq.ebm.conv.ConvPoolSynapse`) or dense, with vector or
    per-channel biases; read ``2 m`` / ``2 m + 1`` of ``read_models`` is matrix m forward /
    backward."""
    mats = model.crossbar_matrices()
    n_syn = len(model.synapses)
    sizes = [int(math.prod(s)) for s in model.state_shapes]
    layer_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    conv_ids, dense_ids = [], []
    for m, mat in enumerate(mats):
        (conv_ids if mat.read == "patches" else dense_ids).append(m)
    local = {m: i for i, m in enumerate(conv_ids)}
    local.update({m: i for i, m in enumerate(dense_ids)})

    def reads_of(ids):
        idx = [read_index(m, d) for m in ids for d in ("forward", "backward")]
        return [read_models[r] for r in idx], [line_g[r] for r in idx]

    conv = pack_reads(*reads_of(conv_ids), dot_layout=False)
    dense = pack_reads(*reads_of(dense_ids), dot_layout=True)
    layers = np.zeros((n_syn, N_COLS), dtype=np.int64)
    pmaps, gsums, p_off, g_off = [], [], 0, 0
    n_in_x = int(math.prod(model.input_shape))
    for k in range(n_syn):
        syn, mat = model.synapses[k], mats[k]
        n_pre = n_in_x if k == 0 else sizes[k - 1]
        row = layers[k]
        row[FWD], row[BWD] = 2 * local[k], 2 * local[k] + 1
        row[FWD_G], row[BWD_G] = read_index(k, "forward"), read_index(k, "backward")
        row[PRE_OFF] = -1 if k == 0 else layer_off[k - 1]
        row[POST_OFF], row[N_PRE], row[N_POST] = layer_off[k], n_pre, sizes[k]
        if mat.read == "patches":
            c_out, hc, wc = syn.conv_shape
            _, hp, wp = syn.out_shape
            pm = patch_map(syn.in_shape, syn.kernel_size, syn.padding)
            row[KIND] = 0
            row[C_IN:GSUM_OFF + 1] = (syn.in_channels, c_out, hc * wc, pm.shape[1], hc, wc, syn.pool_size, hp, wp,
                                      p_off, g_off)
            row[POOL_AVG] = int(syn.pool_kind == "avg" and syn.pool_size > 1)
            g_line = np.asarray(line_g[read_index(k, "forward")], dtype=np.float64)
            gsum = np.bincount(pm.ravel(), weights=np.broadcast_to(g_line, pm.shape).ravel(), minlength=n_pre + 1)
            pmaps.append(pm.ravel())
            gsums.append(gsum[:n_pre])
            p_off += pm.size
            g_off += n_pre
        elif mat.read == "dense":
            row[KIND] = 1
        else:
            raise ValueError(f"matrix {mat.name!r}: the fused conv settle reads 'dense' and 'patches' matrices, "
                             f"not {mat.read!r}")
    bias = np.concatenate([np.broadcast_to(b.detach().cpu().float().numpy(), shape).ravel()
                           for b, shape in zip(model.biases, model.state_shapes)]).astype(np.float32)
    ce = model.readout is not None
    n_classes = int(model.num_classes)
    ro = len(model.synapses)
    return PackedConvNetwork(
        conv=conv, dense=dense, layers=layers,
        pmap=np.concatenate(pmaps) if pmaps else np.zeros(1, dtype=np.int32),
        gsum=np.concatenate(gsums) if gsums else np.zeros(1, dtype=np.float64),
        layer_off=layer_off, bias=bias,
        ro_fwd=2 * local[ro] if ce else -1, ro_bwd=2 * local[ro] + 1 if ce else -1,
        ro_fwd_g=read_index(ro, "forward") if ce else -1, ro_bwd_g=read_index(ro, "backward") if ce else -1,
        ro_bias=(model.readout_bias.detach().cpu().float().numpy().ravel() if ce else np.zeros(n_classes, np.float32)),
        n_classes=n_classes, n_reads=len(read_models),
    )
