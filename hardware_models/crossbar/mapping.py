"""Weights to differential conductance pairs.

A weight matrix ``W`` (n_out, n_in) is stored in two arrays of cells, ``G+`` and ``G-``, whose
difference carries the weight::

    G+ = g_min_S + (g_max_S - g_min_S) * max(W, 0) / w_max
    G- = g_min_S + (g_max_S - g_min_S) * max(-W, 0) / w_max

so ``W = w_max * (G+ - G-) / (g_max_S - g_min_S)``. ``w_max`` is the weight that maps to the
full conductance span on one side of the pair: given (the card's ``mapping.w_max``) or the
largest ``|W|`` of the matrix (1.0 for an all-zero matrix). A given ``w_max`` smaller than
``max |W|`` is an error, never a silent clip.
"""

from __future__ import annotations

import numpy as np

from ..params import POSITIVE, NoneOr

__all__ = ["check_weights", "resolve_w_max", "differential_targets"]


def check_weights(weights: np.ndarray, field: str = "weights") -> np.ndarray:
    """A finite, real, 2-D float64 copy of ``weights`` (n_out, n_in), or a precise error."""
    if isinstance(weights, (list, tuple)):
        weights = np.asarray(weights)
    if not isinstance(weights, np.ndarray):
        raise TypeError(f"{field} must be a numpy array of shape (n_out, n_in), got {type(weights).__name__}")
    if weights.dtype == np.bool_ or not (
        np.issubdtype(weights.dtype, np.floating) or np.issubdtype(weights.dtype, np.integer)
    ):
        raise TypeError(f"{field} must be a real (float or integer) array, got dtype {weights.dtype}")
    if weights.ndim != 2 or weights.shape[0] < 1 or weights.shape[1] < 1:
        raise ValueError(f"{field} must be 2-D (n_out, n_in) with both sizes >= 1, got shape {weights.shape}")
    w = np.array(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        bad = np.argwhere(~np.isfinite(w))[0]
        raise ValueError(f"{field} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return w


def resolve_w_max(weights: np.ndarray, w_max: float | None, field: str = "mapping.w_max") -> float:
    """``w_max`` checked against the weights, or max |W| (1.0 for all zeros) when None."""
    largest = float(np.max(np.abs(weights)))
    if w_max is None:
        return largest if largest > 0.0 else 1.0
    w_max = NoneOr(POSITIVE)(field, w_max)
    if largest > w_max:
        raise ValueError(
            f"{field} = {w_max!r} is smaller than max |weights| = {largest!r}; weights beyond w_max "
            "cannot be programmed (clip the weights yourself or use w_max = None)"
        )
    return w_max


def differential_targets(
    weights: np.ndarray, g_min_S: float, g_max_S: float, w_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Target conductances ``(G+, G-)`` [S], each shaped like ``weights`` (see module doc)."""
    span = g_max_S - g_min_S
    g_plus = g_min_S + span * (np.maximum(weights, 0.0) / w_max)
    g_minus = g_min_S + span * (np.maximum(-weights, 0.0) / w_max)
    # keep rounding inside the programmable range
    np.clip(g_plus, g_min_S, g_max_S, out=g_plus)
    np.clip(g_minus, g_min_S, g_max_S, out=g_minus)
    return g_plus, g_minus
