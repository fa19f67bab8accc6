"""In-memory datasets and their train/validation/test splits.

Every dataset the package reads ends up as an :class:`ArrayDataset`: images ``x`` of shape
``(N, C, H, W)``, float32, pixel values in [0, 1], and labels ``y`` of shape ``(N,)``, int64.
A :class:`DataSplits` holds the three splits of one dataset. Nothing is downloaded: the
readers in :mod:`analogeq.data.readers` read files the user already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from analogeq.data.errors import DataError
from hardware_models.params import check_int


@dataclass(frozen=True)
class ArrayDataset:
    """Images ``x`` (N, C, H, W) float32 in [0, 1] and labels ``y`` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise TypeError("ArrayDataset x and y must be torch tensors")
        if self.x.dtype != torch.float32:
            raise DataError(f"ArrayDataset x must be float32, got {self.x.dtype}")
        if self.y.dtype != torch.int64:
            raise DataError(f"ArrayDataset y must be int64, got {self.y.dtype}")
        if self.x.dim() != 4:
            raise DataError(f"ArrayDataset x must have shape (N, C, H, W), got {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise DataError(f"ArrayDataset y must have shape ({self.x.shape[0]},), got {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    def subset(self, n: int, seed: int = 0) -> "ArrayDataset":
        """``n`` samples drawn without replacement (seeded); the whole set if n >= len."""
        check_int("n", n, minimum=1, owner="ArrayDataset.subset")
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        idx, _ = idx.sort()
        return ArrayDataset(self.x[idx], self.y[idx])

    def to(self, device: str | torch.device) -> "ArrayDataset":
        return ArrayDataset(self.x.to(device), self.y.to(device))

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x, y)`` mini-batches (the last one may be smaller)."""
        check_int("batch_size", batch_size, minimum=1)
        n = len(self)
        if shuffle:
            order = torch.randperm(n, generator=generator).to(self.x.device)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for start in range(0, n, batch_size):
                yield self.x[start : start + batch_size], self.y[start : start + batch_size]


@dataclass(frozen=True)
class DataSplits:
    """Train, validation and test splits of one dataset."""

    name: str
    train: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.train.input_shape

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def check_fits(self, input_shape: tuple[int, ...], num_classes: int, *, source: str, trained_on: str | None = None) -> None:
        """Refuse, in one line that says what to do, a model whose input shape or class count
        differs from this dataset's (``source`` names the model, e.g. the checkpoint path)."""
        want, have = tuple(int(d) for d in input_shape), tuple(self.input_shape)
        if want == have and int(num_classes) == self.num_classes:
            return
        hint = f"evaluate it on the dataset it was trained on ({trained_on!r})" if trained_on else \
            "evaluate it on a dataset of that shape"
        raise DataError(f"{source}: the model takes inputs {want} with {num_classes} classes, but dataset "
                         f"{self.name!r} has {have} with {self.num_classes} classes; {hint}, e.g. --dataset {trained_on or 'digits'}")

    def subset(self, n_train: int | None = None, n_val: int | None = None, n_test: int | None = None, seed: int = 0) -> "DataSplits":
        """A smaller copy (None keeps a split whole); for quick runs and tests.

        The three draws are seeded ``seed``, ``seed + 1`` and ``seed + 2`` (train, val, test), not
        :func:`~hardware_models.seeds.derive_seed`: kept, since the subsets (and with them every
        number measured on them, the test fixtures' included) depend on these seeds."""
        return DataSplits(
            name=self.name,
            train=self.train if n_train is None else self.train.subset(n_train, seed),
            val=self.val if n_val is None else self.val.subset(n_val, seed + 1),
            test=self.test if n_test is None else self.test.subset(n_test, seed + 2),
            num_classes=self.num_classes,
        )


def to_dataset(images: np.ndarray, labels: np.ndarray, *, scale: float, source: str) -> ArrayDataset:
    """Build an ArrayDataset from integer or float images (N, C, H, W) divided by ``scale``."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / np.float32(scale))
    y = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64))
    if x.numel() and (not bool(torch.isfinite(x).all()) or float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise DataError(f"{source}: pixel values must lie in [0, {scale}] before scaling")
    return ArrayDataset(x, y)


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Split indices into groups of the given fractions, class by class, seeded.

    Each class's indices are shuffled with ``numpy.random.default_rng(seed)`` and cut in the
    given proportions (rounded), so every group has (close to) the class frequencies of the
    whole set. The last group takes the remainder. Returns sorted index arrays.
    """
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise DataError(f"fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    groups: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        start = 0
        for g, frac in enumerate(fractions):
            stop = len(idx) if g == len(fractions) - 1 else start + int(round(frac * len(idx)))
            groups[g].append(idx[start:stop])
            start = stop
    return [np.sort(np.concatenate(g)) for g in groups]
