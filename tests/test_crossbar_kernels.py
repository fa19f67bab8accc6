"""One crossbar read three ways: the hardware model's ``LinearReadModel.read`` (the reference),
the fused Numba kernels' read (read_kernels.read) and the torch read, with the same key, on tiled matrices."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from analogeq.substrates.crossbar import read_kernels as K
from analogeq.substrates.crossbar.programmed import ProgrammedMatrices, pack_dense_network
from analogeq.substrates.crossbar.reads import KeySource, KeyTable, TorchRead, draw_keys
from hardware_models.cards import preset, with_value


@numba.njit  # no cache: a cached test kernel would not see a change of K.read's signature
def _read_rows(meta, w, s2, wd, s2d, edges, tiles, line_g, dac_step, dac_clip, r, X, key, out, energy):
    """Each row of X through the kernel's read r (as the settling loop does it, one sample at a time)."""
    n_out_max = 1
    n_tile_out = 1
    for q in range(meta.shape[0]):
        n_out_max = max(n_out_max, meta[q, 1])
        n_tile_out = max(n_tile_out, meta[q, 1] * meta[q, 5])
    xq = np.empty(X.shape[1], np.float32)
    xq2 = np.empty(X.shape[1], np.float32)
    mean = np.empty(n_tile_out, np.float32)
    var = np.empty(n_tile_out, np.float32)
    zbuf = np.empty(n_out_max + 2, np.float32)
    abuf = np.empty(n_out_max, np.float32)
    hi_a = np.empty(n_out_max // 2 + 2, np.uint32)
    lo_a = np.empty(n_out_max // 2 + 2, np.uint32)
    for b in range(X.shape[0]):
        energy[b] = K.read(meta, w, s2, wd, s2d, edges, tiles, line_g, dac_step, dac_clip, r, X[b], 0, key, b,
                           X.shape[0], out[b], 0, xq, xq2, mean, var, zbuf, abuf, hi_a, lo_a)


def _setup(card, shapes, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) * 0.3 for s in shapes]
    prog = ProgrammedMatrices([f"m{i}" for i in range(len(shapes))], weights, card, seed=seed)
    models = prog.read_models(3600.0)
    line_g = prog.line_conductances(3600.0)
    sizes = [s[0] for s in shapes]
    packed = pack_dense_network(models, line_g, sizes, [np.zeros(n) for n in sizes], None, sizes[-1])
    return prog, models, line_g, packed


def _kernel_read(packed, r, X, key):
    out = np.zeros((X.shape[0], packed.meta[r, 1]), np.float32)
    energy = np.zeros(X.shape[0])
    _read_rows(packed.meta, packed.w_flat, packed.s2_flat, packed.wd_flat, packed.s2d_flat, packed.edges, packed.tiles,
               packed.line_g, packed.dac_step, packed.dac_clip, r, X, np.uint64(key), out, energy)
    return out, energy


class _FixedKey:
    def __init__(self, key):
        self.k = key

    def key(self, r):
        return self.k


TILED = with_value(with_value(preset("pcm-harsh"), "tile.max_rows", 24), "tile.max_cols", 40)


@pytest.mark.parametrize("card", [preset("pcm"), TILED], ids=["pcm", "pcm-harsh-tiled"])
def test_kernel_and_torch_reads_equal_the_read_model(card):
    """Same key -> the read model's numbers: bitwise for the row-by-row (W^T) products of the
    kernel, up to float32 summation order for its dot-product reads and for torch (then ADC
    rounding may move a rare value by one step)."""
    _, models, line_g, packed = _setup(card, [(96, 70), (12, 96)])
    rng = np.random.default_rng(1)
    for r, m in enumerate(models):
        X = rng.uniform(0, 1, (20, m.n_in)).astype(np.float32)
        X[rng.random(X.shape) < 0.3] = 0.0  # saturated neurons: skipped in the products
        key = 987654321 + r
        ref = m.read(X, key=key)
        got, energy = _kernel_read(packed, r, X, key)
        tr = TorchRead(m, r, _FixedKey(key), line_g[r])
        got_t = tr(torch.from_numpy(X)).numpy()
        step = float(np.max(m.adc_step))
        for out in (got, got_t):
            close = np.abs(out - ref) <= 1e-5 * np.abs(ref).max() + 1e-7
            one_step = np.isclose(np.abs(out - ref), step, rtol=1e-3) | np.isclose(np.abs(out - ref), 2 * step, rtol=1e-3)
            assert np.all(close | one_step)
            assert np.mean(close) > 0.99
        if m.n_out >= K._DOT_MAX_OUT:
            assert np.array_equal(got, ref)
        # array energy units: sum_i xq_i^2 * (G+ + G- on line i)
        xq = np.rint(np.clip(X.astype(np.float64), -1, 1) / m.dac.step) * m.dac.step
        np.testing.assert_allclose(energy, (xq.astype(np.float32).astype(np.float64) ** 2) @ line_g[r], rtol=1e-6)


def test_noise_statistics_of_a_read():
    """Many reads of one input: mean = the read model's ideal output, variance = (x*x) @ sigma2
    + TIA noise (DESIGN "Noise"), before the ADC (bits None)."""
    card = with_value(preset("pcm"), "adc.bits", None)
    _, models, _, packed = _setup(card, [(8, 30), (4, 8)])
    m = models[0]
    x = np.random.default_rng(2).uniform(0, 1, (1, 30)).astype(np.float32)
    X = np.repeat(x, 4000, axis=0)  # rows are distinct streams of one read: independent deviates
    out, _ = _kernel_read(packed, 0, X, 11)
    xq = np.rint(x.astype(np.float64) / m.dac.step) * m.dac.step
    mean = m.ideal_output(x)[0]
    var = (xq**2 @ m.sigma2_eff.T.astype(np.float64))[0] + m.out_noise_std[0, 0] ** 2
    np.testing.assert_allclose(out.mean(axis=0), mean, atol=4 * np.sqrt(var.max() / 4000))
    np.testing.assert_allclose(out.var(axis=0), var, rtol=0.12)


def test_key_table_blocks_are_what_the_kernel_draws():
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    table = KeyTable(rng_a, 4, rows=5)
    block = draw_keys(rng_b, 5, 4)
    assert [table.key(2) for _ in range(5)] == [int(v) for v in block[:, 2]]
    more = draw_keys(rng_b, 5, 4)  # the sixth call of read 2 opens a second block
    assert table.key(2) == int(more[0, 2])
    src = KeySource(7, 4)
    src.new_phase(3)
    k = src.key(1)
    src.reseed(7)
    src.new_phase(3)
    assert src.key(1) == k
    with pytest.raises(ValueError, match="seed"):
        src.reseed(-1)


def test_torch_read_straight_through_gradient():
    """d(read)/dx through STE quantisation equals the mean map W (no noise, unsaturated)."""
    card = with_value(with_value(preset("ideal"), "adc.bits", 6), "dac.bits", 5)
    _, models, _, _ = _setup(card, [(5, 7)])
    m = models[0]
    tr = TorchRead(m, 0, _FixedKey(1))
    x = torch.rand(3, 7, dtype=torch.float32) * 0.5 + 0.1
    x.requires_grad_(True)
    y = tr(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    expected = torch.from_numpy(m.w_eff.astype(np.float32)).sum(dim=0).expand(3, 7)
    assert torch.allclose(g, expected, atol=1e-6)
    q = torch.round(y.detach() / float(m.adc_step[0, 0])) * float(m.adc_step[0, 0])
    assert torch.allclose(y.detach(), q, atol=1e-6)  # the forward value is quantised
