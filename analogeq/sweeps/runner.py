"""Run a sweep: plan its points, skip the finished ones, run the rest, store each result.

:func:`run_point` is the whole work of one point, a module-level function of one JSON-ready
payload so that any executor can ship it (pickled to a process pool or a Dask worker). It never
raises for a failing evaluation: the failure comes back as an ``"error"`` result with the message.

:func:`run_sweep` is the driver: it owns the database and writes every result the moment it
arrives, so a sweep killed at any time keeps all finished points and the next run does only the
rest. Two drivers may share one database: a point finished by one is stored once, whoever
finishes it first (see :mod:`analogeq.sweeps.store`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

import analogeq
from analogeq.sweeps.canonical import canonical_json
from analogeq.sweeps.context import PointContext, PointSkipped
from analogeq.sweeps.evaluations import get_evaluation
from analogeq.sweeps.executors import Executor, make_executor
from analogeq.sweeps.networks import load_network_cached, network_identity, prepare_network
from analogeq.sweeps.points import Point, expand_points
from analogeq.sweeps.spec import SweepSpec
from analogeq.sweeps.store import PlannedPoint, PointResult, ResultStore, nonfinite_metrics
from hardware_models.cards import card_from_dict
from hardware_models.params import check_int

logger = logging.getLogger(__name__)


_CARDS: "collections.OrderedDict[str, Any]" = collections.OrderedDict()
_CARD_CACHE_SIZE = 64


def _card_from_dict_cached(card_dict: dict[str, Any]) -> Any:
    """``card_from_dict`` with a small per-process cache (validating a card against its schema
    costs ~10 ms; consecutive points mostly share their card). Cards are immutable."""
    key = canonical_json(card_dict)
    card = _CARDS.get(key)
    if card is None:
        card = card_from_dict(card_dict)
        _CARDS[key] = card
        if len(_CARDS) > _CARD_CACHE_SIZE:
            _CARDS.popitem(last=False)
    else:
        _CARDS.move_to_end(key)
    return card


@contextlib.contextmanager
def _single_threaded_torch(active: bool):
    """Run torch on one intra-op thread during a network point, then restore the setting.

    A float reduction split over a different number of threads may round differently; one
    thread per point makes a point's numbers the same on every executor (a Dask worker, a pool
    process and this process), and sweeps get their parallelism from running points side by side.
    """
    if not active:
        yield
        return
    import torch  # network points only (3 s to import; physics-only workers never load it)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_point(payload: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one point. ``payload``: ``key``, ``config``, ``seed``, ``network_path``
    (checkpoint file or None), ``executor`` (its name). The evaluation is looked up by name
    (:func:`~analogeq.sweeps.evaluations.get_evaluation`: built in, or an installed plugin).

    Returns a :class:`PointResult` as a dict. ``eval_time_s`` is the time inside the evaluation
    function (after the card is built and the network loaded); ``point_time_s`` the whole call.
    """
    t_start = time.perf_counter()
    config = payload["config"]
    seed = int(payload["seed"])
    eval_time = None
    metrics: dict[str, Any] = {}
    reason = None
    try:
        evaluation = get_evaluation(config["evaluation"])
        card = _card_from_dict_cached(config["card"])
        loader = None
        if config.get("network") is not None:
            path, identity = payload["network_path"], config["network"]
            loader = lambda: load_network_cached(path, identity)  # noqa: E731
        ctx = PointContext(card=card, params=dict(config["params"]), seed=seed,
                           substrate_kind=config["substrate"], network_loader=loader)
        with _single_threaded_torch(evaluation.needs_network):
            if evaluation.needs_network:
                ctx.network()  # load outside the timed evaluation (cached per worker)
            t_eval = time.perf_counter()
            metrics = evaluation.fn(ctx)
            eval_time = time.perf_counter() - t_eval
        bad = nonfinite_metrics(metrics)
        if bad:  # stored as a failure with the reason, so that a resume retries it
            raise FloatingPointError(f"evaluation {config['evaluation']!r} returned non-finite metrics: {', '.join(bad)}")
        status = "ok"
    except PointSkipped as exc:
        status, reason = "skipped", str(exc)
    except Exception as exc:  # a failing point is a result, not a crash of the sweep
        status, reason, metrics = "error", f"{type(exc).__name__}: {exc}", {}
        logger.debug("point %s failed:\n%s", payload["key"], traceback.format_exc())
    return PointResult(
        key=payload["key"],
        config=config,
        seed=seed,
        evaluation=config["evaluation"],
        substrate=config["substrate"],
        status=status,
        metrics=metrics,
        reason=reason,
        eval_time_s=eval_time,
        point_time_s=time.perf_counter() - t_start,
        host=f"{socket.gethostname()}:{os.getpid()}",
        executor=payload.get("executor"),
        analogeq_version=analogeq.__version__,
    ).to_dict()


@dataclass
class SweepSummary:
    """What one :func:`run_sweep` call did."""

    name: str
    #: distinct computations (point keys) of the sweep
    planned: int
    already_done: int
    #: grid points (axes x evaluations x substrates x seeds); more than ``planned`` where grid
    #: points share a computation
    grid_points: int = 0
    ran: int = 0
    ok: int = 0
    skipped: int = 0
    error: int = 0
    stored: int = 0
    wall_s: float = 0.0
    eval_time_s: float = 0.0
    executor: str = ""
    ran_keys: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("ran_keys")
        return d


def network_cache_dir(db_path: str | os.PathLike) -> str:
    """The folder beside the database where trained networks are cached: ``<db>.networks``."""
    return os.fspath(db_path) + ".networks"


def plan_points(spec: SweepSpec) -> list[Point]:
    """Every point of ``spec`` (see :func:`analogeq.sweeps.points.expand_points`)."""
    identity = network_identity(spec.network, spec.base_dir) if spec.network is not None else None
    return expand_points(spec, identity)


def run_sweep(
    spec: SweepSpec,
    db_path: str | os.PathLike,
    *,
    executor: str | Executor = "inprocess",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    max_points: int | None = None,
    network_cache: str | os.PathLike | None = None,
) -> SweepSummary:
    """Run every point of ``spec`` that ``db_path`` does not hold yet (status ``"ok"``).

    Parameters
    ----------
    executor:
        ``"inprocess"`` (default), ``"processes"``, ``"dask"``, or an :class:`Executor` (left open).
    workers, scheduler:
        Pool size, and an existing Dask scheduler's address (see :func:`make_executor`).
    progress:
        Show a tqdm bar (points done, rate, time left); default: only when stderr is a terminal.
    max_points:
        Run at most this many of the missing points (the rest stay for the next run).
    network_cache:
        Folder of trained networks (default: ``<db>.networks`` beside the database); several
        databases may share one.
    """
    t0 = time.perf_counter()
    db_path = os.fspath(db_path)
    with ResultStore(db_path) as store:
        done = store.finished_keys()
        points = plan_points(spec)
        unique: dict[str, Point] = {}
        for p in points:
            unique.setdefault(p.key, p)
        missing = [p for p in unique.values() if p.key not in done]
        todo = missing
        if max_points is not None:
            todo = missing[:check_int("max_points", max_points, minimum=0)]
        network_path = None
        if any(p.config["network"] is not None for p in todo):
            cache = os.fspath(network_cache) if network_cache is not None else network_cache_dir(db_path)
            network_path = prepare_network(spec.network, spec.base_dir, cache, progress=progress)
        store.record_sweep(
            spec.name, spec.to_dict(), spec.spec_hash(),
            [PlannedPoint(p.key, p.axes, p.evaluation, p.substrate, p.seed) for p in points],
        )
        summary = SweepSummary(spec.name, planned=len(unique), already_done=len(unique) - len(missing),
                               grid_points=len(points))
        if not todo:
            summary.wall_s = time.perf_counter() - t0
            return summary

        own_executor = not isinstance(executor, Executor)
        ex = make_executor(executor, workers=workers, scheduler=scheduler) if own_executor else executor
        summary.executor = ex.describe()
        payloads = [
            {"key": p.key, "config": p.config, "seed": p.seed, "network_path": network_path, "executor": ex.kind}
            for p in todo
        ]
        bar = _progress_bar(len(unique), summary.already_done, spec.name, progress)
        try:
            for result_dict in ex.map_unordered(run_point, payloads):
                result = PointResult.from_dict(result_dict)
                if store.put(result):
                    summary.stored += 1
                summary.ran += 1
                summary.ran_keys.append(result.key)
                setattr(summary, result.status, getattr(summary, result.status) + 1)
                if result.eval_time_s:
                    summary.eval_time_s += result.eval_time_s
                if result.status == "error":
                    summary.errors.append(f"{result.key[:12]}: {result.reason}")
                    logger.warning("point %s (%s on %s) failed: %s", result.key[:12], result.evaluation,
                                   result.substrate, result.reason)
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:  # every result that arrived is stored; say so in one line
            done = len(store.finished_keys() & unique.keys())  # from the database: a put may have just committed
            raise SweepInterrupted(f"stopped: {done} of {len(unique)} points stored; "
                                   "run the same command to resume") from None
        finally:
            if bar is not None:
                bar.close()
            if own_executor:
                ex.close()
    summary.wall_s = time.perf_counter() - t0
    return summary


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`; its message says how many points are stored and that
    running the same command resumes (the results already stored are complete)."""


def _progress_bar(total: int, initial: int, name: str, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    return tqdm(total=total, initial=initial, desc=name, unit="point", dynamic_ncols=True, file=sys.stderr)
