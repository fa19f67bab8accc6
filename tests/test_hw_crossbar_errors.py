"""Crossbar arrays refuse bad input with one clear error: conductance ranges, converter bits,
parameters, weights, read inputs (split from test_hw_crossbar.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hardware_models.crossbar import (
    CrossbarArray,
    Quantizer,
    adc_quantizer,
)
from hardware_models.devices import IdealDevice, ProgrammedConductances

# ---- bad input --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FakeDevice:
    """Minimal DeviceModel with arbitrary (possibly invalid) ranges, for error paths."""

    g_min_S: float
    g_max_S: float
    kind: str = "fake"

    def program(self, g_target, rng):
        return ProgrammedConductances(g_prog_S=np.asarray(g_target, float), nu=None, stuck=None, t0_s=1.0, device=self)

    def conductance_at(self, programmed, t_s):
        return programmed.g_prog_S

    def read_noise_std(self, g, t_s):
        return np.zeros(np.shape(g))

    def to_dict(self):
        return {"kind": self.kind, "g_min_S": self.g_min_S, "g_max_S": self.g_max_S}


W0 = np.ones((3, 4))


@pytest.mark.parametrize(
    "device,match",
    [
        (FakeDevice(-1e-6, 25e-6), "device.g_min_S"),
        (FakeDevice(25e-6, 1e-6), "device.g_max_S"),
        (FakeDevice(5e-6, 5e-6), "device.g_max_S"),
        (FakeDevice(0.0, float("nan")), "device.g_max_S"),
    ],
)
def test_bad_conductance_ranges(device, match):
    with pytest.raises(ValueError, match=match):
        CrossbarArray(W0, device)


def test_fake_device_works_through_the_protocol():
    arr = CrossbarArray(W0 * 0.5, FakeDevice(1e-6, 11e-6), dtype=np.float64)
    np.testing.assert_allclose(arr.read(np.ones(4), 1.0), np.full(3, 2.0))


@pytest.mark.parametrize("field", ["dac_bits", "adc_bits"])
@pytest.mark.parametrize("bits,error", [(0, ValueError), (-3, ValueError), (1, ValueError), (33, ValueError),
                                        (2.5, TypeError), (True, TypeError)])
def test_bad_bits(field, bits, error):
    name = field.replace("_", ".")
    with pytest.raises(error, match=name):
        CrossbarArray(W0, IdealDevice(), **{field: bits})


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(v_read_V=0.0), ValueError, "dac.v_read_V"),
        (dict(adc_range_units=-1.0), ValueError, "adc.range_units"),
        (dict(tia_noise_units=-0.1), ValueError, "tia.noise_units"),
        (dict(tia_gain_ohm=float("inf")), ValueError, "tia.gain_ohm"),
        (dict(max_rows=0), ValueError, "tile.max_rows"),
        (dict(max_cols=2.0), TypeError, "tile.max_cols"),
        (dict(w_max=-1.0), ValueError, "mapping.w_max"),
        (dict(w_max=0.5), ValueError, "smaller than max"),
        (dict(drift_compensation="local"), ValueError, "drift_compensation"),
        (dict(dtype=np.int32), ValueError, "dtype"),
        (dict(seed="x"), TypeError, "seed"),
        (dict(wires={"r_row_segment_ohm": 1}), TypeError, "wires"),
        (dict(ir_method="lu"), ValueError, "ir_method"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        CrossbarArray(W0, IdealDevice(), **kwargs)


@pytest.mark.parametrize(
    "weights,error,match",
    [
        (np.array([[1.0, np.nan]]), ValueError, "NaN or inf"),
        (np.array([[1.0, np.inf]]), ValueError, "NaN or inf"),
        (np.ones(4), ValueError, "2-D"),
        (np.ones((0, 3)), ValueError, "2-D"),
        (np.array([["a"]]), TypeError, "real"),
        ("weights", TypeError, "numpy array"),
    ],
)
def test_bad_weights(weights, error, match):
    with pytest.raises(error, match=match):
        CrossbarArray(weights, IdealDevice())


def test_bad_read_inputs():
    arr = CrossbarArray(W0, IdealDevice(), dac_bits=8)
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        arr.read(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        arr.read(np.ones((2, 4)), 1.0, "backward")
    with pytest.raises(ValueError, match="NaN or inf"):
        arr.read(np.array([[0.1, np.nan, 0.0, 0.2]]), 1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        arr.read(np.array([[0.1, 0.0, -np.inf, 0.2]]), 1.0)
    with pytest.raises(TypeError, match="numpy array"):
        arr.read([[0.1, 0.2, 0.3, 0.4]], 1.0)
    with pytest.raises(ValueError, match="direction"):
        arr.read(np.ones((1, 4)), 1.0, "sideways")
    with pytest.raises(ValueError, match="t_s"):
        arr.read(np.ones((1, 4)), -1.0)
    with pytest.raises(ValueError, match="t_s"):
        arr.read_model(float("nan"))
    model = arr.read_model(1.0)
    with pytest.raises(ValueError, match="exactly one"):
        model.read(np.ones((1, 4)))
    with pytest.raises(ValueError, match="exactly one"):
        model.read(np.ones((1, 4)), np.random.default_rng(0), key=3)
    with pytest.raises(TypeError, match="Generator"):
        model.read(np.ones((1, 4)), rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="backend"):
        model.read(np.ones((1, 4)), key=1, backend="torch")
    with pytest.raises(ValueError, match="outside the grid"):
        arr.tile_conductances(1.0, 1, 0)


def test_quantizer_validation():
    with pytest.raises(ValueError, match="step"):
        Quantizer(-0.1, 1.0)
    with pytest.raises(ValueError, match="clip"):
        Quantizer(0.1, 0.0)
    with pytest.raises(ValueError, match="adc.range_units"):
        adc_quantizer(8, 0.0)
