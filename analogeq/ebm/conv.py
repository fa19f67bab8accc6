"""The convolutional EBM (Laborieux et al. 2021): conv + pool layers, then dense layers.

Primitive of one convolutional synapse between a pre layer s_{k-1} (C_in, H, W) and a post
layer s_k (C_out, H', W'):

    phi_syn(s_{k-1}, s_k) = < P(W_k * s_{k-1}), s_k >

with ``*`` a stride-1 convolution with zero padding and P a non-overlapping pool (window =
stride = ``pool_size``; 1 = no pooling) of kind ``"max"`` (default) or ``"avg"``
(:mod:`analogeq.ebm.pooling`). Its two reads:

* ``forward(pre)  = P(W * pre)``: the input current to the post layer;
* ``adjoint(post, pre) = d phi_syn / d pre = W^T (*) U(post)``: U is the adjoint of P (max:
  each post value back at the argmax of its window of ``W * pre``; avg: post / q^2 spread over
  its window) and ``W^T (*)`` is the transposed convolution. This is exactly the autograd
  derivative of the primitive.

The rest (energy, nudging, synchronous damped update, settling) is :class:`LayeredEBM`'s:
per-channel biases of shape (C, 1, 1), dense layers after the last convolution, an output layer
with squared error (``mse``) or a cross-entropy readout (``ce``).

Hardware substrates read a convolution as a matrix ``weight_matrix()`` of shape
(C_out, C_in k k) applied to unfolded input patches: ``forward_with(pre, read)`` and
``adjoint_with(post, pre, read, read_t)`` run the same synapse with their own matrix reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from analogeq.contract import CrossbarMatrix, MatrixRead
from analogeq.ebm.config_dict import JSONConfig, check_fields
from analogeq.ebm.layered import LAYERED_CONSTRAINTS, LayeredEBM, dense_sizes, dense_stack
from analogeq.ebm.conv_stack import CIFAR10_CONV_STACK, ConvStackConfig, conv_pool_shapes
from analogeq.ebm.pooling import POOL_KINDS, check_pool_kinds, pool, unpool
from analogeq.ebm.schedules import SCHEDULES
from hardware_models.params import Boolean, OneOf

#: constraints of the settling-schedule fields (:mod:`analogeq.ebm.schedules`)
SCHEDULE_CONSTRAINTS = {"schedule": OneOf(SCHEDULES), "per_sample_stop": Boolean()}


class ConvPoolSynapse(nn.Module):
    """Convolution (stride 1, zero ``padding``) followed by a ``pool_size`` x ``pool_size`` pool.

    Parameters
    ----------
    in_shape: (C_in, H, W) of the pre layer.
    out_channels: C_out.
    kernel_size: k (square kernels).
    padding: zero padding on each side.
    pool_size: window and stride of the pool (1 = no pooling).
    pool_kind: ``"max"`` or ``"avg"`` (:data:`~analogeq.ebm.pooling.POOL_KINDS`).
    gain: initialisation scale: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)),
        fan_in = C_in k^2, fan_out = C_out k^2 (Glorot uniform for convolutions).

    Weight shape (C_out, C_in, k, k), as ``torch.nn.Conv2d``.
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        pool_size: int = 2,
        gain: float = 1.0,
        generator: torch.Generator | None = None,
        pool_kind: str = "max",
    ):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (C, H, W), got {tuple(in_shape)}")
        self.in_shape = tuple(int(d) for d in in_shape)
        self.in_channels = self.in_shape[0]
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.padding = int(padding)
        self.pool_size = int(pool_size)
        self.pool_kind = OneOf(POOL_KINDS)("pool_kind", pool_kind, type(self).__name__)
        _, h, w = self.in_shape
        hc = h + 2 * self.padding - self.kernel_size + 1
        wc = w + 2 * self.padding - self.kernel_size + 1
        if hc < 1 or wc < 1:
            raise ValueError(
                f"kernel_size {self.kernel_size} with padding {self.padding} does not fit an input of {h}x{w}"
            )
        if hc < self.pool_size or wc < self.pool_size:
            raise ValueError(f"pool_size {self.pool_size} is larger than the {hc}x{wc} convolution output")
        self.conv_shape = (self.out_channels, hc, wc)
        self.out_shape = (self.out_channels, hc // self.pool_size, wc // self.pool_size)
        fan_in = self.in_channels * self.kernel_size**2
        fan_out = self.out_channels * self.kernel_size**2
        bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
        wt = torch.empty(self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
        wt.uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(wt)

    # ------------------------------------------------------------------ pieces
    def conv(self, pre: torch.Tensor) -> torch.Tensor:
        """W * pre, shape (B, *conv_shape)."""
        return F.conv2d(pre, self.weight, padding=self.padding)

    def conv_transpose(self, g: torch.Tensor) -> torch.Tensor:
        """W^T (*) g for g of shape (B, *conv_shape): the adjoint of :meth:`conv`, shape (B, *in_shape)."""
        return F.conv_transpose2d(g, self.weight, padding=self.padding)

    def pool(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pool of a convolution output and its context: the argmax indices for "max" (None for
        "avg" or pool_size 1)."""
        return pool(z, self.pool_size, self.pool_kind)

    def unpool(self, post: torch.Tensor, indices: torch.Tensor | None) -> torch.Tensor:
        """The adjoint of :meth:`pool`: max: each post value at the argmax of its window (zeros
        elsewhere); avg: post / pool_size^2 at every position of its window."""
        return unpool(post, indices, self.pool_size, self.pool_kind, self.conv_shape[1:])

    # ------------------------------------------------------------------ reads
    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        """P(W * pre), shape (B, *out_shape)."""
        return self.pool(self.conv(pre))[0]

    def adjoint(self, post: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        """d <P(W * pre), post> / d pre, shape (B, *in_shape)."""
        _, indices = self.pool(self.conv(pre))
        return self.conv_transpose(self.unpool(post, indices))

    def forward_and_adjoint(self, pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forward(pre), adjoint(post, pre))`` with one convolution instead of two."""
        pooled, indices = self.pool(self.conv(pre))
        return pooled, self.conv_transpose(self.unpool(post, indices))

    def forward_with_context(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(forward(pre), argmax indices)``: the indices are the context :meth:`adjoint_from_context`
        needs, valid while ``pre`` is unchanged (the scheduled settle reuses them)."""
        return self.pool(self.conv(pre))

    def adjoint_from_context(self, post: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """``adjoint(post, pre)`` from the argmax indices of ``forward_with_context(pre)``."""
        return self.conv_transpose(self.unpool(post, context))

    def phi(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        """Per-sample coupling <P(W * pre), post>, shape (B,)."""
        return (self.forward(pre) * post).flatten(1).sum(dim=-1)

    # ------------------------------------------------------------------ matrix view (hardware)
    def weight_matrix(self) -> torch.Tensor:
        """The kernel as a (C_out, C_in k^2) matrix acting on unfolded patches (n_post, n_pre)."""
        return self.weight.reshape(self.out_channels, -1)

    def patches(self, pre: torch.Tensor) -> torch.Tensor:
        """Unfolded input patches, one row per output position: (B * H_c * W_c, C_in k^2)."""
        cols = F.unfold(pre, self.kernel_size, padding=self.padding)  # (B, C_in k^2, L)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])

    def conv_with(self, pre: torch.Tensor, read: MatrixRead) -> torch.Tensor:
        """W * pre computed as ``read(patches)``; ``read`` maps (M, C_in k^2) -> (M, C_out)."""
        b = pre.shape[0]
        _, hc, wc = self.conv_shape
        rows = read(self.patches(pre))
        return rows.reshape(b, hc * wc, self.out_channels).transpose(1, 2).reshape(b, *self.conv_shape)

    def conv_transpose_with(self, g: torch.Tensor, read_t: MatrixRead) -> torch.Tensor:
        """W^T (*) g computed as ``read_t(rows)`` then folded; ``read_t`` maps (M, C_out) -> (M, C_in k^2)."""
        b = g.shape[0]
        rows = g.reshape(b, self.out_channels, -1).transpose(1, 2).reshape(-1, self.out_channels)
        cols = read_t(rows).reshape(b, -1, self.in_channels * self.kernel_size**2).transpose(1, 2)
        return F.fold(cols, self.in_shape[1:], self.kernel_size, padding=self.padding)

    def forward_with(self, pre: torch.Tensor, read: MatrixRead) -> torch.Tensor:
        """:meth:`forward` with the convolution done by a matrix read (e.g. a crossbar)."""
        return self.pool(self.conv_with(pre, read))[0]

    def adjoint_with(self, post: torch.Tensor, pre: torch.Tensor, read: MatrixRead, read_t: MatrixRead) -> torch.Tensor:
        """:meth:`adjoint` with matrix reads: the argmax positions come from ``read`` (forward
        direction), the feedback from ``read_t`` (the same array read transposed)."""
        _, indices = self.pool(self.conv_with(pre, read))
        return self.conv_transpose_with(self.unpool(post, indices), read_t)

    def crossbar_matrix(self, name: str) -> CrossbarMatrix:
        """The kernel (C_out, C_in k^2) as a hardware substrate programs it: one row read per
        output position of the convolution."""
        return CrossbarMatrix(name, self.weight_matrix().detach(), "patches", self.conv_shape[1] * self.conv_shape[2])

    def with_reads(self, read: MatrixRead, read_t: MatrixRead) -> "ConvReadSynapse":
        """This synapse with its kernel products done by ``read`` and ``read_t``."""
        return ConvReadSynapse(self, read, read_t)

    def extra_repr(self) -> str:
        return (
            f"in_shape={self.in_shape}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding}, pool_size={self.pool_size}, pool_kind={self.pool_kind!r}"
        )


class ConvReadSynapse:
    """A :class:`ConvPoolSynapse` whose kernel products are matrix reads on unfolded patches (one
    row read per output position); the pool (and a max-pool's argmax) stay as they are, the feedback is
    the backward read of the same matrix folded back (a transposed convolution)."""

    def __init__(self, synapse: ConvPoolSynapse, read: MatrixRead, read_t: MatrixRead):
        self.synapse, self.read, self.read_t = synapse, read, read_t

    def __call__(self, pre: torch.Tensor) -> torch.Tensor:
        return self.forward(pre)

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return self.synapse.forward_with(pre, self.read)

    def adjoint(self, post: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        return self.synapse.adjoint_with(post, pre, self.read, self.read_t)

    def forward_with_context(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The forward read and its argmax indices (see :meth:`ConvPoolSynapse.forward_with_context`)."""
        syn = self.synapse
        return syn.pool(syn.conv_with(pre, self.read))

    def adjoint_from_context(self, post: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """The feedback read from the argmax indices of :meth:`forward_with_context`."""
        syn = self.synapse
        return syn.conv_transpose_with(syn.unpool(post, context), self.read_t)

    def forward_and_adjoint(self, pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both reads of one step with one forward read (its argmax positions serve the feedback)."""
        syn = self.synapse
        pooled, indices = syn.pool(syn.conv_with(pre, self.read))
        return pooled, syn.conv_transpose_with(syn.unpool(post, indices), self.read_t)


@dataclass(frozen=True)
class ConvEBMConfig(ConvStackConfig, JSONConfig):
    """Configuration of a convolutional EBM (JSON-serialisable through ``to_dict``).

    input_shape, channels, kernel_sizes, paddings, pool_sizes, hidden_sizes, num_classes: the
        layers (:class:`ConvStackConfig`).
    readout, free_steps, nudge_steps, tol, step_size, init_gain, seed: as in
        :class:`~analogeq.ebm.dense.DenseEBMConfig`. The budgets default to the seed study's
        T1 = 250 free and T2 = 30 nudged steps. Convolutional EBMs settle more slowly than dense
        ones (measured on a small net trained on digits: 98 % of samples within 1e-4 after 320
        steps at step_size 0.5); step_size 1 (Laborieux et al.'s plain update) is about twice as
        fast but left a sample in a period-2 oscillation (residual 1.0), hence 0.5 by default.
    schedule: ``"sync"`` (default: the reference synchronous step) or ``"async"``: the sweeps of
        every settle on the model's own synapses (:mod:`analogeq.ebm.schedules`). ``"async"``
        updates the odd layers from the even ones, then the even from the new odd, undamped
        (``step_size`` is the synchronous step's): the same fixed points in about 3x fewer sweeps,
        but from s = 0 it can settle in another fixed point than the synchronous step where there
        are several (random CIFAR-shape nets: half the predictions differ), and EqProp training of
        the ``mnist5k_conv`` recipe with it did not learn (val accuracy 0.10 vs 0.54 after 2
        epochs on 1,000 images) -- hence not the default.
    per_sample_stop: freeze each sample once its own residual is <= tol and drop it from the
        batch (default True; settles without an autograd graph). ``schedule="sync",
        per_sample_stop=False`` is the reference settle (before issue 13). Hardware reads passed
        as ``synapses=`` settle with the reference loop.
    pool_kinds: the pooling of each conv layer, ``"max"`` (default, Laborieux et al.) or
        ``"avg"`` (a linear pool that spiking hardware can run, :mod:`analogeq.ebm.pooling`); one
        string is broadcast to every layer. Stored as a tuple; ``to_dict`` leaves it out when
        every layer is "max", so configs written before the field load (as all "max") and hash
        as they did.

    :meth:`cifar10` gives the shape of Laborieux et al. (2021) used by the seed study.
    """

    readout: str = "ce"
    free_steps: int = 250
    nudge_steps: int = 30
    tol: float = 1e-4
    step_size: float = 0.5
    init_gain: float = 1.0
    seed: int = 0
    schedule: str = "sync"
    per_sample_stop: bool = True
    pool_kinds: tuple[str, ...] | str = "max"
    kind: str = field(default="conv_ebm", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, {**LAYERED_CONSTRAINTS, **SCHEDULE_CONSTRAINTS})
        object.__setattr__(self, "pool_kinds", check_pool_kinds(type(self).__name__, self.pool_kinds, len(self.channels)))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if all(k == "max" for k in self.pool_kinds):
            del d["pool_kinds"]  # the default: configs from before the field hash the same
        return d

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """State shape of every conv layer, computed (and checked) from the configuration."""
        return self.conv_shapes()

    @classmethod
    def cifar10(cls, **overrides: Any) -> "ConvEBMConfig":
        """Laborieux et al. (2021) CIFAR-10 shape (arXiv 2401.11543 uses it too):
        :data:`CIFAR10_CONV_STACK`, 512 -> 10 ce readout; 250 free steps, 30 nudged steps (T1, T2
        of the seed study)."""
        base: dict[str, Any] = dict(CIFAR10_CONV_STACK, hidden_sizes=(), num_classes=10, readout="ce",
                                    free_steps=250, nudge_steps=30)
        base.update(overrides)
        return cls(**base)


class ConvEBM(LayeredEBM):
    """Convolutional layered EBM; ``forward(x)`` settles the free phase and returns class scores."""

    def __init__(self, config: ConvEBMConfig):
        super().__init__()
        gen = self._init_from_config(config)
        synapses: list[nn.Module] = []
        biases: list[nn.Parameter] = []
        shapes: list[tuple[int, ...]] = []
        pre_shape = config.input_shape
        for c, k, p, q, pk in zip(config.channels, config.kernel_sizes, config.paddings, config.pool_sizes,
                                  config.pool_kinds):
            syn = ConvPoolSynapse(pre_shape, c, k, p, q, gain=config.init_gain, generator=gen, pool_kind=pk)
            synapses.append(syn)
            biases.append(nn.Parameter(torch.zeros(c, 1, 1)))
            shapes.append(syn.out_shape)
            pre_shape = syn.out_shape
        dense = dense_stack(pre_shape, dense_sizes(config), config.init_gain, gen)
        self._set_layers(synapses + dense[0], biases + dense[1], shapes + dense[2], gen)


__all__ = [
    "CIFAR10_CONV_STACK",
    "ConvEBM",
    "ConvEBMConfig",
    "ConvPoolSynapse",
    "ConvReadSynapse",
    "ConvStackConfig",
    "check_pool_kinds",
    "conv_pool_shapes",
]
