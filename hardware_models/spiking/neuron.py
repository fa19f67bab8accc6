"""Closed forms of the integrate-and-fire neuron with reset by subtraction (numpy only).

Discrete time, clock period dt, units where the nominal threshold is 1 and the input ``u`` is a
charge per step (see :mod:`hardware_models.spiking.card` for the full update):

    v <- clip(v (1 - lam) + u, 0, 2 theta);   spike if v >= theta (at most one per step);   v <- v - theta

* No leak (lam = 0), constant u: after T steps from v = 0 the spike count is
  floor(T u / theta) for 0 <= u <= theta (charge conservation: every spike removes theta), 0 for
  u <= 0 and T for u >= theta. The rate (spikes per step) is clip(u / theta, 0, 1): with
  theta = 1, the hard sigmoid rho(u) of the energy-based network.
* Refractory period of k steps (the spike generator is blocked, the membrane integrates up to
  its rail): the rate saturates at 1 / (1 + k) instead of 1, and is unchanged below.
* Leak lam = dt / tau_mem > 0: the membrane loses lam v per step. Between spikes v sweeps
  [0, theta) roughly uniformly, so the mean loss is about lam theta / 2 and the rate is
  approximately clip((u - lam theta / 2) / theta, 0, 1) (first order in lam; exact for lam = 0).

:func:`mean_field_rate` is the rate model of a neuron used by the attack surrogate and the NIR
documentation; :func:`simulate_if` is a plain reference simulation used by tests.
"""

from __future__ import annotations

import numpy as np


def mean_field_rate(u, theta=1.0, leak=0.0, max_rate=1.0):
    """Mean firing rate [spikes per step] of the IF/LIF neuron driven by a constant charge ``u``
    per step: ``min(clip((u - leak * theta / 2) / theta, 0, 1), max_rate)`` (see module docstring).

    ``theta`` (> 0), ``leak`` (= dt / tau_mem, in [0, 1)) broadcast against ``u``;
    ``max_rate`` = 1 / (1 + refractory steps).
    """
    u = np.asarray(u, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    leak = np.asarray(leak, dtype=np.float64)
    a = np.clip((u - 0.5 * leak * theta) / theta, 0.0, 1.0)
    return np.minimum(a, max_rate)


def if_spike_count(u, steps: int, theta=1.0):
    """Closed-form spike count of the leak-free IF neuron with reset by subtraction after
    ``steps`` steps of constant input ``u`` from v = 0: floor(steps * clip(u / theta, 0, 1))."""
    u = np.asarray(u, dtype=np.float64)
    return np.floor(steps * np.clip(u / np.asarray(theta, dtype=np.float64), 0.0, 1.0))


def simulate_if(u, steps: int, theta=1.0, leak=0.0, refractory_steps: int = 0) -> np.ndarray:
    """Reference step-by-step simulation (numpy, vectorised over neurons) of the neuron above
    with constant input ``u``; returns the spike count of each neuron after ``steps`` steps."""
    u = np.asarray(u, dtype=np.float64)
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), u.shape)
    leak = np.broadcast_to(np.asarray(leak, dtype=np.float64), u.shape)
    v = np.zeros_like(u)
    count = np.zeros_like(u)
    blocked = np.zeros(u.shape, dtype=np.int64)  # steps left in the refractory period
    for _ in range(int(steps)):
        v = np.clip(v * (1.0 - leak) + u, 0.0, 2.0 * theta)
        spike = (v >= theta) & (blocked == 0)
        blocked = np.maximum(blocked - 1, 0)
        v = np.where(spike, v - theta, v)
        count += spike
        blocked = np.where(spike, refractory_steps, blocked)
    return count


__all__ = ["if_spike_count", "mean_field_rate", "simulate_if"]
