"""Transfer attack: adversarial examples made on a *source* substrate (e.g. the float model),
evaluated on the *target* substrate the attack is called with (e.g. the same network on an
emulated crossbar). The target is only queried to check the result; it gives no gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from analogeq.robustness.attacks.common import Attack, AttackResult, check_batch, finish
from analogeq.substrates.base import Substrate
from hardware_models.params import Integer


@dataclass(frozen=True)
class Transfer(Attack):
    """``Transfer(attack=PGD(eps=0.1), source=float_substrate)(target, x, y)``.

    attack: any attack of this package (it runs on ``source``).
    source: the substrate the adversarial examples are made on; same input shape and classes
        as the target.
    check_draws: draws of the target's logits averaged to decide success (stochastic targets).
    """

    attack: object
    source: Substrate
    check_draws: int = 1

    name = "transfer"
    constraints = {"check_draws": Integer(minimum=1)}

    def __post_init__(self) -> None:
        if not callable(self.attack) or not hasattr(self.attack, "to_dict"):
            raise TypeError(f"attack must be an attack configuration of this package, got {type(self.attack).__name__}")
        if not isinstance(self.source, Substrate):
            raise TypeError(f"source must be an analogeq Substrate, got {type(self.source).__name__}")
        super().__post_init__()

    def __call__(self, substrate: Substrate, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        started = time.perf_counter()
        x_t, y_t = check_batch(substrate, x, y)
        if tuple(self.source.input_shape) != tuple(substrate.input_shape) or self.source.num_classes != substrate.num_classes:
            raise ValueError(
                "the source and target substrates must share input_shape and num_classes, got "
                f"source {tuple(self.source.input_shape)}/{self.source.num_classes} and "
                f"target {tuple(substrate.input_shape)}/{substrate.num_classes}"
            )
        made = self.attack(self.source, x, y)
        x_adv = made.x_adv.to(substrate.device)
        return finish(
            self.name, self, substrate, x_t, y_t, x_adv, made.norm, started,
            check_draws=self.check_draws,
            extra={"source_attack": made.attack, "source_success_rate": made.success_rate},
        )
