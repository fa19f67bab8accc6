"""The pulsed update model: soft bounds, asymmetry, mean step, closed-form multi-pulse response."""

import math

import numpy as np
import pytest

from hardware_models.devices import PulsedUpdate

G_MIN, G_MAX = 1e-6, 25e-6
SPAN = G_MAX - G_MIN


def test_soft_bounds_never_exceeded_even_with_large_noise():
    update = PulsedUpdate(dg_min_up_S=0.3 * SPAN, dg_min_down_S=0.2 * SPAN, cycle_noise_rel=1.5)
    rng = np.random.default_rng(0)
    g = rng.uniform(G_MIN, G_MAX, 20_000)
    for _ in range(5):
        n = rng.integers(-30, 31, g.shape)
        g_new = update.apply_pulses(g, n, rng, g_min_S=G_MIN, g_max_S=G_MAX)
        assert g_new.min() >= G_MIN and g_new.max() <= G_MAX
        # an up pulse never lowers g, a down pulse never raises it
        assert np.all(g_new[n > 0] >= g[n > 0]) and np.all(g_new[n < 0] <= g[n < 0])
        np.testing.assert_array_equal(g_new[n == 0], g[n == 0])
        g = g_new


@pytest.mark.parametrize("frac", [0.0, 0.25, 0.6, 1.0])
def test_mean_single_step_matches_formula(frac):
    """dg_up = dg_min_up (1 - (g - g_min)/(g_max - g_min)), dg_down = -dg_min_down (g - g_min)/(g_max - g_min),
    each times (1 + c N): mean over many cells within a few standard errors."""
    c = 0.3
    up, down = 0.02 * SPAN, 0.01 * SPAN
    update = PulsedUpdate(up, down, c)
    g = np.full(100_000, G_MIN + frac * SPAN)
    for sign, nominal in ((+1, up * (1 - frac)), (-1, -down * frac)):
        if nominal == 0:
            step = update.apply_pulses(g, sign, np.random.default_rng(1), g_min_S=G_MIN, g_max_S=G_MAX) - g
            np.testing.assert_array_equal(step, 0.0)
            continue
        step = update.apply_pulses(g, np.full(g.shape, sign), np.random.default_rng(1), g_min_S=G_MIN, g_max_S=G_MAX) - g
        # E[max(0, 1 + c N)] = 1 + c phi(1/c) - Phi(-1/c) ... = 1 to 1e-5 at c = 0.3
        se = abs(nominal) * c / math.sqrt(g.size)
        assert abs(step.mean() - nominal) <= 4.5 * se + 1e-5 * abs(nominal)
        assert abs(step.std() - abs(nominal) * c) <= 4.5 * abs(nominal) * c / math.sqrt(2 * g.size) + 1e-3 * abs(nominal)
        np.testing.assert_allclose(update.mean_step(g[:1], sign > 0, G_MIN, G_MAX), [nominal])


def test_asymmetry_ratio():
    update = PulsedUpdate(dg_min_up_S=0.04e-6, dg_min_down_S=0.01e-6, cycle_noise_rel=0.2)
    assert update.asymmetry == pytest.approx(4.0)
    rng = np.random.default_rng(3)
    up = update.apply_pulses(np.full(50_000, G_MIN), 1, rng, g_min_S=G_MIN, g_max_S=G_MAX) - G_MIN
    down = G_MAX - update.apply_pulses(np.full(50_000, G_MAX), -1, rng, g_min_S=G_MIN, g_max_S=G_MAX)
    ratio = up.mean() / down.mean()
    # relative SE of each mean: 0.2 / sqrt(50000)
    assert abs(ratio - 4.0) <= 4.0 * 4.5 * math.sqrt(2) * 0.2 / math.sqrt(50_000)


def test_noise_free_pulse_train_closed_form():
    """Without noise, n up pulses from g0 give g_max - (g_max - g0)(1 - a)^n, a = dg_up / span;
    n down pulses give g_min + (g0 - g_min)(1 - b)^n, b = dg_down / span."""
    a, b = 0.05, 0.03
    update = PulsedUpdate(a * SPAN, b * SPAN, 0.0)
    g0 = np.array([G_MIN, 5e-6, 13e-6, G_MAX])
    for n in (1, 7, 40):
        up = update.apply_pulses(g0, n, np.random.default_rng(0), g_min_S=G_MIN, g_max_S=G_MAX)
        np.testing.assert_allclose(up, G_MAX - (G_MAX - g0) * (1 - a) ** n, rtol=1e-12)
        down = update.apply_pulses(g0, -n, np.random.default_rng(0), g_min_S=G_MIN, g_max_S=G_MAX)
        np.testing.assert_allclose(down, G_MIN + (g0 - G_MIN) * (1 - b) ** n, rtol=1e-12)


def test_stuck_cells_do_not_respond_and_seed_reproduces():
    update = PulsedUpdate(1e-6, 1e-6, 0.5)
    g = np.linspace(G_MIN, G_MAX, 12).reshape(3, 4)
    stuck = np.zeros_like(g, dtype=bool)
    stuck[1, 2] = stuck[0, 0] = True
    n = np.array([[3, -2, 1, 0]])
    a = update.apply_pulses(g, n, np.random.default_rng(7), g_min_S=G_MIN, g_max_S=G_MAX, stuck=stuck)
    b = update.apply_pulses(g, n, np.random.default_rng(7), g_min_S=G_MIN, g_max_S=G_MAX, stuck=stuck)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[stuck], g[stuck])
    assert a[0, 1] < g[0, 1] and a[2, 0] > g[2, 0]


def test_update_bad_input():
    with pytest.raises(ValueError, match="dg_min_up_S"):
        PulsedUpdate(0.0, 1e-6)
    with pytest.raises(ValueError, match="dg_min_down_S"):
        PulsedUpdate(1e-6, -1e-6)
    with pytest.raises(ValueError, match="cycle_noise_rel"):
        PulsedUpdate(1e-6, 1e-6, float("nan"))
    update = PulsedUpdate(1e-6, 1e-6)
    rng = np.random.default_rng(0)
    g = np.full(4, 5e-6)
    with pytest.raises(TypeError, match="integers"):
        update.apply_pulses(g, np.array([0.5, 1, 1, 1]), rng, g_min_S=G_MIN, g_max_S=G_MAX)
    with pytest.raises(ValueError, match="broadcast"):
        update.apply_pulses(g, np.ones(3, dtype=int), rng, g_min_S=G_MIN, g_max_S=G_MAX)
    with pytest.raises(ValueError, match="NaN"):
        update.apply_pulses(np.array([np.nan]), 1, rng, g_min_S=G_MIN, g_max_S=G_MAX)
    with pytest.raises(ValueError, match="g_min_S"):
        update.apply_pulses(g, 1, rng, g_min_S=G_MAX, g_max_S=G_MIN)
    with pytest.raises(TypeError, match="Generator"):
        update.apply_pulses(g, 1, 42, g_min_S=G_MIN, g_max_S=G_MAX)
