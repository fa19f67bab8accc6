"""The substrate protocol: one small interface for every kind of hardware a trained network runs on.

A *substrate* is a trained network bound to the thing that computes it: floating point on
CPU/GPU, an emulated resistive crossbar, an emulated spiking chip. The robustness harness,
the sweeps and the reports talk to substrates only through this interface, and never ask
which kind they hold.

Conventions (every substrate):

* Inputs are images with pixel values in [0, 1], shape ``(B, *input_shape)``, floating point,
  on ``substrate.device``. Substrates reject anything else with a :class:`ValueError` that names
  the problem (see :func:`analogeq.contract.check_input`).
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
* ``describe()`` is a JSON-serialisable dict of what is emulated (kind, card, settling budget);
  its ``energy_model`` says how one inference's energy splits into parts (the per-event energies
  of each part and the law), or is None where there is no cost model (floating point).
* ``cost()`` is the energy [J] and latency [s] of one inference from the hardware's cost model,
  or ``None`` where the substrate has none (floating point). Its ``energy_breakdown_J`` gives the
  parts (crossbar: array, DAC, ADC, neurons; spiking: spikes, synaptic events, neuron steps;
  resistive: network, DAC, ADC) in joules; they sum to ``energy_per_inference_J``.
* ``settle_report()`` is what the settles behind ``logits`` did so far (samples, the fraction
  that converged, the median steps, the budget and the tolerance), or None where nothing settles
  on a tolerance (feed-forward networks, the spiking substrate's fixed-length run). A substrate
  records its settles with :meth:`Substrate.record_settle`; when more than 1% of the samples end
  unconverged it logs ONE warning naming the budget and the tolerance
  (:class:`analogeq.contract.SettleLog`). Every result that reports a settle carries this report.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import torch

from analogeq.contract import GradientSpec, SettleLog, SettleOutcome

__all__ = ["Substrate", "with_energy_breakdown"]


def with_energy_breakdown(cost: dict[str, Any], parts: dict[str, float]) -> dict[str, Any]:
    """``cost`` with ``energy_breakdown_J = parts`` ({part name: energy [J]}), after checking
    that the parts sum to ``cost["energy_per_inference_J"]`` (relative 1e-9): a part the cost
    model adds to the total must also be in the breakdown."""
    total = float(cost["energy_per_inference_J"])
    summed = math.fsum(float(v) for v in parts.values())
    if not math.isclose(summed, total, rel_tol=1e-9, abs_tol=1e-30):
        raise AssertionError(f"energy parts {parts} sum to {summed!r} J, not the total {total!r} J")
    cost["energy_breakdown_J"] = {name: float(v) for name, v in parts.items()}
    return cost


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

    @property
    def default_gradient(self) -> GradientSpec:
        """How ``attack_logits`` differentiates when no ``gradient`` is asked for (the harness
        uses it when its caller gives none): full backpropagation unless a substrate knows
        better (the crossbar's fused settles: implicit at the fixed point)."""
        return GradientSpec()

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

    def record_settle(self, outcome: SettleOutcome) -> None:
        """Add the settle of one batch of ``logits`` to :meth:`settle_report` (warns once when
        more than 1% of the samples so far ended unconverged; see the module docstring)."""
        log = self.__dict__.get("_settle_log")
        if log is None:
            log = self.__dict__["_settle_log"] = SettleLog(f"{self.name} substrate")
        log.add(outcome)

    def settle_report(self) -> dict[str, Any] | None:
        """``{samples, converged_fraction, median_steps, max_steps, tol, tol_unit}`` of the
        settles recorded so far, or None (nothing settled on a tolerance yet, or ever)."""
        log = self.__dict__.get("_settle_log")
        report = None if log is None else log.report()
        return None if report is None else report.to_dict()

    def reset_settle_report(self) -> None:
        """Forget the settles recorded so far."""
        self.__dict__.pop("_settle_log", None)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted class indices ``(B,)`` from one draw of ``logits``."""
        return self.logits(x).argmax(dim=-1)
