"""Parameter checks shared by the baseline models, defences and training configs.

Every check raises ``ValueError`` (``TypeError`` for a wrong kind of object) naming the field,
the bad value and what is allowed; nothing is clipped silently.
"""

from __future__ import annotations

import math
from typing import Any


def check_int(name: str, value: Any, minimum: int) -> int:
    """An integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, *, minimum: float | None = None, strict: bool = False,
                maximum: float | None = None, max_strict: bool = False) -> float:
    """A finite real number within the given bounds (``strict``: > minimum; ``max_strict``: < maximum)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if max_strict else value <= maximum
    if not ok:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if strict else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"{'<' if max_strict else '<='} {maximum:g}")
        allowed = "a finite number" + (" " + " and ".join(bounds) if bounds else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_sizes(name: str, value: Any, *, allow_empty: bool) -> tuple[int, ...]:
    """A tuple of positive integers (a list is accepted and converted)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list of positive integers, got {value!r}")
    sizes = tuple(value)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
        raise ValueError(f"{name} must hold positive integers, got {list(sizes)}")
    if not sizes and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return tuple(int(v) for v in sizes)


def check_input_shape(name: str, value: Any, ndim: int | None = None) -> tuple[int, ...]:
    shape = check_sizes(name, value, allow_empty=False)
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} entries (C, H, W), got {list(shape)}")
    return shape
