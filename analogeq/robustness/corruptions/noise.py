"""Noise corruptions (per pixel, native resolution): gaussian, shot, impulse, speckle.

Each function maps a batch ``x`` (N, C, H, W) in [0, 1] and a severity 1..5 to the corrupted
batch, drawing image ``j``'s noise from ``rngs[j]`` (see ``_common``).
"""

from __future__ import annotations

import numpy as np

from analogeq.robustness.corruptions.constants import constant


def _per_image(rngs: list[np.random.Generator], draw) -> np.ndarray:
    return np.stack([draw(rng) for rng in rngs])


def gaussian_noise(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """x + N(0, sigma^2) per pixel and channel, clipped to [0, 1]; sigma = .04 .. .10."""
    sigma = constant("gaussian_noise_sigma", severity)
    z = _per_image(rngs, lambda r: r.standard_normal(x.shape[1:]))
    return np.clip(x + sigma * z, 0.0, 1.0)


def shot_noise(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Poisson(x * lambda) / lambda per pixel (photon counting), lambda = 500 .. 50 photons."""
    photons = constant("shot_noise_photons", severity)
    counts = np.stack([rng.poisson(xi * photons) for rng, xi in zip(rngs, x)])
    return np.clip(counts / photons, 0.0, 1.0)


def impulse_noise(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Salt and pepper: each pixel and channel is replaced with probability ``amount``
    (.01 .. .07), by 1 or 0 with equal probability (skimage ``random_noise(mode='s&p')``)."""
    amount = constant("impulse_noise_amount", severity)
    u = _per_image(rngs, lambda r: r.random((2,) + x.shape[1:]))
    replaced = u[:, 0] < amount
    salt = u[:, 1] < 0.5
    out = x.copy()
    out[replaced & salt] = 1.0
    out[replaced & ~salt] = 0.0
    return out


def speckle_noise(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """x + x * N(0, sigma^2) (multiplicative), clipped; sigma = .06 .. .20."""
    sigma = constant("speckle_noise_sigma", severity)
    z = _per_image(rngs, lambda r: r.standard_normal(x.shape[1:]))
    return np.clip(x + x * sigma * z, 0.0, 1.0)
