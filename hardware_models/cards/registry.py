"""Card types by name, their JSON Schemas, and schema validation with JSON-path errors.

A card type (``"crossbar"``, ``"spiking"`` ...) is registered with a loader that turns a
validated-enough dict into a card object. Another package adds its own type with::

    from hardware_models.cards import register_card_type, validate_with_schema

    def spiking_card_from_dict(data: dict) -> SpikingCard:
        validate_with_schema(data, "spiking", data["schema_version"])  # schemas/spiking-card.v1.json
        return SpikingCard(...)                                       # raise CardError on semantic errors

    register_card_type("spiking", spiking_card_from_dict, versions=("1.0",))

The loader receives a dict whose ``card_type`` and ``schema_version`` were already checked; the
card object it returns must have ``to_dict()`` (for ``save_card`` and ``with_value``). Card
types listed in ``PLUGIN_MODULES`` are imported on first use, so ``preset("...")`` works for them
without an explicit import; the module named there must register its type on import.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

import jsonschema

from hardware_models.params import ParameterError

from hardware_models.errors import short_repr

from .errors import CardError

#: schema errors collected before the most relevant one is reported ("and N more" counts up to this)
_MAX_SCHEMA_ERRORS = 50

#: card types that live in other subpackages, imported on first use (fixed here, never taken from a card)
PLUGIN_MODULES: dict[str, str] = {"spiking": "hardware_models.spiking"}


@dataclass(frozen=True)
class CardType:
    """A registered card type: its name, supported schema versions and loader."""

    name: str
    from_dict: Callable[[dict[str, Any]], Any]
    versions: tuple[str, ...]


_CARD_TYPES: dict[str, CardType] = {}


def register_card_type(
    name: str, from_dict: Callable[[dict[str, Any]], Any], *, versions: tuple[str, ...] = ("1.0",)
) -> None:
    """Register (or re-register, e.g. on module reload) the loader of card type ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"card type name must be a non-empty string, got {name!r}")
    if not callable(from_dict):
        raise TypeError(f"from_dict for card type {name!r} must be callable")
    if not versions or not all(isinstance(v, str) for v in versions):
        raise ValueError(f"versions for card type {name!r} must be a non-empty tuple of strings, got {versions!r}")
    _CARD_TYPES[name] = CardType(name=name, from_dict=from_dict, versions=tuple(versions))


def card_types() -> tuple[str, ...]:
    """Registered card types plus those provided by plugin modules, sorted."""
    return tuple(sorted(set(_CARD_TYPES) | set(PLUGIN_MODULES)))


def get_card_type(name: Any) -> CardType:
    """The registered card type ``name``, importing its plugin module if needed; CardError otherwise."""
    if not isinstance(name, str):
        raise CardError("$.card_type", f"{name!r} is not a string; known card types are {list(card_types())}")
    if name not in _CARD_TYPES and name in PLUGIN_MODULES:
        module = PLUGIN_MODULES[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:  # pragma: no cover - depends on the plugin's state
            raise CardError("$.card_type", f"card type {name!r} is provided by {module}, which failed to import: {exc}") from exc
    if name not in _CARD_TYPES and name in PLUGIN_MODULES:
        raise CardError(
            "$.card_type", f"card type {name!r} is expected from module {PLUGIN_MODULES[name]}, which did not register it"
        )
    if name not in _CARD_TYPES:
        raise CardError("$.card_type", f"unknown card type {name!r}; known card types are {list(card_types())}")
    return _CARD_TYPES[name]


def schema_filename(card_type: str, version: str) -> str:
    """``<card_type>-card.v<major>.json`` for schema version ``<major>.<minor>``."""
    return f"{card_type}-card.v{version.split('.')[0]}.json"


@functools.lru_cache(maxsize=None)
def _load_schema_text(filename: str) -> str:
    path = resources.files("hardware_models.cards").joinpath("schemas", filename)
    return path.read_text(encoding="utf-8")


def load_schema(card_type: str, version: str = "1.0") -> dict[str, Any]:
    """The JSON Schema (a fresh dict) of ``card_type`` at ``version``, shipped as package data."""
    filename = schema_filename(card_type, version)
    try:
        return json.loads(_load_schema_text(filename))
    except FileNotFoundError:
        raise CardError("$.schema_version", f"no schema file {filename!r} for card type {card_type!r}") from None


@functools.lru_cache(maxsize=None)
def _validator(filename: str) -> jsonschema.protocols.Validator:
    schema = json.loads(_load_schema_text(filename))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _error_to_card_error(error: jsonschema.ValidationError, n_errors: int) -> CardError:
    path = error.json_path
    detail = error.message
    try:  # jsonschema quotes the whole offending value; a message names it in short
        long_repr = repr(error.instance)
    except (ValueError, RecursionError):
        long_repr = ""
    if len(long_repr) > 60 and long_repr in detail:
        detail = detail.replace(long_repr, short_repr(error.instance))
    if error.validator == "required":
        # "'bits' is a required property" at $.adc -> $.adc.bits: missing required field
        missing = [name for name in error.validator_value if isinstance(error.instance, dict) and name not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}"
            detail = "missing required field"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            path = f"{path}.{extra[0]}"
            detail = f"unknown field; allowed fields are {sorted(allowed)}"
    elif error.validator in ("const", "enum"):
        allowed = [error.validator_value] if error.validator == "const" else list(error.validator_value)
        detail = f"{short_repr(error.instance)} is not allowed; allowed: {allowed}"
    if n_errors > 1:
        detail += f" (and {n_errors - 1} more error(s))"
    return CardError(path, detail)


def validate_with_schema(data: dict[str, Any], card_type: str, version: str) -> None:
    """Validate ``data`` against the shipped schema of ``card_type``/``version``; raise the most
    relevant error as a :class:`CardError` with its JSON path (e.g.
    ``$.adc.bits: -3 is less than the minimum of 1``)."""
    filename = schema_filename(card_type, version)
    try:
        validator = _validator(filename)
    except FileNotFoundError:
        raise CardError("$.schema_version", f"no schema file {filename!r} for card type {card_type!r}") from None
    errors = list(itertools.islice(validator.iter_errors(data), _MAX_SCHEMA_ERRORS))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise _error_to_card_error(best, len(errors))


def card_to_dict(card: Any) -> dict[str, Any]:
    """A card dataclass as a JSON-ready dict in the canonical key order: ``card_type``,
    ``schema_version``, then its fields (sections through their ``to_dict``, tuples as lists)."""
    from dataclasses import fields

    out: dict[str, Any] = {"card_type": card.card_type, "schema_version": card.schema_version}
    allow = getattr(card, "allow_implausible", ())
    if allow:  # fields the card keeps outside their plausibility range (hardware_models.cards.plausible)
        out["allow_implausible"] = list(allow)
    for f in fields(card):
        value = getattr(card, f.name)
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def check_card_header(card: Any, section_types: dict[str, type], *, optional: tuple[str, ...] = ()) -> None:
    """The checks every card dataclass runs first (``__post_init__``): ``name`` a non-empty
    string, ``description`` a string, ``references`` strings (stored as a tuple), and each
    section an instance of its class (``optional`` sections may also be None). Raises
    :class:`~hardware_models.params.ParameterError` naming the card class and the field."""
    owner = type(card).__name__
    if not isinstance(card.name, str) or not card.name:
        raise ParameterError(owner, "name", f"{card.name!r} must be a non-empty string")
    if not isinstance(card.description, str):
        raise ParameterError(owner, "description", f"{card.description!r} must be a string")
    if isinstance(card.references, str) or not all(isinstance(r, str) for r in card.references):
        raise ParameterError(owner, "references", f"{card.references!r} must be a list of strings")
    object.__setattr__(card, "references", tuple(card.references))
    for name, cls in section_types.items():
        value = getattr(card, name)
        if value is None and name in optional:
            continue
        if not isinstance(value, cls):
            raise ParameterError(owner, name, f"expected {cls.__name__}, got {type(value).__name__}")
