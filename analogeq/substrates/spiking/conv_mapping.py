"""Every synapse of a layered EBM as the linear map a spiking chip wires: convolutions included.

A spiking neuron sums the weighted spikes it receives, so a synapse can run as spikes when its
forward read is a LINEAR map of the pre layer's state: the current into post unit i is
sum_j M[i, j] s_j, and its feedback read is the exact transpose M^T. A dense synapse is its
weight matrix; a convolution (stride 1, zero padding p, kernel K of shape (C_out, C_in, k, k))
followed by a non-overlapping q x q average pool (or no pool, q = 1) is the sparse matrix

    M[(o, y, x), (c, y_in, x_in)] = sum over (a, b) in [0, q)^2 of K[o, c, dy, dx] / q^2,
    y_in = q y + a + dy - p,   x_in = q x + b + dx - p      (0 <= y_in < H, 0 <= x_in < W)

with the post layer (C_out, H_c // q, W_c // q) and the pre layer (C_in, H, W) flattened in C
order (channel, row, column), as the EBM flattens them. Built vectorised from the kernel
indices (one numpy pass per offset (a, b, dy, dx)); duplicates (the same pre unit reached from
two positions of a pooling window) are summed, and every pair the geometry connects is stored,
zeros included: the connectivity depends on the shapes only.

A max-pool is not linear (its argmax moves with the state): those layers are refused, naming
the pooling option to use instead. Per-channel biases (C, 1, 1) become one constant current
per unit. Values are unitless (states and currents alike).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import torch

from hardware_models.params import ParameterError

__all__ = ["check_spiking_ebm", "conv_linear_map", "linear_maps", "unit_biases"]


def _pool_kind(synapse: Any) -> str:
    return str(getattr(synapse, "pool_kind", "max"))


def check_spiking_ebm(model: Any, what: str = "the spiking substrate") -> None:
    """Raise ParameterError (a TypeError and the package's one-line error) unless ``model`` is a layered EBM; ValueError (one line naming the layer
    and the option to use) for a max-pool convolution, which is not a linear map."""
    from analogeq.contract import SettlingModel

    if not isinstance(model, SettlingModel):
        raise ParameterError(None, "model", f"{what} runs layered energy-based networks (e.g. DenseEBM, ConvEBM), "
                                            f"got {type(model).__name__}")
    for k, m in enumerate(model.crossbar_matrices()):
        if m.read not in ("dense", "patches"):
            raise ValueError(f"{what} cannot run matrix {k + 1} ({m.name}): a {m.read!r} read; allowed: 'dense', 'patches'")
    for k, syn in enumerate(model.synapses):
        if int(getattr(syn, "pool_size", 1)) > 1 and _pool_kind(syn) != "avg":
            raise ValueError(f"{what} cannot run {_pool_kind(syn)}-pool (conv layer {k}, pool_size "
                             f"{syn.pool_size}): it is not a linear map; use pool_kinds=('avg', ...) in ConvEBMConfig "
                             f"(or pool_sizes=1)")


def conv_linear_map(weight: np.ndarray, in_shape: tuple[int, int, int], padding: int, pool_size: int) -> scipy.sparse.csr_matrix:
    """The sparse (n_post, n_pre) matrix of a stride-1 convolution with ``weight`` (C_out, C_in,
    k, k) and zero ``padding``, followed by a ``pool_size`` average pool (see module docstring)."""
    w = np.asarray(weight, dtype=np.float64)
    c_out, c_in, k, k2 = w.shape
    if k != k2:
        raise ValueError(f"weight must hold square kernels, got shape {w.shape}")
    _, h, wd = (int(d) for d in in_shape)
    p, q = int(padding), int(pool_size)
    hp, wp = (h + 2 * p - k + 1) // q, (wd + 2 * p - k + 1) // q
    yp, xp = np.arange(hp), np.arange(wp)
    o, c = np.arange(c_out)[:, None, None, None], np.arange(c_in)[None, :, None, None]
    rows, cols, vals = [], [], []
    for a in range(q):
        for b in range(q):
            for dy in range(k):
                for dx in range(k):
                    y_in, x_in = q * yp + a + dy - p, q * xp + b + dx - p
                    ys, xs = (y_in >= 0) & (y_in < h), (x_in >= 0) & (x_in < wd)
                    yv, xv = yp[ys][None, None, :, None], xp[xs][None, None, None, :]
                    yi, xi = y_in[ys][None, None, :, None], x_in[xs][None, None, None, :]
                    shape = (c_out, c_in, yv.shape[2], xv.shape[3])
                    rows.append(np.broadcast_to((o * hp + yv) * wp + xv, shape).ravel())
                    cols.append(np.broadcast_to((c * h + yi) * wd + xi, shape).ravel())
                    vals.append(np.broadcast_to(w[:, :, dy, dx][:, :, None, None] / (q * q), shape).ravel())
    m = scipy.sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(c_out * hp * wp, c_in * h * wd)).tocsr()
    m.sum_duplicates()
    return m


def linear_maps(model: Any) -> list:
    """The linear map of every energy synapse of ``model`` (checked by :func:`check_spiking_ebm`),
    in layer order: a dense float64 array for a dense synapse, a CSR matrix for a convolution."""
    check_spiking_ebm(model)
    out = []
    with torch.no_grad():
        for syn, m in zip(model.synapses, model.crossbar_matrices()):
            if m.read == "dense":
                out.append(m.weight.detach().cpu().double().numpy())
            else:
                out.append(conv_linear_map(syn.weight.detach().cpu().double().numpy(), syn.in_shape, syn.padding,
                                           int(getattr(syn, "pool_size", 1))))
    return out


def unit_biases(model: Any) -> list[np.ndarray]:
    """One bias per unit of every state layer (a per-channel bias (C, 1, 1) repeated over H x W)."""
    with torch.no_grad():
        return [b.detach().cpu().double().expand(*shape).reshape(-1).numpy().copy()
                for b, shape in zip(model.biases, model.state_shapes)]
