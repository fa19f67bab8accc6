"""Can an untargeted L2 budget match APGD-T on the digits EBM? (issue 15: the targeted gate)

    python benchmarks/l2_untargeted_budget.py --json --checkpoint ebm.safetensors --budget 50 2 100
    python benchmarks/l2_untargeted_budget.py --json --quick          # 20 images, a small budget

The ``standard`` suite's gates ``targeted_vs_untargeted_l2`` (APGD-T must not find more than 1
point below the untargeted worst case) and ``converged_l2`` (doubling PGD-L2's steps and restarts
changes nothing) are evaluated on the float substrate with a stronger untargeted budget:
``--budget PGD_STEPS PGD_RESTARTS APGD_STEPS`` (the convergence gate then doubles PGD's steps and
restarts), in both norms; ``--nearest-steps`` adds NearestClassPGD at L2 (default off). Square, transfer, the gradient-mode comparison and the extras are off: only the white-box
attacks and their gates run. The network is ``--checkpoint`` or the digits recipe (trained here).

Keys: ``budget`` (the three numbers), ``worst_case_l2``, ``worst_case_linf``, ``gates_failed``,
``targeted_vs_untargeted_l2`` and ``converged_l2`` (each gate's detail), ``seconds``, ``machine``.
"""

from __future__ import annotations

import time

from common import bench_parser, emit, load_average, machine, parse_args

import torch

from analogeq.checkpoint import load_checkpoint
from analogeq.commands.robustness import train_default_ebm
from analogeq.data import load_dataset
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.suite import get_suite
from analogeq.substrates import build_substrate


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, quick_help="20 images, budget 10 1 10 (same keys)", seed=True,
                          threads_help="torch threads (default 1)")
    parser.add_argument("--checkpoint", default=None, help="the network (default: train the digits recipe)")
    parser.add_argument("--budget", type=int, nargs=3, default=None, metavar=("PGD_STEPS", "PGD_RESTARTS", "APGD_STEPS"),
                        help="untargeted L2 budget (default 50 2 100; quick 10 1 10)")
    parser.add_argument("--n-examples", type=int, default=None, help="test images (default 100, quick 20)")
    parser.add_argument("--nearest-steps", type=int, default=0,
                        help="NearestClassPGD steps at L2 (default 0: off, the untargeted losses of last session only)")
    args = parse_args(parser, argv)
    torch.set_num_threads(args.threads)
    steps, restarts, apgd = args.budget or ((10, 1, 10) if args.quick else (50, 2, 100))
    n = args.n_examples or (20 if args.quick else 100)
    if args.checkpoint:
        model, metadata = load_checkpoint(args.checkpoint)
        splits = load_dataset(metadata.get("dataset", "digits"), seed=int(metadata.get("split_seed", 0)))
    else:
        model, splits, _ = train_default_ebm(seed=args.seed, epochs=8 if args.quick else None)
    x, y = splits.test.x[:n], splits.test.y[:n]
    suite = get_suite("standard").replace(
        name="l2-untargeted-budget", pgd_steps=steps, pgd_restarts=restarts, apgd_steps=apgd,
        convergence_steps=2 * steps, convergence_restarts=2 * restarts, pgd_l2_steps=steps, pgd_l2_restarts=restarts,
        convergence_l2_steps=2 * steps, convergence_l2_restarts=2 * restarts, nearest_steps=args.nearest_steps,
        square_queries=0, transfer=False,
        gradient_modes=False, certify_examples=0, corruption_examples=0)
    started, load_before = time.perf_counter(), load_average()
    result = evaluate_robustness(build_substrate("float", model), x, y, suite=suite, seed=args.seed, extras=False)
    gates = result["gates"]
    out = {
        "budget": {"pgd_steps": steps, "pgd_restarts": restarts, "apgd_steps": apgd, "nearest_steps": args.nearest_steps},
        "n_examples": int(x.shape[0]),
        "worst_case_l2": result["summary"]["worst_case_l2"],
        "worst_case_linf": result["summary"]["worst_case_linf"],
        "gates_failed": [name for name, gate in gates.items() if not gate["passed"]],
        "targeted_vs_untargeted_l2": gates["targeted_vs_untargeted_l2"]["detail"],
        "converged_l2": gates["converged_l2"]["detail"],
        "seconds": time.perf_counter() - started,
        "machine": machine(("torch",), torch_threads=args.threads, load_before=load_before, load_after=load_average()),
    }
    emit(out, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
