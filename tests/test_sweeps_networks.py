"""Networks in sweeps: trained once into the cache beside the database and shared by every
point and worker; EBM evaluations on substrates; unavailable substrate kinds skipped, then run."""

from __future__ import annotations

import os
import textwrap

import pytest
from fixtures_sweeps import load_spec_text, spec_toml

import analogeq.substrates as substrates
from analogeq.sweeps import ResultStore, expand_points, network_cache_dir, run_sweep
from analogeq.sweeps.runner import plan_points

TRAIN = """
[network.train]
dataset = "digits"
data_seed = 0
[network.train.model]
hidden_sizes = [16]
free_steps = 10
nudge_steps = 4
[network.train.training]
epochs = 1
batch_size = 128
lr = 0.1
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One network cache for the module: the tiny EBM is trained once for all tests."""
    return str(tmp_path_factory.mktemp("networks"))


def _accuracy_spec(tmp_path, substrates_line='["float"]', seeds="[0, 1]", name="net.toml", network=TRAIN):
    text = spec_toml("acc", seeds=seeds, extra=f"substrates = {substrates_line}",
                     axes='"device.read_noise_scale" = [0.0, 1.0]',
                     evaluations="[evaluations.clean_accuracy]\nn_test = 120\n" + textwrap.dedent(network))
    return load_spec_text(tmp_path, text, name)


def test_network_is_trained_once_and_shared(tmp_path):
    from analogeq.checkpoint import load_checkpoint
    from analogeq.data import load_dataset
    from analogeq.train import evaluate

    spec = _accuracy_spec(tmp_path)
    db = tmp_path / "s.db"
    summary = run_sweep(spec, db, progress=False)
    assert (summary.planned, summary.ok) == (4, 4), summary.errors
    cache = network_cache_dir(db)
    files = sorted(f for f in os.listdir(cache) if f.endswith(".safetensors"))
    assert len(files) == 1
    ckpt = os.path.join(cache, files[0])
    mtime = os.stat(ckpt).st_mtime_ns

    # the accuracy stored equals an independent evaluation of the cached network
    model, meta = load_checkpoint(ckpt)
    assert meta["dataset"] == "digits" and meta["train_config"] == spec.network.train
    test = load_dataset("digits", seed=0).test.subset(120, seed=0)
    expected = evaluate(model, test)["accuracy"]
    with ResultStore(db) as store:
        rows = store.results()
    assert [r.metrics["accuracy"] for r in rows] == pytest.approx([expected] * 4)
    assert all(r.metrics["n_test"] == 120 for r in rows)

    # a bigger sweep with the same training config reuses the cached network
    bigger = _accuracy_spec(tmp_path, seeds="[0, 1, 2]", name="bigger.toml")
    again = run_sweep(bigger, db, progress=False)
    assert (again.already_done, again.ran) == (4, 2)
    assert os.stat(ckpt).st_mtime_ns == mtime


def test_checkpoint_network_identity_is_its_content(tmp_path, shared_cache):
    from analogeq.checkpoint import load_checkpoint, save_checkpoint

    trained = _accuracy_spec(tmp_path)
    db = tmp_path / "s.db"
    run_sweep(trained, db, progress=False, network_cache=shared_cache)
    (ckpt,) = [f for f in os.listdir(shared_cache) if f.endswith(".safetensors")]
    model, meta = load_checkpoint(os.path.join(shared_cache, ckpt))
    save_checkpoint(tmp_path / "a.safetensors", model, metadata=meta)
    save_checkpoint(tmp_path / "moved" / "b.safetensors", model, metadata=meta)
    a = _accuracy_spec(tmp_path, network='[network]\ncheckpoint = "a.safetensors"\n', name="a.toml")
    b = _accuracy_spec(tmp_path, network='[network]\ncheckpoint = "moved/b.safetensors"\n', name="b.toml")
    keys_a = [p.key for p in plan_points(a)]
    assert keys_a == [p.key for p in plan_points(b)]  # same network, same points, wherever the file is
    assert set(keys_a).isdisjoint(p.key for p in plan_points(trained))
    (identity,) = {str(p.config["network"]) for p in plan_points(a)}
    assert "weights_sha256" in identity and "'dataset': 'digits'" in identity


def test_a_worker_process_loads_the_cached_network_and_gives_the_same_accuracies(tmp_path, shared_cache):
    spec = _accuracy_spec(tmp_path)
    run_sweep(spec, tmp_path / "a.db", progress=False, network_cache=shared_cache)
    run_sweep(spec, tmp_path / "b.db", executor="processes", workers=1, progress=False, network_cache=shared_cache)
    with ResultStore(tmp_path / "a.db") as a, ResultStore(tmp_path / "b.db") as b:
        assert {r.key: r.metrics for r in a.results()} == {r.key: r.metrics for r in b.results()}
        assert {r.status for r in b.results()} == {"ok"}


def test_unavailable_substrate_is_skipped_then_runs_once_registered(tmp_path, monkeypatch, shared_cache):
    spec = _accuracy_spec(tmp_path, substrates_line='["float", "crossbar"]')
    db = tmp_path / "s.db"
    substrates.substrate_kinds()  # import the built-in kinds first
    monkeypatch.setattr(substrates, "substrate_kinds", lambda: ["float"])
    first = run_sweep(spec, db, progress=False, network_cache=shared_cache)
    assert (first.ok, first.skipped) == (4, 4)
    with ResultStore(db) as store:
        skipped = store.results(status="skipped")
    assert {r.substrate for r in skipped} == {"crossbar"}
    assert all("substrate kind 'crossbar' is not available" in r.reason for r in skipped)
    monkeypatch.undo()

    # a stand-in crossbar kind: records the options it is offered, computes in float
    received = []

    from analogeq.substrates.float import FloatSubstrate

    class CostedFloat(FloatSubstrate):
        def cost(self):
            return {"energy_per_inference_J": 2.5e-9, "latency_per_inference_s": None}

    def stand_in(model, options):
        received.append((type(options.card).__name__, options.seed, options.drift_time_s))
        return CostedFloat(model)

    from analogeq.substrates import registry
    from analogeq.substrates.crossbar import CrossbarOptions

    monkeypatch.setitem(registry._KINDS, "crossbar", registry.SubstrateKind("crossbar", CrossbarOptions, stand_in))
    second = run_sweep(spec, db, progress=False, network_cache=shared_cache)
    assert (second.already_done, second.ran, second.ok) == (4, 4, 4)
    assert len(received) == 4 and {r[0] for r in received} == {"CrossbarCard"}
    assert {r[2] for r in received} == {3600.0}
    # the substrate seed follows the point seed, not the axis values
    assert len({r[1] for r in received}) == 2
    with ResultStore(db) as store:
        rows = store.results()
    assert len(rows) == 8 and {r.status for r in rows} == {"ok"}
    # the substrate's cost figures are stored with the accuracy (absent ones left out)
    costed = [r.metrics for r in rows if r.substrate == "crossbar"]
    assert all(m["energy_per_inference_J"] == 2.5e-9 and "latency_per_inference_s" not in m for m in costed)


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("epochs = 1", "epochs = 0", r"network.train.training.epochs: must be an integer >= 1, got 0"),
        ("hidden_sizes = [16]", "hidden_sizez = [16]", r"network.train.model: unknown DenseEBMConfig field"),
        ('dataset = "digits"', 'dataset = "mnist"', r"network.train.dataset: a sweep trains only on \['digits'\]"),
        ("data_seed = 0", "data_seed = -1", r"network.train.data_seed: must be an integer >= 0"),
        ("data_seed = 0", "data_seed = 0\nepochs = 3", r"network.train.epochs: unknown key; allowed"),
    ],
)
def test_bad_training_configs_name_the_path(tmp_path, old, new, match):
    with pytest.raises(ValueError, match=match):
        _accuracy_spec(tmp_path, network=TRAIN.replace(old, new))


def test_network_keys_change_with_the_training_config(tmp_path):
    a = {p.key for p in plan_points(_accuracy_spec(tmp_path, name="a.toml"))}
    b = {p.key for p in plan_points(_accuracy_spec(tmp_path, name="b.toml", network=TRAIN.replace("lr = 0.1", "lr = 0.2")))}
    assert a.isdisjoint(b) and len(a) == len(b) == 4
    assert expand_points  # imported API


def test_robust_accuracy_agrees_with_clean_accuracy_and_orders_attacks(tmp_path, shared_cache):
    spec = load_spec_text(tmp_path, """
        name = "robust"
        seeds = [0]
        substrates = ["float"]
        [card]
        preset = "pcm"
        [evaluations.clean_accuracy]
        n_test = 24
        [evaluations.robust_accuracy]
        n_test = 24
        eps_linf = 0.05
    """ + textwrap.dedent(TRAIN))
    summary = run_sweep(spec, tmp_path / "r.db", progress=False, network_cache=shared_cache)
    assert summary.ok == 2, summary.errors
    with ResultStore(tmp_path / "r.db") as store:
        by_eval = {r.evaluation: r.metrics for r in store.results()}
    clean, robust = by_eval["clean_accuracy"], by_eval["robust_accuracy"]
    # the harness's clean accuracy on the same 24 images is the clean evaluation's (float: deterministic)
    assert robust["clean"] == pytest.approx(clean["accuracy"])
    assert robust["worst_case_linf"] <= robust["pgd_linf"] <= robust["clean"]
    assert robust["n_test"] == 24 and robust["sanity_gates_passed"] in (0.0, 1.0)
    assert not any(k.startswith("headline_") for k in robust)
