"""Helpers shared by the thread-invariance tests (imported by name; not conftest).

* :func:`script_digest` runs a script in a fresh interpreter with every thread pool (BLAS,
  OpenMP, MKL, Numba) at ``threads`` and returns what it prints (a digest of its numbers);
* :func:`parallel_results` calls ``run()`` with Numba at 1 and (where allowed) 2 threads.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numba

__all__ = ["parallel_results", "script_digest"]


def script_digest(script: str, threads: int) -> str:
    """stdout (stripped) of ``python -c script`` with every thread-count variable at ``threads``."""
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[name] = str(threads)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def parallel_results(run) -> list:
    """[run() at 1 Numba thread, run() at 2] (one entry where Numba has a single thread); the
    thread count is restored afterwards."""
    previous = numba.get_num_threads()
    try:
        results = []
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            results.append(run())
    finally:
        numba.set_num_threads(previous)
    return results
