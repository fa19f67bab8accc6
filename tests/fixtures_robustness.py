"""Shared pytest fixtures and test substrates of the robustness tests (imported by conftest.py).

The one-thread setting is conftest's (``_one_torch_thread``). Test modules import the classes
and helpers by name (``from fixtures_robustness import NoisyLogits``); the fixtures reach them
through conftest (names in ``__all__``).

* :class:`NearestMean`: the closed-form digits classifier, logits = scale (x . mu_c - |mu_c|^2 / 2).
* :class:`NoisyLogits`: a stochastic substrate, an inner substrate plus fresh Gaussian logit noise
  of std ``noise`` on every call (seeded by ``reseed``).
* :func:`plain_fgsm`: x + eps sign(grad CE), clipped to [0, 1] (a reference attack).
* :func:`digits_split` and :func:`train_mlp`: the seeded 1400 / 397 digits split and the
  64-64-10 MLP trained on it (Adam, full batch).
* fixtures ``digits_images`` (all 1797 digits as (N, 1, 8, 8) in [0, 1] and labels) and
  ``nearest_mean_digits`` (a float NearestMean substrate fitted on the first 1000, with x, y).
"""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from analogeq.contract import GradientSpec, as_classifier, check_input
from analogeq.substrates.base import Substrate
from analogeq.substrates.float import FloatSubstrate

__all__: list[str] = ["digits_images", "nearest_mean_digits"]


class NearestMean(nn.Module):
    """Closed-form digits classifier: logits = scale (x . mu_c - |mu_c|^2 / 2), mu_c the class means."""

    def __init__(self, x, y, scale=2.0):
        super().__init__()
        self.register_buffer("mu", torch.stack([x[y == c].flatten(1).mean(0) for c in range(10)]))
        self.scale = scale

    def forward(self, x):
        return self.scale * (x.flatten(1) @ self.mu.T - 0.5 * (self.mu**2).sum(1))


class NoisyLogits(Substrate):
    """Stochastic substrate: ``inner``'s logits plus fresh Gaussian noise of std ``noise`` on
    every call. ``declared`` is what ``stochastic`` says (a substrate that lies about it must
    fail the randomness gate); with ``noisy_gradient`` the attack path draws the noise too
    (reparameterised), else it is ``inner``'s exact path."""

    name = "noisy"
    device = torch.device("cpu")

    def __init__(self, inner: Substrate, noise: float, declared: bool = True, noisy_gradient: bool = False):
        self.inner, self.noise = inner, noise
        self.declared, self.noisy_gradient = declared, noisy_gradient
        self.input_shape, self.num_classes = inner.input_shape, inner.num_classes
        self.gen = torch.Generator().manual_seed(0)

    @property
    def stochastic(self):
        return self.declared

    def _noise(self, out):
        return self.noise * torch.randn(out.shape, generator=self.gen)

    def logits(self, x):
        check_input(x, self.input_shape)
        out = self.inner.logits(x)
        return out + self._noise(out)

    def attack_logits(self, x, gradient=GradientSpec()):
        out = self.inner.attack_logits(x, gradient)
        return out + self._noise(out) if self.noisy_gradient else out

    def reseed(self, seed):
        self.gen.manual_seed(seed)

    def describe(self):
        return {"substrate": self.name, "noise": self.noise}


def plain_fgsm(substrate: Substrate, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Plain FGSM (Goodfellow et al. 2015): x + eps sign(grad CE), clipped to [0, 1]."""
    x = x.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(substrate.attack_logits(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()


def float_substrate(module: nn.Module, shape=(1, 8, 8), classes: int = 10) -> FloatSubstrate:
    """``module`` as a float substrate on inputs of ``shape`` with ``classes`` classes."""
    return FloatSubstrate(as_classifier(module, shape, classes))


def digits_split(n_train: int = 1400):
    """Digits (N, 1, 8, 8) in [0, 1], shuffled with seed 0: (x_train, y_train, x_test, y_test)."""
    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(data.target, dtype=torch.int64)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:n_train]], y[perm[:n_train]], x[perm[n_train:]], y[perm[n_train:]]


def train_mlp(seed: int, x, y, epochs: int = 200) -> nn.Module:
    """A 64-64-10 ReLU MLP trained full batch with Adam (lr 0.01) from torch seed ``seed``."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="session")
def digits_images():
    """All 1797 digits in data-set order: x (N, 1, 8, 8) float32 in [0, 1], y (N,) int64."""
    d = load_digits()
    return torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None], torch.tensor(d.target, dtype=torch.int64)


@pytest.fixture(scope="session")
def nearest_mean_digits(digits_images):
    """(substrate, x, y): a float NearestMean substrate fitted on the first 1000 digits, and all digits."""
    x, y = digits_images
    return float_substrate(NearestMean(x[:1000], y[:1000])), x, y
