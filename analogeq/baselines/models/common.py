"""What the baseline models share: the classifier base, activations, the MLP stack, the config
constraints, initialisation seeding, parameter counts.

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

import math
from typing import Any, Mapping

import torch
from torch import nn

from analogeq.contract import GradientSpec
from analogeq.ebm.config_dict import CLASSIFIER_CONSTRAINTS, check_fields, check_shape, check_sizes
from hardware_models.params import OneOf, ParameterError

ACTIVATIONS = ("relu", "hard_sigmoid", "gelu")

#: constraints of the baseline configs with an activation (MLP, CNN, VIB): num_classes >= 2,
#: seed >= 0, activation one of :data:`ACTIVATIONS`
ACTIVATED_CONSTRAINTS = {**CLASSIFIER_CONSTRAINTS, "activation": OneOf(ACTIVATIONS)}


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
    raise ParameterError(None, "activation", f"must be one of {list(ACTIVATIONS)}, got {name!r}")


def mlp_layers(n_in: int, hidden_sizes: tuple[int, ...], n_out: int, activation: str) -> list[nn.Module]:
    """h_l = act(W_l h_{l-1} + b_l) for every hidden size, then a Linear to ``n_out`` units:
    [Linear(n_in, h_1), act, ..., Linear(h_L, n_out)] (one Linear when there is no hidden layer)."""
    sizes = [n_in, *hidden_sizes]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), make_activation(activation)]
    layers.append(nn.Linear(sizes[-1], n_out))
    return layers


def check_mlp_config(config: Any, constraints: Mapping[str, Any]) -> None:
    """Check a frozen MLP-like config (MLP, VIB encoder) in place: ``input_shape`` (any number
    of dimensions) and ``hidden_sizes`` (may be empty) as tuples of ints >= 1, then the scalar
    fields against ``constraints``."""
    owner = type(config).__name__
    object.__setattr__(config, "input_shape", check_shape(owner, "input_shape", config.input_shape))
    object.__setattr__(config, "hidden_sizes", check_sizes(owner, "hidden_sizes", config.hidden_sizes, allow_empty=True))
    check_fields(config, constraints)


def flat_mlp(config: Any, n_out: int) -> nn.Sequential:
    """Flatten, then :func:`mlp_layers` from prod(input_shape) inputs through ``hidden_sizes`` to
    ``n_out`` units with ``config.activation``."""
    n_in = math.prod(config.input_shape)
    return nn.Sequential(nn.Flatten(), *mlp_layers(n_in, config.hidden_sizes, n_out, config.activation))


class BaselineClassifier(nn.Module):
    """Base of the baseline models: checks the config's type (``config_class``) and sets
    ``config``, ``input_shape`` and ``num_classes``; ``forward_for_attack`` is ``forward``."""

    config_class: type = object

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"the config of {type(self).__name__} must be a {self.config_class.__name__} object, "
                            f"got {type(config).__name__}")
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        return self.forward(x)  # one pass: no settling, the gradient is exact for every mode


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
