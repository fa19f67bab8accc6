"""The sweep spec: a TOML file saying what to vary, what to run it on and what to measure.

Format (every key but ``name``, ``card`` and ``evaluations`` is optional)::

    name = "pcm-read-noise-vs-adc"            # letters, digits, - _ .
    description = "clean accuracy of the digits EBM on PCM"
    substrates = ["float", "crossbar"]        # kinds for evaluations that run on a substrate;
                                              # { kind = "spiking", card = { preset = "..." } }
                                              # runs a kind on its own card
    seeds = [0, 1, 2]                         # or { start = 0, count = 5 }

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

A spec names its evaluations; it never names code to import. The names are those of
:func:`analogeq.sweeps.evaluation_names` (built in, or installed plugins: see
:mod:`analogeq.sweeps.evaluations`). The axes are described in :mod:`analogeq.sweeps.axes`, the
other sections in :mod:`analogeq.sweeps.sections`. A substrate given as ``{kind, card}`` runs on
its own card (e.g. a spiking card) instead of the base card; card axes are applied to it where
the field exists in that card and ride along (unapplied) where it does not. Physics-only
evaluations always use the base card.

:meth:`SweepSpec.to_dict` is the canonical JSON form (ranges expanded, axes sorted by path,
defaults filled in); :func:`spec_from_dict` reads it back to an equal spec, and its hash
identifies the sweep in the database.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from analogeq.sweeps import spec_limits as limits
from analogeq.sweeps.axes import Axis, parse_axes
from analogeq.sweeps.canonical import config_hash
from analogeq.sweeps.evaluations import ENTRY_POINT_GROUP, get_evaluation
from analogeq.sweeps.sections import (
    NetworkSpec,
    card_ref,
    load_card,
    parse_evaluations,
    parse_network,
    parse_seeds,
    parse_substrates,
)
from hardware_models.errors import AnalogeqError, one_line, short_repr
from hardware_models.jsonable import to_jsonable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_POINT_LIMIT", "MAX_SPEC_BYTES", "SpecError", "SweepSpec", "load_spec", "spec_from_dict"]

#: a spec with more grid points than this is refused unless the caller raises the limit
#: (``point_limit=``; ``analogeq sweep run --point-limit N``): 10^5 points of the cheapest
#: evaluation already take hours, and a typo in a range's ``num`` should not plan 10^9
DEFAULT_POINT_LIMIT = 100_000
#: a spec file larger than this is refused before it is parsed (specs are a few kB)
MAX_SPEC_BYTES = 1_000_000


class SpecError(AnalogeqError):
    """A sweep spec that is not valid: one line naming the file (``source``, where there is one)
    and the key, e.g. ``spec.toml: axes["adc.bits"][2] = 40: ...``."""

    def __init__(self, message: str, *, source: str | None = None):
        self.source = source
        self.detail = one_line(message)
        super().__init__(one_line(f"{source}: {self.detail}" if source else self.detail))

_TOP_KEYS = ("name", "description", "card", "network", "axes", "substrates", "evaluations", "seeds")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: specs once had ``imports = [...]`` (modules to import), and their canonical dict, hence the
#: spec hash stored in every existing database, carried ``"imports": []``. The hash keeps that
#: entry so a re-run of an old spec is recognised as the same sweep.
_HASHED_AS_BEFORE = {"imports": []}


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
        }
        if self.network is not None:
            out["network"] = self.network.to_dict()
        return to_jsonable(out, nonfinite="error", path="spec")

    def spec_hash(self) -> str:
        return config_hash({**self.to_dict(), **_HASHED_AS_BEFORE})

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
        return load_card(self.card, self.base_dir, where="card")

    def load_substrate_card(self, kind: str) -> Any:
        """The card a substrate kind runs on: its own (``substrates = [{kind, card}]``) or the base card."""
        if kind in self.substrate_cards:
            return load_card(self.substrate_cards[kind], self.base_dir, where=f"substrates.{kind}.card")
        return self.load_base_card()

    def n_points(self) -> int:
        grid = 1
        for axis in self.axes:
            grid *= len(axis.values)
        per_grid = sum(len(self.substrates) if get_evaluation(e).uses_substrate else 1 for e in self.evaluations)
        return grid * per_grid * len(self.seeds)


def load_spec(path: str | os.PathLike, *, point_limit: int | None = DEFAULT_POINT_LIMIT) -> SweepSpec:
    """Read and validate a TOML sweep spec (relative paths in it are relative to its folder).
    Every error is a :class:`SpecError` naming the file and the key; ``point_limit``: see
    :func:`spec_from_dict`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SpecError("is a folder; a sweep spec file (TOML) is needed", source=path)
    size = os.stat(path).st_size  # FileNotFoundError names the file
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"the file is {size:,} bytes; a sweep spec is at most {MAX_SPEC_BYTES:,}", source=path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", source=path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not valid TOML: {exc}", source=path) from None
    except RecursionError:
        raise SpecError("not a sweep spec: TOML nested too deep", source=path) from None
    try:
        return spec_from_dict(data, base_dir=os.path.dirname(os.path.abspath(path)), point_limit=point_limit)
    except SpecError as exc:
        raise SpecError(exc.detail, source=path) from None


def _check_top_level(data: Any) -> None:
    if not isinstance(data, dict):
        raise SpecError(f"a sweep spec must be a table (dict), got {type(data).__name__}")
    if data.get("imports", []) != []:  # "imports": [] is in the canonical dict of an older spec
        raise ValueError(
            f"imports: a spec no longer imports modules, got {short_repr(data['imports'])}; it names registered "
            f"evaluations (analogeq.sweeps.evaluation_names()), and plugins register theirs as entry "
            f"points of group {ENTRY_POINT_GROUP!r}"
        )
    unknown = [k for k in data if k not in _TOP_KEYS and k != "imports"]
    if unknown:
        raise ValueError(f"spec.{str(unknown[0])[:40]}: unknown key of a sweep spec; allowed: {list(_TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name: required, letters, digits and - _ . (starting with a letter or digit), got {short_repr(name)}")
    if not isinstance(data.get("description", ""), str):
        raise ValueError(f"description: must be a string, got {short_repr(data['description'])}")


def spec_from_dict(data: dict[str, Any], *, base_dir: str = ".",
                   point_limit: int | None = DEFAULT_POINT_LIMIT) -> SweepSpec:
    """Validate a spec given as a dict (parsed TOML, or :meth:`SweepSpec.to_dict` output).

    A spec whose grid (axis values x evaluation-substrate pairs x seeds) has more than
    ``point_limit`` points is refused before any axis is expanded point by point (None: no
    limit). Every error is a :class:`SpecError` naming the key (bad values of the older
    ValueError/TypeError kinds raised by the section parsers are re-raised as one)."""
    try:
        limits.check_depth(data)
        return _spec_from_dict(data, base_dir, point_limit)
    except SpecError:
        raise
    except (ValueError, TypeError) as exc:  # ParameterError, CardError and the parsers' messages name the key
        raise SpecError(str(exc)) from None


def _spec_from_dict(data: dict[str, Any], base_dir: str, point_limit: int | None) -> SweepSpec:
    _check_top_level(data)
    base = card_ref(data.get("card"))
    base_card = load_card(base, base_dir, where="card")

    evaluations = parse_evaluations(data.get("evaluations"))
    uses_substrate = any(get_evaluation(e).uses_substrate for e in evaluations)
    needs_network = [e for e in evaluations if get_evaluation(e).needs_network]

    substrates, substrate_cards = parse_substrates(data.get("substrates", []), required=uses_substrate)
    own_cards = {
        kind: load_card(ref, base_dir, where=f"substrates[{substrates.index(kind)}].card")
        for kind, ref in substrate_cards.items()
    }
    seeds = parse_seeds(data.get("seeds", [0]))
    network = parse_network(data.get("network"), base_dir)
    if needs_network and network is None:
        raise ValueError(f"network: required by evaluation(s) {needs_network}; give [network] checkpoint = ... or [network.train]")

    param_specs: dict[str, Any] = {}
    for e in evaluations:
        for pname, p in get_evaluation(e).all_params().items():
            param_specs.setdefault(pname, p)
    per_grid = sum(len(substrates) if get_evaluation(e).uses_substrate else 1 for e in evaluations) * len(seeds)
    limits.check_point_count(data.get("axes", {}), per_grid, point_limit)
    axes = parse_axes(data.get("axes", {}), base_card, param_specs, own_cards)
    axis_paths = {a.path for a in axes}

    resolved: dict[str, dict[str, Any]] = {}
    for e, given in evaluations.items():
        clash = sorted(set(given) & axis_paths)
        if clash:
            raise ValueError(f"evaluations.{e}.{clash[0]}: also an axis; set it in one place only")
        fixed = get_evaluation(e).resolve_params(given, path=f"evaluations.{e}")
        # parameters that are axes are not fixed: keep only the non-axis ones
        resolved[e] = {k: v for k, v in fixed.items() if k not in axis_paths}

    return SweepSpec(
        name=data["name"],
        description=data.get("description", ""),
        card=base,
        evaluations=resolved,
        axes=axes,
        substrates=substrates,
        substrate_cards=substrate_cards,
        seeds=seeds,
        network=network,
        base_dir=base_dir,
    )
