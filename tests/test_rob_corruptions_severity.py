"""Deviation from the clean image against severity, on 8 x 8 x 1 digits and 32 x 32 x 3 images.

The issue asks that the mean absolute deviation from the clean image grow with severity for
every type. It does, strictly, for the types in STRICT below, on both sizes and for two seeds.
Five types do not, because of the published CIFAR-10-C constants themselves (at 32 x 32 we
use them unchanged); their tests pin down what the constants do instead, so that a change is
noticed and the reason is on record:

* saturate: severities 1-2 desaturate, 3-5 oversaturate (S x .1 changes S more than S x 1.5).
* elastic_transform: the affine part shrinks from 8% to 3% of the image size while the elastic
  part grows; the deviation falls with severity.
* spatter: water at 1-3, mud at 4-5; severity 3's water deviates more than severity 4's mud.
* glass_blur: at 32 x 32, sigma .05 and .25 px are both close to the identity and the second
  blur at sigma .4 (severity 3) partly undoes the pixel displacement; it grows at 8 x 8.
* motion_blur: severities 3 and 4 are (radius 6, sigma 2) and (radius 8, sigma 2); the radius
  only sets the kernel length (13 or 17 taps) and taps 13-16 weigh exp(-169/8) ~ 7e-10, so the
  two are the same blur.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rob_corruptions import digits, pink_images

from analogeq.robustness.corruptions import CORRUPTION_NAMES, corrupt

EXCEPTIONS = ("saturate", "elastic_transform", "spatter", "glass_blur", "motion_blur")
STRICT = tuple(n for n in CORRUPTION_NAMES if n not in EXCEPTIONS)


@pytest.fixture(scope="module")
def image_sets() -> dict[str, np.ndarray]:
    return {"8x8x1": digits(8), "32x32x3": pink_images(8, 32, 3, seed=1)}


def deviations(x: np.ndarray, name: str, seed: int) -> np.ndarray:
    return np.array([np.abs(corrupt(x, name, s, seed=seed) - x).mean() for s in range(1, 6)])


@pytest.mark.parametrize("name", STRICT)
def test_deviation_grows_strictly_with_severity(name, image_sets):
    for label, x in image_sets.items():
        for seed in (0, 1):
            dev = deviations(x, name, seed)
            steps = np.diff(dev) / dev[:-1]
            # at least 1% more deviation per severity step (the smallest step seen is 2%)
            assert (steps > 0.01).all(), f"{name} on {label}, seed {seed}: deviations {dev}"


def test_motion_blur_grows_except_between_the_equal_sigmas_of_severities_3_and_4(image_sets):
    for x in image_sets.values():
        dev = deviations(x, "motion_blur", 0)
        assert dev[0] < dev[1] < dev[2] and dev[3] < dev[4]
        assert abs(dev[3] - dev[2]) <= 1e-8 * dev[2]


def test_glass_blur_grows_at_8x8_and_follows_the_published_constants_at_32x32(image_sets):
    dev8 = deviations(image_sets["8x8x1"], "glass_blur", 0)
    assert (np.diff(dev8) > 0).all()
    dev32 = deviations(image_sets["32x32x3"], "glass_blur", 0)
    assert abs(dev32[1] - dev32[0]) < 0.01 * dev32[0]  # sigma .05 and .25: both ~ identity
    assert dev32[2] < dev32[1]  # the sigma .4 blur smooths the displacement back
    assert dev32[3] > dev32[2]  # two displacement passes


def test_spatter_grows_within_water_and_within_mud(image_sets):
    for x in image_sets.values():
        dev = deviations(x, "spatter", 0)
        assert dev[0] < dev[1] < dev[2] and dev[3] < dev[4]
        assert dev[3] < dev[2]


def test_saturate_desaturates_then_oversaturates():
    x = pink_images(8, 32, 3, seed=2)
    dev = deviations(x, "saturate", 0)
    assert dev[0] < dev[1] and dev[2] < dev[3] < dev[4]
    assert dev[2] < dev[1]  # |1.5 S - S| = .5 S < |.1 S - S| = .9 S
    gray = digits(8)
    dev_gray = deviations(gray, "saturate", 0)
    assert (dev_gray[:3] < 1e-12).all() and 0 < dev_gray[3] < dev_gray[4]


def test_elastic_deviation_falls_as_the_affine_part_shrinks(image_sets):
    for x in image_sets.values():
        dev = deviations(x, "elastic_transform", 0)
        assert (np.diff(dev) < 0).all()
