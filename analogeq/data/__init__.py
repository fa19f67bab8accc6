"""Datasets: scikit-learn's bundled digits (default) and MNIST / CIFAR-10 / CIFAR-100 from local files.

``load_dataset(name, root=None, seed=0) -> DataSplits(train, val, test)``; every split is an
:class:`ArrayDataset` with images (N, C, H, W) float32 in [0, 1] and labels (N,) int64. A dataset
that is unknown, missing, broken or of the wrong shape raises :class:`DataError` (an ``AnalogeqError``).
"""

from analogeq.data.base import ArrayDataset, DataSplits, stratified_split
from analogeq.data.datasets import DATASETS, load_dataset, load_digits_splits
from analogeq.data.errors import DataError

__all__ = ["ArrayDataset", "DATASETS", "DataError", "DataSplits", "load_dataset", "load_digits_splits", "stratified_split"]
