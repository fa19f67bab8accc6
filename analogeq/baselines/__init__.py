"""Baselines to compare the EBMs against: feed-forward models, defences, their training, and the
weight-space view of robustness.

* :mod:`analogeq.baselines.models`: MLP, CNN, ViT, VIB classifier (ClassifierModel convention;
  ``build_baseline(config_or_dict)``).
* :mod:`analogeq.baselines.defences`: standard, PGD-AT, TRADES, AWP, WEAT, VIB
  (``build_defence(name, **params)``).
* :mod:`analogeq.baselines.train`: ``train_baseline(model, train, defence, config)``.
* :mod:`analogeq.baselines.sensitivity`: robust loss under random / adversarial weight
  perturbations of relative size gamma, next to accuracy under device programming noise.
"""

from analogeq.baselines.defences import DEFENCES, build_defence, defence_from_dict
from analogeq.baselines.models import (
    BASELINE_KINDS,
    baseline_config,
    build_baseline,
    parameter_count,
    register_with_core,
)
from analogeq.baselines.train import BaselineTrainConfig, TrainResult, accuracy, train_baseline

register_with_core()

__all__ = [
    "BASELINE_KINDS",
    "BaselineTrainConfig",
    "DEFENCES",
    "TrainResult",
    "accuracy",
    "baseline_config",
    "build_baseline",
    "build_defence",
    "defence_from_dict",
    "parameter_count",
    "register_with_core",
    "train_baseline",
]
