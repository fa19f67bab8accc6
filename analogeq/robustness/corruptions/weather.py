"""Weather corruptions: snow, frost, fog, spatter (at the working resolution, see ``_common``).

Frost is a substitute: the published generator blends in crops of six photographs of frost
that are not available here; :func:`frost_texture` draws a seeded procedural texture instead
(see its docstring). The other three follow the published algorithms with our own
implementations of the few OpenCV/ImageMagick operations they use (motion blur, Canny edges,
distance transform, histogram equalisation).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from analogeq.robustness.corruptions._common import (
    at_working_resolution,
    base_shape,
    clipped_zoom,
    enlarge,
    gaussian_hw,
    luma,
    motion_blur_image,
    next_power_of_two,
    plasma_fractal,
    via_rgb,
)
from analogeq.robustness.corruptions.constants import constant

# ---------------------------------------------------------------------------------- snow


def snow(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Falling snow over a whitened image.

    Per image: a layer N(mean, std^2) per pixel is zoomed into by ``zoom * scale``, values
    below ``threshold`` are set to 0, the layer is clipped to [0, 1] and motion blurred
    (radius, sigma in px times ``scale``; direction uniform in [-135, -45] degrees). The image
    becomes ``w x + (1 - w) max(x, 1.5 gray(x) + 0.5)`` and the output is
    ``clip(image + layer + layer rotated by 180 degrees)``. Constants: ``snow_params``.
    """
    mean, std, zoom, threshold, radius, sigma, image_weight = constant("snow_params", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        n, _, h, w = xw.shape
        out = np.empty_like(xw)
        for j, rng in enumerate(rngs):
            layer = rng.normal(loc=mean, scale=std, size=(1, h, w))
            layer = clipped_zoom(layer, zoom * scale)
            layer[layer < threshold] = 0.0
            layer = np.clip(layer, 0.0, 1.0)
            angle = rng.uniform(-135.0, -45.0)
            layer = motion_blur_image(layer, radius * scale, sigma * scale, angle)[0]
            img = xw[j]
            gray = img[0] if img.shape[0] == 1 else luma(img[None])[0, 0]
            whitened = image_weight * img + (1.0 - image_weight) * np.maximum(img, gray * 1.5 + 0.5)
            out[j] = whitened + layer + np.rot90(layer, k=2)
        return out

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


# --------------------------------------------------------------------------------- frost

#: colour of the procedural frost (R, G, B): white with a slight blue cast, like ice
FROST_TINT = np.array([0.85, 0.93, 1.0])


def frost_texture(height: int, width: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A seeded procedural frost texture (H, W) in [0, 1]: bright ice dendrites on a dark pane.

    Substitute for the published frost photographs. Ice on a window grows as needles with
    side branches at +-60 degrees (the hexagonal habit of ice); between them the pane is dark.
    We draw ``10 (H W / 32^2) / scale^2`` trunks (a fixed density per area of the scene),
    each starting at a uniform position with a uniform direction, length uniform in
    [6, 16] px * scale and brightness uniform in [0.6, 1]; every 2.5 px * scale along a trunk
    a branch leaves at +-60 degrees with a third to a half of the trunk's remaining length and
    0.8 of its brightness. Needles are drawn at half-pixel steps (brightest wins), softened by a
    Gaussian of 0.5 px * scale, and modulated by a smooth fractal (diamond-square, decay 2)
    so that the frost is patchy, plus a faint glaze: ``F = needles (0.4 + 0.6 fractal) + 0.08 fractal``.
    About a fifth of the pixels carry ice (F > 0.2); the mean of F is about 0.15 and its
    maximum about 0.8-1. The texture is kept sparse on purpose: with the published weights
    (.9, .4) -> (.85, .4) from severity 3 to 4 the image term shrinks while the frost term
    stays, so the deviation from the clean image grows only where the frost is darker than
    about a third of the image; a dense bright frost would make severity 4 closer to the clean
    image than severity 3. The CIFAR weights
    (image 1 .. 0.75, frost 0.2 .. 0.45) are applied to it unchanged.
    """
    n_trunks = max(2, int(round(10.0 * height * width / (32.0 * scale) ** 2)))
    # trunks: start (row, col), direction, length [px], brightness
    r0 = rng.uniform(0, height, n_trunks)
    c0 = rng.uniform(0, width, n_trunks)
    angle = rng.uniform(0.0, 2.0 * math.pi, n_trunks)
    length = rng.uniform(6.0, 16.0, n_trunks) * scale
    bright = rng.uniform(0.6, 1.0, n_trunks)
    # branches every 2.5 px * scale along each trunk, one to each side
    step = 2.5 * scale
    n_forks = np.maximum(np.ceil(length / step).astype(np.int64) - 1, 0)  # k = 1 .. ceil(L/step) - 1
    trunk_of = np.repeat(np.arange(n_trunks), n_forks)
    k = np.concatenate([np.arange(1, m + 1) for m in n_forks]) if n_forks.sum() else np.zeros(0)
    fork_r = r0[trunk_of] + k * step * np.sin(angle[trunk_of])
    fork_c = c0[trunk_of] + k * step * np.cos(angle[trunk_of])
    remaining = length[trunk_of] - k * step
    branch_len = remaining[:, None] * rng.uniform(1.0 / 3.0, 0.5, (trunk_of.size, 2))
    branch_angle = angle[trunk_of][:, None] + np.array([-1.0, 1.0]) * math.pi / 3.0
    seg_r = np.concatenate([r0, np.repeat(fork_r, 2)])
    seg_c = np.concatenate([c0, np.repeat(fork_c, 2)])
    seg_angle = np.concatenate([angle, branch_angle.ravel()])
    seg_len = np.concatenate([length, branch_len.ravel()])
    seg_bright = np.concatenate([bright, np.repeat(0.8 * bright[trunk_of], 2)])
    # needles drawn at half-pixel steps along every segment, the brightest needle wins
    counts = np.floor(seg_len / 0.5).astype(np.int64) + 1
    seg = np.repeat(np.arange(seg_len.size), counts)
    t = 0.5 * (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    rr = np.floor(seg_r[seg] + t * np.sin(seg_angle[seg])).astype(np.int64)
    cc = np.floor(seg_c[seg] + t * np.cos(seg_angle[seg])).astype(np.int64)
    keep = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
    canvas = np.zeros((height, width))
    np.maximum.at(canvas, (rr[keep], cc[keep]), seg_bright[seg][keep])
    thickness = max(1, int(round(scale)))
    if thickness > 1:
        canvas = ndimage.grey_dilation(canvas, size=(thickness, thickness))
    soft = ndimage.gaussian_filter(canvas, 0.5 * scale, mode="nearest")
    if soft.max() > 0:
        soft *= canvas.max() / soft.max()
    size = next_power_of_two(max(height, width))
    patches = plasma_fractal(size, 2.0, rng)[:height, :width]
    return np.clip(soft * (0.4 + 0.6 * patches) + 0.08 * patches, 0.0, 1.0)


def frost(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """``clip(a x + b F tint)`` with the CIFAR weights (a, b) = (1, .2) .. (.75, .45) and F the
    seeded procedural :func:`frost_texture` (the substitute for the frost photographs)."""
    image_weight, frost_weight = constant("frost_image_frost_weights", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        n, _, h, w = xw.shape
        textures = np.stack([frost_texture(h, w, scale, rng) for rng in rngs])  # (N, H, W)
        layer = textures[:, None] * FROST_TINT[None, :, None, None]  # (N, 3, H, W)
        return via_rgb(xw, lambda rgb: image_weight * rgb + frost_weight * layer)

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


# ----------------------------------------------------------------------------------- fog


def fog(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """``clip((x + a F) m / (m + a))`` with F a diamond-square fractal (decay d), m = max(x) of
    the image; (a, d) = (.2, 3) .. (1.5, 1.75). The fractal is drawn on the smallest power of
    two >= the working size (32 at 32 x 32, as published) and cropped."""
    strength, decay = constant("fog_strength_decay", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        n, _, h, w = xw.shape
        size = next_power_of_two(max(h, w))
        fractal = np.stack([plasma_fractal(size, decay, rng)[:h, :w] for rng in rngs])
        max_val = xw.max(axis=(1, 2, 3), keepdims=True)
        return (xw + strength * fractal[:, None]) * max_val / (max_val + strength)

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)


# ------------------------------------------------------------------------------- spatter

WATER_COLOUR = np.array([175.0, 238.0, 238.0]) / 255.0  # pale turquoise (R, G, B)
MUD_COLOUR = np.array([63.0, 42.0, 20.0]) / 255.0  # mud brown (R, G, B)


def canny_edges(img_u8: np.ndarray, low: float, high: float) -> np.ndarray:
    """Boolean edge map of a 2-D uint8 image (our Canny, after OpenCV's defaults).

    3 x 3 Sobel gradients (edge pixels repeated), L1 magnitude |gx| + |gy|, non-maximum
    suppression across the gradient direction quantised to 0/45/90/135 degrees, hysteresis:
    pixels above ``low`` that are 8-connected to a pixel above ``high``.
    """
    a = img_u8.astype(np.float64)
    gx = ndimage.sobel(a, axis=1, mode="nearest")
    gy = ndimage.sobel(a, axis=0, mode="nearest")
    mag = np.abs(gx) + np.abs(gy)
    padded = np.pad(mag, 1, mode="constant")
    h, w = mag.shape

    def neighbour(dr: int, dc: int) -> np.ndarray:
        return padded[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    tan22 = math.tan(math.radians(22.5))
    tan67 = math.tan(math.radians(67.5))
    ax, ay = np.abs(gx), np.abs(gy)
    horizontal = ay <= ax * tan22  # gradient along x: compare left/right
    vertical = ay > ax * tan67  # gradient along y: compare up/down
    diag_same = ~horizontal & ~vertical & (gx * gy > 0)
    diag_other = ~horizontal & ~vertical & ~diag_same
    is_max = np.zeros_like(mag, dtype=bool)
    is_max |= horizontal & (mag > neighbour(0, -1)) & (mag >= neighbour(0, 1))
    is_max |= vertical & (mag > neighbour(-1, 0)) & (mag >= neighbour(1, 0))
    is_max |= diag_same & (mag > neighbour(-1, -1)) & (mag >= neighbour(1, 1))
    is_max |= diag_other & (mag > neighbour(-1, 1)) & (mag >= neighbour(1, -1))
    candidate = is_max & (mag > low)
    strong = candidate & (mag > high)
    labels, count = ndimage.label(candidate, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros_like(candidate)
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return keep[labels]


def equalize_hist_u8(img_u8: np.ndarray) -> np.ndarray:
    """Histogram equalisation of a uint8 image (OpenCV's equalizeHist rule)."""
    hist = np.bincount(img_u8.ravel(), minlength=256)
    total = img_u8.size
    first = int(np.flatnonzero(hist)[0])
    if hist[first] == total:
        return np.full_like(img_u8, first)
    scale = 255.0 / (total - hist[first])
    lut = np.zeros(256)
    lut[first + 1 :] = np.cumsum(hist[first + 1 :]) * scale
    return np.clip(np.rint(lut), 0, 255).astype(np.uint8)[img_u8]


def _box3_u8(img: np.ndarray) -> np.ndarray:
    """3 x 3 mean with mirrored borders, rounded to uint8 (OpenCV's blur on 8-bit data)."""
    return np.clip(np.rint(ndimage.uniform_filter(img.astype(np.float64), 3, mode="mirror")), 0, 255)


def _water_mask(liquid: np.ndarray) -> np.ndarray:
    """Brightness of the water drops (H, W) in [0, 1] before the strength factor."""
    liquid_u8 = np.clip(liquid * 255.0, 0, 255).astype(np.uint8)
    edges = canny_edges(liquid_u8, 50.0, 150.0)
    cap = 20.0
    if edges.any():
        dist = ndimage.distance_transform_edt(~edges)
        dist = np.minimum(dist, cap)
    else:
        dist = np.full(liquid.shape, cap)
    dist = _box3_u8(dist).astype(np.uint8)
    dist = equalize_hist_u8(dist)
    emboss = np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])
    dist = np.clip(ndimage.correlate(dist.astype(np.float64), emboss, mode="mirror"), 0, 255)
    dist = _box3_u8(dist)
    m = liquid_u8.astype(np.float64) * dist
    peak = m.max()
    return m / peak if peak > 0 else np.zeros_like(m)


def spatter(x: np.ndarray, severity: int, rngs: list[np.random.Generator]) -> np.ndarray:
    """Water drops (severities 1-3) or mud (4-5) spattered on the lens.

    A liquid layer N(mean, std^2) per pixel is smoothed by a Gaussian (sigma px) and zeroed
    below ``threshold``. Water: the drops' shading is built from the layer's Canny edges, their
    distance transform (capped at 20 px), histogram equalisation and an emboss filter,
    normalised to peak 1; the output is ``clip(x + strength * shading * turquoise)``.
    Mud: the mask ``layer > threshold`` is smoothed (sigma px), zeroed below 0.8, and the
    pixels are mixed toward mud brown: ``x (1 - m) + brown m``. Constants: ``spatter_params``.
    The layer and its shading or mask are computed at the CIFAR pixel scale
    (``_common.base_shape``) and enlarged to images larger than 32 pixels.
    Distance transform: exact Euclidean (OpenCV's 5 x 5 mask is an approximation of it).
    """
    mean, std, sigma, threshold, strength_or_sigma, mud = constant("spatter_params", severity)

    def run(xw: np.ndarray, scale: float) -> np.ndarray:
        n, _, h, w = xw.shape
        hb, wb = base_shape(h, w, scale)
        layers = []
        for rng in rngs:
            liquid = rng.normal(loc=mean, scale=std, size=(hb, wb))
            liquid = gaussian_hw(liquid[None, None], sigma)[0, 0]
            liquid[liquid < threshold] = 0.0
            if mud == 0:
                layer = _water_mask(liquid)
            else:
                layer = gaussian_hw((liquid > threshold).astype(np.float64)[None, None], strength_or_sigma)[0, 0]
                layer[layer < 0.8] = 0.0
            layers.append(enlarge(layer, h, w))
        m = np.stack(layers)[:, None]
        if mud == 0:
            colour = WATER_COLOUR[None, :, None, None]
            return via_rgb(xw, lambda rgb: rgb + strength_or_sigma * m * colour)
        colour = MUD_COLOUR[None, :, None, None]
        return via_rgb(xw, lambda rgb: rgb * (1.0 - m) + colour * m)

    return np.clip(at_working_resolution(x, run), 0.0, 1.0)
