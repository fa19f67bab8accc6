"""The gates that catch a weak attack budget (issue 15): targeted vs untargeted at each headline
eps, L2 convergence across loss families, EOT sufficiency. Each fails on a deliberately weak
budget and passes on a strong one, on the closed-form NearestMean digits classifier (seconds)."""

from __future__ import annotations

import pytest
import torch

from analogeq.robustness import gates as G
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.suite import QUICK
from fixtures_robustness import NearestMean, NoisyLogits, digits_split, float_substrate

#: one eps per norm, white-box attacks only, no extras
BASE = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), fgsm=False, gradient_modes=False, transfer=False,
                     square_queries=0, corruption_examples=0, certify_examples=0)
#: PGD 5 steps of 1.0 * eps / 5 and no targeted attack (convergence gate: 10 steps x 4 restarts)
WEAK = BASE.replace(pgd_steps=5, pgd_step_factor=1.0, targeted_steps=0, convergence_steps=10, convergence_restarts=4)
STRONG = BASE.replace(pgd_steps=50, pgd_restarts=5, apgd_steps=50, targeted_steps=20, apgd_targets=9,
                      convergence_steps=100, convergence_restarts=4)


@pytest.fixture(scope="module")
def nearest_mean():
    """NearestMean fitted on the training split, and 40 test digits it classifies correctly."""
    x_tr, y_tr, x_te, y_te = digits_split()
    sub = float_substrate(NearestMean(x_tr, y_tr))
    ok = sub.predict(x_te) == y_te
    return sub, x_te[ok][:40], y_te[ok][:40]


def gates_of(sub, x, y, suite):
    result = evaluate_robustness(sub, x, y, suite=suite, extras=False)
    return result, result["gates"]


def test_weak_budget_fails_the_new_gates(nearest_mean):
    sub, x, y = nearest_mean
    result, gates = gates_of(sub, x, y, WEAK)
    for norm in ("linf", "l2"):
        assert not gates[f"targeted_vs_untargeted_{norm}"]["passed"]  # no targeted attack ran
        assert "no targeted attack" in gates[f"targeted_vs_untargeted_{norm}"]["detail"]["note"]
    conv = gates["converged_l2"]
    assert not conv["passed"] and conv["detail"]["setting"]["losses"] == ["ce", "margin"]
    assert conv["detail"]["accuracy_doubled"] < conv["detail"]["accuracy"] - conv["detail"]["tolerance"]
    assert not result["sanity_gates_passed"]

    # the same weak untargeted budget with a targeted attack: the targeted attack breaks examples
    # every untargeted one missed, the gate lists them and the worst case counts them
    result, gates = gates_of(sub, x, y, WEAK.replace(targeted_steps=20, apgd_targets=9))
    g = gates["targeted_vs_untargeted_l2"]
    assert not g["passed"] and g["detail"]["examples_only_targeted_broke"] >= 2 and g["detail"]["examples"]
    s = result["summary"]
    assert s["worst_case_l2"] <= result["attacks"]["apgd_t_l2"]["1.0"]["accuracy"] + 1e-9
    assert s["worst_case_l2"] == pytest.approx(g["detail"]["worst_case_with_targeted"])
    assert s["worst_case_l2"] < g["detail"]["untargeted_worst_case"] - 0.01


def test_strong_budget_passes_the_new_gates(nearest_mean):
    sub, x, y = nearest_mean
    _, gates = gates_of(sub, x, y, STRONG)
    for name in ("targeted_vs_untargeted_linf", "targeted_vs_untargeted_l2", "converged_l2", "eot_sufficient"):
        assert gates[name]["passed"], (name, gates[name]["detail"])


def test_targeted_attack_on_a_fixed_subset(nearest_mean):
    sub, x, y = nearest_mean
    result, gates = gates_of(sub, x, y, WEAK.replace(targeted_steps=10, apgd_targets=3, targeted_examples=20,
                                                     convergence_steps=0))
    entry = result["attacks"]["apgd_t_l2"]["1.0"]
    assert entry["n_examples"] == 20 and gates["targeted_vs_untargeted_l2"]["detail"]["n_examples"] == 20
    assert result["per_example"]["apgd_t_l2@1.0"]["n_examples"] == 20
    assert gates["converged_l2"]["passed"] is False and "no convergence runs" in gates["converged_l2"]["detail"]["note"]


def noisy_gradient_substrate(nearest_mean, noise=1.0):
    """NearestMean with fresh logit noise on every call, also on the attack path: the margin
    loss's runner-up class changes from draw to draw, so one draw's gradient is a noisy estimate."""
    sub, x, y = nearest_mean
    return NoisyLogits(sub, noise, noisy_gradient=True), x[:24], y[:24]


def test_eot_gate_fails_on_too_few_draws_and_raises_k(nearest_mean):
    sub, x, y = noisy_gradient_substrate(nearest_mean)
    suite = BASE.replace(pgd_steps=2, targeted_steps=2, apgd_targets=2, convergence_steps=0, draws=2,
                         eot_samples=2, eot_max_samples=2)
    result, gates = gates_of(sub, x, y, suite)
    g = gates["eot_sufficient"]
    assert not g["passed"] and g["detail"]["cosine"] < 0.95 and result["stochastic"]["eot_samples"] == 2
    result, gates = gates_of(sub, x, y, suite.replace(eot_max_samples=256))
    g = gates["eot_sufficient"]
    assert g["passed"] and g["detail"]["cosine"] >= 0.95
    tried = [t["eot_samples"] for t in g["detail"]["tried"]]
    assert tried[0] == 2 and tried == sorted(tried) and len(tried) > 1
    assert result["stochastic"]["eot_samples"] == tried[-1]  # the attacks use the raised K
    assert result["attacks"]["pgd_l2"]["1.0"]["config"]["eot_samples"] == tried[-1]


def test_pure_gate_functions():
    r = lambda *v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    assert not G.targeted_vs_untargeted([r(1, 1, 0)], None, 3, 0.01, "apgd_t_l2", 1.0)["passed"]
    g = G.targeted_vs_untargeted([r(1, 1, 0, 1), r(1, 0, 0, 1)], r(0, 1, 1, 1), 4, 0.01, "apgd_t_l2", 1.0)
    assert not g["passed"] and g["detail"]["examples"] == [0]
    assert g["detail"]["untargeted_worst_case"] == 0.5 and g["detail"]["worst_case_with_targeted"] == 0.25
    assert G.targeted_vs_untargeted([r(1, 0, 0, 1)], r(1, 0, 1, 1), 4, 0.01, "apgd_t_l2", 1.0)["passed"]
    # only the first n examples count (the targeted subset)
    assert G.targeted_vs_untargeted([r(1, 0, 1, 1)], r(1, 0, 1, 0), 2, 0.01, "apgd_t_l2", 1.0)["passed"]
    # stochastic substrate (robust rates over 10 draws): the gate is on accuracy points of the
    # worst case. Two boundary images of 100 that the untargeted attacks leave correct in 6 of 10
    # draws and the targeted one in 1: each is one "only targeted" example by majority, but the
    # worst case moves by 2 x 0.5 / 100 = 1 point, at the tolerance
    u, t = torch.ones(100), torch.ones(100)
    u[[7, 9]], t[[7, 9]] = 0.6, 0.1
    g = G.targeted_vs_untargeted([u], t, 100, 0.01, "apgd_t_linf", 0.1)
    assert g["passed"] and g["detail"]["examples_only_targeted_broke"] == 2 and g["detail"]["examples"] == [7, 9]
    assert g["detail"]["gap"] == pytest.approx(0.01, abs=1e-6)
    t[11] = 0.9  # one more draw lost on a third image: 1.1 points, over
    assert not G.targeted_vs_untargeted([u], t, 100, 0.01, "apgd_t_linf", 0.1)["passed"]
    assert G.converged_across_losses([r(1, 0), r(1, 1)], [r(0, 0), r(1, 1)], 0.1, {})["detail"]["change"] == -0.5
    assert G.converged_across_losses([r(1, 0)], [r(1, 0)], 0.0, {})["passed"]
    assert G.eot_sufficient(False, [], 0.95, 8)["passed"]
    assert not G.eot_sufficient(True, [(2, 0.9)], 0.95, 8)["passed"]
    assert G.eot_sufficient(True, [(2, 0.9), (4, 0.96)], 0.95, 8)["passed"]
