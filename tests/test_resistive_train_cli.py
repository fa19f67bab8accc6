"""``analogeq train --model resistive`` (issue 18): the checkpoint round-trips and ``analogeq
evaluate`` on it gives the accuracy the training measured, on float and on the resistive substrate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from analogeq.checkpoint import load_checkpoint
from analogeq.cli import main
from analogeq.models import build_model
from analogeq.substrates.resistive.drn import ResistiveDRN
from hardware_models.resistive import settle

TINY = json.dumps({"hidden_sizes": [24]})


def test_train_resistive_then_evaluate(tmp_path, capsys):
    ckpt = tmp_path / "drn.safetensors"
    code = main(["train", "--model", "resistive", "--out", str(ckpt), "--epochs", "3", "--limit-train", "600",
                 "--model-config", TINY, "--json"])
    assert code == 0
    trained = json.loads(capsys.readouterr().out)
    assert len(trained["history"]["epochs"]) == 3
    model, meta = load_checkpoint(ckpt)
    assert isinstance(model, ResistiveDRN) and model.config.layer_sizes == (64, 24, 10)
    net = model.network
    assert all(net.g_min_S <= g.min() and g.max() <= net.g_max_S for g in net.conductances_S)
    fresh = build_model(model.config.to_dict())  # the untrained initialisation of the same config
    assert not np.array_equal(fresh.network.conductances_S[0], net.conductances_S[0])  # training moved them
    assert meta["train_config"]["gradient"] == "eqprop" and meta["test_accuracy"] == trained["test"]["accuracy"]
    assert trained["test"]["accuracy"] > 0.5  # 10 classes: chance is 0.1 (0.63 when written)

    assert main(["evaluate", str(ckpt), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 360 and result["accuracy"] == pytest.approx(trained["test"]["accuracy"], abs=1 / 360)
    assert main(["evaluate", str(ckpt), "--json", "--substrate", "resistive", "--card", "resistive-ideal"]) == 0
    on_ideal = json.loads(capsys.readouterr().out)
    assert on_ideal["accuracy"] == pytest.approx(result["accuracy"], abs=1 / 360)
    assert on_ideal["cost"]["energy_per_inference_J"] > 0


def test_checkpoint_buffers_are_the_network(tmp_path):
    model = build_model({"kind": "resistive_drn", "input_shape": [1, 4, 4], "num_classes": 3, "hidden_sizes": [6],
                         "diode": {"kind": "shockley", "i_s_A": 1e-10}})
    x = torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    direct = settle(model.network, x.reshape(4, -1).double().numpy(), tol_A=model.tol_A).output_V
    np.testing.assert_allclose(model(x).double().numpy(), direct, rtol=1e-6)
    model.network = model.network.with_conductances([2.0 * g for g in model.network.conductances_S])
    assert torch.equal(model.state_dict()["g0"], torch.tensor(model.network.conductances_S[0]))
    from analogeq.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "m.safetensors", model, {"dataset": "digits"})
    again, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert again.config == model.config and again.network.diode == model.network.diode
    assert torch.equal(again(x), model(x))


@pytest.mark.parametrize("flags, word", [(["--momentum", "0.9"], "--momentum"), (["--nudging", "one_sided"], "--nudging"),
                                         (["--beta", "0"], "beta_S"), (["--model-config", '{"g_min_S": 1.0}'], "g_min_S"),
                                         (["--model-config", '{"hidden_sizes": [0]}'], "hidden_sizes")])
def test_bad_resistive_flags_are_one_line(tmp_path, capsys, flags, word):
    assert main(["train", "--model", "resistive", "--out", str(tmp_path / "x.safetensors"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0]


def test_demo_has_a_resistive_section():
    import analogeq.demo as demo
    from analogeq.demo.resistive import section_resistive

    names = [name for name, _ in demo.SECTIONS]
    assert names.index("resistive") > names.index("robustness") and callable(section_resistive)
    assert "resistive" not in demo.NEEDS_FLOAT  # it trains its own network
