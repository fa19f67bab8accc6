"""Device cards: presets, round trip, schema/dataclass agreement, with_value, registry, and
every bad-input case (wrong type, missing field, unknown version/type/kind, bad ranges)."""

import dataclasses
import json
import math
from importlib import resources

import jsonschema
import numpy as np
import pytest

from hardware_models import cards as cards_pkg
from hardware_models.cards import (
    CardError,
    CrossbarCard,
    card_from_dict,
    list_presets,
    load_card,
    load_schema,
    preset,
    register_card_type,
    save_card,
    with_value,
)
from hardware_models.cards.crossbar import _SECTION_TYPES
from hardware_models.devices import IdealDevice, PCMDevice, RRAMDevice, TableDevice, program_conductances

REQUIRED_PRESETS = {"ideal", "pcm", "rram", "pcm-harsh"}


def test_required_presets_shipped():
    assert REQUIRED_PRESETS <= set(list_presets())


@pytest.mark.parametrize("name", list_presets())
def test_preset_round_trip_load_save_load(name, tmp_path):
    card = preset(name)
    assert card.name == name
    shipped = json.loads(resources.files("hardware_models.cards").joinpath("presets", f"{name}.json").read_text())
    assert card.to_dict() == shipped  # the shipped file is canonical
    path = save_card(card, tmp_path / f"{name}.json")
    again = load_card(path)
    assert again == card
    assert again.to_dict() == card.to_dict()
    save_card(again, tmp_path / "second.json")
    assert (tmp_path / "second.json").read_text() == path.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_pcm_preset_matches_aihwkit_defaults():
    # ANCHORS.md, "Analog crossbar simulators": aihwkit I/O defaults DAC 7 bits, ADC 9 bits,
    # out_noise 0.06, out_bound 12, tile 512x512, global drift compensation; PCM g_max 25 uS, t0 20 s
    card = preset("pcm")
    assert (card.dac.bits, card.adc.bits, card.adc.range_units, card.tia.noise_units) == (7, 9, 12.0, 0.06)
    assert (card.tile.max_rows, card.tile.max_cols, card.drift_compensation) == (512, 512, "global")
    assert isinstance(card.device, PCMDevice) and card.device == PCMDevice()
    assert (card.device.g_max_S, card.device.t0_s, card.device.t_read_s) == (25e-6, 20.0, 250e-9)
    assert card.i_unit_A == pytest.approx(0.2 * 25e-6)


def test_ideal_preset_is_ideal():
    card = preset("ideal")
    assert isinstance(card.device, IdealDevice)
    assert card.dac.bits == 16 and card.adc.bits == 16
    assert card.wires.ideal and card.tia.noise_units == 0.0
    assert card.faults.stuck_at_gmin_rate == card.faults.stuck_at_gmax_rate == 0.0 and card.levels.n_levels is None
    # a column of max_rows full-scale products is at most max_rows units: the ADC never saturates
    assert card.adc.range_units >= card.tile.max_rows


def test_harsh_and_rram_presets():
    harsh = preset("pcm-harsh")
    assert harsh.adc.bits == 6 and harsh.faults.stuck_at_gmin_rate > 0 and harsh.faults.stuck_at_gmax_rate > 0
    assert harsh.device.programming_noise_scale > 1 and harsh.device.read_noise_scale > 1
    rram = preset("rram")
    assert isinstance(rram.device, RRAMDevice) and rram.update is not None and not rram.wires.ideal
    # programming through a card applies its faults
    p = program_conductances(harsh, np.full((200, 200), 10e-6), np.random.default_rng(0))
    assert p.stuck is not None and 0 < p.stuck.mean() < 0.03


def test_schema_and_dataclasses_agree():
    """Every section's schema properties are exactly its dataclass fields (two independent
    descriptions of the same card must not drift apart)."""
    schema = load_schema("crossbar", "1.0")
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    card_fields = {f.name for f in dataclasses.fields(CrossbarCard)}
    assert set(props) == card_fields | {"card_type", "schema_version"}
    assert set(schema["required"]) == set(props)
    for name, cls in _SECTION_TYPES.items():
        assert set(props[name]["properties"]) == {f.name for f in dataclasses.fields(cls)}, name
    for cls in (IdealDevice, PCMDevice, RRAMDevice, TableDevice):
        device_props = schema["$defs"][f"{cls.kind}_device"]["properties"]
        assert set(device_props) == {f.name for f in dataclasses.fields(cls)} | {"kind"}, cls.kind


def mutate(fn):
    data = preset("pcm").to_dict()
    fn(data)
    return data


def set_in(section, key, value):
    return lambda d: d[section].__setitem__(key, value)


BAD_CARDS = [
    # (mutation, json_path, fragment of the message)
    (set_in("adc", "bits", -3), "$.adc.bits", "-3 is less than the minimum of 2"),
    (set_in("adc", "bits", 1), "$.adc.bits", "1 is less than the minimum of 2"),
    (set_in("dac", "bits", 1), "$.dac.bits", "1 is less than the minimum of 2"),
    (set_in("dac", "bits", 64), "$.dac.bits", "greater than the maximum of 32"),
    (set_in("adc", "bits", "8"), "$.adc.bits", "is not of type 'integer', 'null'"),
    (set_in("adc", "bits", True), "$.adc.bits", "is not of type"),
    (set_in("adc", "bits", 8.5), "$.adc.bits", "is not of type"),
    (set_in("adc", "range_units", 0), "$.adc.range_units", "minimum of 0"),
    (set_in("dac", "v_read_V", -0.2), "$.dac.v_read_V", "minimum of 0"),
    (set_in("dac", "v_read_V", math.inf), "$.dac.v_read_V", "must be a finite number"),
    (set_in("tia", "noise_units", math.nan), "$.tia.noise_units", "must be a finite number"),
    (set_in("tile", "max_rows", 0), "$.tile.max_rows", "minimum of 1"),
    (set_in("levels", "n_levels", 1), "$.levels.n_levels", "minimum of 2"),
    (set_in("mapping", "w_max", -1.0), "$.mapping.w_max", "minimum of 0"),
    (set_in("wires", "r_row_segment_ohm", -1.0), "$.wires.r_row_segment_ohm", "minimum of 0"),
    (set_in("timing", "t_read_s", 0.0), "$.timing.t_read_s", "minimum of 0"),
    (set_in("faults", "stuck_at_gmin_rate", 1.5), "$.faults.stuck_at_gmin_rate", "maximum of 1"),
    (lambda d: d["faults"].update(stuck_at_gmin_rate=0.6, stuck_at_gmax_rate=0.6), "$.faults.stuck_at_gmax_rate", "<= 1"),
    (lambda d: d["adc"].pop("bits"), "$.adc.bits", "missing required field"),
    (lambda d: d.pop("tia"), "$.tia", "missing required field"),
    (lambda d: d["device"].pop("g_max_S"), "$.device.g_max_S", "missing required field"),
    (set_in("adc", "bitz", 8), "$.adc.bitz", "unknown field"),
    (lambda d: d.__setitem__("colour", "red"), "$.colour", "unknown field"),
    (lambda d: d.__setitem__("schema_version", "2.0"), "$.schema_version", "unsupported schema_version '2.0'"),
    (lambda d: d.__setitem__("schema_version", 1.0), "$.schema_version", "unsupported schema_version 1.0"),
    (lambda d: d.pop("schema_version"), "$.schema_version", "missing required field"),
    (lambda d: d.__setitem__("card_type", "optical"), "$.card_type", "unknown card type 'optical'"),
    (lambda d: d.pop("card_type"), "$.card_type", "missing required field"),
    (set_in("device", "kind", "memristor"), "$.device.kind", "'memristor' is not allowed"),
    (set_in("device", "g_min_S", 30e-6), "$.device.g_min_S", "must be < g_max_S"),
    (set_in("device", "g_min_S", -1e-6), "$.device.g_min_S", "less than the minimum of 0"),
    (set_in("device", "g_max_S", -1e-6), "$.device.g_max_S", "minimum of 0"),
    (set_in("device", "g_max_S", "25uS"), "$.device.g_max_S", "is not of type 'number'"),
    (set_in("device", "read_noise_scale", -1.0), "$.device.read_noise_scale", "minimum of 0"),
    (set_in("device", "nu_mean_range", [0.1, 0.01]), "$.device.nu_mean_range", "inverted"),
    (set_in("device", "prog_noise_coeffs", [0.01, math.nan]), "$.device.prog_noise_coeffs[1]", "must be a finite number"),
    (set_in("device", "level_mean_S", [1e-6]), "$.device.level_mean_S", "unknown field"),
    (lambda d: d.__setitem__("update", {"dg_min_up_S": 1.0, "dg_min_down_S": 1e-7, "cycle_noise_rel": 0.0}),
     "$.update.dg_min_up_S", "exceeds the device range"),
    (lambda d: d.__setitem__("update", {"dg_min_up_S": 1e-7}), "$.update.dg_min_down_S", "missing required field"),
    (lambda d: d.__setitem__("drift_compensation", "local"), "$.drift_compensation", "'local' is not allowed"),
    (lambda d: d.__setitem__("references", "a paper"), "$.references", "is not of type 'array'"),
    (lambda d: d.__setitem__("name", ""), "$.name", "should be non-empty"),
]


@pytest.mark.parametrize("fn, json_path, fragment", BAD_CARDS, ids=[b[1] + ":" + b[2][:24] for b in BAD_CARDS])
def test_bad_card_fields(fn, json_path, fragment):
    with pytest.raises(CardError) as info:
        card_from_dict(mutate(fn))
    assert info.value.json_path == json_path
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_table_device_card_errors():
    device = {
        "kind": "table", "g_min_S": 0.0, "g_max_S": 1e-5, "level_mean_S": [2e-6, 1e-6], "level_std_S": [0.0, 0.0],
        "read_std_S": None, "programming_noise_scale": 1.0, "read_noise_scale": 1.0, "drift_scale": 1.0,
    }
    with pytest.raises(CardError, match=r"\$\.device\.level_mean_S: .*strictly increasing"):
        card_from_dict(mutate(lambda d: d.__setitem__("device", device)))
    good = dict(device, level_mean_S=[1e-6, 2e-6])
    card = card_from_dict(mutate(lambda d: d.__setitem__("device", good)))
    assert isinstance(card.device, TableDevice)


def test_not_a_dict():
    with pytest.raises(CardError, match=r"^\$: a card must be a JSON object"):
        card_from_dict([1, 2])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"a": NaN}', "NaN is not allowed"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_load_card_bad_files(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CardError) as info:
        load_card(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)  # the file is named


def test_load_card_error_names_file_and_field(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(mutate(set_in("adc", "bits", -3))))
    with pytest.raises(CardError) as info:
        load_card(path)
    assert str(info.value) == f"{path}: $.adc.bits: -3 is less than the minimum of 2"


def test_save_card_refuses_invalid_and_keeps_old_file(tmp_path):
    path = save_card(preset("pcm"), tmp_path / "card.json")
    before = path.read_text()
    with pytest.raises(CardError):
        save_card(mutate(set_in("adc", "bits", 0)), path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]
    with pytest.raises(TypeError):
        save_card(object(), tmp_path / "x.json")


def test_with_value_returns_new_validated_card():
    card = preset("pcm")
    card6 = with_value(card, "adc.bits", 6)
    assert card6.adc.bits == 6 and card.adc.bits == 9
    assert with_value(card, "adc.bits", None).adc.bits is None
    assert with_value(card, "device.read_noise_scale", np.float32(2.0)).device.read_noise_scale == 2.0
    assert with_value(card, "tile.max_rows", np.int64(128)).tile.max_rows == 128
    assert with_value(card, "device.prog_noise_coeffs.0", 0.02).device.prog_noise_coeffs[0] == 0.02
    update = {"dg_min_up_S": 1e-7, "dg_min_down_S": 2e-7, "cycle_noise_rel": 0.1}
    assert with_value(card, "update", update).update.asymmetry == pytest.approx(0.5)
    rram = with_value(card, "device", RRAMDevice())
    assert isinstance(rram.device, RRAMDevice)


@pytest.mark.parametrize(
    "path, value, json_path",
    [
        ("adc.bits", -3, "$.adc.bits"),
        ("adc.bitz", 6, "$.adc.bitz"),
        ("update.dg_min_up_S", 1e-7, "$.update"),
        ("device.prog_noise_coeffs.7", 0.1, "$.device.prog_noise_coeffs[7]"),
        ("adc..bits", 6, "$"),
        ("", 6, "$"),
    ],
)
def test_with_value_errors(path, value, json_path):
    with pytest.raises(CardError) as info:
        with_value(preset("pcm"), path, value)
    assert info.value.json_path == json_path


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset("nope")
    with pytest.raises(ValueError, match="unknown preset"):
        preset("../schemas/crossbar-card.v1")


def test_crossbar_card_checks_its_section_types():
    card = preset("ideal")
    with pytest.raises(TypeError, match="CrossbarCard.adc"):
        dataclasses.replace(card, adc=card.dac)
    with pytest.raises(TypeError, match="CrossbarCard.device"):
        dataclasses.replace(card, device="pcm")


def test_register_card_type_dispatches(monkeypatch):
    """Another card type plugs in by registering a loader; card_from_dict, with_value and
    save_card then work for it."""
    monkeypatch.setattr(cards_pkg.registry, "_CARD_TYPES", dict(cards_pkg.registry._CARD_TYPES))

    @dataclasses.dataclass(frozen=True)
    class ToyCard:
        gain: float

        def to_dict(self):
            return {"card_type": "toy", "schema_version": "0.1", "gain": self.gain}

    def toy_from_dict(data):
        if not isinstance(data.get("gain"), (int, float)) or data["gain"] <= 0:
            raise CardError("$.gain", f"{data.get('gain')!r} must be a number > 0")
        return ToyCard(float(data["gain"]))

    register_card_type("toy", toy_from_dict, versions=("0.1",))
    card = card_from_dict({"card_type": "toy", "schema_version": "0.1", "gain": 2})
    assert card == ToyCard(2.0)
    assert with_value(card, "gain", 3.0) == ToyCard(3.0)
    with pytest.raises(CardError, match=r"\$\.gain"):
        with_value(card, "gain", -1.0)
    with pytest.raises(CardError, match="unsupported schema_version '1.0'"):
        card_from_dict({"card_type": "toy", "schema_version": "1.0", "gain": 2})
    assert "toy" in cards_pkg.card_types()
