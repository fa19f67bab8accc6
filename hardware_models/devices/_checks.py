"""Checks the device models share beyond scalar parameters: the conductance range, conductance
arrays and targets, the random generator, and building a dataclass from a dict.

Scalar parameters (numbers, sequences of numbers, ranges) are checked by
:mod:`hardware_models.params`; its :class:`~hardware_models.params.ParameterError` names the
owner and field, the bad value and what is allowed, and ``ParameterError.field`` holds the field
name so that the card loader can turn it into a JSON path (``$.device.g_max_S``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hardware_models.params import NON_NEGATIVE, ParameterError, check_float, validate_fields


def check_conductance_range(owner: str, g_min_S: Any, g_max_S: Any) -> tuple[float, float]:
    """Validate ``0 <= g_min_S < g_max_S`` (siemens) and return them as floats."""
    g_min = check_float("g_min_S", g_min_S, minimum=0.0, owner=owner)
    g_max = check_float("g_max_S", g_max_S, minimum=0.0, exclusive_minimum=True, owner=owner)
    if not g_min < g_max:
        raise ParameterError(
            owner,
            "g_min_S",
            f"{g_min!r} must be < g_max_S = {g_max!r} (the conductance range [g_min_S, g_max_S] is empty or inverted)",
        )
    return g_min, g_max


#: the three effect multipliers every device model has (0 switches an effect off)
SCALE_FIELDS = ("programming_noise_scale", "read_noise_scale", "drift_scale")


def validate_device_range(device: Any) -> None:
    """Check ``device.g_min_S`` < ``device.g_max_S`` (:func:`check_conductance_range`) and store
    them as floats, in ``__post_init__`` of a frozen device dataclass; also the three scales
    (finite, >= 0)."""
    g_min, g_max = check_conductance_range(type(device).__name__, device.g_min_S, device.g_max_S)
    object.__setattr__(device, "g_min_S", g_min)
    object.__setattr__(device, "g_max_S", g_max)
    validate_fields(device, dict.fromkeys(SCALE_FIELDS, NON_NEGATIVE))


def check_rng(rng: Any) -> np.random.Generator:
    """Require a ``numpy.random.Generator`` (seeded by the caller)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def as_conductance_array(g: Any, name: str = "g") -> np.ndarray:
    """``g`` as a float64 array with only finite, non-negative entries [S]."""
    arr = np.asarray(g, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s); conductances must be finite")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} contains negative conductances (min {arr.min()!r} S); conductances must be >= 0")
    return arr


def check_target_in_range(g_target: Any, g_min_S: float, g_max_S: float, owner: str) -> np.ndarray:
    """Validate target conductances: finite and within [g_min_S, g_max_S] (1e-9 relative slack
    for floating-point rounding of the weight mapping). Returns a float64 array."""
    arr = np.asarray(g_target, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{owner}: g_target contains {n_bad} NaN or infinite value(s)")
    if arr.size:
        slack = 1e-9 * g_max_S
        lo, hi = float(arr.min()), float(arr.max())
        if lo < g_min_S - slack or hi > g_max_S + slack:
            raise ValueError(
                f"{owner}: g_target spans [{lo!r}, {hi!r}] S, outside the device range "
                f"[g_min_S, g_max_S] = [{g_min_S!r}, {g_max_S!r}] S"
            )
    return arr


def reject_unknown_keys(owner: str, data: dict, allowed: set[str]) -> None:
    """Raise on keys of ``data`` that are not fields of ``owner`` (typos must not pass silently)."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ParameterError(owner, unknown[0], f"unknown field; allowed fields are {sorted(allowed)}")


def require_dict(owner: str, data: Any) -> dict:
    if not isinstance(data, dict):
        raise TypeError(f"{owner}.from_dict expects a dict, got {type(data).__name__}")
    return data


def build_dataclass(cls: type, data: Any, *, ignore: frozenset[str] = frozenset()) -> Any:
    """``cls(**data)`` for a dataclass, after rejecting unknown keys and naming missing ones.

    ``ignore`` are keys that may be present in ``data`` but are not constructor arguments
    (e.g. ``kind``, which selects the class).
    """
    import dataclasses

    owner = cls.__name__
    data = require_dict(owner, data)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    reject_unknown_keys(owner, data, set(fields) | set(ignore))
    for name, f in fields.items():
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        if name not in data and not has_default:
            raise ParameterError(owner, name, "missing required field")
    return cls(**{k: v for k, v in data.items() if k in fields})


def freeze(arr: np.ndarray) -> np.ndarray:
    """Mark an array read-only (programmed states are immutable) and return it."""
    arr.setflags(write=False)
    return arr
