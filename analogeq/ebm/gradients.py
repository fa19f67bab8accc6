"""Differentiating an EBM's prediction with respect to its input, for white-box attacks.

Modes (:class:`~analogeq.contract.GradientSpec`):

* ``full``: backpropagation through every settling step used for prediction (same budget
  and tolerance as ``forward``).
* ``truncated``: backpropagation through a free phase of ``truncated_steps`` steps from s = 0,
  while prediction uses the full budget (the seed study's attack, arXiv 2401.11543).
* ``implicit``: implicit differentiation at the fixed point. With the settling map
  s <- f(s, x) and its fixed point s* = f(s*, x), the implicit function theorem gives

      dL/dx = (df/dx)^T g,   g = (I - J)^{-T} dL/ds*,   J = df/ds at s*,

  and g is found by the fixed-point iteration g <- J^T g + dL/ds* (vector-Jacobian products
  only; it converges where the settling itself does, since both iterate with J). The free
  phase runs without a graph; one step s = f(s*, x) is recorded and a backward hook on its
  output replaces the incoming dL/ds by g (the DEQ recipe, Bai et al. 2019). Memory does not
  grow with the number of settling steps.

Saturated outputs (``readout="mse"``). The class scores of an EBM with its output layer inside
the energy are hard-sigmoid states s_N = clip(h_N, 0, 1), h_N = W_N s_{N-1} + b_N. A trained
network drives most output units onto a rail (0 or 1), where d s_N / d h_N = 0: the input
gradient is then exactly zero for most examples (measured: 34 of 50 digits test images), and
gradient attacks stall on a flat surface -- gradient masking that overstates robustness. The
scores returned here keep the value s_N but pass the gradient straight through that last clip
(BPDA, Athalye et al. 2018):

    scores = h_N + stop_gradient(s_N - h_N)

Where the output is not saturated this is the exact gradient (at the fixed point
s_N = clip(h_N) and d s_N/dx = clip'(h_N) W_N d s*_{N-1}/dx, with s*_{N-1} differentiated by
the chosen mode); where it is, the attack follows the pre-activation h_N, which still orders
the classes. Hidden layers are differentiated as they are. ``readout="ce"`` networks score
with the unclipped readout W_out s_N + b_out and need no surrogate.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from analogeq.contract import GradientSpec
from analogeq.ebm.settle import settle

logger = logging.getLogger(__name__)


def _flatten(states: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([s.reshape(s.shape[0], -1) for s in states], dim=1)


def _unflatten(z: torch.Tensor, shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    out, start = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(z[:, start : start + n].reshape(z.shape[0], *shape))
        start += n
    return out


def implicit_fixed_point(
    model,
    x: torch.Tensor,
    *,
    max_steps: int,
    tol: float,
    synapses: list[nn.Module] | None = None,
    adjoint_max_iter: int | None = None,
    adjoint_tol: float = 1e-6,
    fixed_point: list[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Free-phase states s* whose backward pass is the implicit (fixed-point) gradient.

    Forward: settle without a graph (or take ``fixed_point``, states a faster settle of the
    same model and reads already found), then one recorded step f(s*, x) (equal to s* at
    convergence). Backward: the adjoint g = J^T g + dL/ds is iterated until the largest
    change is below ``adjoint_tol`` times the largest |dL/ds| or ``adjoint_max_iter``
    (default ``max_steps``) iterations have run.
    """
    shapes = [tuple(shape) for shape in model.state_shapes]
    if fixed_point is None:
        with torch.no_grad():
            result = settle(model, x.detach(), max_steps=max_steps, tol=tol, synapses=synapses)
        if not result.converged:
            logger.debug("implicit gradient: free phase not converged (residual %.3g after %d steps)",
                         result.residual, result.steps)
        fixed_point = result.states
    max_iter = adjoint_max_iter if adjoint_max_iter is not None else max_steps

    def f(z: torch.Tensor) -> torch.Tensor:
        return _flatten(model.step(x, _unflatten(z, shapes), synapses=synapses))

    z_star = _flatten(fixed_point).detach()
    z = f(z_star)  # graph to x and the parameters
    if z.requires_grad:
        z0 = z.detach().requires_grad_()
        with torch.enable_grad():
            f0 = f(z0)

        def solve_adjoint(grad: torch.Tensor) -> torch.Tensor:
            g = grad
            scale = float(grad.abs().max())
            if scale == 0.0:
                return grad
            for it in range(max_iter):
                g_new = torch.autograd.grad(f0, z0, g, retain_graph=True)[0] + grad
                change = float((g_new - g).abs().max())
                g = g_new
                if change <= adjoint_tol * scale:
                    break
            else:
                logger.debug("implicit gradient: adjoint not converged (change %.3g after %d iterations)", change, max_iter)
            return g

        z.register_hook(solve_adjoint)
    return _unflatten(z, shapes)


def attack_scores(model, x: torch.Tensor, gradient: GradientSpec, synapses: list[nn.Module] | None = None,
                  fixed_point: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Class scores of ``model`` (a LayeredEBM) differentiable with respect to ``x``;
    ``fixed_point``: the free-phase states of ``implicit`` mode, already settled."""
    cfg = model.config
    with torch.enable_grad():
        if gradient.settle == "full":
            states = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol, synapses=synapses).states
        elif gradient.settle == "truncated":
            states = settle(model, x, max_steps=gradient.truncated_steps, tol=0.0, synapses=synapses).states
        elif gradient.settle == "implicit":
            states = implicit_fixed_point(model, x, max_steps=cfg.free_steps, tol=cfg.tol, synapses=synapses,
                                          fixed_point=fixed_point)
        else:  # GradientSpec validates its mode; a new mode must be added here
            raise NotImplementedError(f"gradient mode {gradient.settle!r} is not implemented")
        scores = model.output(states, synapses)
        if model.readout is None:
            scores = _straight_through_output(model, x, states, scores, synapses)
        return scores


def _straight_through_output(model, x, states, scores, synapses) -> torch.Tensor:
    """s_N in value, d h_N in gradient (see the module docstring, "Saturated outputs")."""
    syns = synapses if synapses is not None else model.all_synapses()
    pre = states[-2] if len(states) > 1 else x
    h_out = syns[len(states) - 1](pre) + model.biases[-1]
    return h_out + (scores - h_out).detach()
