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
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines._checks import (
    check_choice,
    check_input_shape,
    check_int,
    check_sizes,
)
from analogeq.baselines.models.common import ACTIVATIONS, make_activation, seeded_init
from analogeq.ebm.config_dict import config_from_dict
from analogeq.contract import GradientSpec


def _per_layer(name: str, value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    values = tuple(value) if isinstance(value, (list, tuple)) else None
    if values is None or len(values) != n or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise ValueError(f"{name} must be an integer or a list of {n} integers (one per conv layer), got {value!r}")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class CNNConfig:
    """input_shape (C, H, W); channels per conv layer; kernel_sizes, paddings, pool_sizes: an int
    (every layer) or one per layer (pool 1 = no pooling); hidden_sizes: dense layers after the
    convolutions; num_classes; activation; seed."""

    input_shape: tuple[int, ...] = (1, 8, 8)
    channels: tuple[int, ...] = (16, 32)
    kernel_sizes: tuple[int, ...] | int = 3
    paddings: tuple[int, ...] | int = 1
    pool_sizes: tuple[int, ...] | int = 2
    hidden_sizes: tuple[int, ...] = ()
    num_classes: int = 10
    activation: str = "relu"
    seed: int = 0
    kind: str = field(default="cnn", init=False)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("input_shape", check_input_shape("CNNConfig.input_shape", self.input_shape, ndim=3))
        set_("channels", check_sizes("CNNConfig.channels", self.channels, allow_empty=False))
        n = len(self.channels)
        set_("kernel_sizes", _per_layer("CNNConfig.kernel_sizes", self.kernel_sizes, n))
        set_("paddings", _per_layer("CNNConfig.paddings", self.paddings, n))
        set_("pool_sizes", _per_layer("CNNConfig.pool_sizes", self.pool_sizes, n))
        set_("hidden_sizes", check_sizes("CNNConfig.hidden_sizes", self.hidden_sizes, allow_empty=True))
        if any(k < 1 for k in self.kernel_sizes):
            raise ValueError(f"CNNConfig.kernel_sizes must be >= 1, got {list(self.kernel_sizes)}")
        if any(p < 0 for p in self.paddings):
            raise ValueError(f"CNNConfig.paddings must be >= 0, got {list(self.paddings)}")
        if any(p < 1 for p in self.pool_sizes):
            raise ValueError(f"CNNConfig.pool_sizes must be >= 1 (1 = no pooling), got {list(self.pool_sizes)}")
        check_int("CNNConfig.num_classes", self.num_classes, 2)
        check_choice("CNNConfig.activation", self.activation, ACTIVATIONS)
        check_int("CNNConfig.seed", self.seed, 0)
        self.feature_shape()  # raises if the image shrinks to nothing

    def feature_shape(self) -> tuple[int, int, int]:
        """(C, H, W) after the last conv + pool layer."""
        c, h, w = self.input_shape
        for i, (ch, k, p, q) in enumerate(zip(self.channels, self.kernel_sizes, self.paddings, self.pool_sizes)):
            h, w = h + 2 * p - k + 1, w + 2 * p - k + 1
            h, w = h // q, w // q
            if h < 1 or w < 1:
                raise ValueError(
                    f"CNNConfig: conv layer {i} (kernel {k}, padding {p}, pool {q}) shrinks the "
                    f"{self.input_shape[1]}x{self.input_shape[2]} input to nothing"
                )
            c = ch
        return c, h, w

    @classmethod
    def cifar10(cls, **changes: Any) -> "CNNConfig":
        """Laborieux et al. (2021) / seed-study shape for 32x32x3 images, read feed-forward."""
        base = dict(input_shape=(3, 32, 32), channels=(128, 256, 512, 512), kernel_sizes=3,
                    paddings=(1, 1, 1, 0), pool_sizes=2)
        base.update(changes)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("input_shape", "channels", "kernel_sizes", "paddings", "pool_sizes", "hidden_sizes"):
            d[key] = list(getattr(self, key))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CNNConfig":
        return config_from_dict(cls, d, "cnn")


class CNN(nn.Module):
    """``layers`` is one ``nn.Sequential`` of Conv2d, activation, MaxPool2d ..., Flatten, Linear."""

    def __init__(self, config: CNNConfig):
        super().__init__()
        if not isinstance(config, CNNConfig):
            raise TypeError(f"config must be a CNNConfig, got {type(config).__name__}")
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes
        layers: list[nn.Module] = []
        c_in = config.input_shape[0]
        for ch, k, p, q in zip(config.channels, config.kernel_sizes, config.paddings, config.pool_sizes):
            layers += [nn.Conv2d(c_in, ch, kernel_size=k, padding=p), make_activation(config.activation)]
            if q > 1:
                layers.append(nn.MaxPool2d(q))
            c_in = ch
        layers.append(nn.Flatten())
        sizes = [math.prod(config.feature_shape()), *config.hidden_sizes]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), make_activation(config.activation)]
        layers.append(nn.Linear(sizes[-1], config.num_classes))
        self.layers = nn.Sequential(*layers)
        seeded_init(self, config.seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        return self.forward(x)  # one pass: no settling
