"""Training a :class:`~analogeq.substrates.resistive.drn.ResistiveDRN` (the ``resistive_drn`` model
kind) on a dataset split: the loop of ``analogeq train --model resistive``.

    model = build_model(dict(RESISTIVE_DIGITS_MODEL, input_shape=[1, 8, 8], num_classes=10))
    history = train_drn(model, splits, RESISTIVE_DIGITS_TRAIN, epochs=30, seed=0)

Each epoch is :func:`analogeq.train.resistive_eqprop.train_epoch` (EqProp with symmetric nudging,
or the exact implicit gradient: ``gradient="implicit"``) on the flattened training images; the
conductances are written back into the model's buffers and the validation accuracy measured.
The digits recipe (64-100-10, ideal diodes, input gain 4 V, conductances in [0.1, 25] uS started in
[0.1, 5] uS, beta 1 uS, target 0.3 V, lr 5, batches of 16, 30 epochs) reached 0.969 test accuracy in
``benchmarks/bench_resistive.py``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from analogeq.train.resistive_eqprop import ResistiveEqPropConfig, accuracy, train_epoch

__all__ = ["RESISTIVE_DIGITS_MODEL", "RESISTIVE_DIGITS_TRAIN", "RESISTIVE_DIGITS_EPOCHS", "flat_split", "train_drn"]

#: model fields of the digits recipe (input_shape and num_classes come from the dataset)
RESISTIVE_DIGITS_MODEL: dict[str, Any] = {"kind": "resistive_drn", "hidden_sizes": [100], "input_gain": 4.0,
                                          "diode": {"kind": "ideal"}, "bias": True, "g_min_S": 1e-7,
                                          "g_max_S": 25e-6, "init_g_max_S": 5e-6, "tol_A": 1e-10, "max_sweeps": 500}
#: training fields of the digits recipe
RESISTIVE_DIGITS_TRAIN = ResistiveEqPropConfig(beta_S=1e-6, target_V=0.3, lr=5.0, batch_size=16, tol_A=1e-10,
                                               max_sweeps=500)
RESISTIVE_DIGITS_EPOCHS = 30


def flat_split(split: Any) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, n_in) float64, labels (N,) int64) of a dataset split."""
    return split.x.reshape(len(split.x), -1).cpu().numpy().astype(np.float64), split.y.cpu().numpy().astype(np.int64)


def train_drn(model: Any, splits: Any, config: ResistiveEqPropConfig, *, epochs: int, seed: int = 0,
              log: Callable[[str], None] | None = None,
              on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``model`` (a ResistiveDRN, updated in place after every epoch) for ``epochs`` epochs;
    returns the history: ``epochs`` (loss, val_accuracy, seconds each), ``final_val_accuracy``,
    ``train_seconds``. ``on_epoch_end(record)`` is called after each epoch, with ``model``
    holding that epoch's conductances (e.g. for checkpoints)."""
    x, y = flat_split(splits.train)
    xv, yv = flat_split(splits.val)
    net = model.network
    rows, t0 = [], time.perf_counter()
    for epoch in range(epochs):
        t = time.perf_counter()
        net, loss = train_epoch(net, x, y, config, seed=seed, epoch=epoch)
        val = accuracy(net, xv, yv, tol_A=config.tol_A) if len(xv) else None
        rows.append({"epoch": epoch + 1, "loss": loss, "val_accuracy": val, "seconds": time.perf_counter() - t})
        model.network = net
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss:.4g}, val accuracy {'n/a' if val is None else format(val, '.4f')}")
        if on_epoch_end is not None:
            on_epoch_end(rows[-1])
    return {"epochs": rows, "final_val_accuracy": rows[-1]["val_accuracy"] if rows else None,
            "train_seconds": time.perf_counter() - t0}
