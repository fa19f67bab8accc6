"""The sweep results database: one SQLite file, safe to share between sweeps and processes.

Layout (schema version 1)
-------------------------
``analogeq_meta(name, value)``
    ``format = "analogeq-sweep-db"``, ``schema_version = "1"``, ``created_at``, ``created_by``.
    The SQLite header also carries ``application_id = 0x41455157`` ("AEQW") and
    ``user_version = 1``, so a file is recognised before any table is read.
``sweeps(spec_hash, name, spec_json, first_run_at, last_run_at, runs)``
    Every sweep spec that ran against this file (the canonical spec JSON and its hash).
``sweep_points(spec_hash, key, axes_json, evaluation, substrate, seed)``
    The grid points of each sweep with their axis values (what plots and exports group by);
    grid points that are the same computation share one key, hence one result.
``results(key, config_json, seed, evaluation, substrate, status, metrics_json, reason,
eval_time_s, point_time_s, host, executor, analogeq_version, finished_at)``
    One row per point key (``PRIMARY KEY``): ``status`` is ``"ok"`` (metrics are final),
    ``"skipped"`` (the point could not run yet, e.g. its substrate kind is not available; the
    reason says why) or ``"error"`` (the evaluation raised; the reason holds the message).
    Skipped and failed points are retried by the next run and replaced; an ``"ok"`` row is never
    replaced.

Guarantees
----------
* **Never a duplicate, never a lost row.** The point key is the primary key; a result is written
  by one ``INSERT ... ON CONFLICT(key) DO UPDATE ... WHERE status != 'ok'`` statement, which is
  its own transaction. Two sweeps writing the same file at once serialise on SQLite's write
  lock (WAL journal, busy timeout); the second writer of a finished point changes nothing.
* **Crash safe.** A SIGKILL between or inside writes leaves every committed row and nothing
  half written (SQLite's WAL journal). A new file is built under a temporary name and linked into
  place, so a database path never holds a half-initialised file.
* **Never overwrites a stranger.** An existing file that is not an analogeq sweep database (not
  SQLite, another application's SQLite file, a corrupted file, a newer schema) raises
  :class:`SweepDatabaseError` before anything is written, and the file keeps its bytes.

WAL needs a local filesystem (not NFS): on a cluster, the driver that owns the database runs
where the file is; workers only return results.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import socket
import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from analogeq.sweeps.canonical import canonical_json

logger = logging.getLogger(__name__)

DB_FORMAT = "analogeq-sweep-db"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x41455157  # "AEQW"
RESULT_STATUSES = ("ok", "skipped", "error")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE analogeq_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE sweeps (
    spec_hash    TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    spec_json    TEXT NOT NULL,
    first_run_at TEXT NOT NULL,
    last_run_at  TEXT NOT NULL,
    runs         INTEGER NOT NULL
);
CREATE TABLE sweep_points (
    spec_hash  TEXT NOT NULL,
    key        TEXT NOT NULL,
    axes_json  TEXT NOT NULL,
    evaluation TEXT NOT NULL,
    substrate  TEXT,
    seed       INTEGER NOT NULL,
    PRIMARY KEY (spec_hash, key, axes_json)
);
CREATE TABLE results (
    key              TEXT PRIMARY KEY,
    config_json      TEXT NOT NULL,
    seed             INTEGER NOT NULL,
    evaluation       TEXT NOT NULL,
    substrate        TEXT,
    status           TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'error')),
    metrics_json     TEXT NOT NULL,
    reason           TEXT,
    eval_time_s      REAL,
    point_time_s     REAL,
    host             TEXT,
    executor         TEXT,
    analogeq_version TEXT,
    finished_at      TEXT NOT NULL
);
CREATE INDEX results_status ON results (status);
"""

_TABLES = ("analogeq_meta", "sweeps", "sweep_points", "results")


class SweepDatabaseError(ValueError):
    """The file is not a usable analogeq sweep database (foreign, corrupted or too new).

    The file was not modified. ``path`` is the file's path.
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}; the file was left untouched")
        self.path = path


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
        if self.status not in RESULT_STATUSES:
            raise ValueError(f"PointResult.status must be one of {RESULT_STATUSES}, got {self.status!r}")

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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _header(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(100)


def _check_existing_file(path: str) -> None:
    """Raise SweepDatabaseError unless ``path`` looks like one of our databases (read only)."""
    head = _header(path)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        what = "an empty file" if not head else "not an SQLite database (corrupted, or a file of another kind)"
        raise SweepDatabaseError(path, f"not an analogeq sweep database: {what}")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        tables = _table_names_readonly(path)
        raise SweepDatabaseError(
            path,
            "not an analogeq sweep database: an SQLite database of another application "
            f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x}; tables: {tables})",
        )
    # SQLite opens a WAL database with its -wal/-shm side files; if the file turns out to be
    # unusable, remove the side files this check created, so the folder is as it was
    side_files = [path + "-wal", path + "-shm"]
    existed = [os.path.exists(p) for p in side_files]
    try:
        _check_tables_and_meta(path)
    except SweepDatabaseError:
        for p, was_there in zip(side_files, existed):
            if not was_there and os.path.exists(p) and (p.endswith("-shm") or os.path.getsize(p) == 0):
                with contextlib.suppress(OSError):
                    os.unlink(p)
        raise


def _check_tables_and_meta(path: str) -> None:
    try:
        conn = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=60.0)
        try:
            check = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise SweepDatabaseError(path, f"the analogeq sweep database is corrupted (SQLite quick_check: {'; '.join(check[:3])})")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = [t for t in _TABLES if t not in tables]
            if missing:
                raise SweepDatabaseError(path, f"not an analogeq sweep database: tables {missing} are missing")
            meta = dict(conn.execute("SELECT name, value FROM analogeq_meta"))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SweepDatabaseError(path, f"the file is corrupted or not an analogeq sweep database (SQLite: {exc})") from None
    if meta.get("format") != DB_FORMAT:
        raise SweepDatabaseError(path, f"not an analogeq sweep database (format {meta.get('format')!r}, expected {DB_FORMAT!r})")
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        raise SweepDatabaseError(path, f"unreadable schema_version {meta.get('schema_version')!r}") from None
    if version > SCHEMA_VERSION:
        raise SweepDatabaseError(
            path, f"written by a newer analogeq (schema version {version}; this version reads up to {SCHEMA_VERSION})"
        )
    if version < 1:
        raise SweepDatabaseError(path, f"unknown schema version {version}")


def _table_names_readonly(path: str) -> list[str]:
    try:
        # immutable=1: no locks, no -wal/-shm side files next to a stranger's database
        conn = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro&immutable=1", uri=True, timeout=5.0)
        try:
            return sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return ["<unreadable>"]


def _uri_path(path: str) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


def _create_database(path: str) -> None:
    """Build a new database under a temporary name, then link it into ``path`` unless a file
    appeared there meanwhile (another sweep created it: then that file is used)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        # the temporary file is invisible to other processes: no transaction is needed here
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            conn.executemany(
                "INSERT INTO analogeq_meta (name, value) VALUES (?, ?)",
                [
                    ("format", DB_FORMAT),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created_at", _now()),
                    ("created_by", f"analogeq {_version()} on {socket.gethostname()}"),
                ],
            )
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            logger.debug("%s appeared while creating it; using the existing file", path)
        except OSError:  # a filesystem without hard links: best effort
            if not os.path.exists(path):
                os.replace(tmp, path)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp + suffix)


def _version() -> str:
    import analogeq

    return analogeq.__version__


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
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        if os.path.isdir(self.path):
            raise SweepDatabaseError(self.path, "is a directory, not a database file")
        if not os.path.exists(self.path):
            if not create:
                raise FileNotFoundError(f"sweep database {self.path!r} does not exist")
            _create_database(self.path)
        _check_existing_file(self.path)
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
        now = _now()
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
                _now(),
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

    def results(self, *, status: str | None = None) -> list[PointResult]:
        """Every stored result (optionally only one status), ordered by key."""
        query = (
            "SELECT key, config_json, seed, evaluation, substrate, status, metrics_json, reason, eval_time_s, "
            "point_time_s, host, executor, analogeq_version FROM results"
        )
        args: tuple = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status,)
        out = []
        for row in self._conn.execute(query + " ORDER BY key", args):
            k, cfg, seed, ev, sub, st, met, reason, te, tp, host, ex, ver = row
            out.append(
                PointResult(
                    key=k, config=json.loads(cfg), seed=seed, evaluation=ev, substrate=sub, status=st,
                    metrics=json.loads(met), reason=reason, eval_time_s=te, point_time_s=tp, host=host,
                    executor=ex, analogeq_version=ver,
                )
            )
        return out

    def point_rows(self, spec_hash: str | None = None) -> list[dict[str, Any]]:
        """Planned points joined with their results: one dict per (sweep, point) with ``sweep``,
        ``key``, ``axes``, ``evaluation``, ``substrate``, ``seed``, ``status`` (``"pending"`` when
        no result yet), ``metrics``, ``reason``, ``eval_time_s``, ``point_time_s``."""
        query = (
            "SELECT s.name, p.spec_hash, p.key, p.axes_json, p.evaluation, p.substrate, p.seed, "
            "COALESCE(r.status, 'pending'), r.metrics_json, r.reason, r.eval_time_s, r.point_time_s "
            "FROM sweep_points p JOIN sweeps s ON s.spec_hash = p.spec_hash LEFT JOIN results r ON r.key = p.key"
        )
        args: tuple = ()
        if spec_hash is not None:
            query += " WHERE p.spec_hash = ?"
            args = (spec_hash,)
        rows = []
        for name, h, key, axes, ev, sub, seed, st, met, reason, te, tp in self._conn.execute(
            query + " ORDER BY s.first_run_at, p.rowid", args
        ):
            rows.append(
                {
                    "sweep": name, "spec_hash": h, "key": key, "axes": json.loads(axes), "evaluation": ev,
                    "substrate": sub, "seed": seed, "status": st, "metrics": json.loads(met) if met else {},
                    "reason": reason, "eval_time_s": te, "point_time_s": tp,
                }
            )
        return rows


def open_store(path: str | os.PathLike, *, create: bool = True) -> ResultStore:
    """Open (or create) the sweep database at ``path``; see :class:`ResultStore`."""
    return ResultStore(path, create=create)
