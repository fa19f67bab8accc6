"""Backpropagation through the settling (BPTT): the reference gradient for EqProp.

The free phase is unrolled for ``steps`` synchronous steps from s = 0 with an autograd graph,
and the mean cost L = <C(s_T)> over the batch is differentiated with respect to every
parameter. With ``steps`` long enough for the network to settle this is the gradient of the
loss at the fixed point, which EqProp estimates (Scellier & Bengio 2017, Ernoult et al. 2019).
Memory grows linearly with ``steps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from analogeq.contract import check_labels
from analogeq.ebm.settle import settle
from hardware_models.params import check_int


@dataclass
class BPTTResult:
    """Mean cost of the batch at the last unrolled step and the class scores there (detached)."""

    loss: float
    scores: torch.Tensor


def bptt_gradients(
    model, x: torch.Tensor, y: torch.Tensor, steps: int, synapses: list[nn.Module] | None = None
) -> BPTTResult:
    """Fill ``p.grad`` of every parameter with d<C(s_steps)>/dtheta (overwriting existing values)."""
    check_int("steps", steps, minimum=1)
    check_labels(y, model.num_classes, x.shape[0])
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        states = settle(model, x.detach(), max_steps=steps, tol=0.0, synapses=synapses).states
        loss = model.cost(states, y, synapses).mean()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    for p, g in zip(params, grads):
        p.grad = torch.zeros_like(p) if g is None else g.detach()
    with torch.no_grad():
        scores = model.output([s.detach() for s in states], synapses)
    return BPTTResult(loss=float(loss.detach()), scores=scores)


__all__ = ["BPTTResult", "bptt_gradients"]
