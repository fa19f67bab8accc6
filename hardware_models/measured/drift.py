"""Drift exponents from measured conductance-versus-time data (PCM-style power-law drift).

CSV format read by :func:`fit_drift_csv` (SI units, one row per measurement)::

    # lines starting with '#' are comments
    device_id,t_s,g_S
    cell-0,20,12.1e-6
    cell-0,200,11.3e-6
    ...

``device_id`` is any label; every device needs at least 3 distinct times; ``g_S`` > 0.

What is fitted
--------------
1. **Per device** i, the power law g(t) = g_ref (t / t_ref)^(-nu) as a straight line in log-log
   coordinates by ordinary least squares::

       ln g = ln g_ref - nu ln(t / t_ref)

   giving nu_i, its standard error (from the residual scatter), g_ref_i (the conductance at
   t_ref, default the earliest time in the file) and R^2_i.
2. **Mean and spread versus conductance**, in the form of
   :class:`hardware_models.devices.PCMDevice` (aihwkit's PCM model)::

       mu_nu(x)    = a_mu ln x + b_mu,      sigma_nu(x) = a_sd ln x + b_sd,      x = g_ref / g_max

   Devices are binned by ln x (``n_bins`` equal-width bins; bins with fewer than 3 devices are
   dropped). mu_nu is fitted to the bin means (weights n_b / s_b^2); sigma_nu to the bin stds of
   nu about the fitted mean (the per-device fitting variance subtracted), weights
   2 (n_b - 1) / sigma_nu^2 iterated. Both fits use absolute (inverse-variance) weights, so
   their standard errors are absolute; chi2_reduced about 1 says the linear-in-ln-x form holds.

:class:`DriftFit` carries the per-device results, the bin table, both fits, ``summary()``, and
``pcm_fields()`` / ``apply_to_card()`` to put the fitted statistics on a PCM card (the clamp
ranges are the fitted lines' values at the ends of the measured conductance range).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .csvio import check_finite_array, read_measured_csv
from .wls import LinearFit, weighted_least_squares

logger = logging.getLogger(__name__)

DRIFT_CSV_COLUMNS = ("t_s", "g_S")
DRIFT_CSV_LABEL = "device_id"
MIN_DEVICES_PER_BIN = 3
_WEIGHT_ITERATIONS = 4


@dataclass(frozen=True)
class DeviceDrift:
    """Per-device power-law fits (arrays in the order of ``device_id``)."""

    device_id: tuple[str, ...]
    nu: np.ndarray
    nu_se: np.ndarray
    g_ref_S: np.ndarray
    r_squared: np.ndarray
    n_points: np.ndarray

    def __len__(self) -> int:
        return len(self.device_id)


@dataclass(frozen=True)
class DriftBins:
    """Devices binned by ln(g_ref / g_max): mean ln x, count, mean nu (+- SE), std of nu (+- SE)."""

    ln_x: np.ndarray
    count: np.ndarray
    nu_mean: np.ndarray
    nu_mean_se: np.ndarray
    nu_std: np.ndarray
    nu_std_se: np.ndarray


@dataclass(frozen=True)
class DriftFit:
    """Fitted drift statistics (module docstring). Coefficients are (slope a, offset b) of
    ``a ln x + b``; ``ln_x_range`` is the range of ln(g_ref / g_max) over the devices."""

    devices: DeviceDrift
    bins: DriftBins
    t_ref_s: float
    g_max_S: float
    nu_mean_coeffs: tuple[float, float]
    nu_mean_coeffs_se: tuple[float, float]
    nu_mean_fit: LinearFit
    nu_std_coeffs: tuple[float, float]
    nu_std_coeffs_se: tuple[float, float]
    nu_std_fit: LinearFit
    ln_x_range: tuple[float, float]
    source: str

    def nu_mean(self, g_S: np.ndarray) -> np.ndarray:
        """Fitted mean drift exponent at conductances ``g_S`` (no clamping)."""
        a, b = self.nu_mean_coeffs
        return a * np.log(np.asarray(g_S, dtype=np.float64) / self.g_max_S) + b

    def nu_std(self, g_S: np.ndarray) -> np.ndarray:
        """Fitted std of the drift exponent at ``g_S`` (no clamping)."""
        a, b = self.nu_std_coeffs
        return a * np.log(np.asarray(g_S, dtype=np.float64) / self.g_max_S) + b

    def pcm_fields(self) -> dict[str, Any]:
        """PCMDevice fields holding this fit: ``nu_mean_log_coeffs``, ``nu_mean_range``,
        ``nu_std_log_coeffs``, ``nu_std_range`` (clamps = the lines at the ends of the measured
        range, floored at 0) and ``t0_s`` = t_ref. (PCMDevice evaluates ln x with x = g / its
        own g_max_S; use a card whose g_max_S equals this fit's ``g_max_S``.)"""

        def clamp(coeffs: tuple[float, float]) -> list[float]:
            a, b = coeffs
            ends = sorted(max(0.0, a * u + b) for u in self.ln_x_range)
            return ends

        return {
            "nu_mean_log_coeffs": list(self.nu_mean_coeffs),
            "nu_mean_range": clamp(self.nu_mean_coeffs),
            "nu_std_log_coeffs": list(self.nu_std_coeffs),
            "nu_std_range": clamp(self.nu_std_coeffs),
            "t0_s": self.t_ref_s,
        }

    def apply_to_card(self, card: Any, *, name: str | None = None) -> Any:
        """A copy of a PCM ``card`` with this drift fit (:meth:`pcm_fields`); the card's
        g_max_S must equal the fit's ``g_max_S`` (relative 1e-9) so that x means the same."""
        from hardware_models.cards import card_from_dict

        data = card.to_dict()
        if data["device"]["kind"] != "pcm":
            raise ValueError(f"card {card.name!r} has a {data['device']['kind']!r} device; drift statistics need a pcm device")
        g_max = data["device"]["g_max_S"]
        if abs(g_max - self.g_max_S) > 1e-9 * self.g_max_S:
            raise ValueError(
                f"card {card.name!r} has g_max_S = {g_max!r} but the drift fit is normalised by g_max_S = {self.g_max_S!r}; "
                "refit with g_max_S equal to the card's"
            )
        data["device"].update(self.pcm_fields())
        data["device"]["drift_scale"] = 1.0 if data["device"]["drift_scale"] == 0.0 else data["device"]["drift_scale"]
        if name is not None:
            data["name"] = name
        data["references"] = list(data["references"]) + [f"drift statistics fitted from {self.source}"]
        return card_from_dict(data)

    def summary(self) -> str:
        """A human-readable report of the fit."""
        d = self.devices
        lines = [
            f"Drift of {len(d)} devices ({self.source}), g(t) = g_ref (t / {self.t_ref_s:.6g} s)^-nu, "
            f"x = g_ref / {self.g_max_S:.6g} S",
            f"per device: nu mean {d.nu.mean():.5f}, std {d.nu.std(ddof=1) if len(d) > 1 else 0.0:.5f}, "
            f"median SE {np.median(d.nu_se):.2g}, median R^2 {np.median(d.r_squared):.5f}",
            f"{'ln x':>8} {'n':>5} {'nu mean':>9} {'+-':>8} {'nu std':>9} {'+-':>8}",
        ]
        b = self.bins
        for k in range(b.count.size):
            lines.append(
                f"{b.ln_x[k]:8.3f} {int(b.count[k]):5d} {b.nu_mean[k]:9.5f} {b.nu_mean_se[k]:8.2g} "
                f"{b.nu_std[k]:9.5f} {b.nu_std_se[k]:8.2g}"
            )
        (am, bm), (sam, sbm) = self.nu_mean_coeffs, self.nu_mean_coeffs_se
        (asd, bsd), (sasd, sbsd) = self.nu_std_coeffs, self.nu_std_coeffs_se
        lines.append(
            f"mu_nu    = ({am:.5g} +- {sam:.2g}) ln x + ({bm:.5g} +- {sbm:.2g});  "
            f"R^2 {self.nu_mean_fit.r_squared:.4f}, chi2/dof {self.nu_mean_fit.chi2_reduced:.3f}"
        )
        lines.append(
            f"sigma_nu = ({asd:.5g} +- {sasd:.2g}) ln x + ({bsd:.5g} +- {sbsd:.2g});  "
            f"R^2 {self.nu_std_fit.r_squared:.4f}, chi2/dof {self.nu_std_fit.chi2_reduced:.3f}"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        d, b = self.devices, self.bins
        return {
            "kind": "drift",
            "source": self.source,
            "t_ref_s": self.t_ref_s,
            "g_max_S": self.g_max_S,
            "devices": {
                "device_id": list(d.device_id),
                "nu": d.nu.tolist(),
                "nu_se": d.nu_se.tolist(),
                "g_ref_S": d.g_ref_S.tolist(),
                "r_squared": d.r_squared.tolist(),
                "n_points": d.n_points.tolist(),
            },
            "bins": {k: getattr(b, k).tolist() for k in ("ln_x", "count", "nu_mean", "nu_mean_se", "nu_std", "nu_std_se")},
            "nu_mean": {"coeffs": list(self.nu_mean_coeffs), "coeffs_se": list(self.nu_mean_coeffs_se),
                        "r_squared": self.nu_mean_fit.r_squared, "chi2_reduced": self.nu_mean_fit.chi2_reduced,
                        "residuals": self.nu_mean_fit.residuals.tolist()},
            "nu_std": {"coeffs": list(self.nu_std_coeffs), "coeffs_se": list(self.nu_std_coeffs_se),
                       "r_squared": self.nu_std_fit.r_squared, "chi2_reduced": self.nu_std_fit.chi2_reduced,
                       "residuals": self.nu_std_fit.residuals.tolist()},
            "pcm_fields": self.pcm_fields(),
        }


def fit_drift(
    device_id: Any,
    t_s: Any,
    g_S: Any,
    *,
    t_ref_s: float | None = None,
    g_max_S: float | None = None,
    n_bins: int = 8,
    source: str = "<arrays>",
    line_numbers: np.ndarray | None = None,
) -> DriftFit:
    """Fit drift statistics (module docstring) to measurements (device label, time [s], g [S]).

    ``t_ref_s``: reference time of the power law (default: the earliest time); ``g_max_S``:
    normalisation of x (default: the largest fitted g_ref); ``n_bins``: bins in ln x.
    """
    ids = [str(v) for v in device_id]
    t = check_finite_array(t_s, "t_s")
    g = check_finite_array(g_S, "g_S")
    if not (len(ids) == t.size == g.size):
        raise ValueError(f"device_id, t_s and g_S must have the same length, got {len(ids)}, {t.size}, {g.size}")

    def where(i: int) -> str:
        return f"{source}, line {int(line_numbers[i])}" if line_numbers is not None else f"{source}, row {i}"

    for name, values in (("t_s", t), ("g_S", g)):
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{where(i)}, column {name!r}: {values[i]!r} must be > 0 (the fit is in log-log coordinates)")
    t_ref = float(t.min()) if t_ref_s is None else float(t_ref_s)
    if not np.isfinite(t_ref) or t_ref <= 0:
        raise ValueError(f"t_ref_s: {t_ref_s!r} must be > 0 s")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins: {n_bins!r} must be an integer >= 1")

    order: dict[str, list[int]] = {}
    for i, label in enumerate(ids):
        order.setdefault(label, []).append(i)
    labels = tuple(order)
    nu = np.empty(len(labels))
    nu_se = np.empty(len(labels))
    g_ref = np.empty(len(labels))
    r2 = np.empty(len(labels))
    n_pts = np.empty(len(labels), dtype=np.int64)
    for k, label in enumerate(labels):
        rows = np.asarray(order[label])
        lt = np.log(t[rows] / t_ref)
        if np.unique(lt).size < 3:
            raise ValueError(
                f"{source}: device {label!r} has {np.unique(lt).size} distinct time(s); a drift fit with a standard error needs >= 3"
            )
        fit = weighted_least_squares(np.column_stack([np.ones(rows.size), lt]), np.log(g[rows]))
        g_ref[k] = np.exp(fit.coeffs[0])
        nu[k] = -fit.coeffs[1]
        nu_se[k] = fit.std_errors[1]
        r2[k] = fit.r_squared
        n_pts[k] = rows.size
    devices = DeviceDrift(device_id=labels, nu=nu, nu_se=nu_se, g_ref_S=g_ref, r_squared=r2, n_points=n_pts)

    g_max = float(g_ref.max()) if g_max_S is None else float(g_max_S)
    if not np.isfinite(g_max) or g_max <= 0:
        raise ValueError(f"g_max_S: {g_max_S!r} must be > 0")
    u = np.log(g_ref / g_max)
    lo, hi = float(u.min()), float(u.max())
    if hi == lo:
        raise ValueError(f"{source}: every device has the same conductance; the dependence on conductance cannot be fitted")
    index = np.minimum(((u - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)
    groups = [np.flatnonzero(index == b) for b in range(n_bins)]
    kept = [grp for grp in groups if grp.size >= MIN_DEVICES_PER_BIN]
    dropped = sum(grp.size for grp in groups if 0 < grp.size < MIN_DEVICES_PER_BIN)
    if dropped:
        logger.warning("%s: %d device(s) in bins with fewer than %d devices are left out of the mean/std fit", source, dropped, MIN_DEVICES_PER_BIN)
    if len(kept) < 3:
        raise ValueError(
            f"{source}: {len(kept)} bin(s) with >= {MIN_DEVICES_PER_BIN} devices; fitting the conductance dependence "
            "with standard errors needs >= 3 (more devices or fewer bins)"
        )
    counts = np.array([grp.size for grp in kept], dtype=np.float64)
    u_b = np.array([u[grp].mean() for grp in kept])
    m_b = np.array([nu[grp].mean() for grp in kept])
    X = np.column_stack([u_b, np.ones(u_b.size)])

    # pass 1: unweighted mean line; then bin stds of nu about the line (trend inside a bin removed)
    mean_fit = weighted_least_squares(X, m_b, counts)
    for _ in range(2):
        a, b = mean_fit.coeffs
        resid = nu - (a * u + b)
        var_b = np.array([resid[grp].var(ddof=1) for grp in kept])
        fit_var = np.array([np.mean(nu_se[grp] ** 2) for grp in kept])
        s_b = np.sqrt(np.maximum(var_b - fit_var, 0.0))
        s_total = np.sqrt(np.maximum(var_b, 1e-300))
        mean_fit = weighted_least_squares(X, m_b, counts / s_total**2, absolute_sigma=True)

    dof_w = 2.0 * (counts - 1.0)
    y = s_b
    guess = np.where(y > 0, y, max(float(y[y > 0].mean()) if np.any(y > 0) else 1.0, 1e-300))
    std_fit = weighted_least_squares(X, y, dof_w / guess**2, absolute_sigma=True)
    for _ in range(_WEIGHT_ITERATIONS):
        fitted = np.abs(X @ np.asarray(std_fit.coeffs))
        floor = 1e-3 * max(float(fitted.max()), 1e-300)
        std_fit = weighted_least_squares(X, y, dof_w / np.maximum(fitted, floor) ** 2, absolute_sigma=True)

    bins = DriftBins(
        ln_x=u_b,
        count=counts.astype(np.int64),
        nu_mean=m_b,
        nu_mean_se=s_total / np.sqrt(counts),
        nu_std=s_b,
        nu_std_se=s_b / np.sqrt(dof_w),
    )
    return DriftFit(
        devices=devices,
        bins=bins,
        t_ref_s=t_ref,
        g_max_S=g_max,
        nu_mean_coeffs=(mean_fit.coeffs[0], mean_fit.coeffs[1]),
        nu_mean_coeffs_se=(mean_fit.std_errors[0], mean_fit.std_errors[1]),
        nu_mean_fit=mean_fit,
        nu_std_coeffs=(std_fit.coeffs[0], std_fit.coeffs[1]),
        nu_std_coeffs_se=(std_fit.std_errors[0], std_fit.std_errors[1]),
        nu_std_fit=std_fit,
        ln_x_range=(lo, hi),
        source=source,
    )


def fit_drift_csv(path: str | os.PathLike, **options: Any) -> DriftFit:
    """Read a (device_id, t_s, g_S) CSV file (module docstring) and :func:`fit_drift`."""
    table = read_measured_csv(
        path, required=DRIFT_CSV_COLUMNS, label_columns=(DRIFT_CSV_LABEL,), kind="drift data (device_id, t_s, g_S)"
    )
    return fit_drift(
        table.labels[DRIFT_CSV_LABEL], table.numbers["t_s"], table.numbers["g_S"],
        source=table.source, line_numbers=table.line_numbers, **options,
    )
