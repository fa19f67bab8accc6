"""The registry of the 19 corruptions and :func:`corrupt`, the one validated entry point."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, TypeVar

import numpy as np

from analogeq.robustness.corruptions import blur, digital, noise, weather
from analogeq.robustness.corruptions._common import image_rngs
from analogeq.robustness.corruptions.constants import check_severity
from hardware_models.params import check_int

ArrayLike = TypeVar("ArrayLike")

#: the 15 corruptions of the CIFAR-10-C benchmark, in the published order
BENCHMARK_CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
#: the 4 extra corruptions released with CIFAR-10-C (held out for validation)
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
CORRUPTION_NAMES = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS

_KERNELS: dict[str, Callable[[np.ndarray, int, list[np.random.Generator]], np.ndarray]] = {
    "gaussian_noise": noise.gaussian_noise,
    "shot_noise": noise.shot_noise,
    "impulse_noise": noise.impulse_noise,
    "speckle_noise": noise.speckle_noise,
    "defocus_blur": blur.defocus_blur,
    "glass_blur": blur.glass_blur,
    "motion_blur": blur.motion_blur,
    "zoom_blur": blur.zoom_blur,
    "gaussian_blur": blur.gaussian_blur,
    "snow": weather.snow,
    "frost": weather.frost,
    "fog": weather.fog,
    "spatter": weather.spatter,
    "brightness": digital.brightness,
    "contrast": digital.contrast,
    "saturate": digital.saturate,
    "elastic_transform": digital.elastic_transform,
    "pixelate": digital.pixelate,
    "jpeg_compression": digital.jpeg_compression,
}

#: smallest image side accepted [pixels]
MIN_SIZE_PX = 4


def check_corruption_name(name: Any) -> str:
    """Return ``name`` if it names one of the 19 corruptions, else raise ValueError listing them."""
    if not isinstance(name, str) or name not in _KERNELS:
        raise ValueError(f"unknown corruption name {name!r}; allowed: {', '.join(CORRUPTION_NAMES)}")
    return name


def _to_numpy(images: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The batch as float64 numpy and a function that converts a result back to the input's type."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(images, torch.Tensor):
        if not torch.is_floating_point(images):
            raise ValueError(f"images must be floating point in [0, 1], got dtype {images.dtype} (divide uint8 by 255)")
        dtype, device = images.dtype, images.device
        array = images.detach().cpu().to(torch.float64).numpy()
        return array, lambda out: torch.from_numpy(np.ascontiguousarray(out)).to(device=device, dtype=dtype)
    if isinstance(images, np.ndarray):
        if not np.issubdtype(images.dtype, np.floating):
            raise ValueError(f"images must be floating point in [0, 1], got dtype {images.dtype} (divide uint8 by 255)")
        dtype = images.dtype
        return images.astype(np.float64), lambda out: out.astype(dtype, copy=False)
    raise TypeError(f"images must be a numpy array or torch tensor of shape (N, C, H, W), got {type(images).__name__}")


def check_images(array: np.ndarray) -> None:
    """Raise ValueError unless ``array`` is (N, C, H, W), N >= 1, C in {1, 3}, H, W >= 4, finite, in [0, 1]."""
    if array.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {array.shape}")
    n, c, h, w = array.shape
    if n == 0:
        raise ValueError("images is an empty batch (N = 0); at least one image is needed")
    if c not in (1, 3):
        raise ValueError(f"images must have C = 1 (grayscale) or 3 (RGB) channels in axis 1, got C = {c} (shape {array.shape})")
    if h < MIN_SIZE_PX or w < MIN_SIZE_PX:
        raise ValueError(f"images must be at least {MIN_SIZE_PX} x {MIN_SIZE_PX} pixels, got {h} x {w}")
    if not np.isfinite(array).all():
        raise ValueError(f"images contain {int((~np.isfinite(array)).sum())} NaN or infinite value(s)")
    lo, hi = float(array.min()), float(array.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"images must have values in [0, 1], got min {lo:.6g} and max {hi:.6g}")


def corrupt(images: ArrayLike, name: str, severity: int, seed: int = 0, *, first_index: int = 0) -> ArrayLike:
    """Corrupt a batch of images with one CIFAR-10-C corruption at one severity.

    Parameters
    ----------
    images:
        numpy array or torch tensor (N, C, H, W), floating point, values in [0, 1],
        C = 1 or 3, H, W >= 4. Returned in the same type, dtype and device.
    name:
        one of :data:`CORRUPTION_NAMES`.
    severity:
        1..5 (the published CIFAR-10-C constants).
    seed:
        non-negative integer. Same seed, same output.
    first_index:
        index of the first image of the batch in its data set: image j uses the random stream
        (seed, first_index + j), so a data set corrupted in chunks equals one call on all of it.

    The output stays in [0, 1]. See the package docstring for how lengths scale with image size.
    """
    check_corruption_name(name)
    severity = check_severity(severity)
    seed = check_int("seed", seed, minimum=0)
    first_index = check_int("first_index", first_index, minimum=0)
    array, back = _to_numpy(images)
    check_images(array)
    rngs = image_rngs(seed, first_index, array.shape[0])
    out = _KERNELS[name](array, severity, rngs)
    out = np.clip(out, 0.0, 1.0)
    return back(out)


def _public(name: str) -> Callable[..., Any]:
    kernel = _KERNELS[name]

    def corruption(images: ArrayLike, severity: int, seed: int = 0, *, first_index: int = 0) -> ArrayLike:
        return corrupt(images, name, severity, seed, first_index=first_index)

    corruption.__name__ = name
    corruption.__qualname__ = name
    corruption.__doc__ = (kernel.__doc__ or "") + "\n\n    Same arguments as :func:`corrupt` without ``name``."
    return corruption


#: name -> function(images, severity, seed=0, *, first_index=0), each equal to ``corrupt`` with that name
CORRUPTIONS: MappingProxyType = MappingProxyType({name: _public(name) for name in CORRUPTION_NAMES})
