"""Benchmark: the float convolutional EBM's free phase, time to the reference's fixed point (issue 13, item 4).

    python benchmarks/bench_conv_float.py --json            # trained net, 8 test batches; CIFAR shape, 2 batches
    python benchmarks/bench_conv_float.py --json --quick    # shorter training, fewer batches (a few minutes)

All sides settle the same batch of 8 images on 1 torch thread to the same tolerance (the
model's ``tol``, 1e-4), from s = 0, with the same weights:

* reference: Laborieux et al.'s step -- autograd of the primitive Phi, then the clamp
  (:func:`analogeq.ebm.schedules.autograd_step`) -- synchronous at the model's ``step_size``
  (0.5; the undamped synchronous step oscillates), until every sample's residual is <= tol;
* default ("fast"): :func:`analogeq.ebm.settle.settle` as the config says (``schedule="sync"``,
  ``per_sample_stop=True``): the same synchronous map with the first layer's drive read once and
  each sample frozen and dropped from the batch once its own residual is <= tol (every sample
  follows the reference's trajectory until it stops);
* async: ``schedule="async"``, undamped even/odd sweeps, with per-sample stopping. At eps = 1
  its residual |rho(h) - s| is the stationarity itself, twice as strict as the reference's
  eps |rho(h) - s| at eps = 0.5; but it may settle in another fixed point (distance and
  agreement keys).

Keys (``_cifar_shape`` next to each, see below):

* ``conv_float_settle_over_autograd_reference``: default time over reference time, summed over
  the test batches, for the ``mnist5k_conv`` recipe (16-32 channels, 5x5 kernels, ce readout)
  trained briefly with symmetric EqProp on mnist-5k (real 28x28 digits). Target <= 0.5.
* ``conv_float_async_settle_over_autograd_reference``: the same with the async schedule.
* ``conv_float_step_over_autograd_step``: one synchronous sweep (whole batch, drive read once)
  over one autograd step: the per-step ratio, no algorithmic gain in it.
* ``conv_float_reference_steps_mean``, ``conv_float_fast_sweeps_mean`` (per batch: the slowest
  sample), ``conv_float_fast_sample_sweeps_mean`` (per sample), ``conv_float_async_sweeps_mean``.
* ``conv_float_fixed_point_distance`` / ``conv_float_async_fixed_point_distance``: max
  |s - s_ref| over states; next to them ``conv_float_reference_error``: max |s_ref - s*| with s*
  settled to 1e-7 (the reference's own distance to the fixed point; not at the CIFAR shape), and
  ``conv_float_prediction_agreement`` / ``conv_float_async_prediction_agreement`` (vs reference).
* ``_cifar_shape``: ``ConvEBMConfig.cifar10()`` (128-256-512-512 channels, 32x32x3) with its
  initial weights on random images (training it here would take hours). ``--quick`` measures
  only its per-step ratio (a reference settle to 1e-4 takes about 860 steps, minutes). Random
  strong couplings give such a net several fixed points, and the async schedule settles in
  another one than the synchronous reference for about half the images.
* ``conv_mnist5k_val_accuracy``: the briefly trained net's validation accuracy.
"""

from __future__ import annotations

import statistics
import sys
import time

# common first: it imports hardware_models, which sets the OpenMP wait policy before torch loads
from common import bench_parser, emit, interleaved_times, load_average, machine, parse_args

import torch

from analogeq.data.datasets import load_dataset
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.schedules import Sweeper, autograd_step
from analogeq.ebm.settle import _sample_residual, settle
from analogeq.models import build_model
from analogeq.train import train
from analogeq.train.recipes import recipe

BATCH = 8


def reference_settle(model, x: torch.Tensor, max_steps: int, tol: float) -> tuple[list[torch.Tensor], int]:
    """Autograd-of-Phi synchronous steps from s = 0 until the batch's max residual is <= tol."""
    s = model.init_states(x)
    for t in range(max_steps):
        new = autograd_step(model, x, s)
        residual = float(_sample_residual(new, s).max())
        s = new
        if residual <= tol:
            return s, t + 1
    return s, max_steps


def _dist(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a, b))


def _compare(model, batches: list[torch.Tensor], max_steps: int, repeats: int, exact: bool, to_tol: bool = True) -> dict:
    """Timings and fixed-point checks of the reference vs the default (``model.config``: sync with
    per-sample stopping) and async settles on each batch (``exact``: also the reference's distance
    to the fixed point settled to 1e-7; ``to_tol=False``: the per-step ratio only)."""
    tol = float(model.config.tol)
    out = {"ref_s": 0.0, "fast_s": 0.0, "async_s": 0.0, "step_ratio": [], "ref_steps": [], "fast_steps": [],
           "fast_sample_steps": [], "async_steps": [], "dist": 0.0, "async_dist": 0.0, "ref_err": 0.0 if exact else None,
           "agree": [], "async_agree": [], "converged": True}
    with torch.no_grad():
        for x in batches:
            s0 = [torch.rand_like(t) for t in model.init_states(x)]
            sweeper = Sweeper(model, x, "sync")
            step_times = interleaved_times({"ref": lambda: autograd_step(model, x, s0), "fast": lambda: sweeper.sweep(s0)},
                                           repeats=5, warmup=1)
            out["step_ratio"].append(statistics.median(step_times["fast"]) / statistics.median(step_times["ref"]))
            if not to_tol:
                continue
            runs = {}
            fns = {"ref": lambda: runs.__setitem__("ref", reference_settle(model, x, max_steps, tol)),
                   "fast": lambda: runs.__setitem__("fast", settle(model, x, max_steps=max_steps, tol=tol)),
                   "async": lambda: runs.__setitem__("async", settle(model, x, max_steps=max_steps, tol=tol,
                                                                     schedule="async", per_sample=True))}
            times = interleaved_times(fns, repeats=repeats, warmup=0)
            for name in fns:
                out[f"{name}_s"] += statistics.median(times[name])
            ref_states, ref_steps = runs["ref"]
            ref_pred = model.output(ref_states).argmax(1)
            out["ref_steps"].append(ref_steps)
            out["fast_steps"].append(runs["fast"].steps)
            out["fast_sample_steps"].extend(runs["fast"].sample_steps.tolist())
            out["async_steps"].append(runs["async"].steps)
            out["converged"] = out["converged"] and ref_steps < max_steps and runs["fast"].converged
            for name, key in (("fast", ""), ("async", "async_")):
                out[f"{key}dist"] = max(out[f"{key}dist"], _dist(runs[name].states, ref_states))
                out[f"{key}agree"].extend((model.output(runs[name].states).argmax(1) == ref_pred).tolist())
            if exact:
                s_star = settle(model, x, max_steps=20 * max_steps, tol=1e-7, schedule="sync", per_sample=True).states
                out["ref_err"] = max(out["ref_err"], _dist(ref_states, s_star))
    return out


def _keys(c: dict, suffix: str) -> dict:
    out = {f"conv_float_step_over_autograd_step{suffix}": statistics.median(c["step_ratio"])}
    if not c["ref_steps"]:
        return out
    mean = statistics.mean
    return {
        f"conv_float_settle_over_autograd_reference{suffix}": c["fast_s"] / c["ref_s"],
        **out,
        f"conv_float_async_settle_over_autograd_reference{suffix}": c["async_s"] / c["ref_s"],
        f"conv_float_reference_seconds{suffix}": c["ref_s"],
        f"conv_float_fast_seconds{suffix}": c["fast_s"],
        f"conv_float_reference_steps_mean{suffix}": mean(c["ref_steps"]),
        f"conv_float_fast_sweeps_mean{suffix}": mean(c["fast_steps"]),
        f"conv_float_fast_sample_sweeps_mean{suffix}": mean(c["fast_sample_steps"]),
        f"conv_float_async_sweeps_mean{suffix}": mean(c["async_steps"]),
        f"conv_float_fixed_point_distance{suffix}": c["dist"],
        f"conv_float_async_fixed_point_distance{suffix}": c["async_dist"],
        f"conv_float_reference_error{suffix}": c["ref_err"],
        f"conv_float_prediction_agreement{suffix}": mean(c["agree"]),
        f"conv_float_async_prediction_agreement{suffix}": mean(c["async_agree"]),
        f"conv_float_all_converged{suffix}": c["converged"],
    }


def trained_mnist5k_conv(quick: bool) -> tuple[ConvEBM, float, dict]:
    """The ``mnist5k_conv`` recipe trained briefly (quick: 2 epochs on 1,000 images; else 4 epochs
    on the 3,500 of the train split) with the default settle."""
    splits = load_dataset("mnist-5k")
    n_train, epochs = (1000, 2) if quick else (3500, 4)
    model_cfg, train_cfg = recipe("mnist5k_conv", epochs=epochs)
    model = build_model(model_cfg)
    t0 = time.perf_counter()
    history = train(model, splits.subset(n_train=n_train, n_val=500), train_cfg, progress=False)
    info = {"model": model_cfg, "train": train_cfg.to_dict(), "n_train": n_train, "seconds": time.perf_counter() - t0}
    return model.eval(), float(history["final_val_accuracy"]), info


def float_settle_figures(quick: bool) -> dict:
    """Every key of the module docstring, measured in one run on 1 torch thread."""
    torch.set_num_threads(1)
    before = load_average()
    model, val_acc, info = trained_mnist5k_conv(quick)
    test = load_dataset("mnist-5k").test
    n_batches = 3 if quick else 8
    batches = [test.x[i * BATCH:(i + 1) * BATCH] for i in range(n_batches)]
    result = {**_keys(_compare(model, batches, max_steps=1000, repeats=1 if quick else 3, exact=True), ""),
              "conv_mnist5k_val_accuracy": val_acc}
    cifar = ConvEBM(ConvEBMConfig.cifar10()).eval()
    gen = torch.Generator().manual_seed(0)
    n_cifar = 1 if quick else 2
    cifar_batches = [torch.rand(BATCH, 3, 32, 32, generator=gen) for _ in range(n_cifar)]
    # quick: the per-step ratio only (one reference settle to 1e-4 takes ~860 steps, minutes)
    result.update(_keys(_compare(cifar, cifar_batches, max_steps=2000, repeats=1, exact=False, to_tol=not quick),
                        "_cifar_shape"))
    result.update(batch=BATCH, tol=float(model.config.tol), quick=quick, recipe=info,
                  machine=machine(("torch",), threads=1, load_before=before, load_after=load_average()))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="2 training epochs on 1,000 images, 3 test batches, CIFAR shape per step only", description="line")
    args = parse_args(parser, argv)
    result = float_settle_figures(args.quick)
    keys = [k for k in result if k.startswith("conv_")]
    emit(result, args, "\n".join(f"{k}: {result[k]}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
