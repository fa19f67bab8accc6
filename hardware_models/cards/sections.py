"""Section dataclasses of a crossbar card (tile, mapping, converters, wires, timing, neuron,
cost). The device-side sections (device, levels, faults, update) are the classes of
:mod:`hardware_models.devices`. Every section validates itself at construction (raising
``ParameterError``/``ParameterTypeError`` naming the field) and round-trips through
``to_dict``/``from_dict``. SI units throughout."""

from __future__ import annotations

from dataclasses import dataclass

from hardware_models.devices._checks import check_float, check_int, ParameterError
from hardware_models.devices._serial import SectionDictMixin

MAX_CONVERTER_BITS = 32  # beyond this the step is below float64 resolution of the full scale


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _positive(obj, name):
    _set(obj, name, check_float(type(obj).__name__, name, getattr(obj, name), minimum=0.0, exclusive_minimum=True))


def _non_negative(obj, name):
    _set(obj, name, check_float(type(obj).__name__, name, getattr(obj, name), minimum=0.0))


def _bits(obj, name):
    value = getattr(obj, name)
    if value is None:
        return
    bits = check_int(type(obj).__name__, name, value, minimum=2)
    if bits > MAX_CONVERTER_BITS:
        raise ParameterError(type(obj).__name__, name, f"{bits} must be an integer in [2, {MAX_CONVERTER_BITS}] or None")
    _set(obj, name, bits)


@dataclass(frozen=True)
class TileSection(SectionDictMixin):
    """Largest physical array: matrices with more rows/columns are split over several tiles
    whose partial sums are accumulated digitally. Integers >= 1."""

    max_rows: int
    max_cols: int

    def __post_init__(self) -> None:
        for name in ("max_rows", "max_cols"):
            _set(self, name, check_int(type(self).__name__, name, getattr(self, name), minimum=1))


@dataclass(frozen=True)
class MappingSection(SectionDictMixin):
    """Weight-to-conductance mapping of the differential pair (G+, G-): |W| = w_max maps to
    g_max_S - g_min_S on one side. ``w_max`` > 0, or None for max |W| of each matrix."""

    w_max: float | None = None

    def __post_init__(self) -> None:
        if self.w_max is not None:
            _positive(self, "w_max")


@dataclass(frozen=True)
class DACSection(SectionDictMixin):
    """Input converter: inputs in [-1, 1] become voltages in [-v_read_V, +v_read_V] [V],
    quantised to ``bits`` (None = ideal, else an integer in [2, 32]: a signed mid-tread converter
    with b bits has 2**b - 1 levels, so 1 bit would have only the level 0)."""

    bits: int | None
    v_read_V: float

    def __post_init__(self) -> None:
        _bits(self, "bits")
        _positive(self, "v_read_V")


@dataclass(frozen=True)
class ADCSection(SectionDictMixin):
    """Output converter: full scale +-range_units * v_read_V * (g_max_S - g_min_S) [A],
    saturating, ``bits`` resolution (None = ideal). aihwkit's out_bound 12 is range_units 12."""

    bits: int | None
    range_units: float

    def __post_init__(self) -> None:
        _bits(self, "bits")
        _positive(self, "range_units")


@dataclass(frozen=True)
class TIASection(SectionDictMixin):
    """Transimpedance amplifier: gain [ohm] (> 0) and additive Gaussian output noise of std
    noise_units * v_read_V * (g_max_S - g_min_S) [A] (>= 0; aihwkit's out_noise 0.06)."""

    gain_ohm: float
    noise_units: float = 0.0

    def __post_init__(self) -> None:
        _positive(self, "gain_ohm")
        _non_negative(self, "noise_units")


@dataclass(frozen=True)
class WiresSection(SectionDictMixin):
    """Wire resistances [ohm] (>= 0): per row segment between adjacent cells, per column
    segment, driver source per row, sense per column. All zero = no IR drop."""

    r_row_segment_ohm: float = 0.0
    r_col_segment_ohm: float = 0.0
    r_source_ohm: float = 0.0
    r_sense_ohm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm"):
            _non_negative(self, name)

    @property
    def ideal(self) -> bool:
        """True when every resistance is zero (no IR drop)."""
        return not any((self.r_row_segment_ohm, self.r_col_segment_ohm, self.r_source_ohm, self.r_sense_ohm))


@dataclass(frozen=True)
class TimingSection(SectionDictMixin):
    """Duration of one array read (``t_read_s``) and of converting its outputs (``t_adc_s``) [s], > 0."""

    t_read_s: float
    t_adc_s: float

    def __post_init__(self) -> None:
        _positive(self, "t_read_s")
        _positive(self, "t_adc_s")


@dataclass(frozen=True)
class NeuronSection(SectionDictMixin):
    """Analog neuron node: resistance [ohm] and capacitance [F] (> 0); tau = r_ohm * c_F [s]
    for continuous-time settling."""

    r_ohm: float
    c_F: float

    def __post_init__(self) -> None:
        _positive(self, "r_ohm")
        _positive(self, "c_F")

    @property
    def tau_s(self) -> float:
        """Time constant r * c [s]."""
        return self.r_ohm * self.c_F


@dataclass(frozen=True)
class CostSection(SectionDictMixin):
    """Energy per DAC conversion (one row drive), per ADC conversion (one output) and per
    neuron update [J], all >= 0. Sources and ranges: :mod:`hardware_models.cost`."""

    e_dac_per_conversion_J: float
    e_adc_per_conversion_J: float
    e_neuron_update_J: float

    def __post_init__(self) -> None:
        for name in ("e_dac_per_conversion_J", "e_adc_per_conversion_J", "e_neuron_update_J"):
            _non_negative(self, name)
