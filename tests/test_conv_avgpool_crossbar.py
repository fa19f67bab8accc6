"""Average-pool convolutional EBMs on the crossbar substrate (issue 16): the fused Numba settle
against the torch reads path (the same numbers on an ideal card and with noise under the same
keys), both against the float model, energy and read counts alike. Small seeded nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.settle import settle
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.substrates.crossbar.conv_settle import settle_conv_kernel
from hardware_models.cards import preset, with_value

from fixtures_threads import parallel_results

EXACT = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
PCM_NO_ROUNDING = with_value(with_value(preset("pcm"), "adc.bits", None), "dac.bits", None)


def _model(hw=8, **kw) -> ConvEBM:
    base = dict(input_shape=(1, hw, hw), channels=(4, 8), free_steps=12, nudge_steps=5, tol=0.0, init_gain=1.5,
                seed=3, schedule="sync", per_sample_stop=False, pool_kinds="avg")
    base.update(kw)
    return ConvEBM(ConvEBMConfig(**base)).eval()


def _x(hw=8) -> torch.Tensor:
    return torch.rand(6, 1, hw, hw, generator=torch.Generator().manual_seed(0))


def _both(sub, x, **kw):
    out = []
    for backend in ("numba", "torch"):
        sub.reseed(7)
        out.append(sub.settle(x, backend=backend, **kw))
    return out


def _max_diff(a, b) -> float:
    return max(float((sa - sb).abs().max()) for sa, sb in zip(a.states, b.states))


# 7x7: the 7x7 convolution output drops its last row and column at the 2x2 pool; mixed kinds
@pytest.mark.parametrize("hw,kinds", [(8, "avg"), (7, "avg"), (8, ("max", "avg"))])
def test_ideal_card_fused_equals_torch_reads_and_float(hw, kinds):
    model, x = _model(hw, pool_kinds=kinds), _x(hw)
    sub = CrossbarSubstrate(model, EXACT, drift_time_s=0.0)
    assert sub.backend == "numba"
    a, b = _both(sub, x)
    assert _max_diff(a, b) < 1e-5
    assert torch.allclose(a.logits, b.logits, atol=1e-5)
    np.testing.assert_allclose(a.row_reads, b.row_reads)
    assert a.energy_units == pytest.approx(b.energy_units, rel=1e-6)
    with torch.no_grad():
        ref = settle(model, x, max_steps=12, tol=0.0, per_sample=False)
        assert max(float((sa - sr).abs().max()) for sa, sr in zip(a.states, ref.states)) < 1e-5
        assert torch.allclose(sub.logits(x), model(x), atol=1e-5)


def test_avg_and_max_differ_on_the_crossbar():
    # the kernel really switches pooling: the same weights settle elsewhere under max-pool
    x = _x()
    a = CrossbarSubstrate(_model(), EXACT, drift_time_s=0.0).settle(x)
    b = CrossbarSubstrate(_model(pool_kinds="max"), EXACT, drift_time_s=0.0).settle(x)
    assert _max_diff(a, b) > 1e-2


@pytest.mark.parametrize("readout", ["ce", "mse"])
def test_noisy_free_and_nudged_phases_same_numbers_with_the_same_keys(readout):
    model = _model(readout=readout, hidden_sizes=(12,))
    sub = CrossbarSubstrate(model, PCM_NO_ROUNDING, drift_time_s=60.0, seed=0)
    assert sub.stochastic
    x, y = _x(), torch.arange(6) % 10
    a, b = _both(sub, x)
    assert _max_diff(a, b) < 2e-4
    free = sub.settle(x)
    a, b = _both(sub, x, beta=-0.5, y=y, states=free.states)
    assert _max_diff(a, b) < 2e-4
    assert torch.allclose(a.logits, b.logits, atol=2e-4)


def test_same_numbers_whatever_the_thread_count_and_chunk():
    sub = CrossbarSubstrate(_model(), "pcm-harsh", drift_time_s=86400.0, seed=2)
    packed, x = sub._packed, _x()
    xs = np.ascontiguousarray(x.reshape(x.shape[0], -1).numpy())
    s0 = np.zeros((x.shape[0], int(packed.layer_off[-1])), dtype=np.float32)
    labels = np.zeros(x.shape[0], dtype=np.int64)
    keys = np.random.default_rng(0).integers(0, 2**64, (20, packed.n_reads), dtype=np.uint64)
    run = lambda **kw: settle_conv_kernel(packed, xs, s0, labels, 0.0, 0.5, 15, 0.0, keys, **kw)  # noqa: E731
    serial = run(parallel=False)
    for result in [run(parallel=False, chunk=4)] + parallel_results(lambda: run(parallel=True)):
        for a, b in zip(serial, result):
            assert np.array_equal(a, b)


def test_white_box_gradient_of_an_avgpool_net_on_an_ideal_card_is_the_float_models():
    # the implicit gradient (fused fixed point, one recorded step through the torch reads)
    # against full backpropagation through the float model's own settle
    import torch.nn.functional as F

    from analogeq.contract import GradientSpec

    model = ConvEBM(ConvEBMConfig(channels=(4, 8), free_steps=300, tol=1e-6, step_size=0.5, init_gain=0.8, seed=2,
                                  schedule="sync", per_sample_stop=False, pool_kinds="avg")).eval()
    sub = CrossbarSubstrate(model, EXACT, drift_time_s=0.0)
    x, y = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)), torch.arange(4) % 10
    grads = []
    for logits_of in (sub.attack_logits, lambda v: model.forward_for_attack(v, GradientSpec("full"))):
        xr = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(logits_of(xr), y), xr)
        grads.append(g)
    assert float(grads[1].abs().max()) > 0
    cos = F.cosine_similarity(grads[0].flatten(1), grads[1].flatten(1), dim=1)
    assert float(cos.min()) >= 0.99, cos


def test_blas_runs_on_one_thread_inside_the_parallel_conv_kernel_and_is_restored():
    """The parallel conv kernel calls BLAS from every Numba (OpenMP) thread; a multi-threaded
    OpenBLAS inside an OpenMP region oversubscribes and warns "may hang" on every call."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from analogeq.substrates.crossbar.conv_settle import single_threaded_blas

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with single_threaded_blas(True):
            assert blas_threads() and set(blas_threads()) == {1}
        assert blas_threads() == before
        with single_threaded_blas(False):
            assert blas_threads() == before
