"""Robustness benchmark: the default digits EBM on every substrate that exists, one harness.

    python benchmarks/bench_robustness.py --json            # the default (standard) suite, 100 test images
    python benchmarks/bench_robustness.py --json --suite quick --n-examples 40   # the smoke-test suite
    python benchmarks/bench_robustness.py --json --quick    # same keys, small budgets (see QUICK_BENCH)
    python benchmarks/bench_robustness.py --json --suite full --checkpoint ebm.safetensors

The network is the core's digits recipe (:func:`analogeq.train.recipes.digits_dense`: dense EBM
64-512-10, squared-error output layer in the energy, symmetric EqProp; 30 epochs, 8 with
``--quick`` as in bench_eqprop), or ``--checkpoint``. Each registered substrate kind (``float``,
``crossbar``, ``spiking``; kinds not registered are skipped) runs
:func:`analogeq.robustness.evaluate.evaluate_robustness` on the same test images; hardware
substrates get the float substrate as the transfer source. ``--card-crossbar`` /
``--card-spiking`` pick their cards (file or preset; default: the builder's default card).

``--quick`` uses :data:`QUICK_BENCH` (one eps per norm, PGD 5 steps, Square 50 queries, EOT 2
and 2 draws on stochastic substrates, 3 corruption types at severity 3, 3 certified examples
with n = 100) on 20 images, and runs the gradient-mode comparison on float only
(``QUICK_BENCH_HARDWARE``): one attack gradient of the crossbar substrate costs about 4x float
(and much more on a loaded machine), one forward pass of the spiking substrate 10-300x, so these
are figures of the pipeline, not robustness numbers. Use the default (or ``--suite full``) for
the RESULTS table.

Keys per substrate (issue 6 contract; accuracies are fractions in [0, 1] at the suite's
headline eps, L_inf 0.1 and L2 1.0 on pixels in [0, 1]):

* ``clean``, ``pgd_linf``, ``pgd_l2`` (cross-entropy PGD at the suite's budget, step 2.5 eps / steps:
  in L_inf 20 steps, the seed study's attack; in L2 the ``standard`` suite's 50 steps x 2 restarts), ``pgd_margin_linf`` (the same with the margin loss), ``square`` (L_inf),
  ``transfer`` (L_inf, hardware only: null on float), ``worst_case_linf`` (per example, the
  worst of all L_inf attacks);
* ``corruptions_mean``: mean accuracy over the 19 CIFAR-10-C corruptions x 5 severities;
* ``certified_at_r``: randomized-smoothing certified accuracy ``{"0.25": .., "0.5": ..}``;
* ``sanity_gates_passed`` (bool), ``sanity_gates_failed`` (names) and ``sanity_gates`` (every
  gate with its detail: which examples only the black box broke, ...);
* ``square_l2``, ``pgd_margin_l2``, ``worst_case_l2``: the L2 counterparts; ``pgd_nearest_l2``
  (NearestClassPGD at the headline L2 eps, null when the suite does not run it);
  ``accuracy_by_attack`` (``"<attack>@<eps>"`` -> accuracy, every attack the suite ran);
* ``wall_time_per_100_images_s``: seconds per 100 images of every attack (``<attack>@<eps>``)
  and of corruptions / certification / detection / energy;
* ``wall_time_ratio_to_float``: the same divided by the float substrate's (this run);
* ``pgd_linf_full_backprop``, ``pgd_linf_truncated`` (the seed study's 30-step truncation),
  ``pgd_linf_truncated_5``, ``pgd_linf_implicit``: PGD L_inf at the headline eps with each
  gradient mode, and ``full_at_least_as_strong`` (full accuracy <= truncated accuracy + CI);
* ``stochastic``, ``eot_samples``, ``draws``; ``ci95`` of each headline figure (null when the
  substrate is deterministic).

A substrate whose build fails is ``{"skipped": reason}``, one whose evaluation raises is
``{"error": message}`` (and the exit status is 1); the others are still reported.

Issue 15 keys: ``l2_quick_minus_full_worst_case`` in the ``float`` and ``crossbar`` entries (this
run's L2 worst case minus ``full_l2_worst_case``, the per-example worst case at the headline L2 eps
of this run's attacks together with the full suite's L2 attacks, which run only on the
``full_l2_examples_attacked`` examples this run left correct in some draw: per example at most the
full suite's own worst case, so the difference is at least "this run minus the full suite": when
it meets the target, so does that; with ``--quick`` the full suite at :data:`FULL_L2_QUICK`
budgets; null for the kinds named by ``--no-full-l2``),
``smoke_test`` per entry; top level ``targeted_gate_catches_weak_budget`` (the
``targeted_vs_untargeted_l2`` gate fails on :data:`WEAK_TARGETED` on the float substrate, with
``targeted_gate_weak_budget_detail``) and ``batch_independent_predictions`` (kind -> bool:
``predict(x[i:i+1]) == predict(x)[i]`` on the first 20 images, reseeded before every call).

Top level: ``machine``, ``config`` (suite, examples, seeds, network, training accuracy) and
``seed_study_cifar10`` (the reference table from ANCHORS.md, for the RESULTS table).
"""

from __future__ import annotations

import logging
import os
import sys
import time

# common first: it sets OMP_WAIT_POLICY=PASSIVE (analogeq.threads) before torch and
# Numba load their OpenMP runtimes. Numba's OpenMP threads (crossbar kernels) otherwise spin after
# each parallel region and starve torch's elementwise ops in the same process: measured here, a
# crossbar attack gradient took 20-30x longer after one Numba read than before it.
from common import bench_parser, emit, machine, parse_args

import torch

from analogeq.checkpoint import load_checkpoint
from analogeq.contract import GradientSpec
from analogeq.commands.robustness import build_for, train_default_ebm
from analogeq.data import load_dataset
from analogeq.report.robustness import compare_markdown
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.plan import plan_attacks
from analogeq.robustness.runner import Evaluator
from analogeq.robustness.suite import DEFAULT_SUITE, FULL, SUITES, get_suite
from analogeq.substrates import substrate_kinds

# the seed study's CIFAR-10 figures (arXiv 2401.11543, released results, approximate; ANCHORS.md)
SEED_STUDY_CIFAR10 = {
    "eqprop_cnn": {"clean": 88.1, "pgd_linf_8_255": 12.0, "autoattack_8_255": 8.0, "square_8_255": 47.0, "cifar10c_mean": 76.1},
    "standard_cnn": {"clean": 88.9, "pgd_linf_8_255": 7.2, "autoattack_8_255": 4.0, "square_8_255": 13.5},
    "cnn_adv_trained_l2_0.5": {"clean": 83.9, "pgd_linf_8_255": 26.7, "autoattack_8_255": 24.0, "square_8_255": 53.0,
                               "cifar10c_mean": 76.6},
    "vit_patch4": {"clean": 85.6, "pgd_linf_8_255": 16.1, "autoattack_8_255": 6.9, "square_8_255": 13.1},
}


#: the --quick budgets (see the module docstring)
QUICK_BENCH = get_suite("quick").replace(
    name="bench-quick", linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=5, square_queries=50,
    convergence_steps=10, convergence_restarts=1, eot_samples=2, draws=2, truncated_steps=(5, 30),
    corruption_names=("gaussian_noise", "fog", "contrast"), corruption_severities=(3,), corruption_examples=20,
    certify_examples=3, certify_n=100, certify_n0=20,
)
QUICK_BENCH_HARDWARE = QUICK_BENCH.replace(name="bench-quick-hardware", gradient_modes=False)
#: the full suite's L2 attacks at the headline eps, at --quick budgets
FULL_L2_QUICK = FULL.replace(name="full-l2-quick", pgd_steps=10, pgd_restarts=2, apgd_steps=20, targeted_steps=20,
                             cw_steps=20, cw_search_steps=3, square_queries=100)
#: a deliberately weak budget: PGD 5 steps (L2 at eps 1.0) and APGD-T 9 targets x 20 steps
WEAK_TARGETED = get_suite("quick").replace(
    name="weak", linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=5, fgsm=False, margin_pgd=False, square_queries=0,
    transfer=False, convergence_steps=0, gradient_modes=False, apgd_targets=9, targeted_steps=20, eot_samples=2,
    draws=2)
#: images of the batch-independence check
BATCH_CHECK_IMAGES = 20


def robustness_machine(threads: int) -> dict:
    return machine(("torch", "numpy"), torch_threads=threads, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))


def substrate_entry(result: dict, float_timings: dict | None) -> dict:
    s = result["summary"]
    attacks = result["attacks"]
    headline = str(float(s["headline_linf_eps"]))

    def ci(key):
        return attacks.get(key, {}).get(headline, {}).get("ci95")

    entry = {
        "clean": s["clean"],
        "pgd_linf": s["pgd_linf"],
        "pgd_l2": s["pgd_l2"],
        "square": s["square"],
        "pgd_margin_linf": s.get("pgd_margin_linf"),
        "transfer": s.get("transfer"),
        "worst_case_linf": s.get("worst_case_linf"),
        "corruptions_mean": s.get("corruptions_mean"),
        "certified_at_r": s.get("certified_at_r"),
        "sanity_gates_passed": result["sanity_gates_passed"],
        "sanity_gates_failed": [name for name, g in result["gates"].items() if not g["passed"]],
        "sanity_gates": result["gates"],
        "square_l2": s.get("square_l2"),
        "pgd_margin_l2": s.get("pgd_margin_l2"),
        "worst_case_l2": s.get("worst_case_l2"),
        "ci95": {"clean": result["clean"]["ci95"], "pgd_linf": ci("pgd_linf"), "square": ci("square_linf"),
                 "transfer": ci("transfer_linf")},
        "stochastic": result["stochastic"]["detected"] or result["stochastic"]["declared"],
        "eot_samples": result["stochastic"]["eot_samples"],
        "draws": result["stochastic"]["draws"],
        "wall_time_per_100_images_s": result["wall_time_per_100_images_s"],
        "wall_time_s": result["wall_time_s"],
        "detection_rate": {k: v["detection_rate"] for k, v in result["detection"].get("attacks", {}).items()},
        "energy_gap": {k: v["mean_gap"] for k, v in result["energy"].get("attacks", {}).items()},
        "headline_linf_eps": s["headline_linf_eps"],
        "headline_l2_eps": s["headline_l2_eps"],
        "pgd_linf_by_eps": {e: v["accuracy"] for e, v in attacks["pgd_linf"].items()},
        "pgd_l2_by_eps": {e: v["accuracy"] for e, v in attacks["pgd_l2"].items()},
        "pgd_nearest_l2": s.get("pgd_nearest_l2"),
        "accuracy_by_attack": {f"{name}@{e}": v["accuracy"] for name, by_eps in attacks.items()
                               for e, v in by_eps.items() if isinstance(v, dict) and "accuracy" in v},
    }
    if float_timings is not None:
        entry["wall_time_ratio_to_float"] = {
            k: v / float_timings[k] for k, v in result["wall_time_per_100_images_s"].items()
            if k in float_timings and float_timings[k] > 0
        }
    modes = (result.get("gradient_modes") or {}).get("modes") or {}
    for name, key in (("full", "pgd_linf_full_backprop"), ("truncated_30", "pgd_linf_truncated"),
                      ("truncated_5", "pgd_linf_truncated_5"), ("implicit", "pgd_linf_implicit")):
        entry[key] = modes.get(name, {}).get("accuracy")
    stronger = (result.get("gradient_modes") or {}).get("full_at_least_as_strong") or {}
    entry["full_at_least_as_strong"] = stronger.get("truncated_30")
    entry["full_at_least_as_strong_by_truncation"] = stronger
    if modes.get("full") and modes.get("truncated_30"):
        entry["truncated_time_ratio_to_full"] = (modes["truncated_30"]["wall_time_s"] / modes["full"]["wall_time_s"])
    return entry


def full_l2_worst_case(substrate, x, y, suite, result: dict, seed: int, reference=None) -> dict:
    """The L2 worst case at the headline eps of this run's attacks together with the L2 attacks of
    ``suite`` (the full suite), which run only on the examples this run left correct in some draw
    (an example every draw already lost cannot be lost more), with the EOT samples and draws
    ``result`` used; robust rates via the harness runner.

    Returns ``{"worst_case": mean over all examples of, per example, the lower of this run's
    worst robust rate and the full suite's, "examples_attacked": how many the full suite ran on}``.
    Per example this is at most the full suite's own worst case, so this run's worst case minus it
    (``l2_quick_minus_full_worst_case``) is at least "this run minus the full suite": a bound of
    the figure the target caps, at the cost of the full suite on the survivors only."""
    own = torch.tensor(result["per_example_worst_case"]["l2"], dtype=torch.float32)
    survivors = torch.nonzero(own > 0).flatten()
    if survivors.numel() == 0:
        return {"worst_case": float(own.mean()), "examples_attacked": 0}
    ev = Evaluator(substrate, x[survivors], y[survivors], suite, seed, GradientSpec(), 512, reference)
    ev.eot, ev.draws = result["stochastic"]["eot_samples"], result["stochastic"]["draws"]
    plan = plan_attacks(suite, substrate.num_classes, reference is not None)
    eps = suite.headline_l2_eps
    clean_preds = ev.predictions(ev.x, "clean/draws")
    rates: dict = {}
    for run in plan.attacks:
        if run.norm != "l2" or (run.eps is not None and run.eps != eps):
            continue
        if run.eps is None:
            ev.unbounded_entry(run, clean_preds, (eps,), rates)
        else:
            _, rates[(run.name, eps)], _ = ev.attack_entry(run)
    full = torch.stack(list(rates.values())).min(dim=0).values.float().cpu()
    both = own.clone()
    both[survivors] = torch.minimum(own[survivors], full)
    return {"worst_case": float(both.mean()), "examples_attacked": int(survivors.numel())}


def targeted_gate_catches_weak_budget(substrate, x, y, seed: int) -> dict:
    """The targeted gate on :data:`WEAK_TARGETED`: true when it fails (it catches the budget)."""
    result = evaluate_robustness(substrate, x, y, suite=WEAK_TARGETED, seed=seed, extras=False)
    gate = result["gates"]["targeted_vs_untargeted_l2"]
    return {"caught": not gate["passed"], "detail": gate["detail"]}


@torch.no_grad()
def batch_independent(substrate, x, seed: int) -> bool:
    """predict(x[i:i+1]) == predict(x)[i] for every i of the first BATCH_CHECK_IMAGES images
    (the substrate reseeded with ``seed`` before every call)."""
    x = x[:BATCH_CHECK_IMAGES]
    substrate.reseed(seed)
    together = substrate.predict(x).cpu()
    alone = []
    for i in range(x.shape[0]):
        substrate.reseed(seed)
        alone.append(substrate.predict(x[i:i + 1]).cpu())
    return bool(torch.equal(torch.cat(alone), together))


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="20 images and smaller budgets (QUICK_BENCH; same keys)", seed=True,
                          threads_help="torch threads (default 1: small models, shared machine)")
    parser.add_argument("--suite", choices=tuple(SUITES), default=DEFAULT_SUITE,
                        help=f"attack suite (default {DEFAULT_SUITE!r}: the one a user meets first)")
    parser.add_argument("--card-crossbar", default=None, help="crossbar card (file or preset)")
    parser.add_argument("--card-spiking", default=None, help="spiking card (file or preset)")
    parser.add_argument("--kinds", nargs="*", default=None, help="substrate kinds to run (default: every registered one)")
    parser.add_argument("--checkpoint", default=None, help="evaluate this checkpoint instead of training the recipe")
    parser.add_argument("--n-examples", type=int, default=None, help="test images (default 100, quick 20)")
    parser.add_argument("--no-full-l2", nargs="*", default=[], metavar="KIND",
                        help="kinds whose full-suite L2 comparison is skipped (its keys are null): on the crossbar it "
                             "costs about 3,400 EOT gradient steps")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each attack's progress on stderr")
    args = parse_args(parser, argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    suite = QUICK_BENCH if args.quick else get_suite(args.suite)
    n_examples = args.n_examples or (20 if args.quick else 100)

    t0 = time.perf_counter()
    if args.checkpoint:
        model, metadata = load_checkpoint(args.checkpoint)
        splits = load_dataset(metadata.get("dataset", "digits"), seed=int(metadata.get("split_seed", 0)))
        network = {"checkpoint": args.checkpoint, "test_accuracy": metadata.get("test_accuracy")}
    else:
        model, splits, history = train_default_ebm(seed=args.seed, epochs=8 if args.quick else None)
        network = {"recipe": "digits_dense", "train": history["config"], "val_accuracy": history["final_val_accuracy"]}
    network["model_config"] = model.config.to_dict()
    train_s = time.perf_counter() - t0
    x, y = splits.test.x[:n_examples], splits.test.y[:n_examples]

    kinds = [k for k in ("float", "crossbar", "spiking") if k in substrate_kinds()]
    if args.kinds:
        kinds = [k for k in kinds if k in args.kinds]
    cards = {"crossbar": args.card_crossbar, "spiking": args.card_spiking}
    out: dict = {}
    results: dict = {}
    failed = False
    float_substrate = build_for("float", model)
    batch_ok: dict = {}
    for kind in kinds:
        try:
            substrate = float_substrate if kind == "float" else build_for(
                kind, model, card=cards.get(kind), seed=args.seed)
        except (ValueError, TypeError) as exc:
            out[kind] = {"skipped": f"could not build: {exc}"}
            continue
        reference = None if kind == "float" else float_substrate
        try:
            kind_suite = QUICK_BENCH_HARDWARE if args.quick and kind != "float" else suite
            result = evaluate_robustness(substrate, x, y, suite=kind_suite, reference_substrate=reference, seed=args.seed)
        except Exception as exc:  # one substrate failing must not hide the others' figures
            out[kind] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            failed = True
            continue
        results[kind] = result
        if kind in ("float", "crossbar"):
            full_suite = FULL_L2_QUICK if args.quick else FULL
            full_l2 = (None if kind in args.no_full_l2 else
                       full_l2_worst_case(substrate, x, y, full_suite, result, args.seed, reference))
        batch_ok[kind] = batch_independent(substrate, x, args.seed)
        float_timings = results["float"]["wall_time_per_100_images_s"] if kind != "float" and "float" in results else None
        out[kind] = substrate_entry(result, float_timings)
        out[kind]["substrate"] = result["substrate"]
        out[kind]["cost"] = result["cost"]
        out[kind]["suite"] = result["suite"]["name"]
        out[kind]["smoke_test"] = result.get("smoke_test", False)
        if kind in ("float", "crossbar"):
            out[kind]["full_l2_worst_case"] = None if full_l2 is None else full_l2["worst_case"]
            out[kind]["full_l2_examples_attacked"] = None if full_l2 is None else full_l2["examples_attacked"]
            out[kind]["full_l2_suite"] = None if full_l2 is None else full_suite.name
            out[kind]["l2_quick_minus_full_worst_case"] = (
                None if full_l2 is None else result["summary"]["worst_case_l2"] - full_l2["worst_case"])

    weak = targeted_gate_catches_weak_budget(float_substrate, x, y, args.seed)
    out["targeted_gate_catches_weak_budget"] = weak["caught"]
    out["targeted_gate_weak_budget_detail"] = weak["detail"]
    out["batch_independent_predictions"] = batch_ok
    out["machine"] = robustness_machine(args.threads)
    out["config"] = {
        "quick": args.quick, "suite": suite.to_dict(), "n_examples": int(x.shape[0]), "seed": args.seed,
        "network": network, "train_seconds": train_s,
        "substrate_kinds_registered": substrate_kinds(), "substrate_kinds_run": list(results),
        "total_seconds": time.perf_counter() - started,
    }
    out["seed_study_cifar10"] = SEED_STUDY_CIFAR10
    emit(out, args, f"{compare_markdown(results)}\ntotal {out['config']['total_seconds']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
