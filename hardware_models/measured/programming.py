"""Programming statistics from measured (target, measured) conductance pairs.

CSV format read by :func:`fit_programming_csv` (SI units, one row per programmed cell)::

    # lines starting with '#' are comments
    g_target_S,g_measured_S
    5.0e-6,5.21e-6
    5.0e-6,4.87e-6
    ...

What is fitted
--------------
1. **Levels.** With few distinct targets (each at least twice) every distinct target is a
   level; otherwise the targets are binned into ``n_bins`` equal-width bins. For level k with
   n_k cells, residuals r = g_measured - g_target:

       target_k = mean(g_target),   mean_k = mean(g_measured),   std_k = std(r, ddof=1)
       SE(mean_k) = std_k / sqrt(n_k),   SE(std_k) ~= std_k / sqrt(2 (n_k - 1))   (normal data)

   With distinct targets std(r) is the std of the measured conductances; with bins it removes
   the spread of the targets inside a bin.
2. **Programming-noise polynomial.** sigma(g) / g_max = sum_j c_j x^j, x = g_target / g_max, the
   form of :class:`hardware_models.devices.PCMDevice` ``prog_noise_coeffs``, fitted to the
   level stds by weighted least squares with inverse-variance weights
   w_k = 2 (n_k - 1) / sigma_k^2 (sigma_k: the fitted value, iterated from the sample std), so
   the standard errors are absolute. chi2_reduced near 1 says the polynomial describes the data
   within sampling error.

:class:`ProgrammingFit` holds both, with residuals, R^2 and a readable ``summary()``;
``to_table_device()`` / ``to_pcm_device()`` / ``to_card()`` turn it into a device or a card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardware_models.devices import PCMDevice, TableDevice

from .csvio import check_finite_array, read_measured_csv
from .wls import LinearFit, weighted_least_squares

PROGRAMMING_CSV_COLUMNS = ("g_target_S", "g_measured_S")
MAX_DISTINCT_LEVELS = 64
_WEIGHT_ITERATIONS = 4


@dataclass(frozen=True)
class LevelStatistics:
    """Per-level statistics (arrays of one entry per level, increasing target)."""

    g_target_S: np.ndarray
    g_mean_S: np.ndarray
    g_std_S: np.ndarray
    count: np.ndarray
    g_mean_se_S: np.ndarray
    g_std_se_S: np.ndarray

    def __len__(self) -> int:
        return int(self.count.size)


@dataclass(frozen=True)
class ProgrammingFit:
    """Fitted programming statistics of a device (see the module docstring).

    Attributes
    ----------
    levels: per-level target, mean, std, count and standard errors [S].
    binned: True if levels are bins of targets, False if distinct targets.
    g_max_S: normalisation of the polynomial (x = g / g_max_S) [S].
    sigma_coeffs, sigma_coeffs_se: c_j and their standard errors (fractions of g_max).
    sigma_fit: the weighted least-squares result (residuals of std_k / g_max, R^2, chi2_reduced).
    n_samples: number of (target, measured) pairs.
    source: file name or "<arrays>".
    """

    levels: LevelStatistics
    binned: bool
    g_max_S: float
    sigma_coeffs: tuple[float, ...]
    sigma_coeffs_se: tuple[float, ...]
    sigma_fit: LinearFit
    n_samples: int
    source: str

    @property
    def r_squared(self) -> float:
        """Weighted R^2 of the programming-noise polynomial."""
        return self.sigma_fit.r_squared

    @property
    def residuals_S(self) -> np.ndarray:
        """std_k - sigma(target_k) [S] per level."""
        return self.sigma_fit.residuals * self.g_max_S

    def sigma_S(self, g_S: np.ndarray) -> np.ndarray:
        """Fitted programming std [S] at conductances ``g_S`` (clipped at 0, as the device does)."""
        x = np.asarray(g_S, dtype=np.float64) / self.g_max_S
        return self.g_max_S * np.maximum(np.polynomial.polynomial.polyval(x, np.asarray(self.sigma_coeffs)), 0.0)

    def summary(self) -> str:
        """A human-readable report of the fit."""
        lv = self.levels
        lines = [
            f"Programming statistics from {self.n_samples} cells ({self.source}), "
            f"{len(lv)} {'binned' if self.binned else 'distinct-target'} levels, g_max = {self.g_max_S:.6g} S",
            f"{'target [uS]':>12} {'n':>6} {'mean [uS]':>12} {'+-':>9} {'std [uS]':>10} {'+-':>9} {'fit [uS]':>10}",
        ]
        fitted = self.sigma_S(lv.g_target_S)
        for k in range(len(lv)):
            lines.append(
                f"{lv.g_target_S[k] * 1e6:12.5g} {int(lv.count[k]):6d} {lv.g_mean_S[k] * 1e6:12.5g} "
                f"{lv.g_mean_se_S[k] * 1e6:9.3g} {lv.g_std_S[k] * 1e6:10.4g} {lv.g_std_se_S[k] * 1e6:9.3g} "
                f"{fitted[k] * 1e6:10.4g}"
            )
        terms = " + ".join(f"({c:.6g} +- {s:.2g}) x^{j}" for j, (c, s) in enumerate(zip(self.sigma_coeffs, self.sigma_coeffs_se)))
        lines.append(f"sigma(g) / g_max = {terms},  x = g / g_max")
        lines.append(
            f"weighted R^2 = {self.r_squared:.4f}, chi2/dof = {self.sigma_fit.chi2_reduced:.3f} "
            f"(dof {self.sigma_fit.dof}; about 1 if the polynomial fits within sampling error)"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (SI units)."""
        lv = self.levels
        return {
            "kind": "programming",
            "source": self.source,
            "n_samples": self.n_samples,
            "binned": self.binned,
            "g_max_S": self.g_max_S,
            "levels": {
                "g_target_S": lv.g_target_S.tolist(),
                "g_mean_S": lv.g_mean_S.tolist(),
                "g_mean_se_S": lv.g_mean_se_S.tolist(),
                "g_std_S": lv.g_std_S.tolist(),
                "g_std_se_S": lv.g_std_se_S.tolist(),
                "count": lv.count.tolist(),
            },
            "sigma_polynomial": {
                "coeffs_rel_g_max": list(self.sigma_coeffs),
                "coeffs_se": list(self.sigma_coeffs_se),
                "residuals_S": self.residuals_S.tolist(),
                "r_squared": self.r_squared,
                "chi2_reduced": self.sigma_fit.chi2_reduced,
            },
        }

    def to_table_device(self, g_min_S: float | None = None, g_max_S: float | None = None) -> TableDevice:
        """A :class:`TableDevice` with one level per fitted level (measured means and stds).
        ``g_min_S``/``g_max_S`` default to the lowest/highest level mean."""
        means = self.levels.g_mean_S
        if np.any(np.diff(means) <= 0):
            raise ValueError(
                f"{self.source}: the measured level means {(means * 1e6).round(4).tolist()} uS are not strictly "
                "increasing (levels closer than their programming error); use fewer levels (n_bins) or the pcm device"
            )
        return TableDevice(
            g_min_S=float(means[0]) if g_min_S is None else g_min_S,
            g_max_S=float(means[-1]) if g_max_S is None else g_max_S,
            level_mean_S=tuple(float(m) for m in means),
            level_std_S=tuple(float(s) for s in self.levels.g_std_S),
        )

    def to_pcm_device(self, **overrides: Any) -> PCMDevice:
        """A :class:`PCMDevice` with the fitted programming polynomial (g_max = the fit's
        g_max_S, g_min 0), drift and read noise off unless given in ``overrides``."""
        params: dict[str, Any] = dict(
            g_min_S=0.0, g_max_S=self.g_max_S, prog_noise_coeffs=self.sigma_coeffs, read_noise_scale=0.0, drift_scale=0.0
        )
        params.update(overrides)
        return PCMDevice(**params)

    def to_card(self, *, kind: str = "table", base: Any = None, name: str | None = None) -> Any:
        """A crossbar card whose device is this fit (``kind`` "table" or "pcm"); every other
        section comes from ``base`` (default: the ``ideal`` preset: converters and wires that do
        not mask the device)."""
        from hardware_models.cards import card_from_dict, preset

        if kind == "table":
            device = self.to_table_device()
        elif kind == "pcm":
            device = self.to_pcm_device()
        else:
            raise ValueError(f"kind: {kind!r}; allowed: 'table', 'pcm'")
        data = (preset("ideal") if base is None else base).to_dict()
        base_name = data["name"]
        data["device"] = device.to_dict()
        data["levels"] = {"n_levels": None}
        data["update"] = None
        data["name"] = name or f"measured-{kind}"
        data["description"] = (
            f"Device fitted from measured programming data {self.source} ({self.n_samples} cells, "
            f"{len(self.levels)} levels); other sections from card {base_name!r}."
        )
        data["references"] = [f"analogeq measured-data import of {self.source}"]
        return card_from_dict(data)


def _levels(target: np.ndarray, measured: np.ndarray, levels: str | int, n_bins: int, source: str) -> tuple[LevelStatistics, bool]:
    distinct, counts = np.unique(target, return_counts=True)
    if levels == "auto":
        use_distinct = distinct.size <= MAX_DISTINCT_LEVELS and counts.min() >= 2
    elif levels == "distinct":
        if counts.min() < 2:
            raise ValueError(f"{source}: target {distinct[counts.argmin()]!r} S occurs once; a level needs >= 2 cells")
        use_distinct = True
    elif levels == "bins":
        use_distinct = False
    else:
        raise ValueError(f"levels: {levels!r}; allowed: 'auto', 'distinct', 'bins'")
    if use_distinct:
        index = np.searchsorted(distinct, target)
        n_levels = distinct.size
    else:
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
            raise ValueError(f"n_bins: {n_bins!r} must be an integer >= 1")
        lo, hi = float(target.min()), float(target.max())
        if hi == lo:
            index = np.zeros(target.size, dtype=np.int64)
            n_levels = 1
        else:
            index = np.minimum(((target - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)
            n_levels = n_bins
    stats = {k: [] for k in ("t", "m", "s", "n")}
    for k in range(n_levels):
        sel = index == k
        n = int(sel.sum())
        if n == 0:
            continue
        if n < 2:
            raise ValueError(f"{source}: a level (bin {k}) holds only {n} cell; use fewer bins (n_bins) or more data")
        stats["t"].append(target[sel].mean())
        stats["m"].append(measured[sel].mean())
        stats["s"].append((measured[sel] - target[sel]).std(ddof=1))
        stats["n"].append(n)
    t, m, s, n = (np.asarray(stats[k], dtype=np.float64) for k in ("t", "m", "s", "n"))
    return (
        LevelStatistics(
            g_target_S=t,
            g_mean_S=m,
            g_std_S=s,
            count=n.astype(np.int64),
            g_mean_se_S=s / np.sqrt(n),
            g_std_se_S=s / np.sqrt(2.0 * (n - 1.0)),
        ),
        not use_distinct,
    )


def fit_programming(
    g_target_S: Any,
    g_measured_S: Any,
    *,
    levels: str = "auto",
    n_bins: int = 16,
    degree: int = 2,
    g_max_S: float | None = None,
    source: str = "<arrays>",
) -> ProgrammingFit:
    """Fit programming statistics to (target, measured) pairs [S] (module docstring).

    ``levels``: "auto" (distinct targets if at most 64, each seen twice, else bins), "distinct"
    or "bins"; ``n_bins``: number of equal-width target bins; ``degree``: degree of the
    sigma polynomial (needs at least degree + 2 levels); ``g_max_S``: normalisation of the
    polynomial (default: the largest target).
    """
    target = check_finite_array(g_target_S, "g_target_S")
    measured = check_finite_array(g_measured_S, "g_measured_S")
    if target.size != measured.size:
        raise ValueError(f"g_target_S has {target.size} values but g_measured_S has {measured.size}")
    if target.size < 2:
        raise ValueError(f"{source}: {target.size} cell(s); need at least 2")
    if np.any(target < 0):
        i = int(np.flatnonzero(target < 0)[0])
        raise ValueError(f"g_target_S[{i}] = {target[i]!r}: target conductances must be >= 0 S")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
        raise ValueError(f"degree: {degree!r} must be an integer >= 0")
    stats, binned = _levels(target, measured, levels, n_bins, source)
    if len(stats) < degree + 2:
        raise ValueError(
            f"{source}: {len(stats)} level(s) cannot fit a degree-{degree} sigma polynomial with standard errors; "
            f"need at least {degree + 2} (lower degree or give more levels)"
        )
    g_max = float(target.max()) if g_max_S is None else float(g_max_S)
    if not np.isfinite(g_max) or g_max <= 0:
        raise ValueError(f"g_max_S: {g_max_S!r} must be > 0")
    x = stats.g_target_S / g_max
    y = stats.g_std_S / g_max
    X = np.vander(x, degree + 1, increasing=True)
    dof_weight = 2.0 * (stats.count - 1.0)
    sigma_guess = np.where(y > 0, y, max(float(y[y > 0].mean()) if np.any(y > 0) else 1.0, 1e-300))
    fit = weighted_least_squares(X, y, dof_weight / sigma_guess**2, absolute_sigma=True)
    for _ in range(_WEIGHT_ITERATIONS):
        fitted = X @ np.asarray(fit.coeffs)
        floor = 1e-3 * max(float(np.abs(fitted).max()), 1e-300)
        fit = weighted_least_squares(X, y, dof_weight / np.maximum(np.abs(fitted), floor) ** 2, absolute_sigma=True)
    return ProgrammingFit(
        levels=stats,
        binned=binned,
        g_max_S=g_max,
        sigma_coeffs=fit.coeffs,
        sigma_coeffs_se=fit.std_errors,
        sigma_fit=fit,
        n_samples=int(target.size),
        source=source,
    )


def fit_programming_csv(path: str | os.PathLike, **options: Any) -> ProgrammingFit:
    """Read a (g_target_S, g_measured_S) CSV file (module docstring) and :func:`fit_programming`."""
    table = read_measured_csv(path, required=PROGRAMMING_CSV_COLUMNS, kind="programming data (target, measured)")
    target = table.numbers["g_target_S"]
    negative = np.flatnonzero(target < 0)
    if negative.size:
        line = int(table.line_numbers[negative[0]])
        raise ValueError(f"{table.source}, line {line}, column 'g_target_S': {target[negative[0]]!r} < 0; conductances are >= 0 S")
    return fit_programming(target, table.numbers["g_measured_S"], source=table.source, **options)
