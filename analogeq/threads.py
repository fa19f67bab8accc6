"""Process-wide thread settings, applied by the package's own entry points only.

Importing :mod:`analogeq` or :mod:`hardware_models` changes nothing in the host process. The
``analogeq`` command line (and the benchmark scripts) call :func:`set_process_defaults` first
thing, before torch, Numba or Brian2 load an OpenMP runtime, because the runtime reads the
variables once, when it loads:

* ``OMP_WAIT_POLICY=PASSIVE``: idle OpenMP workers sleep instead of spinning. Numba's parallel
  kernels and torch each keep a worker pool; on a small shared machine spinning workers of one pool
  starve the other (10-30x slower crossbar evaluations measured on 2 cores). A value already in
  the environment wins (``OMP_WAIT_POLICY=ACTIVE analogeq demo`` is faster on an idle machine of
  your own).

Thread counts: the command line then calls :func:`apply_thread_defaults` (after parsing its
arguments, before the command runs), which sets

* torch's intra-op threads to ``ANALOGEQ_TORCH_THREADS`` if set, else leaves torch's own choice
  when ``OMP_NUM_THREADS`` is set, else :data:`DEFAULT_TORCH_THREADS`; a command's
  ``--threads N`` (train, compare, demo) then wins;
* Numba's threads to ``ANALOGEQ_NUMBA_THREADS`` if set, else leaves Numba's own choice when
  ``NUMBA_NUM_THREADS`` is set, else :data:`DEFAULT_NUMBA_THREADS` (None: Numba's own, every
  core). Numba's results are identical for any count.

The defaults come from ``benchmarks/bench_threads.py`` (README, "Threads"; RESULTS.md).
"""

from __future__ import annotations

import os
from typing import Mapping, MutableMapping

from hardware_models.params import check_int

__all__ = ["DEFAULT_NUMBA_THREADS", "DEFAULT_TORCH_THREADS", "PROCESS_DEFAULTS", "apply_thread_defaults",
           "set_process_defaults", "thread_counts"]

#: environment variables an entry point sets unless the user already set them
PROCESS_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}

#: torch threads of the ``analogeq`` command unless told otherwise: 1. Measured on 2 shared cores
#: at load 8-9 (``benchmarks/bench_threads.py``, 64-512-10, batch 64): a second torch thread made
#: every torch step slower, 1.4-1.5x for the float attack gradient, 1.7-1.9x for the float settle,
#: 1.25-1.9x for the crossbar's implicit attack gradient (the matrices are small)
DEFAULT_TORCH_THREADS = 1

#: Numba threads of the ``analogeq`` command unless told otherwise: None, Numba's own (every
#: core). Measured in the same runs: a second Numba thread cost 1.01-1.16x on the crossbar settle
#: at load 8-9 (no free core to use), while the settle splits its batch over threads by sample,
#: so free cores speed it up; the results are the same numbers for any count
DEFAULT_NUMBA_THREADS: int | None = None


def set_process_defaults(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set every :data:`PROCESS_DEFAULTS` variable the environment does not have; returns the
    ones set. Call it before torch or Numba is imported (later it has no effect on them)."""
    env = os.environ if environ is None else environ
    added = {}
    for name, value in PROCESS_DEFAULTS.items():
        if name not in env:
            env[name] = value
            added[name] = value
    return added


def _count(environ: Mapping[str, str], ours: str, theirs: str, default: int | None) -> int | None:
    text = environ.get(ours, "").strip()
    if text:
        try:
            value: object = int(text)
        except ValueError:
            value = text  # refused below, with the text
        return check_int(ours, value, minimum=1, maximum=4096, owner="environment")
    return None if environ.get(theirs, "").strip() else default


def thread_counts(environ: Mapping[str, str] | None = None) -> dict[str, int | None]:
    """``{"torch": n or None, "numba": n or None}``: the counts :func:`apply_thread_defaults`
    sets (None: leave that library's own choice). ``ANALOGEQ_TORCH_THREADS`` /
    ``ANALOGEQ_NUMBA_THREADS`` win (an integer >= 1, else a one-line ``ParameterError``); a set
    ``OMP_NUM_THREADS`` / ``NUMBA_NUM_THREADS`` keeps the library's choice; otherwise the defaults."""
    env = os.environ if environ is None else environ
    return {"torch": _count(env, "ANALOGEQ_TORCH_THREADS", "OMP_NUM_THREADS", DEFAULT_TORCH_THREADS),
            "numba": _count(env, "ANALOGEQ_NUMBA_THREADS", "NUMBA_NUM_THREADS", DEFAULT_NUMBA_THREADS)}


def apply_thread_defaults(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Set torch's and Numba's thread counts to :func:`thread_counts` (importing each library
    only when it has a count to set and is installed: the light install has no torch, and its
    commands need none); returns the counts set. Numba's is capped at its pool size
    (``numba.config.NUMBA_NUM_THREADS``)."""
    from importlib.util import find_spec

    counts = thread_counts(environ)
    applied = {}
    if counts["torch"] is not None and find_spec("torch") is not None:
        import torch

        torch.set_num_threads(counts["torch"])
        applied["torch"] = counts["torch"]
    if counts["numba"] is not None and find_spec("numba") is not None:
        import numba

        applied["numba"] = min(counts["numba"], numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(applied["numba"])
    return applied
