"""The spiking substrate: a dense or convolutional EBM settling as spikes on emulated neuromorphic hardware (Brian2).

Mapping (see :mod:`analogeq.substrates.spiking.network` for the neuron update and
:mod:`hardware_models.spiking.card` for the card):

* every state unit of the EBM is an integrate-and-fire neuron with reset by subtraction whose
  rate (spikes per clock step) is clip(u, 0, 1) for a constant input u: the hard sigmoid;
* every weight matrix between state layers is a set of synapses in both directions (W forward,
  W^T feedback), with an exponential synaptic current of time constant ``tau_syn_s``; a
  convolution with average or no pooling is the sparse matrix of its linear map
  (:mod:`analogeq.substrates.spiking.conv_mapping`; max-pool is refused), so a conv EBM runs
  the same way with fewer synapses per neuron;
* the input x is clamped as the constant current W_1 x + b_1 into the first layer, the biases of
  the other layers are constant currents;
* a batch of B inputs runs as B stacked copies of the network in ONE Brian2 network and ONE
  ``run`` per phase (inputs beyond ``batch_size`` are processed in chunks of that size);
* **decoding**: the rate of a neuron is its spike count over the last ``decode_window_s`` of the
  free phase divided by the number of steps in the window. ``logits`` are the output layer's
  rates (``readout="mse"``) or W_out rates + b_out computed off-chip (``readout="ce"``).

With the ``spiking-ideal`` card (no mismatch, noise, leak or quantisation; dt = 0.1 ms,
tau_syn = 1 ms, 50 ms free phase, rates over its last 10 ms) the predictions of a 64-256-10
digits EBM agree with the float substrate on 359 of the 360 test images (the same at 10, 20 and
100 ms; ``benchmarks/bench_spiking.py``); the mean |rate - float state| of the outputs is ~1e-3.
Why counts and not filtered traces: a count over a window is exact charge bookkeeping (the
rate error is at most one spike per window, 1/100 here), it needs no extra state per neuron
and step, and it is what a chip's spike counter reads out.

Non-idealities from the card: per-neuron threshold and leak mismatch (drawn at build from
``seed``), membrane noise (``stochastic`` is True when it is > 0; ``reseed`` seeds it),
weight quantisation, refractory period. ``cost()`` gives the energy (spikes, synaptic events,
neuron steps, mean over the inferences run so far) and the latency (``t_free_s``).

White-box attacks: ``attack_logits`` runs the rate model (:mod:`analogeq.substrates.spiking.rate_model`),
the spiking network's mean field with the quantised weights and mismatch folded in; the spikes
are passed straight through (BPDA). ``logits`` is the plain spiking forward (black-box attacks
and evaluation).

    from analogeq.substrates import build_substrate
    sub = build_substrate("spiking", model, card="spiking-mixed-signal", seed=0, target="auto")
    scores = sub.logits(x)
    sub.export_nir("model.nir")
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from analogeq.contract import GradientSpec, check_input
from analogeq.contract import resolve_device
from analogeq.substrates.base import Substrate, with_energy_breakdown
from analogeq.substrates.spiking.backend import STANDALONE_TARGETS, cuda_unavailable_reason, resolve_backend
from analogeq.substrates.spiking.mapping import map_model
from analogeq.substrates.spiking.network import build_stacked_network, input_currents, layer_rates
from analogeq.substrates.spiking.rate_model import SpikingRateModel
from hardware_models.params import check_int
from hardware_models.spiking import MappedSpikingNetwork, as_spiking_card, spiking_inference_cost

logger = logging.getLogger(__name__)

DEFAULT_CARD = "spiking-ideal"
#: most synapses one Brian2 network holds (all copies): ~40 bytes each in Brian2 and the lists
#: that build them, so about 1 GB; a convolutional net runs fewer copies per chunk than batch_size
SYNAPSE_BUDGET = 25_000_000


class SpikingSubstrate(Substrate):
    """A mapped EBM (dense or convolutional) on the emulated spiking hardware of ``card`` (see module docstring).

    Parameters
    ----------
    mapped: the hardware instance (:class:`MappedSpikingNetwork`); use :meth:`from_model` for a DenseEBM.
    card: a SpikingCard, a card dict or a preset name.
    seed: seed of the membrane-noise stream (and, through :meth:`from_model`, of the mismatch draw).
    batch_size: stacked copies per Brian2 network (larger inputs run in chunks).
    target, cache_dir, threads: Brian2 run mode, compiled-code cache and the standalone device's
        OpenMP threads (see :mod:`analogeq.substrates.spiking.backend`); ``"auto"`` picks the
        fastest mode measured (cython, else numpy; cpp_standalone is asked for by name),
        ``describe()`` says which and why.
    device: torch device of the returned scores and of the surrogate.
    surrogate_steps, surrogate_step_size, surrogate_tol: settling budget of the rate model.
    """

    name = "spiking"

    def __init__(
        self,
        mapped: MappedSpikingNetwork,
        card: Any = DEFAULT_CARD,
        *,
        seed: int = 0,
        batch_size: int = 256,
        target: str = "auto",
        cache_dir: str | os.PathLike | None = None,
        threads: int | None = None,
        device: str | torch.device = "cpu",
        surrogate_steps: int = 100,
        surrogate_step_size: float = 0.5,
        surrogate_tol: float = 1e-5,
        model_config: dict[str, Any] | None = None,
    ):
        if not isinstance(mapped, MappedSpikingNetwork):
            raise TypeError(f"mapped must be a MappedSpikingNetwork (use SpikingSubstrate.from_model for an EBM), got {type(mapped).__name__}")
        self.card = as_spiking_card(card)
        self.mapped = mapped
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self._seed = check_int("seed", seed, minimum=0)
        self._calls = 0
        self.backend = resolve_backend(target, cache_dir, threads)
        self.requested_target = target
        self.device = resolve_device(device)
        self.input_shape = tuple(mapped.input_shape)
        self.num_classes = mapped.num_classes
        self.model_config = model_config
        self.surrogate = SpikingRateModel(
            mapped, self.card, free_steps=surrogate_steps, step_size=surrogate_step_size, tol=surrogate_tol
        ).to(self.device)
        self._network = None
        self._noise_gen = torch.Generator().manual_seed(self._seed)
        self._stats = {"inferences": 0, "spikes": 0.0, "synaptic_events": 0.0}
        self._fan_out = mapped.fan_out_per_neuron().astype(np.float64)
        self.copies = max(1, min(self.batch_size, SYNAPSE_BUDGET // max(mapped.n_synapses, 1)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model, card: Any = DEFAULT_CARD, *, seed: int = 0, **options: Any) -> "SpikingSubstrate":
        """Map an EBM (dense, or conv with average or no pooling) onto ``card`` (mismatch drawn with ``seed``) and build the substrate.
        The surrogate settles with the model's own budget (``free_steps``, ``step_size``, ``tol``)."""
        card = as_spiking_card(card)
        seed = check_int("seed", seed, minimum=0)
        mapped = map_model(model, card, seed)
        cfg = getattr(model, "config", None)
        if cfg is not None:
            options.setdefault("surrogate_steps", int(cfg.free_steps))
            options.setdefault("surrogate_step_size", float(cfg.step_size))
            options.setdefault("surrogate_tol", float(cfg.tol))
            options.setdefault("model_config", cfg.to_dict() if hasattr(cfg, "to_dict") else None)
        return cls(mapped, card, seed=seed, **options)

    @classmethod
    def from_nir(cls, graph_or_path: Any, card: Any = None, **options: Any) -> "SpikingSubstrate":
        """Build from a NIR graph (or .nir file) written by :meth:`export_nir` or of the same kind
        (see :mod:`hardware_models.export.nir`). ``card`` defaults to the card stored in the graph."""
        from hardware_models.export.nir import import_nir

        mapped, stored_card, settle = import_nir(graph_or_path)
        if card is None:
            if stored_card is None:
                raise ValueError("the NIR graph carries no spiking card (graph metadata 'card_json'); pass card=... (a preset name, dict or SpikingCard)")
            card = stored_card
        for key, value in settle.items():
            options.setdefault(key, value)
        return cls(mapped, card, **options)

    def export_nir(self, path: str | os.PathLike | None = None):
        """The mapped network as a NIR graph (written to ``path`` with ``nir.write`` if given)."""
        from hardware_models.export.nir import export_nir

        if self.mapped.sparse:
            raise ValueError("export_nir writes the mapped network of a dense EBM; for a conv EBM export the model's graph with "
                             "analogeq.substrates.spiking.nir_conv.export_conv_ebm_nir(model, path) (analogeq export --to nir)")

        settle = {
            "surrogate_steps": self.surrogate.free_steps,
            "surrogate_step_size": self.surrogate.step_size,
            "surrogate_tol": self.surrogate.tol,
        }
        return export_nir(self.mapped, self.card, path, settle=settle)

    # ------------------------------------------------------------------ protocol
    @property
    def stochastic(self) -> bool:
        return self.card.stochastic

    def reseed(self, seed: int) -> None:
        self._seed = check_int("seed", seed, minimum=0)
        self._calls = 0
        self._noise_gen = torch.Generator().manual_seed(self._seed)

    def _next_run_seed(self) -> int:
        state = np.random.SeedSequence([self._seed, self._calls]).generate_state(1)[0]
        self._calls += 1
        return int(state)

    def capacity(self, batch: int) -> int:
        """Copies of the network that runs a chunk of ``batch`` inputs: the chunk itself at runtime;
        on the standalone device (compiled per number of copies) the next power of two from 8 up
        to ``copies``, so that few shapes are ever compiled. ``copies`` is ``batch_size``, or
        fewer where the network would hold more than ``SYNAPSE_BUDGET`` synapses."""
        batch = min(batch, self.copies)
        if self.backend.target not in STANDALONE_TARGETS:
            return batch
        return min(self.copies, max(8, 1 << (batch - 1).bit_length()))

    def network(self, batch: int):
        """The Brian2 network holding at least ``batch`` copies (built on first use, grown when
        a larger chunk comes; smaller chunks run with silent padding copies)."""
        batch = self.capacity(batch)
        if self._network is None or self._network.batch < batch:
            self._network = build_stacked_network(self.mapped, self.card, batch, self.backend)
        return self._network

    def input_currents(self, x_flat: np.ndarray, capacity: int) -> np.ndarray:
        """Constant currents of every neuron (capacity, n): W_1 x + b_1 for layer 1, b_k elsewhere;
        padding copies (beyond the batch) get a negative current that keeps them silent."""
        return input_currents(self.mapped, x_flat, capacity)

    def layer_rates(self, window: np.ndarray, window_steps: int) -> list[np.ndarray]:
        """Split per-neuron window counts (B, n) into per-layer rates [spikes per step]."""
        return layer_rates(self.mapped, window, window_steps)

    def run_free(self, x: torch.Tensor) -> list[np.ndarray]:
        """Free phase of the spiking network on ``x``: the decoded rates of every layer
        (float64 arrays (B, n_k)). Updates the spike statistics behind :meth:`cost`."""
        check_input(x, self.input_shape)
        x_flat = x.detach().reshape(x.shape[0], -1).cpu().double().numpy()
        t = self.card.timing
        chunks: list[list[np.ndarray]] = []
        for start in range(0, x_flat.shape[0], self.copies):
            xc = x_flat[start : start + self.copies]
            b = xc.shape[0]
            net = self.network(b)
            net.reset()
            net.set_currents(self.input_currents(xc, net.batch))
            counts = net.run_phase(t.free_steps, t.window_steps, self._next_run_seed())
            total = counts.total[:b]
            self._stats["inferences"] += b
            self._stats["spikes"] += float(total.sum())
            self._stats["synaptic_events"] += float((total * self._fan_out).sum())
            chunks.append(self.layer_rates(counts.window[:b], t.window_steps))
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self.mapped.weights))]

    def scores_from_rates(self, rates: list[np.ndarray]) -> np.ndarray:
        """Class scores from decoded rates: the last layer (mse) or the off-chip readout (ce)."""
        last = rates[-1]
        if self.mapped.readout == "ce":
            return last @ self.mapped.readout_weight.T + self.mapped.readout_bias
        return last

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.scores_from_rates(self.run_free(x))
        return torch.as_tensor(scores, dtype=torch.float32, device=self.device)

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        check_input(x, self.input_shape)
        return self.surrogate.forward_for_attack(x.to(self.device, torch.float32), gradient, generator=self._noise_gen)

    def cost(self) -> dict[str, float]:
        """Energy and latency of one inference: mean spike and synaptic-event counts over every
        inference run so far (``inferences_measured``; 0 before the first ``logits``, when only
        the per-step neuron energy is counted)."""
        n = self._stats["inferences"]
        spikes = self._stats["spikes"] / n if n else 0.0
        events = self._stats["synaptic_events"] / n if n else 0.0
        steps = float(self.mapped.n_neurons * self.card.timing.free_steps)
        out = spiking_inference_cost(self.card, spikes, events, steps).to_dict()
        out["inferences_measured"] = float(n)
        return with_energy_breakdown(out, {"spikes": out["energy_spikes_J"], "synaptic events": out["energy_synaptic_events_J"],
                                           "neuron steps": out["energy_neuron_steps_J"]})

    def run_mode(self) -> str:
        """Which Brian2 mode runs the spikes, and why (the target asked for or the pick of "auto")."""
        modes = {"cpp_standalone": "cpp_standalone (the network and its run loop compiled to one C++ program, cached per shape)",
                 "cuda_standalone": "cuda_standalone (brian2cuda: the network and its run loop as CUDA kernels on the GPU, cached per shape)",
                 "cython": "cython runtime (one compiled extension per code object, Python between steps' code objects)",
                 "numpy": "numpy runtime (vectorised numpy, no compiler)"}
        why = "picked by target='auto' as the fastest mode measured here (benchmarks/bench_spiking.py)" if self.requested_target == "auto" else f"target={self.requested_target!r}"
        cuda = cuda_unavailable_reason()
        gpu = "; cuda_standalone available (asked for by name)" if cuda is None else f"; cuda_standalone not available: {cuda}"
        return f"{modes[self.backend.target]}; {why}" + ("" if self.backend.target == "cuda_standalone" else gpu)

    def describe(self) -> dict[str, Any]:
        t = self.card.timing
        return {
            "substrate": self.name,
            "card": self.card.to_dict(),
            "device": str(self.device),
            "brian2_target": self.backend.target,
            "brian2_run_mode": self.run_mode(),
            "brian2_cache_dir": self.backend.cache_dir,
            "brian2_threads": self.backend.threads,
            "batch_size": self.batch_size,
            "layer_sizes": self.mapped.layer_sizes,
            "synapses_per_copy": self.mapped.n_synapses,
            "copies_per_network": self.copies,
            "connectivity": "sparse (convolutions as linear maps, stored entries are synapses)" if self.mapped.sparse else "dense",
            "readout": self.mapped.readout,
            "mismatch_seed": self.mapped.mismatch_seed,
            "noise_seed": self._seed,
            "free_steps": t.free_steps,
            "window_steps": t.window_steps,
            "decoding": "spike count over the last decode_window_s of the free phase / window steps",
            "surrogate": {
                "kind": "rate model (mean field), BPDA through the spikes",
                "free_steps": self.surrogate.free_steps,
                "step_size": self.surrogate.step_size,
                "tol": self.surrogate.tol,
            },
            "model_config": self.model_config,
            "energy_model": {"parts": ["spikes", "synaptic events", "neuron steps"],
                             "law": "spikes e_spike + synaptic events e_synaptic_event + neurons free_steps e_neuron_step",
                             "e_spike_J": self.card.cost.e_spike_J, "e_synaptic_event_J": self.card.cost.e_synaptic_event_J,
                             "e_neuron_step_J": self.card.cost.e_neuron_step_J},
        }


__all__ = ["DEFAULT_CARD", "SpikingSubstrate"]
