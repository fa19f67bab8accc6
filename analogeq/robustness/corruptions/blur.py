"""Blur corruptions: defocus, glass, motion, zoom, gaussian.

All run at the working resolution (``_common.at_working_resolution``): lengths in pixels are
the CIFAR-10-C constants times ``scale`` (1 at 32 x 32 and for images enlarged from 8 x 8).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from analogeq.robustness.corruptions._common import (
    at_working_resolution,
    clipped_zoom,
    gaussian_hw,
    motion_blur_image,
)
from analogeq.robustness.corruptions.constants import constant


def _gaussian_taps(ksize: int, sigma: float) -> np.ndarray:
    """OpenCV's getGaussianKernel(ksize, sigma) for sigma > 0: sampled and normalised."""
    i = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2.0
    g = np.exp(-(i**2) / (2.0 * sigma**2))
    return g / g.sum()


def disk_kernel(radius_px: float, alias_blur_px: float) -> np.ndarray:
    """Defocus kernel: the pixels with x^2 + y^2 <= r^2, normalised, then smoothed by a small
    Gaussian (3 x 3 taps for r <= 8, else 5 x 5) of std ``alias_blur_px`` against aliasing.

    The CIFAR-10-C generator lays the disk on a 17 x 17 grid; the kernel here is cut to the
    support (disk plus the Gaussian taps), which gives the same weights.
    """
    ksize = 3 if radius_px <= 8 else 5
    half = int(math.ceil(radius_px)) + ksize // 2
    grid = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(grid, grid)
    disk = (xx**2 + yy**2 <= radius_px**2).astype(np.float64)
    disk /= disk.sum()
    taps = _gaussian_taps(ksize, alias_blur_px)
    disk = ndimage.correlate1d(disk, taps, axis=0, mode="constant")
    return ndimage.correlate1d(disk, taps, axis=1, mode="constant")


def defocus_blur(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Correlation with :func:`disk_kernel` (radius .3 .. 1.5 px, alias blur .4 .. .1 px at 32 x 32),
    mirrored borders (OpenCV's BORDER_REFLECT_101)."""
    radius, alias = constant("defocus_blur_radius_alias", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        kernel = disk_kernel(radius * scale, alias * scale)
        return ndimage.correlate(xw, kernel[None, None], mode="mirror")

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


def gaussian_blur(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Gaussian filter of std .4 .. 1.0 px (at 32 x 32), edge pixels repeated."""
    sigma = constant("gaussian_blur_sigma", severity)
    return np.clip(at_working_resolution(x, lambda xw, s: gaussian_hw(xw, sigma * s)), 0.0, 1.0)


def glass_blur(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Gaussian blur, then local pixel displacement, then Gaussian blur again.

    Constants (sigma px, max_delta d px, iterations) from (.05, 1, 1) to (.4, 1, 2). The
    displacement visits the pixels (h, w) from the bottom-right to the top-left, h in
    H-d .. d+1 and w likewise, and sets pixel (h, w) to the pixel at (h + dy, w + dx), with
    dx, dy drawn uniformly from {-d, ..., d - 1} (``randint(-d, d)``: the upper end is
    exclusive in the published generator, and we keep it).

    The published generator means to *swap* the two pixels, but its tuple assignment of two
    numpy views copies the second pixel into the first and leaves the second unchanged; the
    CIFAR-10-C data were made that way and we do the same (a copy, not a swap). With d = 1 every
    read hits a pixel not yet visited, so each pixel takes the value of itself or of its upper,
    left or upper-left neighbour in the blurred image. The loop runs over positions and is
    vectorised over the batch. The generator's 8-bit rounding between the steps is not
    reproduced (difference <= 1/255).
    """
    sigma, max_delta, iterations = constant("glass_blur_sigma_delta_iters", severity)
    n = x.shape[0]

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        s = sigma * scale
        d = max(1, int(round(max_delta * scale)))
        h_size, w_size = xw.shape[-2], xw.shape[-1]
        rows = np.arange(h_size - d, d, -1)
        cols = np.arange(w_size - d, d, -1)
        offsets = np.stack(
            [rng.integers(-d, d, size=(iterations, rows.size, cols.size, 2)) for rng in rngs]
        )  # (N, iterations, rows, cols, (dx, dy))
        out = gaussian_hw(xw, s)
        idx = np.arange(n)
        for it in range(iterations):
            for ri, h in enumerate(rows):
                for ci, w in enumerate(cols):
                    dx = offsets[:, it, ri, ci, 0]
                    dy = offsets[:, it, ri, ci, 1]
                    out[idx, :, h, w] = out[idx, :, h + dy, w + dx]
        return gaussian_hw(out, s)

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


def motion_blur(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """One-sided motion blur (radius 6 .. 9 px, sigma 1 .. 2.5 px at 32 x 32) in a direction
    drawn uniformly in [-45, 45] degrees per image (ImageMagick's algorithm, see
    ``_common.motion_blur_image``)."""
    radius, sigma = constant("motion_blur_radius_sigma", severity)
    angles = [rng.uniform(-45.0, 45.0) for rng in rngs]

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        return np.stack(
            [motion_blur_image(img, radius * scale, sigma * scale, a) for img, a in zip(xw, angles)]
        )

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


def zoom_factors(max_factor: float) -> np.ndarray:
    """1.00, 1.01, ..., max_factor (the generator's ``np.arange(1, max + .01, .01)``)."""
    count = int(round((max_factor - 1.0) / 0.01)) + 1
    return 1.0 + 0.01 * np.arange(count)


def zoom_blur(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Mean of the image and its centre zooms by 1.00, 1.01, ... up to 1.05 .. 1.25.

    Zoom factors have no length unit; small images still go through the working resolution
    so that the centre crops are not rounded to whole pixels of an 8 x 8 image.
    """
    factors = zoom_factors(constant("zoom_blur_max_factor", severity))

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        acc = xw.copy()
        for z in factors:
            acc += clipped_zoom(xw, float(z))
        return acc / (len(factors) + 1)

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)
