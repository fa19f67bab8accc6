"""The digits data and the models the benchmarks train on it (torch and analogeq; the crossbar
benchmark, which never loads torch, does not import this module).

    splits = digits_splits()                       # the split of seed 0: 1258 / 179 / 360 images
    trained = train_recipe(seed, splits, epochs)   # analogeq.train.recipes.digits_dense
    trained.model, trained.history["train_seconds"], trained.cpu_seconds
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from analogeq.data import DataSplits, load_dataset
from analogeq.models import build_model
from analogeq.train import train
from analogeq.train.config import TrainConfig
from analogeq.train.recipes import digits_dense

__all__ = ["DIGITS_SPLIT_SEED", "Trained", "digits_splits", "train_model", "train_recipe"]

#: every benchmark's digits split (the model seed varies, the split does not)
DIGITS_SPLIT_SEED = 0


def digits_splits() -> DataSplits:
    """The digits train / val / test split of seed :data:`DIGITS_SPLIT_SEED`."""
    return load_dataset("digits", seed=DIGITS_SPLIT_SEED)


@dataclasses.dataclass
class Trained:
    """A trained model (left in the mode ``train`` leaves it: call ``.eval()`` where needed),
    the history of :func:`analogeq.train.train`, the process CPU time of that call (s) and the
    configs it was built and trained with."""

    model: Any
    history: dict
    cpu_seconds: float
    model_config: Any
    train_config: TrainConfig


def train_model(model_config: Any, train_config: TrainConfig, splits: DataSplits) -> Trained:
    """Build ``model_config`` (a dict with ``kind`` or a config object) and train it on ``splits``
    with ``train_config``, no progress output."""
    model = build_model(model_config)
    cpu0 = time.process_time()
    history = train(model, splits, train_config, progress=False)
    return Trained(model, history, time.process_time() - cpu0, model_config, train_config)


def train_recipe(seed: int, splits: DataSplits, epochs: int | None = None) -> Trained:
    """The digits recipe (:func:`analogeq.train.recipes.digits_dense`) with ``seed`` for the
    initialisation and batch order; ``epochs`` overrides the recipe's."""
    model_config, train_config = digits_dense(seed, epochs=epochs)
    return train_model(model_config, train_config, splits)
