"""The layer stack of a convolutional network: conv + pool layers, then dense layers.

:class:`ConvStackConfig` holds the fields shared by the convolutional EBM
(:class:`~analogeq.ebm.conv.ConvEBMConfig`) and its feed-forward twin
(:class:`~analogeq.baselines.models.CNNConfig`); :func:`conv_pool_shapes` gives the state shape
after each layer; :data:`CIFAR10_CONV_STACK` is the seed study's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analogeq.ebm.config_dict import check_shape, check_sizes, per_layer

#: the conv stack of Laborieux et al. (2021) for 32x32x3 images, the seed study's shape (arXiv
#: 2401.11543): channels 128-256-512-512, 3x3 kernels, paddings 1,1,1,0, a 2x2 max-pool after each
CIFAR10_CONV_STACK: dict[str, Any] = dict(
    input_shape=(3, 32, 32),
    channels=(128, 256, 512, 512),
    kernel_sizes=3,
    paddings=(1, 1, 1, 0),
    pool_sizes=2,
)


def conv_pool_shapes(owner: str, input_shape: tuple[int, ...], channels: tuple[int, ...], kernel_sizes: tuple[int, ...],
                     paddings: tuple[int, ...], pool_sizes: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Shape (C_l, H_l, W_l) after each conv + pool layer l of a stack on (C, H, W) inputs:

        H_l = (H_{l-1} + 2 p_l - k_l + 1) // q_l      (stride-1 convolution, then a q_l x q_l max-pool)

    and the same for W; a layer whose convolution output is smaller than its pooling window raises
    ``ValueError`` naming ``owner``, the layer and its input size."""
    shape = tuple(input_shape)
    shapes = []
    for i, (c, k, p, q) in enumerate(zip(channels, kernel_sizes, paddings, pool_sizes)):
        h, w = shape[1] + 2 * p - k + 1, shape[2] + 2 * p - k + 1
        if h < q or w < q or h < 1 or w < 1:
            raise ValueError(
                f"{owner}: conv layer {i}: kernel {k}, padding {p}, pool {q} do not fit its {shape[1]}x{shape[2]} input"
            )
        shape = (c, h // q, w // q)
        shapes.append(shape)
    return shapes


@dataclass(frozen=True)
class ConvStackConfig:
    """The fields of a stack of conv + pool layers followed by dense layers, shared by the
    convolutional EBM (:class:`ConvEBMConfig`) and its feed-forward twin
    (:class:`~analogeq.baselines.models.CNNConfig`); the digits defaults give both the same
    layer shapes.

    input_shape: (C, H, W) of one input image.
    channels: output channels of each conv + pool layer (at least one).
    kernel_sizes (>= 1), paddings (>= 0), pool_sizes (>= 1; 1 = no pooling): one per conv layer
        (an int is broadcast to every layer).
    hidden_sizes: dense hidden layers after the last conv layer (may be empty).
    num_classes: number of classes.

    Checked and normalised (tuples of ints) at construction; a layer that does not fit raises.
    """

    input_shape: tuple[int, ...] = (1, 8, 8)
    channels: tuple[int, ...] = (16, 32)
    kernel_sizes: tuple[int, ...] | int = 3
    paddings: tuple[int, ...] | int = 1
    pool_sizes: tuple[int, ...] | int = 2
    hidden_sizes: tuple[int, ...] = ()
    num_classes: int = 10

    def __post_init__(self) -> None:
        owner = type(self).__name__
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("input_shape", check_shape(owner, "input_shape", self.input_shape, ndim=3))
        set_("channels", check_sizes(owner, "channels", self.channels, allow_empty=False))
        n = len(self.channels)
        set_("kernel_sizes", per_layer(owner, "kernel_sizes", self.kernel_sizes, n, minimum=1))
        set_("paddings", per_layer(owner, "paddings", self.paddings, n, minimum=0))
        set_("pool_sizes", per_layer(owner, "pool_sizes", self.pool_sizes, n, minimum=1))
        set_("hidden_sizes", check_sizes(owner, "hidden_sizes", self.hidden_sizes, allow_empty=True))
        self.conv_shapes()  # raises if a kernel or pool does not fit

    def conv_shapes(self) -> list[tuple[int, int, int]]:
        """(C, H, W) after every conv + pool layer (:func:`conv_pool_shapes`)."""
        return conv_pool_shapes(type(self).__name__, self.input_shape, self.channels, self.kernel_sizes,
                                self.paddings, self.pool_sizes)


__all__ = ["CIFAR10_CONV_STACK", "ConvStackConfig", "conv_pool_shapes"]
