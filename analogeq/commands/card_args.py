"""Card arguments of the commands: ``--base``, ``--card``, ``--spiking-card``, a card SOURCE.

A command's card argument is a card file or a preset name, resolved by
:func:`hardware_models.cards.resolve_card` (an existing file wins, else a preset name, else an
error listing the presets). This module only words the error for a command line: one line that
names the option, e.g. ``--base: card 'pmc' is neither a card file (no such file) nor a preset;
presets: [...]``.

``--set KEY=VALUE`` (repeatable, on every command that takes a card) changes one field of that
card: KEY is a dotted path (``adc.bits``, ``device.read_noise_scale``,
``device.prog_noise_coeffs.0``), VALUE is read as JSON (``4``, ``0.5``, ``null``, ``[1, 2]``)
and otherwise kept as text. Every change goes through
:func:`hardware_models.cards.with_value`, so the card is validated exactly like a card file.
"""

from __future__ import annotations

import json
from typing import Any

from hardware_models.cards import CardError, resolve_card
from hardware_models.units import parse_duration_s

__all__ = ["DRIFT_TIME_HELP", "SET_HELP", "add_set_argument", "apply_sets", "card_argument", "hardware_given",
           "parse_set"]

#: help of ``--drift-time`` on every command that builds a hardware substrate
DRIFT_TIME_HELP = "read time after programming of a crossbar substrate: seconds or 90s, 5min, 1h, 1d, 1w, 1y (default 1h)"

#: help of ``--set``
SET_HELP = ("change one field of the card, validated like a card file: KEY=VALUE with a dotted KEY and a JSON "
            "VALUE, e.g. adc.bits=4 or device.read_noise_scale=0.5 (repeatable; see 'analogeq cards show NAME')")


def add_set_argument(parser: Any) -> None:
    """Add the repeatable ``--set KEY=VALUE`` option (stored in ``args.set``, a list)."""
    parser.add_argument("--set", dest="set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def parse_set(text: str) -> tuple[str, Any]:
    """``"adc.bits=4"`` -> ``("adc.bits", 4)``: the value is read as JSON (no NaN or Infinity),
    else kept as the text; a ValueError names ``--set`` and the expected form."""
    key, sep, raw = str(text).partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ValueError(f"--set {text!r}: expected KEY=VALUE with a dotted card field as KEY, e.g. adc.bits=4")
    raw = raw.strip()
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        value = raw  # plain text, e.g. --set name=my-pcm (the card's schema decides if text is allowed)
    return key, value


def apply_sets(card: Any, sets: Any, option: str = "--set") -> Any:
    """``card`` with every ``KEY=VALUE`` of ``sets`` applied in order, each validated by
    :func:`hardware_models.cards.with_value`; a ValueError of one line naming the setting, the
    field's JSONPath and what is allowed (e.g. ``--set adc.bits=99: $.adc.bits: 99 is greater
    than the maximum of 32``).

    A changed card that is not renamed (no ``--set name=...``) is named after its changes, e.g.
    ``pcm[adc.bits=4]``, so tables, plots and results never label it as the unchanged preset."""
    from hardware_models.cards import with_value

    changes = []
    for text in sets or ():
        key, value = parse_set(text)
        try:
            card = with_value(card, key, value)
        except CardError as exc:
            raise ValueError(f"{option} {text}: {exc}") from None
        changes.append(text.strip())
    if changes and not any(parse_set(text)[0] == "name" for text in sets):
        card = with_value(card, "name", f"{card.name}[{','.join(changes)}]")
    return card


def default_card(kind: str) -> Any:
    """The card a substrate ``kind`` uses when none is given; a ValueError when the kind has no card."""
    from analogeq.substrates import substrate_options

    card = getattr(substrate_options(kind, {}), "card", None)
    if card is None:
        raise ValueError(f"--set: the {kind} substrate has no device card to change")
    return card


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


def hardware_given(card: Any = None, drift_time: Any = None, sets: Any = None, kind: str | None = None) -> dict[str, Any]:
    """The substrate options a command line gave (``--card``, ``--set``, ``--drift-time``),
    resolved and checked, for :func:`analogeq.substrates.substrate_options` (which refuses an
    option the kind does not have, naming the kind and its options). ``--set`` without ``--card``
    changes the default card of substrate ``kind``."""
    given: dict[str, Any] = {}
    if card is not None:
        given["card"] = card_argument(card, option="--card")
    if sets:
        base = given["card"] if card is not None else default_card(kind) if kind else None
        if base is None:
            raise ValueError("--set needs --card (the card whose fields it changes)")
        given["card"] = apply_sets(base, sets)
    if drift_time is not None:
        given["drift_time_s"] = parse_duration_s("--drift-time", drift_time)
    return given

