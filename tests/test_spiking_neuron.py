"""The integrate-and-fire neuron with reset by subtraction, in Brian2 (numpy target) and in closed form.

Independent references: charge conservation (every spike removes exactly one threshold, so the
count over T steps of a constant input u in [0, 1] is floor(T u)); the plain numpy step-by-step
simulation of :func:`hardware_models.spiking.simulate_if` for leak, thresholds and refractory
periods.
"""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models import card_from_dict, preset, with_value
from hardware_models.spiking import (
    MappedSpikingNetwork,
    if_spike_count,
    mean_field_rate,
    simulate_if,
)

pytestmark = pytest.mark.brian2

U = np.array([-0.5, -0.01, 0.0, 0.013, 0.1, 0.25, 1 / 3, 0.5, 0.71, 0.999, 1.0, 1.3, 2.5])


def single_layer(u: np.ndarray, theta=None, leak=None) -> MappedSpikingNetwork:
    """A one-layer network (no synapses between neurons): neuron i gets the constant current u_i
    (the bias; the input weights are zero)."""
    n = u.size
    return MappedSpikingNetwork(
        input_shape=(1,),
        weights=(np.zeros((n, 1)),),
        biases=(u,),
        theta=(np.ones(n) if theta is None else theta,),
        leak=(np.zeros(n) if leak is None else leak,),
        readout="mse",
        num_classes=n,
    )


def card_for(steps: int, **changes):
    card = preset("spiking-ideal")
    d = card.to_dict()
    d["timing"].update({"t_free_s": steps * 1e-4, "t_nudge_s": steps * 1e-4, "decode_window_s": steps * 1e-4})
    for path, value in changes.items():
        section, field = path.split("__")
        d[section][field] = value
    return card_from_dict(d)


def brian_counts(mapped, card, steps: int, batch: int = 1) -> np.ndarray:
    from analogeq.substrates.spiking.backend import resolve_backend
    from analogeq.substrates.spiking.network import StackedSpikingNetwork

    net = StackedSpikingNetwork(mapped, card, batch, resolve_backend("numpy"))
    net.set_currents(np.tile(mapped.concat("biases"), (batch, 1)))
    counts = net.run_phase(steps, steps, seed=0)
    np.testing.assert_array_equal(counts.window, counts.total)  # the window is the whole run
    return counts.window


def test_closed_form_and_reference_simulation_agree():
    steps = 500
    # accumulated float charge may sit just below an integer: at most one spike apart
    assert np.all(np.abs(simulate_if(U, steps) - if_spike_count(U, steps)) <= 1)
    np.testing.assert_allclose(if_spike_count(U, steps) / steps, mean_field_rate(U), atol=1.0 / steps)


def test_brian_if_rate_is_the_hard_sigmoid():
    """Spike count over T steps is floor(T clip(u, 0, 1)) within one spike (float rounding of the
    accumulated charge may shift one spike): the firing rate is the hard sigmoid of u."""
    steps = 400
    counts = brian_counts(single_layer(U), card_for(steps), steps)[0]
    expected = np.floor(steps * np.clip(U, 0.0, 1.0))
    assert np.all(np.abs(counts - expected) <= 1.0), (counts, expected)
    assert counts[U <= 0].sum() == 0  # silent for u <= 0
    assert np.all(counts[U >= 1] == steps)  # at most (and exactly) one spike per step


def test_brian_matches_reference_with_thresholds_leak_and_refractory():
    steps = 300
    rng = np.random.default_rng(1)
    theta = rng.uniform(0.7, 1.4, U.size)
    leak = rng.uniform(0.0, 0.02, U.size)
    card = card_for(steps, neuron__tau_mem_s=0.02, neuron__refractory_s=2e-4)  # 2 blocked steps
    counts = brian_counts(single_layer(U, theta, leak), card, steps)[0]
    reference = simulate_if(U, steps, theta=theta, leak=leak, refractory_steps=2)
    np.testing.assert_array_equal(counts, reference)
    assert counts.max() <= np.ceil(steps / 3)  # max rate 1 / (1 + refractory steps)


def test_refractory_period_caps_rate_at_one_over_k_plus_one():
    steps = 300
    for k in (1, 3):
        card = card_for(steps, neuron__refractory_s=k * 1e-4)
        counts = brian_counts(single_layer(np.array([0.2, 1.0, 3.0])), card, steps)[0]
        assert abs(counts[0] - 0.2 * steps) <= 1  # below the cap: unchanged
        assert abs(counts[1] - steps / (k + 1)) <= 1 and abs(counts[2] - steps / (k + 1)) <= 1


def test_leak_rate_matches_first_order_mean_field():
    """Rate with a small leak lam: (u - lam theta / 2) / theta to first order in lam."""
    steps = 2000
    u = np.array([0.2, 0.5, 0.8])
    leak = np.full(3, 0.005)
    counts = simulate_if(u, steps, leak=leak)
    np.testing.assert_allclose(counts / steps, mean_field_rate(u, leak=leak), atol=3e-3)
    assert np.all(counts / steps < u)  # the leak always lowers the rate


def test_stacked_copies_are_independent_and_identical():
    """Copies of the same network with the same currents spike identically (no cross-talk)."""
    steps = 200
    counts = brian_counts(single_layer(U[:5]), card_for(steps), steps, batch=3)
    assert np.all(counts == counts[0])


def test_membrane_noise_is_seeded():
    from analogeq.substrates.spiking.backend import resolve_backend
    from analogeq.substrates.spiking.network import StackedSpikingNetwork

    steps = 200
    card = with_value(card_for(steps), "noise.membrane_std", 0.2)
    mapped = single_layer(np.full(50, 0.3))
    net = StackedSpikingNetwork(mapped, card, 2, resolve_backend("numpy"))
    runs = []
    for seed in (5, 5, 6):
        net.reset()
        net.set_currents(np.full((2, 50), 0.3))
        runs.append(net.run_phase(steps, steps, seed=seed).window)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    # noise does not change the mean rate much away from the rails
    assert abs(runs[0].mean() / steps - 0.3) < 0.03
