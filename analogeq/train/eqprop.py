"""Equilibrium Propagation (Scellier & Bengio 2017; centered form: Laborieux et al. 2021).

With the primitive Phi(theta, x, s, beta) = -(E + beta C) of :meth:`LayeredEBM.phi`:

1. free phase: settle from s = 0 with beta = 0 to s* (``free_phase``);
2. nudged phases: settle from s* with beta != 0 (``nudged_phase``);
3. the gradient estimate of the mean cost L = <C(s*)> over the batch

       dL/dtheta ~ -[dPhi/dtheta(s_a, beta_a) - dPhi/dtheta(s_b, beta_b)] / (beta_a - beta_b)

   taken at fixed (detached) states (``eqprop_gradients_from_states``). Nudging schemes:

   * ``symmetric`` (centered): s_a at +beta, s_b at -beta, both from s*; the error of the
     estimate is O(beta^2) instead of O(beta);
   * ``one_sided``: s_a at +beta, s_b = s* (beta_b = 0);
   * ``random_sign``: one-sided with the sign of beta drawn per batch (Scellier & Bengio 2017),
     which cancels the O(beta) bias on average.

For a ``ce`` readout the cost depends on W_out directly; including beta C in Phi gives the
readout its gradient (dC/dW_out averaged over the two nudged states) with the same formula.

These functions take optional ``synapses=`` (hardware reads, see :mod:`analogeq.ebm.layered`):
the phases then run on the emulated hardware while the estimate is computed from the states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from analogeq.contract import check_labels
from analogeq.ebm.settle import SettleResult, settle
from hardware_models.params import ParameterError, check_float, check_one_of

NUDGINGS = ("symmetric", "one_sided", "random_sign")


def check_beta(beta: float, name: str = "beta") -> float:
    """beta (the signed nudging strength of a phase) must be a finite, non-zero number
    (beta = 0 gives no learning signal)."""
    value = check_float(name, beta)
    if value == 0.0:
        raise ParameterError(None, name, f"must be a finite non-zero number (the nudging strength), got {beta!r}")
    return value


def check_positive_beta(beta: float) -> float:
    """The nudging strength of a scheme, > 0 (the scheme sets the signs of the phases)."""
    return check_float("beta", beta, minimum=0.0, exclusive_minimum=True)


def check_nudging(nudging: str) -> str:
    return check_one_of("nudging", nudging, NUDGINGS)


@torch.no_grad()
def free_phase(model, x: torch.Tensor, synapses: list[nn.Module] | None = None) -> SettleResult:
    """Settle from s = 0 at beta = 0 (budget ``model.config.free_steps``, tolerance ``config.tol``)."""
    cfg = model.config
    return settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol, synapses=synapses)


@torch.no_grad()
def nudged_phase(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    states: list[torch.Tensor],
    synapses: list[nn.Module] | None = None,
) -> SettleResult:
    """Settle from ``states`` (usually the free fixed point) with nudging ``beta`` towards ``y``
    (budget ``model.config.nudge_steps``, tolerance ``config.tol``)."""
    check_beta(beta)
    check_labels(y, model.num_classes, x.shape[0])
    cfg = model.config
    return settle(model, x, max_steps=cfg.nudge_steps, tol=cfg.tol, states=states, beta=beta, y=y, synapses=synapses)


def eqprop_gradients_from_states(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    s_plus: list[torch.Tensor],
    s_minus: list[torch.Tensor],
    *,
    beta_minus: float | None = None,
) -> dict[str, torch.Tensor]:
    """Fill ``p.grad`` of every parameter with the EqProp estimate from given nudged states.

    ``s_plus`` was settled at nudging ``beta``; ``s_minus`` at ``beta_minus`` (default
    ``-beta``: symmetric nudging). For one-sided nudging pass the free states as ``s_minus``
    and ``beta_minus=0``. Existing ``.grad`` values are overwritten. Returns the gradients by
    parameter name (the raw weight update is ``-lr * grad``).
    """
    check_beta(beta)
    b_minus = -float(beta) if beta_minus is None else check_float("beta_minus", beta_minus)
    if b_minus == beta:
        raise ParameterError(None, "beta_minus", f"must differ from beta ({beta}), got {beta_minus!r}")
    x = x.detach()
    s_plus = [s.detach() for s in s_plus]
    s_minus = [s.detach() for s in s_minus]
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    with torch.enable_grad():
        phi_plus = model.phi(x, s_plus, beta, y).mean()
        phi_minus = model.phi(x, s_minus, b_minus, y).mean()
        surrogate = -(phi_plus - phi_minus) / (beta - b_minus)
        grads = torch.autograd.grad(surrogate, [p for _, p in params], allow_unused=True)
    out = {}
    for (name, p), g in zip(params, grads):
        p.grad = torch.zeros_like(p) if g is None else g.detach()
        out[name] = p.grad
    return out


@dataclass
class EqPropPhases:
    """The phases of one EqProp estimate: ``free`` (beta = 0), ``plus`` (at ``beta``) and
    ``minus`` (at -beta for symmetric nudging, else None); ``beta`` is the signed value used."""

    free: SettleResult
    plus: SettleResult
    minus: SettleResult | None
    beta: float


def eqprop_gradients(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    beta: float,
    nudging: str = "symmetric",
    synapses: list[nn.Module] | None = None,
    *,
    generator: torch.Generator | None = None,
) -> EqPropPhases:
    """Run the free and nudged phases on a batch and fill ``p.grad`` with the EqProp estimate.

    ``beta`` > 0 is the nudging strength; ``nudging`` one of :data:`NUDGINGS`; ``generator``
    draws the sign for ``random_sign`` (CPU generator; default: torch's global one).
    """
    check_positive_beta(beta)
    check_nudging(nudging)
    free = free_phase(model, x, synapses)
    if nudging == "symmetric":
        plus = nudged_phase(model, x, y, beta, free.states, synapses)
        minus = nudged_phase(model, x, y, -beta, free.states, synapses)
        eqprop_gradients_from_states(model, x, y, beta, plus.states, minus.states)
        return EqPropPhases(free, plus, minus, float(beta))
    signed = float(beta)
    if nudging == "random_sign" and bool(torch.randint(0, 2, (1,), generator=generator).item()):
        signed = -signed
    plus = nudged_phase(model, x, y, signed, free.states, synapses)
    eqprop_gradients_from_states(model, x, y, signed, plus.states, free.states, beta_minus=0.0)
    return EqPropPhases(free, plus, None, signed)


__all__ = [
    "NUDGINGS",
    "EqPropPhases",
    "check_beta",
    "check_nudging",
    "check_positive_beta",
    "eqprop_gradients",
    "eqprop_gradients_from_states",
    "free_phase",
    "nudged_phase",
]
