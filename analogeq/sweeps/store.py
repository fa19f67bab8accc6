"""The sweep results database: one SQLite file, safe to share between sweeps and processes.

The file (its tables, how it is created and recognised) is :mod:`analogeq.sweeps.dbfile`; this
module reads and writes its rows. ``results`` holds one row per point key: ``status`` is ``"ok"``
(metrics are final), ``"skipped"`` (the point could not run yet, e.g. its substrate kind is not
available; the reason says why) or ``"error"`` (the evaluation raised; the reason holds the
message). Skipped and failed points are retried by the next run and replaced; an ``"ok"`` row is
never replaced.

Guarantees
----------
* **Never a duplicate, never a lost row.** The point key is the primary key; a result is written
  by one ``INSERT ... ON CONFLICT(key) DO UPDATE ... WHERE status != 'ok'`` statement, which is
  its own transaction. Two sweeps writing the same file at once serialise on SQLite's write
  lock (WAL journal, busy timeout); the second writer of a finished point changes nothing.
* **Crash safe.** A SIGKILL between or inside writes leaves every committed row and nothing
  half written (SQLite's WAL journal); a new file appears complete or not at all.
* **Never overwrites a stranger.** A file that is not an analogeq sweep database raises
  :class:`~analogeq.sweeps.dbfile.SweepDatabaseError` before anything is written.

WAL needs a local filesystem (not NFS): on a cluster, the driver that owns the database runs
where the file is; workers only return results.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from analogeq.sweeps.canonical import canonical_json
from analogeq.sweeps.dbfile import (
    RESULT_STATUSES,
    SweepDatabaseError,
    check_existing_file,
    create_database,
    now_iso,
)
from hardware_models.params import check_float, check_one_of

__all__ = ["PlannedPoint", "PointResult", "ResultStore", "SweepDatabaseError", "open_store"]


def nonfinite_metrics(metrics: Any, path: str = "") -> list[str]:
    """Names (``a.b[2]=nan`` paths) of every NaN or infinite number inside ``metrics``."""
    if isinstance(metrics, (bool, str)) or metrics is None:
        return []
    if isinstance(metrics, dict):
        return [name for k, v in metrics.items() for name in nonfinite_metrics(v, f"{path}.{k}" if path else str(k))]
    if isinstance(metrics, (list, tuple)):
        return [name for i, v in enumerate(metrics) for name in nonfinite_metrics(v, f"{path}[{i}]")]
    try:
        value = float(metrics)
    except (TypeError, ValueError):
        return []
    return [] if math.isfinite(value) else [f"{path or 'value'}={value}"]


@dataclass(frozen=True)
class PointResult:
    """What running one point produced (the row of ``results``).

    ``metrics`` maps metric names to JSON values (numbers, or small lists/dicts);
    ``eval_time_s`` is the time spent inside the evaluation function, ``point_time_s`` the
    whole point on the worker (loading the card and network, building the substrate, evaluating).
    """

    key: str
    config: dict[str, Any]
    seed: int
    evaluation: str
    substrate: str | None
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    eval_time_s: float | None = None
    point_time_s: float | None = None
    host: str | None = None
    executor: str | None = None
    analogeq_version: str | None = None

    def __post_init__(self) -> None:
        check_one_of("status", self.status, RESULT_STATUSES, owner="PointResult")
        bad = nonfinite_metrics(self.metrics) if self.status == "ok" else []
        if bad:  # a NaN stored as "ok" would never be retried
            raise ValueError(f"PointResult {self.key}: status 'ok' with non-finite metrics {bad}; "
                             "store it with status 'error' and the reason")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "config": self.config,
            "seed": self.seed,
            "evaluation": self.evaluation,
            "substrate": self.substrate,
            "status": self.status,
            "metrics": self.metrics,
            "reason": self.reason,
            "eval_time_s": self.eval_time_s,
            "point_time_s": self.point_time_s,
            "host": self.host,
            "executor": self.executor,
            "analogeq_version": self.analogeq_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PointResult":
        return cls(**data)


@dataclass(frozen=True)
class PlannedPoint:
    """A point of a sweep as the database records it (see ``sweep_points``)."""

    key: str
    axes: dict[str, Any]
    evaluation: str
    substrate: str | None
    seed: int


class ResultStore:
    """An open sweep database (see the module docstring). Use as a context manager.

    Parameters
    ----------
    path:
        The database file. A missing file is created when ``create`` is True, otherwise
        FileNotFoundError is raised. An existing file is checked (format, schema version,
        SQLite integrity) before anything is written: see :class:`SweepDatabaseError`.
    timeout_s:
        How long a writer waits for another process holding the write lock [s].
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True, timeout_s: float = 60.0):
        self.path = os.fspath(path)
        check_float("timeout_s", timeout_s, minimum=0.0, exclusive_minimum=True, owner="ResultStore")
        if os.path.isdir(self.path):
            raise SweepDatabaseError(self.path, "is a directory, not a database file")
        if not os.path.exists(self.path):
            if not create:
                raise FileNotFoundError(f"sweep database {self.path!r} does not exist")
            create_database(self.path)
        check_existing_file(self.path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout_s)
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            self._conn.execute("PRAGMA journal_mode = WAL")

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT name, value FROM analogeq_meta"))

    def record_sweep(self, name: str, spec: dict[str, Any], spec_hash: str, points: Iterable[PlannedPoint]) -> None:
        """Record a sweep run and its planned points (idempotent: a re-run adds nothing new)."""
        now = now_iso()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO sweeps (spec_hash, name, spec_json, first_run_at, last_run_at, runs) VALUES (?, ?, ?, ?, ?, 1) "
                "ON CONFLICT(spec_hash) DO UPDATE SET last_run_at = excluded.last_run_at, runs = runs + 1",
                (spec_hash, name, canonical_json(spec), now, now),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO sweep_points (spec_hash, key, axes_json, evaluation, substrate, seed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(spec_hash, p.key, canonical_json(p.axes), p.evaluation, p.substrate, int(p.seed)) for p in points],
            )

    def put(self, result: PointResult) -> bool:
        """Store one result; returns False if the point already had an ``"ok"`` row (kept as is).

        A stored ``"skipped"`` or ``"error"`` row is replaced by the new result."""
        cur = self._conn.execute(
            "INSERT INTO results (key, config_json, seed, evaluation, substrate, status, metrics_json, reason, "
            "eval_time_s, point_time_s, host, executor, analogeq_version, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET config_json = excluded.config_json, status = excluded.status, "
            "metrics_json = excluded.metrics_json, reason = excluded.reason, eval_time_s = excluded.eval_time_s, "
            "point_time_s = excluded.point_time_s, host = excluded.host, executor = excluded.executor, "
            "analogeq_version = excluded.analogeq_version, finished_at = excluded.finished_at "
            "WHERE results.status != 'ok'",
            (
                result.key,
                canonical_json(result.config),
                int(result.seed),
                result.evaluation,
                result.substrate,
                result.status,
                json.dumps(result.metrics, sort_keys=True, allow_nan=True),
                result.reason,
                result.eval_time_s,
                result.point_time_s,
                result.host,
                result.executor,
                result.analogeq_version,
                now_iso(),
            ),
        )
        return cur.rowcount > 0

    # -- reading -------------------------------------------------------------------------------
    def finished_keys(self) -> set[str]:
        """Keys of every point with a final (``"ok"``) result."""
        return {row[0] for row in self._conn.execute("SELECT key FROM results WHERE status = 'ok'")}

    def sweeps(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT spec_hash, name, spec_json, first_run_at, last_run_at, runs FROM sweeps ORDER BY first_run_at"
        ).fetchall()
        return [
            {"spec_hash": h, "name": n, "spec": json.loads(s), "first_run_at": a, "last_run_at": b, "runs": r}
            for h, n, s, a, b, r in rows
        ]

    def status_counts(self) -> list[dict[str, Any]]:
        """Per recorded sweep: planned points and how many are ok / skipped / error / pending."""
        out = []
        for sweep in self.sweeps():
            counts = dict(
                self._conn.execute(
                    "SELECT COALESCE(r.status, 'pending'), COUNT(*) FROM sweep_points p "
                    "LEFT JOIN results r ON r.key = p.key WHERE p.spec_hash = ? GROUP BY 1",
                    (sweep["spec_hash"],),
                )
            )
            planned = sum(counts.values())
            out.append(
                {
                    "name": sweep["name"],
                    "spec_hash": sweep["spec_hash"],
                    "planned": planned,
                    **{s: counts.get(s, 0) for s in ("ok", "skipped", "error", "pending")},
                    "runs": sweep["runs"],
                    "last_run_at": sweep["last_run_at"],
                }
            )
        return out

    def result_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def _select(self, query: str, column: str, value: Any, order_by: str) -> sqlite3.Cursor:
        """Run ``query`` (a SELECT), filtered on ``column = value`` unless value is None."""
        if value is None:
            return self._conn.execute(f"{query} ORDER BY {order_by}")
        return self._conn.execute(f"{query} WHERE {column} = ? ORDER BY {order_by}", (value,))

    def results(self, *, status: str | None = None) -> list[PointResult]:
        """Every stored result (optionally only one status), ordered by key."""
        query = (
            "SELECT key, config_json, seed, evaluation, substrate, status, metrics_json, reason, eval_time_s, "
            "point_time_s, host, executor, analogeq_version FROM results"
        )
        return [
            PointResult(key=k, config=json.loads(cfg), seed=seed, evaluation=ev, substrate=sub, status=st,
                        metrics=json.loads(met), reason=reason, eval_time_s=te, point_time_s=tp, host=host,
                        executor=ex, analogeq_version=ver)
            for k, cfg, seed, ev, sub, st, met, reason, te, tp, host, ex, ver
            in self._select(query, "status", status, "key")
        ]

    def point_rows(self, spec_hash: str | None = None) -> list[dict[str, Any]]:
        """Planned points joined with their results: one dict per (sweep, point) with ``sweep``,
        ``key``, ``axes``, ``evaluation``, ``substrate``, ``seed``, ``status`` (``"pending"`` when
        no result yet), ``metrics``, ``reason``, ``eval_time_s``, ``point_time_s``."""
        query = (
            "SELECT s.name, p.spec_hash, p.key, p.axes_json, p.evaluation, p.substrate, p.seed, "
            "COALESCE(r.status, 'pending'), r.metrics_json, r.reason, r.eval_time_s, r.point_time_s "
            "FROM sweep_points p JOIN sweeps s ON s.spec_hash = p.spec_hash LEFT JOIN results r ON r.key = p.key"
        )
        return [
            {"sweep": name, "spec_hash": h, "key": key, "axes": json.loads(axes), "evaluation": ev,
             "substrate": sub, "seed": seed, "status": st, "metrics": json.loads(met) if met else {},
             "reason": reason, "eval_time_s": te, "point_time_s": tp}
            for name, h, key, axes, ev, sub, seed, st, met, reason, te, tp
            in self._select(query, "p.spec_hash", spec_hash, "s.first_run_at, p.rowid")
        ]


def open_store(path: str | os.PathLike, *, create: bool = True) -> ResultStore:
    """Open (or create) the sweep database at ``path``; see :class:`ResultStore`."""
    return ResultStore(path, create=create)
