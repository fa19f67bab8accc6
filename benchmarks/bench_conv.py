"""Convolutional EBM benchmark (issue 13): the crossbar's fused conv settle against float.

    python benchmarks/bench_conv.py --json           # full run
    python benchmarks/bench_conv.py --json --quick   # same keys, a few minutes

Every timing runs on one thread (BLAS, OpenMP, torch and Numba); ratios are measured in this one
run from interleaved repeats (best times; ``*_median`` the medians). One function per key group.

Crossbar keys:

* ``conv_crossbar_settle_over_float``: time per settle step of the CIFAR-10-shape conv EBM
  (``ConvEBMConfig.cifar10()``: 128-256-512-512 channels, 32x32x3), batch 16, on the crossbar
  (fused Numba settle, PCM card 1 h after programming, 8-bit DAC and ADC) over the float
  substrate, both with a fixed budget (tol = 0) from the same random images; untrained
  (randomly initialised) weights: no CIFAR-10 training is possible here.
* ``conv_crossbar_peak_memory_mb``: the rise of the process's peak resident memory (Linux VmHWM,
  reset through /proc/self/clear_refs after a warm-up) during one fused settle of that batch
  (``conv_crossbar_torch_reads_peak_memory_mb``: the same through the torch reads path).
* ``conv_crossbar_ideal_agreement``: fraction of the digits test images (8x8) that a conv EBM
  trained here with EqProp (float) classifies the same on the ideal crossbar card as on float,
  both settled synchronously to tol 1e-5 (budget 400 steps); ``conv_crossbar_exact_agreement``
  the same with the ideal card's converters not rounding (what is left is the ADC step);
  ``conv_crossbar_ideal_fixed_range_agreement`` the ideal card with one fixed ADC range of
  512 units on every tile (``adc.range_calibration = "fixed"``, the preset before issue 13's
  fix: its 16-bit step, 1/64 of a weight, is 0.2-0.5 % of these reads' largest outputs and
  moved 3 of 360 samples to another fixed point); ``conv_ideal_adc_step_over_read_max`` per
  read (forward, backward of each matrix): the ADC step over the largest |output| the reads of
  the first 60 test images gave, with the calibrated and with the fixed range.
* ``conv_attack_grad_crossbar_over_float``: time of one attack gradient (implicit mode on both
  substrates, cross-entropy of the true labels) of that trained conv EBM on a batch of 16 test
  images, the crossbar on the PCM card of the settle key, over float.

Adjoint keys (:func:`adjoint_solver_speed`; ``--adjoint-checkpoint PATH``: only this group, on
that checkpoint's conv EBM and the first 16 test images of its dataset, its own JSON): the implicit
gradient's adjoint g = J^T g + dL/ds* at the free fixed point of the trained conv EBM (float,
batch 16, cross-entropy of the true labels) solved to the same relative tolerance 1e-6 by the
Anderson-accelerated solver (the default, memory :data:`analogeq.ebm.gradients.ADJOINT_MEMORY`) and
by the plain iteration g <- J^T g + dL/ds*:
``conv_implicit_adjoint_anderson_over_plain`` (time of the solve, interleaved repeats),
``conv_implicit_adjoint_products_anderson`` / ``_plain`` (vector-Jacobian products),
``conv_implicit_adjoint_residual_anderson`` / ``_plain`` (max |J^T g + dL/ds* - g| / max |dL/ds*|, one
more product: how well each solves the equation), ``conv_implicit_adjoint_plain_converged`` (its
residual <= 1e-5; False when the plain iteration stalled or ran all 20,000 products: where the free
phase stopped on its budget unsettled,
J can have eigenvalues outside the unit circle and the plain iteration never converges, while
Anderson still solves the linear equation), ``conv_implicit_adjoint_max_rel_diff`` (max
|g_anderson - g_plain| / max |g_plain|; a check only where the plain iteration converged) and
``conv_implicit_adjoint_plain_capped_rel_err``: the plain iteration capped at the free-phase budget
(the solver before Anderson) against the converged g; ``conv_implicit_adjoint_free_converged``: the
fraction of the 16 free phases that met the tolerance (the solve is taken where the budget ended).
With ``--adjoint-checkpoint`` also ``conv_harness_grad_seconds_float_20`` and
``conv_harness_grad_seconds_crossbar_20_eot2``: one attack gradient as the robustness harness takes it
by default (float: its default mode; the PCM card 1 h after programming: implicit, EOT K = 2 as
two copies of the 20 images in one batch), from which a suite's cost follows (its gradient count
times these); ``conv_harness_grad_seconds_crossbar_20_eot2_plain_adjoint`` the crossbar's with the
plain adjoint iteration for up to the free-phase budget of products, without the stall stop (the
solver before Anderson) and
``conv_harness_grad_crossbar_anderson_over_plain`` the ratio of the two.

CIFAR-shape agreement (``--cifar-agreement N``: only this group, its own JSON):
``conv_cifar_ideal_agreement``, the fraction of N random 32x32x3 images that the CIFAR-10-shape
conv EBM with its initial (untrained) weights classifies the same on the ideal card as on float,
both settled synchronously to tol 1e-4 (budget 1500 steps), with ``conv_cifar_ideal_max_logit_diff``
and each side's steps and residual.

Float keys (:func:`bench_conv_float.float_settle_figures`, documented there):
``conv_float_settle_over_autograd_reference`` (time to residual <= tol of the default settle, a
conv EBM trained briefly on mnist-5k, batch 8, vs the autograd-of-Phi reference iterated
synchronously to the same tol), the async variant and the per-step ratio.

mnist-5k keys (``--mnist5k``; :func:`mnist5k.mnist5k_figures`, documented there; tens of
minutes in a full run): ``mnist5k_dense_ebm_test_accuracy``, ``mnist5k_conv_ebm_test_accuracy``
with their ``*_bptt_*`` and ``*_mlp_*`` twins, ``mnist5k_conv_ebm_pcm_1day_accuracy_mean``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import copy  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from common import bench_parser, emit, interleaved_times, load_average, machine, parse_args  # noqa: E402

from bench_conv_float import float_settle_figures  # noqa: E402
from mnist5k import mnist5k_figures  # noqa: E402

import numba  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from analogeq.contract import GradientSpec  # noqa: E402
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig  # noqa: E402
from analogeq.substrates import build_substrate  # noqa: E402
from analogeq.substrates.crossbar.reads import TorchRead  # noqa: E402
from hardware_models.cards import preset, with_value  # noqa: E402

BATCH = 16
#: the PCM card of the issue's figures, with 8-bit converters
PCM_8BIT = with_value(with_value(preset("pcm"), "adc.bits", 8), "dac.bits", 8)
#: the ideal card without converter rounding
EXACT = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
#: the ideal card with one 512-unit ADC range on every tile (the preset before issue 13's fix)
IDEAL_FIXED_RANGE = with_value(preset("ideal"), "adc.range_calibration", "fixed")


def _ratios(times: dict, num: str, den: str, per: float = 1.0) -> dict:
    best = {k: min(v) / per for k, v in times.items()}
    med = {k: statistics.median(v) / per for k, v in times.items()}
    return {"best": best, "median": med, "ratio": best[num] / best[den], "ratio_median": med[num] / med[den]}


def crossbar_settle_speed(quick: bool) -> dict:
    """``conv_crossbar_settle_over_float`` and ``conv_crossbar_peak_memory_mb``."""
    steps = 3 if quick else 5
    model = ConvEBM(ConvEBMConfig.cifar10(free_steps=steps, tol=0.0)).eval()
    x = torch.rand(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    flt = build_substrate("float", model)
    xbar = build_substrate("crossbar", model, card=PCM_8BIT, drift_time_s=3600.0, seed=0)
    times = interleaved_times({"float": lambda: flt.logits(x), "crossbar": lambda: xbar.logits(x)},
                              repeats=2 if quick else 4, warmup=1)
    r = _ratios(times, "crossbar", "float", per=steps)
    out = {
        "conv_crossbar_settle_over_float": r["ratio"],
        "conv_crossbar_settle_over_float_median": r["ratio_median"],
        "conv_float_seconds_per_settle_step_b16": r["best"]["float"],
        "conv_crossbar_seconds_per_settle_step_b16": r["best"]["crossbar"],
        "conv_crossbar_backend": xbar.backend,
        "conv_settle_steps_timed": steps,
    }
    out.update(_peak_memory(xbar, x))
    return out


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_rise_mb(fn) -> float | None:
    """Rise of the peak resident memory (MiB) while ``fn`` runs: VmHWM after it minus VmRSS
    before, the peak reset first through /proc/self/clear_refs (None where that is missing)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    base = _status_kb("VmRSS")
    fn()
    peak = _status_kb("VmHWM")
    return None if base is None or peak is None else (peak - base) / 1024.0


def _peak_memory(xbar, x) -> dict:
    """Peak RSS rise during one fused settle of the batch (after the warm-up calls of the
    timing), and for comparison during one settle through the torch reads path (it holds each
    read's (B L, C k^2) patches)."""
    fused = _peak_rise_mb(lambda: xbar.logits(x))
    reads = _peak_rise_mb(lambda: xbar.settle(x, backend="torch"))
    return {"conv_crossbar_peak_memory_mb": fused,
            "conv_crossbar_torch_reads_peak_memory_mb": reads,
            "conv_crossbar_peak_memory_method": "rise of the process's peak resident memory (Linux VmHWM after the "
                                                "settle minus VmRSS before, the peak reset through "
                                                "/proc/self/clear_refs), MiB, after warm-up calls; not tracemalloc "
                                                "(it does not see Numba's or torch's allocations)"}


def _trained_digits_conv(quick: bool):
    """A small conv EBM (16-32 channels, 8x8 digits) trained with symmetric EqProp on float
    (12 epochs: 94 % test accuracy here; --quick: 4 epochs)."""
    from analogeq.data import load_digits_splits
    from analogeq.train import train
    from analogeq.train.config import TrainConfig

    splits = load_digits_splits(0)
    cfg = ConvEBMConfig(channels=(16, 32), free_steps=100, nudge_steps=40, tol=1e-4, step_size=0.5, seed=0)
    model = ConvEBM(cfg)
    train(model, splits, TrainConfig(epochs=4 if quick else 12, batch_size=32, lr=0.05, momentum=0.9, seed=0),
          progress=False)
    return model.eval(), splits


def crossbar_ideal_agreement(model, splits) -> dict:
    """``conv_crossbar_ideal_agreement``: ideal crossbar card vs float on the digits test set."""
    test = splits.test
    # evaluated settled: the synchronous schedule of the crossbar, a budget that converges
    model = copy.deepcopy(model)
    model.config = dataclasses.replace(model.config, free_steps=400, tol=1e-5, schedule="sync", per_sample_stop=False)
    flt = build_substrate("float", model)
    ideal = build_substrate("crossbar", model, card="ideal", drift_time_s=0.0, seed=0)
    exact = build_substrate("crossbar", model, card=EXACT, drift_time_s=0.0, seed=0)
    fixed = build_substrate("crossbar", model, card=IDEAL_FIXED_RANGE, drift_time_s=0.0, seed=0)
    p_float, p_ideal, p_exact = flt.predict(test.x), ideal.predict(test.x), exact.predict(test.x)
    p_fixed = fixed.predict(test.x)
    peaks = _read_peaks(exact, test.x[:60])
    return {
        "conv_crossbar_ideal_agreement": float((p_float == p_ideal).float().mean()),
        "conv_crossbar_exact_agreement": float((p_float == p_exact).float().mean()),
        "conv_crossbar_ideal_fixed_range_agreement": float((p_float == p_fixed).float().mean()),
        "conv_ideal_adc_step_over_read_max": {
            "calibrated": [float(m.adc_step.max()) / p for m, p in zip(ideal.read_models, peaks)],
            "fixed_range": [float(m.adc_step.max()) / p for m, p in zip(fixed.read_models, peaks)],
        },
        "conv_float_digits_test_accuracy": float((p_float == test.y).float().mean()),
        "conv_crossbar_ideal_digits_test_accuracy": float((p_ideal == test.y).float().mean()),
        "conv_agreement_test_images": int(test.y.numel()),
        "conv_agreement_settle": "synchronous, 400 steps, tol 1e-5 on both substrates",
    }


def _read_peaks(sub, x) -> list[float]:
    """Largest |output| of every read (index r) while ``sub`` settles ``x`` through its torch reads
    (:class:`TorchRead` watched for the duration of that one settle)."""
    peaks = [0.0] * len(sub.torch_reads)
    mine = {id(r) for r in sub.torch_reads}
    call = TorchRead.__call__

    def watched(read, rows):
        y = call(read, rows)
        if id(read) in mine:
            peaks[read.index] = max(peaks[read.index], float(y.detach().abs().max()))
        return y

    TorchRead.__call__ = watched
    try:
        sub.settle(x, backend="torch")
    finally:
        TorchRead.__call__ = call
    return [p if p > 0.0 else float("nan") for p in peaks]


def attack_gradient_speed(model, splits, quick: bool) -> dict:
    """``conv_attack_grad_crossbar_over_float``: one implicit attack gradient, same batch."""
    x, y = splits.test.x[:BATCH], splits.test.y[:BATCH]
    flt = build_substrate("float", model)
    xbar = build_substrate("crossbar", model, card=PCM_8BIT, drift_time_s=3600.0, seed=0)
    spec = GradientSpec("implicit")

    def grad(sub):
        def run():
            xr = x.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(sub.attack_logits(xr, spec), y), xr)
        return run

    times = interleaved_times({"float": grad(flt), "crossbar": grad(xbar)}, repeats=2 if quick else 5, warmup=1)
    r = _ratios(times, "crossbar", "float")
    return {
        "conv_attack_grad_crossbar_over_float": r["ratio"],
        "conv_attack_grad_crossbar_over_float_median": r["ratio_median"],
        "conv_attack_grad_float_seconds_b16": r["best"]["float"],
        "conv_attack_grad_crossbar_seconds_b16": r["best"]["crossbar"],
        "conv_attack_grad_default_on_crossbar": xbar.default_gradient.settle,
    }


def adjoint_solver_speed(model, x: torch.Tensor, y: torch.Tensor, quick: bool) -> dict:
    """The adjoint keys (module docstring): Anderson against the plain iteration, same tol."""
    from analogeq.ebm.gradients import ADJOINT_MEMORY, _flatten, _unflatten, solve_adjoint
    from analogeq.ebm.settle import settle

    cfg = model.config
    shapes = [tuple(shape) for shape in model.state_shapes]
    with torch.no_grad():
        free = settle(model, x, max_steps=cfg.free_steps, tol=cfg.tol)
    z0 = _flatten(free.states).detach().requires_grad_(True)
    with torch.enable_grad():
        f0 = _flatten(model.step(x, _unflatten(z0, shapes)))
        b = torch.autograd.grad(F.cross_entropy(model.output(_unflatten(z0, shapes)), y), z0)[0]
    products = {"anderson": 0, "plain": 0, "plain_capped": 0}
    solutions: dict = {}

    def solver(name: str, memory: int, max_iter: int):
        def vjp(g):
            products[name] += 1
            return torch.autograd.grad(f0, z0, g, retain_graph=True)[0]

        def run():
            products[name] = 0
            solutions[name] = solve_adjoint(vjp, b, max_iter=max_iter, tol=1e-6, memory=memory,
                                            stall=None if memory else max_iter)  # plain: no stall stop, as before
        return run

    cap = 20_000
    times = interleaved_times({"anderson": solver("anderson", ADJOINT_MEMORY, cap), "plain": solver("plain", 0, cap)},
                              repeats=2 if quick else 3, warmup=0)
    solver("plain_capped", 0, cfg.free_steps)()
    r = _ratios(times, "anderson", "plain")
    scale = float(solutions["plain"].abs().max())
    b_scale = float(b.abs().max())

    def residual(g):  # max |J^T g + b - g| / max |b|: how well g solves the adjoint equation
        return float((torch.autograd.grad(f0, z0, g, retain_graph=True)[0] + b - g).abs().max()) / b_scale

    residual_plain = residual(solutions["plain"])
    return {
        "conv_implicit_adjoint_residual_anderson": residual(solutions["anderson"]),
        "conv_implicit_adjoint_residual_plain": residual_plain,
        "conv_implicit_adjoint_plain_converged": residual_plain <= 1e-5,
        "conv_implicit_adjoint_anderson_over_plain": r["ratio"],
        "conv_implicit_adjoint_anderson_over_plain_median": r["ratio_median"],
        "conv_implicit_adjoint_seconds_anderson": r["best"]["anderson"],
        "conv_implicit_adjoint_seconds_plain": r["best"]["plain"],
        "conv_implicit_adjoint_products_anderson": products["anderson"],
        "conv_implicit_adjoint_products_plain": products["plain"],
        "conv_implicit_adjoint_memory": ADJOINT_MEMORY,
        "conv_implicit_adjoint_max_rel_diff": float((solutions["anderson"] - solutions["plain"]).abs().max()) / scale,
        "conv_implicit_adjoint_plain_capped_rel_err": float((solutions["plain_capped"] - solutions["plain"]).abs().max()) / scale,
        "conv_implicit_adjoint_plain_cap": cfg.free_steps,
        "conv_implicit_adjoint_free_converged": free.converged_fraction,
    }


def harness_gradient_cost(model, x: torch.Tensor, y: torch.Tensor, quick: bool) -> dict:
    """Seconds of one attack gradient as the robustness harness takes it by default on 20 test
    images: float (its default gradient) and the PCM crossbar 1 h after programming (its default,
    implicit, with EOT K = 2 of the standard suite: the 20 images twice in one batch), the latter
    also with the plain adjoint iteration (the solver before Anderson acceleration)."""
    from analogeq.ebm import gradients

    flt = build_substrate("float", model)
    xbar = build_substrate("crossbar", model, card="pcm", drift_time_s=3600.0, seed=0)

    def grad(sub, copies):
        xs, ys = x.repeat(copies, 1, 1, 1), y.repeat(copies)

        def run():
            xr = xs.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(sub.attack_logits(xr), ys), xr)
        return run

    def plain_adjoint(run):  # the solver before Anderson: the plain iteration for free_steps products
        def wrapped():
            kept = gradients.ADJOINT_MEMORY, gradients.ADJOINT_STALL
            gradients.ADJOINT_MEMORY, gradients.ADJOINT_STALL = 0, 1_000_000
            try:
                run()
            finally:
                gradients.ADJOINT_MEMORY, gradients.ADJOINT_STALL = kept
        return wrapped

    times = interleaved_times({"float": grad(flt, 1), "crossbar": grad(xbar, 2),
                               "crossbar_plain": plain_adjoint(grad(xbar, 2))}, repeats=1 if quick else 3, warmup=1)
    r = _ratios(times, "crossbar", "float")
    return {
        "conv_harness_grad_seconds_float_20": r["best"]["float"],
        "conv_harness_grad_seconds_crossbar_20_eot2": r["best"]["crossbar"],
        "conv_harness_grad_seconds_crossbar_20_eot2_plain_adjoint": r["best"]["crossbar_plain"],
        "conv_harness_grad_crossbar_anderson_over_plain": r["best"]["crossbar"] / r["best"]["crossbar_plain"],
        "conv_harness_grad_modes": {"float": flt.default_gradient.settle, "crossbar": xbar.default_gradient.settle},
    }


def cifar_ideal_agreement(n: int) -> dict:
    """``conv_cifar_ideal_agreement`` (module docstring)."""
    model = ConvEBM(ConvEBMConfig.cifar10(free_steps=1500, tol=1e-4, schedule="sync", per_sample_stop=False)).eval()
    x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    from analogeq.ebm.settle import settle

    with torch.no_grad():
        ref = settle(model, x, max_steps=1500, tol=1e-4)
        l_float = model.output(ref.states)
    ideal = build_substrate("crossbar", model, card="ideal", drift_time_s=0.0, seed=0).settle(x)
    return {
        "conv_cifar_ideal_agreement": float((l_float.argmax(1) == ideal.logits.argmax(1)).float().mean()),
        "conv_cifar_ideal_max_logit_diff": float((l_float - ideal.logits).abs().max()),
        "conv_cifar_agreement_images": n,
        "conv_cifar_float_steps": int(ref.steps), "conv_cifar_float_residual": float(ref.residual),
        "conv_cifar_ideal_steps_max": int(ideal.steps.max()), "conv_cifar_ideal_residual_max": float(ideal.residual.max()),
        "conv_cifar_agreement_settle": "synchronous, tol 1e-4, budget 1500 steps; initial weights, random images",
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="fewer steps, repeats and epochs (same keys, a few minutes)",
                          description="line")
    parser.add_argument("--mnist5k", action="store_true", help="also the mnist-5k recipe figures (benchmarks/mnist5k.py)")
    parser.add_argument("--no-float", action="store_true", help="skip the float settle figures (bench_conv_float.py)")
    parser.add_argument("--adjoint-checkpoint", default=None, metavar="PATH",
                        help="only the adjoint keys, on this checkpoint's conv EBM (its own JSON)")
    parser.add_argument("--cifar-agreement", type=int, default=0, metavar="N",
                        help="only the CIFAR-shape ideal-card agreement on N random images (its own JSON)")
    args = parse_args(parser, argv)
    t_start = time.perf_counter()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    result = {"benchmark": "conv", "quick": bool(args.quick), "threads": 1,
              "machine": machine(("numpy", "numba", "torch"), numba_threads=numba.get_num_threads(),
                                 load_average=load_average())}
    if args.adjoint_checkpoint:
        from analogeq.checkpoint import load_checkpoint
        from analogeq.data import load_dataset

        model, metadata = load_checkpoint(args.adjoint_checkpoint)
        test = load_dataset(metadata.get("dataset", "digits"), seed=int(metadata.get("split_seed", 0))).test
        result["adjoint_checkpoint"] = args.adjoint_checkpoint
        result.update(adjoint_solver_speed(model.eval(), test.x[:BATCH], test.y[:BATCH], args.quick))
        result.update(harness_gradient_cost(model.eval(), test.x[:20], test.y[:20], args.quick))
        result["load_average_end"] = load_average()
        result["wall_seconds"] = time.perf_counter() - t_start
        emit(result, args)
        return 0
    if args.cifar_agreement > 0:
        result.update(cifar_ideal_agreement(args.cifar_agreement))
        result["load_average_end"] = load_average()
        result["wall_seconds"] = time.perf_counter() - t_start
        emit(result, args)
        return 0
    result.update(crossbar_settle_speed(args.quick))
    model, splits = _trained_digits_conv(args.quick)
    result.update(crossbar_ideal_agreement(model, splits))
    result.update(attack_gradient_speed(model, splits, args.quick))
    result.update(adjoint_solver_speed(model, splits.test.x[:BATCH], splits.test.y[:BATCH], args.quick))
    if not args.no_float:
        result.update(float_settle_figures(args.quick))
    if args.mnist5k:
        result.update(mnist5k_figures(args.quick))
    result["notes"] = [
        "conv_crossbar_settle_over_float and conv_crossbar_peak_memory_mb: CIFAR-10 shape with random "
        "(untrained) weights and random images: training the CIFAR shape is not possible here",
        "conv_crossbar_ideal_agreement and conv_attack_grad_crossbar_over_float: a small conv EBM (16-32 channels) "
        "trained here on the 8x8 digits with EqProp, in place of a trained CIFAR-10-shape network",
    ]
    result["load_average_end"] = load_average()
    result["wall_seconds"] = time.perf_counter() - t_start
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
