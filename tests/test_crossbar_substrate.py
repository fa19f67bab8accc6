"""The crossbar substrate on a trained digits EBM: agreement with float on the ideal card, the
substrate protocol, Numba settle vs the torch emulation, thread invariance, continuous-time
settling, BPDA gradients, cost, feed-forward and convolutional mapping, bad input."""

from __future__ import annotations

import hashlib
import json
import math
import numpy as np
import pytest
import torch
from torch import nn

from analogeq.substrates import build_substrate, substrate_kinds
from analogeq.contract import GradientSpec
from analogeq.substrates.crossbar import CrossbarSubstrate
from hardware_models.errors import AnalogeqError
from hardware_models.cards import preset, with_value

from fixtures_threads import parallel_results

#: a short run of the digits recipe: enough for a network with real decision boundaries
RECIPE_EPOCHS = 4


@pytest.fixture(scope="module")
def digits_ebm(request, tmp_path_factory, digits_splits):
    """The digits recipe (dense EBM 64-256-10, symmetric EqProp) trained for a few epochs;
    cached in pytest's cache directory keyed by the recipe, so later sessions load it."""
    from analogeq.checkpoint import load_checkpoint, save_checkpoint
    from analogeq.models import build_model
    from analogeq.train import train
    from analogeq.train.recipes import digits_dense

    model_config, train_config = digits_dense(0, epochs=RECIPE_EPOCHS)
    key = hashlib.sha256(json.dumps([model_config, train_config.to_dict()], sort_keys=True).encode()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = cache.mkdir("analogeq-crossbar") if cache is not None else tmp_path_factory.mktemp("analogeq-crossbar")
    path = folder / f"digits-dense-{key}.safetensors"
    if path.exists():
        model, _ = load_checkpoint(path)
        return model.eval()
    model = build_model(model_config)
    train(model, digits_splits, train_config, progress=False)
    save_checkpoint(path, model, {"recipe_epochs": RECIPE_EPOCHS})
    return model.eval()


def _no_noise(card):
    card = with_value(card, "device.read_noise_scale", 0.0)
    return with_value(card, "tia.noise_units", 0.0)


# ----------------------------------------------------------------------------------- agreement
def test_ideal_card_agrees_with_float_on_digits(digits_ebm, digits_splits):
    """Issue 4: the shipped ideal card (no noise, 16-bit converters, no wires) predicts like
    floating point on >= 99.5% of the digits test images."""
    test = digits_splits.test
    float_pred = build_substrate("float", digits_ebm).predict(test.x)
    sub = build_substrate("crossbar", digits_ebm, card="ideal", drift_time_s=0.0, seed=0)
    assert sub.backend == "numba" and not sub.stochastic
    agreement = float((sub.predict(test.x) == float_pred).float().mean())
    assert agreement >= 0.995


def test_registered_and_protocol(digits_ebm, digits_splits):
    assert "crossbar" in substrate_kinds()
    x = digits_splits.test.x[:16]
    sub = build_substrate("crossbar", digits_ebm, card="pcm", drift_time_s=3600.0, seed=3)
    assert sub.stochastic
    out = sub.logits(x)
    assert out.shape == (16, 10) and out.requires_grad is False and torch.isfinite(out).all()
    sub.reseed(7)
    a = sub.logits(x)
    b = sub.logits(x)
    sub.reseed(7)
    c = sub.logits(x)
    assert torch.equal(a, c) and not torch.equal(a, b)  # same seed same numbers; new reads new noise
    json.dumps(sub.describe())
    # a new programming draw is a new substrate: same read seed, other conductances
    other = build_substrate("crossbar", digits_ebm, card="pcm", drift_time_s=3600.0, seed=4)
    other.reseed(7)
    assert not torch.equal(other.logits(x), a)


def test_drift_changes_the_arrays_read(digits_ebm):
    """One programming draw read at 1 s and at a year: the drifted conductances are lower (PCM
    drift g(t) = g0 (t/t0)^-nu) and the mean read map differs, the programmed state is the same."""
    early = CrossbarSubstrate(digits_ebm, "pcm", drift_time_s=1.0, seed=0)
    late = CrossbarSubstrate(digits_ebm, "pcm", drift_time_s=365 * 86400.0, seed=0)
    g_early = early.programmed.arrays[0].conductances(1.0)[0]
    g_late = late.programmed.arrays[0].conductances(365 * 86400.0)[0]
    assert np.array_equal(early.programmed.arrays[0].programmed.g_prog_S, late.programmed.arrays[0].programmed.g_prog_S)
    assert np.all(g_late <= g_early + 1e-18) and g_late.mean() < 0.9 * g_early.mean()


# ----------------------------------------------------------------------------------- numba vs torch
def test_numba_settle_equals_torch_emulation_without_converter_rounding(digits_ebm, digits_splits):
    """With read and TIA noise but no DAC/ADC rounding, the fused Numba settle and the torch
    emulation (LayeredEBM.step through TorchRead synapses), with the same read keys, give the
    same states up to float32 summation order."""
    card = with_value(with_value(preset("pcm"), "adc.bits", None), "dac.bits", None)
    sub = CrossbarSubstrate(digits_ebm, card, drift_time_s=3600.0, seed=1)
    x = digits_splits.test.x[:32]
    sub.reseed(5)
    a = sub.settle(x, backend="numba")
    sub.reseed(5)
    b = sub.settle(x, backend="torch")
    for sa, sb in zip(a.states, b.states):
        assert torch.allclose(sa, sb, atol=2e-4)
    assert np.array_equal(a.steps, b.steps)
    np.testing.assert_allclose(a.row_reads, b.row_reads)
    assert a.energy_units == pytest.approx(b.energy_units, rel=1e-5)


def test_numba_settle_matches_torch_emulation_with_pcm_converters(digits_ebm, digits_splits):
    """With 7-bit DAC and 9-bit ADC a float32 rounding difference can move a value across an ADC
    step boundary now and then; the states stay close and the predictions agree."""
    sub = CrossbarSubstrate(digits_ebm, "pcm", drift_time_s=3600.0, seed=1)
    x = digits_splits.test.x[:48]
    sub.reseed(2)
    a = sub.settle(x, backend="numba")
    sub.reseed(2)
    b = sub.settle(x, backend="torch")
    diff = torch.cat([(sa - sb).abs().flatten() for sa, sb in zip(a.states, b.states)])
    assert float(diff.mean()) < 2e-3
    assert float((a.logits.argmax(1) == b.logits.argmax(1)).float().mean()) >= 0.98


def test_numba_settle_nudged_phase_equals_torch(digits_ebm, digits_splits):
    """Nudged phases (beta != 0, from given states) in both backends, no converter rounding."""
    card = with_value(with_value(preset("pcm"), "adc.bits", None), "dac.bits", None)
    sub = CrossbarSubstrate(digits_ebm, card, drift_time_s=60.0, seed=0)
    x, y = digits_splits.test.x[:32], digits_splits.test.y[:32]
    free = sub.settle(x)
    out = []
    for backend in ("numba", "torch"):
        sub.reseed(9)
        out.append(sub.settle(x, beta=-0.5, y=y, states=free.states, backend=backend))
    for sa, sb in zip(out[0].states, out[1].states):
        assert torch.allclose(sa, sb, atol=2e-4)


def test_same_numbers_whatever_the_thread_count(digits_ebm, digits_splits):
    from analogeq.substrates.crossbar.fused_settle import settle_dense_kernel

    sub = CrossbarSubstrate(digits_ebm, "pcm-harsh", drift_time_s=86400.0, seed=2)
    packed = sub._packed
    x = np.ascontiguousarray(digits_splits.test.x[:48].reshape(48, -1).numpy())
    s0 = np.zeros((48, int(packed.layer_off[-1])), dtype=np.float32)
    labels = np.zeros(48, dtype=np.int64)
    keys = np.random.default_rng(0).integers(0, 2**64, (62, packed.n_reads), dtype=np.uint64)
    serial = settle_dense_kernel(packed, x, s0, labels, 0.0, 0.5, 60, 0.0, keys, parallel=False)
    results = parallel_results(lambda: settle_dense_kernel(packed, x, s0, labels, 0.0, 0.5, 60, 0.0, keys, parallel=True))
    for result in results:
        for a, b in zip(serial, result):
            assert np.array_equal(a, b)


# ----------------------------------------------------------------------------------- continuous time
def test_continuous_time_reaches_the_discrete_fixed_point(digits_ebm, digits_splits):
    """Noise off: tau ds/dt = -s + rho(h) (exponential Euler) and the discrete damped iteration
    have the same fixed points; settled to a tight tolerance they agree."""
    card = preset("ideal")
    x = digits_splits.test.x[:32]
    disc = CrossbarSubstrate(digits_ebm, card, drift_time_s=0.0, seed=0)
    cont = CrossbarSubstrate(digits_ebm, card, drift_time_s=0.0, seed=0, settle_mode="continuous", dt_over_tau=0.25)
    for sub in (disc, cont):  # a long budget and a tight tolerance for this comparison
        model = sub._model_for(sub.settle_mode)
        model.config = type(model.config)(**{**model.config.__dict__, "free_steps": 4000,
                                             "tol": 1e-7 * model.step_size / float(sub.model.step_size)})
    a = disc.settle(x, mode="discrete")
    b = cont.settle(x, mode="continuous")
    assert a.converged.all() and b.converged.all()
    for sa, sb in zip(a.states, b.states):
        assert torch.allclose(sa, sb, atol=1e-3)
    assert torch.equal(a.logits.argmax(1), b.logits.argmax(1))
    assert b.settle_time_s is not None and a.settle_time_s is None
    np.testing.assert_allclose(b.settle_time_s, b.steps * 0.25 * cont.tau_s)


def test_continuous_settle_time_scales_with_tau(digits_ebm, digits_splits):
    """Doubling the neuron capacitance doubles tau = r c and the settling time in seconds; the
    trajectory in units of tau (steps, states) is unchanged."""
    x = digits_splits.test.x[:16]
    card = preset("ideal")
    slow_card = with_value(card, "neuron.c_F", 2 * card.neuron.c_F)
    fast = CrossbarSubstrate(digits_ebm, card, drift_time_s=0.0, settle_mode="continuous")
    slow = CrossbarSubstrate(digits_ebm, slow_card, drift_time_s=0.0, settle_mode="continuous")
    a, b = fast.settle(x), slow.settle(x)
    assert slow.tau_s == pytest.approx(2 * fast.tau_s)
    assert np.array_equal(a.steps, b.steps)
    np.testing.assert_allclose(b.settle_time_s, 2 * a.settle_time_s)
    for sa, sb in zip(a.states, b.states):
        assert torch.equal(sa, sb)
    cost = fast.cost()
    assert cost["settle_time_s"] == pytest.approx(float(np.mean(a.settle_time_s)))
    assert cost["latency_per_inference_s"] == pytest.approx(cost["settle_time_s"] + card.timing.t_adc_s)


# ----------------------------------------------------------------------------------- gradients
def test_bpda_gradient_matches_float_on_ideal_card(digits_ebm, digits_splits):
    x = digits_splits.test.x[:8].clone()
    y = digits_splits.test.y[:8]
    grads = []
    for sub in (build_substrate("float", digits_ebm), CrossbarSubstrate(digits_ebm, "ideal", drift_time_s=0.0)):
        xr = x.clone().requires_grad_(True)
        loss = nn.functional.cross_entropy(sub.attack_logits(xr, GradientSpec("full")), y)
        (g,) = torch.autograd.grad(loss, xr)
        grads.append(g.flatten())
    cos = float(nn.functional.cosine_similarity(grads[0], grads[1], dim=0))
    assert torch.isfinite(grads[1]).all() and grads[1].abs().max() > 0
    assert cos > 0.99


@pytest.mark.parametrize("spec", [GradientSpec("full"), GradientSpec("truncated", 10), GradientSpec("implicit")])
def test_bpda_gradient_finite_on_noisy_card(digits_ebm, digits_splits, spec):
    sub = CrossbarSubstrate(digits_ebm, "pcm-harsh", drift_time_s=3600.0, seed=0)
    x = digits_splits.test.x[:4].clone().requires_grad_(True)
    scores = sub.attack_logits(x, spec)
    loss = nn.functional.cross_entropy(scores, digits_splits.test.y[:4])
    (g,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(g).all() and g.abs().max() > 0


# ----------------------------------------------------------------------------------- cost
def test_cost_equals_hardware_models_cost_of_one_read():
    """A one-layer feed-forward net on the pcm card: one inference is one row read; its energy and
    latency equal hardware_models.cost.tile_read_cost of that read (array + DAC + ADC)."""
    from hardware_models.cost import tile_read_cost

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    from analogeq.contract import as_classifier

    model = as_classifier(net, (1, 8, 8), 10)
    card = preset("pcm")
    sub = CrossbarSubstrate(model, card, drift_time_s=100.0, seed=0)
    x = torch.rand(5, 1, 8, 8)
    sub.logits(x)
    cost = sub.cost()
    rows = x.reshape(5, -1).numpy().astype(np.float64)
    v = rows / np.abs(rows).max(axis=1, keepdims=True)  # abs-max input scaling of feed-forward layers
    step = sub.read_models[0].dac.step
    v = np.rint(v / step) * step * card.dac.v_read_V
    g_plus, g_minus = sub.programmed.arrays[0].tile_conductances(100.0, 0, 0)
    expected = tile_read_cost(card, g_plus, g_minus, v)
    assert cost["energy_per_inference_J"] == pytest.approx(expected.energy_J / 5, rel=1e-5)
    assert cost["latency_per_inference_s"] == pytest.approx(expected.latency_s / 5)
    assert cost["basis"] == "measured" and cost["inferences"] == 5


def test_cost_of_a_settle_counts_every_read(digits_ebm, digits_splits):
    """Discrete settle: reads = steps x (forward of every synapse + feedback of all but the
    first); conversions and neuron updates from the card's cost section; bound before any run."""
    card = with_value(preset("pcm"), "adc.bits", 8)
    sub = CrossbarSubstrate(digits_ebm, card, drift_time_s=3600.0, seed=0)
    bound = sub.cost()
    assert bound["basis"] == "bound" and bound["steps"] == digits_ebm.config.free_steps
    sub.logits(digits_splits.test.x[:10])
    c = sub.cost()
    steps = digits_ebm.config.free_steps  # noise: never converges to tol, the whole budget runs
    n_x, n_h, n_y = digits_ebm.layer_sizes  # one hidden layer: reads W1 x, W2 h and W2^T y per step
    assert c["steps"] == steps
    assert c["row_reads"] == 3 * steps
    assert c["dac_conversions"] == steps * (n_x + n_h + n_y)
    assert c["adc_conversions"] == steps * (n_h + n_y + n_h)
    assert c["neuron_energy_J"] == pytest.approx(steps * (n_h + n_y) * card.cost.e_neuron_update_J)
    assert c["latency_per_inference_s"] == pytest.approx(3 * steps * (card.timing.t_read_s + card.timing.t_adc_s))
    assert 0 < c["array_energy_J"] < bound["array_energy_J"]
    assert c["energy_per_inference_J"] == pytest.approx(
        c["array_energy_J"] + c["dac_energy_J"] + c["adc_energy_J"] + c["neuron_energy_J"])


# ----------------------------------------------------------------------------------- other networks
def test_feed_forward_mlp_and_cnn_on_ideal_card(digits_splits):
    from analogeq.baselines.models.cnn import CNN, CNNConfig
    from analogeq.baselines.models.mlp import MLP, MLPConfig

    x = digits_splits.test.x[:32]
    for net in (MLP(MLPConfig()), CNN(CNNConfig())):
        ref = net(x)
        sub = CrossbarSubstrate(net, "ideal", drift_time_s=0.0)
        bound = sub.cost()
        out = sub.logits(x)
        # one row read per Linear layer, one per output position of a Conv2d (8x8 + 4x4 + readout)
        assert sub.cost()["row_reads"] == bound["row_reads"] == (2 if isinstance(net, MLP) else 64 + 16 + 1)
        assert torch.allclose(out, ref.detach(), atol=5e-3 * float(ref.detach().abs().max()))
        xr = x[:4].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(sub.attack_logits(xr).sum(), xr)
        assert torch.isfinite(grad).all() and grad.abs().max() > 0
        assert sub.cost()["basis"] == "measured"


def test_conv_ebm_maps_kernels_as_matrices_on_unfolded_patches(digits_splits):
    """A (small, untrained) convolutional EBM: the kernels read as matrices on im2col patches
    (ideal device, ideal converters) give the float convolution settle; the fused path runs it,
    and the ideal preset (16-bit converters) predicts the same classes."""
    from analogeq.ebm.conv import ConvEBM, ConvEBMConfig

    # schedule="sync": the crossbar reads settle synchronously, and 15 steps are not settled yet
    model = ConvEBM(ConvEBMConfig(channels=(4, 8), free_steps=15, tol=0.0, init_gain=1.5, schedule="sync")).eval()
    x = digits_splits.test.x[:8]
    with torch.no_grad():
        ref = model(x)
    exact = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
    sub = CrossbarSubstrate(model, exact, drift_time_s=0.0)
    assert sub.backend == "numba"  # the fused conv settle (tests/test_crossbar_conv_settle.py)
    out = sub.logits(x)
    assert torch.allclose(out, ref, atol=1e-4)
    assert torch.equal(CrossbarSubstrate(model, "ideal", drift_time_s=0.0).predict(x), ref.argmax(1))
    assert sub.programmed.arrays[0].shape == (4, 9) and sub.programmed.arrays[1].shape == (8, 36)
    # one row read per conv position and step: 8x8 positions for layer 1, 4x4 for layer 2
    c = sub.cost()
    assert c["row_reads"] == 15 * (64 + 16 + 16) + 1  # + one readout read


# ----------------------------------------------------------------------------------- bad input
def test_bad_input_errors(digits_ebm):
    with pytest.raises(ValueError, match="drift_time_s"):
        CrossbarSubstrate(digits_ebm, "pcm", drift_time_s=-1.0)
    with pytest.raises(ValueError, match="a crossbar card is needed here, got card_type 'spiking'"):
        CrossbarSubstrate(digits_ebm, "spiking-ideal")
    broken = preset("pcm").to_dict()
    del broken["tile"], broken["neuron"]
    with pytest.raises(ValueError, match=r"missing the field\(s\) \['tile', 'neuron'\]"):
        CrossbarSubstrate(digits_ebm, broken)
    with pytest.raises(ValueError, match="neither a card file .* nor a preset; presets:"):
        CrossbarSubstrate(digits_ebm, "no-such-card")
    with pytest.raises(ValueError, match="settle_mode"):
        CrossbarSubstrate(digits_ebm, "pcm", settle_mode="analog")
    with pytest.raises(AnalogeqError, match="ClassifierModel"):  # bad input: one line on the command line
        CrossbarSubstrate(object(), "pcm")


def test_network_larger_than_the_tiles_allow(digits_ebm):
    """On 16x16 tiles a 64-H-10 network needs (64/16)(H/16) + (H/16)(1) tiles: fine without a
    tile budget (partial sums over tiles), a clear error with max_tiles below it."""
    n_x, n_h, _ = digits_ebm.layer_sizes
    needed = (n_x // 16) * math.ceil(n_h / 16) + math.ceil(n_h / 16)
    card = with_value(with_value(preset("ideal"), "tile.max_rows", 16), "tile.max_cols", 16)
    sub = CrossbarSubstrate(digits_ebm, card, drift_time_s=0.0, max_tiles=needed)
    assert sub.describe()["tiles"] == needed
    with pytest.raises(ValueError, match=rf"needs {needed} tiles of 16x16 .* max_tiles is {needed - 1}: layer1 64x{n_h}"):
        CrossbarSubstrate(digits_ebm, card, drift_time_s=0.0, max_tiles=needed - 1)


def test_tiled_network_agrees_with_untiled(digits_ebm, digits_splits):
    """Splitting every matrix over 16x16 tiles (ideal converters: the partial sums are exact)
    gives the untiled predictions."""
    ideal = with_value(with_value(preset("ideal"), "adc.bits", None), "dac.bits", None)
    tiled = with_value(with_value(ideal, "tile.max_rows", 16), "tile.max_cols", 16)
    x = digits_splits.test.x[:64]
    a = CrossbarSubstrate(digits_ebm, ideal, drift_time_s=0.0).logits(x)
    b = CrossbarSubstrate(digits_ebm, tiled, drift_time_s=0.0).logits(x)
    assert torch.allclose(a, b, atol=1e-4)


# ----------------------------------------------------------------------------------- demo
def test_demo_section_rows(digits_ebm, digits_splits, tmp_path):
    from analogeq.demo import DemoContext
    from analogeq.demo.crossbar import section_crossbar

    ctx = DemoContext(out_dir=tmp_path, quick=True)
    ctx.artifacts.update(dense_ebm=digits_ebm, splits=digits_splits)
    rows = section_crossbar(ctx)
    assert [r["substrate"] for r in rows] == ["crossbar ideal", "crossbar pcm 1 h"]
    assert rows[0]["agreement"] >= 0.995 and rows[1]["draws"] == 3
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["energy_per_inference_uJ"] > 0 and r["latency_per_inference_us"] > 0
        parts = dict(p.rsplit(" ", 1) for p in r["energy_breakdown"].split(", "))
        assert list(parts) == ["array", "DAC", "ADC", "neurons"]
        assert abs(sum(float(v.rstrip("%")) for v in parts.values()) - 100.0) <= 2.0  # rounded shares
    # the notes name the converters the cards really have
    assert "16-bit DAC" in rows[0]["notes"] and "7-bit DAC" in rows[1]["notes"] and "9-bit ADC" in rows[1]["notes"]
    json.dumps(rows)


def test_ce_readout_numba_equals_torch(digits_splits):
    """A dense EBM with a cross-entropy readout: the readout is a programmed matrix too (its
    forward read gives the logits, its backward read carries the nudge); both backends agree."""
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig

    model = DenseEBM(DenseEBMConfig(hidden_sizes=(40, 20), readout="ce", free_steps=25, nudge_steps=8, tol=0.0,
                                    init_gain=1.5)).eval()
    card = with_value(with_value(preset("pcm"), "adc.bits", None), "dac.bits", None)
    sub = CrossbarSubstrate(model, card, drift_time_s=100.0, seed=3)
    assert [a.shape for a in sub.programmed.arrays] == [(40, 64), (20, 40), (10, 20)]
    x, y = digits_splits.test.x[:16], digits_splits.test.y[:16]
    out = {}
    for backend in ("numba", "torch"):
        sub.reseed(4)
        free = sub.settle(x, backend=backend)
        nudged = sub.settle(x, beta=0.7, y=y, states=free.states, backend=backend)
        out[backend] = (free, nudged)
    for a, b in zip(out["numba"], out["torch"]):
        assert torch.allclose(a.logits, b.logits, atol=5e-4)
        for sa, sb in zip(a.states, b.states):
            assert torch.allclose(sa, sb, atol=2e-4)
        np.testing.assert_allclose(a.row_reads, b.row_reads)
