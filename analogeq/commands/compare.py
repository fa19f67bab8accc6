"""``analogeq compare``: EBMs vs feed-forward baselines and defences, on float and on hardware.

    analogeq compare [--dataset digits] [--data-root DIR] [--models ebm,mlp,mlp_pgd_at,...]
                     [--substrates float,crossbar] [--card pcm] [--set adc.bits=4] [--drift-time 1d]
                     [--quick] [--n-examples N] [--seed S] [--device cpu|cuda]
                     [--checkpoint-dir DIR] [--out DIR] [--threads K] [--json]

Trains (or loads from ``--checkpoint-dir``) every model, evaluates each with the robustness
harness on every substrate and writes ``DIR/compare.json`` and ``DIR/compare.md``: one row per
model and substrate with clean, PGD, Square, corruption and certified accuracy and the training
time. Models (``--models``): ebm, mlp, mlp_pgd_at, mlp_trades, mlp_awp, mlp_weat, vib, cnn,
cnn_pgd_at, vit (see :mod:`analogeq.compare`). A substrate kind that is not registered is
skipped with a note in the table.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from analogeq.commands import command_parser
from analogeq.commands.card_args import DRIFT_TIME_HELP, add_set_argument, apply_sets, card_argument
from hardware_models.units import parse_duration_s

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = command_parser(
        subparsers, "compare", "EBMs vs feed-forward baselines and defences on float and hardware (one table)", __doc__)
    parser.add_argument("--dataset", default="digits", help="digits (default), cifar10, ... (analogeq.data.load_dataset)")
    parser.add_argument("--data-root", default=None, help="folder with the dataset files (not needed for digits)")
    parser.add_argument("--models", default=None, help="comma-separated model names (default: all)")
    parser.add_argument("--substrates", default="float,crossbar", help="comma-separated substrate kinds (default float,crossbar)")
    parser.add_argument("--card", default="pcm", help="device card of hardware substrates: preset name or JSON file (default pcm)")
    add_set_argument(parser)
    parser.add_argument("--drift-time", "--drift-time-s", dest="drift_time", default=None, help=DRIFT_TIME_HELP)
    parser.add_argument("--quick", action="store_true", help="small budgets (a few minutes on digits)")
    parser.add_argument("--n-examples", type=int, default=None, help="test images evaluated (default 200; quick 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data split, initialisation, training and attacks (default 0)")
    parser.add_argument("--device", default="cpu", help="torch device for training and the float substrate (default cpu)")
    parser.add_argument("--checkpoint-dir", default=None, help="load models from / save them to this folder")
    parser.add_argument("--out", default="compare-report", help="output folder (default compare-report)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="also print the result JSON on stdout")
    parser.set_defaults(func=run)


def _names(text: str | None, what: str) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"--{what} must name at least one item, got {text!r}")
    return names


def run(args: argparse.Namespace) -> int:
    import torch  # OMP_WAIT_POLICY=PASSIVE was set by the entry point, cli.main (analogeq/threads.py)

    from analogeq.compare import compare, to_markdown

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    result = compare(
        args.dataset, args.data_root,
        models=_names(args.models, "models"),
        substrates=tuple(_names(args.substrates, "substrates")),
        card=apply_sets(card_argument(args.card, option="--card"), args.set) if args.set else args.card,
        drift_time_s=None if args.drift_time is None else parse_duration_s("--drift-time", args.drift_time),
        quick=args.quick,
        n_examples=args.n_examples,
        seed=args.seed,
        device=args.device,
        checkpoint_dir=args.checkpoint_dir,
        out_dir=args.out,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(to_markdown(result))
        print(f"wrote {args.out}/compare.json and {args.out}/compare.md")
    return 0
