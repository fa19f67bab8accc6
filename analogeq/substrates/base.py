"""The substrate protocol: one small interface for every kind of hardware a trained network runs on.

A *substrate* is a trained network bound to the thing that computes it: floating point on
CPU/GPU, an emulated resistive crossbar, an emulated spiking chip. The robustness harness,
the sweeps and the reports talk to substrates only through this interface, and never ask
which kind they hold.

Conventions (every substrate):

* Inputs are images with pixel values in [0, 1], shape ``(B, *input_shape)``, floating point,
  on ``substrate.device``. Substrates reject anything else with a :class:`ValueError` that names
  the problem (see :func:`check_input`).
* ``logits(x)`` is **one stochastic draw** of the class scores ``(B, num_classes)``; no autograd
  graph is kept. A deterministic substrate returns the same numbers on every call. Successive
  calls on a stochastic substrate are independent draws of the per-read noise (read noise,
  membrane noise); programming noise is fixed when the substrate is built (a new programming
  draw is a new substrate, built with another seed).
* ``attack_logits(x, gradient)`` is the differentiable path for white-box attacks. The
  :class:`GradientSpec` says how the settling is differentiated; non-differentiable parts
  (DAC/ADC quantisation, spikes) are passed straight through (BPDA, Athalye et al. 2018) and
  noise is reparameterised, so one call is one differentiable noise draw. On a stochastic
  substrate the noise of every example in a batch is drawn independently (K copies of one image
  in a batch are K independent draws). Expectation over transformation (EOT) is the harness's
  job: it averages K draws (copies in one batch, :mod:`analogeq.robustness.eot`).
* ``reseed(seed)`` makes the per-read noise reproducible: after ``reseed(s)`` the same calls
  give the same numbers.
* ``describe()`` is a JSON-serialisable dict of what is emulated (kind, card, settling budget).
* ``cost()`` is the energy [J] and latency [s] of one inference from the hardware's cost model,
  or ``None`` where the substrate has none (floating point).
"""

from __future__ import annotations

import abc
import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

SETTLE_GRADIENT_MODES = ("full", "implicit", "truncated")


@dataclass(frozen=True)
class GradientSpec:
    """How a white-box attack differentiates through a substrate.

    Attributes
    ----------
    settle:
        ``"full"``: backpropagation through every settling step used for prediction.
        ``"implicit"``: implicit differentiation at the fixed point s* = f(s*, x)
        (the adjoint solves g = J_f(s*)^T g + dL/ds*).
        ``"truncated"``: backpropagation through a free phase of ``truncated_steps`` steps
        from s = 0 while prediction uses the full budget (the seed study's attack, arXiv
        2401.11543; weaker where the truncated state differs from the fixed point).
        Feed-forward networks have no settling and ignore this field.
    truncated_steps:
        Number of steps for ``settle="truncated"``; must be None otherwise.
    """

    settle: str = "full"
    truncated_steps: int | None = None

    def __post_init__(self) -> None:
        if self.settle not in SETTLE_GRADIENT_MODES:
            raise ValueError(
                f"GradientSpec.settle must be one of {SETTLE_GRADIENT_MODES}, got {self.settle!r}"
            )
        if self.settle == "truncated":
            if not isinstance(self.truncated_steps, int) or self.truncated_steps < 1:
                raise ValueError(
                    "GradientSpec.truncated_steps must be an integer >= 1 when settle='truncated', "
                    f"got {self.truncated_steps!r}"
                )
        elif self.truncated_steps is not None:
            raise ValueError(
                f"GradientSpec.truncated_steps is only allowed with settle='truncated', got settle={self.settle!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Substrate(abc.ABC):
    """A trained network bound to the hardware that computes it (see the module docstring)."""

    #: short name of the kind of substrate, e.g. ``"float"``, ``"crossbar"``, ``"spiking"``
    name: str
    #: shape of one input, e.g. ``(1, 8, 8)``
    input_shape: tuple[int, ...]
    num_classes: int
    device: torch.device

    @property
    @abc.abstractmethod
    def stochastic(self) -> bool:
        """True if two calls of ``logits`` on the same input can differ."""

    @abc.abstractmethod
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """One draw of the class scores, shape ``(B, num_classes)``, without an autograd graph."""

    @abc.abstractmethod
    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        """Class scores ``(B, num_classes)`` differentiable with respect to ``x``."""

    @abc.abstractmethod
    def reseed(self, seed: int) -> None:
        """Seed the per-read noise so that the same calls give the same numbers."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description of what this substrate emulates."""

    def cost(self) -> dict[str, float] | None:
        """Energy ``energy_per_inference_J`` and latency ``latency_per_inference_s`` of one
        inference, or None where the substrate has no cost model."""
        return None

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class indices ``(B,)`` from one draw of ``logits``."""
        return self.logits(x).argmax(dim=-1)


def check_input(x: Any, input_shape: tuple[int, ...], *, name: str = "x") -> torch.Tensor:
    """Validate a batch of inputs for a substrate or model and return it unchanged.

    Raises ValueError (or TypeError for a non-tensor) naming the field and what is allowed:
    a floating-point tensor of shape ``(B, *input_shape)`` with B >= 1 and finite values.
    Range checks ([0, 1] pixels) belong to the harness, which knows what the data are.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, {', '.join(map(str, input_shape))}), got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must have a floating-point dtype, got {x.dtype}")
    expected = tuple(input_shape)
    if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"{name} must have shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); at least one input is needed")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); inputs must be finite")
    return x


def mean_ci95(values: list[float] | torch.Tensor) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student t) of a list of draws.

    With one value the half-width is ``nan`` (no interval can be given from a single draw).
    """
    import numpy as np
    from scipy import stats

    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("mean_ci95 needs at least one value")
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, half
