"""Shared pieces of the corruptions: random streams, image-size scaling, filters, colour.

Layout everywhere: a batch ``x`` of shape ``(N, C, H, W)``, float64, values in [0, 1],
C = 1 (grayscale) or 3 (RGB).

Random streams
--------------
Image ``j`` of a call with ``seed`` and ``first_index`` draws from its own generator,
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(first_index + j,)))``. So a data set
corrupted in chunks equals the data set corrupted in one call, and the same image gets the
same underlying random numbers at every severity (common random numbers: the differences
between severities come from the severity alone).

Image size
----------
The CIFAR-10-C constants are given for 32 x 32 pixels. Corruptions whose parameters are
lengths in pixels (the five blurs, snow, frost, fog, spatter, elastic) run at a *working
resolution* of at least 32 pixels:

* ``S = min(H, W) >= 32``: they run on the image itself with every length multiplied by
  ``S / 32`` (exactly the CIFAR parameters at 32 x 32).
* ``S < 32``: the image is first enlarged by the integer factor ``k = ceil(32 / S)`` by pixel
  replication, corrupted there with lengths multiplied by ``k S / 32`` (1 for 8 x 8 and
  16 x 16), and reduced back by averaging each k x k block. Replication followed by block
  averaging is the identity, so the result is the CIFAR-scale corruption of the same scene
  seen at the lower resolution. Sub-pixel blurs (gaussian blur sigma 0.4 px at 32 x 32 is
  0.1 px at 8 x 8) then act smoothly and grow with severity, instead of vanishing on a kernel
  sampled at integer offsets.

Per-pixel corruptions (the four noises, brightness, contrast, saturate) and JPEG (defined
on 8 x 8 pixel blocks) run at the native resolution; so does ``pixelate``, whose parameter
is a fraction of the size (see its docstring for images below 32 pixels). Random layers whose
statistics are per CIFAR pixel (spatter's liquid, elastic's displacement field) are drawn at
the CIFAR scale and enlarged on images above 32 pixels (:func:`base_shape`, :func:`enlarge`).

Colour
------
Corruptions that involve colour (brightness and saturate in HSV, the tints of frost and
spatter) treat a grayscale image as the RGB image (g, g, g), corrupt that, and return its
luma 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, the weights of OpenCV's RGB2GRAY that the
CIFAR-10-C generator uses in ``snow``). For a gray pixel this is exact: brightness adds to
the value, desaturation changes nothing.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy import ndimage

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: the image size the CIFAR-10-C constants are given for [pixels]
CIFAR_SIZE_PX = 32


def image_rngs(seed: int, first_index: int, count: int) -> list[np.random.Generator]:
    """One independent generator per image, keyed by (seed, image index)."""
    return [
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(first_index + j,)))
        for j in range(count)
    ]


def working_factors(height: int, width: int) -> tuple[int, float]:
    """``(k, scale)``: enlargement factor for small images and the length scale at the working size."""
    size = min(height, width)
    k = 1 if size >= CIFAR_SIZE_PX else math.ceil(CIFAR_SIZE_PX / size)
    return k, k * size / CIFAR_SIZE_PX


def at_working_resolution(
    x: np.ndarray, corrupt_fn: Callable[[np.ndarray, float], np.ndarray]
) -> np.ndarray:
    """Run ``corrupt_fn(x_working, scale)`` at the working resolution (see module docstring)."""
    k, scale = working_factors(x.shape[-2], x.shape[-1])
    if k == 1:
        return corrupt_fn(x, scale)
    big = np.repeat(np.repeat(x, k, axis=-2), k, axis=-1)
    out = corrupt_fn(big, scale)
    n, c, h, w = x.shape
    return out.reshape(n, c, h, k, w, k).mean(axis=(3, 5))


def gaussian_hw(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter over the last two axes only (sigma in pixels).

    ``mode='nearest'`` and ``truncate=4`` are the defaults of ``skimage.filters.gaussian``,
    which the CIFAR-10-C generator calls.
    """
    if sigma <= 0:
        return x.copy()
    sig = (0.0,) * (x.ndim - 2) + (sigma, sigma)
    return ndimage.gaussian_filter(x, sigma=sig, mode=mode, truncate=truncate)


def luma(rgb: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) -> (N, 1, H, W): 0.299 R + 0.587 G + 0.114 B."""
    return np.tensordot(LUMA_WEIGHTS, rgb, axes=([0], [1]))[:, None]


def via_rgb(x: np.ndarray, rgb_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply a colour corruption; a grayscale batch goes through (g, g, g) and back to luma."""
    if x.shape[1] == 3:
        return rgb_fn(x)
    return luma(rgb_fn(np.repeat(x, 3, axis=1)))


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) RGB in [0, 1] -> HSV with H, S, V in [0, 1] (conventions of skimage.color.rgb2hsv)."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    v = rgb.max(axis=1)
    delta = v - rgb.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(v > 0, delta / np.where(v > 0, v, 1.0), 0.0)
        safe = np.where(delta > 0, delta, 1.0)
        h = np.where(r == v, (g - b) / safe, 0.0)
        h = np.where(g == v, 2.0 + (b - r) / safe, h)
        h = np.where(b == v, 4.0 + (r - g) / safe, h)
    h = (h / 6.0) % 1.0
    h = np.where(delta > 0, h, 0.0)
    return np.stack([h, s, v], axis=1)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    h6 = h * 6.0
    i = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p = v * (1.0 - s)
    q = v * (1.0 - f * s)
    t = v * (1.0 - (1.0 - f) * s)
    choices_r = [v, q, p, p, t, v]
    choices_g = [t, v, v, q, p, p]
    choices_b = [p, p, t, v, v, q]
    r = np.choose(i, choices_r)
    g = np.choose(i, choices_g)
    b = np.choose(i, choices_b)
    return np.stack([r, g, b], axis=1)


def zoom_matrix(size: int, zoom_factor: float) -> np.ndarray:
    """(size, size) matrix of one axis of :func:`clipped_zoom`.

    The centre crop of ch = ceil(size / z) pixels is resampled to round(ch z) pixels by linear
    interpolation with the corners aligned (``scipy.ndimage.zoom(order=1)``: output pixel i reads
    input coordinate i (ch - 1) / (round(ch z) - 1)), and the central ``size`` pixels are kept.
    """
    ch = int(np.ceil(size / zoom_factor))
    top = (size - ch) // 2
    out_len = int(round(ch * zoom_factor))
    trim = (out_len - size) // 2
    step = (ch - 1) / (out_len - 1) if out_len > 1 else 0.0
    coord = (np.arange(trim, trim + size) * step).clip(0, ch - 1)
    lower = np.floor(coord).astype(np.int64)
    upper = np.minimum(lower + 1, ch - 1)
    frac = coord - lower
    m = np.zeros((size, size))
    rows = np.arange(size)
    np.add.at(m, (rows, top + lower), 1.0 - frac)
    np.add.at(m, (rows, top + upper), frac)
    return m


def clipped_zoom(x: np.ndarray, zoom_factor: float) -> np.ndarray:
    """Zoom into the centre of the last two axes by ``zoom_factor`` >= 1, keeping the size.

    As in the CIFAR-10-C generator: the centre crop of size ceil(H / z) is enlarged like
    ``scipy.ndimage.zoom(order=1)`` and trimmed back to H x W (done here with the separable
    matrices of :func:`zoom_matrix`, which give the same numbers faster).
    """
    rows = zoom_matrix(x.shape[-2], zoom_factor)
    cols = zoom_matrix(x.shape[-1], zoom_factor)
    return rows @ x @ cols.T


def motion_blur_image(img: np.ndarray, radius_px: float, sigma_px: float, angle_deg: float) -> np.ndarray:
    """One-sided motion blur of one image (C, H, W), the algorithm of ImageMagick's MotionBlurImage.

    Kernel width ``2 ceil(radius) + 1`` taps with weights exp(-i^2 / (2 sigma^2)),
    i = 0..width-1, normalised; tap i reads the pixel at offset
    (round(i cos(angle)), round(i sin(angle))) (x to the right, y down), with the image edge
    repeated outside.
    """
    width = 2 * int(math.ceil(radius_px)) + 1
    i = np.arange(width, dtype=np.float64)
    weights = np.exp(-(i**2) / (2.0 * sigma_px**2))
    weights /= weights.sum()
    theta = math.radians(angle_deg)
    off_x = np.ceil(i * math.cos(theta) - 0.5).astype(np.int64)
    off_y = np.ceil(i * math.sin(theta) - 0.5).astype(np.int64)
    _, h, w = img.shape
    rows = np.arange(h)
    cols = np.arange(w)
    out = np.zeros_like(img)
    for wt, ox, oy in zip(weights, off_x, off_y):
        rr = np.clip(rows + oy, 0, h - 1)
        cc = np.clip(cols + ox, 0, w - 1)
        out += wt * img[:, rr][:, :, cc]
    return out


def plasma_fractal(mapsize: int, wibble_decay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square height map of side ``mapsize`` (a power of two), normalised to [0, 1].

    The CIFAR-10-C fog texture: the initial wibble is 100 and is divided by ``wibble_decay``
    at every halving of the step; a larger decay gives a smoother map.
    """
    if mapsize < 2 or mapsize & (mapsize - 1):
        raise ValueError(f"mapsize must be a power of two >= 2, got {mapsize}")
    m = np.empty((mapsize, mapsize), dtype=np.float64)
    m[0, 0] = 0.0
    step = mapsize
    wibble = 100.0

    def wibbled_mean(total: np.ndarray) -> np.ndarray:
        return total / 4.0 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        # squares: centre of each square = mean of its 4 corners + wibble
        corners = m[0:mapsize:step, 0:mapsize:step]
        acc = corners + np.roll(corners, shift=-1, axis=0)
        acc = acc + np.roll(acc, shift=-1, axis=1)
        m[half:mapsize:step, half:mapsize:step] = wibbled_mean(acc)
        # diamonds: edge midpoints = mean of the 2 neighbouring corners and 2 centres + wibble
        centres = m[half:mapsize:step, half:mapsize:step]
        corners = m[0:mapsize:step, 0:mapsize:step]
        top = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        m[0:mapsize:step, half:mapsize:step] = wibbled_mean(top)
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        m[half:mapsize:step, 0:mapsize:step] = wibbled_mean(left)
        step //= 2
        wibble /= wibble_decay
    m -= m.min()
    return m / m.max()


def next_power_of_two(n: int) -> int:
    return 1 << max(1, (int(n) - 1).bit_length())


def base_shape(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size of a random layer drawn at the CIFAR pixel scale for a working image of this size."""
    return max(1, int(round(height / scale))), max(1, int(round(width / scale)))


def enlarge(layer: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear enlargement of a 2-D layer to (height, width); the identity if it has that size.

    Random layers whose statistics are defined per CIFAR pixel (spatter's liquid, elastic's
    displacement field) are drawn at :func:`base_shape` and enlarged, so that on a larger
    image they cover the same fraction of the scene instead of averaging out.
    """
    if layer.shape == (height, width):
        return layer
    out = ndimage.zoom(layer, (height / layer.shape[0], width / layer.shape[1]), order=1, mode="nearest")
    return out[:height, :width]
