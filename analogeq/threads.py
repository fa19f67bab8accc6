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

Thread counts are not changed here: torch's (``--threads`` of train, compare and demo;
``OMP_NUM_THREADS``) and Numba's (``NUMBA_NUM_THREADS``) are the user's; the measured choice of
defaults is in the README ("Threads").
"""

from __future__ import annotations

import os
from typing import MutableMapping

__all__ = ["PROCESS_DEFAULTS", "set_process_defaults"]

#: environment variables an entry point sets unless the user already set them
PROCESS_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


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
