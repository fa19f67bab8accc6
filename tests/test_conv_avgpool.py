"""Average pooling in the convolutional EBM (issue 16): the pooling spiking hardware can run.

Checked against independent computations: the feedback read against autograd of the primitive
<avgpool(conv(x)), y> built from torch's own ops, EqProp against BPTT, the matrix-read variants
against the direct ones, every settle against the reference fixed point.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig, ConvPoolSynapse
from analogeq.ebm.settle import settle
from analogeq.models import build_model
from analogeq.train.bptt import bptt_gradients
from analogeq.train.eqprop import eqprop_gradients
from hardware_models.params import ParameterError


@pytest.mark.parametrize("hw,q", [(8, 2), (7, 2), (9, 3)])  # 7x7: a dropped last row/column
def test_feedback_is_the_exact_transpose_of_the_avgpool_read(hw, q):
    g = torch.Generator().manual_seed(hw)
    syn = ConvPoolSynapse((3, hw, hw), 5, 3, 1, q, generator=g, pool_kind="avg").double()
    pre = torch.rand(4, 3, hw, hw, generator=g, dtype=torch.float64, requires_grad=True)
    post = torch.randn(4, *syn.out_shape, generator=g, dtype=torch.float64)
    # the primitive from torch's ops alone, differentiated by autograd
    phi = (F.avg_pool2d(F.conv2d(pre, syn.weight, padding=1), q) * post).sum()
    (want,) = torch.autograd.grad(phi, pre)
    assert torch.allclose(syn.adjoint(post, pre.detach()), want, atol=1e-13)
    fwd, adj = syn.forward_and_adjoint(pre.detach(), post)
    assert torch.allclose(adj, want, atol=1e-13)
    assert torch.allclose(fwd, F.avg_pool2d(F.conv2d(pre.detach(), syn.weight, padding=1), q), atol=1e-13)
    # linear in pre: the adjoint does not depend on where it is taken
    assert torch.allclose(syn.adjoint(post, torch.zeros_like(pre)), want, atol=1e-13)


def test_matrix_read_variants_match_the_direct_reads():
    g = torch.Generator().manual_seed(1)
    syn = ConvPoolSynapse((2, 7, 7), 4, 3, 1, 2, generator=g, pool_kind="avg").double()
    pre = torch.rand(3, 2, 7, 7, generator=g, dtype=torch.float64)
    post = torch.randn(3, *syn.out_shape, generator=g, dtype=torch.float64)
    m = syn.weight_matrix().detach()
    read, read_t = (lambda v: v @ m.T), (lambda v: v @ m)
    rs = syn.with_reads(read, read_t)
    assert torch.allclose(rs.forward(pre), syn.forward(pre), atol=1e-13)
    assert torch.allclose(rs.adjoint(post, pre), syn.adjoint(post, pre), atol=1e-13)
    fwd, ctx = rs.forward_with_context(pre)
    assert ctx is None and torch.allclose(rs.adjoint_from_context(post, ctx), syn.adjoint(post, pre), atol=1e-13)


def test_pool_kinds_field_is_checked_broadcast_and_round_trips():
    cfg = ConvEBMConfig(channels=(4, 8), pool_kinds="avg")
    assert cfg.pool_kinds == ("avg", "avg")
    mixed = ConvEBMConfig(channels=(4, 8), pool_kinds=["max", "avg"])
    assert ConvEBMConfig.from_dict(mixed.to_dict()) == mixed
    assert mixed.to_dict()["pool_kinds"] == ["max", "avg"]
    assert [s.pool_kind for s in ConvEBM(mixed).synapses[:2]] == ["max", "avg"]
    # the default is left out of the JSON: configs written before the field load as all "max"
    old = ConvEBMConfig(channels=(4, 8)).to_dict()
    assert "pool_kinds" not in old and ConvEBMConfig.from_dict(old).pool_kinds == ("max", "max")
    for bad, needle in [("mean", "pool_kinds"), (["avg"], "pool_kinds"), (["avg", "sum"], "pool_kinds[1]"), (3, "pool_kinds")]:
        with pytest.raises(ParameterError) as e:
            ConvEBMConfig(channels=(4, 8), pool_kinds=bad)
        msg = str(e.value)
        assert "\n" not in msg and needle in msg and "max" in msg and "avg" in msg, msg


def test_avgpool_model_builds_from_a_config_dict():
    d = ConvEBMConfig(channels=(4, 8), pool_kinds="avg").to_dict()
    model = build_model(d)
    assert isinstance(model, ConvEBM) and all(s.pool_kind == "avg" for s in model.synapses[:2])


def test_avgpool_eqprop_matches_bptt():
    # avg-pool makes Phi bilinear: no argmax switches, so the estimate is smooth in beta
    cfg = ConvEBMConfig(channels=(8, 16), init_gain=0.5, free_steps=2000, nudge_steps=2000, tol=1e-12, pool_kinds="avg")
    model = ConvEBM(cfg).double()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (16,), generator=g)
    phases = eqprop_gradients(model, x, y, 0.001, "symmetric")
    ep = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    bptt_gradients(model, x, y, 2 * phases.free.steps)
    bp = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    assert phases.free.converged and phases.plus.converged and phases.minus.converged
    cos = {n: float(F.cosine_similarity(ep[n].flatten(), bp[n].flatten(), dim=0)) for n in ep}
    assert sum("weight" in n for n in cos) == 3
    assert min(cos.values()) >= 0.99, cos


@pytest.mark.parametrize("schedule,per_sample", [("sync", True), ("async", True), ("async", False)])
def test_avgpool_settles_reach_the_reference_fixed_point(schedule, per_sample):
    model = ConvEBM(ConvEBMConfig(channels=(4, 8), hidden_sizes=(12,), init_gain=1.0, pool_kinds="avg")).double()
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        exact = settle(model, x, max_steps=5000, tol=1e-13, schedule="sync", per_sample=False)
        out = settle(model, x, max_steps=5000, tol=1e-10, schedule=schedule, per_sample=per_sample)
    assert exact.converged and out.converged
    assert max(float((a - b).abs().max()) for a, b in zip(out.states, exact.states)) < 1e-7


def test_mnist5k_conv_avg_recipe_is_the_conv_recipe_with_average_pools():
    from analogeq.train.recipes import recipe

    avg, avg_train = recipe("mnist5k_conv_avg")
    ref, ref_train = recipe("mnist5k_conv")
    assert avg_train == ref_train and {k: v for k, v in avg.items() if k != "pool_kinds"} == ref
    model = build_model(avg)
    assert [s.pool_kind for s in model.synapses[:2]] == ["avg", "avg"] and model.state_shapes == build_model(ref).state_shapes
