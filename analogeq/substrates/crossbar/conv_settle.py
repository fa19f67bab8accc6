"""Numba kernel: the whole settling of a convolutional layered EBM on emulated crossbars.

The conv twin of :mod:`.fused_settle`: one call of :func:`settle_conv_kernel` runs every step
of a phase for a batch with no Python between steps, in chunks of samples; inside a chunk the
samples are split into contiguous groups, one per Numba thread (``prange``), and each group
settles in lock-step (:func:`.conv_group.settle_group`): per step and sample, what
:meth:`analogeq.ebm.layered.LayeredEBM.step` does through the torch reads (:mod:`.reads`):

* conv synapse k: the forward read of W_k on the L unfolded patches of s_{k-1} (the input read
  of k = 0 keeps its mean and variance from the first step: only its noise and ADC change),
  max-pool with argmax (or average pool) -> the input current of layer k; for k >= 1 the
  backward read of the same array on the unpooled s_k (max: at the argmax positions of this
  step's forward read; average: s_k / q^2 over each window), folded onto layer k-1 -> its
  feedback (:mod:`.conv_reads`, :mod:`.conv_kernels`);
* dense synapse (after the convolutions) and the ``ce`` readout: the dense kernel's read;
* the periphery: biases (per channel), feedback, nudging, hard sigmoid, damped update, and the
  per-sample stopping rule max |s^{t+1} - s^t| <= tol (tol = 0: the whole budget).

Noise: the n-th read of matrix direction r by a sample uses ``keys[n, r]`` and, row p of sample
b, the streams of row b L + p of a (B L)-row read (:mod:`.conv_kernels`), as the torch reads
path does on the whole batch at once: the same numbers with the same keys, up to the float32
summation order of the products (and where that moves a value across an ADC step).

Memory: the forward products of a conv layer run on blocks of up to ``blocks[k]`` samples, so
that a block's patches (m L x C k^2, and their squares) and products stay under
:data:`BLOCK_FLOATS` floats each (one sample at least); nothing of size (B, L, C k^2) exists for
a chunk. Per sample: the states, the pooling argmax and the input read's products. Thread
invariance: a sample's numbers depend only on its inputs, its index b and the keys (a BLAS
product's row does not depend on the other rows of the block).
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np

from analogeq.substrates.crossbar.conv_group import settle_group
from analogeq.substrates.crossbar.conv_pack import BWD, C_OUT, FWD, K_PATCH, KIND, L_POS, N_POST, N_PRE, POOL_AVG
from analogeq.substrates.crossbar.read_kernels import pick_kernel, settle_outputs

__all__ = ["settle_conv_kernel"]

#: the most floats a block's patch matrix (or its products) holds (4 MiB of float32)
BLOCK_FLOATS = 1 << 20


def _make_settle(parallel: bool):
    @numba.njit(parallel=parallel, cache=True, error_model="numpy")
    def kernel(cm, cw, cs2, ced, ctl, cg, dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip,
               layers, pmap, gsum, layer_off, bias, ro_fwd, ro_bwd, ro_fwd_g, ro_bwd_g, ro_bias, sizes, blocks,
               x, states, labels, beta, eps, max_steps, tol, keys, b0, batch, threads,
               out_states, logits, steps, residuals, energy_units, read_counts):
        n_here = x.shape[0]
        n_groups = max(1, min(threads, n_here))
        for g in numba.prange(n_groups):
            settle_group(g * n_here // n_groups, (g + 1) * n_here // n_groups, cm, cw, cs2, ced, ctl, cg,
                         dm, dw, ds2, dwd, ds2d, ded, dtl, dg, dac_step, dac_clip, layers, pmap, gsum, layer_off, bias,
                         ro_fwd, ro_bwd, ro_fwd_g, ro_bwd_g, ro_bias, sizes, blocks, x, states, labels, beta, eps,
                         max_steps, tol, keys, b0, batch, out_states, logits, steps, residuals, energy_units,
                         read_counts)

    return kernel


_settle_serial = _make_settle(False)
_settle_parallel = _make_settle(True)


def block_samples(packed, n_max: int) -> np.ndarray:
    """Samples per forward block of each synapse (1 for a dense one): as many of the n_max as
    keep the block's patches (m L C k^2) and its products (m L C_out) under :data:`BLOCK_FLOATS`."""
    cm, lays = packed.conv.meta, packed.layers
    out = np.ones(len(lays), dtype=np.int64)
    for k, lay in enumerate(lays):
        if lay[KIND] == 0:
            per = max(int(lay[L_POS] * lay[K_PATCH]), int(lay[L_POS] * cm[lay[FWD], 1]))
            out[k] = max(1, min(int(n_max), BLOCK_FLOATS // per))
    return out


def buffer_sizes(packed, blocks: np.ndarray) -> np.ndarray:
    """Scratch sizes of a group: [pre layer + 1, block patches, block products (one tile) or a
    backward read's products, read rows, post units, positions, noise deviates of one read of one
    sample and tile, dense products, input-read products of one sample]."""
    cm, dm, lays = packed.conv.meta, packed.dense.meta, packed.layers
    conv = lays[lays[:, KIND] == 0]
    pre = int(max(lays[:, N_PRE].max(), lays[:, N_POST].max(), dm[:, 0].max() if len(dm) else 1)) + 1
    patch, prods, rows, outs = 1, 1, 1, 1
    for k, lay in enumerate(lays):
        if lay[KIND] != 0:
            continue
        n_pos, rf, rb = int(lay[L_POS]), lay[FWD], lay[BWD]
        patch = max(patch, int(blocks[k]) * n_pos * int(lay[K_PATCH]))
        prods = max(prods, int(blocks[k]) * n_pos * int(cm[rf, 1]), int(cm[rb, 5]) * n_pos * int(cm[rb, 1]))
        rows = max(rows, int(blocks[k]) * n_pos * int(cm[rf, 1]), n_pos * int(cm[rb, 1]))
        outs = max(outs, n_pos * int(cm[rf, 1]), n_pos * int(cm[rb, 1]))
    # post units, or the non-zero inputs of an average pool's backward rows (L C_out)
    post = (int(np.where(conv[:, POOL_AVG] != 0, conv[:, L_POS] * conv[:, C_OUT], conv[:, N_POST]).max())
            if len(conv) else 1)
    pos = int(conv[:, L_POS].max()) if len(conv) else 1
    outs = int(max(outs, dm[:, 1].max() if len(dm) else 1))
    dprod = int((dm[:, 1] * dm[:, 5]).max()) if len(dm) else 1
    r0 = lays[0, FWD]
    first = (cm if lays[0, KIND] == 0 else dm)[r0]
    in_prod = int(first[5] * first[1] * (lays[0, L_POS] if lays[0, KIND] == 0 else 1))
    return np.array([pre, patch, prods, rows, post, pos, outs, dprod, in_prod], dtype=np.int64)


def settle_conv_kernel(packed, x, states, labels, beta, eps, max_steps, tol, keys, *, chunk: int = 32,
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
    threads = numba.get_num_threads() if kernel is _settle_parallel else 1
    blocks = block_samples(packed, min(chunk, batch))
    sizes = buffer_sizes(packed, blocks)
    c, d = packed.conv, packed.dense
    with single_threaded_blas(threads > 1):
        _run_chunks(kernel, packed, c, d, sizes, blocks, x, states, labels, beta, eps, max_steps, tol, keys, batch,
                    chunk, threads, outputs)
    return outputs


@contextlib.contextmanager
def single_threaded_blas(active: bool):
    """BLAS on one thread inside the block when ``active``: the parallel kernel calls BLAS from
    every Numba (OpenMP) thread, and a multi-threaded OpenBLAS called inside an OpenMP region
    oversubscribes the cores and prints "Detect OpenMP Loop and this application may hang" on
    every call. The limit is set through threadpoolctl and restored afterwards."""
    if not active:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _run_chunks(kernel, packed, c, d, sizes, blocks, x, states, labels, beta, eps, max_steps, tol, keys, batch,
                chunk, threads, outputs):
    out_states, logits, steps, residuals, energy_units, read_counts = outputs
    for b0 in range(0, batch, chunk):
        sl = slice(b0, min(batch, b0 + chunk))
        kernel(c.meta, c.w_flat, c.s2_flat, c.edges, c.tiles, c.line_g,
               d.meta, d.w_flat, d.s2_flat, d.wd_flat, d.s2d_flat, d.edges, d.tiles, d.line_g,
               float(c.dac_step if len(c.meta) else d.dac_step), float(c.dac_clip if len(c.meta) else d.dac_clip),
               packed.layers, packed.pmap, packed.gsum, packed.layer_off, packed.bias,
               int(packed.ro_fwd), int(packed.ro_bwd), int(packed.ro_fwd_g), int(packed.ro_bwd_g), packed.ro_bias,
               sizes, blocks, x[sl], states[sl], labels[sl], float(beta), float(eps), int(max_steps), float(tol), keys,
               b0, batch, threads, out_states[sl], logits[sl], steps[sl], residuals[sl], energy_units[sl],
               read_counts[sl])
