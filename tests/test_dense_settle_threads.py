"""Issue 17 item 13, cold start: the crossbar's fused dense settle has one compiled kernel (no
``parallel=True`` variant to compile on first use); a batch split over any number of threads
gives the serial numbers bit for bit (nudged ce phase included); its first slow call prints the
one-line compile notice once."""

from __future__ import annotations

import time

import numba
import numpy as np
import pytest
import torch

from analogeq import progress
from analogeq.models import build_model
from analogeq.substrates.crossbar import CrossbarSubstrate
from analogeq.substrates.crossbar import fused_settle


@pytest.fixture(scope="module")
def setting():
    """A small ce-readout EBM on the noisy pcm card, its packed arrays and one batch."""
    torch.manual_seed(0)
    model = build_model({"kind": "dense_ebm", "input_shape": [16], "hidden_sizes": [12, 8], "num_classes": 4,
                         "readout": "ce"}).eval()
    packed = CrossbarSubstrate(model, "pcm", drift_time_s=3600.0, seed=1)._packed
    rng = np.random.default_rng(0)
    batch = 7
    x = rng.random((batch, 16), dtype=np.float32)
    s0 = np.zeros((batch, int(packed.layer_off[-1])), dtype=np.float32)
    labels = rng.integers(0, 4, batch).astype(np.int64)
    keys = rng.integers(0, 2**64, (40, packed.n_reads), dtype=np.uint64)
    return packed, x, s0, labels, keys


def test_no_parallel_numba_variant_is_left_to_compile():
    dispatchers = [v for v in vars(fused_settle).values() if isinstance(v, numba.core.registry.CPUDispatcher)]
    assert dispatchers, "the module's Numba kernels were not found"
    assert not [d.py_func.__qualname__ for d in dispatchers if d.targetoptions.get("parallel")]


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_any_thread_count_gives_the_serial_numbers(setting, monkeypatch, beta):
    packed, x, s0, labels, keys = setting
    serial = fused_settle.settle_dense_kernel(packed, x, s0, labels, beta, 0.5, 30, 0.0, keys, parallel=False)
    assert serial[2].min() == 30  # tol 0: every sample ran the whole budget
    for threads in (2, 3, 5, 16):  # 16 > batch: one sample per thread
        monkeypatch.setattr(fused_settle.numba, "get_num_threads", lambda: threads)
        split = fused_settle.settle_dense_kernel(packed, x, s0, labels, beta, 0.5, 30, 0.0, keys)
        for a, b in zip(serial, split):
            assert np.array_equal(a, b), threads


def test_a_slow_first_call_prints_the_compile_notice_once(setting, monkeypatch, capfd):
    packed, x, s0, labels, keys = setting
    real = fused_settle._settle_range

    def slow_first(*args):  # what a first call that compiles looks like: slow
        time.sleep(0.4)
        return real(*args)

    monkeypatch.setattr(fused_settle, "_settle_range", slow_first)
    monkeypatch.setattr(progress, "COMPILE_NOTICE_AFTER_S", 0.05)
    monkeypatch.setattr(progress, "_NOTICED", set())
    for _ in range(2):
        fused_settle.settle_dense_kernel(packed, x, s0, labels, 0.0, 0.5, 5, 0.0, keys, parallel=False)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "compiling the crossbar dense settle kernels with Numba" in lines[0], lines
