"""The floating-point substrate: a trained network computed exactly, on CPU or GPU.

Every network that runs on a substrate follows one small convention (:class:`ClassifierModel`):
``forward(x)`` returns the class scores used for prediction (an EBM settles to its fixed point
first), and ``forward_for_attack(x, gradient)`` returns scores differentiable with respect to
``x`` the way :class:`~analogeq.substrates.base.GradientSpec` asks (a feed-forward network has no
settling and returns ``forward(x)``). :func:`as_classifier` wraps any plain ``nn.Module``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from analogeq.substrates.base import GradientSpec, Substrate, check_input


@runtime_checkable
class ClassifierModel(Protocol):
    """What a network offers to the substrates (see module docstring)."""

    input_shape: tuple[int, ...]
    num_classes: int

    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec) -> torch.Tensor: ...


class FeedForwardClassifier(nn.Module):
    """A plain ``nn.Module`` (one pass, no settling) following the :class:`ClassifierModel` convention."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], num_classes: int):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.module = module
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        # one pass: there is no settling, so every gradient mode is the exact gradient
        return self.module(x)


def as_classifier(module: nn.Module, input_shape: tuple[int, ...], num_classes: int) -> ClassifierModel:
    """Wrap a plain feed-forward ``nn.Module`` mapping ``(B, *input_shape)`` to logits."""
    if isinstance(module, ClassifierModel):
        return module
    return FeedForwardClassifier(module, input_shape, num_classes)


class FloatSubstrate(Substrate):
    """A network computed in floating point (float32) on ``device`` (CPU or CUDA).

    Deterministic: ``logits`` gives the same numbers on every call; ``reseed`` has nothing to seed.
    """

    name = "float"

    def __init__(self, model: ClassifierModel, device: str | torch.device = "cpu"):
        if not isinstance(model, ClassifierModel):
            raise TypeError(
                "model must follow the ClassifierModel convention (input_shape, num_classes, forward, "
                f"forward_for_attack); wrap plain modules with as_classifier(), got {type(model).__name__}"
            )
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for but torch.cuda.is_available() is False")
        self.model = model.to(self.device).eval()
        self.input_shape = tuple(model.input_shape)
        self.num_classes = int(model.num_classes)

    @property
    def stochastic(self) -> bool:
        return False

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_shape)
        return self.model(x.to(self.device, torch.float32))

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        check_input(x, self.input_shape)
        return self.model.forward_for_attack(x.to(self.device, torch.float32), gradient)

    def reseed(self, seed: int) -> None:  # deterministic: nothing to seed
        return None

    def describe(self) -> dict[str, Any]:
        config = getattr(self.model, "config", None)
        return {
            "substrate": self.name,
            "device": str(self.device),
            "dtype": "float32",
            "model": type(self.model).__name__,
            "model_config": config.to_dict() if hasattr(config, "to_dict") else None,
        }
