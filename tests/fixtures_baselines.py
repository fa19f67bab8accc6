"""Shared pytest fixtures of the baselines tests (imported by conftest.py).

The one-thread setting and the digits splits the baselines tests use are conftest's
(``_one_torch_thread``, ``digits_splits``)."""

from __future__ import annotations

import pytest
import torch

__all__: list[str] = ["image_batch"]


@pytest.fixture
def image_batch():
    """A factory: ``image_batch(n=12, seed=0)`` -> ``(x, y, generator)``, ``n`` random digits-sized
    images x (n, 1, 8, 8) uniform in [0, 1) and labels y (n,) in 0..9, drawn in that order from a
    CPU generator seeded with ``seed``; the generator is returned for further draws."""

    def make(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
        g = torch.Generator().manual_seed(seed)
        x = torch.rand((n, 1, 8, 8), generator=g)
        y = torch.randint(0, 10, (n,), generator=g)
        return x, y, g

    return make
