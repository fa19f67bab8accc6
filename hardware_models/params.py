"""Parameter constraints: the one place that validates scalar parameters.

Every class and function of the package that takes a number, a choice or a flag checks it here,
at construction (scikit-learn's habit), with one message style::

    <owner>.<field>: must be <what is allowed>, got <value>       (owner omitted when None)

A constraint is a small frozen object, callable as ``constraint(field, value, owner=None)``,
returning the normalised value (``int``, ``float``, the choice, the flag) or raising
:class:`ParameterError`. The functions ``check_int``, ``check_float``, ``check_one_of`` and
``check_bool`` are the same constraints called once; :func:`validate_params` checks a whole
mapping against a table of constraints (the declarative form, like scikit-learn's
``_parameter_constraints``).

:class:`ParameterError` is both a ``ValueError`` (through the package's error base class
:class:`hardware_models.errors.AnalogeqError`) and a ``TypeError`` (as scikit-learn's
``InvalidParameterError``): a wrong type and a wrong value are the same mistake for a user, and
callers can catch either. ``field`` holds the field name so that a card loader can turn it into a
JSON path (``$.device.g_max_S``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from hardware_models.errors import AnalogeqError, short_repr

__all__ = [
    "Boolean",
    "Integer",
    "NON_NEGATIVE",
    "NoneOr",
    "POSITIVE",
    "OneOf",
    "ParameterError",
    "Real",
    "check_bool",
    "check_float",
    "check_float_tuple",
    "check_int",
    "check_one_of",
    "check_range_pair",
    "validate_fields",
    "validate_params",
]


class ParameterError(AnalogeqError, TypeError):
    """A bad parameter: ``owner`` (class or section, may be None), ``field``, ``detail`` (what is
    wrong and what is allowed)."""

    def __init__(self, owner: str | None, field: str, detail: str):
        self.owner = owner
        self.field = field
        self.detail = detail
        where = f"{owner}.{field}" if owner else field
        super().__init__(f"{where}: {detail}")


def _short(value: Any) -> str:
    """repr of a value, cut to 80 characters (a message stays one readable line)."""
    return short_repr(value, 80)


@dataclass(frozen=True)
class Integer:
    """An integer (never a bool) in [minimum, maximum]; ``integral_float`` also accepts 8.0 (JSON)."""

    minimum: int | None = None
    maximum: int | None = None
    integral_float: bool = False

    def describe(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        return "an integer" + (" " + " and ".join(bounds) if bounds else "")

    def __call__(self, field: str, value: Any, owner: str | None = None) -> int:
        ok = False
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value, ok = int(value), True
        elif (self.integral_float and isinstance(value, numbers.Real) and not isinstance(value, bool)
              and math.isfinite(float(value)) and float(value).is_integer()):
            value, ok = int(value), True
        if ok and self.minimum is not None and value < self.minimum:
            ok = False
        if ok and self.maximum is not None and value > self.maximum:
            ok = False
        if not ok:
            raise ParameterError(owner, field, f"must be {self.describe()}, got {_short(value)}")
        return value


@dataclass(frozen=True)
class Real:
    """A finite real number (never a bool) within the bounds (``exclusive_*``: strict)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    def describe(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return "a finite number" + (" " + " and ".join(bounds) if bounds else "")

    def __call__(self, field: str, value: Any, owner: str | None = None) -> float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok:
            try:
                v = float(value)
            except OverflowError:  # an int beyond the float range
                ok = False
            else:
                ok = math.isfinite(v)
        if ok and self.minimum is not None:
            ok = v > self.minimum if self.exclusive_minimum else v >= self.minimum
        if ok and self.maximum is not None:
            ok = v < self.maximum if self.exclusive_maximum else v <= self.maximum
        if not ok:
            raise ParameterError(owner, field, f"must be {self.describe()}, got {_short(value)}")
        return v


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (compared with ==; bools never match numbers)."""

    allowed: tuple[Any, ...]

    def describe(self) -> str:
        return f"one of {list(self.allowed)}"

    def __call__(self, field: str, value: Any, owner: str | None = None) -> Any:
        for a in self.allowed:
            try:
                same = value == a and type(value) is not bool or value is a
            except Exception:  # unhashable or odd comparisons: not a match
                same = False
            if same:
                return a
        raise ParameterError(owner, field, f"must be {self.describe()}, got {_short(value)}")


@dataclass(frozen=True)
class Boolean:
    """True or False (not 0/1, not "yes")."""

    def describe(self) -> str:
        return "True or False"

    def __call__(self, field: str, value: Any, owner: str | None = None) -> bool:
        if not isinstance(value, bool):
            raise ParameterError(owner, field, f"must be {self.describe()}, got {_short(value)}")
        return value


@dataclass(frozen=True)
class NoneOr:
    """None (``none_means`` says what it stands for, e.g. "ideal converter") or a value the inner
    constraint accepts; the message names both."""

    inner: Any
    none_means: str = ""

    def describe(self) -> str:
        none = f"None ({self.none_means})" if self.none_means else "None"
        return f"{none} or {self.inner.describe()}"

    def __call__(self, field: str, value: Any, owner: str | None = None) -> Any:
        if value is None:
            return None
        try:
            return self.inner(field, value, owner)
        except ParameterError:
            raise ParameterError(owner, field, f"must be {self.describe()}, got {_short(value)}") from None


#: a finite number > 0 / >= 0 (durations, resistances, gains, energies)
POSITIVE = Real(0.0, exclusive_minimum=True)
NON_NEGATIVE = Real(0.0)


def check_int(field: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
              integral_float: bool = False, owner: str | None = None) -> int:
    """``value`` as an int in [minimum, maximum], or :class:`ParameterError`."""
    return Integer(minimum, maximum, integral_float)(field, value, owner)


def check_float(field: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                exclusive_minimum: bool = False, exclusive_maximum: bool = False, owner: str | None = None) -> float:
    """``value`` as a finite float within the bounds, or :class:`ParameterError`."""
    return Real(minimum, maximum, exclusive_minimum, exclusive_maximum)(field, value, owner)


def check_one_of(field: str, value: Any, allowed: tuple[Any, ...] | list[Any], *, owner: str | None = None) -> Any:
    """``value`` if it is one of ``allowed``, or :class:`ParameterError`."""
    return OneOf(tuple(allowed))(field, value, owner)


def check_bool(field: str, value: Any, *, owner: str | None = None) -> bool:
    """``value`` if it is True or False, or :class:`ParameterError`."""
    return Boolean()(field, value, owner)


def check_float_tuple(field: str, value: Any, *, length: int | None = None, min_length: int = 1,
                      owner: str | None = None) -> tuple[float, ...]:
    """``value`` (a sequence of finite reals; ``length`` entries exactly, or at least
    ``min_length``) as a tuple of floats; entry ``i`` is checked as ``field[i]``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ParameterError(owner, field, f"must be a sequence of finite numbers, got {_short(value)}")
    items = list(value)
    if length is not None and len(items) != length:
        raise ParameterError(owner, field, f"has {len(items)} entries, expected exactly {length}")
    if len(items) < min_length:
        raise ParameterError(owner, field, f"has {len(items)} entries, expected at least {min_length}")
    return tuple(check_float(f"{field}[{i}]", v, owner=owner) for i, v in enumerate(items))


def check_range_pair(field: str, value: Any, *, owner: str | None = None) -> tuple[float, float]:
    """A ``[low, high]`` pair of finite floats with low <= high."""
    lo, hi = check_float_tuple(field, value, length=2, owner=owner)
    if lo > hi:
        raise ParameterError(owner, field, f"[{lo!r}, {hi!r}] is inverted; need low <= high")
    return lo, hi


Constraint = Callable[..., Any]


def validate_params(values: Mapping[str, Any], constraints: Mapping[str, Constraint], *,
                    owner: str | None = None) -> dict[str, Any]:
    """Check every entry of ``values`` whose name has a constraint; returns the normalised values.

    Names of ``values`` without a constraint are left as they are; a constraint of ``None``
    accepts anything. Unknown names are the caller's business (dataclass constructors reject them).
    """
    out = dict(values)
    for name, constraint in constraints.items():
        if name in out and constraint is not None:
            out[name] = constraint(name, out[name], owner)
    return out


def validate_fields(obj: Any, constraints: Mapping[str, Constraint]) -> None:
    """Check fields of a (frozen) dataclass instance in place, for ``__post_init__``: each named
    field is replaced by its normalised value; the owner in messages is the class name."""
    owner = type(obj).__name__
    for name, constraint in constraints.items():
        object.__setattr__(obj, name, constraint(name, getattr(obj, name), owner))
