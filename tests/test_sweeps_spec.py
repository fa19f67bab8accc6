"""Sweep specs: TOML parsing, canonical round trip, ranges, points and keys, and errors that
name the bad path."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fixtures_sweeps import load_spec_text, spec_error

from analogeq.sweeps import expand_points, load_spec, spec_from_dict
from analogeq.sweeps.axes import expand_range
from analogeq.sweeps.canonical import config_hash, point_key

SPEC = """
name = "phys"
description = "conductance error on PCM"
seeds = [0, 1]

[card]
preset = "pcm"

[axes]
"device.read_noise_scale" = [0.0, 1.0, 2.0]
"adc.bits" = { start = 4, stop = 8, num = 3 }
drift_time_s = { start = 1.0, stop = 100.0, num = 3, log = true }

[evaluations.conductance_error]
n_cells = 64
"""


def test_spec_loads_and_round_trips_through_its_canonical_dict(tmp_path):
    spec = load_spec_text(tmp_path, SPEC)
    d = spec.to_dict()
    assert json.loads(json.dumps(d)) == d  # plain JSON
    again = spec_from_dict(d, base_dir=str(tmp_path))
    assert again == spec and again.to_dict() == d and again.spec_hash() == spec.spec_hash()
    assert d["axes"] == {
        "adc.bits": [4, 6, 8],
        "device.read_noise_scale": [0.0, 1.0, 2.0],
        "drift_time_s": [1.0, 10.0, 100.0],
    }
    # defaults are filled in; the axis parameter is not fixed
    assert d["evaluations"] == {"conductance_error": {"n_cells": 64}}
    assert [a.target for a in spec.axes] == ["card", "card", "param"]
    assert spec.n_points() == 3 * 3 * 3 * 2


def test_a_range_and_its_list_give_the_same_spec_hash(tmp_path):
    a = load_spec_text(tmp_path, SPEC, "a.toml")
    b = load_spec_text(tmp_path, SPEC.replace('{ start = 4, stop = 8, num = 3 }', "[4, 6, 8]"), "b.toml")
    assert a.spec_hash() == b.spec_hash()


def test_ranges():
    assert expand_range({"start": 4, "stop": 8, "num": 3}, "r") == [4, 6, 8]
    assert expand_range({"start": 16, "stop": 256, "num": 5, "log": True}, "r") == [16, 32, 64, 128, 256]
    assert expand_range({"start": 0.0, "stop": 1.0, "num": 5}, "r") == [0.0, 0.25, 0.5, 0.75, 1.0]
    logs = expand_range({"start": 1e-3, "stop": 1e3, "num": 7, "log": True}, "r")
    assert logs[0] == 1e-3 and logs[-1] == 1e3 and logs[3] == pytest.approx(1.0)
    assert expand_range({"start": 2, "stop": 2, "num": 1}, "r") == [2]


@pytest.mark.parametrize(
    "rng, match",
    [
        ({"start": 1, "stop": 10, "num": 4, "log": True}, r"r: integer start and stop give non-integer values"),
        ({"start": 0.0, "stop": 1.0, "num": 3, "log": True}, r"r: log = true needs start > 0"),
        ({"start": 0, "stop": 1, "num": 0}, r"r.num: must be an integer >= 1"),
        ({"start": 0, "stop": 1}, r"r: a range is \{start, stop, num, log = false\}"),
        ({"start": 0, "stop": 1, "num": 2, "step": 1}, r"r: a range is"),
        ({"start": "a", "stop": 1, "num": 2}, r"r.start: must be a finite number"),
        ({"start": 0, "stop": 1, "num": 1}, r"r: num = 1 needs start == stop"),
    ],
)
def test_bad_ranges_name_the_path(rng, match):
    with pytest.raises(ValueError, match=match):
        expand_range(rng, "r")


@pytest.mark.parametrize(
    "old, new, match",
    [
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bitz" = [4, 6]',
         r'axes\["adc.bitz"\]: unknown card field "adc.bitz" .*no such field.*bits.*range_units'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bits" = [4, 6.5]',
         r'axes\["adc.bits"\]\[1\] = 6.5: .*adc.bits.*integer'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bits" = [4, 0]',
         r'axes\["adc.bits"\]\[1\] = 0: .*minimum of 2'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"faults.stuck_at_gmin_rate" = [0.1, 1.5]',
         r'axes\["faults.stuck_at_gmin_rate"\]\[1\] = 1.5'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bits" = []', r'axes\["adc.bits"\]: needs at least one value'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bits" = [4, 4]', r'axes\["adc.bits"\]: has duplicate values'),
        ('"adc.bits" = { start = 4, stop = 8, num = 3 }', '"adc.bits" = 4', r'axes\["adc.bits"\]: must be a list'),
        ("drift_time_s = { start = 1.0, stop = 100.0, num = 3, log = true }", "drift_time_s = [1.0, -5.0]",
         r'axes\["drift_time_s"\]\[1\]: must be a finite number >= 0, got -5.0'),
        ("n_cells = 64", "n_cellz = 64",
         r"evaluations.conductance_error.n_cellz: unknown parameter of evaluation 'conductance_error'; allowed: \['drift_time_s', 'n_cells'\]"),
        ("n_cells = 64", "n_cells = 0", r"evaluations.conductance_error.n_cells: must be an integer >= 1 and <= 10000000, got 0"),
        ("[evaluations.conductance_error]", "[evaluations.nonsense]",
         r"evaluations.nonsense: unknown evaluation 'nonsense'; registered: \[.*'conductance_error'.*\]"),
        ('preset = "pcm"', 'preset = "no-such-preset"', r"card.preset: .*no-such-preset"),
        ('preset = "pcm"', 'path = "missing.json"', r"card.path: .*missing.json"),
        ('preset = "pcm"', 'preset = "pcm"\npath = "x.json"', r"card: give exactly one of 'preset' or 'path'"),
        ("seeds = [0, 1]", "seeds = [0, -1]", r"seeds\[1\]: must be an integer >= 0"),
        ("seeds = [0, 1]", "seeds = [0, 0]", r"seeds: has duplicates"),
        ("seeds = [0, 1]", "seeds = { start = 0 }", r"seeds: a range is \{start = 0, count = N\}"),
        ('name = "phys"', 'name = "has space"', r"name: required, letters, digits"),
        ('name = "phys"', 'name = "phys"\ncolour = "red"', r"colour: unknown key of a sweep spec; allowed:"),
        ("seeds = [0, 1]", 'seeds = [0, 1]\nsubstrates = ["crosbar"]', r"substrates\[0\]: unknown substrate kind 'crosbar'"),
        ("seeds = [0, 1]", 'seeds = [0, 1]\nimports = ["os"]', r"imports: a spec no longer imports modules, got \['os'\]; "
         r"it names registered evaluations .*'analogeq.sweep_evaluations'"),
        ("n_cells = 64", "n_cells = 64\ndrift_time_s = 5.0", r"evaluations.conductance_error.drift_time_s: also an axis"),
    ],
)
def test_spec_errors_name_the_bad_path(tmp_path, old, new, match):
    assert old in SPEC
    message = spec_error(tmp_path, SPEC.replace(old, new))
    assert str(tmp_path / "spec.toml") in message  # the file is named too
    assert "\n" not in message  # one line
    assert re.search(match, message), message


def test_keys_and_hashes_are_those_stored_in_existing_databases(tmp_path):
    """Point keys, config hashes and the spec hash identify rows in databases already written:
    these values were computed before the sweeps used hardware_models.jsonable and lost
    ``imports``, and must never change."""
    config = {"b": [1, 2.5, None, True, "\u00e9"], "c": -0.0, "d": 1e-300,
              "a": {"z": (0.1, np.float32(0.1)), "y": np.int64(7), "x": np.bool_(False)}}
    assert config_hash(config) == "b891b84e99a7561e9a6fa9f097fcc727f5c8de8d909d6c10e7a72db5ac3cd6fa"
    key = point_key({"evaluation": "e", "params": {"n": 3}}, 5)
    assert key == "4846cff45f8e8bbc665af4edc968b9ad412913128e6e0d74f22f2f1b91028421"
    spec = load_spec_text(tmp_path, SPEC)
    assert spec.spec_hash() == "0f8d7fa6c8c435a04b090d260ff71e2dc97635d4f387784b3a04b03a5e0a4cd5"
    # a point key hashes the card too: it moved once, when the pcm preset's converter energies
    # became figures of merit (issue 14; "460ff442..." before), so such points are recomputed
    assert expand_points(spec)[0].key == "7fb7f0a7e1ab4a5b4d9bff9de8a31195128b533c9da6656be28eff59efc7e24c"
    # the canonical dict of a spec stored before (with "imports": []) still reads back
    assert spec_from_dict({**spec.to_dict(), "imports": []}, base_dir=str(tmp_path)) == spec


def test_non_finite_or_non_json_axis_values_are_one_line_errors(tmp_path):
    message = spec_error(tmp_path, SPEC.replace("[0.0, 1.0, 2.0]", "[0.0, nan]"))
    assert 'axes["device.read_noise_scale"][1]: nan is not a finite number' in message
    message = spec_error(tmp_path, SPEC.replace("[0.0, 1.0, 2.0]", "[0.0, 1979-05-27]"))
    assert 'axes["device.read_noise_scale"][1]: a date cannot be written as JSON' in message


def test_network_evaluation_without_network_is_an_error(tmp_path):
    text = SPEC.replace("[evaluations.conductance_error]\nn_cells = 64", "[evaluations.clean_accuracy]")
    text = text.replace("seeds = [0, 1]", 'seeds = [0, 1]\nsubstrates = ["float"]')
    assert "network: required by evaluation(s) ['clean_accuracy']" in spec_error(tmp_path, text)


def test_substrate_evaluation_without_substrates_is_an_error(tmp_path):
    text = SPEC.replace("[evaluations.conductance_error]\nn_cells = 64", "[evaluations.clean_accuracy]")
    assert "substrates: must not be empty" in spec_error(tmp_path, text)


def test_missing_checkpoint_is_an_error(tmp_path):
    text = SPEC.replace('[axes]', '[network]\ncheckpoint = "nope.safetensors"\n\n[axes]')
    assert "network.checkpoint: file" in spec_error(tmp_path, text)


def test_invalid_toml_names_the_file(tmp_path):
    message = spec_error(tmp_path, 'name = "x"\n[card\n')
    assert "spec.toml: not valid TOML" in message


def test_card_path_is_relative_to_the_spec(tmp_path):
    from hardware_models.cards import preset, save_card, with_value

    (tmp_path / "cards").mkdir()
    save_card(with_value(preset("pcm"), "adc.bits", 5), str(tmp_path / "cards" / "mine.json"))
    spec = load_spec_text(tmp_path, SPEC.replace('preset = "pcm"', 'path = "cards/mine.json"'))
    assert spec.load_base_card().adc.bits == 5


def test_null_in_a_card_axis_means_json_null(tmp_path):
    spec = load_spec_text(tmp_path, SPEC.replace("{ start = 4, stop = 8, num = 3 }", '[6, "null"]'))
    assert spec.to_dict()["axes"]["adc.bits"] == [6, None]
    cards = {p.axes["adc.bits"]: p.config["card"]["adc"]["bits"] for p in expand_points(spec)}
    assert cards == {6: 6, None: None}


def test_points_are_the_cartesian_product_with_stable_unique_keys(tmp_path):
    spec = load_spec_text(tmp_path, SPEC)
    points = expand_points(spec)
    assert len(points) == spec.n_points() == 54
    assert len({p.key for p in points}) == 54
    # same spec, same keys (keys depend on the config and seed only)
    assert [p.key for p in expand_points(load_spec_text(tmp_path, SPEC, "again.toml"))] == [p.key for p in points]
    # each point's card carries its axis values
    for p in points:
        assert p.config["card"]["adc"]["bits"] == p.axes["adc.bits"]
        assert p.config["card"]["device"]["read_noise_scale"] == p.axes["device.read_noise_scale"]
        assert p.config["params"] == {"n_cells": 64, "drift_time_s": p.axes["drift_time_s"]}
        assert p.config["substrate"] is None and p.config["network"] is None
    combos = {(p.axes["adc.bits"], p.axes["device.read_noise_scale"], p.axes["drift_time_s"], p.seed) for p in points}
    assert len(combos) == 54


def test_growing_a_sweep_keeps_the_keys_of_its_old_points(tmp_path):
    small = expand_points(load_spec_text(tmp_path, SPEC, "small.toml"))
    big_text = SPEC.replace("[0.0, 1.0, 2.0]", "[0.0, 1.0, 2.0, 4.0]").replace("seeds = [0, 1]", "seeds = [0, 1, 2]")
    big = expand_points(load_spec_text(tmp_path, big_text, "big.toml"))
    assert {p.key for p in small} < {p.key for p in big}
    assert len(big) == 4 * 3 * 3 * 3


def test_invalid_combination_of_card_values_names_the_axes(tmp_path):
    text = SPEC.replace(
        '"adc.bits" = { start = 4, stop = 8, num = 3 }',
        '"faults.stuck_at_gmin_rate" = [0.1, 0.7]\n"faults.stuck_at_gmax_rate" = [0.1, 0.6]',
    )
    spec = load_spec_text(tmp_path, text)  # each value alone is valid
    with pytest.raises(ValueError, match=r'axes\["faults.stuck_at_gmax_rate"\] = 0.6, axes\["faults.stuck_at_gmin_rate"\] = 0.7'):
        expand_points(spec)


@pytest.mark.parametrize("name, points", [("physics_pcm.toml", 4 * 4 * 4 * 2 * 3), ("ebm_digits.toml", 3 * 3 * 2 * 2 * 3)])
def test_shipped_example_specs_are_valid(name, points):
    import os

    import analogeq.sweeps

    spec = load_spec(os.path.join(os.path.dirname(analogeq.sweeps.__file__), "examples", name))
    assert spec.n_points() == points


OWN_CARD = """
name = "own-card"
seeds = [0]
substrates = ["float", { kind = "crossbar", card = { preset = "ideal" } }]

[card]
preset = "pcm"

[network]
checkpoint = "net.safetensors"

[axes]
"device.read_noise_scale" = [0.5, 2.0]
"device.t0_s" = [10.0, 40.0]             # a PCM field: the ideal card has none

[evaluations.clean_accuracy]
"""


@pytest.fixture()
def tiny_checkpoint(tmp_path):
    from analogeq.checkpoint import save_checkpoint
    from analogeq.models import build_model

    save_checkpoint(tmp_path / "net.safetensors", build_model({"kind": "dense_ebm", "hidden_sizes": [4]}))


def test_a_substrate_on_its_own_card_gets_the_axes_its_card_has(tmp_path, tiny_checkpoint):
    from analogeq.sweeps.runner import plan_points

    spec = load_spec_text(tmp_path, OWN_CARD)
    d = spec.to_dict()
    assert d["substrates"] == ["float", {"kind": "crossbar", "card": {"preset": "ideal"}}]
    assert spec_from_dict(d, base_dir=str(tmp_path)) == spec
    points = plan_points(spec)
    assert len(points) == spec.n_points() == 2 * 2 * 2
    for p in points:
        card = p.config["card"]
        assert card["device"]["read_noise_scale"] == p.axes["device.read_noise_scale"]
        if p.substrate == "float":
            assert card["device"]["kind"] == "pcm" and card["device"]["t0_s"] == p.axes["device.t0_s"]
        else:
            assert card["device"]["kind"] == "ideal" and "t0_s" not in card["device"]
    # the crossbar points at the two t0_s values are one computation each: 4 + 2 distinct keys
    assert len({p.key for p in points if p.substrate == "float"}) == 4
    assert len({p.key for p in points if p.substrate == "crossbar"}) == 2


def test_own_card_errors_name_the_substrate(tmp_path, tiny_checkpoint):
    text = OWN_CARD.replace('{ preset = "ideal" }', '{ preset = "nope" }')
    assert "substrates[1].card.preset: unknown preset 'nope'" in spec_error(tmp_path, text)
    text = OWN_CARD.replace('card = { preset = "ideal" }', 'cards = { preset = "ideal" }')
    assert "substrates[1]: a table needs exactly kind" in spec_error(tmp_path, text)
    text = OWN_CARD.replace('substrates = ["float", {', 'substrates = ["crossbar", {')
    assert "substrates[1]: substrate kind 'crossbar' appears twice" in spec_error(tmp_path, text)
    # a value the base card accepts but the substrate's card rejects
    text = OWN_CARD.replace('"device.t0_s" = [10.0, 40.0]', '"device.g_min_S" = [0.0, 1e-6]').replace(
        '{ preset = "ideal" }', '{ path = "mine.json" }')
    from hardware_models.cards import preset, save_card, with_value

    save_card(with_value(with_value(preset("ideal"), "device.g_max_S", 5e-7), "device.g_min_S", 0.0), str(tmp_path / "mine.json"))
    assert "on the card of substrate 'crossbar'" in spec_error(tmp_path, text)
