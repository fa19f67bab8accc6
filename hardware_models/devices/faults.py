"""Stuck-at faults: cells frozen at g_min or g_max, independent of what was programmed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..params import check_float, ParameterError
from ._checks import check_rng
from ._serial import SectionDictMixin
from .base import ProgrammedConductances


@dataclass(frozen=True)
class StuckAtFaults(SectionDictMixin):
    """The ``faults`` section of a card: each cell independently is stuck at g_min with
    probability ``stuck_at_gmin_rate``, stuck at g_max with probability ``stuck_at_gmax_rate``,
    healthy otherwise (rates in [0, 1], sum <= 1).

    Stuck cells ignore programming (their conductance is g_min_S or g_max_S of the device),
    never drift or relax, and do not respond to update pulses; they are still read with the
    device's read noise.
    """

    stuck_at_gmin_rate: float = 0.0
    stuck_at_gmax_rate: float = 0.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        lo = check_float("stuck_at_gmin_rate", self.stuck_at_gmin_rate, minimum=0.0, maximum=1.0, owner=owner)
        hi = check_float("stuck_at_gmax_rate", self.stuck_at_gmax_rate, minimum=0.0, maximum=1.0, owner=owner)
        if lo + hi > 1.0:
            raise ParameterError(
                owner, "stuck_at_gmax_rate", f"stuck_at_gmin_rate + stuck_at_gmax_rate = {lo + hi!r} must be <= 1"
            )
        object.__setattr__(self, "stuck_at_gmin_rate", lo)
        object.__setattr__(self, "stuck_at_gmax_rate", hi)

    @property
    def any(self) -> bool:
        """True where some cells may be stuck (a rate is > 0)."""
        return self.stuck_at_gmin_rate > 0.0 or self.stuck_at_gmax_rate > 0.0

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Masks (stuck_at_gmin, stuck_at_gmax), disjoint, from one uniform draw per cell
        (u < r_min: stuck at g_min; r_min <= u < r_min + r_max: stuck at g_max)."""
        check_rng(rng)
        u = rng.random(shape)
        at_min = u < self.stuck_at_gmin_rate
        at_max = (u >= self.stuck_at_gmin_rate) & (u < self.stuck_at_gmin_rate + self.stuck_at_gmax_rate)
        return at_min, at_max

    def apply(self, programmed: ProgrammedConductances, rng: np.random.Generator) -> ProgrammedConductances:
        """A copy of ``programmed`` with stuck cells set to the device's g_min_S/g_max_S, their
        drift exponent and relaxation amplitude set to 0 and ``stuck`` marking them (``None``
        if no cell is stuck). With both rates 0 nothing is drawn and ``programmed`` is returned."""
        if not self.any:
            return programmed
        at_min, at_max = self.draw(programmed.g_prog_S.shape, rng)
        stuck = at_min | at_max
        if programmed.stuck is not None:
            stuck = stuck | programmed.stuck
        if not stuck.any():
            return programmed
        device = programmed.device
        g = np.array(programmed.g_prog_S, dtype=np.float64)
        g[at_min] = device.g_min_S
        g[at_max] = device.g_max_S
        changes = {"g_prog_S": g, "stuck": stuck}
        for name in ("nu", "relax_S"):
            values = getattr(programmed, name)
            if values is not None:
                values = np.where(stuck, 0.0, values)
                changes[name] = values
        for arr in changes.values():
            arr.setflags(write=False)
        return dataclasses.replace(programmed, **changes)
