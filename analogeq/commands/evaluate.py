"""``analogeq evaluate CKPT``: accuracy of a saved network on its dataset, on any substrate.

    analogeq evaluate model.safetensors                 # test split of the dataset it was trained on
    analogeq evaluate model.safetensors --split val --json
    analogeq evaluate mnist.safetensors --data-root ~/data/mnist
    analogeq evaluate model.safetensors --substrate crossbar --card pcm --drift-time 1d --draws 10

The checkpoint holds the model config and the name and split seed of its dataset; only a
file-based dataset (MNIST, CIFAR) needs --data-root when its directory has moved. The network
runs on the float substrate by default (--device cpu or cuda); for an EBM the settling
statistics (steps, residual) are reported too. On a hardware substrate (--substrate crossbar,
spiking, ...; --card a preset name or card file, changed field by field with --set adc.bits=4;
--drift-time the read time after programming)
every draw is a new programming of the weights (seeds derived from --seed by name): the
accuracy is the mean over --draws draws with its 95% interval (Student t), and the energy of
one inference comes with its parts (array, DAC, ADC, neurons; or spikes and synaptic events).
Every substrate that settles on a tolerance also reports its settle (``settle``, per draw in
``settle_per_draw``): the fraction of the samples that converged and the median steps, against
the budget and the tolerance (it warns once when more than 1% did not converge).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import DRIFT_TIME_HELP, add_set_argument, hardware_given


def register(subparsers: Any) -> None:
    p = command_parser(subparsers, "evaluate", "accuracy of a checkpoint on its dataset, on float or hardware", __doc__)
    p.add_argument("checkpoint", help="checkpoint file written by 'analogeq train' (.safetensors)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the one stored in the checkpoint)")
    p.add_argument("--data-root", default=None, help="dataset directory (default: the one stored in the checkpoint)")
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="which split (default test)")
    p.add_argument("--split-seed", type=int, default=None, help="split seed (default: the one stored in the checkpoint)")
    p.add_argument("--limit", type=int, default=None, help="evaluate a seeded subset of this many samples")
    p.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (default 256)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--substrate", default="float", help="substrate kind: float (default), crossbar, spiking, ...")
    p.add_argument("--card", default=None, help="device card of a hardware substrate: preset name or JSON file")
    add_set_argument(p)
    p.add_argument("--drift-time", default=None, help=DRIFT_TIME_HELP)
    p.add_argument("--draws", type=int, default=1, help="programming draws of a hardware substrate (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the programming and read noise (default 0)")
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
    substrate: str = "float",
    card: Any = None,
    drift_time: Any = None,
    sets: Any = None,
    draws: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Load ``path`` and measure its accuracy on a split, on ``substrate`` (over ``draws``
    programming draws for a stochastic hardware substrate); see the module docstring."""
    import torch

    from analogeq.checkpoint import load_checkpoint
    from analogeq.data import load_dataset
    from analogeq.ebm.layered import LayeredEBM
    from analogeq.report.energy import energy_breakdown, energy_breakdown_text
    from analogeq.stats import mean_ci95
    from analogeq.substrates import build_substrate, substrate_kinds, substrate_options
    from analogeq.train.loop import evaluate, resolve_device
    from hardware_models.params import check_int
    from hardware_models.seeds import derive_seed

    check_int("--batch-size", batch_size, minimum=1)
    check_int("--draws", draws, minimum=1)
    check_int("--seed", seed, minimum=0)
    if substrate not in substrate_kinds():
        raise ValueError(f"--substrate: {substrate!r} is not a registered substrate kind; kinds: {substrate_kinds()}")
    # options (card, drift time) are resolved and checked before any data is read
    given = hardware_given(card, drift_time, sets, kind=substrate)
    substrate_options(substrate, given, offered={"seed": seed, "device": device})
    dev = resolve_device(device)
    model, metadata = load_checkpoint(path, device=dev)
    name = dataset or metadata.get("dataset")
    if not name:
        raise ValueError(f"{path}: the checkpoint does not name its dataset; give --dataset")
    root = data_root or metadata.get("data_root")
    seed_split = split_seed if split_seed is not None else int(metadata.get("split_seed", 0))
    splits = load_dataset(name, root, seed=seed_split)
    splits.check_fits(model.input_shape, model.num_classes, source=str(path), trained_on=metadata.get("dataset"))
    data = getattr(splits, split)
    if limit is not None:
        data = data.subset(limit)
    t0 = time.perf_counter()
    accuracies, settles, last = [], [], None
    for k in range(draws):
        draw_seed = seed if draws == 1 else derive_seed(seed, f"evaluate/draw/{k}")
        options = substrate_options(substrate, given, offered={"seed": draw_seed, "device": str(dev)})
        last = build_substrate(substrate, model, options)
        correct = 0
        for x, y in data.batches(batch_size):
            correct += int((last.predict(x.to(dev)) == y.to(dev)).sum())
        accuracies.append(correct / len(data))
        settles.append(last.settle_report())
        if not last.stochastic:
            break  # a deterministic substrate gives the same number every draw
    mean, ci = mean_ci95(accuracies)
    cost = last.cost()
    result: dict[str, Any] = {
        "checkpoint": str(path),
        "model": model.config.to_dict() if hasattr(model, "config") else type(model).__name__,
        "dataset": name,
        "split": split,
        "n": len(data),
        "accuracy": mean,
        "accuracy_ci95": None if len(accuracies) < 2 else ci,
        "accuracy_per_draw": accuracies,
        "draws": len(accuracies),
        "seconds": time.perf_counter() - t0,
        "substrate": last.describe(),
        "cost": cost,
        "energy_breakdown_J": energy_breakdown(cost),
        "energy_breakdown": energy_breakdown_text(cost) if cost else None,
        "settle": settles[-1],
        "settle_per_draw": settles,
    }
    if isinstance(model, LayeredEBM) and substrate == "float":
        with torch.no_grad():
            stats = evaluate(model, data, batch_size=batch_size, device=dev)
        result["settling"] = {k: stats[k] for k in ("mean_settle_steps", "max_residual", "converged_fraction")}
    return result


def run(args: argparse.Namespace) -> int:
    from analogeq.report.tables import settle_text

    result = evaluate_checkpoint(
        args.checkpoint, dataset=args.dataset, data_root=args.data_root, split=args.split,
        split_seed=args.split_seed, limit=args.limit, batch_size=args.batch_size, device=args.device,
        substrate=args.substrate, card=args.card, drift_time=args.drift_time, sets=args.set, draws=args.draws, seed=args.seed,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        line = f"{args.checkpoint}: {result['dataset']} {result['split']} accuracy {result['accuracy']:.4f}"
        if result["accuracy_ci95"] is not None:
            line += f" +- {result['accuracy_ci95']:.4f} (95%, {result['draws']} draws)"
        line += f" (n={result['n']}, {args.substrate})"
        if "settling" in result:
            s = result["settling"]
            line += f", settling {s['mean_settle_steps']:.1f} steps/batch, max residual {s['max_residual']:.2g}"
        if result["settle"] is not None:
            line += "; " + settle_text(result["settle"]) + (" (last draw)" if result["draws"] > 1 else "")
        if result["cost"]:
            line += f"; energy {result['cost']['energy_per_inference_J']:.3g} J/inference ({result['energy_breakdown']})"
        print(line)
    return 0
