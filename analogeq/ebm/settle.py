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

from hardware_models.params import check_float, check_int


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
    #: max |s^{t+1} - s^t| of each sample at the last checked step, shape (B,) (None if no step ran)
    sample_residual: torch.Tensor | None = None

    @property
    def converged_fraction(self) -> float:
        """Fraction of the samples whose own residual is within the tolerance used."""
        if self.sample_residual is None:
            return 0.0
        return float((self.sample_residual <= self.tol).float().mean())

    #: the tolerance the run used
    tol: float = 0.0


def validate_budget(max_steps: int, tol: float) -> None:
    """Raise :class:`~hardware_models.params.ParameterError` (a ValueError) unless the step budget
    ``max_steps`` is an integer >= 1 and the settling tolerance ``tol`` a finite number >= 0."""
    check_int("max_steps", max_steps, minimum=1)
    check_float("tol", tol, minimum=0.0)


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
    check_int("check_every", check_every, minimum=1)
    s = states if states is not None else model.init_states(x)
    residual = float("inf")
    sample_residual = None
    steps = 0
    for t in range(max_steps):
        new = model.step(x, s, beta=beta, y=y, synapses=synapses)
        steps = t + 1
        if steps == max_steps or (tol > 0.0 and steps % check_every == 0):
            sample_residual = _sample_residual(new, s)
            residual = float(sample_residual.max())
            s = new
            if residual <= tol:
                break
        else:
            s = new
    return SettleResult(
        states=s, steps=steps, residual=residual, converged=residual <= tol, sample_residual=sample_residual, tol=tol
    )


@torch.no_grad()
def _sample_residual(new: list[torch.Tensor], old: list[torch.Tensor]) -> torch.Tensor:
    """max over layers and units of |new - old|, per sample: shape (B,)."""
    per_layer = [(a - b).abs().flatten(1).amax(dim=1) for a, b in zip(new, old)]
    return torch.stack(per_layer, dim=0).amax(dim=0)
