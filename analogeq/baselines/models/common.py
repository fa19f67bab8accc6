"""What the baseline models share: activations, initialisation seeding, parameter counts.

Every baseline is a feed-forward ``nn.Module`` that follows
:class:`analogeq.contract.ClassifierModel`: attributes ``config``, ``input_shape``, ``num_classes``;
``forward(x)`` maps images ``(B, *input_shape)`` to logits ``(B, num_classes)``; and
``forward_for_attack(x, gradient)`` is ``forward(x)`` (one pass, no settling, so every
:class:`~analogeq.contract.GradientSpec` is the exact gradient).

Crossbar mapping: the weight reads of every baseline are plain ``nn.Linear`` and ``nn.Conv2d``
modules (found with :func:`analogeq.contract.weight_layers`); everything else (activations, pooling, LayerNorm,
the attention products of the ViT, the VIB's split into mean and scale) is digital.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = ("relu", "hard_sigmoid", "gelu")


class HardSigmoid(nn.Module):
    """rho(s) = clip(s, 0, 1): the EBMs' activation (states in [0, 1])."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "hard_sigmoid":
        return HardSigmoid()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {name!r}")


def seeded_init(module: nn.Module, seed: int) -> None:
    """Re-initialise every Linear/Conv2d with torch's default rule, drawn from ``seed``.

    Same seed, same weights, whatever else used the global generator before.
    """
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                fan_in = layer.weight[0].numel()
                bound = 1.0 / fan_in ** 0.5
                # torch's default: kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                layer.weight.copy_(torch.rand(layer.weight.shape, generator=gen) * 2 * bound - bound)
                if layer.bias is not None:
                    layer.bias.copy_(torch.rand(layer.bias.shape, generator=gen) * 2 * bound - bound)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
