"""Card arguments of the commands: ``--base``, ``--card``, ``--spiking-card``, a card SOURCE.

A command's card argument is a card file or a preset name, resolved by
:func:`hardware_models.cards.resolve_card` (an existing file wins, else a preset name, else an
error listing the presets). This module only words the error for a command line: one line that
names the option, e.g. ``--base: card 'pmc' is neither a card file (no such file) nor a preset;
presets: [...]``.
"""

from __future__ import annotations

from typing import Any

from hardware_models.cards import CardError, resolve_card

__all__ = ["card_argument"]


def card_argument(ref: Any, kind: str | None = None, option: str | None = None) -> Any:
    """The card ``ref`` names (file path, preset name or card object), of card type ``kind``
    when given; a :class:`ValueError` whose message starts with ``option`` otherwise."""
    try:
        return resolve_card(ref, kind)
    except CardError as exc:
        # an error of the reference itself (no such file or preset, wrong card type) reads as its
        # detail; an error inside a card file keeps the file and the field's JSONPath
        text = exc.detail if exc.source is None and exc.json_path in ("$", "$.card_type") else str(exc)
        raise ValueError(f"{option}: {text}" if option else text) from None
