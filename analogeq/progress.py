"""One overall progress bar (tqdm: units done, rate, time left) for the long jobs: a robustness
suite, ``compare`` and the demo.

    with overall(total=len(plan), desc="robustness", unit="step") as bar:
        for item in plan:
            ...
            bar.step(item.name)          # one unit done; the label shows what finished

Only the outermost job draws a bar: a robustness suite run inside ``compare`` or the demo finds
their bar active and only updates its label, so there is one bar on the screen with one ETA.
The bar is drawn on stderr only when stderr is a terminal and ``CI`` is not set;
``ANALOGEQ_PROGRESS=1`` (or ``0``) forces it on (off). Nothing is printed otherwise, and a
job's results never depend on the bar.

:func:`compile_notice` prints one line on stderr when the first call of a Numba kernel in a
process is still running after a few seconds: Numba is compiling it (cached on disk for later
runs) or loading it from its cache.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from typing import Any, Iterator

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

__all__ = ["COMPILE_NOTICE_AFTER_S", "Overall", "active", "compile_notice", "overall", "show_progress"]

#: seconds a kernel's first call may take before :func:`compile_notice` speaks (a cached kernel
#: loads and runs within this on the development machine)
COMPILE_NOTICE_AFTER_S = 3.0

_NOTICED: set[str] = set()

_ACTIVE: contextvars.ContextVar["Overall | None"] = contextvars.ContextVar("analogeq_overall_progress", default=None)


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a bar: ``progress`` if given, else ``ANALOGEQ_PROGRESS`` (``1``/``0``) if
    set, else only when stderr is an interactive terminal outside CI."""
    if progress is not None:
        return bool(progress)
    forced = os.environ.get("ANALOGEQ_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not os.environ.get("CI")


@contextlib.contextmanager
def compile_notice(kernel: str, after_s: float | None = None) -> Iterator[None]:
    """Around the first call of ``kernel`` in this process: if it is still running after
    ``after_s`` seconds (default :data:`COMPILE_NOTICE_AFTER_S`), print one line on stderr saying
    that Numba is compiling it. Later calls, and quick first calls, print nothing."""
    if kernel in _NOTICED:
        yield
        return
    _NOTICED.add(kernel)
    text = (f"analogeq: compiling the {kernel} kernels with Numba (first use on this machine: minutes on a busy "
            "machine; cached for later runs)...")
    timer = threading.Timer(COMPILE_NOTICE_AFTER_S if after_s is None else after_s,
                            lambda: print(text, file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def active() -> bool:
    """Whether an overall bar is being tracked (a job's own bars, e.g. training's, stay off then)."""
    return _ACTIVE.get() is not None


class Overall:
    """The planned ``total`` units of one job and the ``done`` count; ``bar`` is the tqdm bar
    (None when quiet). ``nested`` trackers belong to an inner job: they only relabel the outer bar."""

    def __init__(self, total: int, bar: Any = None, nested: "Overall | None" = None):
        self.total = int(total)
        self.done = 0
        self.bar = bar
        self.nested = nested

    def step(self, label: str | None = None, n: int = 1) -> None:
        """``n`` units finished (``label``: what finished, shown beside the bar)."""
        self.done += n
        if self.nested is not None:  # an inner job: the outer bar keeps its own count
            if label and self.nested.bar is not None:
                self.nested.bar.set_postfix_str(label, refresh=True)
            return
        if self.bar is not None:
            if label:
                self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(n)

    def label(self, text: str) -> None:
        """Show ``text`` beside the bar without counting a unit (e.g. the step now running)."""
        target = self.nested or self
        if target.bar is not None:
            target.bar.set_postfix_str(text, refresh=True)


@contextlib.contextmanager
def overall(total: int, desc: str, *, unit: str = "step", progress: bool | None = None) -> Iterator[Overall]:
    """The progress tracker of a job of ``total`` planned units (see the module docstring)."""
    outer = _ACTIVE.get()
    if outer is not None:
        yield Overall(total, nested=outer)
        return
    bar = None
    if show_progress(progress):
        bar = tqdm(total=int(total), desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} "
                              "[{elapsed}<{remaining}]{postfix}")
    tracker = Overall(total, bar)
    token = _ACTIVE.set(tracker)
    try:
        # log lines are printed above the bar instead of through it
        with logging_redirect_tqdm() if bar is not None else contextlib.nullcontext():
            yield tracker
    finally:
        _ACTIVE.reset(token)
        if bar is not None:
            bar.close()
