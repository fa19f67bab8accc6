"""Thread counts: the attack gradient and the settle on 1 vs 2 torch threads and 1 vs 2 Numba
threads, in one run, with the load average (issue 17 item 13).

    python benchmarks/bench_threads.py --json           # 7 interleaved repeats
    python benchmarks/bench_threads.py --json --quick   # 3 repeats, same keys

The network is the digits recipe's dense EBM (64-512-10, its free-phase budget of 150 steps at
tol 1e-4; untrained, seeded), batch 64. Every pair is timed interleaved (1, 2, 1, 2, ...) and
reported as the ratio of medians ``..._2_over_1_...`` (below 1: two threads are faster):

* ``attack_gradient_float_2_over_1_torch_threads``: one PGD gradient on the float substrate (cross
  entropy of ``attack_logits`` with the full settling gradient, backpropagated to the input);
* ``settle_float_2_over_1_torch_threads``: one free phase on the float substrate (``logits``);
* ``settle_crossbar_2_over_1_numba_threads``: one free phase on the ``pcm`` crossbar (the fused
  Numba kernel; torch on 1 thread), the whole budget (read noise never meets the tolerance);
* ``attack_gradient_crossbar_2_over_1_torch_threads`` / ``_numba_threads``: the crossbar's
  default attack gradient (implicit, at the fixed point of the fused settle), varying one count
  with the other at 1.

Each pair's medians, times and ``load_average`` (1, 5, 15 min) before and after are under
``<name>_<torch|numba>_threads``; ``defaults``: the counts the
``analogeq`` command uses (:mod:`analogeq.threads`), chosen from these ratios (README, "Threads").
"""

from __future__ import annotations

import sys
import time

from common import bench_parser, emit, interleaved_times, load_average, machine, parse_args, ratio_of_medians, summary_text

import numba
import torch

from analogeq.contract import GradientSpec
from analogeq.models import build_model
from analogeq.substrates import build_substrate
from analogeq.threads import DEFAULT_NUMBA_THREADS, DEFAULT_TORCH_THREADS
from analogeq.train.recipes import digits_dense

SUMMARY_KEYS = ("attack_gradient_float_2_over_1_torch_threads", "settle_float_2_over_1_torch_threads",
                "settle_crossbar_2_over_1_numba_threads", "attack_gradient_crossbar_2_over_1_torch_threads",
                "attack_gradient_crossbar_2_over_1_numba_threads", "wall_seconds")


def _with_threads(torch_threads: int, numba_threads: int, fn):
    def run():
        torch.set_num_threads(torch_threads)
        numba.set_num_threads(numba_threads)
        fn()
    return run


def _pair(name: str, fn, vary: str, repeats: int) -> dict:
    """Time ``fn`` with ``vary`` ("torch" or "numba") threads at 1 and 2 (the other at 1)."""
    counts = {"1": (1, 1), "2": (2, 1) if vary == "torch" else (1, 2)}
    before = load_average()
    times = interleaved_times({k: _with_threads(t, n, fn) for k, (t, n) in counts.items()}, repeats, warmup=1)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {f"{name}_2_over_1_{vary}_threads": ratio_of_medians(times, "2", "1"),
            f"{name}_{vary}_threads": {"vary": vary, "median_1_s": med["1"], "median_2_s": med["2"], "times_s": times,
                   "load_average_before": before, "load_average_after": load_average()}}


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="3 repeats instead of 7 (same keys)", description="line")
    args = parse_args(parser, argv)
    if numba.config.NUMBA_NUM_THREADS < 2:
        print("bench_threads: Numba has 1 thread (NUMBA_NUM_THREADS); 2 are needed", file=sys.stderr)
        return 2
    repeats = 3 if args.quick else 7
    t_start = time.perf_counter()
    torch.manual_seed(0)
    model = build_model(digits_dense(0)[0]).eval()
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    floating = build_substrate("float", model)
    crossbar = build_substrate("crossbar", model, card="pcm", seed=0)

    def gradient(sub, spec):
        def run():
            xa = x.clone().requires_grad_(True)
            torch.nn.functional.cross_entropy(sub.attack_logits(xa, spec), y).backward()
        return run

    result: dict = {"benchmark": "threads", "quick": bool(args.quick), "repeats": repeats, "batch": 64,
                    "network": "dense EBM 64-512-10 (digits recipe config, untrained), card pcm for the crossbar",
                    "machine": machine(("numpy", "torch", "numba"), numba_threads_max=numba.config.NUMBA_NUM_THREADS,
                                       threading_layer=numba.config.THREADING_LAYER),
                    "defaults": {"torch_threads": DEFAULT_TORCH_THREADS, "numba_threads": DEFAULT_NUMBA_THREADS}}
    result.update(_pair("attack_gradient_float", gradient(floating, GradientSpec("full")), "torch", repeats))
    result.update(_pair("settle_float", lambda: floating.logits(x), "torch", repeats))
    result.update(_pair("settle_crossbar", lambda: crossbar.logits(x), "numba", repeats))
    crossbar_gradient = gradient(crossbar, None)
    result.update(_pair("attack_gradient_crossbar", crossbar_gradient, "torch", repeats))
    result.update(_pair("attack_gradient_crossbar", crossbar_gradient, "numba", repeats))
    result["wall_seconds"] = time.perf_counter() - t_start
    emit(result, args, summary_text(result, SUMMARY_KEYS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
