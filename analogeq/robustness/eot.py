"""Expectation over transformation (EOT; Athalye et al. 2018) for white-box attacks.

On a stochastic substrate one call of ``substrate.attack_logits(x, gradient)`` is one
differentiable draw of the noise (reparameterised inside the substrate; non-differentiable parts
passed straight through, BPDA). The attack needs the gradient of the *expected* loss,

    grad_x E_noise[L(f(x; noise), y)]  ~=  1/K sum_k grad_x L(f(x; noise_k), y),

so this module averages the loss and its gradient over K independent draws. The substrate
protocol draws the noise of every example of a batch independently, so the K draws of a batch
of B examples are K copies of it stacked into one call of K * B examples (in as few calls as
``max_rows`` allows): the same estimator as K separate calls, in one settle of a wider batch
(the hardware substrates' per-step cost is mostly fixed overhead, so this is up to K times
faster). On a deterministic substrate K = 1 gives the exact gradient and K > 1 only repeats it.
"""

from __future__ import annotations

from typing import Callable

import torch

from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate
from hardware_models.params import check_int

LossFn = Callable[[torch.Tensor], torch.Tensor]


def loss_and_gradient(
    substrate: Substrate,
    x: torch.Tensor,
    loss_fn: LossFn,
    gradient: GradientSpec,
    samples: int,
    max_rows: int = 2048,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean loss, its gradient with respect to ``x`` and the mean logits over ``samples`` draws.

    loss_fn maps logits (B, C) to a per-example loss (B,) that the attack *maximises*.
    Returns (loss (B,), grad (B, ...) like x, logits (B, C)), all detached.
    Examples are independent (one loss per example), so summing the per-example losses before
    backpropagation gives each example its own gradient. Draws are stacked as copies of the
    batch, at most ``max_rows`` rows per call (at least one copy).
    """
    samples = check_int("samples", samples, minimum=1, owner="EOT")
    max_rows = check_int("max_rows", max_rows, minimum=1, owner="EOT")
    batch = x.shape[0]
    per_call = max(1, min(samples, max_rows // max(batch, 1)))
    grad_total = torch.zeros_like(x)
    loss_total = torch.zeros(batch, device=x.device)
    logits_total = None
    done = 0
    while done < samples:
        k = min(per_call, samples - done)
        x_var = x.detach().repeat(k, *([1] * (x.dim() - 1))).requires_grad_(True)
        with torch.enable_grad():
            logits = substrate.attack_logits(x_var, gradient)
            losses = torch.stack([loss_fn(z) for z in logits.view(k, batch, -1)])  # loss_fn sees batches like x
            (grad,) = torch.autograd.grad(losses.sum(), x_var)
        grad_total += grad.detach().view(k, *x.shape).sum(dim=0)
        loss_total += losses.detach().sum(dim=0)
        z_sum = logits.detach().view(k, batch, -1).sum(dim=0)
        logits_total = z_sum if logits_total is None else logits_total + z_sum
        done += k
    if not bool(torch.isfinite(grad_total).all()):
        raise RuntimeError(
            "the attack gradient contains NaN or infinite values; check the substrate's attack_logits "
            f"({type(substrate).__name__}, gradient={gradient.to_dict()})"
        )
    return loss_total / samples, grad_total / samples, logits_total / samples
