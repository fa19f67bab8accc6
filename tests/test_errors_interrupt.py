"""Ctrl-C (SIGINT sent to a real ``analogeq`` process) and what interrupted writers leave behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures_sweeps import spec_toml, write_spec

from hardware_models.files import STALE_AFTER_S, atomic_write

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "analogeq", *map(str, args)], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc, timeout_s=120.0):
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended early ({proc.returncode}): {out[-500:]} {err[-1500:]}")
        if time.monotonic() - t0 > timeout_s:
            proc.kill()
            pytest.fail("timed out waiting for the process to make progress")
        time.sleep(0.2)


def _ok_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def test_ctrl_c_stops_a_sweep_in_one_line_counting_the_stored_points(tmp_path):
    spec = write_spec(tmp_path, spec_toml(
        "ctrlc", seeds="{ start = 0, count = 40 }", axes='"device.read_noise_scale" = [0.0, 0.5, 1.0, 2.0, 3.0]',
        evaluations="[evaluations.conductance_error]\nn_cells = 20000"))
    db = tmp_path / "s.db"
    proc = _start(["sweep", "run", spec, "--db", db, "--no-progress"], tmp_path)
    _wait_for(lambda: _ok_count(db) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    stored = _ok_count(db)
    assert proc.returncode == 130, err
    assert "200 grid points" in out
    assert err.strip().splitlines() == [f"analogeq sweep: stopped: {stored} of 200 points stored; "
                                        "run the same command to resume"]
    assert "Traceback" not in err and 3 <= stored < 200


@pytest.mark.parametrize("model_args", [["--model-config", '{"hidden_sizes": [32]}'],
                                        ["--model", "resistive", "--model-config", '{"hidden_sizes": [8]}']],
                         ids=["dense_ebm", "resistive_drn"])
def test_ctrl_c_during_training_keeps_the_last_completed_epoch(tmp_path, model_args):
    from analogeq.checkpoint import load_checkpoint

    out_file = tmp_path / "m.safetensors"
    proc = _start(["train", "--out", out_file, "--epochs", "500", "--limit-train", "400", *model_args,
                   "--threads", "1"], tmp_path)
    _wait_for(out_file.exists, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.strip().splitlines() if not line.startswith(("INFO ", "WARNING "))]
    assert len(lines) == 1 and lines[0].startswith("analogeq train: stopped (Ctrl-C):"), err
    _, metadata = load_checkpoint(out_file)
    assert metadata["partial"] is True and f"holds epoch {metadata['epochs_completed']} of 500" in lines[0]
    assert len(metadata["history"]) == metadata["epochs_completed"] >= 1
    assert [row["epoch"] for row in metadata["history"]] == list(range(1, metadata["epochs_completed"] + 1))


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_the_next_write_removes_a_crashed_writers_temporaries(tmp_path):
    target = tmp_path / "card.json"
    stale = tmp_path / ".card.json.k3j2.tmp"
    stale_wal = tmp_path / ".card.json.k3j2.tmp-wal"  # SQLite side file of a temporary database
    live = tmp_path / ".card.json.live.tmp"  # another writer, still at work
    other = tmp_path / ".other.json.old.tmp"  # another file's: not ours to judge
    for p in (stale, stale_wal, live, other):
        p.write_text("partial")
    for p in (stale, stale_wal, other):
        _age(p, STALE_AFTER_S + 60)
    atomic_write(target, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])


def test_an_interrupted_database_creation_is_cleared_by_the_next_run(tmp_path):
    from analogeq.sweeps.store import ResultStore

    db = tmp_path / "s.db"
    leftovers = [tmp_path / ".s.db.a1b2.tmp", tmp_path / ".s.db.a1b2.tmp-journal"]
    for p in leftovers:
        p.write_bytes(b"SQLite format 3\x00")
        _age(p, STALE_AFTER_S + 60)
    with ResultStore(db):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["s.db"]
