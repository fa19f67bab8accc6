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
    "analogeq.commands.cards",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analogeq",
        description="Energy-based networks (Equilibrium Propagation) on emulated analog and spiking hardware.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


#: errors that mean bad input or a missing optional package: one line, exit status 2, no traceback
USER_ERRORS = (ValueError, TypeError, ModuleNotFoundError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               FileExistsError, PermissionError)


def error_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (multi-line messages from torch or jsonschema are joined)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


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
    except USER_ERRORS as exc:
        # bad input or a missing optional package: one clear line, no traceback (--debug keeps the traceback)
        if args.debug:
            raise
        print(f"analogeq {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        # what was finished is on disk (every file is written atomically); a command that can resume says so
        print(f"analogeq {args.command}: stopped (Ctrl-C); files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
