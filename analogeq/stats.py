"""Statistics of repeated draws: the one home of confidence intervals in the package."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["mean_ci95"]


def mean_ci95(values: Any) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student t) of a list of draws.

    half-width = t_{0.975, n-1} * s / sqrt(n), s the sample standard deviation (ddof 1).
    With one value the half-width is ``nan`` (no interval can be given from a single draw).
    """
    v = np.asarray(values.tolist() if hasattr(values, "tolist") else values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, half
