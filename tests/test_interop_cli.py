"""``analogeq export`` / ``analogeq import``: every format through the command line, and the
errors for unknown formats, files of the wrong kind and NaN in measured data."""

from __future__ import annotations

import json

import numpy as np
import pytest

import analogeq.cli as cli
from hardware_models.cards import load_card, preset
from hardware_models.export.spice import find_ngspice


@pytest.fixture(autouse=True)
def only_interop_commands(monkeypatch):
    # the CLI as the user runs it, limited to the commands under test (others may be unfinished)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["analogeq.commands.export_cmd", "analogeq.commands.import_cmd"])


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_card_to_aihwkit_and_back(tmp_path, capsys):
    code, out, _ = run(["export", "pcm", "--to", "aihwkit", tmp_path / "pcm.json"], capsys)
    assert code == 0 and "aihwkit" in out
    data = json.loads((tmp_path / "pcm.json").read_text())
    assert data["forward"]["inp_res"] == pytest.approx(1 / 126)
    code, out, _ = run(["import", tmp_path / "pcm.json", "--from", "aihwkit", tmp_path / "card.json"], capsys)
    assert code == 0
    back = load_card(tmp_path / "card.json")
    want = preset("pcm").device
    np.testing.assert_allclose(back.device.prog_noise_coeffs, want.prog_noise_coeffs, rtol=1e-12)
    assert back.device.g_max_S == want.g_max_S and back.device.t0_s == want.t0_s and back.dac == preset("pcm").dac


def test_card_file_to_crosssim_and_back(tmp_path, capsys):
    from hardware_models.cards import save_card

    save_card(preset("pcm-crosssim"), tmp_path / "in.json")
    assert run(["export", tmp_path / "in.json", "--to", "crosssim", tmp_path / "cs.json"], capsys)[0] == 0
    assert run(["import", tmp_path / "cs.json", "--from", "crosssim", tmp_path / "out.json", "--name", "roundtrip"], capsys)[0] == 0
    back = load_card(tmp_path / "out.json")
    assert back.name == "roundtrip" and back.device == preset("pcm-crosssim").device
    # a lossy card is refused, then written with --allow-loss
    code, _, err = run(["export", "pcm", "--to", "crosssim", tmp_path / "lossy.json"], capsys)
    assert code == 2 and "drift" in err and "--allow-loss" in err
    assert run(["export", "pcm", "--to", "crosssim", tmp_path / "lossy.json", "--allow-loss"], capsys)[0] == 0


def test_measured_csv_to_cards(tmp_path, capsys):
    rng = np.random.default_rng(0)
    target = np.repeat(np.linspace(2e-6, 20e-6, 6), 80)
    measured = target + (0.2e-6 + 0.03 * target) * rng.standard_normal(target.size)
    lines = ["g_target_S,g_measured_S"] + [f"{t!r},{m!r}" for t, m in zip(target.tolist(), measured.tolist())]
    (tmp_path / "prog.csv").write_text("\n".join(lines) + "\n")
    code, out, _ = run(["import", tmp_path / "prog.csv", "--from", "csv", tmp_path / "table.json", "--report", tmp_path / "fit.json"], capsys)
    assert code == 0 and "sigma(g) / g_max" in out
    card = load_card(tmp_path / "table.json")
    assert card.device.kind == "table" and len(card.device.level_mean_S) == 6
    assert json.loads((tmp_path / "fit.json").read_text())["kind"] == "programming"
    assert run(["import", tmp_path / "prog.csv", "--from", "csv", tmp_path / "pcm.json", "--device", "pcm", "--degree", "1"], capsys)[0] == 0
    assert load_card(tmp_path / "pcm.json").device.kind == "pcm"
    # drift data go onto a pcm card
    rows = ["device_id,t_s,g_S"]
    for i in range(40):
        g0, nu = 25e-6 * np.exp(-3 * i / 40), 0.03 + 0.01 * rng.standard_normal()
        rows += [f"d{i},{t},{float(g0 * (t / 20) ** -nu)!r}" for t in (20, 200, 2000, 20000)]
    (tmp_path / "drift.csv").write_text("\n".join(rows) + "\n")
    code, out, _ = run(["import", tmp_path / "drift.csv", "--from", "csv", tmp_path / "drift_card.json", "--n-bins", "4"], capsys)
    assert code == 0 and "mu_nu" in out
    assert load_card(tmp_path / "drift_card.json").device.t0_s == 20.0


def test_checkpoint_layer_to_spice(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model

    model = build_model({"kind": "dense_ebm", "input_shape": [12], "hidden_sizes": [10], "num_classes": 4})
    save_checkpoint(tmp_path / "net.safetensors", model)
    out = tmp_path / "layer.cir"
    code, text, _ = run(["export", tmp_path / "net.safetensors", "--to", "spice", out, "--card", "ideal", "--seed", "3"], capsys)
    assert code == 0 and "1x1 tile" in text
    desc = json.loads((tmp_path / "layer.cir.json").read_text())
    assert desc["shape"] == [10, 12] and desc["layer"] == "synapses.0" and desc["card"] == "ideal"
    w = model.all_synapses()[0].weight.detach().double().numpy()
    # ideal card, no wires, 16-bit DAC: the output is W @ dac(x) to the DAC's rounding
    np.testing.assert_allclose(desc["substrate_output"], w @ np.asarray(desc["x"]), atol=2e-4 * np.abs(w).sum(axis=1).max())
    assert "Vtile0_0p_in0" in out.read_text()
    code, _, _ = run(["export", tmp_path / "net.safetensors", "--to", "spice", tmp_path / "l2.cir", "--layer", "1", "--card", "ideal"], capsys)
    assert code == 0 and json.loads((tmp_path / "l2.cir.json").read_text())["shape"] == [4, 10]
    code, _, err = run(["export", tmp_path / "net.safetensors", "--to", "spice", tmp_path / "l3.cir", "--layer", "conv9"], capsys)
    assert code == 2 and "synapses.0" in err  # lists the available matrices
    if find_ngspice() is not None:
        code, text, _ = run(["export", tmp_path / "net.safetensors", "--to", "spice", out, "--card", "ideal", "--run"], capsys)
        assert code == 0
        agreement = float(text.rsplit("agrees with the substrate's exact solve to ", 1)[1].split()[0])
        assert agreement <= 1e-6


def test_npy_weights_to_spice_with_given_inputs(tmp_path, capsys):
    weights = np.random.default_rng(1).normal(size=(5, 7))
    np.save(tmp_path / "w.npy", weights)
    np.save(tmp_path / "x.npy", np.linspace(-1, 1, 7))
    code, _, _ = run(["export", tmp_path / "w.npy", "--to", "spice", tmp_path / "w.cir", "--inputs", tmp_path / "x.npy"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "w.cir.json").read_text())["x"] == pytest.approx(np.linspace(-1, 1, 7).tolist())
    np.save(tmp_path / "bad_x.npy", np.zeros(6))
    code, _, err = run(["export", tmp_path / "w.npy", "--to", "spice", tmp_path / "w.cir", "--inputs", tmp_path / "bad_x.npy"], capsys)
    assert code == 2 and "(7,)" in err


def test_unknown_formats_are_refused_with_the_allowed_list(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", "pcm", "--to", "verilog", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'verilog'" in err and "'spice', 'aihwkit', 'crosssim', 'nir'" in err
    with pytest.raises(SystemExit):
        cli.main(["import", "x.json", "--from", "memtorch", str(tmp_path / "y")])
    assert "'aihwkit', 'crosssim', 'csv'" in capsys.readouterr().err


def test_files_of_the_wrong_kind(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((3, 3)))
    from hardware_models.cards import save_card

    save_card(preset("pcm"), tmp_path / "card.json")
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "cols.csv").write_text("target,measured\n1e-6,1e-6\n")
    (tmp_path / "prog.csv").write_text("g_target_S,g_measured_S\n1e-6,1.1e-6\n2e-6,2e-6\n")
    (tmp_path / "binary.json").write_bytes(b"\x80\x81\x00\xff")
    cases = [
        (["export", tmp_path / "w.npy", "--to", "aihwkit", tmp_path / "o.json"], "is a checkpoint"),
        (["export", "pcm", "--to", "spice", tmp_path / "o.cir"], "is a card"),
        (["export", tmp_path / "card.json", "--to", "spice", tmp_path / "o.cir"], "give a checkpoint"),
        (["export", tmp_path / "notes.txt", "--to", "aihwkit", tmp_path / "o.json"], "neither a device card"),
        (["export", "no-such-preset", "--to", "aihwkit", tmp_path / "o.json"], "nor a preset; presets: ['ideal'"),
        (["import", tmp_path / "prog.csv", "--from", "csv", tmp_path / "o.json", "--base", "pmc"],
         "--base: card 'pmc' is neither a card file (no such file) nor a preset"),
        (["import", tmp_path / "prog.csv", "--from", "csv", tmp_path / "o.json", "--base", "spiking-ideal"],
         "--base: a crossbar card is needed here, got card_type 'spiking'"),
        (["export", tmp_path / "w.npy", "--to", "spice", tmp_path / "o.cir", "--card", tmp_path / "w.npy"], "card"),
        (["import", tmp_path / "card.json", "--from", "aihwkit", tmp_path / "o.json"], "already an analogeq device card"),
        (["import", tmp_path / "w.npy", "--from", "crosssim", tmp_path / "o.json"], "not a JSON text file"),
        (["import", tmp_path / "binary.json", "--from", "aihwkit", tmp_path / "o.json"], "not a JSON text file"),
        (["import", tmp_path / "notes.txt", "--from", "crosssim", tmp_path / "o.json"], "not valid JSON"),
        (["import", tmp_path / "cols.csv", "--from", "csv", tmp_path / "o.json"], "g_target_S,g_measured_S"),
        (["import", tmp_path / "missing.csv", "--from", "csv", tmp_path / "o.json"], "no such file"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert message in err, (argv, err)
    assert not (tmp_path / "o.json").exists()


def test_nan_in_measured_data_is_reported(tmp_path, capsys):
    (tmp_path / "nan.csv").write_text("g_target_S,g_measured_S\n1e-6,1.1e-6\n1e-6,nan\n2e-6,2e-6\n")
    code, _, err = run(["import", tmp_path / "nan.csv", "--from", "csv", tmp_path / "o.json"], capsys)
    assert code == 2 and "line 3, column 'g_measured_S': NaN" in err
    assert not (tmp_path / "o.json").exists()


def test_checkpoint_to_nir_with_a_spiking_card(tmp_path, capsys):
    pytest.importorskip("torch")
    nir_export = pytest.importorskip("hardware_models.export.nir")
    pytest.importorskip("analogeq.substrates.spiking")
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model

    model = build_model({"kind": "dense_ebm", "input_shape": [6], "hidden_sizes": [5], "num_classes": 3})
    save_checkpoint(tmp_path / "net.safetensors", model)
    out = tmp_path / "net.nir"
    argv = ["export", tmp_path / "net.safetensors", "--to", "nir", out, "--spiking-card", "spiking-mixed-signal", "--seed", "4"]
    code, text, err = run(argv, capsys)
    assert code == 0, err
    assert "spiking-mixed-signal" in text and "6-5-3" in text
    mapped, card, _ = nir_export.import_nir(out)
    assert card.name == "spiking-mixed-signal" and mapped.mismatch_seed == 4
    assert [w.shape for w in mapped.weights] == [(5, 6), (3, 5)]
    # a dense EBM checkpoint only: a weight matrix or a card is refused with the reason
    np.save(tmp_path / "w.npy", np.ones((3, 3)))
    code, _, err = run(["export", tmp_path / "w.npy", "--to", "nir", tmp_path / "w.nir"], capsys)
    assert code == 2 and "analogeq checkpoint" in err
    code, _, err = run(["export", tmp_path / "net.safetensors", "--to", "nir", tmp_path / "x.nir", "--spiking-card", "pcm"], capsys)
    assert code == 2 and "spiking card" in err
    assert not (tmp_path / "w.nir").exists() and not (tmp_path / "x.nir").exists()
