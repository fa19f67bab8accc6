"""JSON conversion: the one converter from results and configs to strict JSON values.

:func:`to_jsonable` turns dicts (keys to strings), lists and tuples, numpy scalars and arrays,
torch tensors (anything with ``tolist``), objects with ``to_dict()`` and plain numbers into JSON
values. Non-finite floats become ``null`` (``nonfinite="null"``, for results: a NaN is never
written as a number) or raise (``nonfinite="error"``, for configs whose hash must mean
something). Anything else JSON cannot hold is a TypeError naming its path.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["to_jsonable"]


def to_jsonable(value: Any, *, nonfinite: str = "null", path: str = "$") -> Any:
    """A strict-JSON copy of ``value`` (see the module docstring)."""
    if nonfinite not in ("null", "error"):
        raise ValueError(f"nonfinite must be 'null' or 'error', got {nonfinite!r}")
    return _convert(value, nonfinite, path)


def _convert(value: Any, nonfinite: str, path: str) -> Any:
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if nonfinite == "error":
            raise ValueError(f"{path}: {value!r} is not a finite number")
        return None
    if isinstance(value, dict):
        return {str(k): _convert(v, nonfinite, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v, nonfinite, f"{path}[{i}]") for i, v in enumerate(value)]
    type_name = type(value).__module__.split(".")[0]
    if type_name == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _convert(value.item(), nonfinite, path)  # numpy scalars (bool_, int64, float32, ...)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays, torch tensors
        return _convert(value.tolist(), nonfinite, path)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _convert(value.to_dict(), nonfinite, path)
    raise TypeError(f"{path}: a {type(value).__name__} cannot be written as JSON")
