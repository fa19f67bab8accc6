"""Small convolutional network: the feed-forward twin of the convolutional EBM.

    h_0 = x,   h_l = maxpool_{p_l}(act(conv_{k_l, pad_l}(h_{l-1})))  (l = 1..L),
    then flatten, optional dense hidden layers (Linear + act), and a Linear readout.

The digits defaults (channels 16, 32; 3x3 kernels, padding 1, 2x2 pooling; readout 128 -> 10)
are the layer shapes of the default convolutional EBM (``ConvEBMConfig``): 160 + 4 640 + 1 290
= 6 090 parameters. :meth:`CNNConfig.cifar10` is the seed study's Laborieux et al. (2021) shape
(channels 128-256-512-512, paddings 1,1,1,0) read feed-forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines.models.common import ACTIVATED_CONSTRAINTS, BaselineClassifier, make_activation, mlp_layers, seeded_init
from analogeq.ebm.config_dict import JSONConfig, check_fields
from analogeq.ebm.conv import CIFAR10_CONV_STACK, ConvStackConfig


@dataclass(frozen=True)
class CNNConfig(ConvStackConfig, JSONConfig):
    """input_shape (C, H, W); channels per conv layer; kernel_sizes, paddings, pool_sizes: an int
    (every layer) or one per layer (pool 1 = no pooling); hidden_sizes: dense layers after the
    convolutions; num_classes (the fields and checks of the convolutional EBM's layers,
    :class:`~analogeq.ebm.conv.ConvStackConfig`); activation; seed."""

    activation: str = "relu"
    seed: int = 0
    kind: str = field(default="cnn", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()  # the conv stack; raises if the image shrinks to nothing
        check_fields(self, ACTIVATED_CONSTRAINTS)

    def feature_shape(self) -> tuple[int, int, int]:
        """(C, H, W) after the last conv + pool layer."""
        return self.conv_shapes()[-1]

    @classmethod
    def cifar10(cls, **changes: Any) -> "CNNConfig":
        """Laborieux et al. (2021) / seed-study shape for 32x32x3 images
        (:data:`analogeq.ebm.conv.CIFAR10_CONV_STACK`), read feed-forward."""
        return cls(**{**CIFAR10_CONV_STACK, **changes})


class CNN(BaselineClassifier):
    """``layers`` is one ``nn.Sequential`` of Conv2d, activation, MaxPool2d ..., Flatten, Linear."""

    config_class = CNNConfig

    def __init__(self, config: CNNConfig):
        super().__init__(config)
        layers: list[nn.Module] = []
        c_in = config.input_shape[0]
        for ch, k, p, q in zip(config.channels, config.kernel_sizes, config.paddings, config.pool_sizes):
            layers += [nn.Conv2d(c_in, ch, kernel_size=k, padding=p), make_activation(config.activation)]
            if q > 1:
                layers.append(nn.MaxPool2d(q))
            c_in = ch
        layers.append(nn.Flatten())
        layers += mlp_layers(math.prod(config.feature_shape()), config.hidden_sizes, config.num_classes, config.activation)
        self.layers = nn.Sequential(*layers)
        seeded_init(self, config.seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
