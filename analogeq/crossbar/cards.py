"""The crossbar card a substrate runs on: resolve it, check it has what the substrate needs.

A card may be given as a :class:`hardware_models.cards.CrossbarCard`, a preset name
(``"ideal"``, ``"pcm"``, ``"pcm-harsh"``, ``"rram"``, ``"pcm-crosssim"``), a path to a card
file, or a card dict (validated against the schema). Anything else, a card of another
``card_type`` (e.g. a spiking card) or a dict without the sections the substrate reads is a
clear error naming what is missing and what is allowed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

#: sections of a crossbar card the substrate reads (BRIEF card layout)
REQUIRED_SECTIONS = (
    "device", "levels", "faults", "tile", "mapping", "dac", "adc", "tia", "wires",
    "drift_compensation", "timing", "neuron", "cost",
)


def resolve_card(card: Any) -> Any:
    """A validated :class:`~hardware_models.cards.CrossbarCard` from a card, preset, path or dict."""
    from hardware_models.cards import CrossbarCard, card_from_dict, list_presets, load_card, preset

    if isinstance(card, CrossbarCard):
        return card
    if isinstance(card, (str, os.PathLike)):
        name = os.fspath(card)
        if name in list_presets():
            result = preset(name)
        elif Path(name).is_file():
            result = load_card(name)
        else:
            raise ValueError(
                f"card {name!r} is neither a preset nor a card file; presets: {list_presets()}"
            )
    elif isinstance(card, dict):
        card_type = card.get("card_type")
        if card_type is not None and card_type != "crossbar":
            raise ValueError(
                f"card_type must be 'crossbar' for a crossbar substrate, got {card_type!r}"
            )
        missing = [s for s in ("card_type", "schema_version", "name", *REQUIRED_SECTIONS) if s not in card]
        if missing:
            raise ValueError(
                f"the crossbar card dict is missing the field(s) {missing} that the crossbar substrate needs; "
                f"required: {['card_type', 'schema_version', 'name', *REQUIRED_SECTIONS]}"
            )
        result = card_from_dict(card)
    elif hasattr(card, "card_type"):
        result = card
    else:
        raise TypeError(
            "card must be a CrossbarCard, a preset name, a card file path or a card dict, "
            f"got {type(card).__name__}"
        )
    card_type = getattr(result, "card_type", None)
    if card_type != "crossbar":
        raise ValueError(f"card_type must be 'crossbar' for a crossbar substrate, got {card_type!r}")
    missing = [s for s in REQUIRED_SECTIONS if getattr(result, s, None) is None]
    if missing:
        raise ValueError(f"the crossbar card {getattr(result, 'name', '?')!r} has no section(s) {missing}; "
                         f"the crossbar substrate needs {list(REQUIRED_SECTIONS)}")
    return result


def check_drift_time(drift_time_s: Any) -> float:
    """Time between programming and inference [s]: a finite number >= 0."""
    if isinstance(drift_time_s, bool) or not isinstance(drift_time_s, (int, float)):
        raise TypeError(f"drift_time_s must be a number of seconds >= 0, got {drift_time_s!r}")
    t = float(drift_time_s)
    if not math.isfinite(t) or t < 0.0:
        raise ValueError(
            f"drift_time_s must be a finite time after programming >= 0 s (e.g. 1, 3600, 86400), got {drift_time_s!r}"
        )
    return t


def card_name(card: Any) -> str:
    return str(getattr(card, "name", "?"))


__all__ = ["REQUIRED_SECTIONS", "card_name", "check_drift_time", "resolve_card"]
