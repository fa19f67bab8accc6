"""``analogeq train --model resistive``: a deep resistive network trained with EqProp (issue 18).

The flags keep their meaning where the circuit has one: ``--algorithm eqprop`` (default: the local
rule from the squared voltage drops, symmetric nudging) or ``bptt`` (the exact implicit gradient
at the steady state, recurrent backprop: the BP twin); ``--beta`` is the nudging conductance in
siemens (default 1e-6 S); ``--lr`` one step size of w = g / g_max (default 5); ``--epochs``
(default 30), ``--batch-size`` (default 16), ``--seed``; ``--model-config`` sets fields of
:class:`~analogeq.substrates.resistive.drn.ResistiveDRNConfig` (hidden_sizes, input_gain, diode,
g_min_S, g_max_S, ...). Flags without a meaning here (--nudging other than symmetric,
--momentum, --weight-decay, --schedule, a device other than cpu) are refused in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

_UNSUPPORTED = {"momentum": "--momentum", "weight_decay": "--weight-decay", "schedule": "--schedule"}


def resistive_configs(args: argparse.Namespace, input_shape: tuple[int, ...], num_classes: int):
    """(model config dict, ResistiveEqPropConfig, epochs) from the recipe and the flags."""
    from analogeq.commands.train import parse_json_arg
    from analogeq.train.resistive_loop import RESISTIVE_DIGITS_EPOCHS, RESISTIVE_DIGITS_MODEL, RESISTIVE_DIGITS_TRAIN

    for field, flag in _UNSUPPORTED.items():
        if getattr(args, field, None) is not None:
            raise ValueError(f"{flag} is not used by --model resistive (plain projected SGD on the conductances)")
    if args.nudging not in (None, "symmetric"):
        raise ValueError(f"--nudging {args.nudging!r}: --model resistive uses symmetric nudging only")
    if str(args.device) != "cpu":
        raise ValueError(f"--device {args.device!r}: --model resistive runs on the CPU (Numba) only")
    if args.lr is not None and len(args.lr) != 1:
        raise ValueError(f"--lr: --model resistive takes one learning rate, got {len(args.lr)}")
    model = dict(RESISTIVE_DIGITS_MODEL, input_shape=list(input_shape), num_classes=num_classes, seed=args.seed)
    model.update(parse_json_arg(args.model_config, "--model-config"))
    overrides = {"beta_S": args.beta, "batch_size": args.batch_size, "lr": None if args.lr is None else args.lr[0],
                 "gradient": {None: None, "eqprop": "eqprop", "bptt": "implicit"}[args.algorithm]}
    train = dataclasses.replace(RESISTIVE_DIGITS_TRAIN, **{k: v for k, v in overrides.items() if v is not None})
    epochs = RESISTIVE_DIGITS_EPOCHS if args.epochs is None else args.epochs
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    return model, train, epochs


def run_resistive(args: argparse.Namespace, splits: Any) -> int:
    """Train, measure the test accuracy, write the checkpoint (``analogeq evaluate`` reads it)."""
    from analogeq.checkpoint import save_checkpoint
    from analogeq.commands.train import EpochCheckpoints
    from analogeq.models import build_model
    from analogeq.train.resistive_eqprop import accuracy
    from analogeq.train.resistive_loop import flat_split, train_drn

    model_config, train_config, epochs = resistive_configs(args, splits.input_shape, splits.num_classes)
    model = build_model(model_config)
    logger.info("training resistive_drn %s on %s (%s) with %s", model.config.layer_sizes, splits.name, splits.sizes(),
                train_config.gradient)
    base_metadata = {
        "dataset": splits.name,
        "split_seed": args.split_seed,
        "data_root": os.path.abspath(args.data_root) if args.data_root else None,
        "train_config": dict(dataclasses.asdict(train_config), epochs=epochs, seed=args.seed),
    }
    keeper = EpochCheckpoints(args.out, model, base_metadata, epochs)
    with keeper.interruptible():
        history = train_drn(model, splits, train_config, epochs=epochs, seed=args.seed, log=logger.info,
                            on_epoch_end=keeper.keep)
    x, y = flat_split(splits.test)
    test_accuracy = accuracy(model.network, x, y, tol_A=train_config.tol_A)
    metadata = {
        **base_metadata,
        "val_accuracy": history["final_val_accuracy"],
        "test_accuracy": test_accuracy,
        "train_seconds": history["train_seconds"],
        "history": history["epochs"],
    }
    save_checkpoint(args.out, model, metadata)
    if args.json:
        print(json.dumps({"checkpoint": args.out, "test": {"accuracy": test_accuracy, "n": len(y)}, "history": history},
                         indent=2))
    else:
        val = history["final_val_accuracy"]
        print(f"trained resistive_drn {list(model.config.layer_sizes)} on {splits.name}: val accuracy "
              f"{'n/a' if val is None else format(val, '.4f')}, test accuracy {test_accuracy:.4f} "
              f"({history['train_seconds']:.1f} s); wrote {args.out}")
    return 0
