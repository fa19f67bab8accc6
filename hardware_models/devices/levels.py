"""Finite conductance levels: a device that can only hold n evenly spaced conductances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import check_int
from ._checks import check_conductance_range
from ._serial import SectionDictMixin


def quantise_to_levels(g: np.ndarray, n_levels: int, g_min_S: float, g_max_S: float) -> np.ndarray:
    """Round conductances to the nearest of ``n_levels`` evenly spaced levels in [g_min_S, g_max_S].

    Levels g_k = g_min + k * step, step = (g_max - g_min) / (n_levels - 1), k = 0 .. n_levels-1;
    result g_k* with k* = clip(round((g - g_min) / step), 0, n_levels - 1), so for g inside the
    range |g_k* - g| <= step / 2. Ties round half to even. ``g`` must be finite.
    """
    n = check_int("n_levels", n_levels, minimum=2, integral_float=True, owner="quantise_to_levels")
    g_min, g_max = check_conductance_range("quantise_to_levels", g_min_S, g_max_S)
    g = np.asarray(g, dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError("quantise_to_levels: g contains NaN or infinite values")
    step = (g_max - g_min) / (n - 1)
    k = np.clip(np.rint((g - g_min) / step), 0, n - 1)
    return g_min + k * step


@dataclass(frozen=True)
class ConductanceLevels(SectionDictMixin):
    """The ``levels`` section of a card.

    Attributes
    ----------
    n_levels: None (continuous conductance) or an integer >= 2 (evenly spaced levels between
        the device's g_min_S and g_max_S, see :func:`quantise_to_levels`).
    """

    n_levels: int | None = None

    def __post_init__(self) -> None:
        if self.n_levels is not None:
            object.__setattr__(self, "n_levels", check_int("n_levels", self.n_levels, minimum=2, integral_float=True, owner=type(self).__name__))

    def quantise(self, g: np.ndarray, g_min_S: float, g_max_S: float) -> np.ndarray:
        """``g`` rounded to the levels (a float64 copy of ``g`` when ``n_levels`` is None)."""
        if self.n_levels is None:
            return np.array(g, dtype=np.float64)
        return quantise_to_levels(g, self.n_levels, g_min_S, g_max_S)
