"""``analogeq evaluate CKPT``: accuracy of a saved network on its dataset, in floating point.

    analogeq evaluate model.safetensors                 # test split of the dataset it was trained on
    analogeq evaluate model.safetensors --split val --json
    analogeq evaluate mnist.safetensors --data-root ~/data/mnist

The checkpoint holds the model config and the name and split seed of its dataset; only a
file-based dataset (MNIST, CIFAR) needs ``--data-root`` when its directory has moved. The
network runs on the float substrate (``--device cpu`` or ``cuda``); for an EBM the settling
statistics (steps, residual) are reported too.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from analogeq.commands import command_parser


def register(subparsers: Any) -> None:
    p = command_parser(subparsers, "evaluate", "accuracy of a checkpoint on its dataset (float substrate)", __doc__)
    p.add_argument("checkpoint", help="checkpoint file written by 'analogeq train' (.safetensors)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the one stored in the checkpoint)")
    p.add_argument("--data-root", default=None, help="dataset directory (default: the one stored in the checkpoint)")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default test)")
    p.add_argument("--split-seed", type=int, default=None, help="split seed (default: the one stored in the checkpoint)")
    p.add_argument("--limit", type=int, default=None, help="evaluate a seeded subset of this many samples")
    p.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (default 256)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def evaluate_checkpoint(
    path: str,
    *,
    dataset: str | None = None,
    data_root: str | None = None,
    split: str = "test",
    split_seed: int | None = None,
    limit: int | None = None,
    batch_size: int = 256,
    device: str = "cpu",
) -> dict[str, Any]:
    """Load ``path`` and measure its accuracy on a split through the float substrate."""
    import torch

    from analogeq.checkpoint import load_checkpoint
    from analogeq.data import load_dataset
    from analogeq.ebm.layered import LayeredEBM
    from analogeq.substrates import build_substrate
    from analogeq.train.loop import evaluate, resolve_device

    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    dev = resolve_device(device)
    model, metadata = load_checkpoint(path, device=dev)
    name = dataset or metadata.get("dataset")
    if not name:
        raise ValueError(f"{path}: the checkpoint does not name its dataset; give --dataset")
    root = data_root or metadata.get("data_root")
    seed = split_seed if split_seed is not None else int(metadata.get("split_seed", 0))
    splits = load_dataset(name, root, seed=seed)
    splits.check_fits(model.input_shape, model.num_classes, source=str(path), trained_on=metadata.get("dataset"))
    data = getattr(splits, split)
    if limit is not None:
        data = data.subset(limit)
    substrate = build_substrate("float", model, device=str(dev))
    t0 = time.perf_counter()
    correct = 0
    for x, y in data.batches(batch_size):
        correct += int((substrate.predict(x.to(dev)) == y.to(dev)).sum())
    result: dict[str, Any] = {
        "checkpoint": str(path),
        "model": model.config.to_dict() if hasattr(model, "config") else type(model).__name__,
        "dataset": name,
        "split": split,
        "n": len(data),
        "accuracy": correct / len(data),
        "seconds": time.perf_counter() - t0,
        "substrate": substrate.describe(),
    }
    if isinstance(model, LayeredEBM):
        with torch.no_grad():
            stats = evaluate(model, data, batch_size=batch_size, device=dev)
        result["settling"] = {k: stats[k] for k in ("mean_settle_steps", "max_residual", "converged_fraction")}
    return result


def run(args: argparse.Namespace) -> int:
    result = evaluate_checkpoint(
        args.checkpoint, dataset=args.dataset, data_root=args.data_root, split=args.split,
        split_seed=args.split_seed, limit=args.limit, batch_size=args.batch_size, device=args.device,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        line = f"{args.checkpoint}: {result['dataset']} {result['split']} accuracy {result['accuracy']:.4f} (n={result['n']})"
        if "settling" in result:
            s = result["settling"]
            line += f", settling {s['mean_settle_steps']:.1f} steps/batch, max residual {s['max_residual']:.2g}"
        print(line)
    return 0
