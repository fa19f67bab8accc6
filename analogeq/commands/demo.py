"""``analogeq demo``: the end-to-end demonstration on the bundled digits data.

    analogeq demo                      # full demo, results in ./demo-report
    analogeq demo --quick              # fewer epochs, for a smoke test
    analogeq demo --out /tmp/d --section float

Trains a dense energy-based network on scikit-learn's digits with symmetric Equilibrium
Propagation and prints a results table (accuracy, settling steps, training time) for every
substrate section of :mod:`analogeq.demo`. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="train an EBM on digits and print the results table (the main job)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo-report", help="directory for the results (default ./demo-report)")
    p.add_argument("--quick", action="store_true", help="a shorter run (fewer epochs, smaller sweeps)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--section", action="append", default=None, help="run only this section (repeatable)")
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default 1: the demo's matrices are small, and extra threads only spin)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analogeq.demo import run_demo

    import torch

    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    run_demo(args.out, quick=args.quick, seed=args.seed, device=args.device, sections=args.section)
    return 0
