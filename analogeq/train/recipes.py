"""Tested training recipes: a model config and a TrainConfig that go together.

``digits_dense`` is the recipe of ``analogeq demo``, ``analogeq train`` (default) and
``benchmarks/bench_eqprop.py``: a dense EBM 64-256-10 with a squared-error output layer in
the energy (Scellier & Bengio 2017) trained with symmetric EqProp on the digits split.
"""

from __future__ import annotations

from typing import Any

from analogeq.train.config import TrainConfig

#: dense EBM for digits (see module docstring); ``input_shape`` (1, 8, 8), 10 classes
DIGITS_DENSE_MODEL: dict[str, Any] = {
    "kind": "dense_ebm",
    "input_shape": [1, 8, 8],
    "hidden_sizes": [256],
    "num_classes": 10,
    "readout": "mse",
    "free_steps": 60,
    "nudge_steps": 20,
    "tol": 1e-5,
    "step_size": 0.5,
    "init_gain": 1.0,
}

#: its training: symmetric EqProp (Scellier & Bengio 2017 learning rates, per layer)
DIGITS_DENSE_TRAIN: dict[str, Any] = {
    "algorithm": "eqprop",
    "nudging": "symmetric",
    "beta": 0.5,
    "epochs": 30,
    "batch_size": 32,
    "lr": [0.1, 0.05],
    "momentum": 0.0,
    "weight_decay": 0.0,
    "schedule": "cosine",
}


def digits_dense(seed: int = 0, *, epochs: int | None = None, device: str = "cpu") -> tuple[dict[str, Any], TrainConfig]:
    """(model config dict, TrainConfig) of the digits recipe with ``seed`` for init and batch order."""
    model = dict(DIGITS_DENSE_MODEL, seed=seed)
    train = dict(DIGITS_DENSE_TRAIN, seed=seed, device=device)
    if epochs is not None:
        train["epochs"] = epochs
    return model, TrainConfig.from_dict(train)


__all__ = ["DIGITS_DENSE_MODEL", "DIGITS_DENSE_TRAIN", "digits_dense"]
