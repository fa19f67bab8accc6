"""Multilayer perceptron: the feed-forward twin of the dense EBM.

    h_0 = flatten(x),   h_l = act(W_l h_{l-1} + b_l)  (l = 1..L),   logits = W_out h_L + b_out

With the defaults on digits (64 inputs, one hidden layer of 256, 10 classes) it has exactly the
parameter count of the default dense EBM (64-256-10: 64*256 + 256*10 weights + 266 biases =
19 210), so "EBM vs MLP" compares the same weights read with and without feedback.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines._checks import check_choice, check_input_shape, check_int, check_sizes
from analogeq.ebm.config_dict import config_from_dict
from analogeq.baselines.models.common import ACTIVATIONS, make_activation, seeded_init
from analogeq.contract import GradientSpec


@dataclass(frozen=True)
class MLPConfig:
    """input_shape: shape of one input, e.g. (1, 8, 8); hidden_sizes: units per hidden layer
    (may be empty: logistic regression); num_classes >= 2; activation: "relu" (default),
    "hard_sigmoid" (the EBM's clip(s, 0, 1)) or "gelu"; seed: initialisation seed."""

    input_shape: tuple[int, ...] = (1, 8, 8)
    hidden_sizes: tuple[int, ...] = (256,)
    num_classes: int = 10
    activation: str = "relu"
    seed: int = 0
    kind: str = field(default="mlp", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", check_input_shape("MLPConfig.input_shape", self.input_shape))
        object.__setattr__(self, "hidden_sizes", check_sizes("MLPConfig.hidden_sizes", self.hidden_sizes, allow_empty=True))
        check_int("MLPConfig.num_classes", self.num_classes, 2)
        check_choice("MLPConfig.activation", self.activation, ACTIVATIONS)
        check_int("MLPConfig.seed", self.seed, 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MLPConfig":
        return config_from_dict(cls, d, "mlp")


class MLP(nn.Module):
    """``layers`` is one ``nn.Sequential``: Flatten, then (Linear, activation) per hidden layer, then Linear."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        if not isinstance(config, MLPConfig):
            raise TypeError(f"config must be an MLPConfig, got {type(config).__name__}")
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes
        sizes = [math.prod(config.input_shape), *config.hidden_sizes]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), make_activation(config.activation)]
        layers.append(nn.Linear(sizes[-1], config.num_classes))
        self.layers = nn.Sequential(*layers)
        seeded_init(self, config.seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        return self.forward(x)  # one pass: no settling, the gradient is exact for every mode
