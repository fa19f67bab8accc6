"""Pulsed conductance updates for in-situ training: asymmetric, soft-bounded steps with
cycle-to-cycle noise (the ``update`` section of a card)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import check_float
from ._checks import check_conductance_range, check_rng
from ._serial import SectionDictMixin


@dataclass(frozen=True)
class PulsedUpdate(SectionDictMixin):
    """Soft-bounded, asymmetric pulse response of a cell with range [g_min, g_max] (S).

    One potentiating (up) or depressing (down) pulse at conductance g changes it by::

        dg_up(g)   = +dg_min_up_S   * (1 - (g - g_min) / (g_max - g_min)) * max(0, 1 + cycle_noise_rel * N(0,1))
        dg_down(g) = -dg_min_down_S * (1 - (g_max - g) / (g_max - g_min)) * max(0, 1 + cycle_noise_rel * N(0,1))

    so steps shrink linearly to zero at the bound they move toward (soft bounds; the mean
    update of many pulses converges to the bound, never past it). ``dg_min_up_S`` /
    ``dg_min_down_S`` are the step sizes at the opposite bound [S], their ratio the asymmetry;
    the cycle-to-cycle noise draws an independent relative error per pulse and per cell. The
    factor max(0, .) keeps a pulse from moving the wrong way; a noisy step that would cross a
    bound saturates at it (the state cannot leave [g_min, g_max] through pulses), and an up
    (down) pulse never decreases (increases) g. Finite pulses make the update inherently
    quantised in steps of at most dg_min_up_S / dg_min_down_S.

    Attributes
    ----------
    dg_min_up_S: step of one up pulse at g = g_min [S], > 0.
    dg_min_down_S: magnitude of one down pulse at g = g_max [S], > 0.
    cycle_noise_rel: relative std of each step (cycle-to-cycle), >= 0.
    """

    dg_min_up_S: float
    dg_min_down_S: float
    cycle_noise_rel: float = 0.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("dg_min_up_S", "dg_min_down_S"):
            object.__setattr__(
                self, name, check_float(name, getattr(self, name), minimum=0.0, exclusive_minimum=True, owner=owner)
            )
        object.__setattr__(
            self, "cycle_noise_rel", check_float("cycle_noise_rel", self.cycle_noise_rel, minimum=0.0, owner=owner)
        )

    @property
    def asymmetry(self) -> float:
        """dg_min_up_S / dg_min_down_S (1 = symmetric)."""
        return self.dg_min_up_S / self.dg_min_down_S

    def mean_step(self, g: np.ndarray, up: bool, g_min_S: float, g_max_S: float) -> np.ndarray:
        """Noise-free step of one pulse at conductance ``g`` [S] (positive up, negative down)."""
        g_min, g_max = check_conductance_range(type(self).__name__, g_min_S, g_max_S)
        frac = (np.asarray(g, dtype=np.float64) - g_min) / (g_max - g_min)
        if up:
            return self.dg_min_up_S * np.maximum(1.0 - frac, 0.0)
        return -self.dg_min_down_S * np.maximum(frac, 0.0)

    def apply_pulses(
        self,
        g: np.ndarray,
        n_pulses_signed: np.ndarray,
        rng: np.random.Generator,
        *,
        g_min_S: float,
        g_max_S: float,
        stuck: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply ``n_pulses_signed`` pulses to each cell (> 0 up, < 0 down, 0 none), one after
        the other, and return the new conductances [S] (a new float64 array).

        ``g`` [S] finite; ``n_pulses_signed`` integers broadcastable to ``g``'s shape; ``stuck``
        an optional boolean mask of cells that do not respond. Random numbers: pulse k (k = 0,
        1, ...) draws one normal for each cell with |n| > k, in C order.
        """
        check_rng(rng)
        g_min, g_max = check_conductance_range(type(self).__name__, g_min_S, g_max_S)
        g_new = np.array(g, dtype=np.float64)
        if not np.all(np.isfinite(g_new)):
            raise ValueError("apply_pulses: g contains NaN or infinite values")
        n = np.asarray(n_pulses_signed)
        if n.dtype.kind not in "iu":
            if n.dtype.kind == "f" and np.all(np.isfinite(n)) and np.all(n == np.round(n)):
                n = n.astype(np.int64)
            else:
                raise TypeError(f"apply_pulses: n_pulses_signed must hold integers, got dtype {n.dtype}")
        try:
            n = np.broadcast_to(n, g_new.shape).astype(np.int64)
        except ValueError:
            raise ValueError(
                f"apply_pulses: n_pulses_signed of shape {np.shape(n_pulses_signed)} does not broadcast to g's shape {g_new.shape}"
            ) from None
        if stuck is not None:
            stuck = np.asarray(stuck, dtype=bool)
            if stuck.shape != g_new.shape:
                raise ValueError(f"apply_pulses: stuck has shape {stuck.shape}, g has {g_new.shape}")
            n = np.where(stuck, 0, n)
        span = g_max - g_min
        n_abs = np.abs(n)
        for k in range(int(n_abs.max(initial=0))):
            active = np.flatnonzero(n_abs > k)
            noise = np.maximum(1.0 + self.cycle_noise_rel * rng.standard_normal(active.size), 0.0)
            g_a = g_new.flat[active]
            up = n.flat[active] > 0
            frac = (g_a - g_min) / span
            step_up = self.dg_min_up_S * np.maximum(1.0 - frac, 0.0) * noise
            step_down = self.dg_min_down_S * np.maximum(frac, 0.0) * noise
            g_up = np.maximum(g_a, np.minimum(g_a + step_up, g_max))
            g_down = np.minimum(g_a, np.maximum(g_a - step_down, g_min))
            g_new.flat[active] = np.where(up, g_up, g_down)
        return g_new
