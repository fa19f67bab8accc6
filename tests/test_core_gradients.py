"""EqProp against backpropagation through the settling, and the attack-gradient modes.

The main correctness test of training (DESIGN.md "EqProp"; issue 2 "Must show"): at small beta
with symmetric nudging and phases settled to tolerance, the EqProp estimate equals the gradient
of the loss at the fixed point (Scellier & Bengio 2017, Theorem 1; Laborieux et al. 2021 for the
centered estimate), which BPTT over a long enough unrolled free phase computes independently.
Float64 and a tight tolerance keep the settling error far below the O(beta^2) estimate error.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from analogeq.contract import GradientSpec
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.ebm.gradients import ADJOINT_STALL, solve_adjoint
from analogeq.ebm.settle import settle
from analogeq.models import build_model
from analogeq.train import train
from analogeq.train.bptt import bptt_gradients
from analogeq.train.eqprop import eqprop_gradients, eqprop_gradients_from_states, free_phase, nudged_phase
from analogeq.train.recipes import digits_dense


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def _cosines(model, x, y, beta, nudging="symmetric"):
    phases = eqprop_gradients(model, x, y, beta, nudging)
    ep = _grads(model)
    # BPTT unrolled twice as long as the free phase took to settle: its gradient has converged too
    bptt_gradients(model, x, y, 2 * phases.free.steps)
    bp = _grads(model)
    cos = {n: float(F.cosine_similarity(ep[n].flatten(), bp[n].flatten(), dim=0)) for n in ep}
    return cos, phases


@pytest.mark.parametrize("readout", ["mse", "ce"])
def test_dense_eqprop_matches_bptt(digits_splits, readout):
    # 2 hidden layers, symmetric nudging, beta 0.001, phases settled to 1e-12 (float64)
    cfg = DenseEBMConfig(
        hidden_sizes=(64, 32), readout=readout, init_gain=0.5, free_steps=2000, nudge_steps=2000, tol=1e-12
    )
    model = DenseEBM(cfg).double()
    x, y = digits_splits.train.x[:16].double(), digits_splits.train.y[:16]
    cos, phases = _cosines(model, x, y, 0.001)
    assert phases.free.converged and phases.plus.converged and phases.minus.converged
    weights = {n: c for n, c in cos.items() if "weight" in n}
    assert len(weights) == (3 if readout == "mse" else 3)  # W1, W2, W3 (mse) / W1, W2, W_out (ce)
    assert min(weights.values()) >= 0.99, cos
    assert min(cos.values()) >= 0.99, cos


def test_conv_eqprop_matches_bptt():
    # small conv EBM (8-16 channels, 2x2 max-pool, ce readout) on random inputs, beta 0.001.
    # Max-pooling makes Phi piecewise linear in W: where two entries of a pooling window are
    # within O(beta) of each other the nudged phases can pick different argmaxes and that window
    # adds an O(1/beta) term to the estimate. At beta 0.01 this happened in 2 of 4 seeded batches
    # here (cosine 0.84, 0.97); at 0.001 in none. Exact ties (blank digit regions) do it at any beta.
    cfg = ConvEBMConfig(channels=(8, 16), init_gain=0.5, free_steps=2000, nudge_steps=2000, tol=1e-12)
    model = ConvEBM(cfg).double()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=g)
    cos, phases = _cosines(model, x, y, 0.001)
    assert phases.free.converged and phases.plus.converged and phases.minus.converged
    weights = {n: c for n, c in cos.items() if "weight" in n}
    assert len(weights) == 3
    assert min(weights.values()) >= 0.98, cos
    assert min(cos.values()) >= 0.98, cos


def test_symmetric_beats_one_sided_at_finite_beta(digits_splits):
    # centered nudging cancels the O(beta) bias (Laborieux et al. 2021): at beta = 0.2 its
    # estimate is closer to BPTT than the one-sided estimate for every weight tensor (measured:
    # relative errors 0.16, 0.15, 0.04 vs 0.32, 0.31, 0.32). With a squared-error output layer and
    # large beta this need not hold: the -beta phase drives output units into the clamp at 0.
    cfg = DenseEBMConfig(
        hidden_sizes=(64, 32), readout="ce", init_gain=0.5, free_steps=2000, nudge_steps=2000, tol=1e-10
    )
    model = DenseEBM(cfg).double()
    x, y = digits_splits.train.x[:32].double(), digits_splits.train.y[:32]
    bptt_gradients(model, x, y, 800)
    ref = _grads(model)
    err = {}
    for nudging in ("symmetric", "one_sided"):
        eqprop_gradients(model, x, y, 0.2, nudging)
        got = _grads(model)
        err[nudging] = {n: float((got[n] - ref[n]).norm() / ref[n].norm()) for n in ref if "weight" in n}
    for name in err["symmetric"]:
        assert err["symmetric"][name] < err["one_sided"][name], err


def test_from_states_is_the_building_block(digits_splits):
    # eqprop_gradients (symmetric) == free_phase + 2 nudged_phase + eqprop_gradients_from_states
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(32,), free_steps=40, nudge_steps=10))
    x, y = digits_splits.train.x[:16], digits_splits.train.y[:16]
    eqprop_gradients(model, x, y, 0.5, "symmetric")
    a = _grads(model)
    free = free_phase(model, x)
    plus = nudged_phase(model, x, y, 0.5, free.states)
    minus = nudged_phase(model, x, y, -0.5, free.states)
    out = eqprop_gradients_from_states(model, x, y, 0.5, plus.states, minus.states)
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, a[n])
        assert out[n] is p.grad
    # one-sided: s_minus = free states, beta_minus = 0; for the dense W1 the estimate is the
    # closed form -(s+ x^T - s* x^T)/beta averaged over the batch
    eqprop_gradients_from_states(model, x, y, 0.5, plus.states, free.states, beta_minus=0.0)
    xf = x.reshape(16, -1)
    expected = -((plus.states[0].T @ xf) - (free.states[0].T @ xf)) / (0.5 * 16)
    torch.testing.assert_close(model.synapses[0].weight.grad, expected, rtol=1e-5, atol=1e-6)


def test_random_sign_uses_both_signs(digits_splits):
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(16,), free_steps=10, nudge_steps=5))
    x, y = digits_splits.train.x[:8], digits_splits.train.y[:8]
    g = torch.Generator().manual_seed(0)
    signs = {eqprop_gradients(model, x, y, 0.5, "random_sign", generator=g).beta for _ in range(12)}
    assert signs == {0.5, -0.5}


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_implicit_gradient_matches_full_backprop(kind, digits_splits):
    # implicit differentiation at the fixed point == backprop through a settling that converged
    if kind == "dense":
        model = DenseEBM(DenseEBMConfig(hidden_sizes=(64, 32), init_gain=0.5, free_steps=2000, tol=1e-11)).double()
    else:
        model = ConvEBM(ConvEBMConfig(channels=(4, 8), init_gain=0.5, free_steps=2000, tol=1e-11)).double()
    x0, y = digits_splits.test.x[:8].double(), digits_splits.test.y[:8]
    grads = {}
    for mode in ("full", "implicit"):
        x = x0.clone().requires_grad_()
        F.cross_entropy(model.forward_for_attack(x, GradientSpec(mode)), y).backward()
        grads[mode] = x.grad.flatten()
    assert float(grads["full"].abs().max()) > 0
    cos = float(F.cosine_similarity(grads["full"], grads["implicit"], dim=0))
    assert cos > 0.9999
    # the adjoint iteration stops at a change of 1e-6 of max |dL/ds|: agreement to ~1e-5 relative
    torch.testing.assert_close(grads["implicit"], grads["full"], rtol=1e-3, atol=1e-5 * float(grads["full"].abs().max()))


def _linear_adjoint_problem(radius: float, batch: int = 3, n: int = 40, seed: int = 0):
    """Per sample a J (n x n) as an energy model's settling step has at its fixed point: a damped
    gradient step s <- s - eta grad E has J = I - eta H with H the (symmetric) Hessian, so J is
    symmetric with real eigenvalues, here spread over [-0.5, radius] (largest ``radius``); and a
    b. Returns vjp(g) = J^T g as the implicit gradient calls it, b, the closed form
    g = (I - J^T)^{-1} b and a list that counts the products."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(batch, n, n, generator=gen, dtype=torch.float64))
    eig = torch.rand(batch, n, generator=gen, dtype=torch.float64) * (radius + 0.5) - 0.5
    eig[:, 0] = radius
    j = q @ torch.diag_embed(eig) @ q.transpose(1, 2)
    b = torch.randn(batch, n, generator=gen, dtype=torch.float64)
    jt = j.transpose(1, 2)
    exact = torch.linalg.solve(torch.eye(n, dtype=torch.float64) - jt, b)
    calls = []

    def vjp(g):
        calls.append(1)
        return (jt @ g.unsqueeze(2)).squeeze(2)

    return vjp, b, exact, calls


@pytest.mark.parametrize("memory", [0, 10])
def test_adjoint_solve_matches_closed_form(memory):
    # the linear fixed point g = J^T g + b against a direct solve, plain and Anderson-accelerated
    vjp, b, exact, calls = _linear_adjoint_problem(radius=0.97)
    g = solve_adjoint(vjp, b, max_iter=5000, tol=1e-10, memory=memory)
    torch.testing.assert_close(g, exact, rtol=0, atol=1e-7 * float(exact.abs().max()))
    if memory:
        assert len(calls) < 150  # measured 85-108 over three seeds
    else:
        assert len(calls) > 600  # the plain iteration: log(1e-10) / log(0.97) ~ 760 products


def test_adjoint_solve_anderson_needs_fewer_products_than_plain():
    counts = {}
    for memory in (0, 10):
        vjp, b, exact, calls = _linear_adjoint_problem(radius=0.97, seed=1)
        solve_adjoint(vjp, b, max_iter=5000, tol=1e-6, memory=memory)
        counts[memory] = len(calls)
    assert counts[10] * 5 < counts[0]


def test_adjoint_solve_keeps_finite_estimates():
    # a sample with dL/ds = 0 stays 0 (no 0/0 in the Anderson weights); a sample whose map is
    # not contractive returns its best finite estimate, never NaN or inf
    vjp, b, exact, _ = _linear_adjoint_problem(radius=0.9)
    b[1] = 0.0
    g = solve_adjoint(vjp, b, max_iter=200, tol=1e-10)
    assert torch.isfinite(g).all() and float(g[1].abs().max()) == 0.0
    torch.testing.assert_close(g[0], exact[0])
    vjp_bad, b_bad, _, calls = _linear_adjoint_problem(radius=1.5, seed=2)
    g_bad = solve_adjoint(vjp_bad, b_bad, max_iter=5000, tol=1e-10, memory=0)
    assert torch.isfinite(g_bad).all()
    assert float(g_bad.abs().max()) < 1e6 * float(b_bad.abs().max())
    # the diverging iteration stops once its best residual has not fallen for ADJOINT_STALL products
    assert len(calls) < 3 * ADJOINT_STALL


def test_truncated_gradient_differs_when_not_settled(digits_splits):
    # the seed study's truncated attack differentiates a few steps from zero: not the fixed point
    model = DenseEBM(DenseEBMConfig(hidden_sizes=(64, 32), free_steps=500, tol=1e-8))
    x0, y = digits_splits.test.x[:8], digits_splits.test.y[:8]
    grads = {}
    for spec in (GradientSpec("full"), GradientSpec("truncated", truncated_steps=3)):
        x = x0.clone().requires_grad_()
        F.cross_entropy(model.forward_for_attack(x, spec), y).backward()
        grads[spec.settle] = x.grad.flatten()
    assert float(F.cosine_similarity(grads["full"], grads["truncated"], dim=0)) < 0.999
    # and its scores are those of 3 steps from zero
    with torch.no_grad():
        s3 = settle(model, x0, max_steps=3).states
    torch.testing.assert_close(
        model.forward_for_attack(x0, GradientSpec("truncated", truncated_steps=3)).detach(), model.output(s3)
    )


def test_saturated_outputs_do_not_mask_the_gradient(digits_splits):
    """A trained mse-readout EBM drives its output states onto the rails, where clip' = 0: the
    plain gradient vanishes for many inputs (gradient masking; not exactly zero with the damped
    step, whose (1 - eps)^k memory of the approach to the rail leaves ~1e-28). The attack scores
    keep the value of the prediction and pass the gradient straight through the output clip."""
    model_config, train_config = digits_dense(0, epochs=10)  # saturation grows with training (~7 s)
    model = build_model(model_config)
    train(model, digits_splits, train_config, progress=False)
    x0, y = digits_splits.test.x[:128], digits_splits.test.y[:128]

    # the masking exists: gradient of the clipped output states, settled as for prediction
    x = x0.clone().requires_grad_()
    states = settle(model, x, max_steps=model.config.free_steps, tol=model.config.tol).states
    F.cross_entropy(model.output(states), y).backward()
    vanishing = 1e-12  # the unmasked gradients here are ~1e-3
    plain_zero = int((x.grad.flatten(1).abs().amax(dim=1) < vanishing).sum())
    assert plain_zero >= 10, f"expected saturated outputs on a trained network, got {plain_zero} vanishing gradients"

    with torch.no_grad():  # prediction stops each sample on its own residual; the attack settles the batch
        batch_scores = model.output(settle(model, x0, max_steps=model.config.free_steps, tol=model.config.tol,
                                           per_sample=False).states)
    for mode in ("full", "implicit", "truncated"):
        spec = GradientSpec(mode, truncated_steps=30) if mode == "truncated" else GradientSpec(mode)
        x = x0.clone().requires_grad_()
        scores = model.forward_for_attack(x, spec)
        F.cross_entropy(scores, y).backward()
        assert int((x.grad.flatten(1).abs().amax(dim=1) < vanishing).sum()) == 0, mode
        if mode != "truncated":  # the value of the (batch-wide) settle, within the settling tolerance
            torch.testing.assert_close(scores.detach(), batch_scores, atol=2 * model.config.tol, rtol=0)
