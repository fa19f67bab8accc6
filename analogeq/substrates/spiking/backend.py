"""Which Brian2 code-generation target runs the spiking substrate, and where compiled code is cached.

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
* ``"auto"`` (default): cython if a test compilation succeeds, else numpy (logged).

The cache directory is, in order: the ``cache_dir`` argument, the environment variable
``ANALOGEQ_BRIAN_CACHE``, else Brian2's default (``~/.cython/brian_extensions``). It is set
through ``brian2.prefs.codegen.runtime.cython.cache_dir``, a process-wide preference.
The target can also be forced with ``ANALOGEQ_BRIAN_TARGET`` (when the argument is "auto").
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TARGETS = ("auto", "cython", "numpy")
CACHE_ENV = "ANALOGEQ_BRIAN_CACHE"
TARGET_ENV = "ANALOGEQ_BRIAN_TARGET"


@dataclass(frozen=True)
class BrianBackend:
    """A resolved code-generation target (``"cython"`` or ``"numpy"``) and its cache directory
    (None for numpy or Brian's default)."""

    target: str
    cache_dir: str | None

    def codeobj_class(self):
        """The Brian2 CodeObject class to pass as ``codeobj_class`` to every object."""
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


def resolve_backend(target: str = "auto", cache_dir: str | os.PathLike | None = None) -> BrianBackend:
    """Resolve ``target`` ("auto", "cython", "numpy") and the cache directory (see module docstring)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if target == "auto":
        forced = os.environ.get(TARGET_ENV, "").strip()
        if forced:
            if forced not in ("cython", "numpy"):
                raise ValueError(f"environment variable {TARGET_ENV} must be 'cython' or 'numpy', got {forced!r}")
            target = forced
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
    if target == "cython" and not cython_available():
        raise ValueError("target='cython' was asked for but Brian2 cannot compile Cython here (is a C++ compiler installed?); use 'numpy'")
    return BrianBackend(target=target, cache_dir=cache if target == "cython" else None)


__all__ = ["BrianBackend", "CACHE_ENV", "TARGETS", "TARGET_ENV", "cython_available", "resolve_backend"]
