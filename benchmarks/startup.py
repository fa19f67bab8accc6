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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from common import interleaved_times, load_average

#: the process whose start-up is timed: prints {"import_s", "first_prediction_s", ...} as JSON
_COLD_SCRIPT = r"""
import json, sys, time
t0 = float(sys.argv[1])
import torch
from analogeq.models import build_model
from analogeq.substrates import build_substrate
t_import = time.time()
torch.manual_seed(0)
model = build_model({"kind": "dense_ebm", "input_shape": [64], "hidden_sizes": [512], "num_classes": 10}).eval()
x = torch.rand(64, 64)
sub = build_substrate("crossbar", model, card="pcm", seed=0)
sub.predict(x)
t_first = time.time()
sub.predict(x)
t_second = time.time()
print(json.dumps({"import_s": t_import - t0, "first_prediction_s": t_first - t0,
                  "second_prediction_s": t_second - t_first}))
"""


def _timed_process(cache_dir: str, timeout_s: float) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.time()
    out = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, repr(start)], env=env, capture_output=True,
                         text=True, timeout=timeout_s, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
