"""Physics laws of the crossbar against their documentation, written out independently here.

PCM read noise (aihwkit ``PCMLikeNoiseModel.apply_drift_noise_to_conductance``, see
ANCHORS.md "Analog crossbar simulators"): the 1/f amplitude Q is taken at the PROGRAMMED
conductance and scaled by the drifted one::

    Q         = min(0.0088 / max((|g_prog| / g_max)^0.65, 1e-3), 0.2)
    sigma(t)  = |g_drift(t)| * Q * sqrt(ln((t + t_read) / (2 t_read))),   t_read = 250 ns
    g_drift   = g_prog * (t / t0)^-nu,   t0 = 20 s

Nothing below calls the library's noise law: the expected variance is built from the
programmed state (g_prog, nu) alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.crossbar import CrossbarArray
from hardware_models.devices import PCMDevice

HOUR, DAY, YEAR = 3600.0, 86400.0, 365.25 * 86400.0
G_MAX = 25e-6
N_KEYS = 2000


def aihwkit_read_sigma(g_prog: np.ndarray, nu: np.ndarray, t: float) -> np.ndarray:
    """sigma_read [S] of aihwkit's PCM model, written out (constants from ANCHORS.md)."""
    g_drift = g_prog * (t / 20.0) ** (-nu)
    q = np.minimum(0.0088 / np.maximum((np.abs(g_prog) / G_MAX) ** 0.65, 1e-3), 0.2)
    t_read = 250e-9
    return np.abs(g_drift) * q * np.sqrt(np.log((t + t_read) / (2.0 * t_read)))


def _pcm_array() -> tuple[CrossbarArray, np.ndarray]:
    rng = np.random.default_rng(11)
    w = rng.uniform(-1.0, 1.0, (32, 48))
    arr = CrossbarArray(w, PCMDevice(), w_max=1.0, drift_compensation="none", dtype=np.float64, seed=4)
    x = rng.uniform(-1.0, 1.0, 48)
    return arr, x


def expected_variance(arr: CrossbarArray, x: np.ndarray, t: float) -> np.ndarray:
    """Per-output variance of one read: (w_max / span)^2 sum_i x_i^2 (sigma+^2 + sigma-^2)."""
    p = arr.programmed
    s = aihwkit_read_sigma(np.asarray(p.g_prog_S), np.asarray(p.nu), t)
    var_cells = (arr.w_max / (arr.g_max_S - arr.g_min_S)) ** 2 * (s[0] ** 2 + s[1] ** 2)
    return (x * x) @ var_cells.T


@pytest.mark.parametrize("t", [HOUR, DAY, YEAR], ids=["1h", "1day", "1year"])
def test_pcm_read_noise_variance_over_keys_follows_aihwkit_law(t):
    arr, x = _pcm_array()
    model = arr.read_model(t)
    y = np.stack([model.read(x, key=k) for k in range(N_KEYS)])  # (keys, n_out)
    ratio = y.var(axis=0, ddof=1) / expected_variance(arr, x, t)
    # 32 outputs of 2000 reads each: the mean ratio has std sqrt(2/1999/32) = 0.0056
    assert ratio.mean() == pytest.approx(1.0, abs=0.03), f"variance ratio {ratio.mean():.3f} at t = {t} s"
    assert np.all(np.abs(ratio - 1.0) < 6.0 * np.sqrt(2.0 / N_KEYS))
    # the mean is the drifted conductances' product (no compensation)
    g = arr.programmed
    g_t = np.asarray(g.g_prog_S) * (t / 20.0) ** (-np.asarray(g.nu))
    mean = (g_t[0] - g_t[1]) / (arr.g_max_S - arr.g_min_S) @ x
    assert np.all(np.abs(y.mean(axis=0) - mean) < 5.0 * np.sqrt(expected_variance(arr, x, t) / N_KEYS))


@pytest.mark.parametrize("t", [HOUR, DAY, YEAR], ids=["1h", "1day", "1year"])
def test_read_model_variance_map_equals_law_and_read_sigma(t):
    """The tile's per-cell variances equal the written-out law, and ``read_sigma`` (the sweeps'
    path) gives the same sigma: one law for both."""
    arr, _ = _pcm_array()
    p = arr.programmed
    s = aihwkit_read_sigma(np.asarray(p.g_prog_S), np.asarray(p.nu), t)
    np.testing.assert_allclose(p.read_sigma(t), s, rtol=1e-12, atol=0.0)
    want = (arr.w_max / (arr.g_max_S - arr.g_min_S)) ** 2 * (s[0] ** 2 + s[1] ** 2)
    np.testing.assert_allclose(arr.read_model(t).sigma2_eff, want, rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(arr.read_model(t, "backward").sigma2_eff, want.T, rtol=1e-12, atol=0.0)
