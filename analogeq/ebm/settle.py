"""Settling: relax an EBM to a fixed point of its synchronous update.

    s^{t+1} = step(x, s^t),    residual_t = max over batch and units of |s^{t+1} - s^t|

The loop stops when the residual falls below ``tol`` or after ``max_steps`` steps, whichever is
first, and reports both. It is vectorised over the batch and runs wherever the tensors are
(CPU or CUDA). Whether an autograd graph is built is the caller's choice (``torch.no_grad``
for prediction and EqProp phases, grad enabled for backpropagation through the settling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SettleResult:
    """Outcome of one settling run.

    states: the final states; steps: how many synchronous steps ran;
    residual: max |s^{t+1} - s^t| at the last step (0 when no step ran);
    converged: residual <= tol.
    """

    states: list[torch.Tensor]
    steps: int
    residual: float
    converged: bool


def validate_budget(max_steps: int, tol: float) -> None:
    """Raise ValueError for a nonsensical step budget or tolerance."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps (step budget) must be an integer >= 1, got {max_steps!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0.0 and tol == tol):
        raise ValueError(f"tol (settling tolerance) must be a number >= 0, got {tol!r}")


def settle(
    model: nn.Module,
    x: torch.Tensor,
    *,
    max_steps: int,
    tol: float = 0.0,
    states: list[torch.Tensor] | None = None,
    beta: float = 0.0,
    y: torch.Tensor | None = None,
    synapses: list[nn.Module] | None = None,
    check_every: int = 1,
) -> SettleResult:
    """Run synchronous steps of ``model`` (a LayeredEBM) from ``states`` (default: zeros).

    ``tol = 0`` runs the whole budget. ``check_every`` > 1 computes the residual only every
    that many steps (each check synchronises with the GPU); the last step is always checked.
    """
    validate_budget(max_steps, tol)
    s = states if states is not None else model.init_states(x)
    residual = float("inf")
    steps = 0
    for t in range(max_steps):
        new = model.step(x, s, beta=beta, y=y, synapses=synapses)
        steps = t + 1
        if tol > 0.0 and (steps % check_every == 0 or steps == max_steps):
            with torch.no_grad():
                residual = max(float((a - b).abs().max()) for a, b in zip(new, s))
            s = new
            if residual <= tol:
                break
        else:
            if steps == max_steps:
                with torch.no_grad():
                    residual = max(float((a - b).abs().max()) for a, b in zip(new, s))
            s = new
    return SettleResult(states=s, steps=steps, residual=residual, converged=residual <= tol)
