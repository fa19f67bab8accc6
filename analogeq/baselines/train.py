"""Training loop for the feed-forward baselines with any defence: :func:`train_baseline`.

One step on a mini-batch (x, y), see :mod:`analogeq.baselines.defences.common`:

1. model.eval(); x' = defence.perturb_inputs(FloatSubstrate(model), x, y, seed_t)   (or None)
2. model.train(); v = defence.weight_perturbation(model, x, x', y, gen, epoch)    (AWP; or None)
3. w <- w + v; loss = defence.loss(model, x, x', y, gen); backward; w <- w - v
4. optimiser step on w (gradient taken at w + v, as in AWP)

seed_t = seed * 1_000_003 + t (t counts steps from 0) seeds each batch's attack start, so the
same config gives the same weights. After every epoch the clean accuracy on the validation split
is logged. Wall time of the whole training (attacks included) is returned as ``train_time_s``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.baselines.defences import DEFENCES, Standard
from analogeq.baselines.defences.awp import add_to_weights
from analogeq.contract import ClassifierModel
from analogeq.data.base import ArrayDataset
from analogeq.ebm.config_dict import JSONConfig, check_fields
from analogeq.substrates.float import FloatSubstrate
from analogeq.train.config import LOOP_CONSTRAINTS, POSITIVE, SGD_CONSTRAINTS, check_device_name
from analogeq.train.loop import check_finite_grads, progress_bar, resolve_device
from analogeq.train.optim import build_scheduler
from hardware_models.params import OneOf

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")

_BASELINE_TRAIN_CONSTRAINTS = {**LOOP_CONSTRAINTS, **SGD_CONSTRAINTS, "optimizer": OneOf(OPTIMIZERS), "lr": POSITIVE}


@dataclass(frozen=True)
class BaselineTrainConfig(JSONConfig):
    """epochs, batch_size; optimizer "adam" (default; Madry et al. used Adam on MNIST) or "sgd"
    (with ``momentum``); lr > 0; weight_decay >= 0; schedule "cosine" (annealed to 0 over all
    steps) or "constant"; seed (batch order, attack starts, VIB noise); device; eval_batch_size.
    The fields the EBM's :class:`~analogeq.train.config.TrainConfig` has too are checked by the
    same rules (:data:`~analogeq.train.config.LOOP_CONSTRAINTS`, ``SGD_CONSTRAINTS``).

    :meth:`cifar10` gives the usual CIFAR-10 adversarial-training recipe (SGD 0.1, momentum 0.9,
    weight decay 5e-4, batch 128; Rice et al. 2020 / Wu et al. 2020)."""

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        check_fields(self, _BASELINE_TRAIN_CONSTRAINTS)
        check_device_name(self.device, "BaselineTrainConfig")

    @classmethod
    def cifar10(cls, **changes: Any) -> "BaselineTrainConfig":
        base = dict(epochs=200, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4)
        base.update(changes)
        return cls(**base)


@dataclass
class TrainResult:
    """What :func:`train_baseline` returns: the trained model (in eval mode), per-epoch history
    (``epoch``, ``loss``, ``val_accuracy``, ``wall_s`` and the defence's stats), the wall time
    of the training in seconds, and the configs as JSON dicts."""

    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    train_time_s: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    defence: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def accuracy(model: nn.Module, dataset: ArrayDataset, batch_size: int = 512) -> float:
    """Clean accuracy of ``model(x).argmax`` on ``dataset`` (model left in its mode)."""
    dev = next(model.parameters()).device
    correct = 0
    for x, y in dataset.batches(batch_size):
        correct += int((model(x.to(dev)).argmax(dim=1) == y.to(dev)).sum())
    return correct / len(dataset)


def _optimizer(model: nn.Module, config: BaselineTrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def training_step(model: nn.Module, substrate: FloatSubstrate, defence: Any, optimizer: torch.optim.Optimizer,
                  x: torch.Tensor, y: torch.Tensor, *, seed: int, generator: torch.Generator,
                  epoch: int = 0) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimisation step of ``defence`` on the batch (x, y) (steps 1-4 of the module
    docstring); ``substrate`` wraps ``model`` for the input attacks. Returns (loss, stats)."""
    model.eval()
    x_adv = defence.perturb_inputs(substrate, x, y, seed)
    model.train()
    offsets = defence.weight_perturbation(model, x, x_adv, y, generator, epoch=epoch)
    if offsets:
        add_to_weights(model, offsets, +1.0)
    optimizer.zero_grad(set_to_none=True)
    loss, stats = defence.loss(model, x, x_adv, y, generator)
    loss.backward()
    if offsets:
        add_to_weights(model, offsets, -1.0)
    check_finite_grads(model, f"training diverged in epoch {epoch + 1}", "lower the learning rate")
    optimizer.step()
    return loss.detach(), stats


def train_baseline(
    model: nn.Module,
    train: ArrayDataset,
    defence: Any = None,
    config: BaselineTrainConfig = BaselineTrainConfig(),
    *,
    val: ArrayDataset | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """Train ``model`` (a baseline following the ClassifierModel convention) on ``train`` with
    ``defence`` (None = :class:`~analogeq.baselines.defences.Standard`); see the module docstring."""
    defence = Standard() if defence is None else defence
    if type(defence) not in DEFENCES.values():
        raise TypeError(f"defence must be one of the defence classes {sorted(DEFENCES)} (build_defence), got {type(defence).__name__}")
    if not isinstance(config, BaselineTrainConfig):
        raise TypeError(f"config must be a BaselineTrainConfig, got {type(config).__name__}")
    if not isinstance(model, nn.Module) or not isinstance(model, ClassifierModel):
        raise TypeError(f"model must be an nn.Module following the ClassifierModel convention, got {type(model).__name__}")
    if not isinstance(train, ArrayDataset):
        raise TypeError(f"train must be an ArrayDataset, got {type(train).__name__}")
    if tuple(train.input_shape) != tuple(model.input_shape):
        raise ValueError(f"train images have shape {train.input_shape} but the model expects {tuple(model.input_shape)}")
    if int(train.y.max()) >= model.num_classes or int(train.y.min()) < 0:
        raise ValueError(f"train labels must lie in [0, {model.num_classes - 1}], got {int(train.y.min())}..{int(train.y.max())}")
    if defence.name == "vib" and not hasattr(model, "encode"):
        raise TypeError(f"the 'vib' defence needs a 'vib_mlp' model (stochastic encoder), got {type(model).__name__}")

    device = resolve_device(config.device)
    model.to(device)
    substrate = FloatSubstrate(model, device=device)  # shares the module; used for input attacks
    optimizer = _optimizer(model, config)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    # seeds of the named streams: seed + 7919 (VIB noise) and seed * 1_000_003 + t (attack start
    # of step t) are kept rather than derive_seed, because they fix the trained baselines of the
    # compare recipes (PGD-AT, TRADES, AWP, WEAT, VIB) and the measured numbers of the tests
    order_gen = torch.Generator().manual_seed(config.seed)
    noise_gen = torch.Generator().manual_seed(config.seed + 7919)
    result = TrainResult(model=model, config=config.to_dict(), defence=defence.to_dict())
    bar = progress_bar(progress, config.epochs * steps_per_epoch, f"train {type(model).__name__}+{defence.name}",
                       leave=False)
    started = time.perf_counter()
    t = 0
    for epoch in range(config.epochs):
        epoch_started = time.perf_counter()
        loss_sum, n_seen, stats_sum = 0.0, 0, {}
        for x, y in train.batches(config.batch_size, shuffle=True, generator=order_gen):
            x, y = x.to(device), y.to(device)
            loss, stats = training_step(model, substrate, defence, optimizer, x, y,
                                        seed=config.seed * 1_000_003 + t, generator=noise_gen, epoch=epoch)
            scheduler.step()
            loss_sum += float(loss.detach()) * x.shape[0]
            n_seen += x.shape[0]
            for k, v in stats.items():
                stats_sum[k] = stats_sum.get(k, 0.0) + v * x.shape[0]
            t += 1
            if bar is not None:
                bar.update(1)
        model.eval()
        record = {"epoch": epoch + 1, "loss": loss_sum / n_seen, "wall_s": time.perf_counter() - epoch_started}
        record.update({k: v / n_seen for k, v in stats_sum.items()})
        if val is not None:
            record["val_accuracy"] = accuracy(model, val, config.eval_batch_size)
        result.history.append(record)
        logger.info("epoch %d: loss %.4f%s", epoch + 1, record["loss"],
                    f", val accuracy {record['val_accuracy']:.4f}" if "val_accuracy" in record else "")
    if bar is not None:
        bar.close()
    result.train_time_s = time.perf_counter() - started
    model.eval()
    return result
