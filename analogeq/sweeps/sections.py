"""The sections of a sweep spec other than its axes, each validated with errors naming its path:
``card`` (and the cards of substrates on their own card), ``evaluations``, ``substrates``,
``seeds`` and ``network``. :mod:`analogeq.sweeps.spec` puts them together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from analogeq.sweeps.evaluations import get_evaluation
from analogeq.sweeps.networks import resolve_train_config
from hardware_models import cards
from hardware_models.errors import short_repr
from hardware_models.params import check_int

__all__ = [
    "KNOWN_SUBSTRATE_KINDS",
    "NetworkSpec",
    "card_ref",
    "load_card",
    "parse_evaluations",
    "parse_network",
    "parse_seeds",
    "parse_substrates",
]

#: substrate kinds a spec may name before their module exists (their points are then skipped)
KNOWN_SUBSTRATE_KINDS = ("float", "crossbar", "spiking")


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


def _string_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: must be a list of strings, got {short_repr(value)}")
    if not value:
        raise ValueError(f"{where}: must not be empty")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: has duplicates: {list(value)}")
    return list(value)


def card_ref(value: Any) -> dict[str, str]:
    """A card reference ``{"preset": name}`` or ``{"path": file}`` (exactly one)."""
    if not isinstance(value, dict):
        raise ValueError("card: required, a table with exactly one of preset = \"<name>\" or path = \"<file.json>\"")
    keys = sorted(value)
    if keys not in (["preset"], ["path"]):
        raise ValueError(f"card: give exactly one of 'preset' or 'path', got keys {keys}")
    key = keys[0]
    if not isinstance(value[key], str) or not value[key]:
        raise ValueError(f"card.{key}: must be a non-empty string, got {short_repr(value[key])}")
    return {key: value[key]}


def load_card(ref: dict[str, str], base_dir: str, *, where: str) -> Any:
    """The card object of a reference (a ``path`` relative to ``base_dir``); errors name ``where``.

    A spec says which of the two it means, so neither is tried as the other (unlike
    ``hardware_models.cards.resolve_card``, whose file-then-preset precedence serves a bare name).
    """
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


def parse_evaluations(value: Any) -> dict[str, dict[str, Any]]:
    """``[evaluations.<name>]`` tables (or a list of names): registered names and their given
    parameters (validated later, against the axes)."""
    if isinstance(value, list):
        value = {name: {} for name in _string_list(value, "evaluations")}
    if not isinstance(value, dict) or not value:
        raise ValueError("evaluations: required, a table of [evaluations.<name>] tables (or a list of names)")
    out = {}
    for name, params in value.items():
        try:
            get_evaluation(name)
        except ValueError as exc:
            raise ValueError(f"evaluations.{name}: {exc}") from None
        if not isinstance(params, dict):
            raise ValueError(f"evaluations.{name}: must be a table of parameters, got {short_repr(params)}")
        out[name] = dict(params)
    return out


def _substrate_kind(kind: Any, where: str, seen: list[str]) -> str:
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{where}: must be a substrate kind (string), got {short_repr(kind)}")
    if kind in seen:
        raise ValueError(f"{where}: substrate kind {short_repr(kind)} appears twice")
    if kind not in KNOWN_SUBSTRATE_KINDS:
        # the substrate registry imports torch (3 s): asked only for kinds beyond the built-in ones
        from analogeq.substrates import substrate_kinds

        allowed = sorted(set(KNOWN_SUBSTRATE_KINDS) | set(substrate_kinds()))
        if kind not in allowed:
            raise ValueError(f"{where}: unknown substrate kind {short_repr(kind)}; allowed: {allowed}")
    return kind


def parse_substrates(value: Any, *, required: bool) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    """Kinds in order, and the card references of kinds given as ``{kind = ..., card = {...}}``."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"substrates: must be a list of kinds (or {{kind, card}} tables), got {short_repr(value)}")
    if not value and required:
        raise ValueError("substrates: must not be empty (an evaluation runs on a substrate)")
    kinds: list[str] = []
    own: dict[str, dict[str, str]] = {}
    for i, entry in enumerate(value):
        where = f"substrates[{i}]"
        if isinstance(entry, dict):
            if sorted(entry) != ["card", "kind"]:
                raise ValueError(f"{where}: a table needs exactly kind = \"...\" and card = {{preset or path}}, "
                                 f"got keys {sorted(entry)}")
            kind = _substrate_kind(entry["kind"], where, kinds)
            try:
                own[kind] = card_ref(entry["card"])
            except ValueError as exc:
                raise ValueError(f"{where}.{exc}") from None
        else:
            kind = _substrate_kind(entry, where, kinds)
        kinds.append(kind)
    return tuple(kinds), own


#: the largest seed: SQLite stores integers as signed 64-bit
MAX_SEED = 2**63 - 1
#: seeds of one spec (each is a full repetition of the grid)
MAX_SEEDS = 10_000


def parse_seeds(value: Any) -> tuple[int, ...]:
    """``seeds = [0, 1, 2]`` or ``seeds = {start = 0, count = N}``: integers in [0, 2^63 - 1]
    (what the database stores), at most :data:`MAX_SEEDS` of them."""
    if isinstance(value, dict):
        keys = sorted(value)
        if not set(keys) <= {"start", "count"} or "count" not in value:
            raise ValueError(f"seeds: a range is {{start = 0, count = N}}, got keys {keys}")
        start = check_int("seeds.start", value.get("start", 0), minimum=0, maximum=MAX_SEED)
        count = check_int("seeds.count", value["count"], minimum=1, maximum=min(MAX_SEEDS, MAX_SEED - start + 1))
        return tuple(range(start, start + count))
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"seeds: must be a non-empty list of integers >= 0 or {{start, count}}, got {short_repr(value)}")
    if len(value) > MAX_SEEDS:
        raise ValueError(f"seeds: {len(value):,} seeds; at most {MAX_SEEDS:,}")
    seeds = tuple(check_int(f"seeds[{i}]", s, minimum=0, maximum=MAX_SEED) for i, s in enumerate(value))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: has duplicates: {short_repr(list(value))}")
    return seeds


def parse_network(value: Any, base_dir: str) -> NetworkSpec | None:
    """``[network]``: a checkpoint file (relative to ``base_dir``) or a ``[network.train]`` table."""
    if value is None:
        return None
    keys = sorted(value) if isinstance(value, dict) else None
    ok = keys == ["train"] or (keys is not None and "checkpoint" in keys and set(keys) <= {"checkpoint", "dataset", "data_seed"})
    if not ok:
        raise ValueError(
            "network: give either checkpoint = \"<file>\" (optionally with dataset and data_seed) "
            f"or a [network.train] table, got {keys if keys is not None else short_repr(value)}"
        )
    if "checkpoint" in value:
        ckpt = value["checkpoint"]
        if not isinstance(ckpt, str) or not ckpt:
            raise ValueError(f"network.checkpoint: must be a file path, got {short_repr(ckpt)}")
        full = ckpt if os.path.isabs(ckpt) else os.path.join(base_dir, ckpt)
        if not os.path.isfile(full):
            raise ValueError(f"network.checkpoint: file {full!r} does not exist")
        dataset = value.get("dataset")
        if dataset is not None and (not isinstance(dataset, str) or not dataset):
            raise ValueError(f"network.dataset: must be a dataset name such as 'digits', got {short_repr(dataset)}")
        data_seed = value.get("data_seed")
        if data_seed is not None:
            data_seed = check_int("network.data_seed", data_seed, minimum=0)
        return NetworkSpec(checkpoint=ckpt, dataset=dataset, data_seed=data_seed)
    train = value["train"]
    if not isinstance(train, dict):
        raise ValueError(f"network.train: must be a table of training settings, got {short_repr(train)}")
    try:
        return NetworkSpec(train=resolve_train_config(train))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"network.train.{exc}") from None
