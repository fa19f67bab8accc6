"""Convolutional EBMs on the spiking substrate (issue 16): convolutions with average or no pooling
wired as the sparse linear maps they are (forward synapses M, feedback M^T, stacked copies).

Checked against independent references: the sparse map against torch's conv2d + avg_pool2d and
the autograd adjoint; the synapse and event counts against a count of the synapse lists; the
rate-model surrogate against the float conv EBM (ideal card); the compiled cpp_standalone
project's spike counts against the runtime target's; the protocol's conventions by the
conformance checks themselves (imported from tests/test_substrate_conformance.py, run here on a
spiking conv EBM).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analogeq.contract import GradientSpec
from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates import build_substrate
from analogeq.substrates.spiking.backend import standalone_available
from analogeq.substrates.spiking.conv_mapping import conv_linear_map
from analogeq.substrates.spiking.network import block_diagonal
from test_substrate_conformance import (  # noqa: F401  (collected here with this module's fixtures)
    test_attack_logits_are_differentiable,
    test_bad_inputs_are_refused_naming_x,
    test_copies_of_one_image_are_independent_draws,
    test_describe_is_json_and_names_the_kind,
    test_logits_shape_finite_and_without_graph,
    test_reseed_reproduces,
)

pytestmark = pytest.mark.brian2


def tiny_conv(readout="mse", **kw) -> ConvEBM:
    """Untrained 1x8x8 -> 3x4x4 (conv 3x3, avg-pool 2) -> 4x2x2 (conv, avg-pool 2) [-> 10]."""
    base = dict(input_shape=(1, 8, 8), channels=(3, 4), pool_kinds="avg", readout=readout, free_steps=60,
                nudge_steps=20, init_gain=1.5, seed=0)
    base.update(kw)
    return ConvEBM(ConvEBMConfig(**base)).eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def substrate():
    """The conformance checks' substrate: a tiny conv EBM on a noisy card, numpy target."""
    return build_substrate("spiking", tiny_conv(), card="spiking-mixed-signal", seed=0, target="numpy", batch_size=16)


@pytest.mark.parametrize("geometry", [(1, 8, 8, 4, 3, 1, 2), (3, 7, 9, 5, 3, 0, 2), (2, 6, 6, 3, 5, 2, 1), (2, 7, 7, 3, 3, 1, 3)],
                         ids=["pad1-pool2", "odd-no-pad", "k5-no-pool", "pool3-drops-a-row"])
def test_conv_map_is_the_convolution_and_its_transpose_the_adjoint(geometry):
    c_in, h, w, c_out, k, p, q = geometry
    gen = torch.Generator().manual_seed(0)
    kernel = torch.randn(c_out, c_in, k, k, generator=gen, dtype=torch.float64)
    x = torch.rand(3, c_in, h, w, generator=gen, dtype=torch.float64).requires_grad_(True)
    z = F.conv2d(x, kernel, padding=p)
    ref = F.avg_pool2d(z, q, stride=q) if q > 1 else z
    m = conv_linear_map(kernel.numpy(), (c_in, h, w), p, q)
    xf = x.detach().reshape(3, -1).numpy()
    np.testing.assert_allclose((m @ xf.T).T, ref.detach().reshape(3, -1).numpy(), atol=1e-12)
    y = torch.rand(ref.shape, generator=gen, dtype=torch.float64)
    (adjoint,) = torch.autograd.grad((ref * y).sum(), x)
    np.testing.assert_allclose((m.T @ y.reshape(3, -1).numpy().T).T, adjoint.reshape(3, -1).numpy(), atol=1e-12)


def test_max_pool_is_refused_naming_the_option():
    from analogeq.train.spiking_eqprop import SpikingEqProp

    maxpool = ConvEBM(ConvEBMConfig(input_shape=(1, 8, 8), channels=(4, 4), pool_kinds=("avg", "max"), readout="mse"))
    message = r"^the spiking substrate cannot run max-pool \(conv layer 1, pool_size 2\).*use pool_kinds=\('avg', \.\.\.\) in ConvEBMConfig"
    with pytest.raises(ValueError, match=message):
        build_substrate("spiking", maxpool, target="numpy")
    with pytest.raises(ValueError, match=message):
        SpikingEqProp(maxpool, target="numpy")


def test_synapses_and_events_are_counted_from_the_wiring(images):
    """Per-copy synapses = both directions of every stored entry between state layers; the
    fan-out of each neuron counted from the stacked synapse lists themselves; events = spikes x
    fan-out."""
    sub = build_substrate("spiking", tiny_conv(), target="numpy")
    m = sub.mapped
    assert m.sparse and m.layer_sizes == [64, 48, 16, 10]
    pre, post, _ = block_diagonal(m, 3)
    assert pre.size == 3 * m.n_synapses
    np.testing.assert_array_equal(np.bincount(pre, minlength=3 * m.n_neurons), np.tile(m.fan_out_per_neuron(), 3))
    # forward and feedback are the same synapses reversed
    fwd = set(zip(pre.tolist(), post.tolist()))
    assert fwd == set(zip(post.tolist(), pre.tolist()))
    net = sub.network(4)
    net.reset()
    net.set_currents(sub.input_currents(images.reshape(4, -1).double().numpy(), net.batch))
    counts = net.run_phase(sub.card.timing.free_steps, sub.card.timing.window_steps, seed=0)
    sub.logits(images)
    c = sub.cost()
    expected = float((counts.total[:4] * m.fan_out_per_neuron()).sum()) / 4
    assert c["synaptic_events_per_inference"] == pytest.approx(expected) and expected > 0
    assert sub.describe()["synapses_per_copy"] == m.n_synapses


def test_surrogate_is_the_float_conv_ebm_for_the_ideal_card(images):
    model = tiny_conv(tol=1e-6, free_steps=200)
    sub = build_substrate("spiking", model, target="numpy")
    with torch.no_grad():
        np.testing.assert_allclose(sub.surrogate(images).numpy(), model(images).numpy(), atol=1e-5)
    y = torch.tensor([0, 1, 2, 3])
    xa, xb = images.clone().requires_grad_(True), images.clone().requires_grad_(True)
    F.cross_entropy(sub.attack_logits(xa, GradientSpec(settle="implicit")), y).backward()
    F.cross_entropy(model.forward_for_attack(xb, GradientSpec(settle="implicit")), y).backward()
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), atol=1e-5)


@pytest.mark.skipif(not standalone_available(), reason="Brian2's cpp_standalone device needs make and a C++ compiler")
def test_cpp_standalone_gives_the_runtime_spike_counts_on_a_conv_ebm(images, tmp_path):
    """The compiled project (conv synapse pattern compiled in, weights as run-time arguments)
    against the numpy runtime: identical window and total spike counts, 80-step free phase."""
    from analogeq.substrates.spiking.backend import resolve_backend
    from analogeq.substrates.spiking.network import StackedSpikingNetwork, build_stacked_network
    from hardware_models import card_from_dict, preset

    d = preset("spiking-ideal").to_dict()
    d["timing"].update({"t_free_s": 80e-4, "t_nudge_s": 80e-4, "decode_window_s": 4e-3})
    card = card_from_dict(d)
    sub = build_substrate("spiking", tiny_conv(), card=card, target="numpy")
    cur = sub.input_currents(images.reshape(4, -1).double().numpy(), 4)
    counts = []
    for net in (StackedSpikingNetwork(sub.mapped, card, 4, resolve_backend("numpy")),
                build_stacked_network(sub.mapped, card, 4, resolve_backend("cpp_standalone", str(tmp_path)))):
        net.reset()
        net.set_currents(cur)
        c = net.run_phase(card.timing.free_steps, card.timing.window_steps, seed=1)
        counts.append((c.window, c.total))
    np.testing.assert_array_equal(counts[0][0], counts[1][0])
    np.testing.assert_array_equal(counts[0][1], counts[1][1])
    assert counts[0][1].sum() > 0
