"""Benchmark: Equilibrium Propagation on digits, and EqProp vs BPTT gradient agreement.

    python benchmarks/bench_eqprop.py --json            # 3 seeds, the full digits recipe
    python benchmarks/bench_eqprop.py --json --quick    # 1 seed, fewer epochs (< 1 minute)
    python benchmarks/bench_eqprop.py --json --part budget   # only the default-budget keys (~1 minute)

Prints ONE JSON object (with ``--json``; a short summary otherwise). Keys (issue 2 contract):

* ``digits_test_accuracy``: mean test accuracy over the seeds of the dense EBM of
  :mod:`analogeq.train.recipes` (64-512-10, squared-error output) trained with symmetric
  EqProp on the digits split (1258 / 179 / 360, split seed 0; the model seed varies);
  per seed in ``digits_test_accuracy_per_seed``. Target >= 0.97.
* ``digits_train_seconds``: median over the seeds of the wall time of ``train`` (validation
  included) on this machine with ``--threads`` torch threads. Target <= 60 s on 2 cores.
* ``digits_train_cpu_seconds``: the same in CPU time of this process (on a shared machine the
  wall time grows with the other processes' load; the CPU time much less).
* ``ep_vs_bptt_cosine_min``: the smallest cosine similarity, over every parameter tensor,
  between the EqProp estimate (symmetric nudging, beta 0.001) and the BPTT gradient of a dense
  EBM with two hidden layers (64-64-32-10, squared-error output, Glorot gain 0.5) on 32 digits,
  phases settled to 1e-12 in float64; per tensor in ``ep_vs_bptt_cosines``.
* ``conv_ep_vs_bptt_cosine_min``: the same for a small convolutional EBM (8-16 channels, 3x3,
  2x2 max-pool, ce readout, gain 0.5) on 16 random 8x8 images.
* ``trained_ep_vs_bptt_cosine_min``: the same check on the first trained digits network
  (float64 copy, beta 0.001), i.e. after training has grown the weights.
* ``eqprop_over_bptt_batch_time``: time of one EqProp gradient (free + two nudged phases)
  over one BPTT gradient through the same free-phase budget, same network and batch (a ratio
  measured in one run; the machine is shared).

Default settling budget (issue 14, item 5; :mod:`eqprop_budget`, also alone with ``--part budget``):

* ``deep_budget_policies``: on the 64-37-23-19-10 dense EBM at Glorot gain 1 and 0.5, per policy
  (``fixed`` 60/20 steps, ``depth_scaled`` 60/20 per state layer, ``residual_capped`` tol 1e-5
  with a 1000/1000 cap): steps used, residual, whether every phase converged, EqProp-vs-BPTT
  cosine and the time of one EqProp gradient;
* ``deep_budget_chosen``: the fastest policy whose phases all converge at both gains;
* ``deep_budget_default_is_chosen``: whether ``DenseEBMConfig()``'s budget is that policy's;
* ``deep_default_ep_vs_bptt_cosine_min``: the chosen policy's cosine at gain 1 (the old
  default's, 60/20, in ``deep_budget_policies``).

``machine`` describes the machine (cpu count, threads, versions, load average before/after).
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import sys

# common first: it imports hardware_models, which sets the OpenMP wait policy before torch loads
from common import bench_parser, emit, interleaved_times, load_average, machine, parse_args, ratio_of_medians
from digits import digits_splits, train_recipe
import eqprop_budget

import torch
import torch.nn.functional as F

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.train import bptt_gradients, eqprop_gradients, evaluate


def eqprop_machine() -> dict:
    load = load_average()
    return machine(("torch", "numpy"), torch_threads=torch.get_num_threads(), cuda=torch.cuda.is_available(),
                   load_average_1min=load[0] if load else None)


def cosines(model, x, y, beta: float) -> dict[str, float]:
    """Per-parameter cosine between the symmetric EqProp estimate and BPTT (2x the free steps)."""
    phases = eqprop_gradients(model, x, y, beta, "symmetric")
    ep = {n: p.grad.clone() for n, p in model.named_parameters()}
    bptt_gradients(model, x, y, 2 * phases.free.steps)
    return {
        n: float(F.cosine_similarity(ep[n].flatten(), p.grad.flatten(), dim=0)) for n, p in model.named_parameters()
    }


def dense_cosines(splits) -> dict[str, float]:
    cfg = DenseEBMConfig(hidden_sizes=(64, 32), init_gain=0.5, free_steps=4000, nudge_steps=4000, tol=1e-12)
    model = DenseEBM(cfg).double()
    return cosines(model, splits.train.x[:32].double(), splits.train.y[:32], 0.001)


def conv_cosines() -> dict[str, float]:
    cfg = ConvEBMConfig(channels=(8, 16), init_gain=0.5, free_steps=4000, nudge_steps=4000, tol=1e-12)
    model = ConvEBM(cfg).double()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=g)
    return cosines(model, x, y, 0.001)


def trained_cosines(model, splits) -> dict[str, float]:
    m = copy.deepcopy(model).double()
    m.config = dataclasses.replace(m.config, free_steps=4000, nudge_steps=4000, tol=1e-12)
    return cosines(m, splits.train.x[:32].double(), splits.train.y[:32], 0.001)


def batch_time_ratio(model, splits, repeats: int = 5) -> float:
    """EqProp gradient time over BPTT gradient time, same batch, BPTT through free_steps."""
    x, y = splits.train.x[:32], splits.train.y[:32]
    cfg = model.config
    times = interleaved_times({"eqprop": lambda: eqprop_gradients(model, x, y, 0.5, "symmetric"),
                               "bptt": lambda: bptt_gradients(model, x, y, cfg.free_steps)}, repeats, warmup=0)
    return ratio_of_medians(times, "eqprop", "bptt")


def budget_keys(splits) -> dict:
    """The default-budget keys (module docstring)."""
    policies = eqprop_budget.measure(splits)
    chosen = eqprop_budget.choose(policies)
    default = DenseEBMConfig()
    return {
        "deep_budget_chosen": chosen,
        "deep_budget_default_is_chosen": chosen in eqprop_budget.POLICIES
        and (default.free_steps, default.nudge_steps) == eqprop_budget.POLICIES[chosen] and default.tol == eqprop_budget.TOL,
        "deep_default_ep_vs_bptt_cosine_min": policies["gain_1"][chosen]["ep_vs_bptt_cosine_min"] if chosen != "none" else None,
        "deep_budget_policies": policies,
    }


def run(quick: bool, seeds: int, epochs: int | None, threads: int, part: str = "all") -> dict:
    torch.set_num_threads(threads)
    info = eqprop_machine()
    splits = digits_splits()
    if part == "budget":
        return {**budget_keys(splits), "part": part, "machine": info}
    n_epochs = epochs if epochs is not None else (8 if quick else None)
    per_seed = []
    first_model = None
    for seed in range(seeds):
        trained = train_recipe(seed, splits, epochs=n_epochs)
        model, history = trained.model, trained.history
        test = evaluate(model, splits.test)
        per_seed.append(
            {
                "seed": seed,
                "test_accuracy": test["accuracy"],
                "val_accuracy": history["final_val_accuracy"],
                "train_seconds": history["train_seconds"],
                "train_cpu_seconds": trained.cpu_seconds,
                "test_mean_settle_steps": test["mean_settle_steps"],
                "test_converged_fraction": test["converged_fraction"],
                "test_max_residual": test["max_residual"],
            }
        )
        if first_model is None:
            first_model = model
    dense = dense_cosines(splits)
    conv = conv_cosines()
    trained_cos = trained_cosines(first_model, splits)
    budget = budget_keys(splits)
    load = load_average()
    info["load_average_1min_after"] = load[0] if load else None
    return {
        "digits_test_accuracy": statistics.mean(r["test_accuracy"] for r in per_seed),
        "digits_train_seconds": statistics.median(r["train_seconds"] for r in per_seed),
        "digits_train_cpu_seconds": statistics.median(r["train_cpu_seconds"] for r in per_seed),
        "ep_vs_bptt_cosine_min": min(dense.values()),
        "conv_ep_vs_bptt_cosine_min": min(conv.values()),
        "trained_ep_vs_bptt_cosine_min": min(trained_cos.values()),
        "eqprop_over_bptt_batch_time": batch_time_ratio(first_model, splits),
        "digits_test_accuracy_per_seed": [r["test_accuracy"] for r in per_seed],
        "digits_val_accuracy_mean": statistics.mean(r["val_accuracy"] for r in per_seed),
        "per_seed": per_seed,
        "ep_vs_bptt_cosines": dense,
        "conv_ep_vs_bptt_cosines": conv,
        "trained_ep_vs_bptt_cosines": trained_cos,
        **budget,
        "recipe": {"model": trained.model_config, "train": trained.train_config.to_dict()},
        "quick": quick,
        "seeds": seeds,
        "machine": info,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="one seed and 8 epochs (under a minute)",
                          threads_help="torch CPU threads (default 1: small matrices)")
    parser.add_argument("--seeds", type=int, default=None, help="number of model seeds (default 3, quick 1)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--part", choices=("all", "budget"), default="all",
                        help="all keys (default) or only the default-budget keys (deep_budget_*)")
    args = parse_args(parser, argv)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if seeds < 1:
        parser.error("--seeds must be >= 1")
    result = run(args.quick, seeds, args.epochs, args.threads, args.part)
    if args.part == "budget":
        emit(result, args, f"deep_budget_chosen: {result['deep_budget_chosen']}\n"
                           f"deep_budget_default_is_chosen: {result['deep_budget_default_is_chosen']}")
    else:
        emit(result, args, summary_text_4f(result))
    return 0


def summary_text_4f(result: dict) -> str:
    keys = ("digits_test_accuracy", "digits_train_seconds", "ep_vs_bptt_cosine_min", "conv_ep_vs_bptt_cosine_min",
            "trained_ep_vs_bptt_cosine_min", "eqprop_over_bptt_batch_time")
    return "\n".join(f"{key}: {result[key]:.4f}" for key in keys)


if __name__ == "__main__":
    sys.exit(main())
