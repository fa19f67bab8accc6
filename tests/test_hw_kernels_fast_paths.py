"""The read kernels' fast paths give the definition's numbers bit for bit.

* the float32 DAC takes x * fl32(1 / step) in float32 instead of the float64 division and redoes
  by the definition every row holding an element whose rounding is in doubt: checked against
  the numpy twin on inputs crowded around every rounding tie;
* the ADC takes a * fl(1 / step) instead of the division and redoes the rows where that could
  round otherwise: checked on products crowded around every tie, in every output mode;
* the ADC can write its output over the product (``y is mean``): checked against a separate
  output and the numpy twin, and through a one-tile ``LinearReadModel`` against its numpy
  backend;
* the Box-Muller transform's quadrant handling (swap and sign bits): checked on words at the
  quadrant edges against float64 ``cos`` / ``sin``.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from hardware_models.crossbar import kernels as K
from hardware_models.crossbar.adc_kernels import _adc_fast_constants
from hardware_models.crossbar.dac_kernels import _dac_f32_constants
from hardware_models.crossbar.normals import _transform_pairs
from hardware_models.crossbar.converters import Quantizer
from hardware_models.crossbar.read_model import LinearReadModel


def _around_ties(levels: int, ulps: int = 300) -> np.ndarray:
    """float32 inputs within +-ulps of every tie (k + 1/2) / levels of a DAC with clip 1, as rows of 512."""
    ties = ((np.arange(-levels - 1, levels + 1) + 0.5) / levels).astype(np.float32)
    offsets = np.arange(-ulps, ulps + 1, dtype=np.int32)
    x = (ties.view(np.int32)[:, None] + offsets[None, :]).ravel().view(np.float32)
    x = np.concatenate([x, np.float32([-2.0, -1.0, 1.0, 2.0, 0.0, -0.0, 1e-45, -1e-45])])
    n = x.size - x.size % 512
    return x[:n].reshape(-1, 512)


@pytest.mark.parametrize("bits", [2, 5, 8, 11])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_dac_equals_definition_at_every_tie(bits, dtype):
    levels = (1 << (bits - 1)) - 1
    step = 1.0 / levels
    x = _around_ties(levels)
    assert _dac_f32_constants(step, 1.0)[0] is not None  # the float32 path is taken
    got = K.dac_kernel(x, step, 1.0, dtype)
    want = K.dac_reference(x, step, 1.0, dtype)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not got[2].any()  # all inputs finite


def test_float32_dac_outside_its_range_uses_the_division():
    # 16 bits (32767 levels) and a clip that float32 cannot hold take the float64 path
    assert _dac_f32_constants(1.0 / 32767, 1.0) == (None, None)
    assert _dac_f32_constants(0.1 / 127, 0.1) == (None, None)
    x = np.random.default_rng(1).uniform(-1.2, 1.2, (40, 300)).astype(np.float32)
    for step, clip in ((1.0 / 32767, 1.0), (0.1 / 127, 0.1), (0.0, 1.0)):
        for g, w in zip(K.dac_kernel(x, step, clip), K.dac_reference(x, step, clip)):
            np.testing.assert_array_equal(g, w)


def test_float32_dac_flags_nan_and_inf_rows_and_zeroes_them():
    x = np.random.default_rng(2).uniform(-1, 1, (12, 64)).astype(np.float32)
    x[2, 5], x[7, 0], x[9, 63] = np.nan, np.inf, -np.inf
    got = K.dac_kernel(x, 1.0 / 127, 1.0)
    want = K.dac_reference(x, 1.0 / 127, 1.0)
    assert np.flatnonzero(got[2]).tolist() == [2, 7, 9]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[0][2, 5] == 0.0 and got[0][7, 0] == 0.0


def test_float32_dac_same_numbers_whatever_the_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba was started with one thread; cannot compare thread counts")
    x = _around_ties(127, ulps=100)  # above the parallel threshold
    before = numba.get_num_threads()
    outputs = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            assert K.use_parallel(x.size) == (threads > 1)
            outputs.append(K.dac_kernel(x, 1.0 / 127, 1.0))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_var,noise_var", [(True, 0.01), (False, 0.04), (False, 0.0)])
@pytest.mark.parametrize("step,clip", [(0.05, 6.0), (0.0, np.inf)])
def test_adc_in_place_equals_separate_output(dtype, with_var, noise_var, step, clip):
    rng = np.random.default_rng(3)
    mean = (3.0 * rng.standard_normal((70, 130))).astype(dtype)
    var = rng.uniform(0.0, 0.3, mean.shape).astype(dtype) if with_var else None
    y = np.empty_like(mean)
    K.adc_kernel(mean, var, noise_var, 17, 11, 140, step, clip, y, False)
    z = K.counter_normals(17, (70, 140), stream0=11)[:, :130]
    want = np.empty_like(mean)
    K.adc_reference(mean, var, noise_var, z, step, clip, want, False)
    in_place = mean.copy()
    K.adc_kernel(in_place, var, noise_var, 17, 11, 140, step, clip, in_place, False)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(in_place, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("levels", [3, 127, 2047, 1 << 15])
@pytest.mark.parametrize("mode", ["write", "in place", "accumulate"])
def test_adc_multiply_path_equals_definition_at_every_tie(dtype, levels, mode):
    clip = 7.3
    step = clip / levels
    fast = _adc_fast_constants(step, clip, dtype)[1] > 0
    assert fast == (levels <= (1 << 14) or dtype == np.float64)
    # products within +-60 ulps of ties (k + 1/2) step of a sample of k, and beyond the clip
    k = np.unique(np.linspace(-levels - 1, levels, 300).astype(np.int64))
    ties = ((k + 0.5) * dtype(step)).astype(dtype)
    int_t = np.int32 if dtype == np.float32 else np.int64
    offsets = np.arange(-60, 61, dtype=int_t)
    mean = (ties.view(int_t)[:, None] + offsets[None, :]).ravel().view(dtype)
    mean = np.concatenate([mean, np.array([2 * clip, -2 * clip, 0.0], dtype)])
    mean = mean[: mean.size - mean.size % 121].reshape(-1, 121)
    want = np.ones_like(mean) if mode == "accumulate" else np.empty_like(mean)
    K.adc_reference(mean, None, 0.0, None, step, clip, want, mode == "accumulate")
    if mode == "in place":
        got = mean.copy()
        K.adc_kernel(got, None, 0.0, 5, 0, 121, step, clip, got, False)
    else:
        got = np.ones_like(mean) if mode == "accumulate" else np.empty_like(mean)
        K.adc_kernel(mean, None, 0.0, 5, 0, 121, step, clip, got, mode == "accumulate")
    np.testing.assert_array_equal(got, want)


def test_adc_in_place_cannot_accumulate():
    mean = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="in-place"):
        K.adc_kernel(mean, None, 0.1, 1, 0, 4, 0.1, 1.0, mean, True)


def test_one_tile_read_equals_numpy_backend():
    rng = np.random.default_rng(4)
    n_out, n_in = 48, 40
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    s2 = (0.01 * np.abs(w)).astype(np.float32)
    ones = np.ones((1, 1))
    model = LinearReadModel(
        "forward", 10.0, w, s2, Quantizer(1.0 / 127, 1.0), 0.05 * ones, 4.0 * ones, 0.02 * ones,
        np.array([0, n_in]), np.array([0, n_out]), ones, 1.0,
    )
    x = rng.uniform(-1, 1, (25, n_in)).astype(np.float32)
    got = model.read(x, key=99)
    np.testing.assert_array_equal(got, model.read(x, key=99, backend="numpy"))
    assert got.shape == (25, n_out) and got.flags.c_contiguous
    assert not np.array_equal(got, model.read(x, key=100))


def test_box_muller_quadrant_edges_match_float64():
    # words at the quadrant boundaries of theta and the extremes of u1
    hi = np.repeat(np.array([0, 1, 2**31, 2**32 - 2, 2**32 - 1, 3 << 30], dtype=np.uint32), 12)
    edges = [0, 1, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, (2 << 30) - 1, 2 << 30, (2 << 30) + 1,
             (3 << 30) - 1, 3 << 30, (3 << 30) + 1, 2**32 - 1]
    lo = np.tile(np.array(edges, dtype=np.uint32), 6)
    out = np.empty(2 * hi.size, np.float32)
    _transform_pairs(hi, lo, out)
    u1 = (hi.astype(np.float64) + 1.0) * 2.0**-32
    theta = 2.0 * np.pi * lo.astype(np.float64) * 2.0**-32
    r = np.sqrt(-2.0 * np.log(u1))
    tol = 2e-7 * np.maximum(1.0, r)
    assert np.all(np.abs(out[0::2] - r * np.cos(theta)) <= tol)
    assert np.all(np.abs(out[1::2] - r * np.sin(theta)) <= tol)
    # u1 = 1 (hi = 2^32 - 1): radius exactly 0
    assert not out[0::2][hi == 2**32 - 1].any() and not out[1::2][hi == 2**32 - 1].any()
