"""NIR export and import of convolutional EBMs (issue 16), through the ``nir`` package's own
writer and reader: exact round trips, the forward and feedback maps against the torch model's
own reads, and clear refusals."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from analogeq.ebm.conv import ConvEBM, ConvEBMConfig
from analogeq.substrates.spiking.nir_conv import conv_ebm_graph, export_conv_ebm_nir, import_conv_ebm_nir, roundtrip_errors
from hardware_models import preset
from hardware_models.export.nir_conv import forward_matrix
from hardware_models.export.nir_conv_import import import_conv_nir


def _model(readout="ce", hidden=(), hw=8, **kw) -> ConvEBM:
    base = dict(input_shape=(1, hw, hw), channels=(3, 4), hidden_sizes=hidden, readout=readout, pool_kinds="avg",
                seed=1, free_steps=40, tol=1e-5)
    base.update(kw)
    model = ConvEBM(ConvEBMConfig(**base))
    with torch.no_grad():  # non-zero biases, so that they are checked too
        for b in model.biases:
            b.uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(b.numel()))
    return model.eval()


def _max_err(a: ConvEBM, b: ConvEBM, x: torch.Tensor) -> float:
    return max(roundtrip_errors(a, b, x).values())


def test_roundtrip_errors_see_a_changed_weight_and_other_parameters():
    model, x = _model(), torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    other = _model()
    assert roundtrip_errors(model, other, x) == {"weights": 0.0, "logits": 0.0}
    with torch.no_grad():
        other.biases[0][0] += 0.25
    errors = roundtrip_errors(model, other, x)
    assert errors["weights"] == pytest.approx(0.25) and errors["logits"] > 0.0
    with pytest.raises(ValueError, match="other parameters"):
        roundtrip_errors(model, _model(hidden=(5,)), x)


# 7x7: pools drop a last row and column; a pool-free layer keeps the kind it was given ("max")
@pytest.mark.parametrize("readout,hidden,hw,pools,kinds", [("ce", (), 8, (2, 2), "avg"), ("mse", (6,), 7, (2, 1), ("avg", "max")),
                                                           ("ce", (5,), 9, (3, 1), ("avg", "avg"))])
def test_round_trip_through_a_file_is_exact(tmp_path, readout, hidden, hw, pools, kinds):
    model = _model(readout, hidden, hw, pool_sizes=pools, pool_kinds=kinds)
    path = tmp_path / "conv.nir"
    export_conv_ebm_nir(model, path, card=preset("spiking-ideal"))
    back, card = import_conv_ebm_nir(path)
    assert back.config == model.config and card == preset("spiking-ideal")
    x = torch.rand(5, 1, hw, hw, generator=torch.Generator().manual_seed(0))
    assert _max_err(model, back, x) == 0.0


def test_graph_nodes_and_maps_are_the_models_reads():
    model = _model("mse", hidden=(6,))
    g = export_conv_ebm_nir(model)
    kinds = {n: type(node).__name__ for n, node in g.nodes.items()}
    assert kinds == {"input": "Input", "conv_1": "Conv2d", "pool_1": "AvgPool2d", "layer_1": "IF",
                     "conv_2": "Conv2d", "pool_2": "AvgPool2d", "layer_2": "IF", "feedback_2": "Linear",
                     "flatten_3": "Flatten", "affine_3": "Affine", "layer_3": "IF", "feedback_3": "Linear",
                     "affine_4": "Affine", "layer_4": "IF", "feedback_4": "Linear", "output": "Output"}
    assert ("feedback_2", "layer_1") in g.edges and ("layer_2", "feedback_2") in g.edges
    assert g.nodes["layer_2"].r.shape == (4, 2, 2) and g.nodes["layer_3"].r.shape == (6,)
    # the feedback Linear is the model's own adjoint read, the forward matrix its forward read
    syn = model.synapses[1]
    gen = torch.Generator().manual_seed(3)
    pre, post = torch.rand(2, *syn.in_shape, generator=gen), torch.rand(2, *syn.out_shape, generator=gen)
    fb = post.double().reshape(2, -1).numpy() @ g.nodes["feedback_2"].weight.T
    with torch.no_grad():
        np.testing.assert_allclose(fb, syn.adjoint(post, pre).reshape(2, -1).double().numpy(), atol=1e-6)
        m = forward_matrix(conv_ebm_graph(model)[0].layers[1], syn.in_shape)
        np.testing.assert_allclose(pre.double().reshape(2, -1).numpy() @ m.T,
                                   syn.forward(pre).reshape(2, -1).double().numpy(), atol=1e-6)


def test_max_pool_is_refused_naming_the_option():
    with pytest.raises(ValueError, match=r"layer 1: NIR has no max-pool node.*pool_kinds='avg'"):
        export_conv_ebm_nir(_model(pool_kinds="max"))


def test_sum_pool_graphs_import_as_scaled_average_pools():
    model = _model("ce")
    g = export_conv_ebm_nir(model)
    for k in (1, 2):  # SumPool2d(q) after Conv2d(W / q^2, b / q^2) is the same map
        old = g.nodes[f"pool_{k}"]
        g.nodes[f"pool_{k}"] = nir.SumPool2d(kernel_size=old.kernel_size, stride=old.stride, padding=old.padding)
        g.nodes[f"conv_{k}"].weight = g.nodes[f"conv_{k}"].weight / 4
        g.nodes[f"conv_{k}"].bias = g.nodes[f"conv_{k}"].bias / 4
    back, _ = import_conv_ebm_nir(g)
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    assert _max_err(model, back, x) < 1e-6


def test_broken_graphs_are_refused():
    g = export_conv_ebm_nir(_model())
    g.nodes["feedback_2"].weight = g.nodes["feedback_2"].weight * 1.01
    with pytest.raises(ValueError, match="transpose"):
        import_conv_nir(g)
    g = export_conv_ebm_nir(_model())
    g.nodes["conv_2"].stride = (2, 2)
    with pytest.raises(ValueError, match="'conv_2'.*stride 1"):
        import_conv_nir(g)
    g = export_conv_ebm_nir(_model())
    g.nodes["extra"] = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    with pytest.raises(ValueError, match="'extra' has unsupported type LIF"):
        import_conv_nir(g)
    g = export_conv_ebm_nir(_model())
    g.nodes["layer_1"].v_threshold = g.nodes["layer_1"].v_threshold * 2
    with pytest.raises(ValueError, match="'layer_1'.*v_threshold 1"):
        import_conv_nir(g)


def test_cli_exports_a_conv_checkpoint(tmp_path, capsys):
    from analogeq import cli
    from analogeq.checkpoint import save_checkpoint

    model = _model("ce")
    ckpt = tmp_path / "conv.safetensors"
    save_checkpoint(ckpt, model)
    assert cli.main(["export", str(ckpt), "--to", "nir", str(tmp_path / "conv.nir")]) == 0
    assert "conv EBM" in capsys.readouterr().out
    back, card = import_conv_ebm_nir(tmp_path / "conv.nir")
    assert card == preset("spiking-ideal")
    assert _max_err(model, back, torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))) == 0.0


def test_the_dense_importer_points_conv_graphs_to_the_conv_importer():
    from hardware_models.export.nir import import_nir

    with pytest.raises(ValueError, match="unsupported type Conv2d.*import_conv_nir"):
        import_nir(export_conv_ebm_nir(_model()))
