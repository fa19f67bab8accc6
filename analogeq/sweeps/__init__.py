"""Sweeps: grids over device, peripheral and evaluation parameters x substrates x seeds.

    from analogeq.sweeps import load_spec, run_sweep
    spec = load_spec("sweep.toml")                       # validated; see analogeq.sweeps.spec
    summary = run_sweep(spec, "sweep.db", executor="dask", workers=4)

* :mod:`~analogeq.sweeps.spec`: the TOML spec, validated with errors naming the bad path
  (its axes in :mod:`~analogeq.sweeps.axes`, its other sections in :mod:`~analogeq.sweeps.sections`);
* :mod:`~analogeq.sweeps.points`: the cartesian product, each point keyed by the hash of its
  canonical config and seed (:mod:`~analogeq.sweeps.canonical`);
* :mod:`~analogeq.sweeps.store`: the SQLite results database (resumable, concurrent-safe); the
  file itself, its schema and checks: :mod:`~analogeq.sweeps.dbfile`;
* :mod:`~analogeq.sweeps.executors`: in process, process pool, Dask (and dask-jobqueue);
* :mod:`~analogeq.sweeps.evaluations`: the registry of what a point measures, by name (plugins:
  entry points of group ``analogeq.sweep_evaluations``); :mod:`~analogeq.sweeps.context`: what
  an evaluation sees; :mod:`~analogeq.sweeps.builtin_evaluations`: the built-in ones
  (:mod:`~analogeq.sweeps.resistive_evaluations`: a deep resistive network's own parameters);
* :mod:`~analogeq.sweeps.networks`: trained networks shared through a cache beside the database;
* :mod:`~analogeq.sweeps.runner`: the driver; :mod:`~analogeq.sweeps.export`: CSV.

The demo sweep is :mod:`analogeq.demo.sweep_spec`.
"""

from analogeq.sweeps.context import PointContext, PointSkipped
from analogeq.sweeps.evaluations import (
    ENTRY_POINT_GROUP,
    Evaluation,
    Param,
    evaluation_names,
    get_evaluation,
    register_evaluation,
)
from analogeq.sweeps.axes import Axis
from analogeq.sweeps.dbfile import SweepDatabaseError
from analogeq.sweeps.executors import EXECUTOR_KINDS, Executor, make_executor
from analogeq.sweeps.points import Point, expand_points
from analogeq.sweeps.runner import SweepSummary, network_cache_dir, plan_points, run_point, run_sweep
from analogeq.sweeps.sections import NetworkSpec
from analogeq.sweeps.spec import SweepSpec, load_spec, spec_from_dict
from analogeq.sweeps.store import PointResult, ResultStore, open_store

# the built-in evaluations register themselves on import
from analogeq.sweeps import builtin_evaluations as _builtin_evaluations  # noqa: E402,F401
from analogeq.sweeps import resistive_evaluations as _resistive_evaluations  # noqa: E402,F401

__all__ = [
    "Axis",
    "ENTRY_POINT_GROUP",
    "EXECUTOR_KINDS",
    "Evaluation",
    "Executor",
    "NetworkSpec",
    "Param",
    "Point",
    "PointContext",
    "PointResult",
    "PointSkipped",
    "ResultStore",
    "SweepDatabaseError",
    "SweepSpec",
    "SweepSummary",
    "evaluation_names",
    "expand_points",
    "get_evaluation",
    "load_spec",
    "make_executor",
    "network_cache_dir",
    "open_store",
    "plan_points",
    "register_evaluation",
    "run_point",
    "run_sweep",
    "spec_from_dict",
]
