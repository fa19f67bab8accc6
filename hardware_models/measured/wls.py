"""Weighted linear least squares with standard errors: the one fitting routine of the
measured-data importers.

For data y_i (i = 1..n), design matrix X (n, p) and weights w_i >= 0, the estimate minimises
chi^2 = sum_i w_i (y_i - X_i b)^2::

    b   = (X^T W X)^-1 X^T W y
    Cov = (X^T W X)^-1                      if the weights are inverse variances (absolute_sigma)
    Cov = (X^T W X)^-1 * chi^2 / (n - p)    otherwise (weights known only up to a factor)
    SE  = sqrt(diag(Cov))
    R^2 = 1 - sum w r^2 / sum w (y - ybar_w)^2,   ybar_w = sum w y / sum w

It is solved through a QR decomposition of sqrt(W) X (no normal equations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearFit:
    """Result of :func:`weighted_least_squares`.

    Attributes
    ----------
    coeffs, std_errors: estimates b and their standard errors (same order as the columns of X).
    covariance: (p, p) covariance of b.
    residuals: y - X b for every point (unweighted).
    weights: the weights used.
    r_squared: weighted coefficient of determination (nan when y is constant).
    chi2_reduced: chi^2 / (n - p) (nan when n == p); about 1 when inverse-variance weights are right.
    """

    coeffs: tuple[float, ...]
    std_errors: tuple[float, ...]
    covariance: np.ndarray
    residuals: np.ndarray
    weights: np.ndarray
    r_squared: float
    chi2_reduced: float

    @property
    def dof(self) -> int:
        """Degrees of freedom n - p."""
        return int(self.residuals.size - len(self.coeffs))


def weighted_least_squares(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *, absolute_sigma: bool = False
) -> LinearFit:
    """Fit y ~ X b with weights (module docstring). Needs n >= p, finite inputs, weights >= 0
    with at least p positive, and X of full column rank; ValueError otherwise."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.size:
        raise ValueError(f"weighted_least_squares: X must be (n, p) and y (n,), got {X.shape} and {y.shape}")
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weighted_least_squares: weights must have shape ({n},), got {w.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y)) and np.all(np.isfinite(w))):
        raise ValueError("weighted_least_squares: X, y and weights must be finite")
    if np.any(w < 0):
        raise ValueError("weighted_least_squares: weights must be >= 0")
    if int(np.count_nonzero(w)) < p:
        raise ValueError(f"weighted_least_squares: {int(np.count_nonzero(w))} point(s) with positive weight for {p} parameter(s)")
    sw = np.sqrt(w)
    q, r = np.linalg.qr(X * sw[:, None])
    diag = np.abs(np.diag(r))
    if diag.size < p or np.any(diag <= 1e-12 * max(diag.max(), 1e-300)):
        raise ValueError("weighted_least_squares: the design matrix is rank deficient (too few distinct points)")
    coeffs = np.linalg.solve(r, q.T @ (y * sw))
    r_inv = np.linalg.inv(r)
    cov = r_inv @ r_inv.T
    residuals = y - X @ coeffs
    chi2 = float(np.sum(w * residuals**2))
    dof = n - p
    chi2_red = chi2 / dof if dof > 0 else float("nan")
    if not absolute_sigma:
        cov = cov * (chi2_red if dof > 0 else float("nan"))
    y_bar = float(np.sum(w * y) / np.sum(w))
    total = float(np.sum(w * (y - y_bar) ** 2))
    r2 = 1.0 - chi2 / total if total > 0 else float("nan")
    return LinearFit(
        coeffs=tuple(float(c) for c in coeffs),
        std_errors=tuple(float(s) for s in np.sqrt(np.clip(np.diag(cov), 0.0, None))),
        covariance=cov,
        residuals=residuals,
        weights=w,
        r_squared=r2,
        chi2_reduced=chi2_red,
    )
