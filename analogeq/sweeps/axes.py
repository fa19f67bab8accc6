"""The ``[axes]`` of a sweep spec: what is varied, each axis a list of values or a range.

Axis values are a list or a range ``{start, stop, num, log = false}`` (``num`` values from start
to stop inclusive, evenly spaced, or geometrically with ``log = true``; integer start and stop give
integers, and a range whose values are not whole numbers is then an error). A card axis (a dotted
card path) is checked value by value with ``hardware_models.cards.with_value`` against the card
schema; an evaluation-parameter axis with the parameter's constraint. Errors name the path, e.g.
``axes["adc.bitz"]: unknown card field "adc.bitz" ($.adc.bitz: no such field; fields here: [...])``.

TOML has no null: the string ``"null"`` in a card axis means JSON null (e.g. an ideal
converter, ``"adc.bits" = [4, 6, 8, "null"]``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from analogeq.sweeps.spec_limits import MAX_AXIS_VALUES
from hardware_models import cards
from hardware_models.errors import short_repr
from hardware_models.jsonable import to_jsonable
from hardware_models.params import check_bool, check_float, check_int

__all__ = ["Axis", "FULL_CHECK_VALUES", "expand_range", "parse_axes"]

#: card axes with more values than this are checked at their extremes (see _check_card_values)
FULL_CHECK_VALUES = 32


@dataclass(frozen=True)
class Axis:
    """One swept parameter: a dotted card path (``target="card"``) or an evaluation parameter
    (``target="param"``), with its values in order."""

    path: str
    values: tuple[Any, ...]
    target: str

    def to_dict(self) -> list[Any]:
        return list(self.values)


def expand_range(value: dict[str, Any], where: str) -> list[Any]:
    """Values of a range table ``{start, stop, num, log = false}`` (see the module docstring)."""
    keys = set(value)
    if not {"start", "stop", "num"} <= keys or not keys <= {"start", "stop", "num", "log"}:
        raise ValueError(f"{where}: a range is {{start, stop, num, log = false}}, got keys {sorted(map(str, keys))}")
    start, stop = value["start"], value["stop"]
    check_float(f"{where}.start", start)
    check_float(f"{where}.stop", stop)
    num = check_int(f"{where}.num", value["num"], minimum=1, maximum=MAX_AXIS_VALUES)
    log = check_bool(f"{where}.log", value.get("log", False))
    if num == 1 and start != stop:
        raise ValueError(f"{where}: num = 1 needs start == stop, got start={short_repr(start)}, stop={short_repr(stop)}")
    if log:
        if start <= 0 or stop <= 0:
            raise ValueError(f"{where}: log = true needs start > 0 and stop > 0, got start={short_repr(start)}, stop={short_repr(stop)}")
        values = np.geomspace(float(start), float(stop), num)
    else:
        values = np.linspace(float(start), float(stop), num)
    values[0], values[-1] = float(start), float(stop)  # exact end points
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (start, stop)):  # integer ends
        rounded = np.round(values)
        if not np.allclose(values, rounded, rtol=1e-9, atol=1e-9):
            raise ValueError(
                f"{where}: integer start and stop give non-integer values {values.tolist()}; "
                "change num, or write start/stop as floats (e.g. 1.0)"
            )
        out: list[Any] = [int(v) for v in rounded]
    else:
        out = [float(v) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: the range gives repeated values {out}")
    return out


def _axis_values(raw: Any, where: str) -> list[Any]:
    """The JSON values of one axis (a list, or a range expanded), duplicates refused."""
    if isinstance(raw, dict):
        values = expand_range(raw, where)
    elif isinstance(raw, list):
        if not raw:
            raise ValueError(f"{where}: needs at least one value")
        values = list(raw)
    else:
        raise ValueError(f"{where}: must be a list of values or a range {{start, stop, num, log}}, got {short_repr(raw)}")
    try:
        values = to_jsonable(values, nonfinite="error", path=where)
    except TypeError as exc:  # e.g. a TOML date
        raise ValueError(str(exc)) from None
    if len({repr(v) for v in values}) != len(values):
        raise ValueError(f"{where}: has duplicate values {values}")
    return values


def _check_card_values(path: str, values: list[Any], where: str, base_card: Any, own_cards: dict[str, Any],
                       param_names: list[str]) -> None:
    """Every value of a card axis on the base card, and on the substrates' own cards where they
    have the field.

    A long numeric axis (more than :data:`FULL_CHECK_VALUES` values) is checked at its extremes
    (smallest and largest integer and float): a card's number constraints are ranges (schema
    bounds, plausibility ranges, sums and orderings of fields), so its extremes stand for the
    values between them; each point's card is built and validated again when the sweep is planned.
    """
    checked = list(enumerate(values))
    numbers_only = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    if len(values) > FULL_CHECK_VALUES and numbers_only:
        extremes: set[int] = set()
        for kind in (numbers.Integral, float):
            idx = [i for i, v in enumerate(values) if isinstance(v, kind)]
            if idx:
                extremes |= {min(idx, key=lambda i: values[i]), max(idx, key=lambda i: values[i])}
        checked = [(i, values[i]) for i in sorted(extremes)]
    for i, v in checked:
        try:
            cards.with_value(base_card, path, v)
        except ValueError as exc:  # CardError is a ValueError with .json_path
            if "no such field" in str(exc):
                also = f"; or an evaluation parameter: {param_names}" if param_names else ""
                raise ValueError(f'{where}: unknown card field "{path}" ({exc}){also}') from None
            raise ValueError(f"{where}[{i}] = {short_repr(v)}: {exc}") from None
        for kind, card in own_cards.items():  # a substrate's own card: only where the field exists
            try:
                cards.with_value(card, path, v)
            except ValueError as exc:
                if "no such field" not in str(exc):
                    raise ValueError(f"{where}[{i}] = {short_repr(v)} on the card of substrate {short_repr(kind)}: {exc}") from None


def parse_axes(value: Any, base_card: Any, param_specs: dict[str, Any], own_cards: dict[str, Any]) -> tuple[Axis, ...]:
    """The validated axes of a spec's ``[axes]`` table, in path order. ``param_specs``: the
    evaluations' parameters by name (an axis of that name is a parameter axis); ``own_cards``:
    the cards of substrates that run on their own card, by kind."""
    if not isinstance(value, dict):
        raise ValueError(f"axes: must be a table of path = values, got {short_repr(value)}")
    axes = []
    for path in sorted(value):
        where = f'axes["{path}"]'
        values = _axis_values(value[path], where)
        if path in param_specs:
            check = param_specs[path].check
            axes.append(Axis(path, tuple(check(f"{where}[{i}]", v) for i, v in enumerate(values)), "param"))
            continue
        values = [None if v == "null" else v for v in values]  # TOML has no null
        _check_card_values(path, values, where, base_card, own_cards, sorted(param_specs))
        axes.append(Axis(path, tuple(values), "card"))
    return tuple(axes)
