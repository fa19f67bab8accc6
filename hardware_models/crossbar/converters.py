"""Data converters of a crossbar read: uniform, symmetric, saturating quantisers.

A signed converter with ``bits`` b has ``2**b - 1`` levels, symmetric around and including 0
(mid-tread)::

    L     = 2**(b - 1) - 1                     levels on each side of 0
    step  = clip / L
    q(a)  = step * rint(min(max(a, -clip), clip) / step)

so ``|q(a) - a| <= step / 2`` for ``|a| <= clip`` and ``q(a) = +-clip`` beyond (saturation).
``rint`` rounds half to even (IEEE default, as numpy, Numba and torch do). This is aihwkit's
convention (its 7-bit DAC has resolution 1/(2**7 - 2) of the full range [-1, 1], its 9-bit ADC
1/(2**9 - 2) = 1/510). A 1-bit signed mid-tread converter would have no level besides 0, so
``bits`` must be None (ideal) or an integer >= 2.

* DAC (input converter): inputs ``x`` in units of the read voltage, clip 1 (``x = +-1`` is
  ``+-v_read_V``); inputs beyond [-1, 1] saturate at the rails, with or without quantisation.
* ADC (output converter): column currents in units of ``v_read_V * (g_max_S - g_min_S)``
  (the current of one fully-on input through one cell of full conductance span), clip
  ``range_units``. An ideal ADC (``bits=None``) neither quantises nor saturates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..params import Integer, NoneOr, check_float

__all__ = ["Quantizer", "levels_per_side", "dac_quantizer", "adc_quantizer", "check_bits"]


#: a converter resolution: None (ideal) or b bits in [2, 32]. A signed mid-tread converter with b
#: bits has 2**b - 1 levels, so b = 1 would have only the level 0.
BITS = NoneOr(Integer(2, 32), "ideal converter")


def check_bits(bits: int | None, field: str) -> int | None:
    """Validate a converter resolution: None (ideal) or an integer in [2, 32] (:data:`BITS`)."""
    return BITS(field, bits)


def levels_per_side(bits: int) -> int:
    """L = 2**(bits - 1) - 1: the number of nonzero levels on each side of 0."""
    return (1 << (int(bits) - 1)) - 1


@dataclass(frozen=True)
class Quantizer:
    """q(a) = step * rint(clip(a, -clip, clip) / step); ``step == 0`` skips the rounding and
    ``clip == inf`` the saturation (an ideal converter is ``Quantizer(0.0, inf)``)."""

    step: float
    clip: float

    def __post_init__(self) -> None:
        step, clip = float(self.step), float(self.clip)
        if not math.isfinite(step) or step < 0.0:
            raise ValueError(f"Quantizer.step must be finite and >= 0 (0 = no rounding), got {self.step!r}")
        if math.isnan(clip) or clip <= 0.0:
            raise ValueError(f"Quantizer.clip must be > 0 (inf = no saturation), got {self.clip!r}")
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "clip", clip)

    @property
    def is_ideal(self) -> bool:
        return self.step == 0.0 and math.isinf(self.clip)

    def scaled(self, factor: float) -> "Quantizer":
        """The same converter seen in units multiplied by ``factor`` > 0:
        ``factor * q(a) == q_scaled(factor * a)`` (up to rounding of the product)."""
        return Quantizer(self.step * factor, self.clip * factor)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """Quantise ``a`` in float64 (the numpy reference of the Numba kernels)."""
        a = np.asarray(a, dtype=np.float64)
        if not math.isinf(self.clip):
            a = np.clip(a, -self.clip, self.clip)
        if self.step > 0.0:
            a = np.rint(a / self.step) * self.step
        return a


def dac_quantizer(bits: int | None, field: str = "dac.bits") -> Quantizer:
    """DAC in input units: clip 1 (the rails +-v_read_V), step 1/L or none for ``bits=None``."""
    bits = check_bits(bits, field)
    if bits is None:
        return Quantizer(0.0, 1.0)
    return Quantizer(1.0 / levels_per_side(bits), 1.0)


def adc_quantizer(bits: int | None, range_units: float, field: str = "adc") -> Quantizer:
    """ADC in units of v_read_V * (g_max_S - g_min_S): clip ``range_units``, step range/L;
    ideal (no rounding, no saturation) for ``bits=None``."""
    bits = check_bits(bits, f"{field}.bits")
    range_units = check_float(f"{field}.range_units", range_units, minimum=0.0, exclusive_minimum=True)
    if bits is None:
        return Quantizer(0.0, math.inf)
    return Quantizer(range_units / levels_per_side(bits), range_units)
