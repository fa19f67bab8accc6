"""The registry of substrate kinds, and the one options object of each kind.

A kind is registered once as a :class:`SubstrateKind`: its name, a frozen dataclass of its
options (validated in ``__post_init__``, so an options object that exists is valid, and
``to_dict()`` serialises it) and a builder ``build(model, options) -> Substrate``. Every caller
(the CLI, the sweeps, ``compare``, the demo) goes through :func:`substrate_options` and
:func:`build_substrate`, so an option means the same thing and is checked the same way
everywhere.

Plugins register their kinds with :func:`register_substrate`, or from an installed
distribution through the entry-point group ``analogeq.substrates`` (each entry point is a
callable returning a :class:`SubstrateKind`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Mapping

from analogeq.contract import resolve_device
from analogeq.substrates.base import Substrate
from hardware_models.params import ParameterError

__all__ = [
    "ENTRY_POINT_GROUP",
    "SubstrateKind",
    "build_substrate",
    "register_substrate",
    "substrate_kind",
    "substrate_kinds",
    "substrate_options",
    "device_option",
    "validate_options",
    "CardOptions",
]

ENTRY_POINT_GROUP = "analogeq.substrates"


@dataclass(frozen=True)
class SubstrateKind:
    """One kind of substrate: ``name``, its ``options`` dataclass, ``build(model, options)``."""

    name: str
    options: type
    build: Callable[[Any, Any], Substrate]
    description: str = ""

    def option_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.options)]


def validate_options(options: Any, constraints: Mapping[str, Callable[[str, Any], Any]]) -> None:
    """Check the fields of a frozen options dataclass and store the normalised values.

    ``constraints`` maps a field to a callable ``(field, value) -> normalised value`` that
    raises with a message naming the field: a :mod:`hardware_models.params` constraint, or a
    small function for the fields that need more (a card, a device). A field whose value is
    None and whose default is None is optional and left alone."""
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    for name, check in constraints.items():
        value = getattr(options, name)
        if value is None and defaults.get(name) is None:
            continue
        object.__setattr__(options, name, check(name, value))


class CardOptions:
    """Mixin of an options dataclass that holds a resolved ``card`` and a ``device``:
    :meth:`to_dict` is every field in order, the card as its dict and the device as a string."""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["card"] = out["card"].to_dict()
        out["device"] = str(out["device"])
        return out


def device_option(field: str, value: Any) -> Any:
    """Constraint of a ``device`` option: a torch device that exists here."""
    return resolve_device(value, field)


_KINDS: dict[str, SubstrateKind] = {}
_entry_points_loaded = False


def register_substrate(kind: SubstrateKind) -> None:
    """Register ``kind`` (a later registration of the same name replaces the earlier one)."""
    if not isinstance(kind, SubstrateKind):
        raise TypeError(f"register_substrate takes a SubstrateKind, got {type(kind).__name__}")
    if not dataclasses.is_dataclass(kind.options):
        raise TypeError(f"SubstrateKind {kind.name!r}: options must be a dataclass, got {kind.options!r}")
    _KINDS[kind.name] = kind


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        register_substrate(ep.load()())


def substrate_kinds() -> list[str]:
    """Names of every registered kind."""
    _load_entry_points()
    return sorted(_KINDS)


def substrate_kind(name: str) -> SubstrateKind:
    """The registered kind ``name``; a ParameterError lists the registered ones."""
    _load_entry_points()
    if name not in _KINDS:
        raise ParameterError(None, "substrate", f"unknown kind {name!r}; registered: {sorted(_KINDS)}")
    return _KINDS[name]


def substrate_options(kind: str, given: Mapping[str, Any] | None = None, *,
                      offered: Mapping[str, Any] | None = None) -> Any:
    """The validated options object of ``kind``.

    ``given``: options the user asked for; every key must be an option of the kind (an unknown
    one is an error naming the kind and its options). ``offered``: values a caller has for any
    kind (a sweep's seed, a card), passed only where the kind has that option and the value
    is not None; ``given`` wins over ``offered``.
    """
    spec = substrate_kind(kind)
    names = spec.option_names()
    values = {k: v for k, v in (offered or {}).items() if k in names and v is not None}
    for key, value in (given or {}).items():
        if key not in names:
            raise ParameterError(None, key, f"is not an option of the {kind} substrate (got {value!r}); its options: {names}")
        values[key] = value
    return spec.options(**values)


def build_substrate(kind: str, model: Any, options: Any = None, **values: Any) -> Substrate:
    """Build the substrate ``kind`` running ``model``, from an options object of that kind or
    from option values (``build_substrate("crossbar", model, card="pcm", seed=0)``)."""
    spec = substrate_kind(kind)
    if options is None:
        options = substrate_options(kind, values)
    elif values:
        raise TypeError("build_substrate takes an options object or option values, not both")
    elif not isinstance(options, spec.options):
        raise TypeError(f"options for the {kind} substrate must be a {spec.options.__name__}, "
                        f"got {type(options).__name__}")
    return spec.build(model, options)
