"""Digital corruptions: brightness, contrast, saturate, elastic transform, pixelate, JPEG.

Brightness, contrast and saturate are per pixel (native resolution); brightness and saturate
work in HSV and take grayscale images through (g, g, g) and back to luma (``_common.via_rgb``).
Elastic runs at the working resolution; pixelate at the native one (see its docstring). JPEG runs at the native resolution with
Pillow's encoder (the one the published generator used), at the published qualities.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from analogeq.robustness.corruptions._common import (
    at_working_resolution,
    base_shape,
    enlarge,
    gaussian_hw,
    hsv_to_rgb,
    rgb_to_hsv,
    via_rgb,
)
from analogeq.robustness.corruptions.constants import constant


def brightness(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """HSV value V -> clip(V + delta), delta = .05 .. .30 (a gray pixel g becomes clip(g + delta))."""
    delta = constant("brightness_delta_v", severity)

    def rgb_fn(rgb: np.ndarray) -> np.ndarray:
        hsv = rgb_to_hsv(rgb)
        hsv[:, 2] = np.clip(hsv[:, 2] + delta, 0.0, 1.0)
        return hsv_to_rgb(hsv)

    return np.clip(via_rgb(x, rgb_fn), 0.0, 1.0)


def contrast(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """(x - m) c + m with m the mean of each channel of each image; c = .75 .. .15."""
    factor = constant("contrast_factor", severity)
    means = x.mean(axis=(2, 3), keepdims=True)
    return np.clip((x - means) * factor + means, 0.0, 1.0)


def saturate(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """HSV saturation S -> clip(S a + b); (a, b) = (.3, 0), (.1, 0), (1.5, 0), (2, .1), (2.5, .2).

    Severities 1-2 *desaturate* and 3-5 *oversaturate*: the published constants are not
    ordered by the size of the change (severity 3 changes S by 0.5 S, severity 2 by 0.9 S),
    so the deviation from the clean image does not grow from severity 2 to 3.

    Grayscale images (S = 0) are unchanged at severities 1-3; at 4-5 the shift b gives every
    pixel saturation b with hue 0 (red, the HSV convention for gray), whose luma is
    V (1 - 0.701 b): the image darkens by 7% and 14%. This is what the generator does to the
    gray pixels of colour images, seen in one channel.
    """
    scale_s, shift_s = constant("saturate_scale_shift", severity)

    def rgb_fn(rgb: np.ndarray) -> np.ndarray:
        hsv = rgb_to_hsv(rgb)
        hsv[:, 1] = np.clip(hsv[:, 1] * scale_s + shift_s, 0.0, 1.0)
        return hsv_to_rgb(hsv)

    return np.clip(via_rgb(x, rgb_fn), 0.0, 1.0)


def _affine_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2 x 3 matrix M with dst_i = M [src_i, 1] for three point pairs (x, y) (OpenCV's getAffineTransform)."""
    a = np.hstack([src, np.ones((3, 1))])
    return np.linalg.solve(a, dst).T


def elastic_transform(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Random affine warp followed by a smooth random displacement field.

    With S the (working) image size and (alpha, sigma, affine) = S * ``elastic_transform_fractions``:
    three anchor points (centre +- S//3) move by uniform offsets in [-affine, affine]; the
    affine map taking the old to the new points warps the image (bilinear, mirrored borders).
    Then each pixel moves by (dy, dx) = alpha * G_sigma(U(-1, 1)) (a Gaussian-smoothed uniform
    field, truncated at 3 sigma, reflected borders) and the image is resampled bilinearly.
    On images larger than 32 pixels the field is drawn at the CIFAR pixel scale
    (``_common.base_shape``, S = 32 there) and enlarged, displacements times ``scale``.
    """
    f_alpha, f_sigma, f_affine = constant("elastic_transform_fractions", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        n, c, h, w = xw.shape
        size = min(h, w)
        affine = size * f_affine
        hb, wb = base_shape(h, w, scale)
        alpha_b, sigma_b = min(hb, wb) * f_alpha, min(hb, wb) * f_sigma
        centre = np.array([w // 2, h // 2], dtype=np.float64)  # (x, y)
        half = size // 3
        src = np.array([centre + half, [centre[0] + half, centre[1] - half], centre - half])
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        out = np.empty_like(xw)
        for j, rng in enumerate(rngs):
            dst = src + rng.uniform(-affine, affine, size=src.shape)
            m = _affine_from_points(src, dst)
            inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))
            src_x = inv[0, 0] * cols + inv[0, 1] * rows + inv[0, 2]
            src_y = inv[1, 0] * cols + inv[1, 1] * rows + inv[1, 2]
            warped = np.stack(
                [ndimage.map_coordinates(ch, [src_y, src_x], order=1, mode="mirror") for ch in xw[j]]
            )
            fields = []
            for _ in range(2):
                u = rng.uniform(-1.0, 1.0, size=(hb, wb))
                field = gaussian_hw(u[None, None], sigma_b, mode="reflect", truncate=3.0)[0, 0] * alpha_b
                fields.append(enlarge(field, h, w) * scale)
            dx, dy = fields
            out[j] = np.stack(
                [ndimage.map_coordinates(ch, [rows + dy, cols + dx], order=1, mode="reflect") for ch in warped]
            )
        return out

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


def _box_resize(channel: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize one float channel with Pillow's BOX filter (area averaging), as published."""
    img = Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32))  # mode "F"
    return np.asarray(img.resize((width, height), Image.Resampling.BOX), dtype=np.float64)


#: number of cell-grid positions averaged by the small-image pixelation
PIXELATE_PHASES = 64


def pixelate_matrix(size: int, factor: float, phases: int = PIXELATE_PHASES) -> np.ndarray:
    """(size, size) matrix of the pixelation of one axis to ``factor * size`` cells, averaged
    over the position of the cell grid.

    For a grid of cells of 1 / factor pixels starting at offset phi, every pixel is replaced by
    the mean of the pixels whose centres fall in its cell (what Pillow's BOX resize down and
    up does for a whole number of cells). The matrix is the mean over ``phases`` offsets
    phi = (k + 1/2) / (phases factor), k = 0..phases-1. Rows sum to 1; factor 1 gives the identity.
    """
    cell = 1.0 / factor
    centres = np.arange(size) + 0.5
    total = np.zeros((size, size))
    for k in range(phases):
        phi = (k + 0.5) / phases * cell
        index = np.floor((centres - phi) / cell)
        same = (index[:, None] == index[None, :]).astype(np.float64)
        total += same / same.sum(axis=1, keepdims=True)
    return total / phases


def pixelate(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Lower the resolution to a fraction c = .95 .. .65 of the image size and return to full size.

    Images of side >= 32: as published, Pillow's BOX resize to int(c W) x int(c H) pixels and
    back. Smaller images: c S is not a whole number of pixels (7.6, 7.2, 6.8, 6.0, 5.2 for
    S = 8; int() would give 7, 7, 6, 6, 5 and merge severities 1-2 and 3-4), and which rows a
    single grid of cells merges depends on where the grid falls. So the image is pixelated
    with cells of exactly 1/c pixels and the result averaged over the grid position
    (:func:`pixelate_matrix`): the expected pixelation, which merges S (1 - c) rows and columns
    on average like the published one at 32 x 32. (Working at an enlarged resolution would not
    do: pixelating an 8 x 8 image enlarged to 32 pixels down to 24-30 pixels loses nothing
    that 8 pixels can show.)
    """
    factor = constant("pixelate_factor", severity)
    n, c, h, w = x.shape
    if min(h, w) < 32:
        rows = pixelate_matrix(h, factor)
        cols = pixelate_matrix(w, factor)
        return np.clip(rows @ x @ cols.T, 0.0, 1.0)
    small_w, small_h = max(1, int(w * factor)), max(1, int(h * factor))
    out = np.empty_like(x)
    for j in range(n):
        for k in range(c):
            out[j, k] = _box_resize(_box_resize(x[j, k], small_w, small_h), w, h)
    return np.clip(out, 0.0, 1.0)


def jpeg_compression(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Encode and decode with Pillow's JPEG at quality 80 .. 40 (8-bit, 4:2:0 chroma for RGB).

    Native resolution: JPEG's 8 x 8 DCT blocks are blocks of pixels, whatever the image size
    (an 8 x 8 digit is one block). Pixels are rounded to 8 bits first, as in the published data.
    """
    quality = int(constant("jpeg_quality", severity))
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        pixels = np.rint(np.clip(x[j], 0.0, 1.0) * 255.0).astype(np.uint8)
        if pixels.shape[0] == 1:
            img = Image.fromarray(np.ascontiguousarray(pixels[0]))  # mode "L"
        else:
            img = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))  # mode "RGB"
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert(img.mode), dtype=np.float64) / 255.0
        out[j] = decoded[None] if decoded.ndim == 2 else decoded.transpose(2, 0, 1)
    return out
