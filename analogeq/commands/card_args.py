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
from hardware_models.units import parse_duration_s

__all__ = ["DRIFT_TIME_HELP", "card_argument", "hardware_given"]

#: help of ``--drift-time`` on every command that builds a hardware substrate
DRIFT_TIME_HELP = "read time after programming of a crossbar substrate: seconds or 90s, 5min, 1h, 1d, 1w, 1y (default 1h)"


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


def hardware_given(card: Any = None, drift_time: Any = None) -> dict[str, Any]:
    """The substrate options a command line gave (``--card``, ``--drift-time``), resolved and
    checked, for :func:`analogeq.substrates.substrate_options` (which refuses an option the kind
    does not have, naming the kind and its options)."""
    given: dict[str, Any] = {}
    if card is not None:
        given["card"] = card_argument(card, option="--card")
    if drift_time is not None:
        given["drift_time_s"] = parse_duration_s("--drift-time", drift_time)
    return given

