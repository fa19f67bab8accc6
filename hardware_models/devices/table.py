"""A device described by measured data: a finite set of conductance levels, each with its
programming spread (and optionally its read-noise std), e.g. from a write-verify experiment.

CSV format read by :meth:`TableDevice.from_csv` (one row per level, any order, SI units)::

    # lines starting with '#' are comments
    g_mean_S,g_std_S,read_std_S
    1.0e-6,0.05e-6,0.01e-6
    5.0e-6,0.20e-6,0.03e-6
    ...

``g_mean_S`` mean conductance of the level [S] (required), ``g_std_S`` its device-to-device
programming std [S] (required), ``read_std_S`` the std of one read of a cell at that level [S]
(optional column; absent means no read noise). No other columns are accepted.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..params import check_float, check_float_tuple, ParameterError
from ._checks import as_conductance_array, check_rng, check_target_in_range, freeze, validate_device_range
from ._serial import DeviceDictMixin
from .base import ProgrammedConductances

CSV_REQUIRED_COLUMNS = ("g_mean_S", "g_std_S")
CSV_OPTIONAL_COLUMNS = ("read_std_S",)


@dataclass(frozen=True)
class TableDevice(DeviceDictMixin):
    """Device with measured levels L_k = (m_k, s_k) (means and programming stds in S).

    Programming a target g picks the nearest level k* = argmin_k |g - m_k| and draws::

        g_prog = max(0, m_k* + programming_noise_scale * s_k* * N(0, 1))     [S]

    No drift (``drift_scale`` has no effect). Read noise of one read of a cell of mean
    conductance g: ``read_noise_scale * interp(g, m, r)`` [S], r = ``read_std_S`` linearly
    interpolated between levels and held constant beyond the end levels (0 if absent).

    Attributes
    ----------
    g_min_S, g_max_S: the range targets may span [S]; every level mean must lie inside it.
    level_mean_S: strictly increasing level means [S] (>= 2 levels).
    level_std_S: programming std of each level [S] (>= 0), same length.
    read_std_S: per-read std of each level [S] (>= 0), same length, or None.
    programming_noise_scale, read_noise_scale, drift_scale: multipliers (>= 0).
    """

    kind: ClassVar[str] = "table"

    g_min_S: float
    g_max_S: float
    level_mean_S: tuple[float, ...]
    level_std_S: tuple[float, ...]
    read_std_S: tuple[float, ...] | None = None
    programming_noise_scale: float = 1.0
    read_noise_scale: float = 1.0
    drift_scale: float = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        s = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        validate_device_range(self)
        g_min, g_max = self.g_min_S, self.g_max_S
        means = check_float_tuple("level_mean_S", self.level_mean_S, min_length=2, owner=owner)
        n = len(means)
        stds = check_float_tuple("level_std_S", self.level_std_S, length=n, owner=owner)
        if any(b <= a for a, b in zip(means, means[1:])):
            raise ParameterError(owner, "level_mean_S", f"{list(means)} must be strictly increasing")
        if means[0] < g_min or means[-1] > g_max:
            raise ParameterError(
                owner,
                "level_mean_S",
                f"levels span [{means[0]!r}, {means[-1]!r}] S, outside [g_min_S, g_max_S] = [{g_min!r}, {g_max!r}]",
            )
        if min(stds) < 0:
            raise ParameterError(owner, "level_std_S", f"{list(stds)} contains a negative std")
        s("level_mean_S", means)
        s("level_std_S", stds)
        if self.read_std_S is not None:
            reads = check_float_tuple("read_std_S", self.read_std_S, length=n, owner=owner)
            if min(reads) < 0:
                raise ParameterError(owner, "read_std_S", f"{list(reads)} contains a negative std")
            s("read_std_S", reads)

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        *,
        g_min_S: float | None = None,
        g_max_S: float | None = None,
        **scales: float,
    ) -> "TableDevice":
        """Read levels from a CSV file (format in the module docstring). ``g_min_S``/``g_max_S``
        default to the lowest/highest level mean; ``scales`` are the noise multipliers."""
        rows: list[dict[str, str]] = []
        with open(path, newline="", encoding="utf-8") as fh:
            lines = [(i + 1, line) for i, line in enumerate(fh) if line.strip() and not line.lstrip().startswith("#")]
        if not lines:
            raise ValueError(f"{path}: no header and no data rows")
        reader = csv.DictReader([line for _, line in lines])
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_REQUIRED_COLUMNS if c not in header]
        unknown = [c for c in header if c not in CSV_REQUIRED_COLUMNS + CSV_OPTIONAL_COLUMNS]
        if missing or unknown:
            raise ValueError(
                f"{path}: header {header} must contain {list(CSV_REQUIRED_COLUMNS)} and optionally "
                f"{list(CSV_OPTIONAL_COLUMNS)}; missing {missing}, unknown {unknown}"
            )
        for (line_no, _), row in zip(lines[1:], reader):
            parsed = {}
            for key, value in row.items():
                if key is None or value is None:
                    raise ValueError(f"{path}, line {line_no}: expected {len(header)} columns")
                try:
                    parsed[key.strip()] = float(value)
                except ValueError:
                    raise ValueError(f"{path}, line {line_no}: {key.strip()}={value!r} is not a number") from None
            rows.append(parsed)
        if len(rows) < 2:
            raise ValueError(f"{path}: {len(rows)} level(s); a table device needs at least 2")
        rows.sort(key=lambda r: r["g_mean_S"])
        means = [r["g_mean_S"] for r in rows]
        kwargs = dict(
            g_min_S=means[0] if g_min_S is None else g_min_S,
            g_max_S=means[-1] if g_max_S is None else g_max_S,
            level_mean_S=means,
            level_std_S=[r["g_std_S"] for r in rows],
            read_std_S=[r["read_std_S"] for r in rows] if "read_std_S" in header else None,
        )
        kwargs.update(scales)
        return cls(**kwargs)

    def nearest_level(self, g: np.ndarray) -> np.ndarray:
        """Index of the level nearest to each conductance (ties go to the higher level)."""
        means = np.asarray(self.level_mean_S)
        midpoints = 0.5 * (means[:-1] + means[1:])
        return np.searchsorted(midpoints, np.asarray(g, dtype=np.float64), side="right")

    def program(self, g_target: np.ndarray, rng: np.random.Generator) -> ProgrammedConductances:
        """Nearest level, then one normal per cell for its spread."""
        check_rng(rng)
        g = check_target_in_range(g_target, self.g_min_S, self.g_max_S, type(self).__name__)
        k = self.nearest_level(g)
        mean = np.asarray(self.level_mean_S)[k]
        std = self.programming_noise_scale * np.asarray(self.level_std_S)[k]
        g_prog = np.maximum(mean + std * rng.standard_normal(g.shape), 0.0)
        return ProgrammedConductances(g_prog_S=freeze(g_prog), nu=None, stuck=None, t0_s=1.0, device=self)

    def conductance_at(self, programmed: ProgrammedConductances, t_s: float) -> np.ndarray:
        """No drift: g(t) = g_prog [S]."""
        check_float("t_s", t_s, minimum=0.0)
        return programmed.g_prog_S

    def read_noise_std(self, g: np.ndarray, t_s: float) -> np.ndarray:
        """Interpolated per-level read std [S] (times read_noise_scale)."""
        check_float("t_s", t_s, minimum=0.0)
        g = as_conductance_array(g)
        if self.read_std_S is None or self.read_noise_scale == 0.0:
            return np.zeros(g.shape, dtype=np.float64)
        return self.read_noise_scale * np.interp(g, self.level_mean_S, self.read_std_S)
