"""Phase-change memory (PCM): programming noise, power-law drift with a conductance-dependent,
device-to-device random exponent, and 1/f read noise.

The defaults are the statistics of aihwkit's ``PCMLikeNoiseModel`` (Nandakumar et al. 2019;
Joshi et al. 2020, Nature Communications 11, 2473), rewritten in SI units and relative to
g_max (see ``PCMDevice``). ``PCMDevice.crosssim_joshi()`` gives CrossSim's PCM programming-error
fit instead (no drift, no read noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..params import check_float, check_float_tuple, check_range_pair, ParameterError
from ._checks import as_conductance_array, check_rng, check_target_in_range, freeze, validate_device_range
from ._serial import DeviceDictMixin
from .base import ProgrammedConductances

# aihwkit PCMLikeNoiseModel programming-noise polynomial, in uS for a g_max of 25 uS
# (ANCHORS.md, "Analog crossbar simulators"): sigma_uS = sum c_i (g/g_max)^i * g_max_uS / 25.
AIHWKIT_PROG_COEFFS_uS = (0.26348, 1.9650, -1.1731)
# The same polynomial as a fraction of g_max: sigma_S = g_max_S * sum (c_i / 25) x^i.
AIHWKIT_PROG_COEFFS_REL = tuple(c / 25.0 for c in AIHWKIT_PROG_COEFFS_uS)

# CrossSim PCM (Joshi) programming error, G in uS (G <= 25 uS), ANCHORS.md:
# sigma_uS = -0.00178767 G^2 + 0.07585724 G + 0.28638599. With G = 25 uS * x the same curve is
# sigma / 25 uS = 0.28638599/25 + 0.07585724 x - 0.00178767*25 x^2.
CROSSSIM_JOSHI_COEFFS_REL = (0.28638599 / 25.0, 0.07585724, -0.00178767 * 25.0)

# ln(g/g_max) is evaluated with g/g_max floored here; the clamps of nu make the floor immaterial.
_X_FLOOR = 1e-7
# x**q_exponent is floored here to avoid dividing by zero at g = 0; read_noise_q_max caps Q anyway.
_XPOW_FLOOR = 1e-12


@dataclass(frozen=True)
class PCMDevice(DeviceDictMixin):
    """PCM cell with aihwkit-style statistics (SI units, x = g / g_max_S dimensionless).

    Programming (once per draw, cell i, target g_i in [g_min_S, g_max_S])::

        sigma_prog(x)  = programming_noise_scale * g_max_S * max(0, sum_k p_k x^k)        [S]
        g_prog         = max(0, g_i + sigma_prog(x_i) * N(0, 1))                          [S]
        mu_nu(x)       = clip(a_mu * ln(x) + b_mu, *nu_mean_range)                         [-]
        sigma_nu(x)    = clip(a_sd * ln(x) + b_sd, *nu_std_range)                          [-]
        nu_i           = drift_scale * | mu_nu(x_i) + sigma_nu(x_i) * N(0, 1) |            [-]

    with p = ``prog_noise_coeffs`` (fractions of g_max), (a_mu, b_mu) = ``nu_mean_log_coeffs``,
    (a_sd, b_sd) = ``nu_std_log_coeffs``; nu and x are evaluated at the *target* conductance.
    The drift exponent is drawn once per cell (device-to-device spread), as in aihwkit.

    Drift, t [s] after programming::

        g(t) = g_prog * (t / t0_s) ** (-nu)   for t > t0_s,   g(t) = g_prog otherwise.

    1/f read noise of one read at time t of a cell programmed to g_prog, read at mean g(t)::

        Q(x)        = min(read_noise_q0 / x ** read_noise_q_exponent, read_noise_q_max)
        sigma_read  = read_noise_scale * |g(t)| * Q(g_prog / g_max_S) * sqrt(ln((t + t_read_s) / (2 t_read_s)))

    and 0 for t <= t_read_s (where the logarithm is <= 0). This is the one read-noise law of the
    device, evaluated in one place (``read_noise_std(g_t, t, g_ref_S=g_prog)``). Every consumer
    reaches it through ``ProgrammedConductances.read_sigma`` (via ``read_noise_std_programmed``):
    the crossbar reads (:class:`hardware_models.crossbar.CrossbarArray`) and the sweeps'
    evaluations alike. ``read_noise_std(g, t)`` without ``g_ref_S`` is the same law for cells
    read at their programmed conductance (g_prog = g, i.e. before any drift).

    Mapping from aihwkit (which works in uS): its programming coefficients c_k are in uS for a
    g_max of 25 uS, so p_k = c_k / 25 (``AIHWKIT_PROG_COEFFS_REL``); its nu and Q formulas are
    already written in g/g_max and carry over unchanged; t0 = 20 s, t_read = 250 ns, g_max 25 uS;
    Q at |g_prog| as in aihwkit. Time origin: here t counts from programming and drift starts at
    t0 (the form in ANCHORS.md and older aihwkit releases). Recent aihwkit releases count
    ``t_inference`` from the end of programming and evaluate both drift and 1/f noise at
    t = t_inference + t0; pass ``t_s = t_inference + t0_s`` to reproduce them exactly. One
    deliberate difference: aihwkit draws the accumulated 1/f noise once per inference time and
    keeps it for every read; here ``read_sigma`` is the std of each read, which the crossbar tile
    draws independently per read. Conductances are clamped at 0 S after programming noise (as
    aihwkit does); they are not clamped at g_max.

    Attributes
    ----------
    g_min_S, g_max_S: programmable range [S], 0 <= g_min_S < g_max_S (aihwkit: 0, 25 uS).
    prog_noise_coeffs: p_0, p_1, ... of sigma_prog / g_max as a polynomial in x (>= 1 entries).
    nu_mean_log_coeffs, nu_std_log_coeffs: (slope, offset) of mu_nu and sigma_nu in ln(x).
    nu_mean_range, nu_std_range: [low, high] clamps of mu_nu and sigma_nu (>= 0).
    read_noise_q0: Q at x = 1 before the cap (>= 0). read_noise_q_exponent: exponent of x (>= 0).
    read_noise_q_max: cap on Q (>= 0).
    t0_s: drift reference time [s] (> 0). t_read_s: read duration of the 1/f integral [s] (> 0).
    programming_noise_scale, read_noise_scale, drift_scale: multipliers (>= 0; 0 = off).
    """

    kind: ClassVar[str] = "pcm"

    g_min_S: float = 0.0
    g_max_S: float = 25e-6
    prog_noise_coeffs: tuple[float, ...] = AIHWKIT_PROG_COEFFS_REL
    nu_mean_log_coeffs: tuple[float, float] = (-0.0155, 0.0244)
    nu_mean_range: tuple[float, float] = (0.049, 0.1)
    nu_std_log_coeffs: tuple[float, float] = (-0.0125, -0.0059)
    nu_std_range: tuple[float, float] = (0.008, 0.045)
    read_noise_q0: float = 0.0088
    read_noise_q_exponent: float = 0.65
    read_noise_q_max: float = 0.2
    t0_s: float = 20.0
    t_read_s: float = 250e-9
    programming_noise_scale: float = 1.0
    read_noise_scale: float = 1.0
    drift_scale: float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        s = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        validate_device_range(self)
        s("prog_noise_coeffs", check_float_tuple("prog_noise_coeffs", self.prog_noise_coeffs, owner=owner))
        s("nu_mean_log_coeffs", check_float_tuple("nu_mean_log_coeffs", self.nu_mean_log_coeffs, length=2, owner=owner))
        s("nu_std_log_coeffs", check_float_tuple("nu_std_log_coeffs", self.nu_std_log_coeffs, length=2, owner=owner))
        for name in ("nu_mean_range", "nu_std_range"):
            lo, hi = check_range_pair(name, getattr(self, name), owner=owner)
            if lo < 0:
                raise ParameterError(owner, name, f"low end {lo!r} must be >= 0")
            s(name, (lo, hi))
        s("read_noise_q0", check_float("read_noise_q0", self.read_noise_q0, minimum=0.0, owner=owner))
        s("read_noise_q_exponent", check_float("read_noise_q_exponent", self.read_noise_q_exponent, minimum=0.0, owner=owner))
        s("read_noise_q_max", check_float("read_noise_q_max", self.read_noise_q_max, minimum=0.0, owner=owner))
        s("t0_s", check_float("t0_s", self.t0_s, minimum=0.0, exclusive_minimum=True, owner=owner))
        s("t_read_s", check_float("t_read_s", self.t_read_s, minimum=0.0, exclusive_minimum=True, owner=owner))

    @classmethod
    def crosssim_joshi(cls, **overrides) -> "PCMDevice":
        """CrossSim's PCM programming-error fit (Joshi et al. 2020 data), no drift, no read noise.

        sigma_G [uS] = -0.00178767 G^2 + 0.07585724 G + 0.28638599 for G in uS (valid for
        G <= 25 uS), expressed relative to g_max = 25 uS. Exact only for ``g_max_S = 25e-6``;
        with another g_max the curve scales proportionally.
        """
        params = dict(
            g_min_S=0.0,
            g_max_S=25e-6,
            prog_noise_coeffs=CROSSSIM_JOSHI_COEFFS_REL,
            read_noise_scale=0.0,
            drift_scale=0.0,
        )
        params.update(overrides)
        return cls(**params)

    # ---- statistics (deterministic functions of the target conductance) ------------------

    def programming_noise_std(self, g_target: np.ndarray) -> np.ndarray:
        """sigma_prog [S] of cells programmed to ``g_target`` [S] (programming_noise_scale applied)."""
        x = np.asarray(g_target, dtype=np.float64) / self.g_max_S
        poly = np.polynomial.polynomial.polyval(x, np.asarray(self.prog_noise_coeffs))
        return self.programming_noise_scale * self.g_max_S * np.maximum(poly, 0.0)

    def drift_exponent_stats(self, g_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mu_nu, sigma_nu) of the drift exponent before folding and drift_scale."""
        x = np.maximum(np.abs(np.asarray(g_target, dtype=np.float64)) / self.g_max_S, _X_FLOOR)
        ln_x = np.log(x)
        a_mu, b_mu = self.nu_mean_log_coeffs
        a_sd, b_sd = self.nu_std_log_coeffs
        mu = np.clip(a_mu * ln_x + b_mu, *self.nu_mean_range)
        sd = np.clip(a_sd * ln_x + b_sd, *self.nu_std_range)
        return mu, sd

    def read_noise_q(self, g: np.ndarray) -> np.ndarray:
        """Q(g / g_max) of the 1/f read noise (dimensionless, before read_noise_scale)."""
        x = np.abs(np.asarray(g, dtype=np.float64)) / self.g_max_S
        xpow = np.maximum(x**self.read_noise_q_exponent, _XPOW_FLOOR)
        return np.minimum(self.read_noise_q0 / xpow, self.read_noise_q_max)

    def read_noise_time_factor(self, t_s: float) -> float:
        """sqrt(ln((t + t_read) / (2 t_read))), 0 where the logarithm is <= 0 (t <= t_read)."""
        t = check_float("t_s", t_s, minimum=0.0)
        log_term = np.log((t + self.t_read_s) / (2.0 * self.t_read_s))
        return float(np.sqrt(max(log_term, 0.0)))

    # ---- DeviceModel protocol ------------------------------------------------------------

    def program(self, g_target: np.ndarray, rng: np.random.Generator) -> ProgrammedConductances:
        """One programming draw. Random numbers drawn in this order: programming noise (one
        normal per cell), then drift exponents (one normal per cell)."""
        check_rng(rng)
        g = check_target_in_range(g_target, self.g_min_S, self.g_max_S, type(self).__name__)
        sigma = self.programming_noise_std(g)
        g_prog = np.maximum(g + sigma * rng.standard_normal(g.shape), 0.0)
        mu, sd = self.drift_exponent_stats(g)
        nu = self.drift_scale * np.abs(mu + sd * rng.standard_normal(g.shape))
        return ProgrammedConductances(
            g_prog_S=freeze(g_prog), nu=freeze(nu), stuck=None, t0_s=self.t0_s, device=self
        )

    def conductance_at(self, programmed: ProgrammedConductances, t_s: float) -> np.ndarray:
        """g(t) = g_prog (t/t0)^-nu for t > t0, else g_prog [S]. Stuck cells carry nu = 0."""
        t = check_float("t_s", t_s, minimum=0.0)
        if t <= programmed.t0_s or programmed.nu is None:
            return programmed.g_prog_S
        return programmed.g_prog_S * np.power(t / programmed.t0_s, -programmed.nu)

    def read_noise_std(self, g: np.ndarray, t_s: float, g_ref_S: np.ndarray | None = None) -> np.ndarray:
        """sigma_read [S] of one read at time ``t_s`` of cells of mean conductance ``g`` [S],
        with Q evaluated at ``g_ref_S`` (default: at ``g``)."""
        g = as_conductance_array(g)
        g_ref = g if g_ref_S is None else as_conductance_array(g_ref_S, "g_ref_S")
        factor = self.read_noise_time_factor(t_s)
        if factor == 0.0 or self.read_noise_scale == 0.0:
            return np.zeros(np.broadcast_shapes(g.shape, g_ref.shape), dtype=np.float64)
        return self.read_noise_scale * np.abs(g) * self.read_noise_q(g_ref) * factor

    def read_noise_std_programmed(self, programmed: ProgrammedConductances, t_s: float) -> np.ndarray:
        """sigma_read [S] of every cell of ``programmed`` at ``t_s``: |g(t)| Q(g_prog) sqrt(...)."""
        return self.read_noise_std(self.conductance_at(programmed, t_s), t_s, g_ref_S=programmed.g_prog_S)
