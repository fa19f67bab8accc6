"""The package's one error base class, and the one-line form of an error message.

Every error that means "this input is wrong" (a card, a parameter, a sweep spec, a checkpoint,
a dataset file) derives from :class:`AnalogeqError`. It is a ``ValueError``, so code that caught
the older ``ValueError`` still works. ``analogeq``'s command line turns it into one line on
stderr and exit status 2; any other exception is a bug and keeps its traceback.

It lives here, in the lowest layer, so that ``hardware_models`` (cards, parameters) and
``analogeq`` (specs, checkpoints) share it without ``hardware_models`` importing ``analogeq``.
"""

from __future__ import annotations

__all__ = ["AnalogeqError", "MAX_MESSAGE_CHARS", "one_line", "short_repr"]

#: the longest message :func:`one_line` keeps (a message names a field and what is allowed, not kB of data)
MAX_MESSAGE_CHARS = 400


class AnalogeqError(ValueError):
    """Bad input to the package: a card, a parameter, a sweep spec, a checkpoint, a data file.

    ``str(err)`` is one line naming the file (where there is one), the field and what is allowed.
    """


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line (its lines joined by a space, runs of blanks kept as they are) and cut
    to ``limit`` characters with ``...`` at the end."""
    joined = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (never formats a huge object in full: a long
    list or dict is described by its type and length)."""
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 20:
        return f"<{type(value).__name__} of {len(value)} entries>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int too long to print, or a structure nested too deep
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
