"""Sanity gates: each gate on constructed results (where its verdict is known), randomness
detection on deterministic, noisy and mis-declared substrates, and the gates catching a
gradient-masked substrate end to end."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from analogeq.robustness import gates as G
from analogeq.robustness.evaluate import evaluate_robustness
from analogeq.robustness.suite import QUICK
from analogeq.substrates import build_substrate
from analogeq.contract import GradientSpec, as_classifier
from fixtures_robustness import NoisyLogits, float_substrate

def rates(*values):
    return torch.tensor(values, dtype=torch.float32)


# ----------------------------------------------------------------------------- pure gates
def test_iterative_beats_single_step_passes_and_fails():
    fgsm = {0.1: (0.5, rates(1, 1, 0, 0)), 0.2: (0.25, rates(1, 0, 0, 0))}
    good = {0.1: (0.25, rates(1, 0, 0, 0)), 0.2: (0.0, rates(0, 0, 0, 0))}
    g = G.iterative_beats_single_step(fgsm, good, tolerance=0.0)
    assert g["passed"] and g["detail"]["per_eps"][0]["fgsm_broke_pgd_did_not"] == 0
    bad = {0.1: (0.75, rates(1, 1, 1, 0)), 0.2: (0.0, rates(0, 0, 0, 0))}
    g = G.iterative_beats_single_step(fgsm, bad, tolerance=0.1)
    assert not g["passed"]
    assert g["detail"]["per_eps"][0]["examples"] == [2]  # FGSM broke example 2, PGD did not


def test_monotone_gate_finds_the_rise():
    g = G.accuracy_monotone_in_eps([0.0, 0.1, 0.2, 0.3], [0.9, 0.5, 0.6, 0.1], tolerance=0.05, attack="pgd_linf")
    assert not g["passed"]
    assert g["detail"]["rises"] == [{"from_eps": 0.1, "to_eps": 0.2, "from_accuracy": 0.5, "to_accuracy": 0.6}]
    assert G.accuracy_monotone_in_eps([0.0, 0.1, 0.2], [0.9, 0.5, 0.52], 0.05, "pgd_linf")["passed"]


def test_unbounded_gate():
    assert G.unbounded_reaches_zero(1.0, 0.0, 0.02, "pgd_linf")["passed"]
    assert not G.unbounded_reaches_zero(1.0, 0.08, 0.02, "pgd_linf")["passed"]


def test_white_box_gate_lists_examples_only_black_box_broke():
    pgd = rates(1, 0, 1, 1, 0)
    fgsm = rates(1, 0, 1, 0, 1)
    square = rates(0, 1, 1, 1, 0)  # breaks examples 0 (no white-box attack does), 4 (PGD does too)
    g = G.white_box_beats([pgd, fgsm], square, tolerance=0.0, other="square_linf", eps=0.1)
    assert not g["passed"]
    assert g["detail"]["examples"] == [0] and g["detail"]["examples_only_other_broke"] == 1
    assert G.white_box_beats([pgd, fgsm], square, tolerance=0.2, other="square_linf", eps=0.1)["passed"]
    # robust rates over draws: broken means robust in fewer than half of the draws
    assert G.white_box_beats([rates(0.4)], rates(0.3), 0.0, "square_linf", 0.1)["passed"]
    assert not G.white_box_beats([rates(0.6)], rates(0.3), 0.0, "square_linf", 0.1)["passed"]


def test_converged_gate():
    assert G.converged(0.30, 0.29, 0.02, {})["passed"]
    assert not G.converged(0.30, 0.20, 0.02, {})["passed"]


def test_gradient_gates():
    g = torch.ones(4, 3)
    g[1] = 0.0
    assert not G.gradients_nonzero(g, 0.1)["passed"]
    assert G.gradients_nonzero(g, 0.25)["passed"]
    assert G.gradients_nonzero(g, 0.25)["detail"]["examples"] == [1]
    agree = G.surrogate_agrees(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 0]), 0.9, GradientSpec())
    assert not agree["passed"] and agree["detail"]["agreement"] == 0.75


# ----------------------------------------------------------------------------- randomness
def noisy_linear(sigma: float, declared: bool = True) -> NoisyLogits:
    """Gaussian noise of std ``sigma`` on the logits of a linear model (also on its attack path);
    ``declared`` is what ``stochastic`` says (a substrate that lies about it must fail the gate)."""
    torch.manual_seed(0)
    return NoisyLogits(float_substrate(nn.Sequential(nn.Flatten(), nn.Linear(64, 10))), sigma, declared=declared,
                       noisy_gradient=True)


def test_randomness_detection():
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    deterministic = build_substrate("float", as_classifier(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), (1, 8, 8), 10))
    d = G.detect_randomness(deterministic, x)
    assert not d["detected"] and d["max_logit_change"] == 0.0
    assert G.randomness_detected_and_eot(d, eot_samples=1, draws=1)["passed"]

    d = G.detect_randomness(noisy_linear(0.1), x)
    assert d["detected"] and d["declared"]
    assert not G.randomness_detected_and_eot(d, eot_samples=1, draws=1)["passed"]  # EOT not used
    assert G.randomness_detected_and_eot(d, eot_samples=16, draws=10)["passed"]

    liar = G.detect_randomness(noisy_linear(0.1, declared=False), x)
    assert liar["detected"] and not liar["declared"]
    assert not G.randomness_detected_and_eot(liar, eot_samples=16, draws=10)["passed"]
    with pytest.raises(ValueError, match="passes"):
        G.detect_randomness(deterministic, x, passes=1)


def test_evaluation_detects_randomness_and_uses_eot_and_draws():
    torch.manual_seed(1)
    sub = noisy_linear(0.5)
    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = sub.logits(x).argmax(1)
    suite = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=3, square_queries=20, convergence_steps=0,
                          eot_samples=3, eot_max_samples=3, draws=4, gradient_modes=False, fgsm=False)
    result = evaluate_robustness(sub, x, y, suite=suite, extras=False)
    assert result["stochastic"]["detected"] and result["stochastic"]["eot_samples"] == 3
    assert result["gates"]["eot_sufficient"]["detail"]["tried"][0]["eot_samples"] == 3
    assert result["gates"]["randomness_detected_and_eot"]["passed"]
    assert len(result["clean"]["per_draw"]) == 4 and result["clean"]["ci95"] is not None
    pgd = result["attacks"]["pgd_linf"]["0.1"]
    assert pgd["config"]["eot_samples"] == 3 and len(pgd["per_draw"]) == 4


# ----------------------------------------------------------------------------- masking end to end
class Staircase(nn.Module):
    """x -> a linear classifier of the image quantised to 4 levels, with the exact (zero almost
    everywhere) gradient of the rounding: the textbook masked gradient (Athalye et al. 2018)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(64, 10)

    def forward(self, x):
        q = torch.round(x * 3.0) / 3.0
        return self.lin(q.flatten(1))


def test_gates_catch_a_gradient_masked_substrate():
    sub = build_substrate("float", as_classifier(Staircase(), (1, 8, 8), 10))
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(40, 1, 8, 8, generator=gen)
    y = sub.predict(x)  # every example starts correctly classified
    suite = QUICK.replace(linf_eps=(0.1,), l2_eps=(1.0,), pgd_steps=10, square_queries=300, convergence_steps=0,
                          gradient_modes=False)
    result = evaluate_robustness(sub, x, y, suite=suite, extras=False)
    gates = result["gates"]
    # zero gradients: PGD never moves, accuracy stays near clean, the black box breaks examples
    assert not gates["gradients_nonzero"]["passed"]
    assert not gates["white_box_beats_black_box_linf"]["passed"]
    assert gates["white_box_beats_black_box_linf"]["detail"]["examples_only_other_broke"] > 0
    assert not gates["unbounded_reaches_zero"]["passed"]
    assert not result["sanity_gates_passed"]
