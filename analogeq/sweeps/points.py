"""The points of a sweep: the cartesian product of its axes x evaluations x substrates x seeds.

A point is a pure function of ``(config, seed)``. Its ``config`` holds everything that decides
its result, as plain JSON:

``card``
    the full device card of the point (the base card with this point's card-axis values), so a
    changed preset file gives new points rather than stale results;
``evaluation`` and ``params``
    the evaluation's name and its resolved parameters plus every non-card axis value;
``substrate``
    the substrate kind, or null for a physics-only evaluation;
``network``
    the identity of the trained network (training-config hash or checkpoint SHA-256), or null.

Its key is ``point_key(config, seed)`` (SHA-256 of the canonical JSON). ``axes`` (the point's axis
values) is bookkeeping for plots and exports and is not part of the key.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from analogeq.sweeps.canonical import point_key
from analogeq.sweeps.evaluations import get_evaluation
from analogeq.sweeps.spec import SweepSpec
from hardware_models import cards
from hardware_models.jsonable import to_jsonable


@dataclass(frozen=True)
class Point:
    key: str
    config: dict[str, Any]
    seed: int
    axes: dict[str, Any]

    @property
    def evaluation(self) -> str:
        return self.config["evaluation"]

    @property
    def substrate(self) -> str | None:
        return self.config["substrate"]


def card_to_dict(card: Any) -> dict[str, Any]:
    """The JSON dict of a card object (``hardware_models.cards``)."""
    if hasattr(card, "to_dict"):
        return to_jsonable(card.to_dict(), nonfinite="error", path="card")
    if isinstance(card, dict):
        return to_jsonable(card, nonfinite="error", path="card")
    raise TypeError(f"cannot turn a {type(card).__name__} into a card dict")


def expand_points(spec: SweepSpec, network_identity: dict[str, Any] | None = None) -> list[Point]:
    """Every point of ``spec`` in a fixed order (axes in path order, evaluations by name,
    substrates and seeds in spec order).

    Two grid points may share a key: a substrate on its own card ignores the card axes its card
    does not have, so its points at different values of such an axis are the same computation.
    The runner runs each key once; the database maps every grid point to the shared result.

    ``network_identity`` goes into the config of network evaluations (see
    :func:`analogeq.sweeps.networks.network_identity`); it is required when the spec has one.
    Combinations of card-axis values that the card schema rejects (e.g. two fault rates summing
    past 1) raise ValueError naming the axes and values.
    """
    needs_network = [e for e in spec.evaluations if get_evaluation(e).needs_network]
    if needs_network and network_identity is None:
        raise ValueError(f"expand_points: evaluations {needs_network} need network_identity")
    card_axes, param_axes = spec.card_axes, spec.param_axes
    # the base card, and the own card of substrates that have one (see SweepSpec.substrate_cards)
    bases: dict[str | None, Any] = {None: spec.load_base_card()}
    bases.update({kind: spec.load_substrate_card(kind) for kind in spec.substrate_cards})

    # cards of every prefix of card-axis values, so that each with_value runs once per prefix
    prefix_cards: dict[tuple, Any] = {(b,): card for b, card in bases.items()}

    def card_for(base: str | None, values: tuple) -> Any:
        key = (base, *values)
        if key not in prefix_cards:
            parent = card_for(base, values[:-1])
            axis = card_axes[len(values) - 1]
            try:
                prefix_cards[key] = cards.with_value(parent, axis.path, values[-1])
            except ValueError as exc:
                if base is not None and "no such field" in str(exc):
                    prefix_cards[key] = parent  # a substrate's own card without this field
                else:
                    combo = ", ".join(f'axes["{a.path}"] = {v!r}' for a, v in zip(card_axes, values))
                    where = f" on the card of substrate {base!r}" if base is not None else ""
                    raise ValueError(f"the combination {combo} is not a valid card{where}: {exc}") from None
        return prefix_cards[key]

    card_dicts: dict[tuple, dict[str, Any]] = {}

    def card_dict_for(base: str | None, values: tuple) -> dict[str, Any]:
        key = (base, *values)
        if key not in card_dicts:
            card_dicts[key] = card_to_dict(card_for(base, values))
        return card_dicts[key]

    points: list[Point] = []
    for card_values in itertools.product(*(a.values for a in card_axes)):
        card_values = tuple(card_values)
        for param_values in itertools.product(*(a.values for a in param_axes)):
            axes = {a.path: v for a, v in zip(card_axes, card_values)}
            axes.update({a.path: v for a, v in zip(param_axes, param_values)})
            axes = dict(sorted(axes.items()))
            param_axis_values = {a.path: v for a, v in zip(param_axes, param_values)}
            for name in sorted(spec.evaluations):
                ev = get_evaluation(name)
                params = {**spec.evaluations[name], **param_axis_values}
                substrates = spec.substrates if ev.uses_substrate else (None,)
                for substrate in substrates:
                    base = substrate if substrate in spec.substrate_cards else None
                    config = {
                        "card": card_dict_for(base, card_values),
                        "evaluation": name,
                        "params": dict(sorted(params.items())),
                        "substrate": substrate,
                        "network": network_identity if ev.needs_network else None,
                    }
                    for seed in spec.seeds:
                        points.append(Point(point_key(config, seed), config, int(seed), axes))
    return points
