"""Fuzz the package's inputs (issue 17): device cards, sweep specs and bad command lines.

Every input is mutated from a valid one (:mod:`fuzz_mutations`, seeded) and classified:

* ``rejected``: the package's error (:class:`hardware_models.errors.AnalogeqError`, or an OS
  error naming the file for a command line) in one line of at most 400 characters that names
  the field (a JSON path ``$...`` for cards, the key for specs, the option for command lines);
* ``vague``: the package's error, but on several lines, longer, or not naming the field;
* ``traceback``: any other exception (a bug);
* ``hang``: more than 10 s (SIGALRM stops it);
* ``accepted``: taken as valid, then checked against physics that the validation code does not
  use; ``nonsense`` counts accepted inputs that fail it (a crossbar card: g_max_S <= 1 S, a finite
  positive unit current below 1 A, 8x8 programmed conductances finite and within 10 conductance
  ranges of their targets, read and conversion times <= 1 s; a spiking card: each phase <= 10^8 clock steps; every card
  round-trips through its dict; a spec: at most its point limit, seeds within SQLite's int64, its
  canonical dict read back equal, and every 20th accepted spec's points planned and stored in a
  fresh SQLite database).

    python benchmarks/fuzz_inputs.py --json            # 3,000 cards, 2,000 specs, every bad command line
    python benchmarks/fuzz_inputs.py --quick --json    # 300 / 200 / 40 (same keys)

Keys: ``cards``, ``specs``, ``cli``, each with ``examples``, ``rejected``, ``accepted``,
``tracebacks``, ``hangs``, ``vague``, ``nonsense``, ``max_seconds`` (and the ``slowest`` input) and up
to 10 ``failures``
(label and message); ``all_zero`` is true when every tracebacks, hangs, vague and nonsense count is 0.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_parser, emit, machine, parse_args  # noqa: E402
from fuzz_mutations import base_spec, card_variants, spec_file_variants, spec_variants  # noqa: E402

HANG_S = 10


class Hang(BaseException):
    """Raised by SIGALRM when one input takes more than HANG_S seconds."""


def _alarm(signum, frame):
    raise Hang()


class Tally:
    """Counts of one input family, and the first failures of each kind."""

    def __init__(self) -> None:
        self.counts = {k: 0 for k in ("examples", "rejected", "accepted", "tracebacks", "hangs", "vague", "nonsense")}
        self.failures: list[dict[str, str]] = []
        self.max_seconds = 0.0
        self.slowest = ""

    def add(self, outcome: str, label: str, message: str = "", seconds: float = 0.0) -> None:
        self.counts["examples"] += 1
        self.counts[outcome] += 1
        if seconds > self.max_seconds:
            self.max_seconds, self.slowest = seconds, label[:200]
        if outcome not in ("rejected", "accepted") and len(self.failures) < 10:
            self.failures.append({"outcome": outcome, "label": label[:200], "message": message[:300]})

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts, "max_seconds": round(self.max_seconds, 3), "slowest": self.slowest, "failures": self.failures}


def run_case(tally: Tally, label: str, fn: Callable[[], Any], judge_error: Callable[[BaseException], bool],
             judge_accepted: Callable[[Any], str | None]) -> None:
    """Run ``fn`` under a HANG_S alarm and record its outcome in ``tally``."""
    from hardware_models.errors import AnalogeqError

    signal.alarm(HANG_S)
    t0 = time.perf_counter()
    try:
        result = fn()
    except Hang:
        tally.add("hangs", label, f"over {HANG_S} s", time.perf_counter() - t0)
        return
    except AnalogeqError as exc:
        signal.alarm(0)
        ok = judge_error(exc)
        tally.add("rejected" if ok else "vague", label, str(exc), time.perf_counter() - t0)
        return
    except BaseException as exc:  # noqa: BLE001 - a bug: counted, not raised
        signal.alarm(0)
        tally.add("tracebacks", label, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        return
    finally:
        signal.alarm(0)
    seconds = time.perf_counter() - t0
    try:
        problem = judge_accepted(result)
    except Exception as exc:  # noqa: BLE001 - the accepted input broke later use: nonsense
        problem = f"accepted, then {type(exc).__name__}: {exc}"
    tally.add("nonsense" if problem else "accepted", label, problem or "", seconds)


def one_line(exc: BaseException, pattern: str) -> bool:
    text = str(exc)
    return "\n" not in text and len(text) <= 400 and re.search(pattern, text) is not None


# ---- cards ---------------------------------------------------------------------------------


def card_nonsense(card: Any) -> str | None:
    """Physics the card validation does not use (see the module docstring)."""
    import numpy as np

    from hardware_models.cards import card_from_dict
    from hardware_models.devices import program_conductances

    if card_from_dict(card.to_dict()) != card:
        return "does not round-trip through its dict"
    if card.card_type == "crossbar":
        d = card.device
        if not 0 < d.g_max_S <= 1.0:
            return f"g_max_S = {d.g_max_S} S"
        if not (np.isfinite(card.i_unit_A) and 0 < card.i_unit_A < 1.0):
            return f"unit current {card.i_unit_A} A"
        if card.timing.t_read_s > 1.0 or card.timing.t_adc_s > 1.0:
            return f"read/conversion time {card.timing.t_read_s}/{card.timing.t_adc_s} s"
        target = np.linspace(d.g_min_S, d.g_max_S, 64).reshape(8, 8)
        g = program_conductances(card, target, np.random.default_rng(0))
        values = np.asarray(g.g_prog_S, dtype=float)
        span = d.g_max_S - d.g_min_S  # programming noise may leave [g_min, g_max], not by 10 ranges
        if not np.all(np.isfinite(values)) or np.abs(values - target).max() > 10 * span:
            return f"programmed conductances not finite or off by more than 10 ranges ({np.abs(values - target).max():.3g} S)"
    elif card.card_type == "spiking":
        t = card.timing
        steps = max(t.t_free_s, t.t_nudge_s, t.decode_window_s) / t.dt_s
        if steps > 1e8:
            return f"{steps:.3g} clock steps per phase"
    return None


def fuzz_cards(n: int, seed: int, folder: Path) -> Tally:
    from hardware_models.cards import list_presets, load_card, preset

    presets = {name: preset(name).to_dict() for name in list_presets()}
    tally = Tally()
    path = folder / "card.json"
    for label, text in card_variants(presets, n, random.Random(seed)):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        run_case(tally, label, lambda: load_card(path), lambda e: one_line(e, r"\$"), card_nonsense)
    return tally


# ---- sweep specs ---------------------------------------------------------------------------

_SPEC_KEY = re.compile(r"^([^:]*: )?(name|description|card|network|axes|substrates|evaluations|seeds|imports|spec|a sweep spec|not valid TOML|not UTF-8|the file|is a folder|not a sweep spec)")


def spec_judge(exc: BaseException) -> bool:
    """One line that starts (after the file name) with the key it is about: ``axes["x"][2]: ...``."""
    text = getattr(exc, "detail", str(exc))
    return one_line(exc, r".") and (_SPEC_KEY.search(text) is not None or _KEY_PREFIX.match(text) is not None)


#: a message that begins with a key path (``a.b.c: ...``, ``axes["x"][1] = 3: ...``)
_KEY_PREFIX = re.compile(r"^[A-Za-z_][^:]{0,160}: ")


def spec_nonsense_factory(folder: Path) -> Callable[[Any], str | None]:
    from analogeq.sweeps import plan_points
    from analogeq.sweeps.spec import DEFAULT_POINT_LIMIT, spec_from_dict
    from analogeq.sweeps.store import PlannedPoint, ResultStore

    counter = {"n": 0}

    def nonsense(spec: Any) -> str | None:
        if spec.n_points() > DEFAULT_POINT_LIMIT:
            return f"{spec.n_points()} points"
        if any(not 0 <= s < 2**63 for s in spec.seeds):
            return f"seeds {spec.seeds}"
        if spec_from_dict(spec.to_dict(), base_dir=spec.base_dir) != spec:
            return "canonical dict does not read back equal"
        counter["n"] += 1
        if counter["n"] % 20 == 1:  # plan and store the points of some accepted specs
            points = plan_points(spec)
            with ResultStore(folder / f"s{counter['n']}.db") as store:
                store.record_sweep(spec.name, spec.to_dict(), spec.spec_hash(),
                                   [PlannedPoint(p.key, p.axes, p.evaluation, p.substrate, p.seed) for p in points])
        return None

    return nonsense


SPEC_TOML = """name = "fuzz"
seeds = [0, 1]
[card]
preset = "pcm"
[axes]
"device.read_noise_scale" = [0.0, 1.0, 2.0]
drift_time_s = { start = 1.0, stop = 1000.0, num = 3, log = true }
[evaluations.conductance_error]
n_cells = 64
"""


def fuzz_specs(n: int, seed: int, folder: Path) -> Tally:
    from analogeq.sweeps.spec import load_spec, spec_from_dict

    rng = random.Random(seed)
    tally = Tally()
    nonsense = spec_nonsense_factory(folder)
    n_files = n // 10
    for label, data in spec_variants(n - n_files, rng):
        run_case(tally, label, lambda: spec_from_dict(data, base_dir=str(folder)), spec_judge, nonsense)
    path = folder / "spec.toml"
    for label, raw in spec_file_variants(SPEC_TOML, n_files, rng):
        path.write_bytes(raw)
        run_case(tally, label, lambda: load_spec(path), lambda e: spec_judge(e) and str(path) in str(e), nonsense)
    return tally


# ---- command lines -------------------------------------------------------------------------


def fuzz_cli(n: int, folder: Path) -> Tally:
    from fuzz_cli import bad_invocations, judge_cli, prepare, run_cli

    prepare(folder)
    cases = bad_invocations()
    tally = Tally()
    for argv in cases[:n]:
        argv = [a.replace("{t}", str(folder)) for a in argv]
        label = " ".join(a.replace(str(folder), "T") for a in argv)[:200]

        def invoke(argv=argv):
            code, _, err = run_cli(argv)
            problem = judge_cli(code, err)
            if problem is not None and problem.startswith("not one line"):
                raise _Vague(problem)
            return problem

        signal.alarm(HANG_S)
        t0 = time.perf_counter()
        try:
            problem = invoke()
            outcome = "nonsense" if problem else "rejected"
        except Hang:
            outcome, problem = "hangs", f"over {HANG_S} s"
        except _Vague as exc:
            outcome, problem = "vague", str(exc)
        except BaseException as exc:  # noqa: BLE001 - a traceback out of cli.main
            outcome, problem = "tracebacks", f"{type(exc).__name__}: {exc}"
        finally:
            signal.alarm(0)
        tally.add(outcome, label, problem or "", time.perf_counter() - t0)
    return tally


class _Vague(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="300 cards, 200 specs, 40 command lines (same keys)",
                          seed=True, description="paragraph")
    args = parse_args(parser, argv)
    n_cards, n_specs, n_cli = (300, 200, 40) if args.quick else (3000, 2000, 1000)
    signal.signal(signal.SIGALRM, _alarm)
    import logging

    logging.disable(logging.WARNING)  # the commands' INFO/WARNING lines are not what is judged
    import analogeq.cli  # noqa: F401 - imports (torch: seconds at load) are not counted as hangs
    import analogeq.train  # noqa: F401

    t0 = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "seed": args.seed, "hang_limit_s": HANG_S}
    with tempfile.TemporaryDirectory(prefix="analogeq-fuzz-") as tmp:
        for name, fn in (("cards", lambda: fuzz_cards(n_cards, args.seed, Path(tmp))),
                         ("specs", lambda: fuzz_specs(n_specs, args.seed + 1, Path(tmp))),
                         ("cli", lambda: fuzz_cli(n_cli, Path(tmp)))):
            t = time.perf_counter()
            result[name] = {**fn().to_dict(), "seconds": round(time.perf_counter() - t, 1)}
    result["all_zero"] = all(result[k][c] == 0 for k in ("cards", "specs", "cli")
                             for c in ("tracebacks", "hangs", "vague", "nonsense"))
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    emit(result, args, text="\n".join(
        f"{k}: {result[k]['examples']} examples, {result[k]['rejected']} rejected, {result[k]['accepted']} accepted, "
        f"{result[k]['tracebacks']} tracebacks, {result[k]['hangs']} hangs, {result[k]['vague']} vague, "
        f"{result[k]['nonsense']} nonsense" for k in ("cards", "specs", "cli")))
    return 0 if result["all_zero"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
