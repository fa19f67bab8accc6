"""The gradient checks of an evaluation: the settling probe, the two gradient gates on the clean
batch, and PGD under each settling gradient mode.

Streams (``derive_seed(seed, name)``): ``probe/settling`` for the probe, ``gates/gradient`` for
the gradient gates, ``gates/eot/<K>/a`` and ``/b`` for the two EOT estimates of the EOT gate; the mode runs are attack runs of the plan (``attack/pgd_linf_<mode>/...``).
"""

from __future__ import annotations

from typing import Any

import torch

from analogeq.contract import GradientSpec
from analogeq.robustness import gates as G
from analogeq.robustness.attacks.common import margin
from analogeq.robustness.eot import loss_and_gradient
from analogeq.robustness.plan import AttackRun
from analogeq.robustness.runner import Evaluator
from analogeq.substrates.base import Substrate


def probe_settling(substrate: Substrate, x: torch.Tensor, seed: int) -> dict[str, Any]:
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


def gradient_gates(ev: Evaluator, clean_preds: list[torch.Tensor]) -> dict[str, dict[str, Any]]:
    """gradients_nonzero and surrogate_agrees on the clean batch with the evaluation's GradientSpec
    (gradient of the margin loss -(z_y - max_{i != y} z_i), EOT over ``ev.eot`` draws)."""
    x, y = ev.x, ev.y
    ev.substrate.reseed(ev.seed_of("gates/gradient"))
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


def gradient_modes(ev: Evaluator, runs: dict[str, AttackRun]) -> dict[str, Any]:
    """PGD L_inf at the headline eps with each settling gradient mode (substrates with settling).

    ``full_at_least_as_strong[truncated_T]``: the full gradient leaves no higher accuracy than
    the truncated one, within the sum of their 95% half-widths."""
    probe = probe_settling(ev.substrate, ev.x, ev.seed_of("probe/settling"))
    if probe["has_settling"] is False:
        return {"probe": probe, "modes": None, "full_at_least_as_strong": None,
                "note": "the differentiable path does not depend on the settling mode (no settling)"}
    modes: dict[str, Any] = {}
    for name, run in runs.items():
        try:
            entry, _, _ = ev.attack_entry(run)
        except NotImplementedError as exc:
            modes[name] = {"unavailable": str(exc)}
            continue
        modes[name] = entry
    full = modes["full"]
    stronger = {}
    for t in ev.suite.truncated_steps:
        trunc = modes[f"truncated_{t}"]
        if full.get("accuracy") is not None and trunc.get("accuracy") is not None:
            slack = (full.get("ci95") or 0.0) + (trunc.get("ci95") or 0.0)
            stronger[f"truncated_{t}"] = full["accuracy"] <= trunc["accuracy"] + slack
    return {"probe": probe, "eps": ev.suite.headline_linf_eps, "modes": modes, "full_at_least_as_strong": stronger}


def eot_cosine(ev: Evaluator, samples: int) -> float:
    """Mean over the first ``suite.eot_check_examples`` examples of the cosine between two
    independent ``samples``-draw EOT estimates of the margin-loss gradient at the clean input
    (streams ``gates/eot/<K>/a`` and ``.../b``); examples whose two estimates are both zero are
    left out (1.0 when every one is)."""
    m = min(ev.n, max(ev.suite.eot_check_examples, 1))
    x, y = ev.x[:m], ev.y[:m]
    grads = []
    for half in ("a", "b"):
        ev.substrate.reseed(ev.seed_of(f"gates/eot/{samples}/{half}"))
        parts = []
        for i in range(0, m, ev.batch_size):
            xb, yb = x[i:i + ev.batch_size], y[i:i + ev.batch_size]
            _, g, _ = loss_and_gradient(ev.substrate, xb, lambda z, yb=yb: -margin(z, yb), ev.gradient, samples)
            parts.append(g.flatten(1).double().cpu())
        grads.append(torch.cat(parts))
    a, b = grads
    na, nb = a.norm(dim=1), b.norm(dim=1)
    keep = (na > 0) | (nb > 0)
    if not bool(keep.any()):
        return 1.0
    cos = (a * b).sum(dim=1)[keep] / (na[keep] * nb[keep]).clamp_min(1e-300)
    return float(cos.mean())


def choose_eot(ev: Evaluator, stochastic: bool) -> dict[str, Any]:
    """The ``eot_sufficient`` gate; on a stochastic substrate it sets ``ev.eot``: the suite's K,
    doubled (up to ``suite.eot_max_samples``) while the two estimates' cosine is below
    ``suite.eot_min_cosine``."""
    suite = ev.suite
    n = min(ev.n, max(suite.eot_check_examples, 1))
    if not stochastic or suite.eot_check_examples == 0:
        return G.eot_sufficient(stochastic, [], suite.eot_min_cosine, n)
    k = ev.eot
    tried = [(k, eot_cosine(ev, k))]
    while tried[-1][1] < suite.eot_min_cosine and k < suite.eot_max_samples:
        k = min(2 * k, suite.eot_max_samples)
        tried.append((k, eot_cosine(ev, k)))
    ev.eot = k
    return G.eot_sufficient(True, tried, suite.eot_min_cosine, n)
