"""``analogeq demo`` section ``robustness``: one attack harness on every substrate.

:func:`section_robustness` runs :func:`analogeq.robustness.evaluate.evaluate_robustness` with
the standard suite at demo budgets (:data:`DEMO_SUITE` and below, labelled smoke tests) on the trained digits EBM as

* ``float``: floating point (the gradient-mode comparison, full vs truncated backprop through
  the settling, runs here only);
* ``crossbar pcm 1 h``: the ``pcm`` card read one hour after programming (stochastic: the
  randomness gate fires, attacks use EOT and accuracies are means over read-noise draws);
* ``spiking ideal``: the ``spiking-ideal`` card (Brian2; white-box gradients through the
  surrogate rate model).

Hardware substrates also get transfer attacks made on the float substrate. Each substrate uses
the first test images with the budgets of :data:`DEMO_PLAN`: one attack gradient of the
crossbar costs about ten float ones and a spiking forward pass about a hundred, so the demo's
figures show the pipeline and the trend between substrates on few images, not the robustness
numbers to publish: for those run ``analogeq robustness --suite full`` or
``benchmarks/bench_robustness.py``.

Every substrate's full result is written as ``robustness_<name>.json`` and ``.md`` in the demo
folder; the rows hold the headline accuracies (L_inf eps 0.1, L2 eps 1.0 on pixels in [0, 1])
and the sanity gates passed, and ``ctx.artifacts["robustness"]`` holds the results by row name
for the report (accuracy against eps).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from analogeq.robustness.suite import get_suite

logger = logging.getLogger(__name__)

__all__ = ["DEMO_L2_EPS", "DEMO_PLAN", "DEMO_SUITE", "DEMO_SUITE_HARDWARE", "DEMO_SUITE_SPIKING", "section_robustness"]

#: PGD-L2 radii of every substrate: four, so that accuracy_vs_eps.png draws a curve per substrate
DEMO_L2_EPS = (0.25, 0.5, 1.0, 1.5)

#: the standard suite at demo budgets (float), a smoke test (its figures are labelled upper
#: bounds): PGD 10 steps (step 2.5 eps / 10) at L_inf 0.05-0.3 and L2 0.25-1.5; APGD-T 9 targets x
#: 20 steps at the headline eps (so the worst case includes a targeted attack and the targeted
#: gate runs); PGD L2 at the L_inf budget (the standard suite's 50 x 2 is not inherited);
#: NearestClassPGD 10 steps at L2 1.0; Square 150 queries; convergence gates 20 steps x 2 restarts; 6 corruption types
#: at severities 1, 3, 5; randomized smoothing with n = 200 (largest certifiable radius
#: 0.25 * PhiInv(0.001 ** (1/200)) ~ 0.38); the gradient modes (full, truncated 5 and 30, implicit).
DEMO_SUITE = get_suite("standard").replace(
    name="demo", smoke_test=True, apgd_steps=0, apgd_targets=9, targeted_steps=20,
    linf_eps=(0.05, 0.1, 0.2, 0.3), l2_eps=DEMO_L2_EPS, pgd_steps=10, square_queries=150,
    convergence_steps=20, convergence_restarts=2, eot_samples=2, draws=3, truncated_steps=(5, 30),
    pgd_l2_steps=0, pgd_l2_restarts=0, convergence_l2_steps=0, convergence_l2_restarts=0, nearest_steps=10, nearest_restarts=1,
    corruption_names=("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "fog", "contrast"),
    corruption_severities=(1, 3, 5), corruption_examples=60, certify_examples=30, certify_n=200, certify_n0=50,
    certify_radii=(0.1, 0.25),
)
#: hardware substrates: one attack gradient of the PCM crossbar (150 noisy settling steps
#: through the torch reads, each image x EOT draw a row) costs about 10 float ones and a spiking
#: forward pass about 100, so fewer L_inf radii (0.1, 0.2, 0.3; L2 the same four), EOT K = 2 with 3
#: evaluation draws on stochastic substrates, the convergence gate at 20 steps x 1 restart,
#: Square 100 queries, no gradient-mode comparison
DEMO_SUITE_HARDWARE = DEMO_SUITE.replace(
    name="demo-hardware", linf_eps=(0.1, 0.2, 0.3), l2_eps=DEMO_L2_EPS, eot_samples=2, convergence_restarts=1,
    gradient_modes=False, square_queries=100, certify_examples=16,
)
#: the spiking substrate: also smoothing with n = 100 on 4 images
DEMO_SUITE_SPIKING = DEMO_SUITE_HARDWARE.replace(
    name="demo-spiking", certify_examples=4, certify_n=100, certify_n0=20, corruption_examples=16,
)

#: substrate row name -> (suite, test images in the full demo, in the quick demo)
DEMO_PLAN = {
    "float": (DEMO_SUITE, 80, 40),
    "crossbar pcm 1 h": (DEMO_SUITE_HARDWARE, 16, 8),
    "spiking ideal": (DEMO_SUITE_SPIKING, 16, 8),
}


def _substrates(model: Any, seed: int) -> list[tuple[str, Any, str]]:
    """(row name, substrate, file stem) for every substrate kind that is registered."""
    from analogeq.substrates import build_substrate, substrate_kinds

    kinds = substrate_kinds()
    out = [("float", build_substrate("float", model), "float")]
    if "crossbar" in kinds:
        out.append(("crossbar pcm 1 h", build_substrate("crossbar", model, card="pcm", drift_time_s=3600.0, seed=seed),
                    "crossbar_pcm_1h"))
    if "spiking" in kinds:
        target = os.environ.get("ANALOGEQ_BRIAN_TARGET", "numpy")
        out.append(("spiking ideal", build_substrate("spiking", model, card="spiking-ideal", seed=seed, target=target),
                    "spiking_ideal"))
    return out


def section_robustness(ctx: Any) -> list[dict[str, Any]]:
    """One row per substrate: clean and attacked accuracies, corruptions, certification, gates."""
    from analogeq.robustness.evaluate import write_report

    model, splits = ctx.artifacts["dense_ebm"], ctx.artifacts["splits"]
    model = model.to("cpu").eval()
    test = splits.test.to("cpu")
    results: dict[str, dict[str, Any]] = {}
    rows = []
    reference = None
    for name, substrate, stem in _substrates(model, ctx.seed):
        suite, n_full, n_quick = DEMO_PLAN[name]
        n = n_quick if ctx.quick else n_full
        logger.info("robustness on %s (%d images)", name, n)
        t0 = time.perf_counter()
        result = _evaluate(substrate, test.x[:n], test.y[:n], suite, reference, ctx.seed)
        if reference is None:
            reference = substrate
        results[name] = result
        write_report(result, ctx.out_dir, stem=f"robustness_{stem}")
        rows.append(_row(name, result, n, time.perf_counter() - t0))
        logger.info("robustness on %s: clean %.3f, PGD L_inf %.3f, worst L_inf %.3f (%.0f s)", name,
                    rows[-1]["clean"], rows[-1]["pgd_linf_0.1"], rows[-1]["worst_linf"] or float("nan"), rows[-1]["eval_s"])
    ctx.artifacts["robustness"] = results
    return rows


def _evaluate(substrate, x, y, suite, reference, seed):
    """evaluate_robustness, with its one log line per attack shown only at DEBUG (``-v``): the
    demo logs one line per substrate instead."""
    from analogeq.robustness.evaluate import evaluate_robustness

    attack_log = logging.getLogger("analogeq.robustness")  # the runner logs one line per attack
    previous = attack_log.level
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        attack_log.setLevel(logging.WARNING)
    try:
        return evaluate_robustness(substrate, x, y, suite=suite, reference_substrate=reference, seed=seed)
    finally:
        attack_log.setLevel(previous)


def _row(name: str, result: dict[str, Any], n: int, seconds: float) -> dict[str, Any]:
    s = result["summary"]
    gates = result["gates"]
    failed = [g for g, v in gates.items() if not v["passed"]]
    cert = s.get("certified_at_r") or {}
    st = result["stochastic"]
    return {
        "section": "robustness",
        "table": "robustness",
        "substrate": name,
        "images": n,
        "clean": s["clean"],
        "pgd_linf_0.1": s["pgd_linf"],
        "pgd_l2_1.0": s["pgd_l2"],
        "square_linf": s["square"],
        "transfer_linf": s.get("transfer"),
        "worst_linf": s.get("worst_case_linf"),
        "corruptions": s.get("corruptions_mean"),
        "certified_0.25": cert.get("0.25"),
        "gates": f"{len(gates) - len(failed)}/{len(gates)}",
        "eval_s": seconds,
        "notes": (f"{result['suite']['name']} suite; EOT {st['eot_samples']}, {st['draws']} draw(s)"
                  + (f"; gates failed: {', '.join(failed)}" if failed else "")),
    }
