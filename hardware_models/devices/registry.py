"""Device kinds by name: the ``kind`` field of a card's ``device`` section selects the class."""

from __future__ import annotations

from typing import Any

from ..params import ParameterError
from ._checks import require_dict

_DEVICE_KINDS: dict[str, type] = {}


def register_device_kind(cls: type) -> type:
    """Register a device-model class under ``cls.kind`` (usable as a class decorator)."""
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} must define a non-empty class attribute 'kind'")
    if kind in _DEVICE_KINDS and _DEVICE_KINDS[kind] is not cls:
        raise ValueError(f"device kind {kind!r} is already registered to {_DEVICE_KINDS[kind].__name__}")
    _DEVICE_KINDS[kind] = cls
    return cls


def device_kinds() -> tuple[str, ...]:
    """Names of the registered device kinds, sorted."""
    return tuple(sorted(_DEVICE_KINDS))


def device_from_dict(data: dict[str, Any]):
    """Build a device model from a card's ``device`` section, dispatching on ``kind``."""
    data = require_dict("device", data)
    if "kind" not in data:
        raise ParameterError("device", "kind", f"missing required field; one of {list(device_kinds())}")
    kind = data["kind"]
    if kind not in _DEVICE_KINDS:
        raise ParameterError("device", "kind", f"unknown device kind {kind!r}; known kinds are {list(device_kinds())}")
    return _DEVICE_KINDS[kind].from_dict(data)
