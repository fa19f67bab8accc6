"""The subcommands of ``analogeq``, one module each (listed in :data:`analogeq.cli.COMMAND_MODULES`).

A command module has ``register(subparsers)``, which adds its parser (made by
:func:`command_parser`) and sets ``func=run``, and ``run(args) -> int`` (the exit code). Bad
input raises the package's :class:`hardware_models.errors.AnalogeqError` (or a ValueError, or an
OS error naming the file), which :func:`analogeq.cli.main` prints as one line with exit code 2;
output paths are listed in :mod:`analogeq.commands.outputs` and checked before ``run``.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["command_parser", "terminal_text"]

_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr|obj|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def terminal_text(doc: str | None) -> str | None:
    """A docstring as terminal help: Sphinx roles (``:mod:`a.b```, ``:func:`~a.b```) become their
    target's name and double-backquoted literals their text; everything else is kept."""
    if doc is None:
        return None
    text = _ROLE.sub(lambda m: m.group(1), doc)
    return _LITERAL.sub(lambda m: m.group(1), text)


def command_parser(subparsers: Any, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``: ``help`` in ``analogeq --help``, the module docstring
    ``doc`` as its own ``--help`` text (line breaks kept, reStructuredText markup removed:
    :func:`terminal_text`)."""
    return subparsers.add_parser(name, help=terminal_text(help), description=terminal_text(doc),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
