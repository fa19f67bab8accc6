"""NearestClassPGD (untargeted PGD towards the nearest linearised boundary): the class it picks
against DeepFool's closed form on a linear classifier, and the tied-scores case it exists for
(hard-sigmoid scores with every wrong class at 0), where margin and cross-entropy PGD provably
miss a reachable class and it does not."""

from __future__ import annotations


import pytest
import torch
from torch import nn

from analogeq.robustness.attacks import PGD, APGDTargeted, NearestClassPGD
from analogeq.robustness.attacks.nearest_class import wrong_classes
from fixtures_robustness import float_substrate

DIM = 64


class Linear(nn.Module):
    """h = b + W (x - x0) on flattened inputs; ``clip``: scores clip(h, 0, 1) in value with the
    gradient of h (straight through the clip, as the EBM's attack scores)."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor, x0: torch.Tensor, clip: bool):
        super().__init__()
        self.w, self.b, self.x0, self.clip = w, b, x0.flatten(), clip

    def forward(self, x):
        h = self.b + (x.flatten(1) - self.x0) @ self.w.t()
        return h + (h.clamp(0.0, 1.0) - h).detach() if self.clip else h


def unit(i: int) -> torch.Tensor:
    return torch.eye(DIM)[i]


def test_wrong_classes():
    assert wrong_classes(torch.tensor([0, 2]), 3).tolist() == [[1, 2], [0, 1]]


def test_picks_deepfools_nearest_class_on_a_linear_classifier():
    # class 1 has the higher score but a small gradient: its boundary is 0.5 / 0.5 = 1.0 away;
    # class 2's is 1.0 / 4 = 0.25 away (closed form |f_j| / ||w_j - w_y||_2), class 3's 1.5 / 1
    x0 = torch.full((1, 1, 8, 8), 0.5)
    w = torch.stack([torch.zeros(DIM), 0.5 * unit(0), 4.0 * unit(1), unit(2)])
    b = torch.tensor([2.0, 1.5, 1.0, 0.5])
    sub = float_substrate(Linear(w, b, x0, clip=False), classes=4)
    y = torch.tensor([0])
    result = NearestClassPGD(eps=0.4, norm="l2", steps=20, seed=0)(sub, x0, y)
    assert bool(result.success[0]) and int(sub.predict(result.x_adv)[0]) == 2
    assert float(result.distance[0]) <= 0.4 + 1e-6
    # in L_inf the dual norm is L1: class 2 is 1.0 / 4 = 0.25 away, class 1 0.5 / 0.5 = 1.0
    result = NearestClassPGD(eps=0.3, norm="linf", steps=20, seed=0)(sub, x0, y)
    assert int(sub.predict(result.x_adv)[0]) == 2


def tied_substrate():
    """Ten classes; the true class 0 scores 0.5 everywhere, every wrong class scores 0 at x0.
    Class 5 (gradient 1.5 along one pixel) needs 1.1 / 1.5 = 0.733 in L2; the eight others
    (gradient 1 along their own pixel, bias -10) cannot be reached inside eps = 1. The image is
    black, so each pixel can move by up to 1 inside the box."""
    x0 = torch.zeros(1, 1, 8, 8)
    w = torch.zeros(10, DIM)
    b = torch.full((10,), -10.0)
    b[0], b[5] = 0.5, -0.6
    for j in range(1, 10):
        w[j] = (1.5 if j == 5 else 1.0) * unit(j)
    return float_substrate(Linear(w, b, x0, clip=True), classes=10), x0, torch.tensor([0])


def test_tied_scores_only_nearest_class_and_targeted_find_the_reachable_class():
    sub, x0, y = tied_substrate()
    assert sub.logits(x0)[0, 1:].eq(0).all()  # every wrong class tied at 0
    # margin PGD follows the first tied class (unreachable) and CE an equal mix, whose component
    # along class 5's pixel is 1.5 / sqrt(8 + 1.5^2) = 0.47 < 0.733: both miss, at any budget
    for loss in ("margin", "ce"):
        assert not bool(PGD(eps=1.0, norm="l2", steps=50, restarts=3, loss=loss, seed=0)(sub, x0, y).success[0])
    result = NearestClassPGD(eps=1.0, norm="l2", steps=20, seed=0)(sub, x0, y)
    assert bool(result.success[0]) and int(sub.predict(result.x_adv)[0]) == 5
    assert bool(APGDTargeted(eps=1.0, norm="l2", steps=20, targets=9, seed=0)(sub, x0, y).success[0])
    # below the closed-form distance nothing can succeed
    assert not bool(NearestClassPGD(eps=0.7, norm="l2", steps=20, seed=0)(sub, x0, y).success[0])


def test_same_seed_same_result_and_bad_input():
    sub, x0, y = tied_substrate()
    a = NearestClassPGD(eps=1.0, steps=5, seed=3)(sub, x0, y).x_adv
    assert torch.equal(a, NearestClassPGD(eps=1.0, steps=5, seed=3)(sub, x0, y).x_adv)
    for bad in (dict(steps=0), dict(norm="l1"), dict(eps=-1.0), dict(step_size=0.0), dict(l2_start="sphere")):
        with pytest.raises((ValueError, TypeError), match=next(iter(bad))):
            NearestClassPGD(**{"eps": 1.0, **bad})


def test_standard_suite_plan_budgets():
    from analogeq.robustness.plan import plan_attacks
    from analogeq.robustness.suite import QUICK, STANDARD, AttackSuite
    from hardware_models.params import ParameterError

    plan = plan_attacks(STANDARD, num_classes=10, has_reference=True)
    runs = {(r.name, r.eps): r for r in plan.attacks}
    assert runs[("pgd_l2", 1.0)].params["steps"] == 50 and runs[("pgd_l2", 1.0)].params["restarts"] == 2
    assert runs[("pgd_margin_l2", 1.0)].params["restarts"] == 2 and runs[("transfer_l2", 1.0)].params["steps"] == 50
    assert runs[("pgd_linf", 0.1)].params["steps"] == 20 and runs[("pgd_linf", 0.1)].params["restarts"] == 1
    nearest = runs[("pgd_nearest_l2", 1.0)]
    assert nearest.attack == "NearestClassPGD" and nearest.params["steps"] == 50 and nearest.params["restarts"] == 3
    assert ("pgd_nearest_linf", 0.1) not in runs
    # APGD-CE / DLR restart (on the examples still correct) in standard and full; quick runs none
    for name, eps in (("apgd_ce_linf", 0.1), ("apgd_dlr_linf", 0.1), ("apgd_ce_l2", 1.0), ("apgd_dlr_l2", 1.0)):
        assert runs[(name, eps)].params["restarts"] == STANDARD.apgd_restarts == 3
    from analogeq.robustness.suite import FULL
    full = {(r.name, r.eps): r for r in plan_attacks(FULL, 10, True).attacks}
    assert full[("apgd_dlr_linf", 0.1)].params == {"steps": 100, "loss": "dlr", "restarts": 5}
    with pytest.raises(ParameterError, match="apgd_restarts"):
        AttackSuite(name="bad", apgd_restarts=0)
    assert [(r.params["steps"], r.params["restarts"]) for r in plan.convergence_l2] == [(100, 4), (100, 4)]
    assert (plan.convergence.params["steps"], plan.convergence.params["restarts"]) == (40, 2)
    assert STANDARD.eot_samples == 2 and STANDARD.eot_max_samples >= 8
    # the quick suite is unchanged: L2 at the L_inf budget, no nearest-class PGD
    quick = {(r.name, r.eps): r for r in plan_attacks(QUICK, 10, False).attacks}
    assert quick[("pgd_l2", 1.0)].params["steps"] == 20 and not any(n == "pgd_nearest_l2" for n, _ in quick)
    with pytest.raises(ParameterError, match="nearest_norms"):
        AttackSuite(name="bad", nearest_norms=("l1",))


def test_targeted_gate_counts_nearest_class_pgd_as_untargeted():
    from analogeq.robustness.evaluate import evaluate_robustness
    from analogeq.robustness.suite import QUICK

    sub, x0, y = tied_substrate()
    suite = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), fgsm=False, gradient_modes=False, transfer=False,
                          square_queries=0, convergence_steps=0, corruption_examples=0, certify_examples=0,
                          pgd_steps=20, targeted_steps=20, apgd_targets=9)
    without = evaluate_robustness(sub, x0, y, suite=suite, extras=False)["gates"]["targeted_vs_untargeted_l2"]
    assert not without["passed"] and without["detail"]["examples_only_targeted_broke"] == 1
    result = evaluate_robustness(sub, x0, y, suite=suite.replace(nearest_steps=20), extras=False)
    assert result["gates"]["targeted_vs_untargeted_l2"]["passed"]
    assert result["summary"]["pgd_nearest_l2"] == 0.0 and result["summary"]["worst_case_l2"] == 0.0
