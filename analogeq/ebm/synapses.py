"""Synapses: the weighted connections between two layers of an energy-based network.

A synapse joins a *pre* layer (closer to the input) and a *post* layer. It contributes the
coupling term of the primitive function (the negative energy)

    phi_syn(pre, post) = < post, A(pre) >

where A is the synapse's linear (or piecewise-linear) map. Settling needs two reads of it:

* ``forward(pre)  = A(pre)``                      the input current to the post layer
* ``adjoint(post, pre) = d phi_syn / d pre``       the feedback current to the pre layer

For a dense synapse A(pre) = W pre and the adjoint is W^T post: the same weights read in both
directions, which is what a symmetric EBM on a crossbar does with one physical array.
Hardware substrates replace these two reads (and nothing else) by their emulated versions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from analogeq.contract import CrossbarMatrix, MatrixRead


class DenseSynapse(nn.Module):
    """Full connection ``A(pre) = pre_flat @ W^T`` with ``W`` of shape ``(n_post, n_pre)``.

    ``pre_shape`` is the shape of one pre-layer state (e.g. ``(1, 8, 8)`` for an image input or
    ``(C, H, W)`` after a convolutional layer); it is flattened for the product and the adjoint is
    reshaped back. Weight shape follows ``torch.nn.Linear`` and NIR: (n_post, n_pre).
    Initialisation: Glorot uniform, U(-a, a) with a = gain * sqrt(6 / (n_pre + n_post)).
    """

    def __init__(self, pre_shape: tuple[int, ...], n_post: int, gain: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        self.pre_shape = tuple(int(d) for d in pre_shape)
        self.n_pre = int(math.prod(self.pre_shape))
        self.n_post = int(n_post)
        bound = gain * math.sqrt(6.0 / (self.n_pre + self.n_post))
        w = torch.empty(self.n_post, self.n_pre)
        w.uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(w)

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return pre.reshape(pre.shape[0], self.n_pre) @ self.weight.t()

    def adjoint(self, post: torch.Tensor, pre: torch.Tensor | None = None) -> torch.Tensor:
        return (post @ self.weight).reshape(post.shape[0], *self.pre_shape)

    def forward_with_context(self, pre: torch.Tensor) -> tuple[torch.Tensor, None]:
        """``(forward(pre), None)``: a dense adjoint needs no context from the forward read."""
        return self.forward(pre), None

    def adjoint_from_context(self, post: torch.Tensor, context: None = None) -> torch.Tensor:
        """``adjoint(post)`` (the interface of :meth:`ConvPoolSynapse.adjoint_from_context`)."""
        return self.adjoint(post)

    def phi(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Per-sample coupling <post, W pre>, shape (B,)."""
        return (self.forward(pre) * post).sum(dim=-1)

    def crossbar_matrix(self, name: str) -> CrossbarMatrix:
        """W (n_post, n_pre) as a hardware substrate programs it: one row read per sample."""
        return CrossbarMatrix(name, self.weight.detach(), "dense", 1)

    def with_reads(self, read: MatrixRead, read_t: MatrixRead) -> "DenseReadSynapse":
        """This synapse with its two products done by ``read`` (W) and ``read_t`` (W^T)."""
        return DenseReadSynapse(read, read_t, self.pre_shape)

    def extra_repr(self) -> str:
        return f"pre_shape={self.pre_shape}, n_post={self.n_post}"


class DenseReadSynapse:
    """A dense synapse whose products are matrix reads (e.g. the two read directions of one
    crossbar array): ``forward(pre) = read(pre_flat)``, ``adjoint(post) = read_t(post)`` reshaped
    to the pre layer."""

    def __init__(self, read: MatrixRead, read_t: MatrixRead, pre_shape: tuple[int, ...]):
        self.read, self.read_t = read, read_t
        self.pre_shape = tuple(pre_shape)
        self.n_pre = math.prod(self.pre_shape)

    def __call__(self, pre: torch.Tensor) -> torch.Tensor:
        return self.forward(pre)

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return self.read(pre.reshape(pre.shape[0], self.n_pre))

    def adjoint(self, post: torch.Tensor, pre: torch.Tensor | None = None) -> torch.Tensor:
        return self.read_t(post).reshape(post.shape[0], *self.pre_shape)

    def forward_with_context(self, pre: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.forward(pre), None

    def adjoint_from_context(self, post: torch.Tensor, context: None = None) -> torch.Tensor:
        return self.adjoint(post)
