"""Resistive RAM (RRAM): state-dependent programming noise, retention relaxation as a random
walk in log time (optionally with a mean pull toward a centre conductance), and
state-dependent read noise.

Preset numbers (the defaults of :class:`RRAMDevice`) and where they come from:

* Programming noise: W. Wan et al., "A compute-in-memory chip based on resistive random-access
  memory", Nature 608, 504-512 (2022), Extended Data Fig. 3 (conductance spread 1 s after
  write-verify programming versus target). We use the 4th-order polynomial fit of that figure
  published in IBM aihwkit's ``ReRamWan2022NoiseModel`` (coefficients in uS for g_max = 40 uS):
  sigma_1s = 0.348 + 16.030 x - 43.853 x^2 + 45.393 x^3 - 16.815 x^4, x = g / g_max.
* Retention relaxation: the same figure's 1-day spread, in aihwkit's fit
  sigma_1d = 0.701 + 22.086 x - 50.773 x^2 + 47.095 x^3 - 16.458 x^4 (uS). We model relaxation
  as a random walk in log time, Var = sigma_1s^2 + sigma_relax^2 log10(t / 1 s), and fitted
  (least squares on x in [0, 1], done by us) a 4th-order polynomial to
  sigma_relax = sqrt((sigma_1d^2 - sigma_1s^2) / log10(86400)), max fit error 0.005 uS.
  Check: the model then predicts the 2-day spread of aihwkit's 2-day fit of the same figure
  within 8.4% everywhere on [0, 1] (a number the fit did not use).
* Read noise: Wan et al. give no separate read-noise data (aihwkit's documentation suggests
  about 1% short-term read noise on top of its Wan model). We take a relative std of 1% at
  g_max growing as x^-0.5 toward low conductance, capped at 10%. The growth of relative
  fluctuations toward high resistance is reported for HfOx RRAM by Ambrogio et al., "Noise-induced
  resistance broadening in resistive switching memory, Part I", IEEE TED 62(11), 2015; the
  exponent 0.5 and the cap are our illustrative choices, not fitted values.
* g_min_S = 1 uS is an illustrative high-resistance floor (1 MOhm); Wan's fits cover 0..40 uS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..params import check_float, check_float_tuple, ParameterError
from ._checks import as_conductance_array, check_rng, check_target_in_range, freeze, validate_device_range
from ._serial import DeviceDictMixin
from .base import ProgrammedConductances

_WAN_G_MAX_uS = 40.0
# Wan et al. 2022, ED Fig. 3, 1 s, as fitted by aihwkit (uS at g_max 40 uS), ascending powers of x.
WAN2022_PROG_COEFFS_uS = (0.348, 16.030, -43.853, 45.393, -16.815)
# Our fit of sqrt((sigma_1d^2 - sigma_1s^2) / log10(86400 s / 1 s)) (uS per sqrt(decade)).
WAN2022_RELAX_COEFFS_uS = (0.2737, 7.0589, -13.8845, 11.1298, -3.4883)
WAN2022_PROG_COEFFS_REL = tuple(c / _WAN_G_MAX_uS for c in WAN2022_PROG_COEFFS_uS)
WAN2022_RELAX_COEFFS_REL = tuple(c / _WAN_G_MAX_uS for c in WAN2022_RELAX_COEFFS_uS)

_XPOW_FLOOR = 1e-12


@dataclass(frozen=True)
class RRAMDevice(DeviceDictMixin):
    """RRAM cell (SI units; x = g_target / g_max_S).

    Programming (once per draw)::

        sigma_prog(x) = programming_noise_scale * g_max_S * max(0, sum_k p_k x^k)         [S]
        g_prog        = max(0, g_target + sigma_prog(x) * N(0, 1))                        [S]
        a_i           = drift_scale * g_max_S * max(0, sum_k r_k x^k) * N(0, 1)           [S / sqrt(decade)]

    Retention, t [s] after programming, D(t) = log10(t / relax_t0_s) for t > relax_t0_s else 0::

        g(t) = max(0, g_prog + (g_c - g_prog) * min(1, drift_scale * relax_rate_per_decade * D(t))
                      + a_i * sqrt(D(t)))

    so that, with no mean pull, Var[g(t) - g_target] = sigma_prog^2 + sigma_relax(x)^2 D(t):
    the spread grows linearly in log time (a random walk of the filament state in log t). g_c is
    ``relax_center_S`` (None: the middle of [g_min_S, g_max_S]). The amplitude a_i is fixed per
    cell at programming (``ProgrammedConductances.relax_S``), so g(t) is deterministic once
    programmed and the tile can draw independent read noise on top.

    Read noise (per read, no time dependence)::

        sigma_read = read_noise_scale * |g| * min(read_noise_q0 * (g / g_max_S)^(-read_noise_q_exponent),
                                                   read_noise_q_max)

    Attributes
    ----------
    g_min_S, g_max_S: programmable range [S], 0 <= g_min_S < g_max_S.
    prog_noise_coeffs: p_k, sigma_prog / g_max as a polynomial in x.
    relax_noise_coeffs: r_k, sigma_relax / g_max per sqrt(decade) as a polynomial in x.
    relax_t0_s: time [s] at which the programmed spread is measured (Wan et al.: 1 s), > 0.
    relax_rate_per_decade: fraction of the distance to g_c relaxed per decade of time (>= 0;
        0 in the preset: Wan's spreads are centred on the target).
    relax_center_S: g_c [S] within [g_min_S, g_max_S], or None for the middle of the range.
    read_noise_q0, read_noise_q_exponent, read_noise_q_max: relative read noise (>= 0).
    programming_noise_scale, read_noise_scale, drift_scale: multipliers (>= 0; 0 = off);
        drift_scale scales both the mean pull and the random relaxation.
    See the module docstring for the sources of the preset numbers.
    """

    kind: ClassVar[str] = "rram"

    g_min_S: float = 1e-6
    g_max_S: float = 40e-6
    prog_noise_coeffs: tuple[float, ...] = WAN2022_PROG_COEFFS_REL
    relax_noise_coeffs: tuple[float, ...] = WAN2022_RELAX_COEFFS_REL
    relax_t0_s: float = 1.0
    relax_rate_per_decade: float = 0.0
    relax_center_S: float | None = None
    read_noise_q0: float = 0.01
    read_noise_q_exponent: float = 0.5
    read_noise_q_max: float = 0.1
    programming_noise_scale: float = 1.0
    read_noise_scale: float = 1.0
    drift_scale: float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        s = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        validate_device_range(self)
        g_min, g_max = self.g_min_S, self.g_max_S
        s("prog_noise_coeffs", check_float_tuple("prog_noise_coeffs", self.prog_noise_coeffs, owner=owner))
        s("relax_noise_coeffs", check_float_tuple("relax_noise_coeffs", self.relax_noise_coeffs, owner=owner))
        s("relax_t0_s", check_float("relax_t0_s", self.relax_t0_s, minimum=0.0, exclusive_minimum=True, owner=owner))
        s("relax_rate_per_decade", check_float("relax_rate_per_decade", self.relax_rate_per_decade, minimum=0.0, owner=owner))
        if self.relax_center_S is not None:
            c = check_float("relax_center_S", self.relax_center_S, owner=owner)
            if not g_min <= c <= g_max:
                raise ParameterError(
                    owner, "relax_center_S", f"{c!r} is outside [g_min_S, g_max_S] = [{g_min!r}, {g_max!r}]"
                )
            s("relax_center_S", c)
        for name in ("read_noise_q0", "read_noise_q_exponent", "read_noise_q_max"):
            s(name, check_float(name, getattr(self, name), minimum=0.0, owner=owner))

    @property
    def center_S(self) -> float:
        """g_c [S]: ``relax_center_S`` or the middle of the conductance range."""
        if self.relax_center_S is None:
            return 0.5 * (self.g_min_S + self.g_max_S)
        return self.relax_center_S

    def _poly_std(self, g_target: np.ndarray, coeffs: tuple[float, ...]) -> np.ndarray:
        x = np.asarray(g_target, dtype=np.float64) / self.g_max_S
        return self.g_max_S * np.maximum(np.polynomial.polynomial.polyval(x, np.asarray(coeffs)), 0.0)

    def programming_noise_std(self, g_target: np.ndarray) -> np.ndarray:
        """sigma_prog [S] at ``g_target`` [S] (programming_noise_scale applied)."""
        return self.programming_noise_scale * self._poly_std(g_target, self.prog_noise_coeffs)

    def relaxation_std(self, g_target: np.ndarray) -> np.ndarray:
        """sigma_relax [S per sqrt(decade)] at ``g_target`` [S] (drift_scale applied)."""
        return self.drift_scale * self._poly_std(g_target, self.relax_noise_coeffs)

    def decades_since_reference(self, t_s: float) -> float:
        """D(t) = log10(t / relax_t0_s) for t > relax_t0_s, else 0."""
        t = check_float("t_s", t_s, minimum=0.0)
        return float(np.log10(t / self.relax_t0_s)) if t > self.relax_t0_s else 0.0

    def program(self, g_target: np.ndarray, rng: np.random.Generator) -> ProgrammedConductances:
        """One programming draw. Random numbers drawn in this order: programming noise (one
        normal per cell), then relaxation amplitudes (one normal per cell)."""
        check_rng(rng)
        g = check_target_in_range(g_target, self.g_min_S, self.g_max_S, type(self).__name__)
        g_prog = np.maximum(g + self.programming_noise_std(g) * rng.standard_normal(g.shape), 0.0)
        relax = self.relaxation_std(g) * rng.standard_normal(g.shape)
        return ProgrammedConductances(
            g_prog_S=freeze(g_prog),
            nu=None,
            stuck=None,
            t0_s=self.relax_t0_s,
            device=self,
            relax_S=freeze(relax),
        )

    def conductance_at(self, programmed: ProgrammedConductances, t_s: float) -> np.ndarray:
        """g(t) [S] (see class docstring); stuck cells keep their programmed conductance."""
        decades = self.decades_since_reference(t_s)
        g_prog = programmed.g_prog_S
        if decades == 0.0:
            return g_prog
        pull = min(1.0, self.drift_scale * self.relax_rate_per_decade * decades)
        g_t = g_prog + (self.center_S - g_prog) * pull
        if programmed.relax_S is not None:
            g_t = g_t + programmed.relax_S * np.sqrt(decades)
        g_t = np.maximum(g_t, 0.0)
        if programmed.stuck is not None:
            g_t = np.where(programmed.stuck, g_prog, g_t)
        return g_t

    def read_noise_std(self, g: np.ndarray, t_s: float) -> np.ndarray:
        """sigma_read [S] of one read of cells of mean conductance ``g`` [S]."""
        check_float("t_s", t_s, minimum=0.0)
        g = as_conductance_array(g)
        if self.read_noise_scale == 0.0:
            return np.zeros(g.shape, dtype=np.float64)
        x = g / self.g_max_S
        xpow = np.maximum(x**self.read_noise_q_exponent, _XPOW_FLOOR)
        q = np.minimum(self.read_noise_q0 / xpow, self.read_noise_q_max)
        return self.read_noise_scale * g * q
