"""``analogeq cards list|show|copy`` and ``--set KEY=VALUE`` on the commands that take a card:
the card printed or written is the preset's, changed exactly where asked, and a bad setting is
refused like the same value in a card file (one line naming the field and what is allowed)."""

from __future__ import annotations

import json

import pytest

from analogeq.cli import main
from hardware_models.cards import card_from_dict, list_presets, load_card, preset


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"analogeq {command}: error: "), err
    return lines[0]


def test_list_names_every_preset_with_its_type(capsys):
    code, out, _ = run(["cards", "list"], capsys)
    assert code == 0
    rows = [line.split()[:2] for line in out.strip().splitlines()]
    assert [name for name, _ in rows] == list_presets()
    assert all(kind == preset(name).card_type for name, kind in rows)


def test_show_prints_the_preset_and_set_changes_only_the_named_fields(capsys):
    code, out, _ = run(["cards", "show", "pcm"], capsys)
    assert code == 0 and card_from_dict(json.loads(out)).to_dict() == preset("pcm").to_dict()
    code, out, _ = run(["cards", "show", "pcm", "--set", "adc.bits=4", "--set", "device.read_noise_scale=0.5",
                        "--set", "device.prog_noise_coeffs.0=0.02", "--set", "name=pcm-4bit"], capsys)
    assert code == 0
    changed, base = json.loads(out), preset("pcm").to_dict()
    assert changed["adc"]["bits"] == 4 and changed["device"]["read_noise_scale"] == 0.5
    assert changed["device"]["prog_noise_coeffs"][0] == 0.02 and changed["name"] == "pcm-4bit"
    # everything else is the preset's
    base["adc"]["bits"], base["device"]["read_noise_scale"], base["name"] = 4, 0.5, "pcm-4bit"
    base["device"]["prog_noise_coeffs"][0] = 0.02
    assert changed == base


def test_copy_writes_a_valid_card_and_keeps_an_existing_file(tmp_path, capsys):
    out_file = tmp_path / "mine.json"
    code, out, _ = run(["cards", "copy", "rram", out_file, "--set", "adc.bits=6"], capsys)
    assert code == 0 and str(out_file) in out
    card = load_card(out_file)
    assert card.adc.bits == 6 and card.to_dict()["device"] == preset("rram").to_dict()["device"]
    code, _, err = run(["cards", "copy", "pcm", out_file], capsys)
    assert code == 2 and "--force" in one_line_error(err, "cards")
    assert load_card(out_file).name == "rram[adc.bits=6]"  # untouched
    code, _, _ = run(["cards", "copy", "pcm", out_file, "--force"], capsys)
    assert code == 0 and load_card(out_file).name == "pcm"
    # a copied file is a card SOURCE for show (a file wins over a preset name)
    code, out, _ = run(["cards", "show", out_file, "--set", "adc.bits=5"], capsys)
    assert code == 0 and json.loads(out)["adc"]["bits"] == 5


def test_a_changed_card_is_never_labelled_as_the_unchanged_preset(capsys):
    # results, tables and compare labels use the card's name: a modified pcm must not read "pcm"
    code, out, _ = run(["cards", "show", "pcm", "--set", "adc.bits=4", "--set", "dac.bits=6"], capsys)
    assert code == 0 and json.loads(out)["name"] == "pcm[adc.bits=4,dac.bits=6]"
    code, out, _ = run(["cards", "show", "pcm", "--set", "adc.bits=4", "--set", "name=mine"], capsys)
    assert code == 0 and json.loads(out)["name"] == "mine"
    code, out, _ = run(["cards", "show", "pcm"], capsys)
    assert code == 0 and json.loads(out)["name"] == "pcm"


@pytest.mark.parametrize("setting, expected", [
    ("adc.bits=99", "$.adc.bits: 99 is greater than the maximum of 32"),
    ("adc.bits=x", "$.adc.bits: 'x' is not of type 'integer'"),
    ("adc.bit=4", "$.adc.bit: no such field; fields here: ['bits', 'range_units']"),
    ("device.prog_noise_coeffs.7=1", "no such index; the list has 3 entries"),
    ("adcbits", "expected KEY=VALUE"),
    ("=4", "expected KEY=VALUE"),
])
def test_a_bad_setting_is_one_line_naming_the_field_and_what_is_allowed(setting, expected, capsys):
    code, _, err = run(["cards", "show", "pcm", "--set", setting], capsys)
    assert code == 2
    line = one_line_error(err, "cards")
    assert expected in line and f"--set {setting}" in line or f"--set {setting!r}" in line


def test_set_is_validated_exactly_like_a_card_file(tmp_path, capsys):
    data = preset("pcm").to_dict()
    data["adc"]["bits"] = 0
    (tmp_path / "bad.json").write_text(json.dumps(data))
    code, _, file_err = run(["cards", "show", tmp_path / "bad.json"], capsys)
    assert code == 2
    code, _, set_err = run(["cards", "show", "pcm", "--set", "adc.bits=0"], capsys)
    assert code == 2
    # the same field and the same reason, whichever way the value came in
    assert file_err.strip().split("$.adc.bits: ", 1)[1] == set_err.strip().split("$.adc.bits: ", 1)[1]


def test_set_reaches_the_substrate_of_evaluate(tmp_path, capsys):
    pytest.importorskip("torch")
    from analogeq.checkpoint import save_checkpoint
    from analogeq.ebm.dense import DenseEBM, DenseEBMConfig

    path = tmp_path / "m.safetensors"
    save_checkpoint(path, DenseEBM(DenseEBMConfig(hidden_sizes=(8,), free_steps=20, seed=0)),
                    {"dataset": "digits", "split_seed": 0})
    code, out, _ = run(["evaluate", path, "--substrate", "crossbar", "--card", "ideal", "--set", "adc.bits=5",
                        "--limit", "8", "--json"], capsys)
    assert code == 0
    card = json.loads(out)["substrate"]["card"]
    assert card["adc"]["bits"] == 5 and card["name"] == "ideal[adc.bits=5]"
    # without --card, --set changes the kind's default card
    code, out, _ = run(["evaluate", path, "--substrate", "crossbar", "--set", "dac.bits=6", "--limit", "8", "--json"],
                       capsys)
    assert code == 0 and json.loads(out)["substrate"]["card"]["dac"]["bits"] == 6
    code, _, err = run(["evaluate", path, "--set", "adc.bits=5"], capsys)
    assert code == 2 and "float substrate has no device card" in one_line_error(err, "evaluate")


def test_set_errors_come_before_any_work_in_robustness_and_compare(tmp_path, capsys):
    # robustness would train the default EBM first and compare its models: the error is immediate
    for command in (["robustness", "--substrate", "crossbar", "--card", "pcm", "--out", tmp_path / "r"],
                    ["compare", "--quick", "--out", tmp_path / "c"]):
        code, _, err = run([*command, "--set", "adc.bits=99"], capsys)
        assert code == 2 and "maximum of 32" in one_line_error(err, command[0])
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_set_changes_the_card_an_export_writes(tmp_path, capsys):
    from hardware_models.cards import with_value
    from hardware_models.export.aihwkit import card_to_aihwkit

    code, _, _ = run(["export", "pcm", "--to", "aihwkit", tmp_path / "a.json", "--set", "adc.bits=6"], capsys)
    assert code == 0
    written = json.loads((tmp_path / "a.json").read_text())
    changed = with_value(with_value(preset("pcm"), "adc.bits", 6), "name", "pcm[adc.bits=6]")
    expected = json.loads(json.dumps(card_to_aihwkit(changed)))
    unchanged = json.loads(json.dumps(card_to_aihwkit(preset("pcm"))))
    assert written == expected and written != unchanged


def test_export_spice_reads_at_the_drift_time_given_with_units(tmp_path, capsys):
    import numpy as np

    np.save(tmp_path / "w.npy", np.random.default_rng(0).normal(size=(4, 5)))
    code, _, _ = run(["export", tmp_path / "w.npy", "--to", "spice", tmp_path / "w.cir", "--drift-time", "1d"], capsys)
    assert code == 0 and json.loads((tmp_path / "w.cir.json").read_text())["t_s"] == 86400.0
    code, _, err = run(["export", tmp_path / "w.npy", "--to", "spice", tmp_path / "v.cir", "--drift-time", "soon"], capsys)
    assert code == 2 and "--drift-time: must be a duration" in one_line_error(err, "export")


def test_set_changes_the_card_an_import_writes(tmp_path, capsys):
    code, _, _ = run(["export", "pcm", "--to", "aihwkit", tmp_path / "a.json"], capsys)
    assert code == 0
    code, _, _ = run(["import", tmp_path / "a.json", "--from", "aihwkit", tmp_path / "plain.json"], capsys)
    assert code == 0
    code, _, _ = run(["import", tmp_path / "a.json", "--from", "aihwkit", tmp_path / "six.json",
                      "--set", "adc.bits=6", "--set", "name=pcm-six"], capsys)
    assert code == 0
    plain, six = load_card(tmp_path / "plain.json").to_dict(), load_card(tmp_path / "six.json").to_dict()
    assert six["adc"]["bits"] == 6 and six["name"] == "pcm-six"
    plain["adc"]["bits"], plain["name"] = 6, "pcm-six"
    assert six == plain
    code, _, err = run(["import", tmp_path / "a.json", "--from", "aihwkit", tmp_path / "bad.json", "--set", "adc.bits=99"],
                       capsys)
    assert code == 2 and "maximum of 32" in one_line_error(err, "import") and not (tmp_path / "bad.json").exists()
