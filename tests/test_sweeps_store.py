"""The sweep database: one row per point, safe under concurrent writers, never overwrites a
stranger's or a damaged file."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3

import pytest

from analogeq.sweeps.dbfile import APPLICATION_ID
from analogeq.sweeps.store import PlannedPoint, PointResult, ResultStore, SweepDatabaseError


def _result(key: str, status: str = "ok", value: float = 1.0) -> PointResult:
    return PointResult(key=key, config={"k": key}, seed=0, evaluation="e", substrate=None, status=status,
                       metrics={"m": value}, reason=None if status == "ok" else "why")


def _digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


def _sqlite_file(path: str, *statements: str) -> None:
    """A plain SQLite file (not ours) made by running ``statements``."""
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_new_database_is_marked_as_ours(tmp_path):
    db = tmp_path / "s.db"
    with ResultStore(db) as store:
        meta = store.meta()
    assert meta["format"] == "analogeq-sweep-db" and meta["schema_version"] == "1"
    with open(db, "rb") as f:
        head = f.read(100)
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID
    assert _listing(tmp_path) == ["s.db"]  # no temporary files left behind


def test_ok_row_is_final_and_skipped_rows_are_replaced(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        assert store.put(_result("a", value=1.0))
        assert not store.put(_result("a", value=2.0))  # a finished point keeps its first result
        assert store.put(_result("b", status="skipped"))
        assert store.finished_keys() == {"a"}
        assert store.put(_result("b", value=3.0))  # the retry replaces the skipped row
        rows = {r.key: r for r in store.results()}
    assert rows["a"].metrics == {"m": 1.0} and rows["b"].status == "ok" and rows["b"].metrics == {"m": 3.0}
    assert len(rows) == 2


def test_status_counts_join_planned_points(tmp_path):
    with ResultStore(tmp_path / "s.db") as store:
        planned = [PlannedPoint(k, {"x": i}, "e", None, 0) for i, k in enumerate("abcd")]
        store.record_sweep("demo", {"name": "demo"}, "h1", planned)
        store.record_sweep("demo", {"name": "demo"}, "h1", planned)  # a re-run adds nothing
        store.put(_result("a"))
        store.put(_result("b", status="error"))
        (counts,) = store.status_counts()
        rows = store.point_rows()
    assert (counts["planned"], counts["ok"], counts["error"], counts["pending"], counts["runs"]) == (4, 1, 1, 2, 2)
    assert [r["axes"]["x"] for r in rows] == [0, 1, 2, 3]


def _writer(path: str, keys: list[str], out) -> None:
    with ResultStore(path, timeout_s=60.0) as store:
        out.put(sum(store.put(_result(k)) for k in keys))


def test_two_concurrent_writers_neither_duplicate_nor_lose_rows(tmp_path):
    path = str(tmp_path / "s.db")
    ResultStore(path).close()
    keys_a = [f"k{i:04d}" for i in range(0, 300)]
    keys_b = [f"k{i:04d}" for i in range(150, 450)]  # half of them overlap
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, keys, out)) for keys in (keys_a, keys_b)]
    for p in procs:
        p.start()
    stored = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    union = set(keys_a) | set(keys_b)
    # each overlapping key was written by exactly one of the two writers
    assert sum(stored) == len(union)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT key FROM results").fetchall()
    conn.close()
    assert len(rows) == len(union) and {r[0] for r in rows} == union


def _assert_refused_untouched(path, match: str) -> None:
    before, listing = _digest(path), _listing(os.path.dirname(path))
    with pytest.raises(SweepDatabaseError, match=match) as info:
        ResultStore(path)
    assert "left untouched" in str(info.value)
    assert _digest(path) == before
    assert _listing(os.path.dirname(path)) == listing


def test_foreign_sqlite_database_is_refused_and_not_modified(tmp_path):
    path = str(tmp_path / "other.db")
    _sqlite_file(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
                 "INSERT INTO customers (name) VALUES ('ada')")
    _assert_refused_untouched(path, r"another application.*customers")


def test_sqlite_database_with_our_id_but_no_tables_is_refused(tmp_path):
    path = str(tmp_path / "odd.db")
    _sqlite_file(path, f"PRAGMA application_id = {APPLICATION_ID}", "CREATE TABLE x (a)")
    _assert_refused_untouched(path, r"tables \[.*\] are missing")


@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n" * 10, os.urandom(4096)])
def test_non_sqlite_file_is_refused_and_not_modified(tmp_path, content):
    path = str(tmp_path / "notes.db")
    with open(path, "wb") as f:
        f.write(content)
    _assert_refused_untouched(path, "not an analogeq sweep database")


def test_corrupted_database_is_refused_and_not_modified(tmp_path):
    path = str(tmp_path / "s.db")
    with ResultStore(path) as store:
        for i in range(400):
            store.put(_result(f"key-{i:05d}", value=float(i)))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    size = os.path.getsize(path)
    assert size > 4 * page_size
    with open(path, "r+b") as f:  # scribble over the middle of the file (b-tree pages)
        f.seek(size // 2 - page_size // 2)
        f.write(b"\xff\x00garbage" * (page_size // 8))
    _assert_refused_untouched(path, "corrupted")


def test_truncated_database_is_refused(tmp_path):
    path = str(tmp_path / "s.db")
    with ResultStore(path) as store:
        for i in range(400):
            store.put(_result(f"key-{i:05d}"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 3)
    _assert_refused_untouched(path, "corrupted")


def test_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "s.db")
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE analogeq_meta SET value = '99' WHERE name = 'schema_version'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    _assert_refused_untouched(path, "newer analogeq")


def test_missing_database_without_create_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ResultStore(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_directory_is_refused(tmp_path):
    with pytest.raises(SweepDatabaseError, match="directory"):
        ResultStore(tmp_path)


def test_bad_status_is_refused():
    with pytest.raises(ValueError, match=r"PointResult.status: must be one of \['ok', 'skipped', 'error'\], got 'done'"):
        PointResult(key="a", config={}, seed=0, evaluation="e", substrate=None, status="done")


def test_bad_timeout_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"ResultStore.timeout_s: must be a finite number > 0, got 0"):
        ResultStore(tmp_path / "s.db", timeout_s=0)
    assert _listing(tmp_path) == []


def test_foreign_wal_database_gets_no_side_files(tmp_path):
    path = str(tmp_path / "other.db")
    _sqlite_file(path, "PRAGMA journal_mode = WAL", "CREATE TABLE t (a)")
    assert _listing(tmp_path) == ["other.db"]
    _assert_refused_untouched(path, "another application")


def test_a_result_with_non_finite_metrics_cannot_be_stored_as_ok():
    from analogeq.sweeps.store import PointResult, nonfinite_metrics

    assert nonfinite_metrics({"a": 1.0, "b": {"c": [0.5, float("nan")]}, "d": "text", "e": True}) == ["b.c[1]=nan"]
    assert nonfinite_metrics({"x": float("-inf")}) == ["x=-inf"]
    with pytest.raises(ValueError, match=r"non-finite metrics \['acc=nan'\]"):
        PointResult(key="k", config={}, seed=0, evaluation="e", substrate=None, status="ok", metrics={"acc": float("nan")})
    PointResult(key="k", config={}, seed=0, evaluation="e", substrate=None, status="error", metrics={"acc": float("nan")})
