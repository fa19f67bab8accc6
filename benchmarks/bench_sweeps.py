"""Sweep machinery benchmark: throughput per executor, per-point overhead, kill-and-resume.

    python benchmarks/bench_sweeps.py --json            # full
    python benchmarks/bench_sweeps.py --json --quick    # same keys, smaller

Every point is the physics-only ``conductance_error`` evaluation (PCM card, programming + drift +
one read of ``n_cells`` cells), so the figures are the machinery's, not a network's.

Keys (contract of issue 8):

``points``
    points in the benchmark sweep.
``points_per_minute_inprocess``
    points / wall time x 60 with the in-process executor (fresh database, planning included).
``points_per_minute_dask_2workers``
    the same with a Dask LocalCluster of 2 single-threaded workers, cluster already started
    (its start-up time is ``dask_startup_s``).
``resume_duplicates``
    a sweep run by the CLI is killed with SIGKILL after some points are stored and run again:
    rows whose key appears more than once + points the resumed run evaluated although they were
    already stored + planned points missing at the end. Must be 0.
``overhead_per_point_s``
    (wall time - summed evaluation time measured inside each point) / points, in process: what
    planning, the store and the executor cost per point beyond the evaluation itself.

Also: the process-pool figures, the Dask overhead in worker-seconds per point, speed-up ratios
against in-process (the machine is shared: ratios from one run are what to compare), and the
machine description.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

from common import bench_parser, emit, machine, parse_args

from analogeq.sweeps import ResultStore, load_spec, plan_points, run_sweep
from analogeq.sweeps.executors import DaskExecutor, ProcessPoolExecutor

SPEC = """
name = "bench-sweeps"
seeds = {seeds}

[card]
preset = "pcm"

[axes]
"device.read_noise_scale" = [0.5, 1.0, 2.0]
"levels.n_levels" = [8, 64]
drift_time_s = {{ start = 20.0, stop = 86400.0, num = {n_times}, log = true }}

[evaluations.conductance_error]
n_cells = {n_cells}
"""


def _write_spec(folder: str, *, seeds: int, n_times: int, n_cells: int, name: str = "spec.toml") -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(SPEC.format(seeds=list(range(seeds)), n_times=n_times, n_cells=n_cells)))
    return path


def _throughput(spec, folder: str, label: str, executor) -> dict:
    db = os.path.join(folder, f"{label}.db")
    summary = run_sweep(spec, db, executor=executor, progress=False)
    if summary.ran != summary.planned or summary.ok != summary.planned:
        raise RuntimeError(f"{label}: not every point ran ok: {summary.to_dict()}")
    return {
        "wall_s": summary.wall_s,
        "eval_time_s": summary.eval_time_s,
        "points_per_minute": summary.planned / summary.wall_s * 60.0,
        "db": db,
    }


def _results(db: str) -> dict:
    with ResultStore(db, create=False) as store:
        return {r.key: r.metrics for r in store.results()}


def _stored_keys(db: str) -> list[str]:
    if not os.path.exists(db):
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return [k for (k,) in conn.execute("SELECT key FROM results")]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return []


def _kill_and_resume(folder: str, spec_path: str, kill_after: int) -> dict:
    db = os.path.join(folder, "killed.db")
    cmd = [sys.executable, "-m", "analogeq", "sweep", "run", spec_path, "--db", db, "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while len(_stored_keys(db)) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        raise RuntimeError(f"the sweep finished before it was killed (rc {proc.returncode}): {proc.stderr.read().decode()[-500:]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    before = set(_stored_keys(db))
    spec = load_spec(spec_path)
    resumed = run_sweep(spec, db, progress=False)
    keys = _stored_keys(db)
    planned = {p.key for p in plan_points(spec)}
    duplicate_rows = len(keys) - len(set(keys))
    rerun = len(set(resumed.ran_keys) & before)
    missing = len(planned - set(keys))
    return {
        "resume_duplicates": duplicate_rows + rerun + missing,
        "resume_duplicate_rows": duplicate_rows,
        "resume_rerun_points": rerun,
        "resume_missing_points": missing,
        "killed_after_points": len(before),
        "resumed_points": resumed.ran,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(bench_parser(__doc__, quick_help="a smaller sweep, same keys", description="paragraph"), argv)
    size = dict(seeds=2, n_times=2, n_cells=20_000) if args.quick else dict(seeds=4, n_times=4, n_cells=100_000)
    out: dict = {"quick": args.quick, "evaluation": "conductance_error", "n_cells": size["n_cells"]}
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as folder:
        spec = load_spec(_write_spec(folder, **size))
        n = spec.n_points()
        out["points"] = n

        inproc = _throughput(spec, folder, "inprocess", "inprocess")
        out["points_per_minute_inprocess"] = inproc["points_per_minute"]
        out["eval_time_per_point_s"] = inproc["eval_time_s"] / n
        out["overhead_per_point_s"] = (inproc["wall_s"] - inproc["eval_time_s"]) / n

        t0 = time.perf_counter()
        with ProcessPoolExecutor(2) as pool:
            # start the two workers before timing (spawn + imports)
            list(pool.map_unordered(_warm, [0, 1]))
            out["processes_startup_s"] = time.perf_counter() - t0
            procs = _throughput(spec, folder, "processes", pool)
        out["points_per_minute_processes_2workers"] = procs["points_per_minute"]

        t0 = time.perf_counter()
        with DaskExecutor(workers=2) as dask_ex:
            list(dask_ex.map_unordered(_warm, [0, 1]))
            out["dask_startup_s"] = time.perf_counter() - t0
            dask = _throughput(spec, folder, "dask", dask_ex)
        out["points_per_minute_dask_2workers"] = dask["points_per_minute"]
        out["overhead_per_point_s_dask_2workers"] = (2 * dask["wall_s"] - dask["eval_time_s"]) / n
        out["overhead_per_point_s_processes_2workers"] = (2 * procs["wall_s"] - procs["eval_time_s"]) / n
        out["speedup_dask_2workers_vs_inprocess"] = dask["points_per_minute"] / inproc["points_per_minute"]
        out["speedup_processes_2workers_vs_inprocess"] = procs["points_per_minute"] / inproc["points_per_minute"]

        reference = _results(inproc["db"])
        out["identical_results_across_executors"] = reference == _results(procs["db"]) == _results(dask["db"])

        kill_spec = _write_spec(folder, **size, name="kill.toml")
        out.update(_kill_and_resume(folder, kill_spec, kill_after=max(3, n // 4)))
    out["machine"] = machine(("numpy", "torch", "dask", "distributed"), sqlite=sqlite3.sqlite_version)
    emit(out, args)
    return 0 if out["resume_duplicates"] == 0 and out["identical_results_across_executors"] else 1


def _warm(i: int) -> int:
    """Import the sweep machinery on a worker (so timing starts with warm workers)."""
    import analogeq.sweeps.runner  # noqa: F401
    import hardware_models.cards  # noqa: F401

    return i


if __name__ == "__main__":
    raise SystemExit(main())
