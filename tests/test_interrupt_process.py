"""Issue 17 item 5: Ctrl-C in a real ``analogeq`` process (robustness, demo) prints one line that
says what was kept and where, exits with status 130, and shows no traceback.

Each test starts the command line in a subprocess, waits until its log says the work has
started (training), sends SIGINT, and reads what the process prints after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")


def _interrupt(argv: list[str], started: str, tmp_path, wait_s: float = 0.5) -> tuple[int, list[str], str]:
    """Run ``python -m analogeq argv``; after a stderr line containing ``started`` (and ``wait_s``
    more seconds) send SIGINT. Returns (exit code, stderr lines after the signal, all stderr)."""
    env = {**os.environ, "ANALOGEQ_PROGRESS": "0", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "analogeq", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    before = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:  # the process ended before it started working
                break
            before.append(line)
            if started in line:
                break
        assert before and started in before[-1], "".join(before)
        time.sleep(wait_s)
        assert proc.poll() is None, "the command finished before the signal: give it more work"
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    after = [line for line in rest.splitlines() if line.strip()]
    return proc.returncode, after, "".join(before) + rest


def test_ctrl_c_in_robustness_is_one_line_and_exit_130(tmp_path):
    out = tmp_path / "rob"
    code, after, stderr = _interrupt(["robustness", "--substrate", "float", "--suite", "quick", "--n-examples", "20",
                                      "--epochs", "3", "--out", str(out)], "training the default digits EBM", tmp_path)
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert len(after) == 1, after
    assert after[0].startswith("analogeq robustness: stopped (Ctrl-C)") and repr(str(out)) in after[0], after
    assert not (out / "robustness.json").exists()


def test_ctrl_c_in_demo_is_one_line_and_exit_130(tmp_path):
    out = tmp_path / "demo"
    # the signal lands in the float section's training (after its first epoch), past every import
    code, after, stderr = _interrupt(["demo", "--quick", "--section", "float", "--out", str(out)],
                                     "epoch 1/", tmp_path)
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    after = [line for line in after if not line.startswith(("INFO ", "WARNING "))]  # epochs logged before the signal
    assert len(after) == 1, after
    assert after[0].startswith("analogeq demo: stopped (Ctrl-C) in section 'float'") and repr(str(out)) in after[0], after
    assert not (out / "demo_results.json").exists()
