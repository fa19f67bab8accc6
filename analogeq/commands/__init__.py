"""The subcommands of ``analogeq``, one module each (listed in :data:`analogeq.cli.COMMAND_MODULES`).

A command module has ``register(subparsers)``, which adds its parser (made by
:func:`command_parser`) and sets ``func=run``, and ``run(args) -> int`` (the exit code; a
ValueError, TypeError or FileNotFoundError becomes one line on stderr and exit code 2).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["command_parser"]


def command_parser(subparsers: Any, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``: ``help`` in ``analogeq --help``, the module docstring
    ``doc`` as its own ``--help`` text (line breaks kept)."""
    return subparsers.add_parser(name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
