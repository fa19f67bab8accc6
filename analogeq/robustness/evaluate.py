"""One entry point for a robustness evaluation of any substrate: :func:`evaluate_robustness`.

It plans the attack suite (:mod:`analogeq.robustness.suite` -> :mod:`analogeq.robustness.plan`),
runs the plan against the substrate through the substrate protocol only (it never asks which
kind of substrate it holds; :mod:`analogeq.robustness.runner`), evaluates every adversarial
batch over noise draws, runs the sanity gates (:mod:`analogeq.robustness.gates`,
:mod:`analogeq.robustness.gradients`) and natural corruptions, randomized-smoothing
certification, feature-squeezing detection and the energy view
(:mod:`analogeq.robustness.extras`). The result is a JSON-serialisable dict (schema
``analogeq.robustness/1``, below); :func:`~analogeq.report.robustness.to_markdown` renders it as
tables and :func:`~analogeq.report.robustness.write_report` writes both files atomically (both
re-exported here).

Seeds: every random stream is ``derive_seed(seed, name)`` with a name (``attack/pgd_linf/linf/0.1``,
``clean/draws``, ``certify``, ...; see :mod:`analogeq.robustness.runner`), so switching an
attack on or off leaves every other figure unchanged.

Accuracies over draws
---------------------
On a stochastic substrate (declared, or detected by the randomness gate) attacks use EOT with
``suite.eot_samples`` draws per gradient, and every accuracy is measured over ``suite.draws``
independent draws of ``substrate.logits``: reported as the mean and the half-width of its 95%
interval (Student t, :func:`~analogeq.stats.mean_ci95`), with the per-draw values.
On a deterministic substrate there is one draw and ``ci95`` is null.

Result schema (``analogeq.robustness/1``)
-----------------------------------------
::

    schema, suite {AttackSuite fields}, smoke_test (bool: the suite is a smoke test),
    figures_note (null, or the smoke-test warning: its figures are upper bounds),
    substrate {describe()}, reference_substrate {..}|null,
    n_examples, seed, gradient {GradientSpec}, cost {..}|null,
    settle {samples, converged_fraction, median_steps, max_steps, tol, tol_unit}|null
    (Substrate.settle_report(): every settle behind the substrate's predictions), versions {..},
    stochastic: {declared, detected, max_logit_change, passes, eot_samples, draws},
    clean: ACC,
    attacks: {
        "fgsm_linf" | "pgd_linf" | "pgd_l2" | "pgd_margin_linf" | "pgd_margin_l2" |
        "pgd_linf_seed_study" | "apgd_ce_linf" |
        "apgd_dlr_linf" | "apgd_t_linf" | "apgd_ce_l2" | "apgd_dlr_l2" | "apgd_t_l2" | "pgd_nearest_l2" |
        "square_linf" | "square_l2" | "transfer_linf" | "transfer_l2":
            {"<eps>": ATTACK},
        "cw_l2": ATTACK + {"accuracy_at_eps": {"<eps>": ACC}, "median_distance_successful"}
    },
    summary: {clean, pgd_linf, pgd_l2, pgd_margin_linf, pgd_margin_l2, pgd_nearest_l2, square, square_l2, transfer, transfer_l2,
              worst_case_linf, worst_case_l2, headline_linf_eps, headline_l2_eps,
              corruptions_mean, certified_at_r {"<radius>": accuracy} | null},
    gradient_modes: null | {"probe": {...}, "modes": {"full" | "truncated_<T>" | "implicit":
                            ATTACK | {"unavailable": reason}},
                    "full_at_least_as_strong": {"truncated_<T>": bool}},
    corruptions: {"available", "mean", "ci95", "per_draw", "clean_accuracy", "n_examples",
                  "severities", "table": {name: {"<severity>": accuracy}}, "wall_time_s"},
    certification: {"available", "sigma", "n0", "n", "alpha", "n_examples", "abstain_rate",
                    "smoothed_accuracy", "certified_accuracy": {"<radius>": accuracy},
                    "mean_radius_correct", "wall_time_s"},
    detection: {"available", "n_calibration", "config", "threshold", "false_positive_rate",
                "n_clean", "attacks": {"<attack>@<eps>": {"detection_rate", "n", "n_successful",
                "detection_rate_successful"}}, "wall_time_s"},
    energy: {"available", "n_draws", "attacks": {"<attack>@<eps>": {"natural_mean", "natural_std",
             "adversarial_mean", "adversarial_std", "mean_gap", "auroc", "separation",
             "n_natural", "n_adversarial"}}, "wall_time_s"},
    (each of the four is {"available": false} with extras=False or when the suite switches it off)
    gates: {gate_name: {"passed": bool, "detail": {...}}},
    sanity_gates_passed: bool,
    wall_time_per_100_images_s: {"<attack>@<eps>": seconds},
    per_example: {"clean" | "<attack>@<eps>" | "cw_l2": {"n_examples": m,
                  "correct": ["0110..." one string per draw, character i for example i]}},
    per_example_worst_case: {"linf" | "l2": [per example, the fraction of draws it stayed correct
                  under its worst attack of that norm at the headline eps] | null}
                  (``summary["worst_case_<norm>"]`` is its mean),
    wall_time_s
    (with keep_adversarial=True, also "adversarial": {"<attack>@<eps>" | "cw_l2": {"x_adv", "config"}}, not JSON)

    ACC    = {"accuracy": mean, "ci95": half-width|null, "per_draw": [..]}
    ATTACK = ACC + {"n_examples" (the first m examples it ran on), "attack_success_rate", "mean_distance", "max_distance", "wall_time_s",
                    "wall_time_per_100_images_s", "config": {..}, "extra": {..}}

Summary figures are accuracies (fractions in [0, 1]) at the suite's headline eps;
``worst_case_*`` counts an example robust only if it survives every attack of that norm at the
headline eps (per example, the lowest robust rate over attacks), the targeted attack (APGD-T)
included; an attack run on the first m examples only counts for those.

Gates added by issue 15 (:mod:`analogeq.robustness.gates`): ``eot_sufficient`` (measured before
the attacks; it may raise K), ``targeted_vs_untargeted_<norm>`` at each headline eps and
``converged_l2`` (PGD-L2 with cross-entropy and margin loss, doubled budget).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from analogeq.contract import GradientSpec
from analogeq.progress import overall
from analogeq.report.robustness import compare_markdown, to_markdown, write_report
from analogeq.robustness import extras as X
from analogeq.robustness import gates as G
from analogeq.robustness.attacks.common import check_batch
from analogeq.robustness.gradients import choose_eot, gradient_gates, gradient_modes
from analogeq.robustness.plan import Plan, eps_key, plan_attacks
from analogeq.robustness.runner import Evaluator
from analogeq.robustness.suite import DEFAULT_SUITE, AttackSuite, get_suite
from analogeq.substrates.base import Substrate
from hardware_models.jsonable import to_jsonable
from hardware_models.params import check_int

__all__ = ["SCHEMA", "compare_markdown", "eps_key", "evaluate_robustness", "to_markdown", "write_report"]

SCHEMA = "analogeq.robustness/1"

#: what a smoke-test suite's result says about its figures
SMOKE_NOTE = ("smoke test: small attack budgets; every accuracy under attack is an upper bound on the robust "
              "accuracy, not a robustness figure to report")

#: summary figure -> (attack, norm of its headline eps)
_SUMMARY = {"pgd_linf": ("pgd_linf", "linf"), "pgd_l2": ("pgd_l2", "l2"), "square": ("square_linf", "linf"),
            "square_l2": ("square_l2", "l2"), "pgd_margin_linf": ("pgd_margin_linf", "linf"),
            "pgd_margin_l2": ("pgd_margin_l2", "l2"), "transfer": ("transfer_linf", "linf"),
            "transfer_l2": ("transfer_l2", "l2"), "pgd_nearest_l2": ("pgd_nearest_l2", "l2")}


def evaluate_robustness(
    substrate: Substrate,
    x: torch.Tensor,
    y: torch.Tensor,
    suite: str | AttackSuite = DEFAULT_SUITE,
    reference_substrate: Substrate | None = None,
    seed: int = 0,
    gradient: GradientSpec | None = None,
    batch_size: int = 512,
    extras: bool = True,
    keep_adversarial: bool = False,
) -> dict[str, Any]:
    """Run the attack suite on ``substrate`` with ``(x, y)`` and return the result dict.

    substrate: any Substrate. x: (B, *input_shape) pixels in [0, 1]; y: (B,) integer labels.
    suite: "quick" (a smoke test), "standard" (the default), "full" or an :class:`AttackSuite`.
    reference_substrate: source of the transfer attacks (e.g. the float model when the
        substrate is hardware); None skips transfer.
    seed: seeds attacks, evaluation draws and corruptions (same seed, same numbers).
    gradient: the GradientSpec of the white-box attacks (default: the substrate's
        ``default_gradient``: full backprop through the settling, implicit at the fixed point for
        the crossbar's convolutional EBMs). The gradient-mode comparison runs in addition.
    batch_size: attacks and predictions run in chunks of this many examples.
    extras: also run corruptions, certification, detection and the energy view.
    keep_adversarial: also return the adversarial inputs of every run under ``"adversarial"``
        (``"<attack>@<eps>"`` -> {"x_adv": tensor on the CPU, "config"}; not JSON:
        :func:`~analogeq.robustness.saving.save_adversarial` writes them as safetensors,
        :func:`write_report` leaves them out).
    """
    started = time.perf_counter()
    suite = get_suite(suite)
    gradient = gradient if gradient is not None else substrate.default_gradient
    if not isinstance(gradient, GradientSpec):
        raise TypeError(f"gradient must be a GradientSpec, got {type(gradient).__name__}")
    check_int("seed", seed, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    x, y = check_batch(substrate, x, y)
    if reference_substrate is not None and not isinstance(reference_substrate, Substrate):
        raise TypeError(f"reference_substrate must be a Substrate or None, got {type(reference_substrate).__name__}")
    ev = Evaluator(substrate, x, y, suite, seed, gradient, batch_size, reference_substrate)
    plan = plan_attacks(suite, substrate.num_classes, reference_substrate is not None)
    with overall(progress_units(plan, extras), f"robustness {substrate.name}", unit="step") as bar:
        return _evaluate(ev, plan, bar, substrate, x, y, suite, reference_substrate, seed, gradient, batch_size,
                         extras, keep_adversarial, started)


def progress_units(plan: Any, extras: bool) -> int:
    """The units of the progress bar of one evaluation: randomness and EOT, clean accuracy, one
    per attack run, the gates, and corruptions, certification, detection, energy with extras."""
    return 2 + len(plan.attacks) + 1 + (4 if extras else 0)


def _evaluate(ev, plan, bar, substrate, x, y, suite, reference_substrate, seed, gradient, batch_size, extras,
              keep_adversarial, started) -> dict[str, Any]:
    gates: dict[str, dict[str, Any]] = {}

    # randomness: AutoAttack-style detection, then EOT and draws
    substrate.reseed(ev.seed_of("randomness"))
    randomness = G.detect_randomness(substrate, x[:batch_size], passes=suite.randomness_passes)
    stochastic = randomness["detected"] or randomness["declared"]
    ev.eot = suite.eot_samples if stochastic else 1
    ev.draws = suite.draws if stochastic else 1
    gates["eot_sufficient"] = choose_eot(ev, stochastic)
    gates["randomness_detected_and_eot"] = G.randomness_detected_and_eot(randomness, ev.eot, ev.draws)
    bar.step("randomness and EOT")

    clean_preds = ev.predictions(x, "clean/draws")
    clean, _ = ev.accuracy([p == y.cpu() for p in clean_preds])
    ev.correct["clean"] = torch.stack([p == y.cpu() for p in clean_preds])
    bar.step("clean")

    attacks: dict[str, dict[str, Any]] = {}
    rates: dict[tuple[str, float], torch.Tensor] = {}  # (attack, eps) -> per-example robust rate
    kinds: dict[str, tuple[str, bool]] = {}  # attack -> (norm, white box?)
    for run in plan.attacks:
        if run.eps is None:
            attacks[run.name] = ev.unbounded_entry(run, clean_preds, plan.l2_eps, rates)
        else:
            entry, rates[(run.name, float(run.eps))], _ = ev.attack_entry(run)
            attacks.setdefault(run.name, {})[eps_key(run.eps)] = entry
        kinds[run.name] = (run.norm, run.white_box)
        bar.step(run.name if run.eps is None else f"{run.name}@{eps_key(run.eps)}")

    gates.update(_attack_gates(ev, plan, clean, attacks, rates, kinds))
    gates.update(gradient_gates(ev, clean_preds))
    modes = gradient_modes(ev, plan.gradient_modes) if plan.gradient_modes else None
    bar.step("gates")

    summary: dict[str, Any] = {"clean": clean["accuracy"], "headline_linf_eps": suite.headline_linf_eps,
                               "headline_l2_eps": suite.headline_l2_eps}
    headline = dict(plan.headlines)
    for figure, (key, norm) in _SUMMARY.items():
        summary[figure] = attacks.get(key, {}).get(eps_key(headline[norm]), {}).get("accuracy")
    worst_by_example: dict[str, list[float] | None] = {}
    for norm, eps in plan.headlines:
        same = [r for (k, e), r in rates.items() if e == eps and kinds[k][0] == norm]
        worst = torch.stack(same).min(dim=0).values if same else None
        summary[f"worst_case_{norm}"] = None if worst is None else float(worst.mean())
        worst_by_example[norm] = None if worst is None else [float(v) for v in worst.tolist()]

    corruptions = certification = detection = energy = {"available": False}
    if extras:
        corruptions = X.corruptions(ev, clean["accuracy"])
        bar.step("corruptions")
        headline_adv = {f"{key}@{eps_key(headline[norm])}": ev.adversarial[(key, headline[norm])]
                        for key, norm in (("pgd_linf", "linf"), ("pgd_l2", "l2"), ("square_linf", "linf"),
                                          ("square_l2", "l2"))
                        if (key, headline[norm]) in ev.adversarial}
        certification = X.certification(ev)
        bar.step("certification")
        detection = X.detection(ev, headline_adv)
        bar.step("detection")
        energy = X.energy_view(ev, headline_adv)
        bar.step("energy")
    summary["corruptions_mean"] = corruptions.get("mean")
    summary["certified_at_r"] = certification.get("certified_accuracy")

    result = {
        "schema": SCHEMA,
        "suite": suite.to_dict(),
        "smoke_test": suite.smoke_test,
        "figures_note": SMOKE_NOTE if suite.smoke_test else None,
        "substrate": substrate.describe(),
        "reference_substrate": reference_substrate.describe() if reference_substrate is not None else None,
        "n_examples": ev.n,
        "seed": seed,
        "gradient": gradient.to_dict(),
        "cost": substrate.cost(),
        "settle": substrate.settle_report(),  # converged fraction and median steps of every settle predicted
        "versions": _versions(),
        "stochastic": {**randomness, "eot_samples": ev.eot, "draws": ev.draws},
        "clean": clean,
        "attacks": attacks,
        "summary": summary,
        "gradient_modes": modes,
        "corruptions": corruptions,
        "certification": certification,
        "detection": detection,
        "energy": energy,
        "gates": gates,
        "sanity_gates_passed": G.all_passed(gates),
        "wall_time_per_100_images_s": dict(ev.timings),
        "per_example": per_example(ev),
        "per_example_worst_case": worst_by_example,
        "wall_time_s": time.perf_counter() - started,
    }
    result = to_jsonable(result)
    if keep_adversarial:
        keys = {(name, eps): (name if eps is None else f"{name}@{eps_key(eps)}") for name, eps in ev.adversarial}
        result["adversarial"] = {keys[k]: {"x_adv": adv.detach().cpu(), "config": to_jsonable(ev.configs[keys[k]])}
                                 for k, adv in ev.adversarial.items()}
    return result


def per_example(ev: Evaluator) -> dict[str, Any]:
    """Per run (``"clean"``, ``"<attack>@<eps>"``, ``"cw_l2"``): which examples it left correctly
    classified, one string of ``0``/``1`` per evaluation draw (character i: example i; a run on
    the first m examples has strings of length m)."""
    return {key: {"n_examples": int(c.shape[1]), "correct": ["".join("1" if v else "0" for v in row.tolist())
                                                             for row in c]}
            for key, c in ev.correct.items()}


def _attack_gates(ev: Evaluator, plan: Plan, clean: dict[str, Any], attacks: dict[str, dict[str, Any]],
                  rates: dict[tuple[str, float], torch.Tensor], kinds: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    """The gates on the attack results: iterative beats single step, accuracy falls with eps,
    the unbounded attack reaches zero, white box beats black box and transfer, the targeted
    attack finds nothing the untargeted ones missed, and (running the convergence PGD at L_inf,
    and PGD-L2 with both losses) doubling the budget changes nothing."""
    suite, tol = ev.suite, ev.suite.gate_tolerance
    linf_all, l2_all = list(plan.linf_eps), list(plan.l2_eps)
    gates: dict[str, Any] = {}
    if suite.fgsm:
        fgsm_map = {e: (attacks["fgsm_linf"][eps_key(e)]["accuracy"], rates[("fgsm_linf", e)]) for e in linf_all}
        pgd_map = {e: (attacks["pgd_linf"][eps_key(e)]["accuracy"], rates[("pgd_linf", e)]) for e in linf_all}
        gates["iterative_beats_single_step"] = G.iterative_beats_single_step(fgsm_map, pgd_map, tol)
    linf_curve = [0.0] + linf_all + [suite.unbounded_linf_eps]
    linf_acc = [clean["accuracy"]] + [attacks["pgd_linf"][eps_key(e)]["accuracy"] for e in linf_curve[1:]]
    gates["accuracy_monotone_in_eps_linf"] = G.accuracy_monotone_in_eps(linf_curve, linf_acc, tol, "pgd_linf")
    l2_curve = [0.0] + l2_all
    l2_acc = [clean["accuracy"]] + [attacks["pgd_l2"][eps_key(e)]["accuracy"] for e in l2_all]
    gates["accuracy_monotone_in_eps_l2"] = G.accuracy_monotone_in_eps(l2_curve, l2_acc, tol, "pgd_l2")
    gates["unbounded_reaches_zero"] = G.unbounded_reaches_zero(
        suite.unbounded_linf_eps, attacks["pgd_linf"][eps_key(suite.unbounded_linf_eps)]["accuracy"],
        suite.unbounded_threshold, "pgd_linf")

    for norm, eps in plan.headlines:
        whites = [r for (k, e), r in rates.items() if e == eps and kinds[k] == (norm, True)]
        for other, gate_name in ((f"square_{norm}", f"white_box_beats_black_box_{norm}"),
                                 (f"transfer_{norm}", f"white_box_beats_transfer_{norm}")):
            if (other, eps) in rates:
                gates[gate_name] = G.white_box_beats(whites, rates[(other, eps)], tol, other, eps)

    for norm, eps in plan.headlines:
        targeted = [k for (k, e), _ in rates.items() if e == eps and kinds[k][0] == norm and k.startswith("apgd_t_")]
        untargeted = [r for (k, e), r in rates.items() if e == eps and kinds[k][0] == norm and k not in targeted]
        t_rate = rates[(targeted[0], eps)] if targeted else None
        n_t = attacks[targeted[0]][eps_key(eps)]["n_examples"] if targeted else ev.n
        gates[f"targeted_vs_untargeted_{norm}"] = G.targeted_vs_untargeted(
            untargeted, t_rate, n_t, suite.targeted_tolerance, targeted[0] if targeted else f"apgd_t_{norm}", eps)

    if plan.convergence_l2:
        e2 = suite.headline_l2_eps
        base, doubled = [], []
        for run in plan.convergence_l2:
            entry, rate, _ = ev.attack_entry(run)
            attacks.setdefault(run.name, {})[eps_key(e2)] = entry
            base.append(rates[(run.name.removesuffix("_converged"), e2)])
            doubled.append(rate)
        gates["converged_l2"] = G.converged_across_losses(base, doubled, tol, {
            "eps": e2, "losses": [r.params.get("loss", "ce") for r in plan.convergence_l2],
            "steps": [suite.l2_budget[0], suite.l2_convergence_budget[0]],
            "restarts": [suite.l2_budget[1], suite.l2_convergence_budget[1]]})
    else:
        gates["converged_l2"] = G.converged_across_losses([], [], tol, {"eps": suite.headline_l2_eps})

    run = plan.convergence
    if run is not None:
        entry, _, _ = ev.attack_entry(run)
        attacks.setdefault(run.name, {})[eps_key(run.eps)] = entry
        base = attacks["pgd_linf"][eps_key(run.eps)]
        conv_tol = max(tol, (base["ci95"] or 0.0) + (entry["ci95"] or 0.0))
        gates["converged"] = G.converged(base["accuracy"], entry["accuracy"], conv_tol, {
            "eps": run.eps, "steps": [suite.pgd_steps, suite.convergence_steps],
            "restarts": [suite.pgd_restarts, suite.convergence_restarts]})
    return gates


def _versions() -> dict[str, str]:
    import analogeq

    return {"analogeq": analogeq.__version__, "torch": torch.__version__}
