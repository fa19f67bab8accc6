"""Reader for the released CIFAR-10-C arrays (Hendrycks & Dietterich 2019).

The release is a directory holding ``<name>.npy`` for each of the 19 corruptions, each an
array of shape (5 n, 32, 32, 3) uint8 (the n = 10000 test images at severity 1, then at
severity 2, ... 5), and ``labels.npy`` with the 5 n labels. Nothing is downloaded: point
``root`` at a local copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from analogeq.robustness.corruptions.constants import check_severity
from analogeq.robustness.corruptions.registry import check_corruption_name

CIFAR10C_IMAGE_SHAPE = (32, 32, 3)
CIFAR10C_SEVERITIES = 5
CIFAR10_NUM_CLASSES = 10


def _load_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10-C file not found: {path}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{path} is not a plain .npy array ({err})") from None


def load_cifar10c(root: str | Path, name: str, severity: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one corruption at one severity.

    Returns ``(x, y)``: ``x`` float32 (n, 3, 32, 32) in [0, 1] (uint8 / 255, channels first),
    ``y`` int64 (n,) in 0..9. Raises FileNotFoundError for a missing directory or file and
    ValueError for arrays of the wrong shape, dtype or label range.
    """
    check_corruption_name(name)
    severity = check_severity(severity)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CIFAR-10-C directory not found: {root}")
    images = _load_array(root / f"{name}.npy")
    labels = _load_array(root / "labels.npy")
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != CIFAR10C_IMAGE_SHAPE:
        raise ValueError(
            f"{root / (name + '.npy')} must be a uint8 array of shape (5 n, 32, 32, 3), "
            f"got {images.dtype} {tuple(images.shape)}"
        )
    total = images.shape[0]
    if total == 0 or total % CIFAR10C_SEVERITIES:
        raise ValueError(
            f"{root / (name + '.npy')} must hold 5 severities of n images (first axis 5 n, n >= 1), got {total}"
        )
    if labels.ndim != 1 or labels.shape[0] != total or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{root / 'labels.npy'} must be an integer array of shape ({total},) matching {name}.npy, "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )
    n = total // CIFAR10C_SEVERITIES
    block = slice((severity - 1) * n, severity * n)
    y = np.asarray(labels[block], dtype=np.int64)
    if y.min() < 0 or y.max() >= CIFAR10_NUM_CLASSES:
        raise ValueError(f"{root / 'labels.npy'} holds labels outside 0..9 (min {y.min()}, max {y.max()})")
    x = np.asarray(images[block], dtype=np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)
