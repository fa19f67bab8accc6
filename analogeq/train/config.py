"""``TrainConfig``: every training hyperparameter, validated at construction, JSON round trip.

The constraints the training configs of the package share live here too
(:data:`LOOP_CONSTRAINTS`, :data:`SGD_CONSTRAINTS`, :func:`check_learning_rates`,
:func:`lr_per_group`, :func:`check_device_name`): :class:`TrainConfig`,
:class:`~analogeq.train.in_situ.InSituConfig` and
:class:`~analogeq.baselines.train.BaselineTrainConfig` check them with the same rules and messages
(``TrainConfig.epochs: must be an integer >= 1, got 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analogeq.ebm.config_dict import JSONConfig, check_fields
from analogeq.train.eqprop import NUDGINGS
from hardware_models.params import Integer, OneOf, ParameterError, Real, check_int

ALGORITHMS = ("eqprop", "bptt")
SCHEDULES = ("cosine", "constant")

#: a learning rate, a nudging strength beta: finite and > 0
POSITIVE = Real(minimum=0.0, exclusive_minimum=True)

#: what every training loop has: passes over the data, mini-batch size, learning-rate schedule
#: (cosine annealing to 0 per batch, or constant), seed of the batch order
LOOP_CONSTRAINTS = {
    "epochs": Integer(minimum=1),
    "batch_size": Integer(minimum=1),
    "schedule": OneOf(SCHEDULES),
    "seed": Integer(minimum=0),
}

#: what every SGD-style loop adds: momentum in [0, 1), L2 weight decay >= 0, validation batch size
SGD_CONSTRAINTS = {
    "momentum": Real(minimum=0.0, maximum=1.0, exclusive_maximum=True),
    "weight_decay": Real(minimum=0.0),
    "eval_batch_size": Integer(minimum=1),
}

_TRAIN_CONSTRAINTS = {
    **LOOP_CONSTRAINTS,
    **SGD_CONSTRAINTS,
    "algorithm": OneOf(ALGORITHMS),
    "nudging": OneOf(NUDGINGS),
    "beta": POSITIVE,
}


def check_learning_rates(lr: Any, owner: str) -> tuple[float, ...]:
    """The learning rates in ``lr`` (one number > 0, or a non-empty list or tuple of them) as
    floats; entries of a list are named by index (``TrainConfig.lr[1]``)."""
    if isinstance(lr, (list, tuple)):
        if not lr:
            raise ParameterError(owner, "lr", f"must be a finite number > 0 or a non-empty list of them, got {lr!r}")
        return tuple(POSITIVE(f"lr[{i}]", v, owner) for i, v in enumerate(lr))
    return (POSITIVE("lr", lr, owner),)


def lr_per_group(lr: float | tuple[float, ...], n: int, owner: str, groups: str) -> list[float]:
    """One learning rate per parameter group (``groups`` names them in the error): a single
    ``lr`` is broadcast to ``n`` groups, a tuple must have ``n`` entries."""
    if not isinstance(lr, tuple):
        return [float(lr)] * n
    if len(lr) != n:
        raise ValueError(f"{owner}.lr has {len(lr)} values but the model has {n} {groups}; give one lr or {n}")
    return [float(v) for v in lr]


def check_device_name(device: Any, owner: str) -> str:
    """A non-empty device name ("cpu", "cuda", "cuda:1"); whether it exists is checked when
    training starts (:func:`analogeq.train.loop.resolve_device`)."""
    if not isinstance(device, str) or not device:
        raise ParameterError(owner, "device", f"must be a string such as 'cpu' or 'cuda', got {device!r}")
    return device


@dataclass(frozen=True)
class TrainConfig(JSONConfig):
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
        check_fields(self, _TRAIN_CONSTRAINTS)
        check_learning_rates(self.lr, "TrainConfig")
        if isinstance(self.lr, list):
            object.__setattr__(self, "lr", tuple(self.lr))
        if self.bptt_steps is not None:  # None: the model's free_steps
            check_int("bptt_steps", self.bptt_steps, minimum=1, owner="TrainConfig")
        check_device_name(self.device, "TrainConfig")

    def lr_per_layer(self, n_layers: int) -> list[float]:
        """One learning rate per layer group (a single lr is broadcast)."""
        return lr_per_group(self.lr, n_layers, "TrainConfig", "layer groups")


__all__ = [
    "ALGORITHMS",
    "LOOP_CONSTRAINTS",
    "POSITIVE",
    "SCHEDULES",
    "SGD_CONSTRAINTS",
    "TrainConfig",
    "check_device_name",
    "check_learning_rates",
    "lr_per_group",
]
