"""The substrate protocol, checked on every registered kind (scikit-learn's ``check_estimator``).

A kind passes by being registered: each check below runs on every name of
:func:`analogeq.substrates.substrate_kinds`, built with its defaults plus the seed (and, where
the kind has them, a noisy card and Brian2's numpy target, so that the noise checks have noise
to look at and no compiler is needed). The checks are the conventions of
:mod:`analogeq.substrates.base`:

* ``describe()`` is JSON and names the kind;
* ``logits`` is (B, num_classes), finite, without an autograd graph;
* ``reseed(s)`` reproduces the same draws;
* ``attack_logits`` is differentiable with respect to the input;
* on a stochastic substrate, the copies of one image in a batch are independent draws;
* bad inputs are refused with the documented error (ValueError/TypeError naming ``x``);
* a bad option is refused when the options object is made, naming the field.
"""

from __future__ import annotations

import json

import pytest
import torch

from analogeq.ebm.dense import DenseEBM, DenseEBMConfig
from analogeq.substrates import build_substrate, substrate_kinds, substrate_options
from hardware_models.params import ParameterError

#: a card with per-read noise for the kinds whose default card is ideal
NOISY_CARDS = {"crossbar": "pcm", "spiking": "spiking-mixed-signal"}
#: values offered to every kind (each takes those it has)
OFFERED = {"seed": 0, "target": "numpy", "batch_size": 16}

KINDS = substrate_kinds()


@pytest.fixture(scope="module")
def model():
    """An untrained dense EBM 64-16-10 (mse readout) with weights large enough to be non-trivial."""
    torch.manual_seed(0)
    net = DenseEBM(DenseEBMConfig(hidden_sizes=(16,), readout="mse", free_steps=30, nudge_steps=10, init_gain=1.5,
                                  seed=0))
    return net.eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module", params=KINDS)
def substrate(request, model):
    kind = request.param
    offered = dict(OFFERED, card=NOISY_CARDS.get(kind))
    return build_substrate(kind, model, substrate_options(kind, offered=offered))


def test_the_built_in_kinds_are_registered():
    assert {"float", "crossbar", "spiking"} <= set(KINDS)


def test_describe_is_json_and_names_the_kind(substrate):
    text = json.dumps(substrate.describe())
    assert json.loads(text)["substrate"] == substrate.name


def test_logits_shape_finite_and_without_graph(substrate, images):
    out = substrate.logits(images)
    assert out.shape == (images.shape[0], substrate.num_classes)
    assert bool(torch.isfinite(out).all())
    assert not out.requires_grad and out.grad_fn is None


def test_reseed_reproduces(substrate, images):
    substrate.reseed(7)
    first = substrate.logits(images)
    substrate.reseed(7)
    assert torch.equal(substrate.logits(images), first)


def test_attack_logits_are_differentiable(substrate, images):
    x = images.clone().requires_grad_(True)
    substrate.reseed(3)
    scores = substrate.attack_logits(x)
    assert scores.shape == (images.shape[0], substrate.num_classes)
    (grad,) = torch.autograd.grad(scores[:, 0].sum(), x)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0.0


def test_copies_of_one_image_are_independent_draws(substrate, images):
    copies = images[:1].repeat(6, 1, 1, 1)
    substrate.reseed(11)
    if not substrate.stochastic:
        out = substrate.logits(copies)
        # deterministic: all copies agree (to float32 rounding: a multi-threaded BLAS may round a
        # row differently by its position in the batch)
        torch.testing.assert_close(out, out[:1].expand_as(out), atol=1e-5, rtol=0)
        return
    out = substrate.logits(copies)
    assert not torch.equal(out, out[:1].expand_as(out)), "every copy got the same noise draw"
    differentiable = substrate.attack_logits(copies)
    assert not torch.equal(differentiable, differentiable[:1].expand_as(differentiable))


@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.rand(2, 64), ValueError),  # flat, not (B, 1, 8, 8)
        (torch.rand(0, 1, 8, 8), ValueError),  # empty batch
        (torch.full((2, 1, 8, 8), float("nan")), ValueError),
        (torch.ones(2, 1, 8, 8, dtype=torch.int64), ValueError),
        (torch.rand(2, 1, 8, 8).numpy(), TypeError),
        (torch.full((2, 1, 8, 8), 1e300, dtype=torch.float64), ValueError),  # finite, but inf in float32
    ],
    ids=["shape", "empty", "nan", "integer", "numpy", "beyond-float32"],
)
def test_bad_inputs_are_refused_naming_x(substrate, bad, error):
    for method in (substrate.logits, substrate.attack_logits):
        with pytest.raises(error, match=r"^x "):
            method(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_and_bad_options_are_refused_when_made(kind):
    with pytest.raises(ParameterError, match=rf"^no_such_option: .* not an option of the {kind} substrate"):
        substrate_options(kind, {"no_such_option": 1})
    with pytest.raises(ParameterError, match=r"^device: must be 'cpu', 'cuda' or 'cuda:N', got 'abacus'"):
        substrate_options(kind, {"device": "abacus"})


def test_unknown_kind_lists_the_registered_ones(model):
    with pytest.raises(ParameterError, match=r"substrate: unknown kind 'memristor'; registered: \["):
        build_substrate("memristor", model)



def test_the_harness_uses_each_substrate_default_gradient(monkeypatch):
    """evaluate_robustness without a gradient differentiates as the substrate says (implicit for a
    conv EBM on the crossbar), through the protocol, never by asking what kind it is."""
    from analogeq.contract import GradientSpec
    from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
    from analogeq.robustness import evaluate as ev
    from analogeq.substrates import build_substrate

    conv = ConvEBM(ConvEBMConfig(input_shape=(1, 8, 8), channels=(4,), free_steps=10, schedule="sync", seed=0)).eval()
    crossbar, floating = build_substrate("crossbar", conv, card="ideal"), build_substrate("float", conv)
    assert crossbar.default_gradient == GradientSpec("implicit") and floating.default_gradient == GradientSpec()

    class Stop(Exception):
        pass

    seen = []

    def evaluator(substrate, x, y, suite, seed, gradient, *rest):
        seen.append(gradient)
        raise Stop

    monkeypatch.setattr(ev, "Evaluator", evaluator)
    x, y = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
    for substrate in (crossbar, floating):
        with pytest.raises(Stop):
            ev.evaluate_robustness(substrate, x, y)
    assert seen == [GradientSpec("implicit"), GradientSpec()]
