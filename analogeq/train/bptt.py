"""Backpropagation through the settling (BPTT): the reference gradient for EqProp.

The free phase is unrolled for ``steps`` synchronous steps from s = 0 with an autograd graph,
and the mean cost L = <C(s_T)> over the batch is differentiated with respect to every
parameter. With ``steps`` long enough for the network to settle this is the gradient of the
loss at the fixed point, which EqProp estimates (Scellier & Bengio 2017, Ernoult et al. 2019).
Memory grows linearly with ``steps``.

Where the hard sigmoid clamps. At the fixed point s_k = rho(h_k), so a unit held at a bound
(h <= 0 or h >= 1) passes no gradient: dC/dh = dC/ds * rho'(h) = 0. For a squared-error output
layer (``readout="mse"``, C = 1/2 ||s_N - onehot(y)||^2) this includes the target unit of a
sample whose h_c <= 0: s_c = 0 < 1, yet BPTT (and EqProp as beta -> 0) get nothing to raise it.
EqProp at a finite nudging strength beta still does where h_c > -beta: the nudge current
beta (1 - s_c) = beta lifts the unit over the clamp in the +beta phase. An output unit pushed
below zero on every sample of its class is then stuck under BPTT (a lost class, about 10 points
of accuracy on ten balanced classes); EqProp at beta 0.5 keeps lifting it (measured on mnist-5k:
benchmarks/RESULTS.md, "BPTT twins: why"). :func:`clamped_target_fraction` measures it.
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


@torch.no_grad()
def clamped_target_fraction(model, x: torch.Tensor, y: torch.Tensor, states: list[torch.Tensor] | None = None,
                            margin: float = 0.0) -> torch.Tensor | None:
    """Per class c (shape (num_classes,)), the fraction of its samples whose own output unit is
    held below the hard sigmoid's lower bound at the free fixed point: h_c = b_c + A_N(s_{N-1})_c
    <= -``margin`` (dimensionless, like the states). With margin 0 these are the samples whose
    target unit BPTT cannot raise (see the module docstring); with margin beta, those EqProp at
    nudging beta cannot raise either. NaN for a class absent from ``y``; None for a ``ce``
    readout (outside the energy: no clamp between the states and the cost).

    ``states``: the free fixed point (default: a free phase at the config's budget and tol)."""
    if getattr(model, "readout", None) is not None:
        return None
    check_labels(y, model.num_classes, x.shape[0])
    if states is None:
        cfg = model.config
        states = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol).states
    pre = x if len(states) == 1 else states[-2]
    h = model.synapses[-1](pre) + model.biases[-1]
    held = (h.gather(1, y[:, None]).squeeze(1) <= -float(margin)).to(h.dtype)
    count = torch.bincount(y, minlength=model.num_classes).to(h.dtype)
    held_sum = torch.zeros(model.num_classes, dtype=h.dtype, device=h.device).index_add_(0, y, held)
    return torch.where(count > 0, held_sum / count.clamp(min=1), torch.full_like(count, float("nan")))


__all__ = ["BPTTResult", "bptt_gradients", "clamped_target_fraction"]
