"""Output paths of every command, checked before the command does any work.

``analogeq train --out DIR`` used to find out that DIR is a folder only after training. Each
command's output arguments are listed once here (:data:`OUTPUT_ARGUMENTS`) and
:func:`check_outputs` checks them all through the one helper
:func:`hardware_models.files.check_output_path` before ``args.func`` runs (called by
:func:`analogeq.cli.main`). A test walks every registered parser and fails if an argument that
names an output (``out``, ``db``, ``csv``, ``out_card``) is missing from the table.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

from hardware_models.files import check_output_path

__all__ = ["OUTPUT_ARGUMENTS", "OUTPUT_DESTS", "Output", "READ_ONLY", "check_outputs"]


class Output(NamedTuple):
    """One output argument: its ``dest``, how the command line spells it, and its kind
    (``"file"``, ``"folder"``, or ``"database"``: a file updated in place)."""

    dest: str
    option: str
    kind: str


#: (command, action or None) -> its outputs
OUTPUT_ARGUMENTS: dict[tuple[str, str | None], tuple[Output, ...]] = {
    ("train", None): (Output("out", "--out", "file"),),
    ("export", None): (Output("out", "OUT", "file"),),
    ("import", None): (Output("out_card", "OUT_CARD", "file"),),
    ("robustness", None): (Output("out", "--out", "folder"),),
    ("compare", None): (Output("out", "--out", "folder"),),
    ("demo", None): (Output("out", "--out", "folder"),),
    ("sweep", "run"): (Output("db", "--db", "database"),),
    ("sweep", "export"): (Output("csv", "--csv", "file"),),
    ("sweep", "plot"): (Output("out", "--out", "folder"),),
    ("cards", "copy"): (Output("out", "OUT", "file"),),
}

#: argument names that mean "written by the command" (the test's definition of an output)
OUTPUT_DESTS = ("out", "db", "csv", "out_card")
#: arguments of those names that a command only reads: (command, action, dest)
READ_ONLY = {("sweep", "status", "db"), ("sweep", "export", "db"), ("sweep", "plot", "db")}


def _action(args: argparse.Namespace) -> str | None:
    for name in ("sweep_command", "action"):
        value = getattr(args, name, None)
        if isinstance(value, str):
            return value
    return None


def check_outputs(args: argparse.Namespace) -> None:
    """Check the output paths of the parsed command ``args`` (see the module docstring); an
    :class:`~hardware_models.files.OutputPathError` names the option and the problem."""
    for out in OUTPUT_ARGUMENTS.get((args.command, _action(args)), ()):
        value = getattr(args, out.dest, None)
        if value is None:
            continue
        check_output_path(value, option=out.option, directory=out.kind == "folder", in_place=out.kind == "database")
