"""Command-line interface: ``analogeq <command> ...``.

Each command lives in its own module under :mod:`analogeq.commands` and offers
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Heavy imports happen inside ``func`` so that ``--help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: command modules, in the order ``analogeq --help`` lists them
COMMAND_MODULES = [
    "analogeq.commands.demo",
    "analogeq.commands.train",
    "analogeq.commands.evaluate",
    "analogeq.commands.sweep",
    "analogeq.commands.export_cmd",
    "analogeq.commands.import_cmd",
    "analogeq.commands.robustness",
    "analogeq.commands.compare",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analogeq",
        description="Energy-based networks (Equilibrium Propagation) on emulated analog and spiking hardware.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, TypeError, ModuleNotFoundError) as exc:
        # bad input or a missing optional package: one clear line, no traceback (use -v for the traceback)
        if args.verbose:
            raise
        print(f"analogeq {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
