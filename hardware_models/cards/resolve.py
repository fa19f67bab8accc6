"""Resolve a card reference: the one place that turns "a preset name or a file" into a card.

Precedence (documented once, used by every command, sweep and substrate):

1. a card object is returned as it is (after the kind check);
2. a dict is validated against its schema (:func:`card_from_dict`);
3. a string or path: **an existing file wins**, else a **preset name**, else a :class:`CardError`
   that lists the presets and says that no such file exists.

``kind`` (``"crossbar"``, ``"spiking"``, ...) is the ``card_type`` the caller needs; a card of
another type is a CardError naming both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import CardError
from .io import card_from_dict, list_presets, load_card, preset

__all__ = ["resolve_card"]


def resolve_card(ref: Any, kind: str | None = None) -> Any:
    """A validated card from a card object, a card dict, a file path or a preset name."""
    if isinstance(ref, (str, os.PathLike)):
        name = os.fspath(ref)
        try:
            is_file = Path(name).is_file()
        except (OSError, ValueError):  # a name too long for a path, or with a NUL byte: not a file
            is_file = False
        if is_file:
            card = load_card(name)
        elif name in list_presets():
            card = preset(name)
        else:
            raise CardError("$", f"card {name!r} is neither a card file (no such file) nor a preset; "
                                 f"presets: {list_presets()}")
    elif isinstance(ref, dict):
        card = card_from_dict(ref)
    elif hasattr(ref, "card_type") and hasattr(ref, "to_dict"):
        card = ref
    else:
        raise CardError("$", "a card must be a card object, a card dict, a card file path or a preset name, "
                             f"got a {type(ref).__name__}")
    if kind is not None and getattr(card, "card_type", None) != kind:
        raise CardError("$.card_type", f"a {kind} card is needed here, got card_type "
                                       f"{getattr(card, 'card_type', None)!r} (card {getattr(card, 'name', '?')!r})")
    return card
