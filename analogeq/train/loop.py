"""The training loop: ``train(model, splits, config) -> history`` and ``evaluate``.

One epoch = one pass over the shuffled training split in mini-batches; each batch computes
gradients with EqProp (:func:`~analogeq.train.eqprop.eqprop_gradients`) or backpropagation
through the settling (:func:`~analogeq.train.bptt.bptt_gradients`), then one per-layer SGD step.
After every epoch the model is evaluated on the validation split (a free phase per batch).
A progress bar is shown on a terminal only (never when stderr is not a tty or ``CI`` is set).

The pieces every training loop of the package uses are defined here once: :func:`resolve_device`,
:func:`progress_bar`, :func:`check_finite_grads` (the EBM loops in :mod:`analogeq.train` and the
baselines' :func:`~analogeq.baselines.train.train_baseline`).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from analogeq.contract import UNCONVERGED_WARN_FRACTION, check_labels, resolve_device
from analogeq.data.base import ArrayDataset, DataSplits
from analogeq.ebm.settle import settle
from analogeq.train.bptt import bptt_gradients
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import eqprop_gradients
from analogeq.train.optim import build_optimizer, build_scheduler
from hardware_models.seeds import derive_seed

logger = logging.getLogger(__name__)


def progress_bar(progress: bool | None, total: int, desc: str, **options: Any) -> Any:
    """A tqdm bar over ``total`` batches where :func:`analogeq.progress.show_progress` says so
    (``ANALOGEQ_PROGRESS`` forces it), else None (also inside a job with one overall bar,
    :mod:`analogeq.progress`: the demo, compare)."""
    from analogeq.progress import active, show_progress

    if not show_progress(progress) or active():
        return None
    return tqdm(total=total, desc=desc, **options)


@torch.no_grad()
def evaluate(model, dataset: ArrayDataset, *, batch_size: int = 512, device: str | torch.device | None = None) -> dict[str, float]:
    """Accuracy of a layered EBM's free phase on ``dataset`` and its settling statistics.

    Returns ``accuracy``, ``mean_cost`` (per sample), ``mean_settle_steps`` (per batch: a batch
    settles until its slowest sample is within ``config.tol`` or the budget ends),
    ``max_residual`` (over batches), ``converged_fraction`` (of samples within ``config.tol``)
    and ``median_settle_steps`` (the median over samples of the steps their batch ran).
    """
    dev = next(model.parameters()).device if device is None else resolve_device(device)
    cfg = model.config
    correct, cost_sum, steps, batches, converged, max_res = 0, 0.0, 0, 0, 0, 0.0
    sample_steps: list[int] = []
    for x, y in dataset.batches(batch_size):
        x, y = x.to(dev), y.to(dev)
        model.check_input(x)
        result = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol)
        scores = model.output(result.states)
        correct += int((scores.argmax(dim=-1) == y).sum())
        cost_sum += float(model.cost(result.states, y).sum())
        steps += result.steps
        sample_steps += [result.steps] * x.shape[0]
        batches += 1
        converged += int((result.sample_residual <= cfg.tol).sum())
        max_res = max(max_res, result.residual)
    n = len(dataset)
    return {
        "accuracy": correct / n,
        "mean_cost": cost_sum / n,
        "mean_settle_steps": steps / batches,
        "max_residual": max_res,
        "converged_fraction": converged / n,
        "median_settle_steps": float(torch.tensor(sample_steps, dtype=torch.float64).quantile(0.5)),
    }


def check_finite_grads(model: torch.nn.Module, where: str, remedy: str = "lower the learning rate or beta") -> None:
    """Raise FloatingPointError naming the first parameter with a NaN or infinite gradient:
    "<where>: non-finite gradient in <name>; <remedy>"."""
    for name, p in model.named_parameters():
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            raise FloatingPointError(f"{where}: non-finite gradient in {name}; {remedy}")



class PhaseConvergence:
    """Per-epoch convergence of the EqProp phases: the largest final residual of each phase and
    the fraction of samples whose own residual stayed above ``tol``; warns once per run (per
    phase) when a batch ends with more than :data:`UNCONVERGED_WARN_FRACTION` unconverged,
    since EqProp's estimate assumes the phases reached their fixed points."""

    def __init__(self, warned: set[str]):
        self.warned = warned
        self.max_residual = {"free": 0.0, "nudged": 0.0}
        self.unconverged = {"free": 0, "nudged": 0}
        self.samples = {"free": 0, "nudged": 0}

    def add(self, name: str, phase: Any, *, where: str) -> None:
        if phase is None or phase.sample_residual is None:
            return
        over = int((phase.sample_residual > phase.tol).sum()) if phase.tol > 0.0 else 0
        batch = int(phase.sample_residual.numel())
        self.max_residual[name] = max(self.max_residual[name], float(phase.residual))
        self.unconverged[name] += over
        self.samples[name] += batch
        if over > UNCONVERGED_WARN_FRACTION * batch and name not in self.warned:
            self.warned.add(name)
            logger.warning(
                "%s phase ended unconverged on %d of %d samples (%s): residual %.3g > tol %g after %d steps; "
                "EqProp gradients assume settled phases: raise the step budget (free_steps / nudge_steps) or tol",
                name, over, batch, where, phase.residual, phase.tol, phase.steps)

    def record(self) -> dict[str, float]:
        """``free_max_residual``, ``free_unconverged_fraction`` and the same for ``nudged``."""
        out: dict[str, float] = {}
        for name in ("free", "nudged"):
            if self.samples[name]:
                out[f"{name}_max_residual"] = self.max_residual[name]
                out[f"{name}_unconverged_fraction"] = self.unconverged[name] / self.samples[name]
        return out


def train(
    model,
    splits: DataSplits,
    config: TrainConfig,
    *,
    progress: bool | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``model`` (a LayeredEBM) in place on ``splits.train``; validate every epoch.

    Returns the history: ``config`` (the TrainConfig as a dict), ``epochs`` (one dict per
    epoch: ``epoch``, ``train_cost``, ``train_accuracy`` (free phase during training),
    ``val_accuracy``, ``val_cost``, ``mean_free_steps``, ``lr`` (first group), ``seconds``; for
    EqProp also ``free_max_residual``, ``free_unconverged_fraction``, ``nudged_max_residual`` and
    ``nudged_unconverged_fraction``, see :class:`PhaseConvergence`),
    ``train_seconds`` (total, validation included) and ``final_val_accuracy``.
    ``on_epoch_end(record)`` is called after each epoch (e.g. for checkpoints).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if tuple(splits.input_shape) != tuple(model.input_shape):
        raise ValueError(f"dataset {splits.name!r} has inputs of shape {splits.input_shape} but the model expects {tuple(model.input_shape)}")
    if splits.num_classes != model.num_classes:
        raise ValueError(f"dataset {splits.name!r} has {splits.num_classes} classes but the model has {model.num_classes}")
    for part in ("train", "val"):
        if len(getattr(splits, part)) == 0:
            raise ValueError(f"dataset {splits.name!r} has an empty {part} split; training needs samples in both train and val")
    device = resolve_device(config.device)
    model.to(device)
    train_set = splits.train.to(device)
    optimizer = build_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    # the batch order keeps the plain seed (the recipes' numbers depend on it); the random-sign
    # nudging stream is a named one (no tested recipe draws from it)
    sign_gen = torch.Generator().manual_seed(derive_seed(config.seed, "train/nudging_sign"))
    bptt_steps = config.bptt_steps or model.config.free_steps

    history: dict[str, Any] = {"config": config.to_dict(), "epochs": []}
    warned: set[str] = set()  # phases already warned about (once per run)
    bar = progress_bar(progress, config.epochs * steps_per_epoch, f"train {config.algorithm}", unit="batch")
    t_start = time.perf_counter()
    try:
        for epoch in range(1, config.epochs + 1):
            t_epoch = time.perf_counter()
            model.train()
            correct, cost_sum, free_steps, n_batches = 0, 0.0, 0, 0
            convergence = PhaseConvergence(warned)
            for b, (x, y) in enumerate(train_set.batches(config.batch_size, shuffle=True, generator=shuffle_gen)):
                check_labels(y, model.num_classes, x.shape[0])
                if config.algorithm == "eqprop":
                    phases = eqprop_gradients(model, x, y, config.beta, config.nudging, generator=sign_gen)
                    with torch.no_grad():
                        scores = model.output(phases.free.states)
                        cost_sum += float(model.cost(phases.free.states, y).sum())
                    free_steps += phases.free.steps
                    for name, phase in (("free", phases.free), ("nudged", phases.plus), ("nudged", phases.minus)):
                        convergence.add(name, phase, where=f"epoch {epoch}, batch {b}")
                else:
                    result = bptt_gradients(model, x, y, bptt_steps)
                    scores = result.scores
                    cost_sum += result.loss * x.shape[0]
                    free_steps += bptt_steps
                check_finite_grads(model, f"training diverged at epoch {epoch}, batch {b}")
                optimizer.step()
                scheduler.step()
                correct += int((scores.argmax(dim=-1) == y).sum())
                n_batches += 1
                if bar is not None:
                    bar.update(1)
            model.eval()
            val = evaluate(model, splits.val, batch_size=config.eval_batch_size, device=device)
            record = {
                "epoch": epoch,
                "train_cost": cost_sum / len(train_set),
                "train_accuracy": correct / len(train_set),
                "val_accuracy": val["accuracy"],
                "val_cost": val["mean_cost"],
                "mean_free_steps": free_steps / max(1, n_batches),
                **convergence.record(),
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t_epoch,
            }
            history["epochs"].append(record)
            logger.info(
                "epoch %d/%d: train acc %.4f cost %.4f, val acc %.4f, free steps %.1f, %.1f s",
                epoch, config.epochs, record["train_accuracy"], record["train_cost"], record["val_accuracy"],
                record["mean_free_steps"], record["seconds"],
            )
            if bar is not None:
                bar.set_postfix(val_acc=f"{val['accuracy']:.3f}")
            if on_epoch_end is not None:
                on_epoch_end(record)
    finally:
        if bar is not None:
            bar.close()
    history["train_seconds"] = time.perf_counter() - t_start
    history["final_val_accuracy"] = history["epochs"][-1]["val_accuracy"]
    return history


__all__ = ["check_finite_grads", "evaluate", "progress_bar", "resolve_device", "show_progress", "train"]
