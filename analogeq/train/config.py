"""``TrainConfig``: every training hyperparameter, validated at construction, JSON round trip."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ALGORITHMS = ("eqprop", "bptt")
SCHEDULES = ("cosine", "constant")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class TrainConfig:
    """How to train a layered EBM.

    algorithm: "eqprop" (Equilibrium Propagation) or "bptt" (backpropagation through the
        free phase, the reference).
    nudging: "symmetric" (centered, +beta and -beta), "one_sided" (+beta) or "random_sign"
        (one-sided, sign drawn per batch); EqProp only.
    beta: nudging strength, > 0 (EqProp only).
    epochs, batch_size: passes over the training set and mini-batch size.
    lr: learning rate, one number for every layer or one per layer in the order of
        :meth:`LayeredEBM.layer_parameters` (layer1, ..., layerN, then readout for ce).
    momentum: SGD momentum in [0, 1). weight_decay: L2 coefficient >= 0 (decoupled from
        nothing: torch SGD's ``weight_decay``).
    schedule: "cosine" (learning rate annealed to 0 over the epochs, per batch) or "constant".
    bptt_steps: unrolled steps for "bptt" (None = the model's ``free_steps``).
    seed: seed of the batch order and of random-sign nudging.
    device: "cpu", "cuda", "cuda:1", ...
    eval_batch_size: batch size of the per-epoch validation.
    """

    algorithm: str = "eqprop"
    nudging: str = "symmetric"
    beta: float = 0.5
    epochs: int = 30
    batch_size: int = 32
    lr: float | tuple[float, ...] = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    bptt_steps: int | None = None
    seed: int = 0
    device: str = "cpu"
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        from analogeq.train.eqprop import NUDGINGS

        if self.nudging not in NUDGINGS:
            raise ValueError(f"nudging must be one of {NUDGINGS}, got {self.nudging!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta) or self.beta <= 0:
            raise ValueError(f"beta (nudging strength) must be a finite number > 0, got {self.beta!r}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        lrs = self.lr if isinstance(self.lr, (list, tuple)) else (self.lr,)
        if isinstance(self.lr, list):
            object.__setattr__(self, "lr", tuple(self.lr))
        if not lrs or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 for v in lrs):
            raise ValueError(f"lr must be a finite number > 0 or a non-empty list of them, got {self.lr!r}")
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) or not (0.0 <= self.momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) or not (
            math.isfinite(self.weight_decay) and self.weight_decay >= 0
        ):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.bptt_steps is not None and (not _is_int(self.bptt_steps) or self.bptt_steps < 1):
            raise ValueError(f"bptt_steps (step budget) must be None or an integer >= 1, got {self.bptt_steps!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}")

    def lr_per_layer(self, n_layers: int) -> list[float]:
        """One learning rate per layer group (a single lr is broadcast)."""
        if not isinstance(self.lr, tuple):
            return [float(self.lr)] * n_layers
        if len(self.lr) != n_layers:
            raise ValueError(f"lr has {len(self.lr)} values but the model has {n_layers} layer groups; give one lr or {n_layers}")
        return [float(v) for v in self.lr]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if isinstance(self.lr, tuple):
            d["lr"] = list(self.lr)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        allowed = set(cls.__dataclass_fields__)
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**d)
