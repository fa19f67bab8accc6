"""Training energy-based networks for crossbars: naive deployment, noise in the loop, in situ.

Three ways to get an EBM onto a crossbar (issue 4, item 4):

(a) **naive deployment**: train in floating point (:func:`analogeq.train.train`), program the
    weights (:class:`~analogeq.substrates.crossbar.CrossbarSubstrate`); nothing else;

(b) **hardware-aware EqProp** (:func:`train_hardware_aware`): the free and nudged phases run on
    the emulated hardware, a freshly programmed draw of the card per batch (or per epoch), with
    its programming noise, faults, drift to ``drift_time_s``, read and TIA noise and DAC/ADC
    quantisation; the EqProp estimate is taken from those states and the float weights are
    updated and programmed again. The network learns weights whose fixed point survives the
    device (the EqProp analogue of aihwkit's hardware-aware training);

(c) **in-situ EqProp**: :mod:`analogeq.train.in_situ`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from analogeq.contract import SettlingModel, check_labels
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.substrates.crossbar.common import check_crossbar_card
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import eqprop_gradients_from_states
from analogeq.train.loop import check_finite_grads
from analogeq.train.optim import build_optimizer, build_scheduler
from hardware_models.params import Real, check_float, check_one_of

logger = logging.getLogger(__name__)

__all__ = ["clip_weights", "evaluate_substrate", "train_hardware_aware"]

REPROGRAM = ("batch", "epoch")


@torch.no_grad()
def evaluate_substrate(substrate: Any, dataset: Any, *, batch_size: int = 512) -> float:
    """Accuracy of one draw of ``substrate.logits`` on ``dataset``."""
    correct = 0
    for x, y in dataset.batches(batch_size):
        correct += int((substrate.logits(x).argmax(dim=-1) == y.to(substrate.device)).sum())
    return correct / len(dataset)


# --------------------------------------------------------------------------------------------
# (b) hardware-aware EqProp
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def clip_weights(model: Any, sigma: float) -> None:
    """Clip every weight matrix of ``model`` (its synapses and readout) to +-sigma std(W)."""
    for syn in model.all_synapses():
        bound = float(sigma) * float(syn.weight.std())
        syn.weight.clamp_(-bound, bound)


def train_hardware_aware(
    model: Any,
    splits: Any,
    config: Any,
    card: Any,
    *,
    drift_time_s: float = 3600.0,
    reprogram: str = "batch",
    seed: int = 0,
    common_noise: bool = False,
    weight_clip_sigma: float | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """EqProp with the crossbar in the loop; trains ``model`` (a LayeredEBM) in place.

    ``config`` is a :class:`~analogeq.train.config.TrainConfig` (algorithm "eqprop", nudging
    "symmetric" or "one_sided"; lr, momentum, schedule, epochs, batch size as for float
    training). Every batch (``reprogram="batch"``) or epoch (``"epoch"``) the current float
    weights are programmed on ``card`` with a new programming draw (seeds from
    ``SeedSequence(seed)``), read at ``drift_time_s``; the phases settle on those arrays. Each
    phase draws its own read noise, as on the device; ``common_noise=True`` gives both nudged
    phases of a batch the same draw (common random numbers: less variance, but with coarse
    converters the nudge then often rounds away, while independent noise dithers it).
    ``weight_clip_sigma`` = k clips every weight matrix to +-k std(W) after each update (aihwkit's
    layer-Gaussian weight clipping): the mapping's w_max = max |W| then sits k standard
    deviations out instead of at the largest outlier, so programming noise, stuck cells (a stuck
    cell reads as +-w_max) and the ADC step (in units of w_max) are all smaller relative to the
    typical weight.
    Returns a history like :func:`analogeq.train.train` with ``val_accuracy`` measured on the
    last programmed draw.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if config.algorithm != "eqprop" or config.nudging not in ("symmetric", "one_sided"):
        raise ValueError(
            "hardware-aware training runs EqProp with symmetric or one_sided nudging; got "
            f"algorithm={config.algorithm!r}, nudging={config.nudging!r}"
        )
    check_one_of("reprogram", reprogram, REPROGRAM)
    if weight_clip_sigma is not None:
        Real(minimum=0.0, exclusive_minimum=True)("weight_clip_sigma", weight_clip_sigma)
    if not isinstance(model, SettlingModel):
        raise TypeError(f"hardware-aware training trains layered EBMs, got {type(model).__name__}")
    card = check_crossbar_card(card)
    drift_time_s = check_float("drift_time_s", drift_time_s, minimum=0.0)
    optimizer = build_optimizer(model, config)
    train_set = splits.train
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    shuffle = torch.Generator().manual_seed(config.seed)
    draw_rng = np.random.default_rng(np.random.SeedSequence(seed))
    history: dict[str, Any] = {"config": config.to_dict(), "card": card.name, "drift_time_s": drift_time_s,
                               "reprogram": reprogram, "epochs": []}
    t_start = time.perf_counter()
    sub = None
    for epoch in range(1, config.epochs + 1):
        t_epoch = time.perf_counter()
        correct = 0
        for b, (x, y) in enumerate(train_set.batches(config.batch_size, shuffle=True, generator=shuffle)):
            check_labels(y, model.num_classes, x.shape[0])
            if sub is None or reprogram == "batch" or b == 0:
                sub = CrossbarSubstrate(model, card, drift_time_s=drift_time_s, seed=int(draw_rng.integers(0, 2**31)))
            free = sub.settle(x, record=False)
            if common_noise:  # both nudged phases see the same read-noise draw
                phase_seed = int(draw_rng.integers(0, 2**31))
                sub.reseed(phase_seed)
            plus = sub.settle(x, beta=config.beta, y=y, states=free.states, record=False)
            if config.nudging == "symmetric":
                if common_noise:
                    sub.reseed(phase_seed)
                minus = sub.settle(x, beta=-config.beta, y=y, states=free.states, record=False)
                eqprop_gradients_from_states(model, x, y, config.beta, plus.states, minus.states)
            else:
                eqprop_gradients_from_states(model, x, y, config.beta, plus.states, free.states, beta_minus=0.0)
            check_finite_grads(model, f"hardware-aware training diverged at epoch {epoch}, batch {b}")
            optimizer.step()
            scheduler.step()
            if weight_clip_sigma is not None:
                clip_weights(model, weight_clip_sigma)
            correct += int((free.logits.argmax(dim=-1) == y).sum())
        sub = CrossbarSubstrate(model, card, drift_time_s=drift_time_s, seed=int(draw_rng.integers(0, 2**31)))
        record = {
            "epoch": epoch,
            "train_accuracy": correct / len(train_set),
            "val_accuracy": evaluate_substrate(sub, splits.val),
            "seconds": time.perf_counter() - t_epoch,
        }
        history["epochs"].append(record)
        logger.info("hardware-aware epoch %d/%d: train acc %.4f, val acc (one draw) %.4f, %.1f s", epoch,
                    config.epochs, record["train_accuracy"], record["val_accuracy"], record["seconds"])
        if on_epoch_end is not None:
            on_epoch_end(record)
    history["train_seconds"] = time.perf_counter() - t_start
    history["final_val_accuracy"] = history["epochs"][-1]["val_accuracy"]
    return history
