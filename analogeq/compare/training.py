"""Training or loading the models of the comparison (checkpoints keyed by how they were trained)."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from pathlib import Path
from typing import Any

import torch

from analogeq.baselines import BaselineTrainConfig, defence_from_dict, train_baseline
from analogeq.checkpoint import load_checkpoint, save_checkpoint
from analogeq.compare.entries import CompareEntry
from analogeq.models import build_model
from analogeq.train import TrainConfig, train

logger = logging.getLogger(__name__)

__all__ = ["load_or_train", "train_entry"]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def train_entry(entry: CompareEntry, splits, *, seed: int = 0, device: str = "cpu") -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """Train one entry; returns (model in eval mode, training wall time [s], training record)."""
    model = build_model({**entry.model, "seed": seed})
    if entry.is_ebm:
        config = TrainConfig.from_dict({**entry.train, "seed": seed, "device": device})
        started = time.perf_counter()
        history = train(model, splits, config, progress=False)
        elapsed = time.perf_counter() - started
        return model.eval(), elapsed, {"final_val_accuracy": history.get("final_val_accuracy"), "train": config.to_dict()}
    config = BaselineTrainConfig.from_dict({**entry.train, "seed": seed, "device": device})
    defence = defence_from_dict(entry.defence or {"defence": "standard"})
    result = train_baseline(model, splits.train, defence, config, val=splits.val, progress=False)
    final_val = result.history[-1].get("val_accuracy") if result.history else None
    return model.eval(), result.train_time_s, {"final_val_accuracy": final_val, "train": config.to_dict(),
                                               "defence": defence.to_dict()}


def load_or_train(entry: CompareEntry, splits, *, seed: int, device: str, checkpoint_dir: str | Path | None,
                  dataset: str, split_seed: int) -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """Load ``checkpoint_dir/<name>.safetensors`` when it holds this entry (same model config,
    defence and training config), else train and save it there (when a directory is given)."""
    path = Path(checkpoint_dir) / f"{_slug(entry.name)}.safetensors" if checkpoint_dir is not None else None
    wanted = {"entry": entry.to_dict(), "seed": seed, "dataset": dataset, "split_seed": split_seed}
    if path is not None and path.exists():
        model, metadata = load_checkpoint(path, device=device)
        if metadata.get("compare") == json.loads(json.dumps(wanted)):
            logger.info("%s: loaded %s", entry.label, path)
            return model.eval(), float(metadata.get("train_time_s", math.nan)), {"loaded_from": str(path), **metadata.get("record", {})}
        logger.info("%s: %s was trained differently; training again", entry.label, path)
    logger.info("%s: training", entry.label)
    model, elapsed, record = train_entry(entry, splits, seed=seed, device=device)
    if path is not None:
        save_checkpoint(path, model, {"compare": wanted, "train_time_s": elapsed, "record": record,
                                      "dataset": dataset, "split_seed": split_seed})
    return model, elapsed, record
