"""Per-layer SGD and its learning-rate schedule."""

from __future__ import annotations

import math

import torch

from analogeq.train.config import TrainConfig


def build_optimizer(model, config: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum and weight decay, one parameter group per layer of
    :meth:`LayeredEBM.layer_parameters` (each with its own learning rate; group ``name`` set).
    Models without ``layer_parameters`` get one group."""
    if hasattr(model, "layer_parameters"):
        groups = model.layer_parameters()
    else:
        groups = [("all", [p for p in model.parameters() if p.requires_grad])]
    lrs = config.lr_per_layer(len(groups))
    param_groups = [{"params": params, "lr": lr, "name": name} for (name, params), lr in zip(groups, lrs)]
    return torch.optim.SGD(param_groups, lr=lrs[0], momentum=config.momentum, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """Per-batch schedule of a training config with ``epochs`` and ``schedule`` (a TrainConfig
    or a :class:`~analogeq.baselines.train.BaselineTrainConfig`): with T = epochs * steps_per_epoch
    batches, lr_t = lr_0 * 0.5 (1 + cos(pi min(t, T) / T)) ("cosine", from each group's lr to 0)
    or lr_t = lr_0 ("constant")."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
