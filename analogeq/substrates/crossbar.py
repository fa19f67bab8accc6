"""The crossbar substrate: a trained network computed on emulated resistive crossbars.

Mapping (see :mod:`analogeq.crossbar` for the pieces):

* every weight matrix is programmed onto :class:`hardware_models.crossbar.CrossbarArray` tiles
  from the card, one programming draw per substrate (``seed``): the dense synapses of a layered
  EBM, its convolution kernels as (C_out, C_in k^2) matrices read on unfolded patches, its ``ce``
  readout; or the ``nn.Linear`` / ``nn.Conv2d`` layers of a feed-forward network;
* every matrix read of the settling goes through the hardware model at ``drift_time_s`` after
  programming: forward (W) and feedback (W^T) are the two read directions of the SAME arrays
  (:meth:`CrossbarArray.read_model`), with DAC, read noise, TIA noise, ADC, tiles, IR drop and
  drift compensation as the card says;
* the neuron periphery (biases, nudging, hard sigmoid, damped update), the max-pool and its
  argmax, and for feed-forward networks everything that is not a weight read are digital.

Settling modes (``settle_mode``):

* ``"discrete"``: the fixed-point iteration the network was trained with,
  s <- s + eps (rho(h) - s), eps = the model's ``step_size``, budget ``free_steps`` (free phase)
  or ``nudge_steps`` (nudged), stopping per sample at max |s^{t+1} - s^t| <= ``tol``;
* ``"continuous"``: the circuit tau ds/dt = -s + rho(h) with tau = r_ohm * c_F from the card's
  ``neuron`` section, integrated by exponential Euler with step dt = ``dt_over_tau`` * tau (exact
  for inputs held between reads: s <- rho(h) + (s - rho(h)) exp(-dt / tau), stable for every dt);
  the same fixed points, the same physical horizon (budget * eps * tau) and the same stationarity
  threshold |rho(h) - s| <= tol / eps; the settling time comes out in seconds (``steps * dt``).

Backends: a dense layered EBM settles in one Numba call per batch
(:mod:`analogeq.crossbar.kernels`); convolutional EBMs and feed-forward networks run the torch
reads (:mod:`analogeq.crossbar.reads`), which implement the same read with the same noise keys.
``attack_logits`` always uses the torch reads, with straight-through (BPDA) DAC/ADC
quantisation and reparameterised noise, through :func:`analogeq.ebm.gradients.attack_scores`.

    from analogeq.substrates import build_substrate
    sub = build_substrate("crossbar", model, card="pcm", drift_time_s=3600.0, seed=0)
    scores = sub.logits(x)          # one draw of the read noise
    sub.cost()                      # energy and latency per inference (mean of the inferences run)
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from analogeq.crossbar.cards import card_name, check_drift_time, resolve_card
from analogeq.crossbar.cost import inference_cost, upper_bound_energy_units
from analogeq.crossbar.network import ProgrammedMatrices, pack_dense_network, read_index
from analogeq.crossbar.reads import (
    HardwareConv2d,
    HardwareConvSynapse,
    HardwareDenseSynapse,
    HardwareLinear,
    KeySource,
    ReadMeter,
    TorchRead,
)
from analogeq.substrates import register_substrate
from analogeq.substrates.base import GradientSpec, Substrate, check_input

logger = logging.getLogger(__name__)

SETTLE_MODES = ("discrete", "continuous")
BACKENDS = ("auto", "numba", "torch")
DEFAULT_CARD = "pcm"


@dataclass
class CrossbarSettle:
    """Outcome of one settling on the crossbars.

    states: final states (one tensor per layer); logits: class scores read from them;
    steps, residual: per sample (numpy, (B,)): steps run and max |s^{t+1} - s^t| at the last
    one; tol: the tolerance it was checked against; settle_time_s: per sample, steps * dt in
    continuous mode, None in discrete mode; row_reads (R,), energy_units: totals over the batch
    for the cost model (:mod:`analogeq.crossbar.cost`).
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


def _is_layered_ebm(model: Any) -> bool:
    from analogeq.ebm.layered import LayeredEBM

    return isinstance(model, LayeredEBM)


class CrossbarSubstrate(Substrate):
    """A network (layered EBM or feed-forward) on emulated crossbars (see the module docstring).

    Parameters
    ----------
    model:
        A trained :class:`~analogeq.ebm.layered.LayeredEBM` (dense or convolutional) or a
        feed-forward ``nn.Module`` following the ClassifierModel convention whose weight reads
        are ``nn.Linear`` / ``nn.Conv2d`` layers (the baselines). A copy is taken: later changes
        of ``model`` do not reach the programmed arrays.
    card:
        Crossbar card: object, preset name, card file path or dict (default ``"pcm"``).
    drift_time_s:
        Time between programming and inference [s], >= 0 (default 3600: one hour).
    seed:
        Programming draw (every matrix, from ``SeedSequence(seed)``) and initial read-noise seed.
    settle_mode:
        ``"discrete"`` or ``"continuous"`` (EBMs only).
    dt_over_tau:
        Integration step of the continuous mode in units of tau, in (0, 2].
    backend:
        ``"auto"`` (Numba for dense EBMs, torch otherwise), ``"numba"`` (dense EBMs only) or ``"torch"``.
    max_tiles:
        Physical tiles available (None: as many as the network needs); more needed is an error.
    device:
        Torch device of the torch reads (the Numba path runs on the CPU).
    programmed:
        Arrays already programmed with this network's matrices (in read order, e.g. trained in
        situ, :func:`analogeq.crossbar.training.train_in_situ`); then ``seed`` only seeds the
        read noise and the weights of ``model`` are not used (its biases and structure are).
    """

    name = "crossbar"

    def __init__(
        self,
        model: nn.Module,
        card: Any = DEFAULT_CARD,
        *,
        drift_time_s: float = 3600.0,
        seed: int = 0,
        settle_mode: str = "discrete",
        dt_over_tau: float = 0.25,
        backend: str = "auto",
        max_tiles: int | None = None,
        device: str | torch.device = "cpu",
        programmed: ProgrammedMatrices | None = None,
    ):
        from analogeq.substrates.float import ClassifierModel

        if not isinstance(model, nn.Module) or not isinstance(model, ClassifierModel):
            raise TypeError(
                "model must be a torch nn.Module following the ClassifierModel convention (input_shape, num_classes, "
                f"forward, forward_for_attack), e.g. a DenseEBM, ConvEBM or a baseline; got {type(model).__name__}"
            )
        self.card = resolve_card(card)
        self.drift_time_s = check_drift_time(drift_time_s)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        if settle_mode not in SETTLE_MODES:
            raise ValueError(f"settle_mode must be one of {SETTLE_MODES}, got {settle_mode!r}")
        if isinstance(dt_over_tau, bool) or not isinstance(dt_over_tau, (int, float)) or not (0.0 < dt_over_tau <= 2.0):
            raise ValueError(f"dt_over_tau (continuous-time step in units of tau) must be in (0, 2], got {dt_over_tau!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for but torch.cuda.is_available() is False")
        self.settle_mode = settle_mode
        self.dt_over_tau = float(dt_over_tau)
        self.model = copy.deepcopy(model).to(self.device).float().eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.input_shape = tuple(int(d) for d in model.input_shape)
        self.num_classes = int(model.num_classes)
        self.is_ebm = _is_layered_ebm(self.model)
        if not self.is_ebm and settle_mode != "discrete":
            raise ValueError("settle_mode='continuous' needs a layered EBM; a feed-forward network does not settle")
        names, weights = self._matrices()
        self.dense = self.is_ebm and self._is_dense_ebm()
        if backend == "numba" and not self.dense:
            raise ValueError(
                "backend='numba' runs dense layered EBMs only (DenseSynapse layers and readout); "
                f"{type(model).__name__} needs backend='torch' or 'auto'"
            )
        self.backend = ("numba" if self.dense else "torch") if backend == "auto" else backend
        if programmed is None:
            self.programmed = ProgrammedMatrices(names, [w.astype(np.float64) for w in weights], self.card,
                                                 seed=self.seed, max_tiles=max_tiles)
        else:
            if not isinstance(programmed, ProgrammedMatrices):
                raise TypeError(f"programmed must be a ProgrammedMatrices, got {type(programmed).__name__}")
            shapes = [tuple(w.shape) for w in weights]
            if [tuple(a.shape) for a in programmed.arrays] != shapes:
                raise ValueError(f"programmed arrays have shapes {[a.shape for a in programmed.arrays]}, "
                                 f"the network's matrices {shapes}")
            self.programmed = programmed
        self.keys = KeySource(self.seed, self.programmed.n_reads)
        if self.is_ebm:
            self.tau_s = float(self.card.neuron.r_ohm * self.card.neuron.c_F)
            self._model_ct = self._continuous_twin()
        self._build_reads()
        self._stats = {"inferences": 0, "row_reads": np.zeros(self.programmed.n_reads), "energy_units": 0.0,
                       "steps": 0.0, "settle_time_s": 0.0}

    # ------------------------------------------------------------------ mapping
    def _matrices(self) -> tuple[list[str], list[np.ndarray]]:
        """Names and (n_out, n_in) matrices of every weight read, in read order."""
        names, weights = [], []
        with torch.no_grad():
            if self.is_ebm:
                from analogeq.ebm.conv import ConvPoolSynapse
                from analogeq.ebm.synapses import DenseSynapse

                for k, syn in enumerate(self.model.synapses):
                    if isinstance(syn, DenseSynapse):
                        w = syn.weight
                    elif isinstance(syn, ConvPoolSynapse):
                        w = syn.weight_matrix()
                    else:
                        raise ValueError(
                            f"synapse {k + 1} is a {type(syn).__name__}; the crossbar substrate maps DenseSynapse "
                            "and ConvPoolSynapse"
                        )
                    names.append(f"layer{k + 1}")
                    weights.append(w.detach().cpu().double().numpy())
                if self.model.readout is not None:
                    names.append("readout")
                    weights.append(self.model.readout.weight.detach().cpu().double().numpy())
            else:
                from analogeq.baselines.models.common import mapped_layers

                layers = mapped_layers(self.model)
                if not layers:
                    raise ValueError(
                        f"{type(self.model).__name__} has no nn.Linear or nn.Conv2d layer to program on a crossbar"
                    )
                for name, layer in layers:
                    if isinstance(layer, nn.Conv2d):
                        if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                            raise ValueError(
                                f"layer {name!r}: the crossbar substrate maps nn.Conv2d with groups=1, zero padding "
                                f"given as integers; got groups={layer.groups}, padding={layer.padding!r}, "
                                f"padding_mode={layer.padding_mode!r}"
                            )
                        w = layer.weight.reshape(layer.out_channels, -1)
                    else:
                        w = layer.weight
                    names.append(name)
                    weights.append(w.detach().cpu().double().numpy())
        return names, weights

    def _is_dense_ebm(self) -> bool:
        from analogeq.ebm.synapses import DenseSynapse

        return all(isinstance(s, DenseSynapse) for s in self.model.all_synapses()) and all(
            b.dim() == 1 for b in self.model.biases
        )

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

    def _build_reads(self) -> None:
        """Torch reads (and the packed Numba network) of every matrix at ``drift_time_s``."""
        t = self.drift_time_s
        self.read_models = self.programmed.read_models(t)
        self.line_g = self.programmed.line_conductances(t)
        self.torch_reads = [TorchRead(m, r, self.keys, self.line_g[r], self.device) for r, m in enumerate(self.read_models)]
        if self.is_ebm:
            from analogeq.ebm.conv import ConvPoolSynapse

            syns: list[Any] = []
            all_syn = self.model.all_synapses()
            for m, syn in enumerate(all_syn):
                fwd, bwd = self.torch_reads[read_index(m, "forward")], self.torch_reads[read_index(m, "backward")]
                if isinstance(syn, ConvPoolSynapse):
                    syns.append(HardwareConvSynapse(syn, fwd, bwd))
                else:
                    syns.append(HardwareDenseSynapse(fwd, bwd, syn.pre_shape))
            self.synapses = syns
            self._packed = None
            if self.dense:
                sizes = [int(s[0]) for s in self.model.state_shapes]
                biases = [b.detach().cpu().numpy() for b in self.model.biases]
                ro_bias = None if self.model.readout is None else self.model.readout_bias.detach().cpu().numpy()
                self._packed = pack_dense_network(self.read_models, self.line_g, sizes, biases, ro_bias, self.num_classes)
        else:
            from analogeq.baselines.models.common import mapped_layers

            hw = copy.deepcopy(self.model)
            for m, (name, layer) in enumerate(mapped_layers(hw)):
                read = self.torch_reads[read_index(m, "forward")]
                new = HardwareConv2d(layer, read) if isinstance(layer, nn.Conv2d) else HardwareLinear(layer, read)
                parent_name, _, child = name.rpartition(".")
                setattr(hw.get_submodule(parent_name) if parent_name else hw, child, new)
            self.hardware_model = hw.eval()

    # ------------------------------------------------------------------ protocol
    @property
    def stochastic(self) -> bool:
        return any(m.sigma2_eff is not None or bool(np.any(m.out_noise_std > 0)) for m in self.read_models)

    def reseed(self, seed: int) -> None:
        self.keys.reseed(seed)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_shape)
        x = x.to(self.device, torch.float32)
        if not self.is_ebm:
            meter = self._attach_meter()
            self.keys.new_phase(2)
            try:
                scores = self.hardware_model(x)
            finally:
                self._detach_meter()
            self._record(x.shape[0], meter.row_reads, meter.energy_units, steps=0.0, settle_time_s=None)
            return scores
        result = self.settle(x)
        return result.logits

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        check_input(x, self.input_shape)
        if not isinstance(gradient, GradientSpec):
            raise TypeError(f"gradient must be a GradientSpec, got {type(gradient).__name__}")
        x = x.to(self.device, torch.float32)
        if not self.is_ebm:
            self.keys.new_phase(2)
            with torch.enable_grad():
                return self.hardware_model(x)
        from analogeq.ebm.gradients import attack_scores

        model = self._model_for(self.settle_mode)
        self.keys.new_phase(model.config.free_steps + 2)
        return attack_scores(model, x, gradient, synapses=self.synapses)

    def describe(self) -> dict[str, Any]:
        config = getattr(self.model, "config", None)
        out = {
            "substrate": self.name,
            "device": str(self.device),
            "card": self.card.to_dict(),
            "card_name": card_name(self.card),
            "drift_time_s": self.drift_time_s,
            "seed": self.seed,
            "model": type(self.model).__name__,
            "model_config": config.to_dict() if hasattr(config, "to_dict") else None,
            "backend": self.backend,
            "matrices": self.programmed.describe(),
            "tiles": int(sum(self.programmed.tiles_per_matrix)),
            "stochastic": self.stochastic,
        }
        if self.is_ebm:
            m = self._model_for(self.settle_mode)
            out["settle"] = {
                "mode": self.settle_mode,
                "step_size": float(m.step_size),
                "free_steps": m.config.free_steps,
                "nudge_steps": m.config.nudge_steps,
                "tol": m.config.tol,
                "tau_s": self.tau_s,
                "dt_s": self.dt_over_tau * self.tau_s if self.settle_mode == "continuous" else None,
            }
        return out

    def cost(self) -> dict[str, Any]:
        """Energy and latency per inference: the mean over the inferences ``logits`` has run so
        far (``basis: "measured"``), or before any, an upper bound with the full step budget and
        every input at full scale (``basis: "bound"``). See :mod:`analogeq.crossbar.cost`."""
        st = self._stats
        n_neurons = self._n_neurons()
        if st["inferences"] > 0:
            n = st["inferences"]
            settle_time = st["settle_time_s"] / n if self.settle_mode == "continuous" and self.is_ebm else None
            out = inference_cost(self.card, self.read_models, st["row_reads"] / n, st["energy_units"] / n,
                                 st["steps"] / n, n_neurons, settle_time_s=settle_time)
            out.update(basis="measured", inferences=n)
            return out
        row_reads, steps = self._nominal_reads()
        units = float(row_reads @ upper_bound_energy_units(self.line_g))
        settle_time = steps * self.dt_over_tau * self.tau_s if self.settle_mode == "continuous" and self.is_ebm else None
        out = inference_cost(self.card, self.read_models, row_reads, units, steps, n_neurons, settle_time_s=settle_time)
        out.update(basis="bound", inferences=0)
        return out

    # ------------------------------------------------------------------ settling
    def _model_for(self, mode: str) -> nn.Module:
        return self._model_ct if mode == "continuous" else self.model

    def _n_neurons(self) -> int:
        if not self.is_ebm:
            return 0
        return int(sum(math.prod(s) for s in self.model.state_shapes))

    def _rows_per_sample(self) -> np.ndarray:
        """Row reads of each read index per sample for one read of every matrix (conv: positions)."""
        from analogeq.ebm.conv import ConvPoolSynapse

        rows = np.ones(self.programmed.n_reads)
        if self.is_ebm:
            for m, syn in enumerate(self.model.all_synapses()):
                if isinstance(syn, ConvPoolSynapse):
                    rows[2 * m: 2 * m + 2] = syn.conv_shape[1] * syn.conv_shape[2]
            return rows
        # feed-forward: one float pass of one (zero) input, counting the vectors each layer reads
        from analogeq.baselines.models.common import mapped_layers

        counts: list[int] = []

        def hook(module, inputs, output):
            counts.append(output.numel() // (output.shape[1] if isinstance(module, nn.Conv2d) else output.shape[-1]))

        handles = [layer.register_forward_hook(hook) for _, layer in mapped_layers(self.model)]
        try:
            with torch.no_grad():
                self.model(torch.zeros(1, *self.input_shape, device=self.device))
        finally:
            for h in handles:
                h.remove()
        for m, c in enumerate(counts[: len(self.programmed)]):
            rows[2 * m: 2 * m + 2] = c
        return rows

    def _nominal_reads(self) -> tuple[np.ndarray, float]:
        """(row reads per read index, steps) of one free-phase inference with the whole budget."""
        rows = self._rows_per_sample()
        if not self.is_ebm:
            counts = np.zeros(self.programmed.n_reads)
            counts[0::2] = rows[0::2]
            return counts, 0.0
        steps = float(self._model_for(self.settle_mode).config.free_steps)
        counts = rows * steps
        counts[1] = 0.0  # the input layer gets no feedback
        if self.model.readout is not None:
            m = len(self.model.synapses)
            counts[2 * m] = rows[2 * m]  # one readout read at the end of the free phase
            counts[2 * m + 1] = 0.0
        return counts, steps

    def _attach_meter(self) -> ReadMeter:
        meter = ReadMeter(self.programmed.n_reads)
        for r in self.torch_reads:
            r.meter = meter
        return meter

    def _detach_meter(self) -> None:
        for r in self.torch_reads:
            r.meter = None

    def _record(self, batch: int, row_reads: np.ndarray, energy_units: float, *, steps: float,
                settle_time_s: float | None) -> None:
        st = self._stats
        st["inferences"] += batch
        st["row_reads"] = st["row_reads"] + row_reads
        st["energy_units"] += energy_units
        st["steps"] += steps
        st["settle_time_s"] += settle_time_s or 0.0

    def reset_cost(self) -> None:
        """Forget the inferences counted by :meth:`cost`."""
        self._stats.update(inferences=0, row_reads=np.zeros(self.programmed.n_reads), energy_units=0.0,
                           steps=0.0, settle_time_s=0.0)

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
        if not self.is_ebm:
            raise TypeError("settle() needs a layered EBM; a feed-forward network has no settling (use logits)")
        mode = self.settle_mode if mode is None else mode
        if mode not in SETTLE_MODES:
            raise ValueError(f"mode must be one of {SETTLE_MODES}, got {mode!r}")
        backend = self.backend if backend is None else backend
        if backend not in ("numba", "torch"):
            raise ValueError(f"backend must be 'numba' or 'torch', got {backend!r}")
        if backend == "numba" and not self.dense:
            raise ValueError("backend='numba' runs dense layered EBMs only")
        x = x.to(self.device, torch.float32)
        if beta != 0.0:
            from analogeq.ebm.layered import check_labels

            if y is None:
                raise ValueError("y (labels) is required when beta != 0")
            y = check_labels(y, self.num_classes, x.shape[0]).to(self.device)
        model = self._model_for(mode)
        cfg = model.config
        max_steps = cfg.free_steps if beta == 0.0 else cfg.nudge_steps
        batch = x.shape[0]
        if backend == "numba":
            result = self._settle_numba(model, x, beta, y, states, max_steps, cfg.tol)
        else:
            result = self._settle_torch(model, x, beta, y, states, max_steps, cfg.tol)
        if mode == "continuous":
            result.settle_time_s = result.steps * self.dt_over_tau * self.tau_s
        if record if record is not None else beta == 0.0:
            self._record(batch, result.row_reads, result.energy_units, steps=float(result.steps.sum()),
                         settle_time_s=None if result.settle_time_s is None else float(result.settle_time_s.sum()))
        return result

    def _settle_numba(self, model, x, beta, y, states, max_steps, tol) -> CrossbarSettle:
        from analogeq.crossbar.kernels import settle_dense_kernel

        batch = x.shape[0]
        xs = np.ascontiguousarray(x.reshape(batch, -1).cpu().numpy(), dtype=np.float32)
        if states is None:
            s0 = np.zeros((batch, int(self._packed.layer_off[-1])), dtype=np.float32)
        else:
            s0 = np.ascontiguousarray(torch.cat([s.reshape(batch, -1) for s in states], dim=1).cpu().numpy(),
                                      dtype=np.float32)
        labels = np.zeros(batch, dtype=np.int64) if y is None else y.cpu().numpy().astype(np.int64)
        table = self.keys.new_phase(max_steps + 2)
        out, logits, steps, residual, energy, counts = settle_dense_kernel(
            self._packed, xs, s0, labels, beta, float(model.step_size), max_steps, tol, table.table,
        )
        flat = torch.from_numpy(out).to(self.device)
        sizes = [int(s[0]) for s in self.model.state_shapes]
        states_out = list(torch.split(flat, sizes, dim=1))
        return CrossbarSettle(states=states_out, logits=torch.from_numpy(logits).to(self.device), steps=steps,
                              residual=residual, tol=tol, settle_time_s=None, row_reads=counts.sum(axis=0).astype(np.float64),
                              energy_units=float(energy.sum()))

    def _settle_torch(self, model, x, beta, y, states, max_steps, tol) -> CrossbarSettle:
        from analogeq.ebm.settle import settle

        batch = x.shape[0]
        meter = self._attach_meter()
        self.keys.new_phase(max_steps + 2)
        try:
            res = settle(model, x, max_steps=max_steps, tol=tol, states=states, beta=beta, y=y, synapses=self.synapses)
            logits = model.output(res.states, self.synapses)
        finally:
            self._detach_meter()
        return CrossbarSettle(states=res.states, logits=logits, steps=np.full(batch, res.steps, dtype=np.int64),
                              residual=np.full(batch, res.residual), tol=tol, settle_time_s=None, row_reads=meter.row_reads.astype(np.float64),
                              energy_units=meter.energy_units)


def _crossbar_builder(
    model: Any,
    card: Any = DEFAULT_CARD,
    drift_time_s: float = 3600.0,
    seed: int = 0,
    device: str = "cpu",
    settle_mode: str = "discrete",
    dt_over_tau: float = 0.25,
    backend: str = "auto",
    max_tiles: int | None = None,
) -> CrossbarSubstrate:
    """``build_substrate("crossbar", model, card=..., drift_time_s=..., seed=..., device=...,
    settle_mode=..., dt_over_tau=..., backend=..., max_tiles=...)``."""
    return CrossbarSubstrate(model, card, drift_time_s=drift_time_s, seed=seed, device=device,
                             settle_mode=settle_mode, dt_over_tau=dt_over_tau, backend=backend, max_tiles=max_tiles)


register_substrate("crossbar", _crossbar_builder)

__all__ = ["CrossbarSettle", "CrossbarSubstrate", "SETTLE_MODES", "BACKENDS"]
