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

from analogeq.commands.outputs import check_outputs
from hardware_models.errors import AnalogeqError, one_line

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


#: errors that mean bad input, an output path that cannot be written or a missing optional package:
#: one line, exit status 2, no traceback. AnalogeqError is the package's own (cards, parameters,
#: specs, checkpoints; a ValueError); a plain ValueError is the older convention for bad input and
#: stays mapped. Any other OSError (a name too long, a full disk) is the system's answer, not a
#: bug. A TypeError, RecursionError, OverflowError ... that is not an AnalogeqError is a bug and
#: keeps its traceback.
USER_ERRORS = (AnalogeqError, ValueError, ModuleNotFoundError, FileNotFoundError, IsADirectoryError,
               NotADirectoryError, FileExistsError, PermissionError, OSError)


def error_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (multi-line messages from torch or jsonschema are
    joined, long ones cut: :func:`hardware_models.errors.one_line`); a module of an optional
    extra that is not installed names the install command (:mod:`analogeq.extras`)."""
    from analogeq.extras import missing_extra_message

    return missing_extra_message(exc) or one_line(str(exc), 1500) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    # before any command imports torch or Numba: OMP_WAIT_POLICY=PASSIVE unless the user set it
    from analogeq.threads import apply_thread_defaults, set_process_defaults

    set_process_defaults()
    try:
        parser = build_parser()  # imports the command modules: torch is needed from here on
    except ModuleNotFoundError as exc:
        print(f"analogeq: error: {error_line(exc)}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # torch and Numba thread counts (analogeq.threads: ANALOGEQ_TORCH_THREADS, ANALOGEQ_NUMBA_THREADS,
        # else the measured defaults); a command's own --threads wins over them
        apply_thread_defaults()
        check_outputs(args)  # every output path, before any work (analogeq.commands.outputs)
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        # bad input or a missing optional package: one clear line, no traceback (--debug keeps the traceback)
        if args.debug:
            raise
        print(f"analogeq {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        # what was finished is on disk (every file is written atomically); a command that can
        # resume raises KeyboardInterrupt with a message saying so (e.g. sweep run's stored count)
        text = error_line(exc) if str(exc) else "stopped (Ctrl-C); files already written are complete"
        print(f"analogeq {args.command}: {text}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
