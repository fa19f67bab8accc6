"""Issue 17 hardening: one error base class, one line per bad input, limits checked before work.

Each test feeds one class of bad input and checks the error against what the input is (the
field, the file, the option), not only that "some" error happens.
"""

from __future__ import annotations

import json
import os
import resource
import time

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from analogeq import cli
from analogeq.checkpoint import CheckpointError, _digest, load_checkpoint, save_checkpoint
from analogeq.models import build_model
from hardware_models.cards import CardError, load_card, preset
from hardware_models.cards.limits import MAX_CARD_BYTES
from hardware_models.errors import AnalogeqError
from hardware_models.files import atomic_write, check_output_path, OutputPathError
from hardware_models.params import ParameterError


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def test_package_errors_share_one_base_class_and_stay_value_errors():
    from analogeq.sweeps.spec import SpecError

    for cls in (CardError, ParameterError, CheckpointError, SpecError, OutputPathError):
        assert issubclass(cls, AnalogeqError) and issubclass(cls, ValueError)
    assert issubclass(ParameterError, TypeError)  # kept for callers that catch TypeError


# ---- cards ---------------------------------------------------------------------------------


def _pcm_text(**device):
    data = preset("pcm").to_dict()
    data["device"].update(device)
    return json.dumps(data)


@pytest.mark.parametrize("text, path, fragment", [
    ("[" * 5000 + "]" * 5000, "$", "nested more than"),
    ('{"a":' * 3000 + "1" + "}" * 3000, "$", "nested more than"),
    (_pcm_text(g_max_S=10**400), "$.device.g_max_S", "float range"),
    (_pcm_text(g_max_S=1).replace('"g_max_S": 1', '"g_max_S": 1e400'), "$.device.g_max_S", "float range"),
    (_pcm_text(g_max_S=1).replace('"g_max_S": 1', '"g_max_S": Infinity'), "$.device.g_max_S", "Infinity"),
    (_pcm_text(g_max_S=1e308), "$.device.g_max_S", "plausible range"),
    (_pcm_text(read_noise_scale="x" * 5000), "$.device.read_noise_scale", "not of type"),
])
def test_card_rejections_name_the_json_path_in_one_short_line(tmp_path, text, path, fragment):
    file = tmp_path / "card.json"
    file.write_text(text)
    with pytest.raises(CardError) as info:
        load_card(file)
    message = str(info.value)
    assert info.value.json_path == path and fragment in message and str(file) in message
    assert "\n" not in message and len(message) <= 400


def test_oversized_card_file_is_refused_before_reading(tmp_path):
    file = tmp_path / "big.json"
    file.write_text(json.dumps({"references": ["x"] * (MAX_CARD_BYTES // 4)}))
    t0 = time.perf_counter()
    with pytest.raises(CardError, match="at most 1,000,000"):
        load_card(file)
    assert time.perf_counter() - t0 < 10.0  # refused from its size before it is read (loose: a loaded machine)


def test_spiking_t_nudge_of_1e12_is_refused_unless_allowed_explicitly():
    from hardware_models.cards import card_from_dict

    data = preset("spiking-mixed-signal").to_dict()
    data["timing"]["t_nudge_s"] = 1e12  # 10^16 clock steps at dt 0.1 ms
    with pytest.raises(CardError) as info:
        card_from_dict(data)
    assert info.value.json_path == "$.timing.t_nudge_s"
    data["timing"]["t_nudge_s"] = 5.0  # plausible, but 5 s / 0.1 ms = 5e4 steps: fine
    assert card_from_dict(data).timing.t_nudge_s == 5.0
    data["timing"]["dt_s"] = 1e-9  # 5 s at 1 ns: 5e9 steps
    with pytest.raises(CardError, match="clock steps"):
        card_from_dict(data)


def test_allow_implausible_keeps_the_value_and_survives_a_save(tmp_path):
    from hardware_models.cards import card_from_dict, save_card, with_value

    data = preset("pcm").to_dict()
    data["device"]["g_max_S"] = 0.5  # 2 ohm: beyond the table's 0.1 S
    data["allow_implausible"] = ["device.g_max_S"]
    card = card_from_dict(data)
    assert card.device.g_max_S == 0.5
    saved = save_card(with_value(card, "adc.bits", 6), tmp_path / "c.json")
    again = load_card(saved)
    assert again.device.g_max_S == 0.5 and again.allow_implausible == ("device.g_max_S",)
    data["allow_implausible"] = ["device.g_maxx_S"]
    with pytest.raises(CardError) as info:
        card_from_dict(data)
    assert info.value.json_path == "$.allow_implausible[0]"


def test_every_numeric_schema_field_has_a_plausibility_range():
    from hardware_models.cards.plausible import PLAUSIBLE
    from hardware_models.cards.registry import load_schema

    def numeric_fields(node, prefix, out):
        for name, sub in node.get("properties", {}).items():
            types = sub.get("type", [])
            types = [types] if isinstance(types, str) else types
            items = sub.get("items", {})
            if {"number", "integer"} & set(types):
                out.add(f"{prefix}{name}")
            elif "array" in types and {"number", "integer"} & set([items.get("type", "")] if isinstance(items.get("type", ""), str) else items.get("type")):
                out.add(f"{prefix}{name}[]")
            elif "object" in types or "properties" in sub:
                numeric_fields(sub, f"{prefix}{name}.", out)
        return out

    for card_type in ("crossbar", "spiking"):
        schema = load_schema(card_type)
        fields = numeric_fields(schema, "", set())
        for definition in schema.get("$defs", {}).values():  # device kinds
            fields |= numeric_fields(definition, "device.", set())
        missing = sorted(fields - set(PLAUSIBLE[card_type]))
        assert fields and not missing, f"{card_type}: no plausibility range for {missing}"


def test_every_preset_is_plausible():
    from hardware_models.cards import list_presets

    for name in list_presets():
        assert getattr(preset(name), "allow_implausible", ()) == ()


# ---- checkpoints ---------------------------------------------------------------------------


def _rewritten(tmp_path, config_text=None, metadata_text=None):
    """A tiny checkpoint whose header entries are replaced (with a matching digest)."""
    path = save_checkpoint(tmp_path / "m.safetensors", build_model({"kind": "dense_ebm", "hidden_sizes": [8]}))
    raw = path.read_bytes()
    header = json.loads(raw[8: 8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
    tensors = st_load(raw)
    config_text = header["model_config"] if config_text is None else config_text(json.loads(header["model_config"]))
    metadata_text = header["metadata"] if metadata_text is None else metadata_text
    header.update(model_config=config_text, metadata=metadata_text, sha256=_digest(config_text, metadata_text, tensors))
    out = tmp_path / "edited.safetensors"
    out.write_bytes(st_save(tensors, metadata=header))
    return out


def test_checkpoint_shapes_are_compared_before_the_model_is_allocated(tmp_path):
    path = _rewritten(tmp_path, config_text=lambda c: json.dumps({**c, "hidden_sizes": [10**8]}))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # Linux: kB
    assert "100000000" in str(info.value) and str(path) in str(info.value)
    assert grown_mb < 500  # 10^8 x 64 float32 weights would be 25.6 GB


@pytest.mark.parametrize("config_text, metadata_text, fragment", [
    (lambda c: json.dumps(c).replace('"seed": 0', '"seed": NaN'), None, "NaN is not allowed"),
    (None, "not json {", "'metadata' is not valid JSON"),
    (lambda c: json.dumps({**c, "hidden_sizes": "many"}), None, "hidden_sizes"),
])
def test_bad_checkpoint_headers_are_one_line_naming_the_file(tmp_path, config_text, metadata_text, fragment):
    path = _rewritten(tmp_path, config_text, metadata_text)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert fragment in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_checkpoint_error_joins_multi_line_messages():
    assert str(CheckpointError("a\n  b\n\nc")) == "a b c"


# ---- output paths and the command line -----------------------------------------------------


def test_check_output_path_refuses_folders_files_and_unwritable_parents(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(tmp_path / "d", option="--out")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_path(tmp_path / "f", option="--out", directory=True)
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_path(tmp_path / "f" / "x.json", option="--out")
    assert check_output_path(tmp_path / "new" / "deeper" / "x.json") == tmp_path / "new" / "deeper" / "x.json"
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputPathError, match="no permission"):
            check_output_path(locked / "x.json", option="--out")


def test_every_output_argument_of_every_command_is_checked():
    import argparse

    from analogeq.commands.outputs import OUTPUT_ARGUMENTS, OUTPUT_DESTS, READ_ONLY

    found = set()

    def walk(parser, command, action):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    walk(sub, command or name, name if command else None)
            elif a.dest in OUTPUT_DESTS and command:
                found.add((command, action, a.dest))

    walk(cli.build_parser(), None, None)
    listed = {(c, a, o.dest) for (c, a), outs in OUTPUT_ARGUMENTS.items() for o in outs} | READ_ONLY
    assert found and found <= listed, f"outputs not checked before work: {sorted(found - listed)}"


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--out", "{d}", "--epochs", "1"], "--out '{d}': is a folder"),
    (["train", "--out", "{f}/x.safetensors"], "is a file, not a folder"),
    (["export", "pcm", "{d}", "--to", "aihwkit"], "OUT '{d}': is a folder"),
    (["robustness", "--out", "{f}"], "is a file; a folder is needed"),
    (["demo", "--out", "{f}"], "is a file; a folder is needed"),
    (["evaluate", "{d}"], "is a folder; a checkpoint file"),
    (["sweep", "run", "{d}", "--db", "{tmp}/s.db"], "is a folder; a sweep spec file"),
    (["sweep", "run", "{f}", "--db", "{d}"], "--db '{d}': is a folder"),
    (["export", "pcm", "{tmp}/x.json", "--to", "spice", "--card", "{f}"], "is a"),
    (["export", "{tmp}/ck.safetensors", "{tmp}/x.cir", "--to", "spice", "--card", "{f}"], "not valid JSON"),
])
def test_bad_invocations_are_one_line_exit_2_before_any_work(tmp_path, capsys, argv, fragment):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("{garbage")
    save_checkpoint(tmp_path / "ck.safetensors", build_model({"kind": "dense_ebm", "hidden_sizes": [8]}))
    names = {"d": tmp_path / "d", "f": tmp_path / "f", "tmp": tmp_path}
    t0 = time.perf_counter()
    code, err = run_cli([a.format(**names) for a in argv], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"analogeq {argv[0]}: error:")
    assert fragment.format(**names) in err
    assert time.perf_counter() - t0 < 30  # refused before training or attacking


def test_a_bug_keeps_its_traceback(monkeypatch, capsys):
    import analogeq.commands.cards as cards_cmd

    def broken(args):
        raise TypeError("broken() missing 1 required positional argument: 'detail'")

    monkeypatch.setattr(cards_cmd, "run", broken)
    with pytest.raises(TypeError, match="missing 1 required positional"):
        cli.main(["cards", "list"])


def test_sweep_plot_refuses_a_metric_no_point_has(tmp_path, capsys):
    from fixtures_sweeps import spec_toml, write_spec

    spec = write_spec(tmp_path, spec_toml("m", evaluations="[evaluations.conductance_error]\nn_cells = 64"))
    assert cli.main(["sweep", "run", str(spec), "--db", str(tmp_path / "s.db"), "--no-progress"]) == 0
    assert "1 grid points (limit 100,000)" in capsys.readouterr().out
    code, err = run_cli(["sweep", "plot", "--db", tmp_path / "s.db", "--out", tmp_path / "p", "--metric", "bogus"], capsys)
    assert code == 2 and "--metric 'bogus': no stored point has this metric" in err and "rms_error_rel" in err
