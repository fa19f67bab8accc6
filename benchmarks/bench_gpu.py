"""Benchmark: the CIFAR-10-shape convolutional EBM on a CUDA GPU (run by ``benchmarks/gpu.sh``).

    python benchmarks/bench_gpu.py --json                 # on a machine with an NVIDIA GPU
    python benchmarks/bench_gpu.py --json --quick         # small batch, few steps (also runs on CPU)
    python benchmarks/bench_gpu.py --json --device cpu    # the same figures on the CPU, for comparison

Prints ONE JSON object. Keys (issue 13 contract):

* ``device``: the torch device measured, with ``gpu_name`` and ``cuda_version`` when it is CUDA;
* ``cpu_cuda_float_logits_max_abs_diff`` / ``cpu_cuda_crossbar_read_max_abs_diff``: the largest
  absolute difference between CPU and CUDA, float logits of a small conv EBM and one crossbar
  read on the ideal card (null without CUDA); ``agreement_ok``: both under 1e-4;
* ``float_settle_images_per_s``: images per second of the free phase of
  ``ConvEBMConfig.cifar10()`` (128-256-512-512 channels, 32x32x3) run for ``settle_steps`` steps
  at ``batch`` (128; tol 0 so every step runs), random weights and images;
* ``crossbar_settle_images_per_s``: the same through the crossbar substrate (PCM card 1 h after
  programming, torch reads path);
* ``eqprop_step_s``: one EqProp training step (free phase + two nudged phases + gradients +
  SGD update) of the same network at ``batch``, symmetric nudging, ``settle_steps`` free steps.

Times are medians over ``repeats`` after one warm-up call, with ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import bench_parser, emit, machine, parse_args  # first: sets OMP_WAIT_POLICY before torch loads

import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates import build_substrate
from analogeq.train.eqprop import eqprop_gradients


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up (kernels, allocator)
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def agreement() -> dict:
    """CPU vs CUDA on a small conv EBM: float logits and one ideal-card crossbar read."""
    if not torch.cuda.is_available():
        return {"cpu_cuda_float_logits_max_abs_diff": None, "cpu_cuda_crossbar_read_max_abs_diff": None,
                "agreement_ok": None, "agreement_note": "no CUDA device: not measured"}
    cfg = ConvEBMConfig(input_shape=(3, 8, 8), channels=(4, 8), free_steps=30, tol=0.0, seed=1)
    model = ConvEBM(cfg).eval()
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    diffs = {}
    for kind, name in (("float", "cpu_cuda_float_logits_max_abs_diff"), ("crossbar", "cpu_cuda_crossbar_read_max_abs_diff")):
        opts = {"card": "ideal", "seed": 0} if kind == "crossbar" else {}
        cpu = build_substrate(kind, model, device="cpu", **opts).logits(x)
        gpu = build_substrate(kind, model, device="cuda", **opts).logits(x.cuda()).cpu()
        diffs[name] = float((cpu - gpu).abs().max())
    diffs["agreement_ok"] = all(v <= 1e-4 for v in diffs.values())
    return diffs


def throughput(device: torch.device, batch: int, steps: int, repeats: int) -> dict:
    cfg = ConvEBMConfig.cifar10(free_steps=steps, nudge_steps=max(1, steps // 8), tol=0.0)
    model = ConvEBM(cfg).to(device)
    x = torch.rand(batch, *cfg.input_shape, generator=torch.Generator().manual_seed(0)).to(device)
    y = torch.randint(0, cfg.num_classes, (batch,), generator=torch.Generator().manual_seed(1)).to(device)
    out: dict = {}
    for kind, key in (("float", "float_settle_images_per_s"), ("crossbar", "crossbar_settle_images_per_s")):
        opts = {"card": "pcm", "drift_time_s": 3600.0, "seed": 0} if kind == "crossbar" else {}
        sub = build_substrate(kind, model, device=str(device), **opts)
        out[key] = batch / _median_time(lambda: sub.logits(x), device, repeats)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        eqprop_gradients(model, x, y, beta=0.5, nudging="symmetric")
        opt.step()

    out["eqprop_step_s"] = _median_time(step, device, repeats)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="batch 8, 3 settle steps, 1 repeat (also on a CPU)", description="line")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 128; 8 with --quick)")
    args = parse_args(parser, argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    batch = args.batch or (8 if args.quick else 128)
    steps, repeats = (3, 1) if args.quick else (20, 3)
    result = {"device": str(device), "batch": batch, "settle_steps": steps, "repeats": repeats, "quick": args.quick,
              "machine": machine(("torch", "numpy", "numba"))}
    if device.type == "cuda":
        result.update(gpu_name=torch.cuda.get_device_name(device), cuda_version=torch.version.cuda)
    result.update(agreement())
    result.update(throughput(device, batch, steps, repeats))
    if device.type == "cuda":
        result["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    emit(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
