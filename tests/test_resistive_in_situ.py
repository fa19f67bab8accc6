"""In-situ EqProp on a deep resistive network (issue 18): pulses through the card's update model
learn a small problem, follow the EqProp direction, and keep every cell in [g_min, g_max]."""

from __future__ import annotations

import numpy as np
import pytest

from analogeq.data import load_dataset
from analogeq.train.resistive_eqprop import ResistiveEqPropConfig, accuracy, eqprop_gradients, targets_V
from analogeq.train.resistive_in_situ import _program, train_resistive_in_situ
from hardware_models.cards import preset, with_value
from hardware_models.resistive import ResistiveNetwork

CONFIG = ResistiveEqPropConfig(beta_S=1e-6, target_V=0.3, lr=5.0, batch_size=16, tol_A=1e-10, max_sweeps=500)


def _zeros_and_ones(split):
    x = split.x.reshape(len(split.x), -1).numpy().astype(np.float64)
    y = split.y.numpy()
    keep = (y == 0) | (y == 1)
    return x[keep], y[keep]


def _net(seed: int = 1) -> ResistiveNetwork:
    rng = np.random.default_rng(seed)
    net = ResistiveNetwork.random((64, 16, 2), rng, g_min_S=1e-7, g_max_S=25e-6, input_gain=4.0)
    return net.with_conductances([rng.uniform(1e-7, 5e-6, g.shape) for g in net.conductances_S],
                                 [rng.uniform(1e-7, 5e-6, b.shape) for b in net.bias_conductances_S])


def test_in_situ_learns_zeros_and_ones_on_rram_and_stays_in_range():
    splits = load_dataset("digits", seed=0)
    (x, y), (xt, yt) = _zeros_and_ones(splits.train), _zeros_and_ones(splits.test)
    card = preset("rram")
    result = train_resistive_in_situ(_net(), x[:160], y[:160], card, CONFIG, epochs=4, seed=0)
    g_min, g_max = card.device.g_min_S, card.device.g_max_S
    for g in list(result.network.conductances_S) + list(result.network.bias_conductances_S):
        assert g_min <= g.min() and g.max() <= g_max
    assert all(h["pulses"] > 0 for h in result.history)
    assert accuracy(_program_only(card), xt, yt) < 0.8  # the programmed start does not know the task
    assert accuracy(result.network, xt, yt) >= 0.95  # 1.0 when written (held-out zeros and ones)


def _program_only(card) -> ResistiveNetwork:
    net = _net()
    cells, _ = _program(net, card, 0)
    return ResistiveNetwork(net.layer_sizes, tuple(cells[:2]), net.input_gain, net.diode, tuple(cells[2:]),
                            net.bias_V, card.device.g_min_S, card.device.g_max_S)


def test_one_batch_of_pulses_follows_the_eqprop_step():
    # fine symmetric steps, no cycle noise: the pulses realise the EqProp step up to the soft bounds' shape
    card = with_value(preset("rram"), "update", {"dg_min_up_S": 2e-9, "dg_min_down_S": 2e-9, "cycle_noise_rel": 0.0})
    x, y = _zeros_and_ones(load_dataset("digits", seed=0).train)
    x, y = x[:32], y[:32]
    start = _program_only(card)
    config = ResistiveEqPropConfig(beta_S=1e-6, target_V=0.3, lr=0.5, batch_size=32, tol_A=1e-12, max_sweeps=2000)
    result = train_resistive_in_situ(_net(), x, y, card, config, epochs=1, seed=0)
    grads, _, _ = eqprop_gradients(start, x, targets_V(y, 2, 0.3), 1e-6, tol_A=1e-12)
    g_min, g_max, update = card.device.g_min_S, card.device.g_max_S, card.update
    nominal = update.mean_step(np.array(0.5 * (g_min + g_max)), True, g_min, g_max)  # pulses are counted in these
    for g0, g1, d in zip(start.conductances_S, result.network.conductances_S, grads):
        wanted = -config.lr * g_max ** 2 / len(x) * d
        # each pulse moves a cell by the soft-bounded step at its own conductance, not the nominal one
        response = np.where(wanted > 0, update.mean_step(g0, True, g_min, g_max), -update.mean_step(g0, False, g_min, g_max))
        expected = wanted * response / nominal
        moved = g1 - g0
        cosine = (moved * expected).sum() / (np.linalg.norm(moved) * np.linalg.norm(expected))
        assert cosine > 0.99, cosine
        assert np.linalg.norm(moved) == pytest.approx(np.linalg.norm(expected), rel=0.05)


def test_stuck_cells_never_move_and_a_card_without_update_is_refused():
    card = with_value(preset("rram"), "faults", {"stuck_at_gmin_rate": 0.1, "stuck_at_gmax_rate": 0.1})
    x, y = _zeros_and_ones(load_dataset("digits", seed=0).train)
    result = train_resistive_in_situ(_net(), x[:48], y[:48], card, CONFIG, epochs=1, seed=0)
    start = _program_only(card)
    for g0, g1, stuck in zip(start.conductances_S, result.network.conductances_S, result.stuck):
        assert stuck is not None and stuck.any()
        np.testing.assert_array_equal(g1[stuck], g0[stuck])
        assert not np.array_equal(g1[~stuck], g0[~stuck])
    with pytest.raises(ValueError, match="update section"):
        train_resistive_in_situ(_net(), x[:16], y[:16], "resistive-pcm", CONFIG, epochs=1)
