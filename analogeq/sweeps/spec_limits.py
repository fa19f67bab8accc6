"""Limits a sweep spec is checked against before it is expanded: nesting depth, values per
axis, and the number of grid points (see :data:`analogeq.sweeps.spec.DEFAULT_POINT_LIMIT`).

The point count is computed from the raw ``[axes]`` table (list lengths and range ``num``), so
a spec asking for 10^9 points is refused in microseconds instead of being expanded value by
value (each card-axis value is validated against the card schema, ~10 ms).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from hardware_models.errors import short_repr

__all__ = ["MAX_AXIS_VALUES", "MAX_DEPTH", "axis_sizes", "check_depth", "check_point_count"]

#: nesting of tables and lists in a spec (a spec has 4: network.train.training.lr = [...])
MAX_DEPTH = 16
#: values of one axis, whatever the point limit (a range's num is expanded into a list)
MAX_AXIS_VALUES = 100_000


def check_depth(data: Any) -> None:
    """Refuse a spec nested deeper than :data:`MAX_DEPTH` (walked iteratively), or with a key that
    is not a string (TOML keys are; a dict built in Python may have others)."""
    from analogeq.sweeps.spec import SpecError

    stack = [(data, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(f"{where or 'spec'}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            bad = next((k for k in node if not isinstance(k, str)), None)
            if bad is not None:
                raise SpecError(f"{where or 'spec'}: keys must be strings, got {short_repr(bad, 40)}")
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))


def axis_sizes(axes: Any) -> dict[str, int]:
    """Values per axis as the raw table gives them (a list's length, a range's ``num``); axes
    whose form is wrong count 1 (their parser reports them)."""
    sizes: dict[str, int] = {}
    if not isinstance(axes, dict):
        return sizes
    for path, raw in axes.items():
        n = 1
        if isinstance(raw, list):
            n = max(1, len(raw))
        elif isinstance(raw, dict):
            num = raw.get("num")
            if isinstance(num, numbers.Integral) and not isinstance(num, bool) and num > 1:
                n = int(num)
        sizes[str(path)] = n
    return sizes


def check_point_count(axes: Any, per_grid: int, point_limit: int | None) -> int:
    """The number of grid points (axis values x ``per_grid`` runs per grid cell); a SpecError if
    an axis has more than :data:`MAX_AXIS_VALUES` values or the total exceeds ``point_limit``."""
    from analogeq.sweeps.spec import SpecError

    sizes = axis_sizes(axes)
    for path, n in sizes.items():
        if n > MAX_AXIS_VALUES:
            raise SpecError(f'axes["{path[:60]}"]: {n:,} values; an axis has at most {MAX_AXIS_VALUES:,}')
    total = math.prod(sizes.values()) * max(1, per_grid)
    if point_limit is not None and total > point_limit:
        shape = " x ".join(str(n) for n in sizes.values()) or "1"
        raise SpecError(f"axes: the sweep has {total:,} points ({shape} axis values x {per_grid} evaluation, "
                        f"substrate and seed runs); the limit is {point_limit:,}: raise it with --point-limit N "
                        "(point_limit= in Python) if you mean it")
    return total
