"""Numba kernel: the whole settling of a dense layered EBM on emulated crossbars, in one call.

One call of :func:`settle_dense_kernel` runs every step of a phase (free or nudged) for a batch:
for every sample, every step, every matrix read (forward W and feedback W^T of each synapse, the
readout of a ``ce`` network) it does what :class:`hardware_models.crossbar.LinearReadModel`
specifies for one read (DAC, per-tile mean and variance products, output noise, TIA noise,
ADC, digital accumulation over input tiles), then the neuron periphery (biases, nudging, the
hard sigmoid and the damped update). No Python runs between steps.

A read is :func:`.read_kernels.read` (equations there), with z the counter-based normals of
:mod:`hardware_models.crossbar.kernels` (its ``stream_normals``, in its two-pass form), so a read here
gives the numbers of ``LinearReadModel.read(x, key=k)`` up to the summation order of the products
(float32). The key of the n-th read of matrix direction r by a sample in one call is ``keys[n, r]``:
the same rule in the torch emulation (:mod:`analogeq.substrates.crossbar.reads`) gives the same numbers.

The read of the first synapse on the clamped input x has the same mean and variance at every
step (only its noise and ADC differ), so they are computed once per sample; nothing else is
cached. Zero inputs (pixels at 0, saturated neurons) are skipped in the products: they add
nothing to either sum.

Thread invariance: the batch is split over threads by sample; a sample's numbers
depend only on its own inputs and on its stream indices, never on which thread runs it.
Convergence is checked per sample: a sample stops when max |s^{t+1} - s^t| <= ``tol``
(``tol = 0`` runs the whole budget).

Threads and cold start: the settle of one sample is one compiled function
(:func:`_settle_sample`); :func:`_settle_range` runs a range of samples without the GIL, and
:func:`settle_dense_kernel` splits the batch into ``numba.get_num_threads()`` contiguous ranges
run at once on a small pool of Python threads. There is no ``parallel=True`` (``prange``)
variant to compile: the first call on a machine compiles one serial kernel. Measured
(``benchmarks/bench_substrates.py --part startup --old-tree``, RESULTS.md), the CPU time of a
cold start's first prediction fell from 44-50 s (the settle inlined into a ``prange`` kernel)
to 27 s, with the same numbers bit for bit.

Packed layout (built by :func:`analogeq.substrates.crossbar.programmed.pack_dense_network`)
---------------------------------------------------------------------------
``meta`` (R, 10) int64 per read: n_in, n_out, w_off, s2_off (-1: no read noise), edge_in_off,
n_ti, edge_out_off, n_to, tile_off, line_off. ``w_flat``/``s2_flat`` float32 hold each read's
matrix transposed, (n_in, n_out) C order. ``edges`` int64; ``tiles`` (n, 3) float32: ADC step,
ADC clip, TIA noise variance per tile; ``line_g`` float64: conductance on each driven line
(G+ + G- summed along it) [S], for the energy.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from analogeq.progress import compile_notice
from analogeq.substrates.crossbar.read_kernels import (
    adc, ce_nudge, counted_read, dac, line_energy, mse_nudge, noise_scratch, pair, periphery, products,
    sample_start, settle_outputs, store_sample,
)

__all__ = ["settle_dense_kernel"]

@numba.njit(cache=True, error_model="numpy")
def _settle_sample(b, meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip,
                   layer_off, fwd_read, bwd_read, ro_fwd, ro_bwd, bias, ro_bias,
                   x, states, labels, beta, eps, max_steps, tol, keys,
                   out_states, logits, steps, residuals, energy_units, read_counts):
    """Every step of one phase for sample ``b`` (int64), written to row b of the outputs."""
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
    s, h, fb, nudge, probs, calls = sample_start(states, b, n_total, n_last, n_classes, n_reads)
    xq, xq2 = pair(max_in)
    mean, var = pair(max_tile_out)
    zbuf, abuf, hi_a, lo_a = noise_scratch(max_out)
    mean0, var0 = pair(meta[r0, 5] * meta[r0, 1])
    energy = 0.0
    # the clamped input: mean and variance of its read are the same at every step
    dac(x[b], 0, n_x, dac_step, dac_clip, xq, xq2)
    products(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, r0, xq, xq2, mean0, var0)
    e_x = line_energy(xq2, line_g, meta[r0, 9], n_x)
    done = 0
    res = np.inf
    for t in range(max_steps):
        # forward reads: layer k gets syn_k(s_{k-1}) (k = 0: the cached input read)
        adc(meta, edges, tiles, r0, mean0, var0, keys[calls[r0], r0], b, batch, h, 0, zbuf, abuf, hi_a, lo_a)
        calls[r0] += 1
        energy += e_x
        for k in range(1, n_layers):
            r = fwd_read[k]
            energy = counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                  dac_clip, r, r, keys, calls, s, layer_off[k - 1], b, batch, h, layer_off[k],
                                  xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a, energy)
            # feedback read of the same array, transposed: syn_k^T(s_k) into layer k-1
            rb = bwd_read[k]
            energy = counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                                  dac_clip, rb, rb, keys, calls, s, layer_off[k], b, batch, fb,
                                  layer_off[k - 1], xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a, energy)
        # nudging of the output layer, from the current states
        if beta != 0.0 and ce:
            energy = ce_nudge(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                              dac_clip, ro_fwd, ro_bwd, ro_fwd, ro_bwd, keys, calls, s, last0, n_last, b,
                              batch, labels[b], beta32, ro_bias, probs, nudge, xq, xq2, mean, var, zbuf,
                              abuf, hi_a, lo_a, energy)
        elif beta != 0.0:
            mse_nudge(nudge, s, last0, n_last, labels[b], beta32)
        # periphery: biases, feedback, nudging, hard sigmoid, damped update (into h)
        res = periphery(s, h, fb, nudge, bias, n_total, last0, n_last, beta != 0.0, eps32,
                        tol > 0.0 or t == max_steps - 1, res)
        s, h = h, s
        done = t + 1
        if tol > 0.0 and res <= tol:
            break
    # class scores: the output layer (mse) or one read of the readout (ce)
    if ce:
        energy = counted_read(meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                              dac_clip, ro_fwd, ro_fwd, keys, calls, s, last0, b, batch, probs, 0, xq, xq2,
                              mean, var, zbuf, abuf, hi_a, lo_a, energy)
    store_sample(b, s, n_total, probs, ro_bias, last0, ce, done, res, energy, calls,
                 out_states, logits, steps, residuals, energy_units, read_counts)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _settle_range(b0, b1, meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step, dac_clip,
                  layer_off, fwd_read, bwd_read, ro_fwd, ro_bwd, bias, ro_bias,
                  x, states, labels, beta, eps, max_steps, tol, keys,
                  out_states, logits, steps, residuals, energy_units, read_counts):
    """Samples b0 <= b < b1 (without the GIL: threads run disjoint ranges at once)."""
    for b in range(b0, b1):
        _settle_sample(b, meta, w_flat, s2_flat, wd_flat, s2d_flat, edges, tiles, line_g, dac_step,
                       dac_clip, layer_off, fwd_read, bwd_read, ro_fwd, ro_bwd, bias, ro_bias,
                       x, states, labels, beta, eps, max_steps, tol, keys,
                       out_states, logits, steps, residuals, energy_units, read_counts)


#: the worker threads of :func:`settle_dense_kernel`: ``[(size, executor)]``, made on first use
_POOL: list = []
os.register_at_fork(after_in_child=_POOL.clear)  # a forked child has none of its parent's threads


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of at least ``threads`` worker threads (grown when more are asked for)."""
    if not _POOL or _POOL[0][0] < threads:
        _POOL[:] = [(threads, ThreadPoolExecutor(threads, thread_name_prefix="analogeq-settle"))]
    return _POOL[0][1]


def settle_dense_kernel(packed, x, states, labels, beta, eps, max_steps, tol, keys, *, parallel=None):
    """Run the fused settling on a batch; returns (states, logits, steps, residuals, energy_units,
    read_counts). ``packed``: a :class:`~analogeq.substrates.crossbar.programmed.PackedDenseNetwork`;
    ``x`` (B, n_in) float32; ``states`` (B, n_state) float32 start; ``labels`` (B,) int64;
    ``keys`` (rows, R) uint64 with rows > the number of reads of one matrix direction.
    ``parallel``: False runs in the calling thread; True or None split the batch over
    ``min(B, numba.get_num_threads())`` threads (one range each; same numbers either way)."""
    batch = x.shape[0]
    outputs = settle_outputs(batch, int(packed.layer_off[-1]), packed.n_classes, packed.meta.shape[0])
    threads = 1 if parallel is False else min(batch, numba.get_num_threads())
    args = (packed.meta, packed.w_flat, packed.s2_flat, packed.wd_flat, packed.s2d_flat, packed.edges, packed.tiles,
            packed.line_g, float(packed.dac_step), float(packed.dac_clip), packed.layer_off, packed.fwd_read,
            packed.bwd_read, int(packed.ro_fwd), int(packed.ro_bwd), packed.bias, packed.ro_bias,
            x, states, labels, float(beta), float(eps), int(max_steps), float(tol), keys, *outputs)
    with compile_notice("crossbar dense settle"):
        if threads <= 1:
            _settle_range(0, batch, *args)
        else:
            cuts = [batch * k // threads for k in range(threads + 1)]
            futures = [_pool(threads).submit(_settle_range, cuts[k], cuts[k + 1], *args) for k in range(threads)]
            for f in futures:
                f.result()
    return outputs
