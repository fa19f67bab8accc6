"""The floating-point substrate: a trained network computed exactly, on CPU or GPU.

The network is used through :class:`analogeq.contract.ClassifierModel` only: ``forward(x)``
for prediction, ``forward_for_attack(x, gradient)`` for white-box attacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from analogeq.contract import ClassifierModel, GradientSpec, check_input, resolve_device
from analogeq.substrates.base import Substrate
from analogeq.substrates.registry import SubstrateKind, device_option, register_substrate, validate_options
from hardware_models.params import ParameterError

__all__ = ["FloatOptions", "FloatSubstrate"]


@dataclass(frozen=True)
class FloatOptions:
    """Options of the float substrate: ``device`` (torch device name, e.g. "cpu", "cuda")."""

    device: Any = "cpu"

    def __post_init__(self) -> None:
        validate_options(self, {"device": device_option})

    def to_dict(self) -> dict[str, Any]:
        return {"device": str(self.device)}


class FloatSubstrate(Substrate):
    """A network computed in floating point (float32) on ``device`` (CPU or CUDA).

    Deterministic: ``logits`` gives the same numbers on every call; ``reseed`` has nothing to seed.
    """

    name = "float"

    def __init__(self, model: ClassifierModel, device: str | torch.device = "cpu"):
        if not isinstance(model, ClassifierModel):
            raise ParameterError(
                "FloatSubstrate", "model", "must follow the ClassifierModel convention (input_shape, num_classes, forward, "
                f"forward_for_attack); wrap plain modules with as_classifier(), got {type(model).__name__}"
            )
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.input_shape = tuple(model.input_shape)
        self.num_classes = int(model.num_classes)

    @property
    def stochastic(self) -> bool:
        return False

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The network's scores; a settling network's settle (its ``last_settle``, the
        :class:`~analogeq.contract.SettlingModel` contract) goes to :meth:`settle_report`."""
        check_input(x, self.input_shape)
        before = getattr(self.model, "last_settle", None)
        scores = self.model(x.to(self.device, torch.float32))
        after = getattr(self.model, "last_settle", None)
        if after is not None and after is not before:
            self.record_settle(after)
        return scores

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
            "energy_model": None,  # floating point has no cost model
        }


register_substrate(SubstrateKind(
    "float", FloatOptions, lambda model, o: FloatSubstrate(model, device=o.device),
    "the network in float32 on CPU or GPU (the reference)",
))
