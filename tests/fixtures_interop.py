"""Helpers shared by the card interop tests (tests/test_interop_aihwkit.py and
tests/test_interop_crosssim.py import them by name; not conftest).

* :func:`shared_fields` is a card's dict less the sections a format does not carry;
* :func:`assert_close_tree` compares two nested dicts/lists, floats to 1e-12 relative.
"""

from __future__ import annotations

import math

__all__ = ["assert_close_tree", "shared_fields"]


def shared_fields(card, not_carried) -> dict:
    """``card.to_dict()`` without the top-level keys ``not_carried``, the DAC read voltage and
    the TIA gain (neither format stores them)."""
    data = card.to_dict()
    for key in not_carried:
        data.pop(key)
    data["dac"].pop("v_read_V")
    data["tia"].pop("gain_ohm")
    return data


def assert_close_tree(a, b, path="$"):
    """Assert a == b key by key and item by item; floats to rel 1e-12 (path names the first miss)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), path
        for k in a:
            assert_close_tree(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close_tree(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
