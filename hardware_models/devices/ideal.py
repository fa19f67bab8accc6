"""The ideal device: programs exactly, never drifts, reads without noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..params import check_float
from ._checks import as_conductance_array, check_rng, check_target_in_range, freeze, validate_device_range
from ._serial import DeviceDictMixin
from .base import ProgrammedConductances


@dataclass(frozen=True)
class IdealDevice(DeviceDictMixin):
    """A perfect resistive cell.

    g_prog = g_target, g(t) = g_prog for every t >= 0, sigma_read = 0 (all in siemens).

    Attributes
    ----------
    g_min_S, g_max_S:
        Programmable conductance range [S], 0 <= g_min_S < g_max_S.
    programming_noise_scale, read_noise_scale, drift_scale:
        Present so that every ``device`` section of a card has the same multipliers
        (DESIGN/BRIEF card layout); the ideal device has no statistics to scale, so they have
        no effect. Must be finite and >= 0.
    """

    kind: ClassVar[str] = "ideal"

    g_min_S: float = 0.0
    g_max_S: float = 25e-6
    programming_noise_scale: float = 1.0
    read_noise_scale: float = 1.0
    drift_scale: float = 1.0

    def __post_init__(self) -> None:
        validate_device_range(self)

    def program(self, g_target: np.ndarray, rng: np.random.Generator) -> ProgrammedConductances:
        """g_prog = g_target exactly (``rng`` is validated but not used)."""
        check_rng(rng)
        g = check_target_in_range(g_target, self.g_min_S, self.g_max_S, type(self).__name__)
        return ProgrammedConductances(g_prog_S=freeze(g.copy()), nu=None, stuck=None, t0_s=1.0, device=self)

    def conductance_at(self, programmed: ProgrammedConductances, t_s: float) -> np.ndarray:
        """g(t) = g_prog [S]: no drift."""
        check_float("t_s", t_s, minimum=0.0)
        return programmed.g_prog_S

    def read_noise_std(self, g: np.ndarray, t_s: float) -> np.ndarray:
        """0 S for every cell."""
        check_float("t_s", t_s, minimum=0.0)
        return np.zeros(as_conductance_array(g).shape, dtype=np.float64)
