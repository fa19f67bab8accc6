"""The fused Numba settle of convolutional EBMs (analogeq.substrates.crossbar.conv_settle)
against the torch reads path, the differentiable reference: the same numbers on an ideal card
and with noise under the same keys, the same per-sample stopping, tiles, nudged phases, batch
chunking and thread-count invariance. Small nets on 8x8 inputs (seeded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.substrates.crossbar import conv_settle
from analogeq.substrates.crossbar.conv_settle import settle_conv_kernel
from hardware_models.cards import preset, with_value

from fixtures_threads import parallel_results

EXACT = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
#: PCM read and TIA noise, drift and its compensation; no converter rounding
PCM_NO_ROUNDING = with_value(with_value(preset("pcm"), "adc.bits", None), "dac.bits", None)
#: small tiles: several input and output tiles per matrix, each with its own ADC
TILED = with_value(with_value(preset("pcm-harsh"), "tile.max_rows", 20), "tile.max_cols", 6)


def _model(**kw) -> ConvEBM:
    # the synchronous reference schedule: what the crossbar settles with
    base = dict(channels=(4, 8), free_steps=12, nudge_steps=5, tol=0.0, init_gain=1.5, seed=3, schedule="sync",
                per_sample_stop=False)
    base.update(kw)
    return ConvEBM(ConvEBMConfig(**base)).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def _both(sub, x, **kw):
    out = []
    for backend in ("numba", "torch"):
        sub.reseed(7)
        out.append(sub.settle(x, backend=backend, **kw))
    return out


def _assert_same(a, b, atol):
    for sa, sb in zip(a.states, b.states):
        assert sa.shape == sb.shape
        assert torch.allclose(sa, sb, atol=atol), float((sa - sb).abs().max())
    assert torch.allclose(a.logits, b.logits, atol=atol)


def test_ideal_card_fused_equals_torch_reads_and_float(x):
    model = _model()
    sub = CrossbarSubstrate(model, EXACT, drift_time_s=0.0)
    assert sub.backend == "numba"
    a, b = _both(sub, x)
    _assert_same(a, b, 1e-5)
    assert np.array_equal(a.steps, b.steps)
    np.testing.assert_allclose(a.row_reads, b.row_reads)
    assert a.energy_units == pytest.approx(b.energy_units, rel=1e-6)
    with torch.no_grad():
        assert torch.allclose(sub.logits(x), model(x), atol=1e-5)


@pytest.mark.parametrize("card", [PCM_NO_ROUNDING, TILED], ids=["pcm-no-rounding", "pcm-harsh-tiled"])
def test_noisy_reads_same_numbers_with_the_same_keys(x, card):
    """The same key rule as the torch reads: with noise, the same draws, so the same states
    (up to float32 summation order; the tiled card rounds at its ADCs, where a rare value can
    move by one step)."""
    sub = CrossbarSubstrate(_model(), card, drift_time_s=3600.0, seed=1)
    assert sub.stochastic
    a, b = _both(sub, x)
    diff = torch.cat([(sa - sb).abs().flatten() for sa, sb in zip(a.states, b.states)])
    if card is PCM_NO_ROUNDING:
        assert float(diff.max()) < 2e-4
    else:
        assert float(diff.mean()) < 2e-3 and float((diff < 1e-4).float().mean()) > 0.95
    np.testing.assert_allclose(a.row_reads, b.row_reads)
    assert a.energy_units == pytest.approx(b.energy_units, rel=1e-4)
    # another draw of the noise gives other numbers
    c = sub.settle(x)
    assert not torch.equal(c.states[0], a.states[0])


def test_pcm_converters_close_to_torch_reads(x):
    sub = CrossbarSubstrate(_model(), "pcm", drift_time_s=3600.0, seed=2)
    a, b = _both(sub, x)
    diff = torch.cat([(sa - sb).abs().flatten() for sa, sb in zip(a.states, b.states)])
    assert float(diff.mean()) < 2e-3


def test_per_sample_stopping_matches_each_sample_settled_alone(x):
    """tol > 0: each sample stops on its own residual, exactly as the torch reads path settling
    that sample alone."""
    model = _model(free_steps=80, tol=1e-3, step_size=0.5)
    sub = CrossbarSubstrate(model, EXACT, drift_time_s=0.0)
    a = sub.settle(x)
    assert len(set(a.steps.tolist())) > 2 and (a.steps < 80).sum() >= 3
    for i in range(x.shape[0]):
        b = sub.settle(x[i:i + 1], backend="torch")
        assert a.steps[i] == b.steps[0]
        assert a.residual[i] == pytest.approx(b.residual[0], rel=1e-3, abs=1e-7)
        for sa, sb in zip(a.states, b.states):
            assert torch.allclose(sa[i:i + 1], sb, atol=1e-5)


@pytest.mark.parametrize("readout", ["ce", "mse"])
def test_nudged_phase_equals_torch(x, readout):
    model = _model(readout=readout, hidden_sizes=(12,), paddings=(1, 0), pool_sizes=(2, 1))
    sub = CrossbarSubstrate(model, PCM_NO_ROUNDING, drift_time_s=60.0, seed=0)
    y = torch.arange(x.shape[0]) % 10
    free = sub.settle(x)
    a, b = _both(sub, x, beta=-0.5, y=y, states=free.states)
    _assert_same(a, b, 2e-4)


def _kernel_inputs(sub, x):
    packed = sub._packed
    xs = np.ascontiguousarray(x.reshape(x.shape[0], -1).numpy())
    s0 = np.zeros((x.shape[0], int(packed.layer_off[-1])), dtype=np.float32)
    labels = np.zeros(x.shape[0], dtype=np.int64)
    keys = np.random.default_rng(0).integers(0, 2**64, (20, packed.n_reads), dtype=np.uint64)
    return packed, xs, s0, labels, keys


def test_same_numbers_whatever_the_thread_count_and_chunk(x):
    sub = CrossbarSubstrate(_model(), "pcm-harsh", drift_time_s=86400.0, seed=2)
    packed, xs, s0, labels, keys = _kernel_inputs(sub, x)
    serial = settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, parallel=False)
    chunked = settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, parallel=False, chunk=4)
    results = [chunked] + parallel_results(
        lambda: settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, parallel=True))
    for result in results:
        for a, b in zip(serial, result):
            assert np.array_equal(a, b)


def test_same_numbers_whatever_the_block_of_samples(x, monkeypatch):
    """The forward products run on blocks of samples (one BLAS product per tile and block): one
    sample per block gives the same numbers as the whole chunk in one block."""
    sub = CrossbarSubstrate(_model(), TILED, drift_time_s=3600.0, seed=2)
    packed, xs, s0, labels, keys = _kernel_inputs(sub, x)
    whole = settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, parallel=False)
    assert (conv_settle.block_samples(packed, len(xs))[:2] == len(xs)).all()
    monkeypatch.setattr(conv_settle, "BLOCK_FLOATS", 1)
    assert (conv_settle.block_samples(packed, len(xs))[:2] == 1).all()
    single = settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, parallel=False)
    for a, b in zip(whole, single):
        assert np.array_equal(a, b)


def test_noisy_logits_same_distribution_as_torch_reads(x):
    """Over many draws (new keys each call), fused and torch class scores have the same mean
    and spread (they are the same numbers draw by draw; this checks the draws vary)."""
    sub = CrossbarSubstrate(_model(free_steps=6), "pcm-harsh", drift_time_s=3600.0, seed=4)
    draws = {}
    for backend in ("numba", "torch"):
        sub.reseed(11)
        draws[backend] = torch.stack([sub.settle(x[:2], backend=backend).logits for _ in range(12)])
    a, b = draws["numba"], draws["torch"]
    assert float(a.std(0).mean()) > 0
    assert torch.allclose(a.mean(0), b.mean(0), atol=0.02 + 0.2 * float(a.std(0).max()))
