"""Expectation over transformation (EOT; Athalye et al. 2018) for white-box attacks.

On a stochastic substrate one call of ``substrate.attack_logits(x, gradient)`` is one
differentiable draw of the noise (reparameterised inside the substrate; non-differentiable parts
passed straight through, BPDA). The attack needs the gradient of the *expected* loss,

    grad_x E_noise[L(f(x; noise), y)]  ~=  1/K sum_k grad_x L(f(x; noise_k), y),

so this module averages the loss and its gradient over K independent calls. On a deterministic
substrate K = 1 gives the exact gradient and K > 1 only repeats it.
"""

from __future__ import annotations

from typing import Callable

import torch

from analogeq.substrates.base import GradientSpec, Substrate

LossFn = Callable[[torch.Tensor], torch.Tensor]


def loss_and_gradient(
    substrate: Substrate,
    x: torch.Tensor,
    loss_fn: LossFn,
    gradient: GradientSpec,
    samples: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean loss, its gradient with respect to ``x`` and the mean logits over ``samples`` calls.

    loss_fn maps logits (B, C) to a per-example loss (B,) that the attack *maximises*.
    Returns (loss (B,), grad (B, ...) like x, logits (B, C)), all detached.
    Examples are independent (one loss per example), so summing the per-example losses before
    backpropagation gives each example its own gradient.
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples (EOT draws) must be an integer >= 1, got {samples!r}")
    grad_total = torch.zeros_like(x)
    loss_total = torch.zeros(x.shape[0], device=x.device)
    logits_total = None
    for _ in range(samples):
        x_var = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = substrate.attack_logits(x_var, gradient)
            loss = loss_fn(logits)
            (grad,) = torch.autograd.grad(loss.sum(), x_var)
        grad_total += grad.detach()
        loss_total += loss.detach()
        logits_total = logits.detach() if logits_total is None else logits_total + logits.detach()
    if not bool(torch.isfinite(grad_total).all()):
        raise RuntimeError(
            "the attack gradient contains NaN or infinite values; check the substrate's attack_logits "
            f"({type(substrate).__name__}, gradient={gradient.to_dict()})"
        )
    return loss_total / samples, grad_total / samples, logits_total / samples
