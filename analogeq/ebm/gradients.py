"""Differentiating an EBM's prediction with respect to its input, for white-box attacks.

Modes (:class:`~analogeq.substrates.base.GradientSpec`):

* ``full``: backpropagation through every settling step used for prediction (same budget
  and tolerance as ``forward``).
* ``truncated``: backpropagation through a free phase of ``truncated_steps`` steps from s = 0,
  while prediction uses the full budget (the seed study's attack).
* ``implicit``: implicit differentiation at the fixed point (not yet implemented).
"""

from __future__ import annotations

import torch
from torch import nn

from analogeq.ebm.settle import settle
from analogeq.substrates.base import GradientSpec


def attack_scores(model, x: torch.Tensor, gradient: GradientSpec, synapses: list[nn.Module] | None = None) -> torch.Tensor:
    """Class scores of ``model`` (a LayeredEBM) differentiable with respect to ``x``."""
    cfg = model.config
    with torch.enable_grad():
        if gradient.settle == "full":
            result = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol, synapses=synapses)
        elif gradient.settle == "truncated":
            result = settle(model, x, max_steps=gradient.truncated_steps, tol=0.0, synapses=synapses)
        else:
            raise NotImplementedError(f"gradient mode {gradient.settle!r} is not implemented yet")
        return model.output(result.states, synapses)
