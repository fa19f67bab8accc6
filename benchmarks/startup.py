"""Start-up figures of ``bench_substrates.py`` (issue 17 item 13): the cold start of the first
crossbar prediction and the EBM attack gradient on 1 and 2 torch threads.

* :func:`cold_start`: a fresh Python process with an empty Numba cache (``NUMBA_CACHE_DIR`` a new
  temporary folder) builds the digits recipe's network (64-512-10) on the ``pcm`` crossbar and
  predicts 64 images; ``cold_start_first_prediction_s`` is the wall time from the start of the
  process to that first prediction (imports and Numba compilation included); the second
  prediction and a second process on the now-warm cache show what compilation cost. The load
  average (1 min) before and after goes with it: on a shared machine the figure scales with it.
* :func:`attack_gradient_threads`: one PGD-style gradient (margin of ``attack_logits`` with the
  full settling gradient, backpropagated to the input) of the same network on the float
  substrate, batch 64, median of interleaved repeats on 1 and on 2 torch threads.
* :func:`cold_start_versus`: the same cold start of an older source tree (``--old-tree DIR``,
  e.g. ``git worktree add /tmp/old <commit>``) and of this one, back to back in one run, each
  process with its own empty ``NUMBA_CACHE_DIR`` and its tree first on ``sys.path``; rounds run
  old, new, then new, old (so a drift of the load falls on both). ``cold_start_old_over_new`` is
  the ratio of the medians of the wall times, ``cold_start_cpu_old_over_new`` of the processes'
  CPU times (user + system) up to the first prediction, which the machine's load moves less; ``outputs_identical`` says whether both trees' first logits have the
  same SHA-256 (the kernels' numbers are unchanged).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import interleaved_times, load_average

#: the process whose start-up is timed: prints {"import_s", "first_prediction_s", ...} as JSON
_COLD_SCRIPT = r"""
import json, os, sys, time
t0 = float(sys.argv[1])
import hashlib
import torch
import analogeq
from analogeq.models import build_model
from analogeq.substrates import build_substrate
t_import = time.time()
torch.manual_seed(0)
model = build_model({"kind": "dense_ebm", "input_shape": [64], "hidden_sizes": [512], "num_classes": 10}).eval()
x = torch.rand(64, 64)
sub = build_substrate("crossbar", model, card="pcm", seed=0)
logits = sub.logits(x)  # the first prediction (predict is its argmax)
t_first = time.time()
cpu = os.times()
sub.predict(x)
t_second = time.time()
print(json.dumps({"import_s": t_import - t0, "first_prediction_s": t_first - t0,
                  "first_prediction_cpu_s": cpu.user + cpu.system,
                  "second_prediction_s": t_second - t_first, "package": analogeq.__file__,
                  "logits_sha256": hashlib.sha256(logits.detach().numpy().tobytes()).hexdigest()}))
"""


def _timed_process(cache_dir: str, timeout_s: float, tree: str | None = None) -> dict:
    """Run :data:`_COLD_SCRIPT` in a new process (in ``tree``, first on ``sys.path``, when given)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    start = time.time()
    out = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, repr(start)], env=env, capture_output=True,
                         text=True, timeout=timeout_s, check=True, cwd=tree)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if tree is not None and not os.path.realpath(result["package"]).startswith(os.path.realpath(tree) + os.sep):
        raise RuntimeError(f"the process imported {result['package']!r}, not the tree {tree!r}")
    return result


def cold_start(timeout_s: float = 1800.0) -> dict:
    """Cold (empty Numba cache) and warm start of the first crossbar prediction, in new processes."""
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
        load_before = load_average()
        cold = _timed_process(cache, timeout_s)
        load_after = load_average()
        warm = _timed_process(cache, timeout_s)
    return {
        "cold_start_first_prediction_s": cold["first_prediction_s"],
        "cold_start": {"cold": cold, "warm_cache": warm,
                       "compile_s": cold["first_prediction_s"] - warm["first_prediction_s"],
                       "load_average_before": load_before, "load_average_after": load_after,
                       "network": "dense EBM 64-512-10 (untrained), card pcm, batch 64"},
    }


def cold_start_versus(old_tree: str, rounds: int = 2, timeout_s: float = 1800.0) -> dict:
    """Cold starts of ``old_tree`` and of this tree, back to back, each process with its own empty
    Numba cache: rounds alternate old-new and new-old. Returns ``cold_start_old_s`` and
    ``cold_start_new_s`` (medians), ``cold_start_old_over_new`` and every run with its load."""
    new_tree = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for k in range(rounds):
        for which in (("old", "new") if k % 2 == 0 else ("new", "old")):
            with tempfile.TemporaryDirectory(prefix=f"numba-cold-{which}-") as cache:
                load_before = load_average()
                run = _timed_process(cache, timeout_s, old_tree if which == "old" else new_tree)
                runs[which].append({**run, "load_average_before": load_before, "load_average_after": load_average()})
    med = {w: statistics.median(r["first_prediction_s"] for r in rs) for w, rs in runs.items()}
    cpu = {w: statistics.median(r["first_prediction_cpu_s"] for r in rs) for w, rs in runs.items()}
    digests = {r["logits_sha256"] for rs in runs.values() for r in rs}
    return {
        "cold_start_old_s": med["old"], "cold_start_new_s": med["new"],
        "cold_start_old_over_new": med["old"] / med["new"],
        "cold_start_cpu_old_s": cpu["old"], "cold_start_cpu_new_s": cpu["new"],
        "cold_start_cpu_old_over_new": cpu["old"] / cpu["new"],
        "outputs_identical": len(digests) == 1,
        "cold_start_versus": {"old_tree": os.path.abspath(old_tree), "new_tree": new_tree, "rounds": rounds,
                              "runs": runs, "network": "dense EBM 64-512-10 (untrained), card pcm, batch 64"},
    }


def attack_gradient_threads(repeats: int = 7) -> dict:
    """Median time of one EBM attack gradient on 1 vs 2 torch threads (interleaved)."""
    import torch

    from analogeq.contract import GradientSpec
    from analogeq.models import build_model
    from analogeq.substrates import build_substrate

    torch.manual_seed(0)
    model = build_model({"kind": "dense_ebm", "input_shape": [64], "hidden_sizes": [512], "num_classes": 10}).eval()
    sub = build_substrate("float", model)
    x, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    before = torch.get_num_threads()

    def gradient(threads: int):
        def run():
            torch.set_num_threads(threads)
            xa = x.clone().requires_grad_(True)
            logits = sub.attack_logits(xa, GradientSpec("full"))
            torch.nn.functional.cross_entropy(logits, y).backward()
        return run

    try:
        times = interleaved_times({"1": gradient(1), "2": gradient(2)}, repeats, warmup=1)
    finally:
        torch.set_num_threads(before)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    return {
        "attack_gradient_1_thread_s": med["1"],
        "attack_gradient_2_threads_s": med["2"],
        "attack_gradient_2_over_1_threads": med["2"] / med["1"],
        "attack_gradient_threads": {"batch": 64, "network": "dense EBM 64-512-10, float substrate, full settling gradient",
                                    "repeats": repeats, "load_average": load_average()},
    }
