"""Ctrl-C in a command: one line that says what was kept and where, exit status 130.

:func:`analogeq.cli.main` turns a ``KeyboardInterrupt`` into one line on stderr (its message, or
a generic one) and exit status 130, with no traceback. A command decorated with
:func:`says_on_interrupt` replaces the generic message with its own, built from its arguments
(e.g. the output folder); a ``KeyboardInterrupt`` that already carries a message (the demo's
section count, a sweep's stored points, train's last epoch) is passed on unchanged.
"""

from __future__ import annotations

import argparse
import functools
from typing import Callable

__all__ = ["says_on_interrupt"]


def says_on_interrupt(message: Callable[[argparse.Namespace], str]):
    """Decorate a command's ``run(args)``: a bare ``KeyboardInterrupt`` inside it becomes
    ``KeyboardInterrupt(message(args))`` (printed by the CLI as ``analogeq CMD: <message>``)."""

    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(run)
        def wrapped(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except KeyboardInterrupt as exc:
                if str(exc):
                    raise
                raise KeyboardInterrupt(message(args)) from None

        return wrapped

    return wrap
