"""Equilibrium propagation for deep resistive networks (Scellier, ICML 2024; Kendall et al. 2020).

The circuit's energy is its co-content E(V) = 1/2 sum_edges g_ab (V_a - V_b)^2 (+ diodes); the
loss is C = 1/2 |V_out - t|^2 with target voltages t = target_V onehot(label). Nudging injects
beta (t - V_out) [A] into the outputs, so a nudged steady state minimises F = E + beta C.
With the free state V*, and nudged states V+ (beta) and V- (-beta) settled from V*, the
symmetric EqProp estimate of dC/dg for every conductance is local, from the squared voltage
drop across it:

    dC/dg_ab ~ [(V+_a - V+_b)^2 - (V-_a - V-_b)^2] / (4 beta)        [V^2 / S]

(dF/dg_ab = 1/2 (V_a - V_b)^2, symmetric difference over 2 beta). Training stores the weights
as conductances and steps w = g / g_max: g <- clip(g - lr g_max^2 dC/dg, g_min, g_max).
The reference gradient is the implicit one (:mod:`hardware_models.resistive.implicit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardware_models.params import Integer, OneOf, Real, validate_fields
from hardware_models.resistive import ResistiveNetwork, settle, split_layers
from hardware_models.resistive.implicit import adjoint, conductance_gradients
from hardware_models.resistive.reference import edge_drops_V
from hardware_models.seeds import derive_rng

__all__ = ["ResistiveEqPropConfig", "targets_V", "eqprop_gradients", "implicit_gradients", "train_step",
           "train_epoch", "accuracy"]


@dataclass(frozen=True)
class ResistiveEqPropConfig:
    """beta_S: nudging conductance [S] (> 0); target_V: output voltage of the right class [V];
    lr: step of w = g / g_max per unit of dC/dw; batch_size; tol_A, max_sweeps: the settle;
    gradient: "eqprop" (the local rule) or "implicit" (the exact gradient of the same network at
    its steady state, i.e. recurrent backprop: the backprop twin)."""

    beta_S: float = 1e-6
    target_V: float = 0.5
    lr: float = 0.05
    batch_size: int = 32
    tol_A: float = 1e-11
    max_sweeps: int = 2000
    gradient: str = "eqprop"

    def __post_init__(self) -> None:
        positive = Real(0.0, exclusive_minimum=True)
        validate_fields(self, {"beta_S": positive, "target_V": positive, "lr": positive,
                               "batch_size": Integer(minimum=1), "tol_A": Real(0.0), "max_sweeps": Integer(minimum=1),
                               "gradient": OneOf(("eqprop", "implicit"))})


def targets_V(labels: np.ndarray, n_out: int, target_V: float) -> np.ndarray:
    """t = target_V onehot(labels) (B, n_out) [V]."""
    t = np.zeros((len(labels), n_out))
    t[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)] = target_V
    return t


def _squared_drops(net: ResistiveNetwork, x: np.ndarray, v: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    drops = [(d * d).sum(axis=0) for d in edge_drops_V(net, x, v)]
    if net.bias_conductances_S is None:
        return drops, []
    return drops, [np.stack([((u - net.bias_V) ** 2).sum(axis=0), ((u + net.bias_V) ** 2).sum(axis=0)])
                   for u in split_layers(net, v)]


def eqprop_gradients(net: ResistiveNetwork, x: np.ndarray, t: np.ndarray, beta_S: float, *, tol_A: float = 1e-12,
                     max_sweeps: int = 10_000, free=None):
    """Symmetric EqProp estimate of dC/dg (summed over the batch) for every conductance matrix and
    bias matrix; returns (grads, bias_grads, free settle result)."""
    free = settle(net, x, tol_A=tol_A, max_sweeps=max_sweeps) if free is None else free
    plus = settle(net, x, beta_S=beta_S, y=t, v0=free.voltages_V, tol_A=tol_A, max_sweeps=max_sweeps)
    minus = settle(net, x, beta_S=-beta_S, y=t, v0=free.voltages_V, tol_A=tol_A, max_sweeps=max_sweeps)
    dp, bp = _squared_drops(net, x, plus.voltages_V)
    dm, bm = _squared_drops(net, x, minus.voltages_V)
    grads = [(a - b) / (4.0 * beta_S) for a, b in zip(dp, dm)]
    biases = [(a - b) / (4.0 * beta_S) for a, b in zip(bp, bm)] or None
    return grads, biases, free


def implicit_gradients(net: ResistiveNetwork, x: np.ndarray, t: np.ndarray, *, tol_A: float = 1e-12,
                       max_sweeps: int = 10_000):
    """The exact dC/dg at the free steady state (implicit differentiation, active diodes fixed)."""
    free = settle(net, x, tol_A=tol_A, max_sweeps=max_sweeps)
    rhs = np.zeros_like(free.voltages_V)
    rhs[:, -t.shape[1]:] = free.output_V - t
    lam = adjoint(net, free.voltages_V, rhs)
    grads, biases = conductance_gradients(net, x, free.voltages_V, lam)
    return grads, biases, free


def train_step(net: ResistiveNetwork, x: np.ndarray, labels: np.ndarray, config: ResistiveEqPropConfig) -> tuple[ResistiveNetwork, float]:
    """One EqProp step on a batch; returns the updated network (conductances projected into
    [g_min_S, g_max_S]) and the batch's mean loss at the free state."""
    t = targets_V(labels, net.layer_sizes[-1], config.target_V)
    if config.gradient == "eqprop":
        grads, biases, free = eqprop_gradients(net, x, t, config.beta_S, tol_A=config.tol_A, max_sweeps=config.max_sweeps)
    else:
        grads, biases, free = implicit_gradients(net, x, t, tol_A=config.tol_A, max_sweeps=config.max_sweeps)
    step = config.lr * net.g_max_S ** 2 / len(x)
    new = [np.clip(g - step * d, net.g_min_S, net.g_max_S) for g, d in zip(net.conductances_S, grads)]
    new_b = None
    if biases is not None:
        new_b = [np.clip(b - step * d, net.g_min_S, net.g_max_S) for b, d in zip(net.bias_conductances_S, biases)]
    loss = float(0.5 * ((free.output_V - t) ** 2).sum(axis=1).mean())
    return net.with_conductances(new, new_b), loss


def train_epoch(net: ResistiveNetwork, x: np.ndarray, labels: np.ndarray, config: ResistiveEqPropConfig, *,
                seed: int = 0, epoch: int = 0) -> tuple[ResistiveNetwork, float]:
    """One shuffled pass over (x, labels); returns the network and the mean batch loss."""
    order = derive_rng(seed, f"resistive_eqprop/epoch{epoch}").permutation(len(x))
    losses = []
    for start in range(0, len(x), config.batch_size):
        idx = order[start:start + config.batch_size]
        net, loss = train_step(net, x[idx], labels[idx], config)
        losses.append(loss)
    return net, float(np.mean(losses))


def accuracy(net: ResistiveNetwork, x: np.ndarray, labels: np.ndarray, *, tol_A: float = 1e-11) -> float:
    """Fraction of inputs whose largest output voltage is the label's."""
    out = settle(net, x, tol_A=tol_A).output_V
    return float((out.argmax(axis=1) == np.asarray(labels)).mean())
