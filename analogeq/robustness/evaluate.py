"""One entry point for a robustness evaluation of any substrate: :func:`evaluate_robustness`.

It runs an attack suite (:mod:`analogeq.robustness.suite`) against the substrate through the
substrate protocol only (it never asks which kind of substrate it holds), evaluates every
adversarial batch over noise draws, runs the sanity gates (:mod:`analogeq.robustness.gates`)
and, where those modules exist, natural corruptions, randomized-smoothing certification,
feature-squeezing detection and the energy view. The result is a JSON-serialisable dict
(schema ``analogeq.robustness/1``, below); :func:`to_markdown` renders it as tables and
:func:`write_report` writes both files atomically.

Accuracies over draws
---------------------
On a stochastic substrate (declared, or detected by the randomness gate) attacks use EOT with
``suite.eot_samples`` draws per gradient, and every accuracy is measured over ``suite.draws``
independent draws of ``substrate.logits``: reported as the mean and the half-width of its 95%
interval (Student t, :func:`~analogeq.substrates.base.mean_ci95`), with the per-draw values.
On a deterministic substrate there is one draw and ``ci95`` is null.

Result schema (``analogeq.robustness/1``)
-----------------------------------------
::

    schema, suite {AttackSuite fields}, substrate {describe()}, reference_substrate {..}|null,
    n_examples, seed, gradient {GradientSpec}, cost {..}|null, versions {..},
    stochastic: {declared, detected, max_logit_change, passes, eot_samples, draws},
    clean: ACC,
    attacks: {
        "fgsm_linf" | "pgd_linf" | "pgd_l2" | "pgd_margin_linf" | "pgd_margin_l2" |
        "pgd_linf_seed_study" | "apgd_ce_linf" |
        "apgd_dlr_linf" | "apgd_t_linf" | "apgd_ce_l2" | "apgd_dlr_l2" | "apgd_t_l2" |
        "square_linf" | "square_l2" | "transfer_linf" | "transfer_l2":
            {"<eps>": ATTACK},
        "cw_l2": ATTACK + {"accuracy_at_eps": {"<eps>": ACC}, "median_distance_successful"}
    },
    summary: {clean, pgd_linf, pgd_l2, pgd_margin_linf, pgd_margin_l2, square, square_l2, transfer, transfer_l2,
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
    (each of the four is {"available": false} when its module is missing or extras=False)
    gates: {gate_name: {"passed": bool, "detail": {...}}},
    sanity_gates_passed: bool,
    wall_time_per_100_images_s: {"<attack>@<eps>": seconds},
    wall_time_s

    ACC    = {"accuracy": mean, "ci95": half-width|null, "per_draw": [..]}
    ATTACK = ACC + {"attack_success_rate", "mean_distance", "max_distance", "wall_time_s",
                    "wall_time_per_100_images_s", "config": {..}, "extra": {..}}

Summary figures are accuracies (fractions in [0, 1]) at the suite's headline eps;
``worst_case_*`` counts an example robust only if it survives every attack of that norm at the
headline eps (per example, the lowest robust rate over attacks).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from analogeq.robustness import gates as G
from analogeq.robustness.attacks import (
    APGD,
    FGSM,
    PGD,
    APGDTargeted,
    AttackResult,
    CarliniWagnerL2,
    Square,
    Transfer,
)
from analogeq.robustness.attacks.common import check_batch, check_int, margin
from analogeq.robustness.eot import loss_and_gradient
from analogeq.robustness.suite import AttackSuite, get_suite
from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate
from analogeq.stats import mean_ci95

logger = logging.getLogger(__name__)

SCHEMA = "analogeq.robustness/1"


# --------------------------------------------------------------------------- helpers
def eps_key(eps: float) -> str:
    """JSON key of an eps value: shortest exact repr (0.1 -> "0.1", 1.0 -> "1.0")."""
    return repr(float(eps))


def _jsonable(obj: Any) -> Any:
    """Replace NaN/inf by None, tensors by lists, tuples by lists (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _jsonable(obj.item())
    return obj


class _Evaluator:
    """Bookkeeping of one evaluation (kept private: the public API is evaluate_robustness)."""

    def __init__(self, substrate, x, y, suite: AttackSuite, seed: int, gradient: GradientSpec, batch_size: int):
        self.substrate = substrate
        self.x, self.y = x, y
        self.suite = suite
        self.seed = seed
        self.gradient = gradient
        self.batch_size = batch_size
        self.n = x.shape[0]
        self.eot = 1
        self.draws = 1
        self.timings: dict[str, float] = {}
        #: adversarial batches kept for detection and the energy view: (key, eps) -> x_adv
        self.adversarial: dict[tuple[str, float], torch.Tensor] = {}

    # ----------------------------------------------------------------- evaluation over draws
    @torch.no_grad()
    def predictions(self, x: torch.Tensor, salt: int) -> list[torch.Tensor]:
        """``draws`` independent predictions (B,) each (reseeded so that reruns agree)."""
        self.substrate.reseed(self.seed * 1000 + salt)
        out = []
        for _ in range(self.draws):
            preds = [self.substrate.predict(x[i:i + self.batch_size]).cpu() for i in range(0, self.n, self.batch_size)]
            out.append(torch.cat(preds))
        return out

    def accuracy(self, correct_draws: list[torch.Tensor]) -> tuple[dict[str, Any], torch.Tensor]:
        """ACC dict and the per-example robust rate from per-draw correctness masks."""
        per_draw = [float(c.float().mean()) for c in correct_draws]
        mean, half = mean_ci95(per_draw)
        rate = torch.stack([c.float() for c in correct_draws]).mean(dim=0)
        return {"accuracy": mean, "ci95": half if len(per_draw) > 1 else None, "per_draw": per_draw}, rate

    # ----------------------------------------------------------------- running attacks
    def run(self, attack) -> tuple[AttackResult, float]:
        """Run ``attack`` in chunks of ``batch_size``; returns the merged result and its wall time.

        Chunk k > 0 runs with the attack's seed + 7919 k, so that chunks do not repeat the random
        starts and noise draws of the first (the first chunk is the attack exactly as given)."""
        substrate = self.substrate
        started = time.perf_counter()
        parts = []
        for k, i in enumerate(range(0, self.n, self.batch_size)):
            chunk_attack = attack
            if k > 0 and "seed" in getattr(attack, "__dataclass_fields__", {}):
                chunk_attack = dataclasses.replace(attack, seed=attack.seed + 7919 * k)
            parts.append(chunk_attack(substrate, self.x[i:i + self.batch_size], self.y[i:i + self.batch_size]))
        wall = time.perf_counter() - started
        first = parts[0]
        merged = AttackResult(
            x_adv=torch.cat([p.x_adv for p in parts]),
            success=torch.cat([p.success for p in parts]),
            distance=torch.cat([p.distance for p in parts]),
            norm=first.norm,
            attack=first.attack,
            config=first.config,
            wall_time_s=wall,
            extra=first.extra if len(parts) == 1 else {"chunks": [p.extra for p in parts]},
        )
        return merged, wall

    def attack_entry(self, key: str, eps: float, attack, salt: int) -> tuple[dict[str, Any], torch.Tensor, AttackResult]:
        result, wall = self.run(attack)
        self.adversarial[(key, float(eps))] = result.x_adv
        correct = [p == self.y.cpu() for p in self.predictions(result.x_adv, salt)]
        acc, rate = self.accuracy(correct)
        per100 = wall / self.n * 100.0
        self.timings[f"{key}@{eps_key(eps)}"] = per100
        entry = {
            **acc,
            "attack_success_rate": result.success_rate,
            "mean_distance": float(result.distance.mean()),
            "max_distance": float(result.distance.max()),
            "wall_time_s": wall,
            "wall_time_per_100_images_s": per100,
            "config": result.config,
            "extra": result.extra,
        }
        logger.info("%s eps=%s: accuracy %.4f (%.1f s)", key, eps_key(eps), acc["accuracy"], wall)
        return entry, rate, result


def _probe_settling(substrate: Substrate, x: torch.Tensor, seed: int) -> dict[str, Any]:
    """Does the substrate's differentiable path depend on the settling gradient mode?

    Compares ``attack_logits`` with settle="full" and settle="truncated" (one step) under the
    same reseed. A feed-forward network ignores the GradientSpec and gives identical scores.
    """
    probe = x[: min(16, x.shape[0])]
    try:
        with torch.no_grad():
            substrate.reseed(seed)
            full = substrate.attack_logits(probe, GradientSpec("full")).detach().float()
            substrate.reseed(seed)
            full_again = substrate.attack_logits(probe, GradientSpec("full")).detach().float()
            substrate.reseed(seed)
            short = substrate.attack_logits(probe, GradientSpec("truncated", 1)).detach().float()
    except NotImplementedError as exc:
        return {"has_settling": None, "reproducible": None, "note": f"probe failed: {exc}"}
    reproducible = bool(torch.equal(full, full_again))
    difference = float((full - short).abs().max().detach())
    # when reseed does not reproduce the draws we cannot tell noise from settling: assume settling
    has_settling = difference > 1e-6 if reproducible else True
    return {"has_settling": has_settling, "reproducible": reproducible, "max_difference_full_vs_truncated_1": difference}


# --------------------------------------------------------------------------- optional parts
def _optional(name: str):
    """Import ``analogeq.robustness.<name>`` if it exists (other parts of the harness)."""
    import importlib

    try:
        return importlib.import_module(f"analogeq.robustness.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"analogeq.robustness.{name}",):
            return None
        raise


def _corruptions(ev: _Evaluator, clean_acc: float) -> dict[str, Any]:
    """Accuracy under the 19 CIFAR-10-C corruptions x severities on the first
    ``corruption_examples`` examples: each corrupted batch is made once (seeded) and classified
    over the evaluation draws; ``mean`` is the mean over types and severities (per draw, then
    mean and 95% interval over draws)."""
    module = _optional("corruptions")
    suite = ev.suite
    if module is None or not hasattr(module, "corrupt") or not suite.corruption_severities or suite.corruption_examples == 0:
        return {"available": False}
    if ev.x.dim() != 4 or ev.x.shape[1] not in (1, 3):
        return {"available": False, "note": f"corruptions need (C, H, W) images with C in (1, 3), got {tuple(ev.x.shape[1:])}"}
    started = time.perf_counter()
    names = suite.corruption_names or tuple(module.CORRUPTION_NAMES)
    m = min(ev.n, suite.corruption_examples)
    x, y = ev.x[:m].cpu(), ev.y[:m].cpu()
    cells = [(name, sev) for name in names for sev in suite.corruption_severities]
    per_cell = {}  # (name, severity) -> accuracy per draw
    ev.substrate.reseed(ev.seed * 1000 + 900)
    for name, sev in cells:
        correct = [torch.zeros(m, dtype=torch.bool) for _ in range(ev.draws)]
        for i in range(0, m, ev.batch_size):
            xc = module.corrupt(x[i:i + ev.batch_size], name, sev, ev.seed, first_index=i).to(ev.substrate.device)
            for d in range(ev.draws):
                correct[d][i:i + xc.shape[0]] = ev.substrate.predict(xc).cpu() == y[i:i + xc.shape[0]]
        per_cell[(name, sev)] = [float(c.float().mean()) for c in correct]
    per_draw = [sum(v[d] for v in per_cell.values()) / len(per_cell) for d in range(ev.draws)]
    mean, half = mean_ci95(per_draw)
    wall = time.perf_counter() - started
    ev.timings["corruptions"] = wall / m * 100.0
    table = {name: {str(sev): sum(per_cell[(name, sev)]) / ev.draws for sev in suite.corruption_severities} for name in names}
    return {"available": True, "mean": mean, "ci95": half if ev.draws > 1 else None, "per_draw": per_draw,
            "clean_accuracy": clean_acc, "n_examples": m, "severities": list(suite.corruption_severities),
            "table": table, "wall_time_s": wall}


def _certification(ev: _Evaluator) -> dict[str, Any]:
    """Randomized-smoothing CERTIFY on the first ``certify_examples`` examples."""
    module = _optional("certify")
    suite = ev.suite
    if module is None or not hasattr(module, "certify") or suite.certify_examples == 0:
        return {"available": False}
    started = time.perf_counter()
    m = min(ev.n, suite.certify_examples)
    x, y = ev.x[:m], ev.y[:m]
    result = module.certify(ev.substrate, x, suite.certify_sigma, n0=suite.certify_n0, n=suite.certify_n,
                            alpha=suite.certify_alpha, batch_size=min(suite.certify_n, 1000), seed=ev.seed)
    summary = dict(module.summarize(result, y.cpu(), suite.certify_radii))
    wall = time.perf_counter() - started
    ev.timings["certification"] = wall / m * 100.0
    return {"available": True, "sigma": suite.certify_sigma, "n0": suite.certify_n0, "n": suite.certify_n,
            "alpha": suite.certify_alpha, "n_examples": m, **summary, "wall_time_s": wall}


def _detection(ev: _Evaluator, adversarial: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Feature squeezing (Xu et al. 2018), threshold at 5% false positives fitted on the first
    half of the clean batch; false positives measured on the second half, detection rates on
    the adversarial versions of the second half. Grey images get Xu et al.'s MNIST squeezers
    (1 bit, 2x2 median), colour images their CIFAR-10 joint detector (5 bits, 2x2 median,
    NL-means 13-3-2)."""
    module = _optional("detect")
    if module is None or not hasattr(module, "FeatureSqueezing") or not adversarial:
        return {"available": False}
    if ev.x.dim() != 4 or ev.n < 4:
        return {"available": False, "note": "feature squeezing needs (C, H, W) images and at least 4 examples"}
    started = time.perf_counter()
    half = ev.n // 2
    draws = min(ev.draws, 5)
    if ev.x.shape[1] == 1:
        config = module.FeatureSqueezingConfig(bits=1, median_size=2, nl_means=None, n_draws=draws)
    else:
        config = module.FeatureSqueezingConfig(n_draws=draws)
    ev.substrate.reseed(ev.seed * 1000 + 800)
    detector = module.FeatureSqueezing(ev.substrate, config).fit(ev.x[:half])
    report = detector.evaluate(ev.x[half:], {k: v[half:] for k, v in adversarial.items()}, labels=ev.y[half:].cpu())
    wall = time.perf_counter() - started
    ev.timings["detection"] = wall / ev.n * 100.0
    return {"available": True, "n_calibration": half, **report, "wall_time_s": wall}


def _energy(ev: _Evaluator, adversarial: dict[str, torch.Tensor]) -> dict[str, Any]:
    """E(x) = -logsumexp f(x) of the clean batch and of each headline adversarial batch."""
    module = _optional("energy")
    if module is None or not hasattr(module, "energy_comparison") or not adversarial:
        return {"available": False}
    started = time.perf_counter()
    draws = min(ev.draws, 5)
    ev.substrate.reseed(ev.seed * 1000 + 700)
    out = {name: module.energy_comparison(ev.substrate, ev.x, x_adv, batch_size=ev.batch_size, n_draws=draws).to_dict()
           for name, x_adv in adversarial.items()}
    wall = time.perf_counter() - started
    ev.timings["energy"] = wall / ev.n * 100.0
    return {"available": True, "n_draws": draws, "attacks": out, "wall_time_s": wall}


# --------------------------------------------------------------------------- the entry point
def evaluate_robustness(
    substrate: Substrate,
    x: torch.Tensor,
    y: torch.Tensor,
    suite: str | AttackSuite = "quick",
    reference_substrate: Substrate | None = None,
    seed: int = 0,
    gradient: GradientSpec | None = None,
    batch_size: int = 512,
    extras: bool = True,
) -> dict[str, Any]:
    """Run the attack suite on ``substrate`` with ``(x, y)`` and return the result dict.

    substrate: any Substrate. x: (B, *input_shape) pixels in [0, 1]; y: (B,) integer labels.
    suite: "quick", "full" or an :class:`AttackSuite`.
    reference_substrate: source of the transfer attacks (e.g. the float model when the
        substrate is hardware); None skips transfer.
    seed: seeds attacks, evaluation draws and corruptions (same seed, same numbers).
    gradient: the GradientSpec of the white-box attacks (default: full backprop through the
        settling). The gradient-mode comparison runs in addition.
    batch_size: attacks and predictions run in chunks of this many examples.
    extras: also run corruptions, certification, detection and the energy view where the
        modules exist.
    """
    started = time.perf_counter()
    suite = get_suite(suite)
    gradient = gradient if gradient is not None else GradientSpec()
    if not isinstance(gradient, GradientSpec):
        raise TypeError(f"gradient must be a GradientSpec, got {type(gradient).__name__}")
    check_int("seed", seed, 0)
    check_int("batch_size", batch_size, 1)
    x, y = check_batch(substrate, x, y)
    if reference_substrate is not None and not isinstance(reference_substrate, Substrate):
        raise TypeError(f"reference_substrate must be a Substrate or None, got {type(reference_substrate).__name__}")
    ev = _Evaluator(substrate, x, y, suite, seed, gradient, batch_size)
    gates: dict[str, dict[str, Any]] = {}
    attacks: dict[str, dict[str, Any]] = {}
    rates: dict[tuple[str, float], torch.Tensor] = {}
    kinds: dict[str, tuple[str, bool]] = {}  # attack key -> (norm, white box?)

    # randomness: AutoAttack-style detection, then EOT and draws
    substrate.reseed(seed)
    detection = G.detect_randomness(substrate, x[:batch_size], passes=suite.randomness_passes)
    stochastic = detection["detected"] or detection["declared"]
    ev.eot = suite.eot_samples if stochastic else 1
    ev.draws = suite.draws if stochastic else 1
    gates["randomness_detected_and_eot"] = G.randomness_detected_and_eot(detection, ev.eot, ev.draws)

    clean_preds = ev.predictions(x, salt=1)
    clean, clean_rate = ev.accuracy([p == y.cpu() for p in clean_preds])

    def white(cls, **kw):
        return cls(gradient=gradient, eot_samples=ev.eot, seed=seed, **kw)

    def add(key, eps, attack, salt, norm, white_box=True):
        entry, rate, result = ev.attack_entry(key, eps, attack, salt)
        attacks.setdefault(key, {})[eps_key(eps)] = entry
        rates[(key, float(eps))] = rate
        kinds[key] = (norm, white_box)
        return entry, result

    salt = 10
    linf_all = sorted(set(suite.linf_eps) | {suite.headline_linf_eps})
    l2_all = sorted(set(suite.l2_eps) | {suite.headline_l2_eps})
    for eps in linf_all + [suite.unbounded_linf_eps]:
        add("pgd_linf", eps, white(PGD, eps=eps, norm="linf", steps=suite.pgd_steps,
                                   step_size=suite.pgd_step_factor * eps / suite.pgd_steps,
                                   restarts=suite.pgd_restarts), salt := salt + 1, "linf")
        if suite.fgsm:
            add("fgsm_linf", eps, white(FGSM, eps=eps, norm="linf"), salt := salt + 1, "linf")
        if suite.seed_study_pgd:
            add("pgd_linf_seed_study", eps, white(PGD, eps=eps, norm="linf", steps=20, step_size=2.5 * eps / 20,
                                                  restarts=1), salt := salt + 1, "linf")
    for eps in l2_all:
        add("pgd_l2", eps, white(PGD, eps=eps, norm="l2", steps=suite.pgd_steps,
                                 step_size=suite.pgd_step_factor * eps / suite.pgd_steps,
                                 restarts=suite.pgd_restarts), salt := salt + 1, "l2")

    headlines = (("linf", suite.headline_linf_eps), ("l2", suite.headline_l2_eps))
    if suite.margin_pgd:
        for norm, eps in headlines:
            add(f"pgd_margin_{norm}", eps, white(PGD, eps=eps, norm=norm, steps=suite.pgd_steps, loss="margin",
                                                 step_size=suite.pgd_step_factor * eps / suite.pgd_steps,
                                                 restarts=suite.pgd_restarts), salt := salt + 1, norm)
    if suite.apgd_steps > 0:
        for norm, eps in headlines:
            add(f"apgd_ce_{norm}", eps, white(APGD, eps=eps, norm=norm, steps=suite.apgd_steps, loss="ce"), salt := salt + 1, norm)
            if substrate.num_classes >= 3:
                add(f"apgd_dlr_{norm}", eps, white(APGD, eps=eps, norm=norm, steps=suite.apgd_steps, loss="dlr"), salt := salt + 1, norm)
            if suite.apgd_targets > 0 and substrate.num_classes >= 4:
                add(f"apgd_t_{norm}", eps, white(APGDTargeted, eps=eps, norm=norm, steps=suite.apgd_steps,
                                                 targets=suite.apgd_targets), salt := salt + 1, norm)
    if suite.cw_steps > 0:
        attacks["cw_l2"] = _cw_entry(ev, white(CarliniWagnerL2, steps=suite.cw_steps, search_steps=suite.cw_search_steps),
                                     clean_preds, l2_all, rates, salt := salt + 1)
        kinds["cw_l2"] = ("l2", True)
    if suite.square_queries > 0:
        for norm, eps in headlines:
            add(f"square_{norm}", eps, Square(eps=eps, norm=norm, queries=suite.square_queries,
                                              score_draws=1, seed=seed), salt := salt + 1, norm, False)
    if suite.transfer and reference_substrate is not None:
        for norm, eps in headlines:
            inner = PGD(eps=eps, norm=norm, steps=suite.pgd_steps, step_size=suite.pgd_step_factor * eps / suite.pgd_steps,
                        restarts=suite.pgd_restarts, gradient=gradient, seed=seed,
                        eot_samples=suite.eot_samples if reference_substrate.stochastic else 1)
            add(f"transfer_{norm}", eps, Transfer(attack=inner, source=reference_substrate, check_draws=ev.eot),
                salt := salt + 1, norm, False)

    # ----------------------------------------------------------------- gates
    tol = suite.gate_tolerance
    fgsm_map = {e: (attacks["fgsm_linf"][eps_key(e)]["accuracy"], rates[("fgsm_linf", e)]) for e in linf_all} if suite.fgsm else {}
    pgd_map = {e: (attacks["pgd_linf"][eps_key(e)]["accuracy"], rates[("pgd_linf", e)]) for e in linf_all}
    if suite.fgsm:
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

    for norm, eps in headlines:
        whites = [r for (k, e), r in rates.items() if e == eps and kinds[k] == (norm, True)]
        for other, gate_name in ((f"square_{norm}", f"white_box_beats_black_box_{norm}"),
                                 (f"transfer_{norm}", f"white_box_beats_transfer_{norm}")):
            if (other, eps) in rates:
                gates[gate_name] = G.white_box_beats(whites, rates[(other, eps)], tol, other, eps)

    if suite.convergence_steps > 0 and suite.convergence_restarts > 0:
        eps = suite.headline_linf_eps
        doubled = white(PGD, eps=eps, norm="linf", steps=suite.convergence_steps,
                        step_size=suite.pgd_step_factor * eps / suite.convergence_steps,
                        restarts=suite.convergence_restarts)
        entry, _, _ = ev.attack_entry("pgd_linf_converged", eps, doubled, salt := salt + 1)
        attacks.setdefault("pgd_linf_converged", {})[eps_key(eps)] = entry
        base = attacks["pgd_linf"][eps_key(eps)]
        conv_tol = max(tol, (base["ci95"] or 0.0) + (entry["ci95"] or 0.0))
        gates["converged"] = G.converged(base["accuracy"], entry["accuracy"], conv_tol, {
            "eps": eps, "steps": [suite.pgd_steps, suite.convergence_steps],
            "restarts": [suite.pgd_restarts, suite.convergence_restarts]})

    gates.update(_gradient_gates(ev, clean_preds))

    # ----------------------------------------------------------------- gradient modes
    gradient_modes = _gradient_modes(ev, white, salt + 100) if suite.gradient_modes else None

    # ----------------------------------------------------------------- summary
    summary = {
        "clean": clean["accuracy"],
        "headline_linf_eps": suite.headline_linf_eps,
        "headline_l2_eps": suite.headline_l2_eps,
    }
    for name, key, eps in (("pgd_linf", "pgd_linf", suite.headline_linf_eps), ("pgd_l2", "pgd_l2", suite.headline_l2_eps),
                           ("square", "square_linf", suite.headline_linf_eps), ("square_l2", "square_l2", suite.headline_l2_eps),
                           ("pgd_margin_linf", "pgd_margin_linf", suite.headline_linf_eps),
                           ("pgd_margin_l2", "pgd_margin_l2", suite.headline_l2_eps),
                           ("transfer", "transfer_linf", suite.headline_linf_eps),
                           ("transfer_l2", "transfer_l2", suite.headline_l2_eps)):
        summary[name] = attacks.get(key, {}).get(eps_key(eps), {}).get("accuracy")
    for norm, eps in headlines:
        same = [r for (k, e), r in rates.items() if e == eps and kinds[k][0] == norm]
        summary[f"worst_case_{norm}"] = float(torch.stack(same).min(dim=0).values.mean()) if same else None

    # ----------------------------------------------------------------- other parts of the harness
    corruptions = certification = detection_out = energy = {"available": False}
    if extras:
        corruptions = _corruptions(ev, clean["accuracy"])
        headline_adv = {f"{key}@{eps_key(eps)}": ev.adversarial[(key, eps)]
                        for key, eps in (("pgd_linf", suite.headline_linf_eps), ("pgd_l2", suite.headline_l2_eps),
                                         ("square_linf", suite.headline_linf_eps), ("square_l2", suite.headline_l2_eps))
                        if (key, eps) in ev.adversarial}
        certification = _certification(ev)
        detection_out = _detection(ev, headline_adv)
        energy = _energy(ev, headline_adv)
    summary["corruptions_mean"] = corruptions.get("mean")
    summary["certified_at_r"] = certification.get("certified_accuracy")

    result = {
        "schema": SCHEMA,
        "suite": suite.to_dict(),
        "substrate": substrate.describe(),
        "reference_substrate": reference_substrate.describe() if reference_substrate is not None else None,
        "n_examples": ev.n,
        "seed": seed,
        "gradient": gradient.to_dict(),
        "cost": substrate.cost(),
        "versions": _versions(),
        "stochastic": {**detection, "eot_samples": ev.eot, "draws": ev.draws},
        "clean": clean,
        "attacks": attacks,
        "summary": summary,
        "gradient_modes": gradient_modes,
        "corruptions": corruptions,
        "certification": certification,
        "detection": detection_out,
        "energy": energy,
        "gates": gates,
        "sanity_gates_passed": G.all_passed(gates),
        "wall_time_per_100_images_s": dict(ev.timings),
        "wall_time_s": time.perf_counter() - started,
    }
    return _jsonable(result)


def _cw_entry(ev: _Evaluator, attack: CarliniWagnerL2, clean_preds, l2_eps, rates, salt) -> dict[str, Any]:
    """C&W is unbounded: an example counts as broken at eps only if its C&W point is within eps."""
    result, wall = ev.run(attack)
    adv_preds = ev.predictions(result.x_adv, salt)
    y = ev.y.cpu()
    by_eps = {}
    for eps in l2_eps:
        inside = result.distance <= eps
        correct = [torch.where(inside, a == y, c == y) for a, c in zip(adv_preds, clean_preds)]
        acc, rate = ev.accuracy(correct)
        by_eps[eps_key(eps)] = acc
        rates[("cw_l2", float(eps))] = rate
    unbounded, _ = ev.accuracy([a == y for a in adv_preds])
    ev.timings["cw_l2"] = wall / ev.n * 100.0
    ok = result.success
    return {
        **unbounded,
        "attack_success_rate": result.success_rate,
        "accuracy_at_eps": by_eps,
        "median_distance_successful": float(result.distance[ok].median()) if bool(ok.any()) else None,
        "mean_distance": float(result.distance.mean()),
        "max_distance": float(result.distance.max()),
        "wall_time_s": wall,
        "wall_time_per_100_images_s": wall / ev.n * 100.0,
        "config": result.config,
        "extra": {},
    }


def _gradient_gates(ev: _Evaluator, clean_preds) -> dict[str, dict[str, Any]]:
    """gradients_nonzero and surrogate_agrees on the clean batch with the evaluation's GradientSpec."""
    x, y = ev.x, ev.y
    ev.substrate.reseed(ev.seed * 1000 + 5)
    grads, scores = [], []
    for i in range(0, ev.n, ev.batch_size):
        xb, yb = x[i:i + ev.batch_size], y[i:i + ev.batch_size]
        _, g, z = loss_and_gradient(ev.substrate, xb, lambda z, yb=yb: -margin(z, yb), ev.gradient, ev.eot)
        grads.append(g.cpu())
        scores.append(z.cpu())
    grad = torch.cat(grads)
    pred_attack = torch.cat(scores).argmax(dim=1)
    pred_model = torch.mode(torch.stack(clean_preds), dim=0).values
    return {
        "gradients_nonzero": G.gradients_nonzero(grad, ev.suite.gate_tolerance),
        "surrogate_agrees": G.surrogate_agrees(pred_attack, pred_model, 1.0 - ev.suite.gate_tolerance, ev.gradient),
    }


def _gradient_modes(ev: _Evaluator, white, salt: int) -> dict[str, Any] | None:
    """PGD L_inf at the headline eps with each settling gradient mode (substrates with settling)."""
    probe = _probe_settling(ev.substrate, ev.x, ev.seed)
    if probe["has_settling"] is False:
        return {"probe": probe, "modes": None, "full_at_least_as_strong": None,
                "note": "the differentiable path does not depend on the settling mode (no settling)"}
    suite = ev.suite
    eps = suite.headline_linf_eps
    specs = {"full": GradientSpec("full"), "implicit": GradientSpec("implicit")}
    specs.update({f"truncated_{t}": GradientSpec("truncated", t) for t in suite.truncated_steps})
    modes: dict[str, Any] = {}
    for i, (name, spec) in enumerate(specs.items()):
        attack = PGD(eps=eps, norm="linf", steps=suite.pgd_steps, step_size=suite.pgd_step_factor * eps / suite.pgd_steps,
                     restarts=suite.pgd_restarts, gradient=spec, eot_samples=ev.eot, seed=ev.seed)
        try:
            entry, _, _ = ev.attack_entry(f"pgd_linf_{name}", eps, attack, salt + i)
        except NotImplementedError as exc:
            modes[name] = {"unavailable": str(exc)}
            continue
        modes[name] = entry
    full = modes["full"]
    stronger = {}
    for t in suite.truncated_steps:
        trunc = modes[f"truncated_{t}"]
        if full.get("accuracy") is not None and trunc.get("accuracy") is not None:
            slack = (full.get("ci95") or 0.0) + (trunc.get("ci95") or 0.0)
            stronger[f"truncated_{t}"] = full["accuracy"] <= trunc["accuracy"] + slack
    return {"probe": probe, "eps": eps, "modes": modes, "full_at_least_as_strong": stronger}


def _versions() -> dict[str, str]:
    import analogeq

    return {"analogeq": analogeq.__version__, "torch": torch.__version__}


# --------------------------------------------------------------------------- reports
def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("accuracy") is None:
        return "-"
    text = f"{100 * entry['accuracy']:.1f}"
    if entry.get("ci95") is not None:
        text += f" ± {100 * entry['ci95']:.1f}"
    return text


def to_markdown(result: dict[str, Any]) -> str:
    """Markdown: accuracy (%) per attack and eps, wall time per 100 images, and the gates."""
    lines = [f"## Robustness of `{result['substrate'].get('substrate', '?')}` ({result['suite']['name']} suite, "
             f"{result['n_examples']} examples, seed {result['seed']})", ""]
    st = result["stochastic"]
    lines.append(f"Gradient: `{json.dumps(result['gradient'])}`; stochastic: declared {st['declared']}, detected "
                 f"{st['detected']}; EOT K = {st['eot_samples']}; accuracy over {st['draws']} draw(s)"
                 + (" (mean ± 95% CI)" if st["draws"] > 1 else "") + ".")
    lines += ["", "| attack | eps | accuracy (%) | attack success (%) | s / 100 images |", "|---|---|---|---|---|",
              f"| clean | 0 | {_fmt(result['clean'])} | | |"]
    for key, by_eps in result["attacks"].items():
        if key == "cw_l2":
            for e, acc in by_eps["accuracy_at_eps"].items():
                lines.append(f"| cw_l2 | {e} | {_fmt(acc)} | | {by_eps['wall_time_per_100_images_s']:.2f} |")
            continue
        for e, entry in by_eps.items():
            lines.append(f"| {key} | {e} | {_fmt(entry)} | {100 * entry['attack_success_rate']:.1f} | "
                         f"{entry['wall_time_per_100_images_s']:.2f} |")
    modes = (result.get("gradient_modes") or {}).get("modes")
    if modes:
        lines += ["", f"Gradient modes (PGD L_inf, eps {result['gradient_modes']['eps']}):", "",
                  "| gradient | accuracy (%) | s / 100 images |", "|---|---|---|"]
        for name, entry in modes.items():
            if "unavailable" in entry:
                lines.append(f"| {name} | unavailable | |")
            else:
                lines.append(f"| {name} | {_fmt(entry)} | {entry['wall_time_per_100_images_s']:.2f} |")
    others = []
    if result["corruptions"].get("available"):
        others.append(f"corruptions mean accuracy: {_fmt({'accuracy': result['corruptions']['mean'], 'ci95': result['corruptions']['ci95']})} %")
    cert = result["certification"]
    if cert.get("available"):
        radii = ", ".join(f"{100 * acc:.1f} % at r = {r}" for r, acc in cert["certified_accuracy"].items())
        others.append(f"randomized smoothing (sigma {cert['sigma']}, n {cert['n']}, {cert['n_examples']} examples): "
                      f"certified accuracy {radii}; abstained {100 * cert['abstain_rate']:.1f} %")
    det = result["detection"]
    if det.get("available"):
        rates = ", ".join(f"{k} {100 * v['detection_rate']:.1f} %" for k, v in det["attacks"].items())
        others.append(f"feature squeezing (threshold at {100 * det['config']['false_positive_rate']:.0f} % FPR, "
                      f"measured FPR {100 * det['false_positive_rate']:.1f} %): detection {rates}")
    en = result["energy"]
    if en.get("available"):
        gaps = ", ".join(f"{k} gap {v['mean_gap']:+.3f} (AUROC {v['auroc']:.2f})" for k, v in en["attacks"].items())
        others.append(f"energy E(x) = -logsumexp f(x), adversarial - natural: {gaps}")
    if others:
        lines += [""] + [f"- {o}" for o in others]
    lines += ["", "| sanity gate | passed |", "|---|---|"]
    for name, g in result["gates"].items():
        lines.append(f"| {name} | {'yes' if g['passed'] else '**NO**'} |")
    lines.append("")
    return "\n".join(lines)


def compare_markdown(results: dict[str, dict[str, Any]]) -> str:
    """One row per substrate: the summary figures side by side (accuracy %)."""
    cols = ["clean", "pgd_linf", "pgd_l2", "square", "transfer", "worst_case_linf"]
    lines = ["| substrate | " + " | ".join(cols) + " | corruptions | gates passed |",
             "|---" * (len(cols) + 3) + "|"]
    for name, r in results.items():
        s = r["summary"]
        cells = [("-" if s.get(c) is None else f"{100 * s[c]:.1f}") for c in cols]
        corr = r["corruptions"].get("mean")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'-' if corr is None else f'{100 * corr:.1f}'} | "
                     f"{'yes' if r['sanity_gates_passed'] else 'no'} |")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(result: dict[str, Any], out_dir: str | Path, stem: str = "robustness") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` atomically; returns both paths."""
    out = Path(out_dir)
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    _atomic_write(json_path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    _atomic_write(md_path, to_markdown(result))
    return json_path, md_path
