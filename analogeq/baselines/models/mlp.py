"""Multilayer perceptron: the feed-forward twin of the dense EBM.

    h_0 = flatten(x),   h_l = act(W_l h_{l-1} + b_l)  (l = 1..L),   logits = W_out h_L + b_out

With the defaults on digits (64 inputs, one hidden layer of 256, 10 classes) it has exactly the
parameter count of the default dense EBM (64-256-10: 64*256 + 256*10 weights + 266 biases =
19 210), so "EBM vs MLP" compares the same weights read with and without feedback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from analogeq.baselines.models.common import (
    ACTIVATED_CONSTRAINTS,
    BaselineClassifier,
    check_mlp_config,
    flat_mlp,
    seeded_init,
)
from analogeq.ebm.config_dict import JSONConfig


@dataclass(frozen=True)
class MLPConfig(JSONConfig):
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
        check_mlp_config(self, ACTIVATED_CONSTRAINTS)


class MLP(BaselineClassifier):
    """``layers`` is one ``nn.Sequential``: Flatten, then (Linear, activation) per hidden layer, then Linear."""

    config_class = MLPConfig

    def __init__(self, config: MLPConfig):
        super().__init__(config)
        self.layers = flat_mlp(config, config.num_classes)
        seeded_init(self, config.seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
