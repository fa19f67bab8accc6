"""Parameter and array validation shared by the device models.

Every check raises :class:`ParameterError` (a ``ValueError``) or ``TypeError`` whose message
names the owner and field, the bad value and what is allowed. ``ParameterError.field`` holds the
field name so that the card loader can turn it into a JSON path (``$.device.g_max_S``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A bad parameter value. ``field`` is the dataclass field (or dotted sub-field) at fault."""

    def __init__(self, owner: str, field: str, message: str):
        super().__init__(f"{owner}.{field}: {message}")
        self.owner = owner
        self.field = field
        self.detail = message


class ParameterTypeError(TypeError):
    """A parameter of the wrong type. ``field`` as in :class:`ParameterError`."""

    def __init__(self, owner: str, field: str, message: str):
        super().__init__(f"{owner}.{field}: {message}")
        self.owner = owner
        self.field = field
        self.detail = message


def check_float(
    owner: str,
    field: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    """Return ``value`` as a finite float within the given bounds, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(owner, field, f"{value!r} is not a real number")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(owner, field, f"{value!r} is not finite")
    if minimum is not None:
        if exclusive_minimum and not value > minimum:
            raise ParameterError(owner, field, f"{value!r} must be > {minimum!r}")
        if not exclusive_minimum and not value >= minimum:
            raise ParameterError(owner, field, f"{value!r} must be >= {minimum!r}")
    if maximum is not None:
        if exclusive_maximum and not value < maximum:
            raise ParameterError(owner, field, f"{value!r} must be < {maximum!r}")
        if not exclusive_maximum and not value <= maximum:
            raise ParameterError(owner, field, f"{value!r} must be <= {maximum!r}")
    return value


def check_int(owner: str, field: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int (integral floats such as 8.0 accepted, bools not), or raise."""
    if isinstance(value, bool):
        raise ParameterTypeError(owner, field, f"{value!r} is not an integer")
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        value = int(value)
    else:
        raise ParameterTypeError(owner, field, f"{value!r} is not an integer")
    if minimum is not None and value < minimum:
        raise ParameterError(owner, field, f"{value!r} must be an integer >= {minimum}")
    return value


def check_float_tuple(
    owner: str, field: str, value: Any, *, length: int | None = None, min_length: int = 1
) -> tuple[float, ...]:
    """Return ``value`` (a sequence of finite reals) as a tuple of floats, or raise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ParameterTypeError(owner, field, f"{value!r} is not a sequence of numbers")
    items = list(value)
    if length is not None and len(items) != length:
        raise ParameterError(owner, field, f"has {len(items)} entries, expected exactly {length}")
    if len(items) < min_length:
        raise ParameterError(owner, field, f"has {len(items)} entries, expected at least {min_length}")
    return tuple(check_float(owner, f"{field}[{i}]", v) for i, v in enumerate(items))


def check_range_pair(owner: str, field: str, value: Any) -> tuple[float, float]:
    """A ``[low, high]`` pair of finite floats with low <= high."""
    lo, hi = check_float_tuple(owner, field, value, length=2)
    if lo > hi:
        raise ParameterError(owner, field, f"[{lo!r}, {hi!r}] is inverted; need low <= high")
    return lo, hi


def check_conductance_range(owner: str, g_min_S: Any, g_max_S: Any) -> tuple[float, float]:
    """Validate ``0 <= g_min_S < g_max_S`` (siemens) and return them as floats."""
    g_min = check_float(owner, "g_min_S", g_min_S, minimum=0.0)
    g_max = check_float(owner, "g_max_S", g_max_S, minimum=0.0, exclusive_minimum=True)
    if not g_min < g_max:
        raise ParameterError(
            owner,
            "g_min_S",
            f"{g_min!r} must be < g_max_S = {g_max!r} (the conductance range [g_min_S, g_max_S] is empty or inverted)",
        )
    return g_min, g_max


def check_scale(owner: str, field: str, value: Any) -> float:
    """A noise/drift multiplier: finite and >= 0 (0 switches the effect off)."""
    return check_float(owner, field, value, minimum=0.0)


def check_rng(rng: Any) -> np.random.Generator:
    """Require a ``numpy.random.Generator`` (seeded by the caller)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def check_time(t_s: Any, name: str = "t_s") -> float:
    """A time after programming [s]: finite and >= 0."""
    if isinstance(t_s, bool) or not isinstance(t_s, numbers.Real):
        raise TypeError(f"{name} must be a real number of seconds, got {t_s!r}")
    t = float(t_s)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be finite and >= 0 seconds, got {t_s!r}")
    return t


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
