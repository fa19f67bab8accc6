"""In-situ EqProp on a deep resistive network: the conductances themselves are trained with pulses.

Every conductance of the network is one cell of a card's device (no differential pair: the
signs come from the +x / -x sources and the excitatory / inhibitory diodes). A batch runs the
free phase and the two symmetric nudged phases on the cells as they are, and each cell gets the
local EqProp update of :mod:`analogeq.train.resistive_eqprop`

    dG_ab = -lr g_max^2 / B * [(V+_a - V+_b)^2 - (V-_a - V-_b)^2] / (4 beta)      [S]

(B the batch size) as device pulses through the card's ``update`` model, exactly as the crossbar's
in-situ training does (:mod:`analogeq.train.in_situ`): round_stochastic(|dG| / dg_mid) pulses,
dg_mid the mean step of one pulse in the middle of [g_min, g_max] (unbiased stochastic rounding);
the soft-bounded pulse response keeps every cell in [g_min, g_max] and stuck cells never move.
Cells start from the model's conductances scaled by g_max(card) / g_max(model), clipped into the
card's range and programmed once through the card (programming noise, finite levels, faults).

Simplifications (stated): the training phases read the cells' programmed conductances without
drift or read noise (the updates follow each other within seconds); a trained network is then
read on any card through the resistive substrate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from analogeq.train.in_situ import pulses_for
from analogeq.train.resistive_eqprop import ResistiveEqPropConfig, accuracy, eqprop_gradients, targets_V
from hardware_models.cards import resolve_card
from hardware_models.devices import program_conductances
from hardware_models.resistive import ResistiveNetwork
from hardware_models.seeds import derive_rng

__all__ = ["ResistiveInSituResult", "train_resistive_in_situ"]


@dataclass
class ResistiveInSituResult:
    """network: the cells after training (conductances in the card's range [S]); stuck: one mask
    per matrix (conductances then biases), or None; history: per epoch loss, train accuracy of
    the free phases, pulses applied, fraction of cells at a bound; pulse_step_S: (up, down)."""

    network: ResistiveNetwork
    stuck: list[np.ndarray | None]
    history: list[dict[str, Any]]
    pulse_step_S: tuple[float, float]


def _program(net: ResistiveNetwork, card: Any, seed: int) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    dev = card.device
    scale = dev.g_max_S / net.g_max_S
    cells, stuck = [], []
    for k, g in enumerate(list(net.conductances_S) + list(net.bias_conductances_S or ())):
        target = np.clip(g * scale, dev.g_min_S, dev.g_max_S)
        programmed = program_conductances(card, target, derive_rng(seed, f"resistive_in_situ/program/{k}"))
        cells.append(np.clip(np.asarray(programmed.g_prog_S, dtype=np.float64), dev.g_min_S, dev.g_max_S))
        stuck.append(programmed.stuck)
    return cells, stuck


def train_resistive_in_situ(net: ResistiveNetwork, x: np.ndarray, labels: np.ndarray, card: Any,
                            config: ResistiveEqPropConfig, *, epochs: int, seed: int = 0) -> ResistiveInSituResult:
    """Train ``net``'s conductances in situ on ``card`` (module docstring); ``x`` (N, n_in) and
    ``labels`` (N,) the training set. The card needs an ``update`` section (e.g. preset ``rram``)."""
    card = resolve_card(card, "crossbar")
    update = card.update
    if update is None:
        raise ValueError(f"card {card.name!r} has no update section (update: null); in-situ training needs the "
                         "pulsed update model (dg_min_up_S, dg_min_down_S, cycle_noise_rel), e.g. preset 'rram'")
    if not isinstance(config, ResistiveEqPropConfig) or config.gradient != "eqprop":
        raise ValueError("config must be a ResistiveEqPropConfig with gradient='eqprop' (the local rule)")
    g_min, g_max = float(card.device.g_min_S), float(card.device.g_max_S)
    g_mid = np.array(0.5 * (g_min + g_max))
    step_up = float(update.mean_step(g_mid, True, g_min, g_max))
    step_down = float(-update.mean_step(g_mid, False, g_min, g_max))
    cells, stuck = _program(net, card, seed)
    n_w = len(net.conductances_S)

    def network() -> ResistiveNetwork:
        return ResistiveNetwork(net.layer_sizes, tuple(cells[:n_w]), net.input_gain, net.diode,
                                tuple(cells[n_w:]) or None, net.bias_V, g_min, g_max)

    pulse_rng = derive_rng(seed, "resistive_in_situ/pulses")
    history = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = derive_rng(seed, f"resistive_in_situ/epoch{epoch}").permutation(len(x))
        losses, correct, pulses = [], 0, 0
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            now = network()
            t = targets_V(labels[idx], now.layer_sizes[-1], config.target_V)
            grads, biases, free = eqprop_gradients(now, x[idx], t, config.beta_S, tol_A=config.tol_A,
                                                   max_sweeps=config.max_sweeps)
            losses.append(float(0.5 * ((free.output_V - t) ** 2).sum(axis=1).mean()))
            correct += int((free.output_V.argmax(axis=1) == labels[idx]).sum())
            step = config.lr * g_max ** 2 / len(idx)
            for k, d in enumerate(grads + (biases or [])):
                n = pulses_for(-step * d, step_up, step_down, pulse_rng)
                pulses += int(np.abs(n).sum())
                cells[k] = update.apply_pulses(cells[k], n, pulse_rng, g_min_S=g_min, g_max_S=g_max, stuck=stuck[k])
        at_bound = np.mean(np.concatenate([((c <= g_min) | (c >= g_max)).ravel() for c in cells]))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "train_accuracy": correct / len(x),
                        "pulses": pulses, "fraction_at_bound": float(at_bound), "seconds": time.perf_counter() - t0})
    return ResistiveInSituResult(network(), stuck, history, (step_up, step_down))


def in_situ_accuracy(result: ResistiveInSituResult, x: np.ndarray, labels: np.ndarray, tol_A: float = 1e-11) -> float:
    """Accuracy of the trained cells (their conductances as they are, no read noise)."""
    return accuracy(result.network, x, labels, tol_A=tol_A)
