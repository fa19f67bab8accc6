"""Each defence's loss on a fixed batch against its equation computed independently here
(float64 numpy / torch.distributions), AWP's per-layer norm, the AWP step, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analogeq.baselines.defences import (
    AWP,
    PGDAT,
    TRADES,
    VIB,
    WEAT,
    Standard,
    build_defence,
    defence_from_dict,
    kl_divergence,
    weat_weights,
)
from analogeq.baselines.defences.awp import perturbed_weights
from analogeq.baselines.models import MLP, CNN, CNNConfig, MLPConfig, VIBClassifier, VIBConfig
from analogeq.baselines.train import training_step
from analogeq.robustness.attacks import PGD
from analogeq.substrates.float import FloatSubstrate


@pytest.fixture
def batch(image_batch):
    """12 images, a copy of them moved by at most 0.1 per pixel (L_inf, clipped to [0, 1]) and labels."""
    x, y, g = image_batch(12)
    delta = 0.1 * (2 * torch.rand(x.shape, generator=g) - 1)
    x_adv = (x + delta).clamp(0, 1)
    return x, x_adv, y


def _np_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _np_ce(z, y):
    p = _np_softmax(z)
    return -np.log(p[np.arange(len(y)), y])


def _np_kl(z_p, z_q):
    p, q = _np_softmax(z_p), _np_softmax(z_q)
    return (p * np.log(p / q)).sum(axis=1)


def _logits(model, x):
    with torch.no_grad():
        return model(x).double().numpy()


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = MLP(MLPConfig(hidden_sizes=(32,), seed=3))
    # make the logits spread out, so the weights and KL terms are far from trivial
    with torch.no_grad():
        m.layers[-1].weight.mul_(8.0)
    return m


def test_standard_and_pgd_at_losses_are_cross_entropies(model, batch):
    x, x_adv, y = batch
    loss, _ = Standard().loss(model, x, None, y)
    assert float(loss.detach()) == pytest.approx(_np_ce(_logits(model, x), y.numpy()).mean(), rel=1e-5)
    loss, _ = PGDAT(eps=0.1).loss(model, x, x_adv, y)
    assert float(loss.detach()) == pytest.approx(_np_ce(_logits(model, x_adv), y.numpy()).mean(), rel=1e-5)


def test_trades_loss_is_ce_plus_beta_kl(model, batch):
    x, x_adv, y = batch
    z, z_adv = _logits(model, x), _logits(model, x_adv)
    kl = _np_kl(z, z_adv)
    assert kl.mean() > 1e-3  # the KL term is not trivially zero on this batch
    for beta in (0.0, 1.0, 6.0):
        loss, stats = TRADES(beta=beta).loss(model, x, x_adv, y)
        expected = _np_ce(z, y.numpy()).mean() + beta * kl.mean()
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
        assert stats["kl"] == pytest.approx(kl.mean(), rel=1e-4)


def test_trades_kl_gradient_flows_through_both_branches(model, batch):
    """TRADES backpropagates through p(x) and p(x'): dL/dw differs from CE + beta KL with p(x) detached."""
    x, x_adv, y = batch
    loss, _ = TRADES(beta=6.0).loss(model, x, x_adv, y)
    g_full = torch.autograd.grad(loss, model.layers[1].weight)[0]
    z = model(x)
    detached = F.cross_entropy(z, y) + 6.0 * kl_divergence(z.detach(), model(x_adv)).mean()
    g_det = torch.autograd.grad(detached, model.layers[1].weight)[0]
    assert not torch.allclose(g_full, g_det)


def test_weat_weights_and_loss_match_the_equation(model, batch):
    x, x_adv, y = batch
    z, z_adv = _logits(model, x), _logits(model, x_adv)
    energy = -np.log(np.exp(z).sum(axis=1))
    w = 1.0 / np.log1p(np.exp(np.abs(energy)))
    assert w.std() > 1e-3  # the weights differ between examples
    np.testing.assert_allclose(weat_weights(model(x)).detach().double().numpy(), w, rtol=1e-5)
    kl = _np_kl(z, z_adv)
    loss_adv, _ = WEAT(variant="adv", beta=7.0).loss(model, x, x_adv, y)
    assert float(loss_adv.detach()) == pytest.approx((w * (_np_ce(z_adv, y.numpy()) + 7.0 * kl)).mean(), rel=1e-5)
    loss_nat, _ = WEAT(variant="nat", beta=6.0).loss(model, x, x_adv, y)
    assert float(loss_nat.detach()) == pytest.approx((w * (_np_ce(z, y.numpy()) + 6.0 * kl)).mean(), rel=1e-5)
    # the weights carry no gradient (they are computed on detached energies)
    assert not weat_weights(model(x)).requires_grad


def test_weat_default_beta_per_variant():
    assert WEAT(variant="adv").beta == 7.0
    assert WEAT(variant="nat").beta == 6.0


def test_vib_loss_matches_closed_form_kl_and_reparameterised_ce(batch):
    model = VIBClassifier(VIBConfig(hidden_sizes=(16,), latent_dim=4, sigma_offset=0.0, seed=1))
    x, _, y = batch
    beta = 0.5
    gen = torch.Generator().manual_seed(11)
    loss, stats = VIB(beta=beta, train_samples=3).loss(model, x, None, y, gen)
    with torch.no_grad():
        mu, sigma = model.encode(x)
        kl = torch.distributions.kl_divergence(
            torch.distributions.Normal(mu.double(), sigma.double()), torch.distributions.Normal(0.0, 1.0)
        ).sum(dim=1)
        eps = torch.randn((3, *mu.shape), generator=torch.Generator().manual_seed(11))
        ce = np.mean([_np_ce(model.decode(mu + sigma * eps[s]).double().numpy(), y.numpy()).mean() for s in range(3)])
    assert stats["kl"] == pytest.approx(float(kl.mean()), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(ce + beta * float(kl.mean()), rel=1e-5)


def test_vib_prediction_is_the_posterior_mean(batch):
    model = VIBClassifier(VIBConfig(seed=2)).eval()
    x, _, _ = batch
    with torch.no_grad():
        mu, _ = model.encode(x)
        torch.testing.assert_close(model(x), model.decode(mu))
        torch.testing.assert_close(model(x), model(x))  # deterministic


@pytest.mark.parametrize("gamma", [5e-3, 0.05])
@pytest.mark.parametrize("base", [PGDAT(eps=0.1), TRADES(beta=6.0)])
def test_awp_per_layer_norm_is_gamma_times_weight_norm(gamma, base, batch):
    model = CNN(CNNConfig(channels=(4, 8), hidden_sizes=(16,), seed=0))
    x, x_adv, y = batch
    v = AWP(gamma=gamma, base=base).weight_perturbation(model, x, x_adv, y)
    weights = perturbed_weights(model)
    # every Linear / Conv2d weight, and nothing else (no biases)
    assert sorted(v) == sorted(n for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2)
    assert len(v) == 4
    for name, p in weights.items():
        assert float(v[name].norm()) == pytest.approx(gamma * float(p.detach().norm()), rel=1e-5)
    # direction: the gradient of the base loss (ascent), computed independently
    loss, _ = base.loss(model, x, x_adv, y)
    grads = torch.autograd.grad(loss, list(weights.values()))
    for (name, _), g in zip(weights.items(), grads):
        cos = torch.nn.functional.cosine_similarity(v[name].flatten(), g.flatten(), dim=0)
        assert float(cos) == pytest.approx(1.0, abs=1e-5)


def test_awp_step_takes_the_gradient_at_perturbed_weights_and_restores_them(batch):
    """SGD without momentum: w_new = w - lr * grad L(w + v), and no trace of v remains."""
    torch.manual_seed(0)
    model = MLP(MLPConfig(hidden_sizes=(16,), seed=4))
    x, _, y = batch
    defence = AWP(gamma=0.05, base=PGDAT(eps=0.1, steps=3))
    substrate = FloatSubstrate(model)
    w0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    # the adversarial batch and v the step will use (same seed -> same PGD start)
    model.eval()
    x_adv = defence.perturb_inputs(substrate, x, y, seed=5)
    model.train()
    v = defence.weight_perturbation(model, x, x_adv, y)
    reference = MLP(MLPConfig(hidden_sizes=(16,), seed=4))
    reference.load_state_dict({n: w0[n] + v.get(n, 0.0) for n in w0})
    ref_loss, _ = defence.loss(reference, x, x_adv, y)
    ref_grads = dict(zip(w0, torch.autograd.grad(ref_loss, list(reference.parameters()))))
    lr = 0.1
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    training_step(model, substrate, defence, opt, x, y, seed=5, generator=torch.Generator().manual_seed(0))
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.detach(), w0[n] - lr * ref_grads[n], rtol=1e-5, atol=1e-6)


def test_awp_gamma_zero_is_the_base_defence(batch):
    model = MLP(MLPConfig(hidden_sizes=(8,), seed=0))
    x, x_adv, y = batch
    v = AWP(gamma=0.0).weight_perturbation(model, x, x_adv, y)
    assert all(float(t.abs().max()) == 0.0 for t in v.values())


def test_trades_inner_maximisation_stays_in_the_ball_and_raises_the_kl(model, batch):
    x, _, y = batch
    substrate = FloatSubstrate(model)
    for norm, eps in (("linf", 0.1), ("l2", 0.5)):
        d = TRADES(eps=eps, norm=norm, steps=5)
        x_adv = d.perturb_inputs(substrate, x, y, seed=1)
        flat = (x_adv - x).flatten(1)
        dist = flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)
        assert float(dist.max()) <= eps + 1e-5
        assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
        # the KL to the clean prediction beats a random point of the same ball
        rand = (x + eps * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(2))) *
                (1.0 if norm == "linf" else 1.0 / 8.0)).clamp(0, 1)
        z = _logits(model, x)
        assert _np_kl(z, _logits(model, x_adv)).mean() > _np_kl(z, _logits(model, rand)).mean()
        # same seed, same examples
        torch.testing.assert_close(x_adv, d.perturb_inputs(substrate, x, y, seed=1))


def test_pgd_at_uses_the_harness_pgd(model, batch):
    x, _, y = batch
    substrate = FloatSubstrate(model)
    d = PGDAT(eps=0.1, steps=4)
    expected = PGD(eps=0.1, steps=4, step_size=2.5 * 0.1 / 4, seed=3)(substrate, x, y).x_adv
    torch.testing.assert_close(d.perturb_inputs(substrate, x, y, seed=3), expected)


def test_round_trip_through_dicts():
    for d in (Standard(), PGDAT(eps=0.2, steps=7), TRADES(beta=3.0, norm="l2", eps=1.0), WEAT(variant="nat"),
              VIB(beta=1e-2), AWP(gamma=1e-2, base=TRADES(beta=2.0))):
        assert defence_from_dict(d.to_dict()) == d
    assert build_defence("awp", base="trades", base_params={"beta": 1.0}).base == TRADES(beta=1.0)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: build_defence("madry"), "unknown defence 'madry'"),
    (lambda: build_defence("awp", gamma=-0.1), "AWP.gamma"),
    (lambda: AWP(gamma=-1e-3), "AWP.gamma: must be a finite number >= 0"),
    (lambda: AWP(gamma=float("nan")), "AWP.gamma"),
    (lambda: TRADES(beta=-1.0), "TRADES.beta: must be a finite number >= 0, got -1.0"),
    (lambda: build_defence("trades", beta=-6), "TRADES.beta"),
    (lambda: WEAT(beta=-1.0), "WEAT.beta"),
    (lambda: WEAT(variant="both"), "WEAT.variant"),
    (lambda: VIB(beta=-1e-3), "VIB.beta"),
    (lambda: VIB(train_samples=0), "VIB.train_samples"),
    (lambda: PGDAT(eps=-0.1), "PGDAT.eps"),
    (lambda: PGDAT(norm="l1"), "PGDAT.norm"),
    (lambda: PGDAT(steps=0), "PGDAT.steps"),
    (lambda: TRADES(step_size=0.0), "TRADES.step_size"),
    (lambda: build_defence("awp", base="weat"), "AWP.base must be one of"),
    (lambda: build_defence("pgd_at", gamma=0.1), "bad parameters for defence 'pgd_at'"),
    (lambda: defence_from_dict({"eps": 0.1}), "needs a 'defence' name"),
])
def test_bad_defence_parameters_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_awp_base_must_be_an_input_defence():
    with pytest.raises(TypeError, match="AWP.base"):
        AWP(base=VIB())


def test_vib_defence_needs_a_vib_model(model, batch):
    x, _, y = batch
    with pytest.raises(TypeError, match="vib_mlp"):
        VIB().loss(model, x, None, y, torch.Generator())
