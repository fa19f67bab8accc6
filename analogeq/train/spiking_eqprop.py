"""Equilibrium Propagation with spiking phases: the free and nudged phases run as spikes.

Dense and convolutional EBMs (convolutions with average or no pooling, wired as their linear
maps: :mod:`analogeq.substrates.spiking.conv_mapping`); the decoded rates are reshaped to the
model's layer shapes for the core's EqProp formula.

For a mini-batch (x, y) on B stacked copies of the mapped network (one Brian2 network):

1. free phase: input current W_1 x + b_1, biases b_k; run ``t_free_s``; the decoded rates are
   the free state s*; the network state (membranes, synaptic currents) is kept;
2. +beta phase from that state: the output neurons get the extra constant current beta y and a
   self-feedback of -beta per own spike, i.e. the nudging current beta (y - s_N) of the mse
   cost; run ``t_nudge_s``; decoded rates s+;
3. -beta phase from the same free state (symmetric nudging); decoded rates s-;
4. the EqProp estimate from (s+, s-) (:func:`analogeq.train.eqprop.eqprop_gradients_from_states`,
   the core's formula), applied to the float ("shadow") weights by SGD; the hardware holds their
   quantised copy (re-mapped after every step, same mismatch draw).

Every phase is one ``Network.run`` over all copies. Readouts: "mse" (the nudge beta (y - s_N)
acts inside the network, as above) or "ce" (the readout is off-chip: the host computes the
nudging current beta W_out^T (y - softmax(W_out s*_N + b_out)) once, at the decoded FREE rates,
and holds it constant during each nudged phase -- the exact nudge to first order in beta, since
s_N moves by O(beta) while nudged).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from analogeq.contract import check_labels
from analogeq.substrates.spiking.backend import resolve_backend
from analogeq.substrates.spiking.mapping import check_spiking_ebm, map_model
from analogeq.substrates.spiking.network import StackedSpikingNetwork, build_stacked_network, input_currents, layer_rates
from analogeq.train.config import TrainConfig
from analogeq.train.eqprop import check_positive_beta, eqprop_gradients_from_states
from analogeq.train.loop import progress_bar
from analogeq.train.optim import build_optimizer, build_scheduler
from hardware_models.params import check_int
from hardware_models.spiking import as_spiking_card

logger = logging.getLogger(__name__)


@dataclass
class SpikingPhases:
    """Decoded rates (float64 arrays (B, n_k) per layer) of the three phases of one batch and the
    spikes emitted by the real (non-padding) copies in all three."""

    free: list[np.ndarray]
    plus: list[np.ndarray]
    minus: list[np.ndarray]
    spikes: float


class SpikingEqProp:
    """Runs EqProp phases of a dense or convolutional EBM (mse or ce readout) on spiking hardware.

    ``model`` (a DenseEBM or ConvEBM) holds the float weights that training updates; :meth:`sync` maps them
    onto ``card`` (quantisation; mismatch drawn once with ``seed``) and loads them into the
    Brian2 network of ``batch_size`` copies.
    """

    def __init__(self, model, card: Any = "spiking-ideal", *, seed: int = 0, batch_size: int = 32, target: str = "auto", cache_dir=None):
        check_spiking_ebm(model)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        self.model = model
        self.card = as_spiking_card(card)
        self.seed = int(seed)
        self.backend = resolve_backend(target, cache_dir)
        self.batch_size = batch_size
        self.network: StackedSpikingNetwork | None = None
        self.mapped = None
        self._runs = 0

    def sync(self) -> None:
        """Map the model's current float weights onto the hardware and load them."""
        self.mapped = map_model(self.model, self.card, self.seed)
        if self.network is None:
            self.network = build_stacked_network(self.mapped, self.card, self.batch_size, self.backend)
        else:
            self.network.update_weights(self.mapped)

    def _seed(self) -> int:
        self._runs += 1
        return int(np.random.SeedSequence([self.seed, self._runs]).generate_state(1)[0])

    def phases(self, x: torch.Tensor, y: torch.Tensor, beta: float) -> SpikingPhases:
        """Free, +beta and -beta phases of a batch (B <= batch_size) on the current weights."""
        if self.network is None or self.mapped is None:
            self.sync()
        net, m, t = self.network, self.mapped, self.card.timing
        b = x.shape[0]
        if b > net.batch:
            raise ValueError(f"batch of {b} exceeds the network's {net.batch} copies")
        x_flat = x.detach().reshape(b, -1).cpu().double().numpy()
        base = input_currents(m, x_flat, net.batch)
        out0 = m.layer_offsets[-1]
        onehot = np.zeros((net.batch, m.n_neurons))
        if m.readout == "mse":
            onehot[np.arange(b), out0 + y.cpu().numpy()] = 1.0
        is_out = np.zeros((net.batch, m.n_neurons))
        is_out[:b, out0:] = 1.0

        def rates(counts) -> list[np.ndarray]:
            return layer_rates(m, counts.window[:b], counts.window_steps)

        net.reset()
        net.set_currents(base)
        free = net.run_phase(t.free_steps, t.window_steps, self._seed())
        snap = net.snapshot()
        if m.readout == "ce":  # off-chip readout: the error current at the free rates, held constant
            r_out = rates(free)[-1]
            z = r_out @ m.readout_weight.T + m.readout_bias
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            target = np.eye(m.num_classes)[y.cpu().numpy()]
            nudge = np.zeros((net.batch, m.n_neurons))
            nudge[:b, out0:] = (target - p) @ m.readout_weight
            self_feedback = np.zeros((net.batch, m.n_neurons))
        else:  # mse: constant beta y plus a self-feedback of -beta per own spike
            nudge, self_feedback = onehot, is_out
        results = []
        for sign in (1.0, -1.0):
            net.load_snapshot(snap)
            net.set_currents(base + sign * beta * nudge, -sign * beta * self_feedback)
            results.append(net.run_phase(t.nudge_steps, t.window_steps, self._seed()))
        spikes = float(free.total[:b].sum() + results[0].total[:b].sum() + results[1].total[:b].sum())
        return SpikingPhases(free=rates(free), plus=rates(results[0]), minus=rates(results[1]), spikes=spikes)

    def gradients(self, x: torch.Tensor, y: torch.Tensor, beta: float) -> SpikingPhases:
        """Fill ``p.grad`` of the model's parameters with the EqProp estimate from spiking phases
        (symmetric nudging: +beta and -beta, beta > 0)."""
        check_positive_beta(beta)
        ph = self.phases(x, y, beta)
        shapes = self.model.state_shapes  # flat rates back to the model's layer shapes (C, H, W) or (n,)
        as_t = lambda rs: [torch.as_tensor(r, dtype=torch.float32).reshape(r.shape[0], *sh) for r, sh in zip(rs, shapes)]  # noqa: E731
        eqprop_gradients_from_states(self.model, x.cpu().float(), y.cpu(), beta, as_t(ph.plus), as_t(ph.minus))
        return ph


def train_spiking_eqprop(model, splits, config, card: Any = "spiking-ideal", *, seed: int = 0, target: str = "auto", cache_dir=None, progress: bool | None = None) -> dict[str, Any]:
    """Train ``model`` (a DenseEBM or ConvEBM, mse or ce readout) in place with spiking EqProp phases on
    ``splits.train`` (``config``: a TrainConfig; symmetric nudging with ``config.beta``; SGD and
    schedule as in :func:`analogeq.train.loop.train`). Returns a history with per-epoch train
    accuracy (spiking free phase) and seconds; evaluation is left to the caller (e.g. a spiking
    substrate on the test set)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if config.algorithm != "eqprop" or config.nudging != "symmetric":
        raise ValueError(f"spiking training runs symmetric EqProp; got algorithm={config.algorithm!r}, nudging={config.nudging!r}")
    model.cpu()
    runner = SpikingEqProp(model, card, seed=seed, batch_size=config.batch_size, target=target, cache_dir=cache_dir)
    optimizer = build_optimizer(model, config)
    train_set = splits.train
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    gen = torch.Generator().manual_seed(config.seed)
    history: dict[str, Any] = {"config": config.to_dict(), "card": runner.card.name, "epochs": []}
    bar = progress_bar(progress, config.epochs * steps_per_epoch, "train spiking eqprop", unit="batch")
    t_start = time.perf_counter()
    try:
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            correct, spikes = 0, 0.0
            for x, y in train_set.batches(config.batch_size, shuffle=True, generator=gen):
                check_labels(y, model.num_classes, x.shape[0])
                runner.sync()
                ph = runner.gradients(x, y, config.beta)
                optimizer.step()
                scheduler.step()
                m = runner.mapped
                scores = ph.free[-1] @ m.readout_weight.T + m.readout_bias if m.readout == "ce" else ph.free[-1]
                correct += int((np.argmax(scores, axis=1) == y.numpy()).sum())
                spikes += ph.spikes
                if bar is not None:
                    bar.update(1)
            record = {
                "epoch": epoch,
                "train_accuracy": correct / len(train_set),
                "spikes_per_sample": spikes / len(train_set),
                "seconds": time.perf_counter() - t0,
            }
            history["epochs"].append(record)
            logger.info("spiking eqprop epoch %d/%d: train acc %.4f, %.1f s", epoch, config.epochs, record["train_accuracy"], record["seconds"])
    finally:
        if bar is not None:
            bar.close()
    history["train_seconds"] = time.perf_counter() - t_start
    return history


__all__ = ["SpikingEqProp", "SpikingPhases", "train_spiking_eqprop"]
