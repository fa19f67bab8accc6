"""The sweep spec: a TOML file saying what to vary, what to run it on and what to measure.

Format (every key but ``name``, ``card`` and ``evaluations`` is optional)::

    name = "pcm-read-noise-vs-adc"            # letters, digits, - _ .
    description = "clean accuracy of the digits EBM on PCM"
    substrates = ["float", "crossbar"]        # kinds for evaluations that run on a substrate;
                                              # { kind = "spiking", card = { preset = "..." } }
                                              # runs a kind on its own card
    seeds = [0, 1, 2]                         # or { start = 0, count = 5 }
    imports = []                              # modules that register extra evaluations/substrates

    [card]                                    # the base device card: exactly one of
    preset = "pcm-aihwkit"                    #   a preset name (hardware_models.cards.preset)
    # path = "cards/my-device.json"           #   or a card file (relative to this spec)

    [network]                                 # needed by network evaluations: either
    checkpoint = "digits-ebm.safetensors"     #   a checkpoint file (relative to this spec)
    # [network.train]                         #   or a training config for the default digits EBM
    # [network.train.training]                #   (trained once, cached beside the database;
    # epochs = 10                             #   see analogeq.sweeps.networks)

    [axes]                                    # dotted card paths or evaluation parameters
    "device.read_noise_scale" = [0.0, 0.5, 1.0, 2.0]
    "adc.bits" = { start = 4, stop = 8, num = 3 }                      # 4, 6, 8
    drift_time_s = { start = 1.0, stop = 86400.0, num = 4, log = true }

    [evaluations.clean_accuracy]              # name = registered evaluation; keys = its parameters
    n_test = 360
    [evaluations.conductance_error]           # an empty table takes the defaults

Axis values are a list or a range ``{start, stop, num, log = false}`` (``num`` values from start
to stop inclusive, evenly spaced, or geometrically with ``log = true``; integer start and stop give
integers, and a range whose values are not whole numbers is then an error). A card axis is
checked value by value with ``hardware_models.cards.with_value`` against the card schema; an
evaluation-parameter axis with the evaluation's validator. Errors name the path, e.g.
``axes["adc.bitz"]: unknown card field "adc.bitz" ($.adc.bitz: no such field; fields here: [...])``.
A substrate given as ``{kind, card}`` runs on its own card (e.g. a spiking card) instead of the
base card; card axes are applied to it where the field exists in that card and ride along
(unapplied) where it does not. Physics-only evaluations always use the base card.

TOML has no null: the string ``"null"`` in a card axis means JSON null (e.g. an ideal
converter, ``"adc.bits" = [4, 6, 8, "null"]``).

:meth:`SweepSpec.to_dict` is the canonical JSON form (ranges expanded, axes sorted by path,
defaults filled in); :func:`spec_from_dict` reads it back to an equal spec, and its hash
identifies the sweep in the database.
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analogeq.sweeps.canonical import config_hash, to_plain
from analogeq.sweeps.evaluations import get_evaluation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: substrate kinds a spec may name before their module exists (their points are then skipped)
KNOWN_SUBSTRATE_KINDS = ("float", "crossbar", "spiking")

_TOP_KEYS = ("name", "description", "card", "network", "axes", "substrates", "evaluations", "seeds", "imports")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Axis:
    """One swept parameter: a dotted card path (``target="card"``) or an evaluation parameter
    (``target="param"``), with its values in order."""

    path: str
    values: tuple[Any, ...]
    target: str

    def to_dict(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True)
class NetworkSpec:
    """Where the trained network comes from: a checkpoint file or a training config."""

    checkpoint: str | None = None
    train: dict[str, Any] | None = None
    #: dataset and split seed of a checkpoint's test set (None: from its metadata, else digits / 0)
    dataset: str | None = None
    data_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.checkpoint is not None:
            out: dict[str, Any] = {"checkpoint": self.checkpoint}
            if self.dataset is not None:
                out["dataset"] = self.dataset
            if self.data_seed is not None:
                out["data_seed"] = self.data_seed
            return out
        return {"train": dict(self.train or {})}


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring). Build with :func:`load_spec` or
    :func:`spec_from_dict`; ``base_dir`` resolves the relative paths in it."""

    name: str
    card: dict[str, str]
    evaluations: dict[str, dict[str, Any]]
    axes: tuple[Axis, ...] = ()
    substrates: tuple[str, ...] = ()
    #: substrate kinds that run on their own card instead of the base card (kind -> card ref)
    substrate_cards: dict[str, dict[str, str]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    network: NetworkSpec | None = None
    description: str = ""
    imports: tuple[str, ...] = ()
    base_dir: str = field(default=".", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready dict (see module docstring)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "card": dict(self.card),
            "axes": {a.path: a.to_dict() for a in self.axes},
            "substrates": [
                {"kind": k, "card": dict(self.substrate_cards[k])} if k in self.substrate_cards else k
                for k in self.substrates
            ],
            "evaluations": {k: dict(v) for k, v in sorted(self.evaluations.items())},
            "seeds": list(self.seeds),
            "imports": list(self.imports),
        }
        if self.network is not None:
            out["network"] = self.network.to_dict()
        return to_plain(out, path="spec")

    def spec_hash(self) -> str:
        return config_hash(self.to_dict())

    @property
    def card_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.target == "card")

    @property
    def param_axes(self) -> tuple[Axis, ...]:
        return tuple(a for a in self.axes if a.target == "param")

    def resolve_path(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(self.base_dir, path))

    def load_base_card(self) -> Any:
        """The base card object (``hardware_models.cards``)."""
        return _load_card(self.card, self.base_dir, where="card")

    def load_substrate_card(self, kind: str) -> Any:
        """The card a substrate kind runs on: its own (``substrates = [{kind, card}]``) or the base card."""
        if kind in self.substrate_cards:
            return _load_card(self.substrate_cards[kind], self.base_dir, where=f"substrates.{kind}.card")
        return self.load_base_card()

    def n_points(self) -> int:
        grid = 1
        for axis in self.axes:
            grid *= len(axis.values)
        per_grid = sum(len(self.substrates) if get_evaluation(e).uses_substrate else 1 for e in self.evaluations)
        return grid * per_grid * len(self.seeds)


# -- loading -------------------------------------------------------------------------------------
def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a TOML sweep spec (relative paths in it are relative to its folder)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    try:
        return spec_from_dict(data, base_dir=os.path.dirname(os.path.abspath(path)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def spec_from_dict(data: dict[str, Any], *, base_dir: str = ".") -> SweepSpec:
    """Validate a spec given as a dict (parsed TOML, or :meth:`SweepSpec.to_dict` output)."""
    if not isinstance(data, dict):
        raise TypeError(f"a sweep spec must be a table (dict), got {type(data).__name__}")
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key of a sweep spec; allowed: {list(_TOP_KEYS)}")

    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name: required, letters, digits and - _ . (starting with a letter or digit), got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"description: must be a string, got {description!r}")

    imports = _string_list(data.get("imports", []), "imports", allow_empty=True)
    for module in imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"imports: cannot import {module!r}: {exc}") from None

    card_ref = _card_ref(data.get("card"))
    base_card = _load_card(card_ref, base_dir, where="card")

    evaluations = _evaluations(data.get("evaluations"))
    uses_substrate = any(get_evaluation(e).uses_substrate for e in evaluations)
    needs_network = [e for e in evaluations if get_evaluation(e).needs_network]

    substrates, substrate_cards = _substrates(data.get("substrates", []), required=uses_substrate)
    own_cards = {
        kind: _load_card(ref, base_dir, where=f"substrates[{list(substrates).index(kind)}].card")
        for kind, ref in substrate_cards.items()
    }
    seeds = _seeds(data.get("seeds", [0]))
    network = _network(data.get("network"), base_dir)
    if needs_network and network is None:
        raise ValueError(f"network: required by evaluation(s) {needs_network}; give [network] checkpoint = ... or [network.train]")

    param_specs: dict[str, Any] = {}
    for e in evaluations:
        for pname, p in get_evaluation(e).all_params().items():
            param_specs.setdefault(pname, p)
    axes = _axes(data.get("axes", {}), base_card, param_specs, own_cards)
    axis_paths = {a.path for a in axes}

    resolved: dict[str, dict[str, Any]] = {}
    for e, given in evaluations.items():
        clash = sorted(set(given) & axis_paths)
        if clash:
            raise ValueError(f"evaluations.{e}.{clash[0]}: also an axis; set it in one place only")
        ev = get_evaluation(e)
        fixed = ev.resolve_params(given, path=f"evaluations.{e}")
        # parameters that are axes are not fixed: keep only the non-axis ones
        resolved[e] = {k: v for k, v in fixed.items() if k not in axis_paths}

    return SweepSpec(
        name=name,
        description=description,
        card=card_ref,
        evaluations=resolved,
        axes=axes,
        substrates=substrates,
        substrate_cards=substrate_cards,
        seeds=seeds,
        network=network,
        imports=tuple(imports),
        base_dir=base_dir,
    )


def _string_list(value: Any, where: str, *, allow_empty: bool) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: must be a list of strings, got {value!r}")
    if not value and not allow_empty:
        raise ValueError(f"{where}: must not be empty")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: has duplicates: {list(value)}")
    return list(value)


def _card_ref(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("card: required, a table with exactly one of preset = \"<name>\" or path = \"<file.json>\"")
    keys = sorted(value)
    if keys not in (["preset"], ["path"]):
        raise ValueError(f"card: give exactly one of 'preset' or 'path', got keys {keys}")
    key = keys[0]
    if not isinstance(value[key], str) or not value[key]:
        raise ValueError(f"card.{key}: must be a non-empty string, got {value[key]!r}")
    return {key: value[key]}


def _load_card(ref: dict[str, str], base_dir: str, *, where: str) -> Any:
    from hardware_models import cards

    try:
        if "preset" in ref:
            return cards.preset(ref["preset"])
        path = ref["path"] if os.path.isabs(ref["path"]) else os.path.join(base_dir, ref["path"])
        return cards.load_card(path)
    except FileNotFoundError as exc:
        raise ValueError(f"{where}.path: {exc}") from None
    except ValueError as exc:  # CardError is a ValueError
        key = "preset" if "preset" in ref else "path"
        raise ValueError(f"{where}.{key}: {exc}") from None


def _evaluations(value: Any) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        value = {name: {} for name in _string_list(value, "evaluations", allow_empty=False)}
    if not isinstance(value, dict) or not value:
        raise ValueError("evaluations: required, a table of [evaluations.<name>] tables (or a list of names)")
    out = {}
    for name, params in value.items():
        try:
            get_evaluation(name)
        except ValueError as exc:
            raise ValueError(f"evaluations.{name}: {exc}") from None
        if not isinstance(params, dict):
            raise ValueError(f"evaluations.{name}: must be a table of parameters, got {params!r}")
        out[name] = dict(params)
    return out


def _substrates(value: Any, *, required: bool) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    """Kinds in order, and the card references of kinds given as ``{kind = ..., card = {...}}``."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"substrates: must be a list of kinds (or {{kind, card}} tables), got {value!r}")
    if not value and required:
        raise ValueError("substrates: must not be empty (an evaluation runs on a substrate)")
    kinds: list[str] = []
    cards: dict[str, dict[str, str]] = {}
    for i, entry in enumerate(value):
        where = f"substrates[{i}]"
        if isinstance(entry, dict):
            if sorted(entry) != ["card", "kind"]:
                raise ValueError(f"{where}: a table needs exactly kind = \"...\" and card = {{preset or path}}, got keys {sorted(entry)}")
            kind = entry["kind"]
            try:
                cards[kind] = _card_ref(entry["card"])
            except ValueError as exc:
                raise ValueError(f"{where}.{exc}") from None
        else:
            kind = entry
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"{where}: must be a substrate kind (string), got {kind!r}")
        if kind in kinds:
            raise ValueError(f"{where}: substrate kind {kind!r} appears twice")
        if kind not in KNOWN_SUBSTRATE_KINDS:
            from analogeq.substrates import substrate_kinds  # torch: only for other kinds

            allowed = sorted(set(KNOWN_SUBSTRATE_KINDS) | set(substrate_kinds()))
            if kind not in allowed:
                raise ValueError(f"{where}: unknown substrate kind {kind!r}; allowed: {allowed}")
        kinds.append(kind)
    return tuple(kinds), cards


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, dict):
        keys = sorted(value)
        if not set(keys) <= {"start", "count"} or "count" not in value:
            raise ValueError(f"seeds: a range is {{start = 0, count = N}}, got keys {keys}")
        start, count = value.get("start", 0), value["count"]
        if not _is_int(start) or start < 0:
            raise ValueError(f"seeds.start: must be an integer >= 0, got {start!r}")
        if not _is_int(count) or count < 1:
            raise ValueError(f"seeds.count: must be an integer >= 1, got {count!r}")
        return tuple(range(int(start), int(start) + int(count)))
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"seeds: must be a non-empty list of integers >= 0 or {{start, count}}, got {value!r}")
    for i, s in enumerate(value):
        if not _is_int(s) or s < 0:
            raise ValueError(f"seeds[{i}]: must be an integer >= 0, got {s!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"seeds: has duplicates: {list(value)}")
    return tuple(int(s) for s in value)


def _network(value: Any, base_dir: str) -> NetworkSpec | None:
    if value is None:
        return None
    keys = sorted(value) if isinstance(value, dict) else None
    ok = keys == ["train"] or (keys is not None and "checkpoint" in keys and set(keys) <= {"checkpoint", "dataset", "data_seed"})
    if not ok:
        raise ValueError(
            "network: give either checkpoint = \"<file>\" (optionally with dataset and data_seed) "
            f"or a [network.train] table, got {keys if keys is not None else value!r}"
        )
    if "checkpoint" in value:
        ckpt = value["checkpoint"]
        if not isinstance(ckpt, str) or not ckpt:
            raise ValueError(f"network.checkpoint: must be a file path, got {ckpt!r}")
        full = ckpt if os.path.isabs(ckpt) else os.path.join(base_dir, ckpt)
        if not os.path.isfile(full):
            raise ValueError(f"network.checkpoint: file {full!r} does not exist")
        dataset = value.get("dataset")
        if dataset is not None and (not isinstance(dataset, str) or not dataset):
            raise ValueError(f"network.dataset: must be a dataset name such as 'digits', got {dataset!r}")
        data_seed = value.get("data_seed")
        if data_seed is not None and (not _is_int(data_seed) or data_seed < 0):
            raise ValueError(f"network.data_seed: must be an integer >= 0, got {data_seed!r}")
        return NetworkSpec(checkpoint=ckpt, dataset=dataset, data_seed=data_seed)
    from analogeq.sweeps.networks import resolve_train_config

    train = value["train"]
    if not isinstance(train, dict):
        raise ValueError(f"network.train: must be a table of training settings, got {train!r}")
    try:
        return NetworkSpec(train=resolve_train_config(train))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"network.train.{exc}") from None


def expand_range(value: dict[str, Any], where: str) -> list[Any]:
    """Values of a range table ``{start, stop, num, log = false}`` (see the module docstring)."""
    keys = set(value)
    if not {"start", "stop", "num"} <= keys or not keys <= {"start", "stop", "num", "log"}:
        raise ValueError(f"{where}: a range is {{start, stop, num, log = false}}, got keys {sorted(keys)}")
    start, stop, num, log = value["start"], value["stop"], value["num"], value.get("log", False)
    for k, v in (("start", start), ("stop", stop)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"{where}.{k}: must be a finite number, got {v!r}")
    if not _is_int(num) or num < 1:
        raise ValueError(f"{where}.num: must be an integer >= 1, got {num!r}")
    if not isinstance(log, bool):
        raise ValueError(f"{where}.log: must be true or false, got {log!r}")
    if num == 1 and start != stop:
        raise ValueError(f"{where}: num = 1 needs start == stop, got start={start!r}, stop={stop!r}")
    if log:
        if start <= 0 or stop <= 0:
            raise ValueError(f"{where}: log = true needs start > 0 and stop > 0, got start={start!r}, stop={stop!r}")
        values = np.geomspace(float(start), float(stop), int(num))
    else:
        values = np.linspace(float(start), float(stop), int(num))
    values[0], values[-1] = float(start), float(stop)  # exact end points
    if _is_int(start) and _is_int(stop):
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


def _axes(value: Any, base_card: Any, param_specs: dict[str, Any], own_cards: dict[str, Any]) -> tuple[Axis, ...]:
    from hardware_models import cards

    if not isinstance(value, dict):
        raise ValueError(f"axes: must be a table of path = values, got {value!r}")
    axes = []
    for path in sorted(value):
        where = f'axes["{path}"]'
        raw = value[path]
        if isinstance(raw, dict):
            values = expand_range(raw, where)
        elif isinstance(raw, list):
            if not raw:
                raise ValueError(f"{where}: needs at least one value")
            values = list(raw)
        else:
            raise ValueError(f"{where}: must be a list of values or a range {{start, stop, num, log}}, got {raw!r}")
        try:
            values = to_plain(values, path=where)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if len({repr(v) for v in values}) != len(values):
            raise ValueError(f"{where}: has duplicate values {values}")
        if path in param_specs:
            check = param_specs[path].check
            values = [check(f"{where}[{i}]", v) for i, v in enumerate(values)]
            axes.append(Axis(path, tuple(values), "param"))
            continue
        values = [None if v == "null" else v for v in values]  # TOML has no null
        for i, v in enumerate(values):
            try:
                cards.with_value(base_card, path, v)
            except ValueError as exc:  # CardError is a ValueError with .json_path
                if "no such field" in str(exc):
                    also = f"; or an evaluation parameter: {sorted(param_specs)}" if param_specs else ""
                    raise ValueError(f'{where}: unknown card field "{path}" ({exc}){also}') from None
                raise ValueError(f"{where}[{i}] = {v!r}: {exc}") from None
            for kind, card in own_cards.items():  # a substrate's own card: only where the field exists
                try:
                    cards.with_value(card, path, v)
                except ValueError as exc:
                    if "no such field" not in str(exc):
                        raise ValueError(f"{where}[{i}] = {v!r} on the card of substrate {kind!r}: {exc}") from None
        axes.append(Axis(path, tuple(values), "card"))
    return tuple(axes)
