"""Canonical JSON and the hashes that key sweep points, networks and specs.

A point's identity is the SHA-256 of its canonical JSON: keys sorted, no whitespace, ASCII only,
floats written by Python's shortest round-trip ``repr``, NaN and infinities refused. Two configs
that mean the same thing therefore hash the same, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np


def to_plain(value: Any, *, path: str = "value") -> Any:
    """A JSON-ready copy of ``value``: numpy scalars become Python numbers, tuples become lists.

    Raises ValueError naming ``path`` for NaN/inf and TypeError for values JSON cannot hold.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{path}: {v!r} is not a finite number; sweep configs must be finite")
        return v
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: keys must be strings, got {k!r}")
            out[k] = to_plain(v, path=f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(v, path=f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} cannot be stored in a sweep config (JSON values only)")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces, ASCII, finite numbers)."""
    return json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def config_hash(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def point_key(config: dict[str, Any], seed: int) -> str:
    """The key of one sweep point: SHA-256 of the canonical JSON of ``{"config": ..., "seed": ...}``."""
    return config_hash({"config": config, "seed": int(seed)})


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
