"""Sanity gates: checks that an adversarial evaluation is not fooling itself.

After Carlini et al. 2019 ("On evaluating adversarial robustness", section 5 checklist) and
Athalye et al. 2018 (obfuscated gradients: BPDA, EOT). Each gate is a pure function of results
the evaluation already has and returns ``{"passed": bool, "detail": {...}}``; the evaluation
runs all of them every time and reports them (:func:`analogeq.robustness.evaluate.evaluate_robustness`).

Per-example results are *robust rates* in [0, 1]: the fraction of evaluation draws in which the
example was still classified correctly (0 or 1 on a deterministic substrate). An attack *broke*
an example when its robust rate is below 1/2.

Gates
-----
iterative_beats_single_step   PGD accuracy <= FGSM accuracy (+ tolerance) at every eps.
accuracy_monotone_in_eps      accuracy does not increase with eps (+ tolerance).
unbounded_reaches_zero        at an eps covering the whole image box accuracy is ~0.
white_box_beats_black_box     no more than ``tolerance`` of the examples broken by Square
                              survive the white-box attacks at the same eps (a sign of
                              gradient masking where they do); the examples are listed.
white_box_beats_transfer      the same for the transfer attack.
converged                     doubling steps and restarts changes accuracy by <= tolerance.
converged_l2                  the same at the headline L2 eps across loss families: the
                              per-example worst of PGD-L2 with cross-entropy and with the
                              margin loss, base budget vs doubled budget.
targeted_vs_untargeted        a targeted attack (APGD-T) at the headline eps of a norm breaks
                              no more than ``targeted_tolerance`` (1 point) of the examples
                              that every untargeted attack of that norm left unbroken; fails
                              when no targeted attack ran (a weak untargeted budget can
                              overstate robustness by 10 points at L2 with every other gate
                              green, measured on the digits EBM).
eot_sufficient                on a stochastic substrate, the cosine between two independent
                              K-draw EOT estimates of the attack gradient (mean over examples)
                              is >= ``eot_min_cosine``; the evaluation doubles K (up to
                              ``eot_max_samples``) until it is, and fails with the figure if not.
randomness_detected_and_eot   several forward passes: if the logits move the model is
                              stochastic, and then EOT (K > 1) and several evaluation draws
                              with 95% intervals must be in use.
gradients_nonzero             the attack gradient is not exactly zero for (almost) every example.
surrogate_agrees              the differentiable path predicts what ``logits`` predicts.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from analogeq.contract import GradientSpec
from analogeq.substrates.base import Substrate
from hardware_models.params import check_int

#: how many example indices a gate lists in its detail
MAX_LISTED = 20


def gate(passed: bool, **detail: Any) -> dict[str, Any]:
    return {"passed": bool(passed), "detail": detail}


def _broken(robust_rate: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(robust_rate, dtype=torch.float32) < 0.5


def _listed(mask: torch.Tensor) -> list[int]:
    return [int(i) for i in mask.nonzero().flatten()[:MAX_LISTED]]


def iterative_beats_single_step(
    fgsm: dict[float, tuple[float, torch.Tensor]],
    pgd: dict[float, tuple[float, torch.Tensor]],
    tolerance: float,
) -> dict[str, Any]:
    """``fgsm``/``pgd``: eps -> (accuracy, per-example robust rate). Passes when, at every eps
    both ran, PGD accuracy <= FGSM accuracy + tolerance. Also counts examples FGSM broke and PGD
    did not (informative: a per-example reversal is possible, a large count is not)."""
    rows = []
    ok = True
    for eps in sorted(set(fgsm) & set(pgd)):
        acc_f, rate_f = fgsm[eps]
        acc_p, rate_p = pgd[eps]
        reversed_ = _broken(rate_f) & ~_broken(rate_p)
        passed = acc_p <= acc_f + tolerance
        ok &= passed
        rows.append({"eps": eps, "fgsm_accuracy": acc_f, "pgd_accuracy": acc_p,
                     "fgsm_broke_pgd_did_not": int(reversed_.sum()), "examples": _listed(reversed_)})
    return gate(ok and bool(rows), per_eps=rows, tolerance=tolerance,
                note=None if rows else "no eps where both FGSM and PGD ran")


def accuracy_monotone_in_eps(eps: Sequence[float], accuracy: Sequence[float], tolerance: float, attack: str) -> dict[str, Any]:
    """Accuracy at increasing eps must not increase by more than ``tolerance``."""
    pairs = sorted(zip(eps, accuracy))
    rises = [
        {"from_eps": a[0], "to_eps": b[0], "from_accuracy": a[1], "to_accuracy": b[1]}
        for a, b in zip(pairs, pairs[1:])
        if b[1] > a[1] + tolerance
    ]
    return gate(not rises and len(pairs) >= 2, attack=attack, eps=[p[0] for p in pairs],
                accuracy=[p[1] for p in pairs], rises=rises, tolerance=tolerance)


def unbounded_reaches_zero(eps: float, accuracy: float, threshold: float, attack: str) -> dict[str, Any]:
    """At ``eps`` covering the whole box (L_inf eps = 1 for pixels in [0, 1]) any image is
    reachable, so a working attack leaves accuracy <= threshold."""
    return gate(accuracy <= threshold, attack=attack, eps=eps, accuracy=accuracy, threshold=threshold)


def white_box_beats(
    white_rates: Sequence[torch.Tensor],
    other_rate: torch.Tensor,
    tolerance: float,
    other: str,
    eps: float,
) -> dict[str, Any]:
    """Examples broken by ``other`` (black-box or transfer) that every white-box attack at the
    same eps left unbroken; passes when they are at most ``tolerance`` of the batch."""
    white_broken = torch.zeros_like(_broken(other_rate))
    for rate in white_rates:
        white_broken |= _broken(rate)
    only_other = _broken(other_rate) & ~white_broken
    n = int(other_rate.numel())
    fraction = float(only_other.sum()) / n
    return gate(fraction <= tolerance, other=other, eps=eps, examples_only_other_broke=int(only_other.sum()),
                fraction=fraction, tolerance=tolerance, examples=_listed(only_other),
                white_box_success=float(white_broken.float().mean()),
                other_success=float(_broken(other_rate).float().mean()))


def converged(base: float, doubled: float, tolerance: float, setting: dict[str, Any]) -> dict[str, Any]:
    """Doubling steps and restarts must not change accuracy by more than ``tolerance``."""
    return gate(abs(doubled - base) <= tolerance, accuracy=base, accuracy_doubled=doubled,
                change=doubled - base, tolerance=tolerance, setting=setting)


def _worst(rates: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-example worst (lowest) robust rate over attacks."""
    return torch.stack([torch.as_tensor(r, dtype=torch.float32) for r in rates]).min(dim=0).values


def converged_across_losses(base: Sequence[torch.Tensor], doubled: Sequence[torch.Tensor], tolerance: float,
                            setting: dict[str, Any]) -> dict[str, Any]:
    """``base``/``doubled``: per-example robust rates of the same attacks (one per loss family)
    with the base and the doubled budget. The accuracy of the per-example worst case must not
    move by more than ``tolerance`` when the budget doubles."""
    if not base or len(base) != len(doubled):
        return gate(False, note="no convergence runs (convergence_steps = 0 or convergence_l2 off)", **setting)
    acc = float(_worst(base).mean())
    acc2 = float(_worst(doubled).mean())
    return gate(abs(acc2 - acc) <= tolerance, accuracy=acc, accuracy_doubled=acc2, change=acc2 - acc,
                tolerance=tolerance, setting=setting)


def targeted_vs_untargeted(untargeted: Sequence[torch.Tensor], targeted: torch.Tensor | None, n: int,
                           tolerance: float, attack: str, eps: float) -> dict[str, Any]:
    """How far the targeted attack takes the worst case below the untargeted attacks' alone, on the
    first ``n`` examples (those the targeted attack ran on):

        gap = mean_i u_i - mean_i min(u_i, t_i)

    with u_i the lowest robust rate of example i over the untargeted attacks at this eps and t_i
    the targeted attack's (robust rate: the fraction of evaluation draws the example stayed
    correct; 0 or 1 on a deterministic substrate). Passes when ``gap <= tolerance`` (accuracy
    points as a fraction; 1e-6 of slack for float32 means): the untargeted worst case overstates
    robustness by at most ``tolerance``. On a deterministic substrate the gap is the fraction of
    examples only the targeted attack broke; on a stochastic one an example the targeted attack
    breaks in 6 of 10 draws and the untargeted ones in 4 adds 0.2 / n, not a whole example (a
    majority vote per example would count boundary images, whose outcome is a coin flip per draw,
    whole). ``examples_only_targeted_broke`` (broken in most draws by the targeted attack and in
    at most half by every untargeted one) is reported alongside. ``targeted`` None (no targeted
    attack ran) fails."""
    if targeted is None:
        return gate(False, attack=attack, eps=eps, note="no targeted attack ran at this eps: the worst case "
                    "of untargeted attacks alone can overstate robustness (set targeted_steps and apgd_targets)")
    if not untargeted:
        return gate(False, attack=attack, eps=eps, note="no untargeted attack ran at this eps")
    u_worst = _worst(untargeted)[:n]
    t_rate = torch.as_tensor(targeted, dtype=torch.float32)[:n]
    only_targeted = _broken(t_rate) & ~_broken(u_worst)
    untargeted_acc = float(u_worst.mean())
    with_targeted = float(torch.minimum(u_worst, t_rate).mean())
    gap = untargeted_acc - with_targeted
    return gate(gap <= tolerance + 1e-6, attack=attack, eps=eps, n_examples=n, tolerance=tolerance, gap=gap,
                examples_only_targeted_broke=int(only_targeted.sum()),
                fraction=float(only_targeted.sum()) / max(n, 1),
                untargeted_worst_case=untargeted_acc, targeted_accuracy=float(t_rate.mean()),
                worst_case_with_targeted=with_targeted, examples=_listed(only_targeted))


def eot_sufficient(stochastic: bool, cosines: Sequence[tuple[int, float]], threshold: float,
                   n_examples: int) -> dict[str, Any]:
    """``cosines``: (K, mean cosine between two independent K-draw gradient estimates) for each
    K tried, in order; the last K is the one the attacks use. Passes when the last cosine is
    >= ``threshold`` (always on a deterministic substrate, where one draw is exact)."""
    if not stochastic:
        return gate(True, stochastic=False, note="deterministic: one draw gives the exact gradient")
    if not cosines:
        return gate(False, stochastic=True, note="no EOT estimate was measured")
    k, cos = cosines[-1]
    return gate(cos >= threshold, stochastic=True, eot_samples=k, cosine=cos, threshold=threshold,
                tried=[{"eot_samples": kk, "cosine": c} for kk, c in cosines], n_examples=n_examples)


@torch.no_grad()
def detect_randomness(substrate: Substrate, x: torch.Tensor, passes: int = 5, atol: float = 0.0) -> dict[str, Any]:
    """AutoAttack's check: ``passes`` forward passes of ``logits`` on the same inputs; the model
    is stochastic if any logit moves by more than ``atol``."""
    passes = check_int("passes", passes, minimum=2)
    first = substrate.logits(x).float()
    change = 0.0
    for _ in range(passes - 1):
        change = max(change, float((substrate.logits(x).float() - first).abs().max()))
    return {"detected": change > atol, "declared": bool(substrate.stochastic), "passes": passes,
            "max_logit_change": change}


def randomness_detected_and_eot(detection: dict[str, Any], eot_samples: int, draws: int) -> dict[str, Any]:
    """Passes when a deterministic model is evaluated as such, or a stochastic one (detected or
    declared) is attacked with EOT (K > 1) and reported over several draws with 95% intervals.
    A model that moves but declares itself deterministic fails (it breaks the protocol)."""
    stochastic = detection["detected"] or detection["declared"]
    if not stochastic:
        passed = True
    else:
        passed = eot_samples > 1 and draws > 1 and not (detection["detected"] and not detection["declared"])
    return gate(passed, **detection, eot_samples=eot_samples, draws=draws)


def gradients_nonzero(grad: torch.Tensor, max_zero_fraction: float) -> dict[str, Any]:
    """Examples whose attack gradient (on the clean input) is exactly zero get no signal from a
    gradient attack: saturated units (hard sigmoid, quantisers without BPDA) mask gradients."""
    zero = grad.reshape(grad.shape[0], -1).abs().amax(dim=1) == 0
    fraction = float(zero.float().mean())
    return gate(fraction <= max_zero_fraction, zero_gradient_fraction=fraction,
                max_zero_fraction=max_zero_fraction, examples=_listed(zero))


def surrogate_agrees(pred_attack: torch.Tensor, pred_model: torch.Tensor, min_agreement: float, gradient: GradientSpec) -> dict[str, Any]:
    """The differentiable path (``attack_logits`` with this GradientSpec) should predict what the
    model predicts; a surrogate that disagrees attacks a different function (e.g. a truncated
    settling far from the fixed point)."""
    agree = float((pred_attack == pred_model).float().mean())
    return gate(agree >= min_agreement, agreement=agree, min_agreement=min_agreement, gradient=gradient.to_dict())


def all_passed(gates: dict[str, dict[str, Any]]) -> bool:
    return all(g["passed"] for g in gates.values())


def finite_or_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
