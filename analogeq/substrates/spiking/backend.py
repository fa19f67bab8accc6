"""Which Brian2 code-generation target runs the spiking substrate, and where compiled code is cached.

* ``"cpp_standalone"``: Brian2's standalone device compiles the whole network and its run loop to
  one C++ program (OpenMP threads: ``threads``), built once per network shape and cached on disk
  (:mod:`analogeq.substrates.spiking.standalone`); every phase runs that program with the inputs,
  weights and state given as Brian2 run-time arguments (files), no recompilation. No Python and
  no code-object call per step. The first build of a shape compiles for about a minute.
* ``"cython"``: every Brian2 code object is compiled to a C++ extension. The first build of a
  network compiles about six extensions (one to two minutes on a small machine); they are cached
  on disk and reused by every later network with the same equations, whatever its size or
  weights (the objects have fixed names for this), so a warm cache starts in under a second. A
  card with membrane noise or a refractory period uses other equations: one more compilation.
* ``"numpy"``: vectorised numpy, no compiler needed, nothing cached; the fallback and the choice
  of the tests.

Effect (``benchmarks/bench_spiking.py``, dense 64-256-10 on digits, 256 stacked copies, 1000
steps, shared 2-core machine): cython 4.5 ms of CPU per sample, numpy 13 ms: numpy is ~2.9x
slower. The gap is smaller than usual for Brian2 because every step is dominated by work both
targets do array-wise (synaptic events of 256 copies, one threshold test per neuron).
Effect of the standalone device (same bench, one run, the two modes timed back to back, warm
caches, shared 2-core machine at load 4-8): CPU per sample 6.8 ms standalone vs 7.2 ms cython
for 64-256-10 (ratio 0.94; 1.07 and 0.75 in two more runs) and 15.0 vs 13.7 ms for 784-500-10
(ratio 1.10; 1.30 and 1.19), with identical spike counts. Python was never the cost: ~80% of
the time is Brian2's synaptic delivery (the spike queue copying the synapse indices of every
spike, ~5 ns per event, then ``I_syn_post += w``, ~4 ns per event), which both modes run as
the same compiled loops; standalone adds a process start, the synapses built again from files
and all arrays written back (~80 MB for 784-500-10) per phase. 2 OpenMP threads gave nothing on
this loaded machine.
* ``"auto"`` (default): the fastest mode measured: cython if a test compilation succeeds (as
  fast as cpp_standalone above, and no compilation per network shape), else numpy (logged).
  cpp_standalone is asked for by name (or ``ANALOGEQ_BRIAN_TARGET``), e.g. with OpenMP
  threads on a machine with idle cores.

The cache directory is, in order: the ``cache_dir`` argument, the environment variable
``ANALOGEQ_BRIAN_CACHE``, else the default (cython: Brian2's ``~/.cython/brian_extensions``;
standalone: ``~/.cache/analogeq/brian_standalone``). For cython it is set through
``brian2.prefs.codegen.runtime.cython.cache_dir``, a process-wide preference; standalone
projects go to its ``standalone/`` folder. The target can also be forced with
``ANALOGEQ_BRIAN_TARGET`` (when the argument is "auto"), the standalone threads with
``ANALOGEQ_BRIAN_THREADS`` (when the argument is None; default 0: no OpenMP, one thread).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TARGETS = ("auto", "cpp_standalone", "cython", "numpy")
CACHE_ENV = "ANALOGEQ_BRIAN_CACHE"
TARGET_ENV = "ANALOGEQ_BRIAN_TARGET"
THREADS_ENV = "ANALOGEQ_BRIAN_THREADS"
STANDALONE_DEFAULT_CACHE = os.path.join("~", ".cache", "analogeq", "brian_standalone")


@dataclass(frozen=True)
class BrianBackend:
    """A resolved code-generation target (``"cpp_standalone"``, ``"cython"`` or ``"numpy"``), its
    cache directory (None for numpy or Brian's default; the project root for standalone) and the
    standalone device's OpenMP threads (0: no OpenMP)."""

    target: str
    cache_dir: str | None
    threads: int = 0

    def codeobj_class(self):
        """The Brian2 CodeObject class to pass as ``codeobj_class`` to every runtime object."""
        if self.target == "cpp_standalone":
            raise ValueError("the cpp_standalone target has no runtime CodeObject class (build it with build_stacked_network)")
        if self.target == "cython":
            from brian2.codegen.runtime.cython_rt import CythonCodeObject

            return CythonCodeObject
        from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

        return NumpyCodeObject

    def activate(self) -> None:
        """Apply the cache directory to Brian2's preferences (process-wide)."""
        if self.target == "cython" and self.cache_dir is not None:
            from brian2 import prefs

            Path(self.cache_dir).mkdir(parents=True, exist_ok=True)
            prefs.codegen.runtime.cython.cache_dir = self.cache_dir


@functools.lru_cache(maxsize=None)
def cython_available() -> bool:
    """True if Brian2 can compile a Cython test extension (a C++ compiler is installed)."""
    try:
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        return bool(CythonCodeObject.is_available())
    except Exception as exc:  # pragma: no cover - depends on the machine
        logger.info("Brian2's cython target is not available: %s", exc)
        return False


def standalone_available() -> bool:
    """True if Brian2's cpp_standalone device can build here: a POSIX system with ``make`` and a
    working C++ compiler (the one the cython check compiles with)."""
    return os.name == "posix" and shutil.which("make") is not None and cython_available()


def _threads(threads: int | None) -> int:
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip() or "0"
        if not raw.isdigit():
            raise ValueError(f"environment variable {THREADS_ENV} must be an integer >= 0, got {raw!r}")
        threads = int(raw)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an integer >= 0 (0: no OpenMP), got {threads!r}")
    return threads


def resolve_backend(target: str = "auto", cache_dir: str | os.PathLike | None = None, threads: int | None = None) -> BrianBackend:
    """Resolve ``target`` (one of ``TARGETS``), the cache directory and the standalone threads
    (see module docstring)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if target == "auto":
        forced = os.environ.get(TARGET_ENV, "").strip()
        if forced:
            if forced not in TARGETS[1:]:
                raise ValueError(f"environment variable {TARGET_ENV} must be one of {TARGETS[1:]}, got {forced!r}")
            target = forced
    threads = _threads(threads)
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or None
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache = os.path.abspath(os.path.expanduser(cache))
    if cache is not None:
        from brian2 import prefs

        Path(cache).mkdir(parents=True, exist_ok=True)
        prefs.codegen.runtime.cython.cache_dir = cache
    if target == "auto":
        target = "cython" if cython_available() else "numpy"
        if target == "numpy":
            logger.warning("Brian2 cython target unavailable (no working C++ compiler?); falling back to numpy (slower)")
    if target == "cpp_standalone":
        if not standalone_available():
            raise ValueError("target='cpp_standalone' was asked for but it cannot build here (needs make and a C++ compiler); use 'cython' or 'numpy'")
        root = os.path.join(cache, "standalone") if cache is not None else os.path.expanduser(STANDALONE_DEFAULT_CACHE)
        return BrianBackend(target=target, cache_dir=os.path.abspath(root), threads=threads)
    if target == "cython" and not cython_available():
        raise ValueError("target='cython' was asked for but Brian2 cannot compile Cython here (is a C++ compiler installed?); use 'numpy'")
    return BrianBackend(target=target, cache_dir=cache if target == "cython" else None)


__all__ = ["BrianBackend", "CACHE_ENV", "STANDALONE_DEFAULT_CACHE", "TARGETS", "TARGET_ENV", "THREADS_ENV",
           "cython_available", "resolve_backend", "standalone_available"]
