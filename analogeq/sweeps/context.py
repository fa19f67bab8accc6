"""The context an evaluation sees at one point: its card, parameters, seed, substrate, network.

Evaluations never ask which kind of substrate they hold: they call ``ctx.substrate()`` and use
the :class:`~analogeq.substrates.base.Substrate` protocol. If a point cannot run yet (its
substrate kind is not registered, a module it needs has not landed) the evaluation, or the
context, raises :class:`PointSkipped` with the reason; the point is stored as ``"skipped"`` and
retried by the next run.

Random streams: every stream of a point is ``hardware_models.seeds.derive_seed(seed, name)``.
It depends on the point seed and the stream name only, not on the axis values: points of one
seed share their random draws across the grid (common random numbers, smooth curves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from analogeq.sweeps.evaluations import SUBSTRATE_PARAMS
from hardware_models.seeds import derive_rng, derive_seed

__all__ = ["PointContext", "PointSkipped"]


class PointSkipped(Exception):
    """Raised by an evaluation (or its context) when a point cannot run yet; the message is the
    reason stored with the point."""


@dataclass
class PointContext:
    """Everything an evaluation may use at one point.

    Attributes
    ----------
    card:
        The device card of this point (the base card with the axis values applied), a
        ``hardware_models.cards`` card object.
    params:
        The evaluation's resolved parameters plus every non-card axis value of the point.
    seed:
        The point's seed; use :meth:`rng` or :meth:`stream_seed` for random streams.
    substrate_kind:
        The substrate this point runs on, or None for a physics-only evaluation.
    """

    card: Any
    params: dict[str, Any]
    seed: int
    substrate_kind: str | None = None
    network_loader: Callable[[], Any] | None = None
    _network: Any = None

    def stream_seed(self, stream: str) -> int:
        """The seed of the named random stream of this point (``derive_seed(seed, stream)``)."""
        return derive_seed(self.seed, stream)

    def rng(self, stream: str) -> np.random.Generator:
        """A numpy Generator for the named random stream of this point."""
        return derive_rng(self.seed, stream)

    def network(self) -> Any:
        """The trained network (loaded once per worker from the network cache)."""
        if self.network_loader is None:
            raise PointSkipped("this point has no network (the sweep spec has no [network] section)")
        if self._network is None:
            self._network = self.network_loader()
        return self._network

    def dataset(self) -> Any:
        """The data splits the network was trained on (its test split is what evaluations use)."""
        return self.network().dataset()

    def substrate(self) -> Any:
        """Build this point's substrate from the kind's options object
        (:func:`analogeq.substrates.substrate_options`).

        Options offered: ``card``, ``seed`` (stream "substrate" of the point seed) and the
        substrate parameters (``drift_time_s``); only those the kind has are used, so a
        floating-point substrate simply gets none of them. Its read noise is reseeded with
        stream "reads". A kind that is not registered (not built yet) raises :class:`PointSkipped`."""
        # torch comes with the substrates (3 s to import): only network points pay for it
        from analogeq.substrates import build_substrate, substrate_kinds, substrate_options

        kind = self.substrate_kind
        if kind is None:
            raise TypeError("this evaluation does not run on a substrate (uses_substrate=False)")
        if kind not in substrate_kinds():
            raise PointSkipped(f"substrate kind {kind!r} is not available (registered: {substrate_kinds()})")
        offered = {"card": self.card, "seed": self.stream_seed("substrate")}
        offered.update({k: self.params[k] for k in SUBSTRATE_PARAMS if k in self.params})
        substrate = build_substrate(kind, self.network().model, substrate_options(kind, offered=offered))
        substrate.reseed(self.stream_seed("reads"))
        return substrate
