"""Corruptions: every type runs, seeding, ranges, and checks against closed forms and invariants."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from analogeq.robustness.corruptions import CORRUPTION_NAMES, CORRUPTIONS, corrupt
from analogeq.robustness.corruptions._common import hsv_to_rgb, plasma_fractal, rgb_to_hsv
from analogeq.robustness.corruptions.blur import disk_kernel, zoom_factors
from analogeq.robustness.corruptions._common import motion_blur_image
from analogeq.robustness.corruptions.constants import CIFAR10C_CONSTANTS
from analogeq.robustness.corruptions.digital import pixelate_matrix
from analogeq.robustness.corruptions.weather import MUD_COLOUR, canny_edges, equalize_hist_u8, frost_texture

RANDOM_TYPES = (
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
    "snow", "frost", "fog", "spatter", "elastic_transform",
)
DETERMINISTIC_TYPES = tuple(n for n in CORRUPTION_NAMES if n not in RANDOM_TYPES)


def pink_images(n: int, size: int, channels: int, seed: int) -> np.ndarray:
    """Natural-looking test images: 1/f noise (channels partly shared) plus a disk with a hard edge."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    radius[0, 0] = 1.0
    images = []
    for _ in range(n):
        spec = (rng.standard_normal((channels, size, size)) + 1j * rng.standard_normal((channels, size, size))) / radius
        spec[:, 0, 0] = 0.0
        img = np.real(np.fft.ifft2(spec))
        img = 0.6 * img + 0.4 * img.mean(axis=0, keepdims=True)
        img = (img - img.min()) / (img.max() - img.min())
        yy, xx = np.mgrid[:size, :size]
        cy, cx = rng.uniform(0.3 * size, 0.7 * size, 2)
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 < (rng.uniform(0.15, 0.3) * size) ** 2
        img = np.where(disk, 0.5 * img + 0.5 * rng.random((channels, 1, 1)), img)
        images.append(0.05 + 0.9 * img)
    return np.stack(images)


def digits(n: int) -> np.ndarray:
    return load_digits().images[:n, None] / 16.0


@pytest.fixture(scope="module")
def small_gray() -> np.ndarray:
    return digits(3)


@pytest.fixture(scope="module")
def cifar_rgb() -> np.ndarray:
    return pink_images(3, 32, 3, seed=0)


def test_registry_holds_the_19_published_types():
    assert len(CORRUPTION_NAMES) == 19 == len(set(CORRUPTION_NAMES)) == len(CORRUPTIONS)
    assert CORRUPTION_NAMES[:3] == ("gaussian_noise", "shot_noise", "impulse_noise")
    assert set(CORRUPTION_NAMES[-4:]) == {"speckle_noise", "gaussian_blur", "spatter", "saturate"}


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_every_type_and_severity_runs_on_8x8x1_and_32x32x3(name, small_gray, cifar_rgb):
    for x in (small_gray, cifar_rgb):
        for severity in range(1, 6):
            y = corrupt(x, name, severity, seed=3)
            assert y.shape == x.shape and y.dtype == x.dtype
            assert np.isfinite(y).all()
            assert y.min() >= 0.0 and y.max() <= 1.0
            assert np.abs(y - x).mean() > 0.0 or (name == "saturate" and x.shape[1] == 1 and severity <= 3)


@pytest.mark.parametrize("name", CORRUPTION_NAMES)
def test_same_seed_same_output_and_seed_dependence(name, cifar_rgb):
    x = cifar_rgb[:2]
    a = corrupt(x, name, 3, seed=11)
    b = corrupt(x, name, 3, seed=11)
    np.testing.assert_array_equal(a, b)
    c = corrupt(x, name, 3, seed=12)
    if name in RANDOM_TYPES:
        assert np.abs(a - c).max() > 1e-3
    else:
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", RANDOM_TYPES)
def test_chunked_corruption_equals_one_call(name, small_gray):
    x = digits(5)
    whole = corrupt(x, name, 2, seed=4)
    parts = np.concatenate([corrupt(x[:2], name, 2, seed=4), corrupt(x[2:], name, 2, seed=4, first_index=2)])
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-12)


def test_registry_function_equals_corrupt_and_torch_round_trip(cifar_rgb):
    x = cifar_rgb[:2]
    np.testing.assert_array_equal(CORRUPTIONS["fog"](x, 2, seed=5), corrupt(x, "fog", 2, seed=5))
    xt = torch.tensor(x, dtype=torch.float32)
    yt = corrupt(xt, "fog", 2, seed=5)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float32 and yt.shape == xt.shape
    np.testing.assert_allclose(yt.numpy(), corrupt(x.astype(np.float32), "fog", 2, seed=5), atol=1e-6)


def test_larger_and_odd_sizes_run():
    for shape in ((1, 3, 64, 64), (1, 1, 28, 28), (1, 3, 16, 24)):
        x = pink_images(1, max(shape[2:]), shape[1], seed=2)[:, :, : shape[2], : shape[3]]
        for name in CORRUPTION_NAMES:
            y = corrupt(x, name, 5, seed=0)
            assert y.shape == x.shape and 0.0 <= y.min() and y.max() <= 1.0


# ------------------------------------------------------------------------------ noises


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_gaussian_noise_std_matches_the_cifar_constant(severity):
    # mid-grey: clipping at 0 or 1 needs a 5-sigma draw even at sigma = .10 (p ~ 6e-7)
    x = np.full((8, 3, 32, 32), 0.5)
    noise = corrupt(x, "gaussian_noise", severity, seed=severity) - x
    sigma = CIFAR10C_CONSTANTS["gaussian_noise_sigma"][severity - 1]
    n = noise.size
    assert abs(noise.std() - sigma) < 4.0 * sigma / np.sqrt(2.0 * n)  # std error of a sample std
    assert abs(noise.mean()) < 4.0 * sigma / np.sqrt(n)


def test_shot_noise_is_poisson_with_the_published_photon_count():
    x = np.full((8, 3, 32, 32), 0.4)
    photons = CIFAR10C_CONSTANTS["shot_noise_photons"][2]  # 100
    y = corrupt(x, "shot_noise", 3, seed=1)
    counts = y * photons
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)  # whole photons
    lam = 0.4 * photons
    assert abs(counts.mean() - lam) < 4 * np.sqrt(lam / counts.size)
    assert abs(counts.var() / lam - 1.0) < 4 * np.sqrt(2.0 / counts.size)


def test_impulse_noise_replaces_the_published_fraction_with_0_or_1():
    x = np.full((8, 3, 32, 32), 0.5)
    amount = CIFAR10C_CONSTANTS["impulse_noise_amount"][4]  # .07
    y = corrupt(x, "impulse_noise", 5, seed=2)
    changed = y != 0.5
    assert set(np.unique(y[changed])) <= {0.0, 1.0}
    n = x.size
    assert abs(changed.mean() - amount) < 4 * np.sqrt(amount * (1 - amount) / n)
    assert abs((y == 1.0).sum() / changed.sum() - 0.5) < 4 * np.sqrt(0.25 / changed.sum())


def test_speckle_noise_is_multiplicative_with_the_published_sigma():
    x = np.full((8, 3, 32, 32), 0.3)
    y = corrupt(x, "speckle_noise", 2, seed=3)
    rel = (y - x) / x
    sigma = CIFAR10C_CONSTANTS["speckle_noise_sigma"][1]
    assert abs(rel.std() - sigma) < 4.0 * sigma / np.sqrt(2.0 * rel.size)


# ------------------------------------------------------------------------------- blurs


def test_gaussian_blur_kernel_has_the_published_variance():
    # second moment of the blur of a point = sigma^2 (sampled Gaussian, sigma >= .8: error < 1e-3)
    x = np.zeros((1, 1, 32, 32))
    x[0, 0, 16, 16] = 1.0
    for severity in (4, 5):
        y = corrupt(x, "gaussian_blur", severity, seed=0)[0, 0]
        sigma = CIFAR10C_CONSTANTS["gaussian_blur_sigma"][severity - 1]
        assert y.sum() == pytest.approx(1.0, abs=1e-12)
        rows = np.arange(32) - 16
        var_rows = (y.sum(axis=1) * rows**2).sum()
        assert var_rows == pytest.approx(sigma**2, rel=2e-3)


def test_disk_kernel_supports_match_the_radius():
    # radius 1: the centre and its 4 neighbours; radius 1.5: the 3 x 3 block (2 <= 2.25)
    k1 = disk_kernel(1.0, 1e-3)
    k15 = disk_kernel(1.5, 1e-3)
    assert k1.sum() == pytest.approx(1.0) and k15.sum() == pytest.approx(1.0)
    assert ((k1 > 1e-6).sum(), (k15 > 1e-6).sum()) == (5, 9)
    np.testing.assert_allclose(k15[k15 > 1e-6], 1.0 / 9.0, rtol=1e-6)


def test_motion_blur_kernel_is_a_one_sided_gaussian_along_the_angle():
    img = np.zeros((1, 32, 32))
    img[0, 20, 20] = 1.0
    out = motion_blur_image(img, radius_px=6, sigma_px=2.0, angle_deg=0.0)
    i = np.arange(13)
    w = np.exp(-(i**2) / 8.0)
    w /= w.sum()
    # angle 0: tap i reads the pixel i to the right, so the point spreads to the left
    np.testing.assert_allclose(out[0, 20, 20 - i], w, rtol=1e-12)
    assert out.sum() == pytest.approx(1.0)
    out90 = motion_blur_image(img, radius_px=6, sigma_px=2.0, angle_deg=90.0)
    np.testing.assert_allclose(out90[0, 20 - i, 20], w, rtol=1e-12)


def test_zoom_factors_match_the_published_ranges():
    for severity, count in zip(range(5), (6, 11, 16, 21, 26)):
        f = zoom_factors(CIFAR10C_CONSTANTS["zoom_blur_max_factor"][severity])
        assert len(f) == count and f[0] == 1.0


@pytest.mark.parametrize(
    "name", ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur", "pixelate", "elastic_transform"]
)
def test_geometric_corruptions_leave_a_constant_image_unchanged(name):
    for shape in ((2, 1, 8, 8), (2, 3, 32, 32)):
        x = np.full(shape, 0.37)
        np.testing.assert_allclose(corrupt(x, name, 5, seed=1), x, atol=1e-12)


def test_pixelate_matrix_small_images():
    np.testing.assert_allclose(pixelate_matrix(8, 1.0), np.eye(8), atol=1e-12)
    for factor in (0.95, 0.65):
        m = pixelate_matrix(8, factor)
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
        np.testing.assert_allclose(m, m.T, atol=1e-12)  # merging is symmetric
    # cells of 1/.5 = 2 pixels: for half of the grid positions a pixel shares its cell with the
    # left neighbour, for the other half with the right one (the end pixels are then alone):
    # interior rows (.25, .5, .25), end rows (.75, .25)
    expected = 0.5 * np.eye(8) + 0.25 * (np.eye(8, k=1) + np.eye(8, k=-1))
    expected[0, 0] = expected[-1, -1] = 0.75
    np.testing.assert_allclose(pixelate_matrix(8, 0.5), expected, atol=1e-12)


def test_elastic_severity_1_is_a_pure_affine_warp():
    # severity 1 has alpha = 0: an affine map of a linear ramp is linear (zero second differences
    # away from the mirrored borders)
    rows, cols = np.mgrid[:32, :32]
    ramp = (0.2 + 0.6 * (0.6 * rows + 0.4 * cols) / 31.0)[None, None]
    y = corrupt(ramp, "elastic_transform", 1, seed=0)[0, 0]
    inner = y[8:24, 8:24]
    assert np.abs(np.diff(inner, 2, axis=0)).max() < 1e-9
    assert np.abs(np.diff(inner, 2, axis=1)).max() < 1e-9
    assert np.abs(y - ramp[0, 0]).max() > 1e-3  # it did move


# ------------------------------------------------------------------------ colour, HSV


def test_hsv_conversion_agrees_with_colorsys():
    rng = np.random.default_rng(0)
    rgb = rng.random((1, 3, 6, 7))
    rgb[0, :, 0, 0] = 0.4  # a gray pixel
    rgb[0, :, 0, 1] = 0.0  # black
    hsv = rgb_to_hsv(rgb)
    for i in range(6):
        for j in range(7):
            ref = colorsys.rgb_to_hsv(*rgb[0, :, i, j])
            np.testing.assert_allclose(hsv[0, :, i, j], ref, atol=1e-12)
    np.testing.assert_allclose(hsv_to_rgb(hsv), rgb, atol=1e-12)


def test_brightness_adds_to_hsv_value_and_to_gray():
    rng = np.random.default_rng(1)
    rgb = rng.uniform(0.0, 0.6, (1, 3, 4, 4))
    delta = CIFAR10C_CONSTANTS["brightness_delta_v"][2]
    y = corrupt(rgb, "brightness", 3, seed=0)
    for i in range(4):
        for j in range(4):
            h, s, v = colorsys.rgb_to_hsv(*rgb[0, :, i, j])
            np.testing.assert_allclose(y[0, :, i, j], colorsys.hsv_to_rgb(h, s, min(v + delta, 1.0)), atol=1e-12)
    gray = rng.random((2, 1, 8, 8))
    np.testing.assert_allclose(corrupt(gray, "brightness", 3, seed=0), np.clip(gray + delta, 0, 1), atol=1e-12)


def test_saturate_scales_hsv_saturation_and_keeps_gray_for_severities_1_to_3():
    rng = np.random.default_rng(2)
    rgb = rng.random((1, 3, 4, 4))
    for severity in (2, 5):
        a, b = CIFAR10C_CONSTANTS["saturate_scale_shift"][severity - 1]
        y = corrupt(rgb, "saturate", severity, seed=0)
        for i in range(4):
            for j in range(4):
                h, s, v = colorsys.rgb_to_hsv(*rgb[0, :, i, j])
                ref = colorsys.hsv_to_rgb(h, min(max(s * a + b, 0.0), 1.0), v)
                np.testing.assert_allclose(y[0, :, i, j], ref, atol=1e-12)
    gray = rng.random((2, 1, 8, 8))
    for severity in (1, 2, 3):
        np.testing.assert_allclose(corrupt(gray, "saturate", severity, seed=0), gray, atol=1e-12)
    # severity 5: saturation .2 with hue 0 (red) -> luma V (1 - .701 * .2)
    np.testing.assert_allclose(corrupt(gray, "saturate", 5, seed=0), gray * (1 - 0.701 * 0.2), atol=1e-12)


def test_contrast_keeps_channel_means_and_scales_deviations():
    x = pink_images(2, 32, 3, seed=4) * 0.5 + 0.25  # no clipping at any factor
    for severity in range(1, 6):
        c = CIFAR10C_CONSTANTS["contrast_factor"][severity - 1]
        y = corrupt(x, "contrast", severity, seed=0)
        np.testing.assert_allclose(y.mean(axis=(2, 3)), x.mean(axis=(2, 3)), atol=1e-12)
        np.testing.assert_allclose(y.std(axis=(2, 3)), c * x.std(axis=(2, 3)), rtol=1e-10)


# ----------------------------------------------------------------------------- weather


def test_snow_and_brightness_only_brighten_and_fog_stays_below_the_image_maximum(cifar_rgb, small_gray):
    for x in (cifar_rgb, small_gray):
        for severity in (1, 5):
            assert (corrupt(x, "snow", severity, seed=1) >= x - 1e-12).all()
            assert (corrupt(x, "brightness", severity, seed=1) >= x - 1e-12).all()
            fogged = corrupt(x, "fog", severity, seed=1)
            # (x + a F) m / (m + a) <= (m + a) m / (m + a) = m, per image
            assert (fogged.max(axis=(1, 2, 3)) <= x.max(axis=(1, 2, 3)) + 1e-12).all()


def test_mud_spatter_mixes_pixels_toward_mud_brown(cifar_rgb):
    x = cifar_rgb
    y = corrupt(x, "spatter", 5, seed=2)
    changed = np.abs(y - x).max(axis=1) > 1e-9
    assert changed.any()
    # y = x (1 - m) + brown m  =>  y - x = m (brown - x), with m in [0.8, 1]
    x_pix = x.transpose(0, 2, 3, 1)[changed]  # (K, 3)
    d = y.transpose(0, 2, 3, 1)[changed] - x_pix
    target = MUD_COLOUR[None, :] - x_pix
    m = (d * target).sum(axis=1) / (target * target).sum(axis=1)
    assert m.min() >= 0.8 - 1e-9 and m.max() <= 1.0 + 1e-9
    np.testing.assert_allclose(d, m[:, None] * target, atol=1e-9)


def test_frost_texture_is_seeded_bounded_and_patchy():
    a = frost_texture(32, 32, 1.0, np.random.default_rng(3))
    b = frost_texture(32, 32, 1.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    means = [frost_texture(32, 32, 1.0, np.random.default_rng(s)).mean() for s in range(10)]
    cover = [(frost_texture(32, 32, 1.0, np.random.default_rng(s)) > 0.2).mean() for s in range(10)]
    assert 0.05 < np.mean(means) < 0.3 and 0.05 < np.mean(cover) < 0.5


def test_plasma_fractal_is_normalised_and_smoother_for_larger_decay():
    rough = [plasma_fractal(32, 1.75, np.random.default_rng(s)) for s in range(5)]
    smooth = [plasma_fractal(32, 3.0, np.random.default_rng(s)) for s in range(5)]
    for f in rough + smooth:
        assert f.min() == 0.0 and f.max() == 1.0
    grad = lambda f: np.abs(np.diff(f, axis=0)).mean()  # noqa: E731
    assert np.mean([grad(f) for f in smooth]) < np.mean([grad(f) for f in rough])


def test_canny_finds_the_border_of_a_square_and_equalisation_follows_the_cdf():
    img = np.zeros((32, 32), dtype=np.uint8)
    img[10:22, 10:22] = 200
    edges = canny_edges(img, 50, 150)
    assert edges.any()
    rows, cols = np.nonzero(edges)
    # every edge pixel is within one pixel of the square's border
    on_border = (np.minimum(np.abs(rows - 9.5), np.abs(rows - 21.5)) <= 1.5) | (
        np.minimum(np.abs(cols - 9.5), np.abs(cols - 21.5)) <= 1.5
    )
    assert on_border.all()
    assert not edges[13:19, 13:19].any() and not edges[:6].any()
    # values 0..3 twice each: the first level maps to 0, then the cdf above it scaled to 255
    flat = np.array([[0, 0, 1, 1, 2, 2, 3, 3]], dtype=np.uint8)
    np.testing.assert_array_equal(equalize_hist_u8(flat), [[0, 0, 85, 85, 170, 170, 255, 255]])
    np.testing.assert_array_equal(equalize_hist_u8(np.full((3, 3), 7, np.uint8)), np.full((3, 3), 7))


def test_clipped_zoom_matches_scipy_zoom_crop_and_trim():
    # the published clipped_zoom: centre crop, scipy.ndimage.zoom(order=1), trim
    from scipy import ndimage

    from analogeq.robustness.corruptions._common import clipped_zoom

    def published(x, z):
        h, w = x.shape[-2:]
        ch, cw = int(np.ceil(h / z)), int(np.ceil(w / z))
        top, left = (h - ch) // 2, (w - cw) // 2
        zoomed = ndimage.zoom(x[..., top : top + ch, left : left + cw], (1.0, 1.0, z, z), order=1)
        t, lft = (zoomed.shape[-2] - h) // 2, (zoomed.shape[-1] - w) // 2
        return zoomed[..., t : t + h, lft : lft + w]

    rng = np.random.default_rng(0)
    for shape in ((2, 3, 32, 32), (1, 1, 8, 8), (1, 3, 16, 24)):
        x = rng.random(shape)
        for z in (1.01, 1.05, 1.12, 1.25, 1.75, 2.25):
            np.testing.assert_allclose(clipped_zoom(x, z), published(x, z), atol=1e-12)
