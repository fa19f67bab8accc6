"""The sweep database file: its schema, how a new one is made, how an existing one is recognised.

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
    One row per point key (``PRIMARY KEY``): ``status`` is ``"ok"``, ``"skipped"`` or ``"error"``
    (see :mod:`analogeq.sweeps.store` for what each means and which rows are replaced).

* A new file is built under a temporary name and hard-linked into place
  (``hardware_models.files.atomic_output(path, overwrite=False)``), so a database path never
  holds a half-initialised file, and a database another sweep created meanwhile is kept, not
  replaced (replacing it would drop that sweep's rows).
* An existing file that is not an analogeq sweep database (not SQLite, another application's
  SQLite file, a corrupted file, a newer schema) raises :class:`SweepDatabaseError` before
  anything is written, and the file keeps its bytes (side files SQLite made are removed).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import socket
import sqlite3
from pathlib import Path
from urllib.parse import quote

import analogeq
from hardware_models.files import atomic_output

__all__ = [
    "APPLICATION_ID",
    "DB_FORMAT",
    "RESULT_STATUSES",
    "SCHEMA_VERSION",
    "SweepDatabaseError",
    "check_existing_file",
    "create_database",
    "now_iso",
]

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



def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds (the timestamps of the database)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _header(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(100)


def check_existing_file(path: str) -> None:
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
    return quote(os.path.abspath(path))


def create_database(path: str) -> None:
    """Build a new database under a temporary name, then link it into ``path`` unless a file
    appeared there meanwhile (another sweep created it: then that file is used)."""
    tmp: Path | None = None
    try:
        with atomic_output(path, overwrite=False) as tmp:
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
                        ("created_at", now_iso()),
                        ("created_by", f"analogeq {analogeq.__version__} on {socket.gethostname()}"),
                    ],
                )
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
    except FileExistsError:
        logger.debug("%s appeared while creating it; using the existing file", path)
    finally:
        if tmp is not None:  # side files SQLite may leave beside the temporary database
            for suffix in ("-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{suffix}")
