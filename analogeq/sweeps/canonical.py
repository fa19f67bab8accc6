"""Canonical JSON and the hashes that key sweep points, networks and specs.

A point's identity is the SHA-256 of its canonical JSON: keys sorted, no whitespace, ASCII only,
floats written by Python's shortest round-trip ``repr``, NaN and infinities refused. Two configs
that mean the same thing therefore hash the same, on any machine. Values become JSON through
:func:`hardware_models.jsonable.to_jsonable` (with ``nonfinite="error"``), the package's one
converter.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hardware_models.jsonable import to_jsonable


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, ASCII, finite numbers).

    ``value`` goes through :func:`hardware_models.jsonable.to_jsonable` (numpy scalars become
    Python numbers, tuples lists; NaN and infinities are a ValueError naming their path). For
    plain JSON values that conversion changes nothing, so the text, and with it every key and
    hash stored in a sweep database, is the same as before it was used here (tests pin a hash).
    """
    plain = to_jsonable(value, nonfinite="error")
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def config_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def point_key(config: dict[str, Any], seed: int) -> str:
    """The key of one sweep point: SHA-256 of the canonical JSON of ``{"config": ..., "seed": ...}``."""
    return config_hash({"config": config, "seed": int(seed)})

