"""Settling: relax an EBM to a fixed point of its synchronous update.

    s^{t+1} = step(x, s^t),    residual_t = max over batch and units of |s^{t+1} - s^t|

The loop stops when the residual falls below ``tol`` or after ``max_steps`` steps, whichever is
first, and reports both. It is vectorised over the batch and runs wherever the tensors are
(CPU or CUDA). Whether an autograd graph is built is the caller's choice (``torch.no_grad``
for prediction and EqProp phases, grad enabled for backpropagation through the settling).

A model whose config has a ``schedule`` (``"sync"`` or ``"async"``) and ``per_sample_stop``
field settles by :mod:`analogeq.ebm.schedules` instead: sweeps of that schedule with the reads
reused while their input is unchanged, and (``per_sample_stop``, without an autograd graph,
``tol > 0``) each sample frozen and dropped from the batch once its own residual is <= tol. The
fixed points are the same; ``schedule="sync", per_sample_stop=False`` is the reference loop
above. Reads passed as ``synapses=`` (a hardware substrate's) take the reference loop unless
``schedule`` / ``per_sample`` are given: such reads draw their noise per row read, in batch order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analogeq.contract import SettleOutcome
from analogeq.ebm.schedules import SCHEDULES, Sweeper
from hardware_models.params import check_bool, check_float, check_int, check_one_of


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
    #: sweeps each sample ran, shape (B,), where samples stopped on their own residual (else None)
    sample_steps: torch.Tensor | None = None
    #: the step budget the run had
    max_steps: int = 0

    def outcome(self, budget_field: str = "free_steps") -> SettleOutcome:
        """Per sample: the steps it ran (the batch's steps under a batch-wide stop) and whether
        its own residual ended <= tol, as the :class:`~analogeq.contract.SettleOutcome` a
        substrate reports (``budget_field``: the setting that gave ``max_steps``)."""
        batch = self.states[0].shape[0] if self.states else 0
        if self.sample_steps is not None:
            steps = self.sample_steps.detach().cpu().numpy()
        else:
            steps = np.full(batch, self.steps, dtype=np.int64)
        if self.sample_residual is None:
            converged = np.zeros(batch, dtype=bool)
        else:
            converged = (self.sample_residual <= self.tol).detach().cpu().numpy()
        return SettleOutcome(steps=steps, converged=converged, max_steps=self.max_steps, tol=self.tol,
                             budget_field=budget_field)


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
    schedule: str | None = None,
    per_sample: bool | None = None,
) -> SettleResult:
    """Run steps of ``model`` (a LayeredEBM) from ``states`` (default: zeros).

    ``tol = 0`` runs the whole budget. ``check_every`` > 1 computes the residual only every
    that many steps (each check synchronises with the GPU); the last step is always checked.
    ``schedule`` and ``per_sample`` override the config's ``schedule`` and ``per_sample_stop``
    (see the module docstring); ``per_sample=True`` needs ``tol > 0``, ``check_every = 1`` and no
    autograd graph (frozen samples are written in place).
    """
    validate_budget(max_steps, tol)
    check_int("check_every", check_every, minimum=1)
    schedule, per_sample = _resolve_schedule(model, synapses, tol, check_every, schedule, per_sample)
    if per_sample:
        return _settle_per_sample(model, x, max_steps, tol, states, beta, y, synapses, schedule)
    s = states if states is not None else model.init_states(x)
    if schedule is None:
        advance = lambda s: model.step(x, s, beta=beta, y=y, synapses=synapses)  # noqa: E731
    else:
        advance = Sweeper(model, x, schedule, beta=beta, y=y, synapses=synapses).sweep
    residual = float("inf")
    sample_residual = None
    steps = 0
    for t in range(max_steps):
        new = advance(s)
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
        states=s, steps=steps, residual=residual, converged=residual <= tol, sample_residual=sample_residual, tol=tol,
        max_steps=max_steps,
    )


@torch.no_grad()
def _sample_residual(new: list[torch.Tensor], old: list[torch.Tensor]) -> torch.Tensor:
    """max over layers and units of |new - old|, per sample: shape (B,)."""
    per_layer = [(a - b).abs().flatten(1).amax(dim=1) for a, b in zip(new, old)]
    return torch.stack(per_layer, dim=0).amax(dim=0)


def _resolve_schedule(model, synapses, tol, check_every, schedule, per_sample) -> tuple[str | None, bool]:
    """(schedule of a :class:`Sweeper`, or None for the reference loop on ``model.step``;
    per-sample stopping). Defaults: the config's fields for the model's own synapses, the
    reference loop for reads passed as ``synapses``."""
    cfg = getattr(model, "config", None) if synapses is None else None
    if schedule is None:
        schedule = getattr(cfg, "schedule", "sync")
    schedule = check_one_of("schedule", schedule, SCHEDULES)
    if per_sample is None:
        per_sample = (bool(getattr(cfg, "per_sample_stop", False)) and tol > 0.0 and check_every == 1
                      and not torch.is_grad_enabled())
    elif check_bool("per_sample", per_sample) and (tol <= 0.0 or check_every != 1 or torch.is_grad_enabled()):
        raise ValueError("per_sample stopping needs tol > 0, check_every = 1 and torch.no_grad() "
                         f"(got tol={tol}, check_every={check_every}, grad enabled: {torch.is_grad_enabled()})")
    if schedule == "sync" and not per_sample:
        return None, False
    return schedule, per_sample


@torch.no_grad()
def _settle_per_sample(model, x, max_steps, tol, states, beta, y, synapses, schedule) -> SettleResult:
    """Sweeps until each sample's own residual is <= tol; converged samples leave the batch."""
    if beta != 0.0 and y is None:
        raise ValueError("y (labels) is required when beta != 0")
    s = states if states is not None else model.init_states(x)
    out = [t.clone() for t in s]
    batch = x.shape[0]
    active = torch.arange(batch, device=x.device)
    sample_residual = torch.full((batch,), float("inf"), dtype=x.dtype, device=x.device)
    sample_steps = torch.zeros(batch, dtype=torch.long, device=x.device)
    sweeper = Sweeper(model, x, schedule, beta=beta, y=y, synapses=synapses)
    for t in range(max_steps):
        new = sweeper.sweep(s)
        r = _sample_residual(new, s)
        s = new
        done = r <= tol if t + 1 < max_steps else torch.ones_like(r, dtype=torch.bool)
        if bool(done.any()):
            idx = active[done]
            for o, n in zip(out, s):
                o[idx] = n[done]
            sample_residual[idx] = r[done]
            sample_steps[idx] = t + 1
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            s = [n[keep] for n in s]
            active = active[keep]
            sweeper.keep(keep)
    residual = float(sample_residual.max()) if batch else 0.0
    return SettleResult(states=out, steps=int(sample_steps.max()) if batch else 0, residual=residual,
                        converged=residual <= tol, sample_residual=sample_residual, tol=tol, sample_steps=sample_steps,
                        max_steps=max_steps)
