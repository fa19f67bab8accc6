"""Energy [J] and latency [s] of one settling (one inference of an energy-based network)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .read import ReadCost


@dataclass(frozen=True)
class SettleCost:
    """Cost of ``steps`` settling steps::

        energy  = steps * (reads_per_step * E_read + neuron_updates_per_step * e_neuron_update_J)
        latency = steps * reads_per_step * latency_read

    E_read, latency_read: average energy and latency of one tile read (``ReadCost`` per read).
    The latency assumes the reads of a step run one after the other on one tile (an upper
    bound; tiles working in parallel divide it) and neglects the neuron update time.
    """

    energy_J: float
    latency_s: float
    read_energy_J: float
    neuron_energy_J: float
    n_reads: int
    n_neuron_updates: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def settle_cost(
    card: Any, read: ReadCost, *, reads_per_step: int, steps: int, neuron_updates_per_step: int
) -> SettleCost:
    """Cost of a settling of ``steps`` steps, each doing ``reads_per_step`` tile reads (costed
    by ``read``, per read) and ``neuron_updates_per_step`` neuron updates (``card.cost``)."""
    if not isinstance(read, ReadCost):
        raise TypeError(f"read must be a ReadCost (from tile_read_cost), got {type(read).__name__}")
    reads_per_step = _count("reads_per_step", reads_per_step, 0)
    steps = _count("steps", steps, 0)
    neuron_updates_per_step = _count("neuron_updates_per_step", neuron_updates_per_step, 0)
    n_reads = steps * reads_per_step
    n_updates = steps * neuron_updates_per_step
    read_J = n_reads * read.energy_per_read_J
    neuron_J = n_updates * card.cost.e_neuron_update_J
    return SettleCost(
        energy_J=read_J + neuron_J,
        latency_s=n_reads * read.latency_per_read_s,
        read_energy_J=read_J,
        neuron_energy_J=neuron_J,
        n_reads=n_reads,
        n_neuron_updates=n_updates,
    )
