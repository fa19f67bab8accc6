"""Shared pytest fixtures: small, seeded and general (keep it that way)."""

from __future__ import annotations

import os

# as the command line does (analogeq/threads.py), before torch loads its OpenMP runtime
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

# fixtures shared by one family of test files live in their own module (names in its __all__)
from fixtures_baselines import *  # noqa: E402,F401,F403
from fixtures_robustness import *  # noqa: E402,F401,F403


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Run torch on one CPU thread: the test networks are small, and on a shared 2-core machine
    more threads than free cores makes torch's OpenMP workers spin (measured here: an EqProp vs
    BPTT check took 1.3 s + 3.5 s on one thread, 35 s + 50 s on two under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def digits_splits():
    """The full digits split (seed 0): 1258 / 179 / 360 images (1, 8, 8) in [0, 1]."""
    from analogeq.data import load_dataset

    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def digits_small(digits_splits):
    """A seeded small digits subset: 300 train, 100 validation, 100 test images."""
    return digits_splits.subset(n_train=300, n_val=100, n_test=100, seed=0)


@pytest.fixture
def torch_seed():
    """Seed torch's global generator for the duration of a test."""
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    yield 0
    torch.random.set_rng_state(state)
