"""Differentiating an EBM's prediction with respect to its input, for white-box attacks.

Modes (:class:`~analogeq.contract.GradientSpec`):

* ``full``: backpropagation through every settling step used for prediction (same budget
  and tolerance as ``forward``).
* ``truncated``: backpropagation through a free phase of ``truncated_steps`` steps from s = 0,
  while prediction uses the full budget (the seed study's attack, arXiv 2401.11543).
* ``implicit``: implicit differentiation at the fixed point. With the settling map
  s <- f(s, x) and its fixed point s* = f(s*, x), the implicit function theorem gives

      dL/dx = (df/dx)^T g,   g = (I - J)^{-T} dL/ds*,   J = df/ds at s*,

  and g solves the linear fixed point g = J^T g + dL/ds* (vector-Jacobian products only; the
  plain iteration converges where the settling itself does, since both iterate with J, and as
  slowly: on a trained conv EBM on mnist-5k it needs about 560 products to a relative 1e-6). It
  is solved with Anderson acceleration (type II, memory m, per sample; Walker & Ni 2011), which
  on a linear map reaches the same solution in far fewer products (26 there): see
  :func:`solve_adjoint`. The free phase runs without a graph; one step s = f(s*, x) is recorded
  and a backward hook on its output replaces the incoming dL/ds by g (the DEQ recipe, Bai et
  al. 2019). Memory does not grow with the number of settling steps.

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

#: iterates kept by the adjoint's Anderson acceleration (:func:`solve_adjoint`). Measured on the
#: mnist-5k conv EBM on PCM 1 h (20 test images twice, EOT 2; float32): memory 10 stalled near a
#: change of 1.8e-6 of max |dL/ds|, memory 20 and 30 reached 1e-6 in 36 products
ADJOINT_MEMORY = 20
#: products without a new smallest worst-sample residual after which :func:`solve_adjoint` stops
ADJOINT_STALL = 20


def _flatten(states: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([s.reshape(s.shape[0], -1) for s in states], dim=1)


def _unflatten(z: torch.Tensor, shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    out, start = [], 0
    for shape in shapes:
        n = math.prod(shape)
        out.append(z[:, start : start + n].reshape(z.shape[0], *shape))
        start += n
    return out


def solve_adjoint(vjp, b: torch.Tensor, *, max_iter: int, tol: float, memory: int | None = None,
                  stall: int | None = None) -> torch.Tensor:
    """The solution g of g = G(g) = vjp(g) + b, with ``vjp(g) = J^T g`` linear, one row per sample.

    Anderson acceleration (type II) with the last ``memory`` iterates, each sample on its own:
    with residuals r_i = G(g_i) - g_i of the kept iterates g_i, the weights a (sum 1) minimise
    |sum_i a_i r_i|^2 (a k x k solve per sample, Tikhonov-regularised by 1e-10 of the largest
    diagonal entry, in float64), and the next iterate is sum_i a_i G(g_i). ``memory = 0`` is the
    plain iteration g <- G(g). It stops when max |G(g) - g| <= ``tol`` * max |b| over the batch,
    after ``max_iter`` products, or when the worst sample's smallest residual so far has not
    fallen for ``stall`` products (the float32 rounding floor of the products, or a plain
    iteration that diverges), and then returns, per sample, the G(g) of its smallest
    residual (so a sample whose iteration does not settle keeps its best estimate, never a
    blow-up).

    ``b``: (B, N) dL/ds* [units of the loss per unit state]; returns (B, N) in the same units.
    ``memory`` and ``stall`` default to :data:`ADJOINT_MEMORY` and :data:`ADJOINT_STALL`, read at
    the call.
    """
    memory = ADJOINT_MEMORY if memory is None else memory
    stall = ADJOINT_STALL if stall is None else stall
    scale = float(b.abs().max())
    if scale == 0.0:
        return b
    batch = b.shape[0]
    best = b
    best_residual = torch.full((batch,), math.inf, dtype=torch.float64, device=b.device)
    kept_g: list[torch.Tensor] = []
    kept_r: list[torch.Tensor] = []
    g = b
    change = math.inf
    worst_best, stalled = math.inf, 0
    for _ in range(max_iter):
        g_next = vjp(g) + b
        residual = g_next - g
        per_sample = residual.abs().amax(dim=1).double()
        better = per_sample < best_residual
        best = torch.where(better[:, None], g_next, best)
        best_residual = torch.where(better, per_sample, best_residual)
        change = float(per_sample.max())
        if change <= tol * scale:
            return g_next
        now = float(best_residual.max())
        stalled = stalled + 1 if now >= worst_best else 0
        worst_best = min(worst_best, now)
        if stalled >= stall:
            logger.debug("implicit gradient: adjoint stalled at a change of %.3g of %.3g", worst_best, scale)
            return best
        if memory == 0:
            g = g_next
            continue
        kept_g.append(g_next)
        kept_r.append(residual)
        if len(kept_r) > memory:
            kept_g.pop(0)
            kept_r.pop(0)
        g = _anderson_mix(kept_g, kept_r)
    logger.debug("implicit gradient: adjoint not converged (change %.3g of %.3g after %d products)",
                 change, scale, max_iter)
    return best


def _anderson_mix(g_values: list[torch.Tensor], residuals: list[torch.Tensor]) -> torch.Tensor:
    """sum_i a_i G(g_i) with a = argmin |sum_i a_i r_i|, sum_i a_i = 1, per sample; a sample
    whose solve is not finite (all its residuals zero) takes its latest G(g)."""
    r = torch.stack(residuals, dim=1)  # (B, k, N)
    k = r.shape[1]
    gram = (r @ r.transpose(1, 2)).double()  # (B, k, k)
    diag_max = gram.diagonal(dim1=1, dim2=2).amax(dim=1)
    eye = torch.eye(k, dtype=torch.float64, device=r.device)
    gram = gram + (1e-10 * diag_max + 1e-300)[:, None, None] * eye
    ones = torch.ones(r.shape[0], k, 1, dtype=torch.float64, device=r.device)
    a = torch.linalg.solve(gram, ones)
    a = a / a.sum(dim=1, keepdim=True)
    ok = torch.isfinite(a).all(dim=1).squeeze(1) & (diag_max > 0)
    latest = torch.zeros_like(a)
    latest[:, -1] = 1.0
    a = torch.where(ok[:, None, None], a, latest).to(g_values[0].dtype)
    return (a.transpose(1, 2) @ torch.stack(g_values, dim=1)).squeeze(1)


def implicit_fixed_point(
    model,
    x: torch.Tensor,
    *,
    max_steps: int,
    tol: float,
    synapses: list[nn.Module] | None = None,
    adjoint_max_iter: int | None = None,
    adjoint_tol: float = 1e-6,
    adjoint_memory: int | None = None,
    fixed_point: list[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """Free-phase states s* whose backward pass is the implicit (fixed-point) gradient.

    Forward: settle without a graph (or take ``fixed_point``, states a faster settle of the
    same model and reads already found), then one recorded step f(s*, x) (equal to s* at
    convergence). Backward: the adjoint g = J^T g + dL/ds is solved by :func:`solve_adjoint`
    (Anderson memory ``adjoint_memory``, default :data:`ADJOINT_MEMORY`; 0: the plain iteration)
    until the largest change is below ``adjoint_tol`` times the largest |dL/ds|, it stalls, or
    ``adjoint_max_iter`` (default ``max_steps``) vector-Jacobian products have run.
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

        def vjp(g: torch.Tensor) -> torch.Tensor:
            return torch.autograd.grad(f0, z0, g, retain_graph=True)[0]

        z.register_hook(lambda grad: solve_adjoint(vjp, grad, max_iter=max_iter, tol=adjoint_tol,
                                                   memory=adjoint_memory))
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
