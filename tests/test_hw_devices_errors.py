"""Bad input to the device models: clear errors naming the field, the value and what is allowed;
plus the to_dict/from_dict round trip of every device kind."""

import json
import math

import numpy as np
import pytest

from hardware_models.devices import (
    ConductanceLevels,
    DeviceModel,
    IdealDevice,
    ParameterError,
    PCMDevice,
    RRAMDevice,
    StuckAtFaults,
    TableDevice,
    device_from_dict,
    program_conductances,
)

TABLE = dict(g_min_S=0.0, g_max_S=10e-6, level_mean_S=(1e-6, 5e-6, 9e-6), level_std_S=(0.1e-6, 0.2e-6, 0.3e-6))


def all_devices():
    return [
        IdealDevice(),
        PCMDevice(),
        PCMDevice.crosssim_joshi(),
        RRAMDevice(relax_center_S=5e-6),
        TableDevice(**TABLE, read_std_S=(1e-8, 2e-8, 3e-8)),
    ]


@pytest.mark.parametrize("device", all_devices(), ids=lambda d: d.kind)
def test_round_trip_and_protocol(device):
    assert isinstance(device, DeviceModel)
    d = device.to_dict()
    assert d["kind"] == device.kind
    assert json.loads(json.dumps(d)) == d  # plain JSON
    again = device_from_dict(d)
    assert again == device and again.to_dict() == d


@pytest.mark.parametrize("cls", [IdealDevice, PCMDevice, RRAMDevice])
@pytest.mark.parametrize(
    "g_min, g_max, field",
    [(-1e-6, 1e-5, "g_min_S"), (2e-5, 1e-5, "g_min_S"), (1e-5, 1e-5, "g_min_S"), (0.0, -1e-5, "g_max_S"),
     (0.0, math.inf, "g_max_S"), (math.nan, 1e-5, "g_min_S")],
)
def test_negative_or_inverted_conductance_range(cls, g_min, g_max, field):
    with pytest.raises(ValueError) as info:
        cls(g_min_S=g_min, g_max_S=g_max)
    assert info.value.field == field
    assert f"{cls.__name__}.{field}" in str(info.value)


def test_table_inverted_range_and_levels():
    with pytest.raises(ValueError, match="g_min_S"):
        TableDevice(**{**TABLE, "g_min_S": 20e-6})
    with pytest.raises(ValueError, match="strictly increasing"):
        TableDevice(**{**TABLE, "level_mean_S": (5e-6, 1e-6, 9e-6)})
    with pytest.raises(ValueError, match="outside"):
        TableDevice(**{**TABLE, "level_mean_S": (1e-6, 5e-6, 11e-6)})
    with pytest.raises(ValueError, match="expected exactly 3"):
        TableDevice(**{**TABLE, "level_std_S": (1e-7,)})


@pytest.mark.parametrize(
    "cls, kwargs, field",
    [
        (PCMDevice, {"programming_noise_scale": -1.0}, "programming_noise_scale"),
        (PCMDevice, {"read_noise_scale": math.nan}, "read_noise_scale"),
        (PCMDevice, {"t0_s": 0.0}, "t0_s"),
        (PCMDevice, {"nu_mean_range": (0.1, 0.05)}, "nu_mean_range"),
        (PCMDevice, {"nu_std_log_coeffs": (1.0,)}, "nu_std_log_coeffs"),
        (PCMDevice, {"prog_noise_coeffs": ()}, "prog_noise_coeffs"),
        (RRAMDevice, {"drift_scale": -0.5}, "drift_scale"),
        (RRAMDevice, {"relax_center_S": 1.0}, "relax_center_S"),
        (RRAMDevice, {"relax_t0_s": -1.0}, "relax_t0_s"),
        (IdealDevice, {"read_noise_scale": -1}, "read_noise_scale"),
    ],
)
def test_bad_parameters_name_the_field(cls, kwargs, field):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    assert info.value.field == field


def test_wrong_types():
    with pytest.raises(TypeError, match="g_max_S"):
        PCMDevice(g_max_S="25e-6")
    with pytest.raises(TypeError, match="n_levels"):
        ConductanceLevels(n_levels=True)
    with pytest.raises(TypeError, match="n_levels"):
        ConductanceLevels(n_levels=2.5)
    assert ConductanceLevels(n_levels=8.0).n_levels == 8  # an integral float is an integer (JSON)


@pytest.mark.parametrize("n_levels", [1, 0, -3])
def test_levels_below_two(n_levels):
    with pytest.raises(ValueError, match="n_levels.*>= 2"):
        ConductanceLevels(n_levels=n_levels)


@pytest.mark.parametrize("rates", [(-0.1, 0.0), (0.0, 1.5), (0.6, 0.5), (math.nan, 0.0)])
def test_bad_fault_rates(rates):
    with pytest.raises(ValueError, match="stuck_at"):
        StuckAtFaults(*rates)


@pytest.mark.parametrize("device", all_devices(), ids=lambda d: d.kind)
def test_bad_targets_and_times(device):
    rng = np.random.default_rng(0)
    good = np.full(3, 0.5 * (device.g_min_S + device.g_max_S))
    for bad, match in (
        (np.array([np.nan, 1e-6, 1e-6]), "NaN"),
        (np.array([np.inf, 1e-6, 1e-6]), "NaN or infinite"),
        (np.array([device.g_max_S * 1.01]), "outside"),
        (np.array([-1e-6]), "outside"),
    ):
        with pytest.raises(ValueError, match=match):
            device.program(bad, rng)
        with pytest.raises(ValueError, match=match):
            program_conductances(device, bad, rng)
    with pytest.raises(TypeError, match="Generator"):
        device.program(good, 0)
    p = device.program(good, rng)
    for t in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="t_s"):
            p.at_time(t)
        with pytest.raises(ValueError, match="t_s"):
            device.read_noise_std(good, t)
    with pytest.raises(ValueError, match="NaN"):
        device.read_noise_std(np.array([np.nan]), 1.0)


def test_device_from_dict_errors():
    with pytest.raises(ParameterError, match="unknown device kind 'memristor'"):
        device_from_dict({"kind": "memristor"})
    with pytest.raises(ParameterError, match="kind: missing"):
        device_from_dict({"g_min_S": 0.0})
    with pytest.raises(ParameterError, match="g_max_Ss: unknown field"):
        device_from_dict({"kind": "pcm", "g_max_Ss": 1.0})
    with pytest.raises(ParameterError, match="level_mean_S: missing required field"):
        device_from_dict({"kind": "table", "g_min_S": 0.0, "g_max_S": 1.0, "level_std_S": [0, 0]})
    with pytest.raises(TypeError, match="dict"):
        device_from_dict([("kind", "pcm")])


def test_program_conductances_source_errors():
    with pytest.raises(TypeError, match="source"):
        program_conductances("pcm", np.zeros(2), np.random.default_rng(0))
    card = type("Parts", (), {"device": IdealDevice(), "levels": ConductanceLevels(), "faults": StuckAtFaults()})
    with pytest.raises(TypeError, match="bare device"):
        program_conductances(card, np.zeros(2), np.random.default_rng(0), levels=ConductanceLevels(4))
