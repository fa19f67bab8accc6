"""Loading, validating, saving and editing device cards (JSON). Cards are data: they are parsed
as JSON and validated against a schema, never executed or used to import anything."""

from __future__ import annotations

import copy
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hardware_models.files import atomic_write

from hardware_models.errors import short_repr

from . import limits
from .errors import CardError
from .plausible import check_allow_list, check_plausible
from .registry import get_card_type


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CardError("$", f"duplicate key {short_repr(key, 40)} in a JSON object")
        out[key] = value
    return out


def parse_card_json(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse card JSON strictly: bounded size and nesting, no NaN/Infinity or numbers beyond the
    float range (named with their JSON path), no duplicate keys, an object at the top
    (:mod:`hardware_models.cards.limits`)."""
    try:
        limits.check_text(text)
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, **limits.parse_hooks())
        limits.check_values(data)
    except CardError as exc:
        raise exc.with_source(source) if source else exc
    except json.JSONDecodeError as exc:
        raise CardError("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=source) from None
    if not isinstance(data, dict):
        raise CardError("$", f"a card must be a JSON object, got {type(data).__name__}", source=source)
    return data


def card_from_dict(data: dict[str, Any]) -> Any:
    """Validate a card dict and build its card object (dispatching on ``card_type``).

    Checks, in order: a dict within the limits of :mod:`~hardware_models.cards.limits` (depth,
    list lengths, finite numbers); ``card_type`` known; ``schema_version`` supported by that
    type; the type's schema and semantic checks; then the physical plausibility ranges
    (:mod:`~hardware_models.cards.plausible`, except the fields the card lists in
    ``allow_implausible``).
    Raises :class:`CardError` with the JSON path.
    """
    if not isinstance(data, dict):
        raise CardError("$", f"a card must be a JSON object (dict), got {type(data).__name__}")
    limits.check_values(data)
    if "card_type" not in data:
        raise CardError("$.card_type", "missing required field")
    card_type = get_card_type(data["card_type"])
    if "schema_version" not in data:
        raise CardError("$.schema_version", f"missing required field; supported versions: {list(card_type.versions)}")
    version = data["schema_version"]
    if not isinstance(version, str) or version not in card_type.versions:
        raise CardError(
            "$.schema_version",
            f"unsupported schema_version {version!r} for card_type {card_type.name!r}; supported: {list(card_type.versions)}",
        )
    data = copy.deepcopy(data)
    allow = check_allow_list(card_type.name, data.pop("allow_implausible", None))
    try:
        card = card_type.from_dict(data)  # the schema first: its message for a meaningless value
    except CardError:
        raise
    except Exception:  # arithmetic on an absurd value (e.g. OverflowError): name the field instead
        check_plausible(card_type.name, data, allow)
        raise
    check_plausible(card_type.name, data, allow)
    if allow:  # kept with the card, written back by to_dict (registry.card_to_dict)
        object.__setattr__(card, "allow_implausible", allow)
    return card


def load_card(path: str | os.PathLike) -> Any:
    """Read, validate and build a card from a JSON file; CardError names the file and field."""
    source = os.fspath(path)
    if os.path.isdir(source):
        raise CardError("$", "is a folder; a card file (JSON) is needed", source=source)
    size = os.stat(source).st_size
    if size > limits.MAX_CARD_BYTES:
        raise CardError("$", f"the file is {size:,} bytes; a card is at most {limits.MAX_CARD_BYTES:,}", source=source)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CardError("$", f"not UTF-8 text (byte {exc.start}: {exc.reason})", source=source) from None
    data = parse_card_json(text, source)
    try:
        return card_from_dict(data)
    except CardError as exc:
        raise exc.with_source(source) from None


def _card_dict(card: Any) -> dict[str, Any]:
    if isinstance(card, dict):
        return card_from_dict(card).to_dict()
    if not hasattr(card, "to_dict"):
        raise TypeError(f"expected a card object (with to_dict) or a card dict, got {type(card).__name__}")
    data = card.to_dict()
    card_from_dict(data)  # a card object built in Python is validated against its schema too
    return data


def save_card(card: Any, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Validate ``card`` (a card object or dict) and write it as indented JSON, atomically
    (:func:`hardware_models.files.atomic_write`; ``overwrite=False``: ``FileExistsError`` if
    ``path`` exists). Returns the path."""
    data = _card_dict(card)
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, text, overwrite=overwrite)


def _presets_dir():
    return resources.files("hardware_models.cards").joinpath("presets")


def list_presets() -> list[str]:
    """Names of the shipped preset cards (file stems in ``hardware_models/cards/presets``), sorted."""
    return sorted(p.name[: -len(".json")] for p in _presets_dir().iterdir() if p.name.endswith(".json"))


def preset(name: str) -> Any:
    """The shipped preset card ``name`` (see :func:`list_presets`), validated."""
    names = list_presets()
    if name not in names:
        raise ValueError(f"unknown preset {name!r}; available presets: {names}")
    entry = _presets_dir().joinpath(f"{name}.json")
    source = f"preset {name!r}"
    data = parse_card_json(entry.read_text(encoding="utf-8"), source)
    try:
        return card_from_dict(data)
    except CardError as exc:
        raise exc.with_source(source) from None


def _to_json_value(value: Any) -> Any:
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json_value(v) for k, v in value.items()}
    return value


def with_value(card: Any, dotted_path: str, value: Any) -> Any:
    """A new validated card equal to ``card`` except at ``dotted_path`` (e.g. ``"adc.bits"``,
    ``"device.read_noise_scale"``, ``"device.prog_noise_coeffs.0"``, or a whole section such as
    ``"update"``). The path must exist; CardError otherwise or if the new card is invalid."""
    if not isinstance(dotted_path, str) or not dotted_path or any(not p for p in dotted_path.split(".")):
        raise CardError("$", f"bad dotted path {dotted_path!r}; expected e.g. 'adc.bits'")
    data = _card_dict(card)
    parts = dotted_path.split(".")
    node: Any = data
    json_path = "$"
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                raise CardError(f"{json_path}.{part}", f"no such field; fields here: {sorted(node)}")
            json_path = f"{json_path}.{part}"
            if last:
                node[part] = _to_json_value(value)
            else:
                node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise CardError(f"{json_path}[{part}]", f"no such index; the list has {len(node)} entries")
            json_path = f"{json_path}[{part}]"
            if last:
                node[int(part)] = _to_json_value(value)
            else:
                node = node[int(part)]
        else:
            raise CardError(json_path, f"is {json.dumps(node)}, not a section; set the whole field instead")
    return card_from_dict(data)
