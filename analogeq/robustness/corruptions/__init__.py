"""Natural corruptions: the 15 + 4 CIFAR-10-C types at 5 severities, in numpy/scipy.

Hendrycks & Dietterich 2019 (ICLR), with the **CIFAR-10-C** constants of the published
generator (``cifar10c_constants.json`` beside this file), for images of any size from
4 x 4 up (digits 8 x 8, CIFAR 32 x 32, larger), grayscale or RGB, layout (N, C, H, W),
floating point in [0, 1], seeded. No dependency on the ``imagecorruptions`` package (which
carries the ImageNet constants), OpenCV, ImageMagick or scikit-image; Pillow (already
installed with matplotlib) encodes JPEG and does the published box resize of ``pixelate``.

Usage::

    from analogeq.robustness.corruptions import corrupt, CORRUPTIONS, CORRUPTION_NAMES
    x_c = corrupt(x, "fog", severity=3, seed=0)      # numpy or torch in, same type out
    x_c = CORRUPTIONS["fog"](x, 3, seed=0)            # the same

Scaling with image size (details in ``_common``): length parameters (blur radii, snow, frost,
fog, spatter, elastic) are in pixels of a 32 x 32 image. Images of side S >= 32 use them times
S / 32; smaller images are enlarged by pixel replication to at least 32 pixels, corrupted
there with the CIFAR lengths, and block-averaged back, so an 8 x 8 digit gets the CIFAR
corruption of the same scene seen at 8 x 8. Per-pixel corruptions and JPEG run at the native
size; ``pixelate`` of images below 32 pixels averages over cells of 1/c pixels (see its
docstring). At 32 x 32 every corruption uses the published parameters.

Substitutes and departures from the published generator (all documented where they occur):
frost is a procedural seeded texture (the published photographs are not available); the
OpenCV/ImageMagick steps (motion blur, Canny, distance transform, histogram equalisation,
affine warp) are our own numpy/scipy implementations of the same operations; intermediate
8-bit rounding of the generator is not reproduced except in JPEG.

Severity and deviation from the clean image. For 14 types the mean absolute deviation from
the clean image grows strictly with severity, on 8 x 8 digits and 32 x 32 colour images alike.
Five do not, because of the published constants themselves (pinned down in
``tests/test_rob_corruptions_severity.py``):

* ``saturate``: severities 1-2 desaturate (S x .3, x .1) and 3-5 oversaturate (x 1.5, ...):
  severity 3 changes S less than severity 2. (Grayscale: unchanged at 1-3, see its docstring.)
* ``elastic_transform``: the affine part shrinks with severity (8% to 3% of the image size)
  while the elastic part grows; the deviation falls from severity 1 to 5.
* ``spatter``: severities 1-3 are water drops, 4-5 mud; severity 3's large water drops
  deviate more than severity 4's mud.
* ``glass_blur``: sigma .05 and .25 px are both nearly the identity on a pixel grid, and the
  second blur of severity 3 (sigma .4) partly undoes the pixel displacement: at 32 x 32 the
  deviation is flat from 1 to 2 and dips at 3 and 5. (At 8 x 8, where the displacement acts
  on the enlarged pixels, it grows.)
* ``motion_blur``: severities 3 and 4, (radius, sigma) = (6, 2) and (8, 2), are the same blur:
  the radius only sets the number of taps (13 or 17) and taps 13-16 weigh ~7e-10.
"""

from analogeq.robustness.corruptions.cifar10c import load_cifar10c
from analogeq.robustness.corruptions.constants import CIFAR10C_CONSTANTS, SEVERITIES
from analogeq.robustness.corruptions.evaluate import (
    corruption_accuracy,
    corruption_errors,
    mean_corruption_accuracy,
    mean_corruption_error,
    relative_mean_corruption_error,
)
from analogeq.robustness.corruptions.registry import (
    BENCHMARK_CORRUPTIONS,
    CORRUPTION_NAMES,
    CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    corrupt,
)

__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "CIFAR10C_CONSTANTS",
    "CORRUPTIONS",
    "CORRUPTION_NAMES",
    "EXTRA_CORRUPTIONS",
    "SEVERITIES",
    "corrupt",
    "corruption_accuracy",
    "corruption_errors",
    "load_cifar10c",
    "mean_corruption_accuracy",
    "mean_corruption_error",
    "relative_mean_corruption_error",
]
