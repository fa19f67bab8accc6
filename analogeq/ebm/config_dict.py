"""Config dataclasses as JSON and back, and the checks of their size fields.

Every config of the package (model configs with a ``kind`` field, training configs without) is a
frozen dataclass that derives from :class:`JSONConfig`:

* ``to_dict()``: ``dataclasses.asdict`` with tuples written as lists (JSON arrays);
* ``from_dict(d)``: ``cls(**d)`` after checking ``d["kind"]`` (where the class has a ``kind``) and
  naming unknown keys together with the allowed ones.

Numbers are checked with :mod:`hardware_models.params` (messages ``Owner.field: must be ...``);
this module adds the checks of *lists* of sizes (layer widths, an input shape, one value per
convolutional layer), each entry named by its index (``MLPConfig.hidden_sizes[1]``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping, TypeVar

from hardware_models.params import Integer, ParameterError, validate_params

T = TypeVar("T")

#: the constraints every classifier config shares (EBMs and baselines): at least two classes,
#: a seed >= 0 for the initialisation
CLASSIFIER_CONSTRAINTS = {
    "num_classes": Integer(minimum=2),
    "seed": Integer(minimum=0),
}


def config_from_dict(cls: type[T], d: dict[str, Any], kind: str | None = None) -> T:
    """``cls(**d)`` after checking ``d["kind"]`` (optional in ``d``) is ``kind`` (when ``kind`` is
    not None) and that every other key is a field of ``cls``; the error names the unknown keys
    and the allowed ones."""
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}.from_dict needs a dict, got {type(d).__name__}")
    d = dict(d)
    if kind is not None:
        got = d.pop("kind", kind)
        if got != kind:
            raise ValueError(f"config kind must be {kind!r} for {cls.__name__}, got {got!r}")
    allowed = {f for f in cls.__dataclass_fields__ if f != "kind"}  # type: ignore[attr-defined]
    unknown = set(d) - allowed
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return cls(**d)


def config_to_dict(config: Any) -> dict[str, Any]:
    """``asdict(config)`` with every tuple value as a list (the JSON form)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


class JSONConfig:
    """``to_dict`` / ``from_dict`` of a frozen config dataclass (see the module docstring).

    A class attribute or field ``kind`` (a model kind such as ``"dense_ebm"``) is checked by
    ``from_dict``; classes without one (training configs) take any dict of their fields."""

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        return config_from_dict(cls, d, getattr(cls, "kind", None))


def check_fields(config: Any, constraints: Mapping[str, Any]) -> None:
    """Check the attributes of ``config`` named in ``constraints`` (owner: the class name).

    The values are left as they are (an int learning rate stays an int), so ``to_dict`` and every
    hash of it are those of the values given."""
    validate_params({name: getattr(config, name) for name in constraints}, constraints, owner=type(config).__name__)


def _as_list(owner: str, field: str, value: Any, what: str) -> list[Any]:
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise ParameterError(owner, field, f"must be {what}, got {value!r}")
    return list(value)


def check_sizes(owner: str, field: str, value: Any, *, allow_empty: bool) -> tuple[int, ...]:
    """A list of integers >= 1 (e.g. layer widths) as a tuple; ``allow_empty``: () is accepted."""
    sizes = _as_list(owner, field, value, "a list of integers >= 1")
    if not sizes and not allow_empty:
        raise ParameterError(owner, field, "must be a non-empty list of integers >= 1, got []")
    return tuple(Integer(minimum=1)(f"{field}[{i}]", v, owner) for i, v in enumerate(sizes))


def check_shape(owner: str, field: str, value: Any, ndim: int | None = None) -> tuple[int, ...]:
    """The shape of one input: a non-empty list of sizes >= 1; ``ndim`` 3 means (C, H, W)."""
    shape = check_sizes(owner, field, value, allow_empty=False)
    if ndim is not None and len(shape) != ndim:
        raise ParameterError(owner, field, f"must have {ndim} entries (C, H, W), got {list(shape)}")
    return shape


def per_layer(owner: str, field: str, value: Any, n: int, *, minimum: int) -> tuple[int, ...]:
    """One integer >= ``minimum`` per layer of ``n``: a single integer is broadcast to all."""
    check = Integer(minimum=minimum)
    if isinstance(value, int) and not isinstance(value, bool):
        return (check(field, value, owner),) * n
    values = _as_list(owner, field, value, f"an integer or a list of {n} integers (one per conv layer)")
    if len(values) != n:
        raise ParameterError(owner, field, f"must be an integer or a list of {n} integers (one per conv layer), got {value!r}")
    return tuple(check(f"{field}[{i}]", v, owner) for i, v in enumerate(values))


__all__ = [
    "CLASSIFIER_CONSTRAINTS",
    "JSONConfig",
    "check_fields",
    "check_shape",
    "check_sizes",
    "config_from_dict",
    "config_to_dict",
    "per_layer",
]
