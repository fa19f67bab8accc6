"""The two pooling kinds of a convolutional synapse and their adjoints (unpooling).

A convolution output z of shape (B, C, H_c, W_c) is pooled over non-overlapping q x q windows
(window = stride = q; a last partial row or column of windows is dropped, as torch does), giving
(B, C, H_c // q, W_c // q):

* ``"max"`` (Laborieux et al. 2021): P(z)[c, i, j] = max over the window of z. Its adjoint
  (the derivative of <P(z), y> in z) puts y[c, i, j] back at the argmax of the window (zeros
  elsewhere): the argmax indices are the *context* the adjoint needs.
* ``"avg"`` (hardware that sums, e.g. spiking synapses onto one neuron): P(z)[c, i, j] = mean
  over the window of z, a linear map. Its adjoint is its transpose: y[c, i, j] / q^2 copied to
  each of the q^2 positions of the window (zeros in the dropped rows/columns); no context.

With "avg" the coupling <P(W * s), y> is bilinear in (s, y), so the EBM's energy stays linear in
each state and EqProp needs nothing special. Values are unitless (states and currents alike).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from hardware_models.params import OneOf, ParameterError

#: the pooling kinds a convolutional synapse supports (the first is the default)
POOL_KINDS = ("max", "avg")


def pool(z: torch.Tensor, q: int, kind: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """P(z) over q x q windows and the context its adjoint needs (argmax indices for "max",
    None for "avg" or q == 1)."""
    if q == 1:
        return z, None
    if kind == "max":
        return F.max_pool2d(z, q, stride=q, return_indices=True)
    if kind == "avg":
        return F.avg_pool2d(z, q, stride=q), None
    raise ValueError(f"pool kind must be one of {list(POOL_KINDS)}, got {kind!r}")


def unpool(post: torch.Tensor, context: torch.Tensor | None, q: int, kind: str,
           conv_hw: tuple[int, int]) -> torch.Tensor:
    """The adjoint of :func:`pool` applied to ``post`` (B, C, H_c // q, W_c // q): shape
    (B, C, *conv_hw)."""
    if q == 1:
        return post
    if kind == "max":
        return F.max_unpool2d(post, context, q, stride=q, output_size=tuple(conv_hw))
    if kind == "avg":
        up = post.repeat_interleave(q, dim=-2).repeat_interleave(q, dim=-1) / float(q * q)
        hc, wc = conv_hw
        return F.pad(up, (0, wc - up.shape[-1], 0, hc - up.shape[-2]))
    raise ValueError(f"pool kind must be one of {list(POOL_KINDS)}, got {kind!r}")


def check_pool_kinds(owner: str, value: Any, n: int) -> tuple[str, ...]:
    """One pooling kind of :data:`POOL_KINDS` per conv layer of ``n`` (a single string is
    broadcast); bad input raises one :class:`ParameterError` line naming the field."""
    check = OneOf(POOL_KINDS)
    if isinstance(value, str):
        return (check("pool_kinds", value, owner),) * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ParameterError(owner, "pool_kinds", f"must be one of {list(POOL_KINDS)} or a list of {n} of them "
                             f"(one per conv layer), got {value!r}")
    return tuple(check(f"pool_kinds[{i}]", v, owner) for i, v in enumerate(value))


__all__ = ["POOL_KINDS", "check_pool_kinds", "pool", "unpool"]
