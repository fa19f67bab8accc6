"""What every defence offers to the training loop, and the pieces several defences share.

A defence is a frozen dataclass (its fields are its hyperparameters, validated at
construction; ``to_dict()`` gives them as JSON with a ``"defence"`` name). One training step of
:func:`analogeq.baselines.train.train_baseline` calls, in this order:

1. ``x_adv = defence.perturb_inputs(substrate, x, y, seed)`` with the model in eval mode
   (None when the defence trains on clean inputs only). Input attacks use the robustness
   harness (:class:`analogeq.robustness.attacks.PGD`, or the harness's projection and gradient
   primitives for the TRADES KL objective), through a FloatSubstrate around the model.
2. ``v = defence.weight_perturbation(model, x, x_adv, y, generator)`` (AWP only; None
   otherwise): per-layer weight offsets added before the loss and removed before the step.
3. ``loss, stats = defence.loss(model, x, x_adv, y, generator)`` with the model in train mode;
   ``loss`` is the scalar that is backpropagated, ``stats`` are floats for the history.

Step 3 is each paper's equation, a pure function of the batch, the adversarial batch and the
weights, so the tests can check it on a fixed batch and a fixed perturbation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from analogeq.robustness.attacks.common import NORMS
from hardware_models.params import Integer, OneOf, Real, validate_params

#: the constraints of the input attack of an adversarial-training defence (PGD-AT, TRADES, WEAT):
#: radius eps >= 0 in ``norm``, steps >= 1; step_size (None: the harness default) is checked apart
ATTACK_CONSTRAINTS = {
    "eps": Real(minimum=0.0),
    "norm": OneOf(NORMS),
    "steps": Integer(minimum=1),
}


class Defence:
    """What a defence does unless it says otherwise: it trains on clean inputs
    (``perturb_inputs`` returns None) at the unperturbed weights (``weight_perturbation`` returns
    None); ``to_dict`` names it. Subclasses are frozen dataclasses with a class attribute ``name``."""

    name = ""

    def perturb_inputs(self, substrate, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor | None:
        return None

    def weight_perturbation(self, model, x, x_adv, y, generator=None, epoch=None) -> dict[str, torch.Tensor] | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"defence": self.name}


def kl_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Per-example KL(p || q) = sum_k p_k (log p_k - log q_k) of the softmaxes of two logit batches, (B,)."""
    log_p = F.log_softmax(logits_p, dim=1)
    log_q = F.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def energy(logits: torch.Tensor) -> torch.Tensor:
    """Free energy of a classifier read as an EBM (Grathwohl et al. 2020): E(x) = -logsumexp_k f_k(x), (B,)."""
    return -torch.logsumexp(logits, dim=1)


def check_attack_fields(owner: str, eps: Any, norm: Any, steps: Any, step_size: Any) -> None:
    """eps >= 0, norm in (linf, l2), steps >= 1, step_size None or > 0 (messages name ``owner``)."""
    validate_params({"eps": eps, "norm": norm, "steps": steps}, ATTACK_CONSTRAINTS, owner=owner)
    if step_size is not None:
        Real(minimum=0.0, exclusive_minimum=True)("step_size", step_size, owner)


def effective_step_size(eps: float, steps: int, step_size: float | None) -> float:
    """``step_size`` or, when None, the harness's PGD default 2.5 * eps / steps (Madry et al.)."""
    return float(step_size) if step_size is not None else 2.5 * float(eps) / int(steps)


def check_finite_loss(name: str, loss: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(loss).all()):
        raise FloatingPointError(f"the {name} loss is not finite ({float(loss.detach())}); lower the learning rate")
    return loss
