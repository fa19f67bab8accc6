"""Brian2's cpp_standalone device as a run mode of the spiking substrate.

One tiny network (8-12-4, 4 copies, 80 steps per phase: one compiled project of a few seconds'
run, about half a minute to compile cold) in a cache folder shared by the module: the compiled
program gives the runtime target's spike counts, free and nudged phases included; a second
build of the same shape compiles nothing (in the process, and from disk); the substrate runs
it when asked and says which mode runs in ``describe()``.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import torch

from analogeq.substrates.spiking import standalone
from analogeq.substrates.spiking.backend import resolve_backend, standalone_available
from analogeq.substrates.spiking.network import StackedSpikingNetwork, build_stacked_network
from hardware_models import card_from_dict, preset
from hardware_models.spiking import map_dense_network

pytestmark = [pytest.mark.brian2,
              pytest.mark.skipif(not standalone_available(), reason="Brian2's cpp_standalone device needs make and a C++ compiler")]

STEPS = 80
BATCH = 4


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("brian_cache"))


@pytest.fixture(scope="module")
def tiny():
    """A seeded 8-12-4 network on the ideal card with free and nudged phases of STEPS steps."""
    rng = np.random.default_rng(3)
    d = preset("spiking-ideal").to_dict()
    d["timing"].update({"t_free_s": STEPS * 1e-4, "t_nudge_s": STEPS * 1e-4, "decode_window_s": 4e-3})
    card = card_from_dict(d)
    weights = [rng.normal(0, 0.5, (12, 8)), rng.normal(0, 0.5, (4, 12))]
    biases = [rng.normal(0.2, 0.2, 12), rng.normal(0.2, 0.2, 4)]
    mapped = map_dense_network(weights, biases, input_shape=(8,), num_classes=4, readout="mse", card=card, seed=0)
    x = rng.uniform(0, 1, (BATCH, 8))
    cur = np.tile(mapped.concat("biases"), (BATCH, 1))
    cur[:, :12] += x @ mapped.weights[0].T
    return mapped, card, cur


def phases(net, card, cur):
    """Free phase, then a nudged phase from its state (currents + 0.1, self-feedback -0.1)."""
    t = card.timing
    net.reset()
    net.set_currents(cur)
    free = net.run_phase(t.free_steps, t.window_steps, seed=1)
    snap = net.snapshot()
    net.set_currents(cur * 0.0)  # a phase in between, then back to the free state
    net.run_phase(t.free_steps, t.window_steps, seed=2)
    net.load_snapshot(snap)
    net.set_currents(cur + 0.1, np.full(cur.shape, -0.1))
    nudged = net.run_phase(t.nudge_steps, t.window_steps, seed=3)
    return [free.window, free.total, nudged.window, nudged.total]


def test_standalone_gives_the_runtime_spike_counts(tiny, cache):
    mapped, card, cur = tiny
    runtime = phases(StackedSpikingNetwork(mapped, card, BATCH, resolve_backend("numpy")), card, cur)
    net = build_stacked_network(mapped, card, BATCH, resolve_backend("cpp_standalone", cache))
    compiled = phases(net, card, cur)
    assert runtime[1].sum() > 100 and runtime[3].sum() > 50  # the network spikes
    for a, b in zip(runtime, compiled):
        np.testing.assert_array_equal(a, b)
    # new weights go to the same program, without recompiling
    count = standalone.compile_count()
    scaled = map_dense_network([w * 0.5 for w in mapped.weights], mapped.biases, input_shape=(8,), num_classes=4,
                               readout="mse", card=card, seed=0)
    ref = StackedSpikingNetwork(mapped, card, BATCH, resolve_backend("numpy"))
    ref.update_weights(scaled)
    net.update_weights(scaled)
    for a, b in zip(phases(ref, card, cur), phases(net, card, cur)):
        np.testing.assert_array_equal(a, b)
    assert standalone.compile_count() == count
    net.close()
    assert not [f for f in os.listdir(os.path.join(net.project(STEPS).directory, "static_arrays")) if f.startswith(net._tag)]


def test_second_build_of_a_shape_compiles_nothing(tiny, cache):
    mapped, card, cur = tiny
    backend = resolve_backend("cpp_standalone", cache)
    first = build_stacked_network(mapped, card, BATCH, backend).project(STEPS)
    count = standalone.compile_count()
    main = os.path.join(first.directory, "main")
    mtime = os.path.getmtime(main)
    # in the process: the same built project, no code generation
    assert build_stacked_network(mapped, card, BATCH, backend).project(STEPS) is first
    # from disk, as a new process finds it (no Brian2 object of the first build alive): code
    # generated again, make has nothing to do
    first_id = id(first)
    standalone._PROJECTS.pop(first.key)
    del first
    gc.collect()
    again = build_stacked_network(mapped, card, BATCH, backend)
    project = again.project(STEPS)
    assert id(project) != first_id and not project.compiled
    assert standalone.compile_count() == count and os.path.getmtime(main) == mtime
    ref = StackedSpikingNetwork(mapped, card, BATCH, resolve_backend("numpy"))
    for a, b in zip(phases(ref, card, cur), phases(again, card, cur)):
        np.testing.assert_array_equal(a, b)
    # another shape is another project
    assert standalone.project_key(mapped, card, BATCH + 1, STEPS, 0) != project.key


def test_substrate_runs_the_standalone_mode_and_says_so(tiny, cache, monkeypatch):
    from analogeq.substrates.spiking import SpikingSubstrate
    from analogeq.substrates.spiking.backend import cython_available

    mapped, card, _ = tiny
    sub = SpikingSubstrate(mapped, card, batch_size=BATCH, cache_dir=cache, target="cpp_standalone")
    d = sub.describe()
    assert d["brian2_target"] == "cpp_standalone" and "target='cpp_standalone'" in d["brian2_run_mode"]
    assert d["brian2_threads"] == 0 and sub.capacity(3) == BATCH
    x = torch.rand(3, 8, generator=torch.Generator().manual_seed(0))
    ref = SpikingSubstrate(mapped, card, batch_size=BATCH, target="numpy")
    assert "numpy" in ref.describe()["brian2_run_mode"]
    assert card.timing.free_steps == STEPS  # the compiled project of the tests above
    torch.testing.assert_close(sub.logits(x), ref.logits(x), rtol=0, atol=0)
    assert sub.cost()["spikes_per_inference"] == ref.cost()["spikes_per_inference"]
    # "auto" is the fastest mode measured (cython: as fast, and no compilation per shape)
    monkeypatch.delenv("ANALOGEQ_BRIAN_TARGET", raising=False)
    assert resolve_backend("auto").target == ("cython" if cython_available() else "numpy")
    monkeypatch.setenv("ANALOGEQ_BRIAN_TARGET", "cpp_standalone")
    assert resolve_backend("auto", cache).target == "cpp_standalone"
    with pytest.raises(ValueError, match="threads"):
        resolve_backend("cpp_standalone", cache, threads=-1)


def variant(tiny, **noise_or_refractory):
    """The tiny network on a card with a refractory period or membrane noise."""
    mapped, card, cur = tiny
    d = card.to_dict()
    for path, value in noise_or_refractory.items():
        section, field = path.split("__")
        d[section][field] = value
    return mapped, card_from_dict(d), cur


def test_refractory_period_runs_as_at_runtime(tiny, cache):
    """Spike times are carried between runs (each standalone run starts at t = 0)."""
    mapped, card, cur = variant(tiny, neuron__refractory_s=2e-4)
    assert card.refractory_steps == 2
    runtime = phases(StackedSpikingNetwork(mapped, card, BATCH, resolve_backend("numpy")), card, cur)
    compiled = phases(build_stacked_network(mapped, card, BATCH, resolve_backend("cpp_standalone", cache)), card, cur)
    for a, b in zip(runtime, compiled):
        np.testing.assert_array_equal(a, b)


def test_noisy_runs_are_reproducible_per_seed(tiny, cache):
    """Membrane noise: the program seeds its generators per run; same seed, same spikes. Its
    random numbers are not the runtime's, so only the mean activity is compared with it."""
    mapped, card, cur = variant(tiny, noise__membrane_std=0.05)
    net = build_stacked_network(mapped, card, BATCH, resolve_backend("cpp_standalone", cache))
    t = card.timing

    def run(seed):
        net.reset()
        net.set_currents(cur)
        return net.run_phase(t.free_steps, t.window_steps, seed).total

    a, b, c = run(5), run(5), run(6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ref = StackedSpikingNetwork(mapped, card, BATCH, resolve_backend("numpy"))
    ref.set_currents(cur)
    r = ref.run_phase(t.free_steps, t.window_steps, 5).total
    assert abs(a.sum() - r.sum()) <= 0.05 * r.sum()
