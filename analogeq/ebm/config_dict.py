"""Reading a model config dataclass back from its dict (checkpoints, JSON, sweep specs)."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def config_from_dict(cls: type[T], d: dict[str, Any], kind: str) -> T:
    """``cls(**d)`` after checking ``d["kind"]`` (optional) is ``kind`` and that every other key
    is a field of ``cls``; the error names the unknown keys and the allowed ones."""
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}.from_dict needs a dict, got {type(d).__name__}")
    d = dict(d)
    got = d.pop("kind", kind)
    if got != kind:
        raise ValueError(f"config kind must be {kind!r} for {cls.__name__}, got {got!r}")
    allowed = {f for f in cls.__dataclass_fields__ if f != "kind"}  # type: ignore[attr-defined]
    unknown = set(d) - allowed
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return cls(**d)
