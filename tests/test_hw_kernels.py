"""Numba read kernels: counter-based normals, DAC and ADC kernels against their numpy twins."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from hardware_models.crossbar import kernels as K

MASK64 = (1 << 64) - 1


def splitmix_words(key: int, pairs: np.ndarray) -> np.ndarray:
    """SplitMix64 in Python integers (independent of the kernels' uint64 arithmetic)."""
    out = []
    for p in pairs.tolist():
        z = (key + p * 0x9E3779B97F4A7C15) & MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return np.array(out, dtype=np.uint64)


def test_normals_follow_box_muller_of_splitmix_words():
    # The documented transform, evaluated in float64 with numpy's log/cos/sin.
    key, n = 0xDEADBEEF12345, 2000
    z = K.counter_normals(key, n).astype(np.float64)
    w = splitmix_words(key, np.arange(n // 2))
    u1 = ((w >> np.uint64(32)).astype(np.float64) + 1.0) * 2.0**-32
    theta = 2.0 * np.pi * (w & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    r = np.sqrt(-2.0 * np.log(u1))
    expected = np.empty(n)
    expected[0::2] = r * np.cos(theta)
    expected[1::2] = r * np.sin(theta)
    # float32 polynomials: relative error ~1e-6 of the radius
    err = np.abs(z - expected) / np.maximum(1.0, r.repeat(2))
    assert err.max() < 1e-6


def test_normals_are_standard_normal():
    z = K.counter_normals(12345, 1_000_000).astype(np.float64)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2.0 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6.0 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24.0 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # tail mass beyond 3 sigma: 2 * Phi(-3) = 0.0026998
    p3 = np.mean(np.abs(z) > 3.0)
    assert abs(p3 - 0.0026998) < 5 * np.sqrt(0.0026998 / n)
    # neighbouring streams (the two halves of a Box-Muller pair, and across pairs) uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / np.sqrt(n / 2)
    assert abs(np.corrcoef(z[1:-1:2], z[2::2])[0, 1]) < 5 / np.sqrt(n / 2)


def test_normals_depend_only_on_key_and_stream():
    full = K.counter_normals(99, 5000)
    for start in (0, 1, 7, 2500, 4999):
        part = K.counter_normals(99, 5000 - start, stream0=start)
        np.testing.assert_array_equal(part, full[start:])
    assert not np.array_equal(K.counter_normals(100, 5000), full)
    with pytest.raises(ValueError, match="key"):
        K.counter_normals(-1, 10)
    with pytest.raises(ValueError, match="stream0"):
        K.counter_normals(1, 10, stream0=-3)


@pytest.fixture
def tile_data():
    rng = np.random.default_rng(0)
    batch, n_in, n_out = 96, 80, 520  # batch * n_out above the parallel threshold
    x = rng.uniform(-1.3, 1.3, (batch, n_in))
    w = rng.standard_normal((n_in, n_out)).astype(np.float32)
    s2 = (0.02 * np.abs(w)).astype(np.float32)
    return x, w, s2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [0.0, 1.0 / 127])
def test_dac_kernel_matches_numpy_reference(tile_data, dtype, step):
    x = tile_data[0]
    got = K.dac_kernel(x, step, 1.0, dtype)
    want = K.dac_reference(x, step, 1.0, dtype)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[0].dtype == dtype and np.abs(got[0]).max() <= 1.0
    bad = x.copy()
    bad[3, 5] = np.nan
    bad[7, 0] = -np.inf
    assert np.flatnonzero(K.dac_kernel(bad, step, 1.0, dtype)[2]).tolist() == [3, 7]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_var,noise_var", [(True, 0.01), (True, 0.0), (False, 0.04), (False, 0.0)])
def test_adc_kernel_matches_numpy_reference(tile_data, dtype, with_var, noise_var):
    x, w, s2 = tile_data
    xq, xq2, _ = K.dac_kernel(x, 1.0 / 127, 1.0, dtype)
    mean = xq @ w.astype(dtype)
    var = xq2 @ s2.astype(dtype) if with_var else None
    n_out = 600  # the tile is columns 40..560 of a wider read
    stream0, key, step, clip = 3 * 96 * n_out + 40, 777, 0.05, 6.0
    for accumulate in (False, True):
        got = np.full(mean.shape, 0.25, dtype=dtype)
        K.adc_kernel(mean, var, noise_var, key, stream0, n_out, step, clip, got, accumulate)
        z = K.counter_normals(key, (mean.shape[0], n_out), stream0=stream0 - 40)[:, 40:40 + mean.shape[1]]
        want = np.full(mean.shape, 0.25, dtype=dtype)
        K.adc_reference(mean, var, noise_var, z, step, clip, want, accumulate)
        np.testing.assert_array_equal(got, want)


def test_kernels_same_numbers_whatever_the_thread_count(tile_data):
    x, w, s2 = tile_data
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba was started with one thread; cannot compare thread counts")
    before = numba.get_num_threads()
    outputs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            assert K.use_parallel(x.shape[0] * w.shape[1]) == (threads > 1)
            xq, xq2, _ = K.dac_kernel(x, 1.0 / 127, 1.0)
            y = np.empty((x.shape[0], w.shape[1]), np.float32)
            K.adc_kernel(xq @ w, xq2 @ s2, 0.01, 5, 0, w.shape[1], 0.05, 6.0, y, False)
            outputs.append((xq, y, K.counter_normals(3, 100_000)))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


def test_in_kernel_stream_normals_equal_counter_normals():
    # the one-pass generator other Numba code calls equals the two-pass one of the reads
    @numba.njit
    def draw(key, s0, m):
        buf = np.empty(m + 2, dtype=np.float32)
        return K.stream_normals(key, s0, m, buf).copy()

    for s0, m in ((0, 1), (1, 1), (5, 300), (1000, 4097), (7, 2)):
        np.testing.assert_array_equal(draw(np.uint64(31), s0, m), K.counter_normals(31, m, stream0=s0))
