"""A layered EBM settling on emulated crossbars.

Every matrix read of the settling goes through the hardware model (see :mod:`.common`): the
forward (W) and feedback (W^T) products of a synapse are the two read directions of the SAME
arrays, with DAC, read noise, TIA noise, ADC, tiles, IR drop and drift compensation as the card
says. The neuron periphery (biases, nudging, hard sigmoid, damped update), the max-pool and its
argmax are digital. The network is known only through :class:`analogeq.contract.SettlingModel`:
the matrices come from ``crossbar_matrices()`` and the settling runs the model's own ``step``
through ``synapses_with_reads(...)``.

Settling modes (``settle_mode``):

* ``"discrete"``: the fixed-point iteration the network was trained with,
  s <- s + eps (rho(h) - s), eps = the model's ``step_size``, budget ``free_steps`` (free phase)
  or ``nudge_steps`` (nudged), stopping per sample at max |s^{t+1} - s^t| <= ``tol``;
* ``"continuous"``: the circuit tau ds/dt = -s + rho(h) with tau = r_ohm * c_F from the card's
  ``neuron`` section, integrated by exponential Euler with step dt = ``dt_over_tau`` * tau (exact
  for inputs held between reads: s <- rho(h) + (s - rho(h)) exp(-dt / tau), stable for every dt);
  the same fixed points, the same physical horizon (budget * eps * tau) and the same stationarity
  threshold |rho(h) - s| <= tol / eps; the settling time comes out in seconds (``steps * dt``).

Backends (``"auto"``: Numba): the whole settling runs in one Numba call per batch,
:mod:`.fused_settle` for dense EBMs, :mod:`.conv_settle` for convolutional ones (kernels read
on unfolded patches); the torch reads (:mod:`.reads`) implement the same reads with the same
noise keys and stay the differentiable reference. ``attack_logits`` always uses the torch reads,
with straight-through (BPDA) DAC/ADC quantisation and reparameterised noise, through
:func:`analogeq.ebm.gradients.attack_scores`; for convolutional EBMs its default gradient is the
implicit one at the fixed point found by the fused settle (no stored steps).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from analogeq.contract import GradientSpec, SettleOutcome, SettlingModel, check_input, check_labels
from analogeq.ebm.gradients import attack_scores
from analogeq.ebm.settle import settle as settle_torch
from analogeq.substrates.crossbar.common import CrossbarSubstrate
from analogeq.substrates.crossbar.conv_pack import pack_conv_network
from analogeq.substrates.crossbar.conv_settle import settle_conv_kernel
from analogeq.substrates.crossbar.fused_settle import settle_dense_kernel
from analogeq.substrates.crossbar.programmed import pack_dense_network, read_index
from hardware_models.params import ParameterError, check_float, check_one_of

__all__ = ["BACKENDS", "CrossbarEBMSubstrate", "CrossbarSettle", "SETTLE_MODES"]

SETTLE_MODES = ("discrete", "continuous")
BACKENDS = ("auto", "numba", "torch")


@dataclass
class CrossbarSettle:
    """Outcome of one settling on the crossbars.

    states: final states (one tensor per layer); logits: class scores read from them;
    steps, residual: per sample (numpy, (B,)): steps run and max |s^{t+1} - s^t| at the last
    one; tol: the tolerance it was checked against; settle_time_s: per sample, steps * dt in
    continuous mode, None in discrete mode; row_reads (R,), energy_units: totals over the batch
    for the cost model (:mod:`analogeq.substrates.crossbar.cost`).
    """

    states: list[torch.Tensor]
    logits: torch.Tensor
    steps: np.ndarray
    residual: np.ndarray
    tol: float
    settle_time_s: np.ndarray | None
    row_reads: np.ndarray
    energy_units: float

    @property
    def converged(self) -> np.ndarray:
        """Per sample: residual <= tol."""
        return self.residual <= self.tol


class CrossbarEBMSubstrate(CrossbarSubstrate):
    """A layered EBM settling on crossbars (parameters of :class:`CrossbarSubstrate`; here):

    settle_mode:
        ``"discrete"`` or ``"continuous"`` (module docstring).
    dt_over_tau:
        Integration step of the continuous mode in units of tau, in (0, 2].
    backend:
        ``"auto"`` (Numba when every matrix is a dense or a patch (convolution) read, torch
        otherwise and for convolutional EBMs on a CUDA device), ``"numba"`` or ``"torch"``.
    """

    def _check_path_options(self, model: Any, settle_mode: str, dt_over_tau: float, backend: str) -> None:
        if not isinstance(model, SettlingModel):
            raise ParameterError("CrossbarSubstrate", "model", f"must be a SettlingModel (a layered EBM), got {type(model).__name__}")
        self.settle_mode = check_one_of("settle_mode", settle_mode, SETTLE_MODES)
        self.dt_over_tau = check_float("dt_over_tau", dt_over_tau, minimum=0.0, maximum=2.0, exclusive_minimum=True)
        check_one_of("backend", backend, BACKENDS)

    def _bind_reads(self, backend: str) -> None:
        mats = self.model.crossbar_matrices()
        self.dense = all(m.read == "dense" for m in mats) and all(b.dim() == 1 for b in self.model.biases)
        #: the fused Numba settle runs dense and convolutional (patch-read) layered EBMs
        self.fusable = self.dense or all(m.read in ("dense", "patches") for m in mats)
        if backend == "numba" and not self.fusable:
            raise ValueError(
                "backend: 'numba' runs layered EBMs whose matrices are dense or convolution (patch) reads; "
                f"{type(self.model).__name__} needs backend='torch' or 'auto'"
            )
        if backend == "auto":  # the torch reads run on a GPU; the conv kernel on the host would not
            backend = "numba" if self.fusable and (self.dense or self.device.type == "cpu") else "torch"
        self.backend = backend
        self.tau_s = float(self.card.neuron.r_ohm * self.card.neuron.c_F)
        self._model_ct = self._continuous_twin()
        pairs = [(self.torch_reads[read_index(m, "forward")], self.torch_reads[read_index(m, "backward")])
                 for m in range(len(self.programmed))]
        self.synapses = self.model.synapses_with_reads(pairs)
        self._packed = None
        self._rows_per_call = np.repeat([float(m.rows_per_read) for m in mats], 2)
        if self.dense:
            sizes = [int(s[0]) for s in self.model.state_shapes]
            biases = [b.detach().cpu().numpy() for b in self.model.biases]
            ro_bias = None if self.model.readout is None else self.model.readout_bias.detach().cpu().numpy()
            self._packed = pack_dense_network(self.read_models, self.line_g, sizes, biases, ro_bias, self.num_classes)
        elif self.fusable:
            self._packed = pack_conv_network(self.model, self.read_models, self.line_g)

    # ------------------------------------------------------------------ mapping
    def _matrices(self) -> tuple[list[str], list[np.ndarray]]:
        with torch.no_grad():
            mats = self.model.crossbar_matrices()
            return [m.name for m in mats], [m.weight.detach().cpu().double().numpy() for m in mats]

    def _continuous_twin(self) -> nn.Module:
        """The model with the continuous-time step: eps = 1 - exp(-dt/tau), budgets over the same
        physical horizon, tolerance on the same stationarity |rho(h) - s|."""
        cfg = self.model.config
        eps_model = float(self.model.step_size)
        eps = -math.expm1(-self.dt_over_tau)
        twin = copy.copy(self.model)  # shares parameters and synapses
        twin.step_size = eps
        twin.config = dataclasses.replace(
            cfg,
            free_steps=self._ct_steps(cfg.free_steps),
            nudge_steps=self._ct_steps(cfg.nudge_steps),
            tol=cfg.tol * eps / eps_model,
            step_size=eps,
        )
        return twin

    def _ct_steps(self, budget: int) -> int:
        return max(1, math.ceil(budget * float(self.model.step_size) / self.dt_over_tau - 1e-9))

    def _model_for(self, mode: str) -> nn.Module:
        return self._model_ct if mode == "continuous" else self.model

    # ------------------------------------------------------------------ protocol
    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_shape)
        return self.settle(x.to(self.device, torch.float32)).logits

    @property
    def default_gradient(self) -> GradientSpec:
        """The attack gradient when none is asked for: implicit at the fixed point of the fused
        Numba settle (memory and time independent of the settling steps), for dense and
        convolutional EBMs alike; full backpropagation through the torch reads where the settle
        is not fused (``backend="torch"``). On the digits EBM on PCM at 1 h one implicit gradient
        cost 1/10-1/30 of full backprop through 150 noisy steps, with cosine >= 0.97 (median
        0.997) between the two; the suite's gradient-mode comparison still reports both."""
        return GradientSpec("implicit") if self.backend == "numba" else GradientSpec("full")

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec | None = None) -> torch.Tensor:
        """Class scores differentiable with respect to ``x`` through the torch reads (BPDA
        converters, reparameterised noise), with ``gradient`` (default :attr:`default_gradient`).
        In ``implicit`` mode the fixed point comes from the fused settle
        (the same reads, no graph); one step at it is recorded through the torch reads and the
        adjoint iterates on that step."""
        check_input(x, self.input_shape)
        gradient = self.default_gradient if gradient is None else gradient
        if not isinstance(gradient, GradientSpec):
            raise TypeError(f"gradient must be a GradientSpec, got {type(gradient).__name__}")
        x = x.to(self.device, torch.float32)
        model = self._model_for(self.settle_mode)
        fixed_point = None
        if gradient.settle == "implicit" and self.backend == "numba":
            with torch.no_grad():
                fixed_point = self.settle(x.detach(), record=False).states
        self.keys.new_phase(model.config.free_steps + 2)
        return attack_scores(model, x, gradient, synapses=self.synapses, fixed_point=fixed_point)

    def _describe_path(self) -> dict[str, Any]:
        m = self._model_for(self.settle_mode)
        return {"settle": {
            "mode": self.settle_mode,
            "step_size": float(m.step_size),
            "free_steps": m.config.free_steps,
            "nudge_steps": m.config.nudge_steps,
            "tol": m.config.tol,
            "tau_s": self.tau_s,
            "dt_s": self.dt_over_tau * self.tau_s if self.settle_mode == "continuous" else None,
        }}

    # ------------------------------------------------------------------ cost inputs
    def _n_neurons(self) -> int:
        return int(sum(math.prod(s) for s in self.model.state_shapes))

    def _settle_time(self, steps: float) -> float | None:
        return steps * self.dt_over_tau * self.tau_s if self.settle_mode == "continuous" else None

    def _nominal_reads(self) -> tuple[np.ndarray, float]:
        rows = np.repeat([float(m.rows_per_read) for m in self.model.crossbar_matrices()], 2)
        steps = float(self._model_for(self.settle_mode).config.free_steps)
        counts = rows * steps
        counts[1] = 0.0  # the input layer gets no feedback
        if self.model.readout is not None:
            m = len(self.model.synapses)
            counts[2 * m] = rows[2 * m]  # one readout read at the end of the free phase
            counts[2 * m + 1] = 0.0
        return counts, steps

    # ------------------------------------------------------------------ settling
    @torch.no_grad()
    def settle(
        self,
        x: torch.Tensor,
        *,
        beta: float = 0.0,
        y: torch.Tensor | None = None,
        states: list[torch.Tensor] | None = None,
        mode: str | None = None,
        backend: str | None = None,
        record: bool | None = None,
    ) -> CrossbarSettle:
        """One phase on the crossbars: free (``beta = 0``, from zeros or ``states``) or nudged
        towards labels ``y`` with strength ``beta`` (budget ``nudge_steps``), in ``mode``
        (default: the substrate's) with ``backend`` (default: the substrate's). Free phases are
        counted by :meth:`cost` (``record``; default: when ``beta == 0``)."""
        mode = check_one_of("mode", self.settle_mode if mode is None else mode, SETTLE_MODES)
        backend = check_one_of("backend", self.backend if backend is None else backend, ("numba", "torch"))
        if backend == "numba" and not self.fusable:
            raise ValueError("backend: 'numba' runs layered EBMs whose matrices are dense or convolution (patch) reads")
        x = x.to(self.device, torch.float32)
        if beta != 0.0:
            if y is None:
                raise ValueError("y (labels) is required when beta != 0")
            y = check_labels(y, self.num_classes, x.shape[0]).to(self.device)
        model = self._model_for(mode)
        cfg = model.config
        max_steps = cfg.free_steps if beta == 0.0 else cfg.nudge_steps
        batch = x.shape[0]
        run = self._settle_numba if backend == "numba" else self._settle_torch
        result = run(model, x, beta, y, states, max_steps, cfg.tol)
        if mode == "continuous":
            result.settle_time_s = result.steps * self.dt_over_tau * self.tau_s
        if record if record is not None else beta == 0.0:
            self._record(batch, result.row_reads, result.energy_units, steps=float(result.steps.sum()),
                         settle_time_s=None if result.settle_time_s is None else float(result.settle_time_s.sum()))
            self.record_settle(SettleOutcome(result.steps, result.converged, max_steps, cfg.tol,
                                             budget_field="free_steps" if beta == 0.0 else "nudge_steps"))
        return result

    def _settle_numba(self, model, x, beta, y, states, max_steps, tol) -> CrossbarSettle:
        batch = x.shape[0]
        sizes = [math.prod(s) for s in self.model.state_shapes]
        xs = np.ascontiguousarray(x.reshape(batch, -1).cpu().numpy(), dtype=np.float32)
        if states is None:
            s0 = np.zeros((batch, int(sum(sizes))), dtype=np.float32)
        else:
            s0 = np.ascontiguousarray(torch.cat([s.reshape(batch, -1) for s in states], dim=1).cpu().numpy(),
                                      dtype=np.float32)
        labels = np.zeros(batch, dtype=np.int64) if y is None else y.cpu().numpy().astype(np.int64)
        table = self.keys.new_phase(max_steps + 2)
        kernel = settle_dense_kernel if self.dense else settle_conv_kernel
        out, logits, steps, residual, energy, counts = kernel(
            self._packed, xs, s0, labels, beta, float(model.step_size), max_steps, tol, table.table,
        )
        flat = torch.from_numpy(out).to(self.device)
        states_out = [part.reshape(batch, *shape) for part, shape in
                      zip(torch.split(flat, sizes, dim=1), self.model.state_shapes)]
        row_reads = counts.sum(axis=0).astype(np.float64) * (1.0 if self.dense else self._rows_per_call)
        return CrossbarSettle(states=states_out, logits=torch.from_numpy(logits).to(self.device),
                              steps=steps, residual=residual, tol=tol, settle_time_s=None,
                              row_reads=row_reads, energy_units=float(energy.sum()))

    def _settle_torch(self, model, x, beta, y, states, max_steps, tol) -> CrossbarSettle:
        batch = x.shape[0]
        meter = self._attach_meter()
        self.keys.new_phase(max_steps + 2)
        try:
            res = settle_torch(model, x, max_steps=max_steps, tol=tol, states=states, beta=beta, y=y,
                               synapses=self.synapses)
            logits = model.output(res.states, self.synapses)
        finally:
            self._detach_meter()
        return CrossbarSettle(states=res.states, logits=logits, steps=np.full(batch, res.steps, dtype=np.int64),
                              residual=np.full(batch, res.residual), tol=tol, settle_time_s=None,
                              row_reads=meter.row_reads.astype(np.float64), energy_units=meter.energy_units)
