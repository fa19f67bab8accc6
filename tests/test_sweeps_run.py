"""Running sweeps: identical results on every executor, resume after SIGKILL with every point
exactly once, skipped/failed points retried, and the physics evaluation against closed forms."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from fixtures_sweeps import load_spec_text, ok_metrics, spec_toml, sweep_rows, write_spec

from analogeq.sweeps import (
    Param,
    PointSkipped,
    ResultStore,
    expand_points,
    load_spec,
    register_evaluation,
    run_sweep,
)
from hardware_models.params import OneOf

SMALL = spec_toml(
    "small", seeds="[0, 1]",
    axes="""
    "device.read_noise_scale" = [0.5, 2.0]
    "faults.stuck_at_gmin_rate" = [0.0, 0.05]
    drift_time_s = [10.0, 1000.0]
    """,
    evaluations="[evaluations.conductance_error]\nn_cells = 512",
)

# the same grid plus crossbar reads (Numba kernels, counter-based noise) for the executor test
SMALL_WITH_CROSSBAR = SMALL + "[evaluations.crossbar_read_error]\nn_in = 24\nn_out = 12\nbatch = 4\n"


def test_inprocess_process_pool_and_dask_give_identical_results(tmp_path):
    spec = load_spec_text(tmp_path, SMALL_WITH_CROSSBAR)
    keys = {p.key for p in expand_points(spec)}
    results = {}
    for executor, workers in (("inprocess", None), ("processes", 2), ("dask", 2)):
        db = tmp_path / f"{executor}.db"
        summary = run_sweep(spec, db, executor=executor, workers=workers, progress=False)
        assert (summary.planned, summary.ran, summary.ok, summary.stored) == (32, 32, 32, 32), summary
        results[executor] = ok_metrics(db)
        assert set(results[executor]) == keys
    # exactly the same numbers, not merely close
    assert results["processes"] == results["inprocess"]
    assert results["dask"] == results["inprocess"]
    # the points really differ from each other (the comparison is not vacuous)
    values = [r.get("mean_abs_error_rel", r.get("relative_error")) for r in results["inprocess"].values()]
    assert len(set(values)) == 32


def test_rerun_skips_finished_points_and_resume_matches_a_clean_run(tmp_path):
    spec = load_spec_text(tmp_path, SMALL)
    db = tmp_path / "s.db"
    first = run_sweep(spec, db, max_points=5, progress=False)
    assert (first.ran, first.already_done) == (5, 0)
    second = run_sweep(spec, db, progress=False)
    assert (second.already_done, second.ran) == (5, 11)
    assert not set(first.ran_keys) & set(second.ran_keys)  # nothing ran twice
    third = run_sweep(spec, db, progress=False)
    assert (third.already_done, third.ran) == (16, 0)
    clean = tmp_path / "clean.db"
    run_sweep(spec, clean, progress=False)
    assert ok_metrics(db) == ok_metrics(clean)


_CALLS = {"n": 0}


def _flaky(ctx):
    _CALLS["n"] += 1
    if ctx.params.get("mode") == "skip" and _CALLS["n"] <= 2:
        raise PointSkipped("the widget is not built yet")
    if ctx.params.get("mode") == "fail" and _CALLS["n"] <= 2:
        raise RuntimeError("boom")
    if ctx.params.get("mode") == "nan" and _CALLS["n"] <= 2:
        return {"value": float("nan") if ctx.seed == 0 else float("inf"), "nested": {"ok": 1.0}}
    return {"value": float(ctx.seed)}


# a test evaluation, registered by name through the registry API (specs name it, never import it)
register_evaluation("test_flaky", _flaky, params={"mode": Param("skip", OneOf(("skip", "fail", "nan")))})


@pytest.mark.parametrize("mode, status", [("skip", "skipped"), ("fail", "error"), ("nan", "error")])
def test_skipped_and_failed_points_are_stored_and_retried(tmp_path, mode, status):
    _CALLS["n"] = 0
    spec = load_spec_text(tmp_path, spec_toml("flaky", seeds="[0, 1]", card="ideal",
                                              evaluations=f'[evaluations.test_flaky]\nmode = "{mode}"'))
    db = tmp_path / "s.db"
    first = run_sweep(spec, db, progress=False)
    assert getattr(first, status) == 2 and first.ok == 0
    with ResultStore(db) as store:
        rows = store.results()
    assert {r.status for r in rows} == {status}
    reason = {"skip": "widget", "fail": "RuntimeError: boom", "nan": "non-finite metrics: value="}[mode]
    assert all(reason in r.reason and not r.metrics for r in rows), [r.reason for r in rows]
    second = run_sweep(spec, db, progress=False)
    assert (second.already_done, second.ran, second.ok) == (0, 2, 2)
    with ResultStore(db) as store:
        rows = store.results()
    assert len(rows) == 2 and {r.status for r in rows} == {"ok"}
    assert sorted(r.metrics["value"] for r in rows) == [0.0, 1.0]


def _physics(tmp_path, axes: str, seeds="[0]", n_cells=20000, card="ideal"):
    text = spec_toml("closed-form", seeds=seeds, card=card, axes=axes,
                     evaluations=f"[evaluations.conductance_error]\nn_cells = {n_cells}")
    return sweep_rows(tmp_path, text)


def test_finite_levels_error_matches_the_uniform_quantisation_closed_form(tmp_path):
    # ideal device, targets uniform in [g_min, g_max], rounded to n evenly spaced levels:
    # |error| is uniform on [0, D/2] with D = 1/(n-1) of the range, so its mean is D/4
    rows = _physics(tmp_path, '"levels.n_levels" = [2, 5, 17]')
    for row in rows:
        n = row["axes"]["levels.n_levels"]
        d = 1.0 / (n - 1)
        expected, std_err = d / 4, d / (2 * 12**0.5) / 20000**0.5
        assert row["metrics"]["mean_abs_error_rel"] == pytest.approx(expected, abs=5 * std_err)
        assert row["metrics"]["stuck_fraction"] == 0.0


def test_stuck_at_gmin_error_matches_its_closed_form(tmp_path):
    # a cell stuck at g_min errs by (g - g_min)/range ~ U(0, 1): mean |error| = rate / 2
    rows = _physics(tmp_path, '"faults.stuck_at_gmin_rate" = [0.0, 0.1, 0.4]')
    for row in rows:
        r = row["axes"]["faults.stuck_at_gmin_rate"]
        var = r / 3 - (r / 2) ** 2
        assert row["metrics"]["mean_abs_error_rel"] == pytest.approx(r / 2, abs=5 * (var / 20000) ** 0.5 + 1e-12)
        assert row["metrics"]["stuck_fraction"] == pytest.approx(r, abs=5 * (r * (1 - r) / 20000) ** 0.5 + 1e-12)


def test_pcm_drift_makes_the_error_grow_with_time_and_seeds_share_draws(tmp_path):
    rows = _physics(tmp_path, "drift_time_s = [20.0, 3600.0, 86400.0]", seeds="[0, 1]", n_cells=4000, card="pcm")
    by_seed: dict[int, list[float]] = {}
    for row in sorted(rows, key=lambda r: r["axes"]["drift_time_s"]):
        by_seed.setdefault(row["seed"], []).append(row["metrics"]["mean_error_rel"])
    for values in by_seed.values():
        # drift lowers conductances: the signed error becomes more negative with time
        assert values[0] > values[1] > values[2]
    assert by_seed[0] != by_seed[1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "analogeq", "sweep", *args]


KILL_SPEC = spec_toml(
    "killme", seeds="[0, 1, 2, 3]",
    axes='"device.read_noise_scale" = [0.5, 1.0, 2.0]\ndrift_time_s = [100.0, 10000.0]',
    evaluations="[evaluations.conductance_error]\nn_cells = 400000",
)


def _stored(db: str) -> int:
    if not os.path.exists(db):
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


def test_sweep_killed_with_sigkill_resumes_with_every_point_exactly_once(tmp_path):
    spec_path = write_spec(tmp_path, KILL_SPEC, "kill.toml")
    db = str(tmp_path / "kill.db")
    proc = subprocess.Popen(_cli("run", str(spec_path), "--db", db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _stored(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed: make its points slower"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored_before = _stored(db)
    total = 24
    assert 4 <= stored_before < total

    resumed = subprocess.run(_cli("run", str(spec_path), "--db", db), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{stored_before} already done, ran {total - stored_before} " in resumed.stdout

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT key, status FROM results").fetchall()
    conn.close()
    keys = [k for k, _ in rows]
    assert len(keys) == len(set(keys)) == total and {s for _, s in rows} == {"ok"}
    assert set(keys) == {p.key for p in expand_points(load_spec(spec_path))}

    status = subprocess.run(_cli("status", "--db", db, "--json"), capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert '"ok": 24' in status.stdout and '"pending": 0' in status.stdout


def test_two_sweeps_on_one_database_at_once_store_every_point_once(tmp_path):
    spec_path = write_spec(tmp_path, KILL_SPEC.replace("n_cells = 400000", "n_cells = 20000"), "twice.toml")
    db = str(tmp_path / "twice.db")
    procs = [subprocess.Popen(_cli("run", str(spec_path), "--db", db), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    conn = sqlite3.connect(db)
    keys = [k for (k,) in conn.execute("SELECT key FROM results")]
    conn.close()
    assert len(keys) == len(set(keys)) == 24
