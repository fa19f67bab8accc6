"""Helpers shared by the benchmark scripts (``benchmarks/bench_*.py``): the command line, the
machine description, interleaved timing loops and the JSON output.

Standard library and hardware_models only, so the crossbar benchmark never loads torch (the
digits data and models the other benchmarks train are in :mod:`digits`). Importing this module
sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set it; :func:`analogeq.threads.set_process_defaults`,
as the command line does) before torch or Numba load an OpenMP runtime: import it first.

    parser = bench_parser(__doc__, quick_help="fewer repeats (same keys)", threads_help="BLAS threads")
    args = parse_args(parser, argv)
    times = interleaved_times({"gemm": gemm, "read": read}, repeats=40, warmup=3)
    ratio = ratio_of_medians(times, "read", "gemm")     # median(t_read) / median(t_gemm)
    emit(result, args)                                  # --json: stdout; --output: a file

Every timing is wall time from ``time.perf_counter`` in seconds. On a shared machine the ratios
measured in one run (both sides interleaved) are the figures to compare, not the seconds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import time
from typing import Callable

from analogeq.threads import set_process_defaults

set_process_defaults()  # a benchmark is an entry point, like the command line

from hardware_models.files import atomic_write  # noqa: E402
from hardware_models.jsonable import to_jsonable  # noqa: E402

__all__ = [
    "bench_parser", "emit", "interleaved_times", "load_average", "machine", "package_version",
    "parse_args", "ratio_of_medians", "summary_text",
]


def bench_parser(doc: str, *, quick_help: str, threads_help: str | None = None, seed: bool = False,
                 description: str = "full") -> argparse.ArgumentParser:
    """The arguments every benchmark has: ``--json``, ``--quick`` (same keys, smaller budgets),
    ``--output PATH``; ``--threads N`` (default 1) when ``threads_help`` is given, ``--seed``
    (default 0) when ``seed``. ``description``: ``"full"`` (the whole docstring), ``"line"``
    (its first line) or ``"paragraph"`` (its first paragraph)."""
    if description == "full":
        parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    else:
        parser = argparse.ArgumentParser(description=doc.split("\n" if description == "line" else "\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--output", default=None, metavar="PATH",
                        help="also write the JSON object to PATH (atomically: a reader never sees half a file)")
    if threads_help is not None:
        parser.add_argument("--threads", type=int, default=1, help=threads_help)
    if seed:
        parser.add_argument("--seed", type=int, default=0)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``--threads`` below 1 is a usage error (exit status 2)."""
    args = parser.parse_args(argv)
    if getattr(args, "threads", 1) < 1:
        parser.error("--threads must be >= 1")
    return args


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the platform has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine(versions: tuple[str, ...] = (), **extra) -> dict:
    """``cpu_count``, ``platform``, ``python``, the installed version of each distribution in
    ``versions`` (by its name; None when absent) and the ``extra`` entries."""
    out = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    out.update({name: package_version(name) for name in versions})
    out.update(extra)
    return out


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall times (s) of each function, called in turn (the dict's order) ``repeats`` times after
    ``warmup`` untimed rounds: interleaving spreads a change of the machine's load over all of
    them."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def ratio_of_medians(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """median(times[numerator]) / median(times[denominator])."""
    return statistics.median(times[numerator]) / statistics.median(times[denominator])


def summary_text(result: dict, keys: tuple[str, ...] | None = None) -> str:
    """``key: value`` lines of ``keys`` (default: every key) of ``result``."""
    return "\n".join(f"{key}: {result[key]}" for key in (keys if keys is not None else result))


def emit(result: dict, args: argparse.Namespace, text: str | None = None) -> None:
    """Write ``result`` as one strict JSON object (:func:`hardware_models.jsonable.to_jsonable`:
    NaN and infinities become null) to ``args.output`` when given (atomically), and print it
    with ``--json``; print ``text`` (default :func:`summary_text`) otherwise."""
    data = json.dumps(to_jsonable(result), indent=2, allow_nan=False)
    if args.output:
        atomic_write(args.output, data + "\n")
    print(data if args.json else (text if text is not None else summary_text(result)), flush=True)
