"""Section dataclasses of a crossbar card (tile, mapping, converters, wires, timing, neuron,
cost). The device-side sections (device, levels, faults, update) are the classes of
:mod:`hardware_models.devices`. Every section validates itself at construction (raising
``hardware_models.params.ParameterError`` naming the field) and round-trips through
``to_dict``/``from_dict``. SI units throughout."""

from __future__ import annotations

from dataclasses import dataclass

from hardware_models.cost.read import ADC_FOM_DEFAULT_J_PER_STEP, DAC_FOM_DEFAULT_J_PER_STEP
from hardware_models.devices._serial import SectionDictMixin
from hardware_models.params import NON_NEGATIVE, POSITIVE, Integer, NoneOr, OneOf, validate_fields

MAX_CONVERTER_BITS = 32  # beyond this the step is below float64 resolution of the full scale
#: converter resolution: None (ideal) or an integer number of bits in [2, MAX_CONVERTER_BITS]
BITS = NoneOr(Integer(2, MAX_CONVERTER_BITS, integral_float=True), "ideal converter")
COUNT = Integer(1, integral_float=True)


@dataclass(frozen=True)
class TileSection(SectionDictMixin):
    """Largest physical array: matrices with more rows/columns are split over several tiles
    whose partial sums are accumulated digitally. Integers >= 1."""

    max_rows: int
    max_cols: int

    def __post_init__(self) -> None:
        validate_fields(self, {"max_rows": COUNT, "max_cols": COUNT})


@dataclass(frozen=True)
class MappingSection(SectionDictMixin):
    """Weight-to-conductance mapping of the differential pair (G+, G-): |W| = w_max maps to
    g_max_S - g_min_S on one side. ``w_max`` > 0, or None for max |W| of each matrix."""

    w_max: float | None = None

    def __post_init__(self) -> None:
        validate_fields(self, {"w_max": NoneOr(POSITIVE)})


@dataclass(frozen=True)
class DACSection(SectionDictMixin):
    """Input converter: inputs in [-1, 1] become voltages in [-v_read_V, +v_read_V] [V],
    quantised to ``bits`` (None = ideal, else an integer in [2, 32]: a signed mid-tread converter
    with b bits has 2**b - 1 levels, so 1 bit would have only the level 0)."""

    bits: int | None
    v_read_V: float

    def __post_init__(self) -> None:
        validate_fields(self, {"bits": BITS, "v_read_V": POSITIVE})


#: how an ADC's full scale is set (:class:`ADCSection`)
ADC_RANGE_CALIBRATIONS = ("fixed", "tile")


@dataclass(frozen=True)
class ADCSection(SectionDictMixin):
    """Output converter: full scale +-range_units * v_read_V * (g_max_S - g_min_S) [A],
    saturating, ``bits`` resolution (None = ideal). aihwkit's out_bound 12 is range_units 12.

    ``range_calibration``: ``"fixed"`` (default: every tile's ADC has that full scale) or
    ``"tile"``: each tile's ADCs (per read direction) are calibrated at programming time to the
    largest current the tile can give, R = min(range_units, max_j sum_i |G+_ij - G-_ij| /
    (g_max_S - g_min_S)) units over its output lines j and driven lines i: with every input in
    the DAC's [-1, 1] a noise-free read never saturates, and the ``bits`` resolve +-R instead of
    +-range_units. Left out of ``to_dict`` when ``"fixed"``: cards written before the field load,
    and hash, as they did (so a card without the field takes it from its file, not from
    ``with_value``)."""

    bits: int | None
    range_units: float
    range_calibration: str = "fixed"

    def __post_init__(self) -> None:
        validate_fields(self, {"bits": BITS, "range_units": POSITIVE,
                               "range_calibration": OneOf(ADC_RANGE_CALIBRATIONS)})

    def to_dict(self) -> dict:
        d = super().to_dict()
        if d["range_calibration"] == "fixed":  # the default: card files and stored hashes stay as they were
            del d["range_calibration"]
        return d


@dataclass(frozen=True)
class TIASection(SectionDictMixin):
    """Transimpedance amplifier: gain [ohm] (> 0) and additive Gaussian output noise of std
    noise_units * v_read_V * (g_max_S - g_min_S) [A] (>= 0; aihwkit's out_noise 0.06)."""

    gain_ohm: float
    noise_units: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, {"gain_ohm": POSITIVE, "noise_units": NON_NEGATIVE})


@dataclass(frozen=True)
class WiresSection(SectionDictMixin):
    """Wire resistances [ohm] (>= 0): per row segment between adjacent cells, per column
    segment, driver source per row, sense per column. All zero = no IR drop."""

    r_row_segment_ohm: float = 0.0
    r_col_segment_ohm: float = 0.0
    r_source_ohm: float = 0.0
    r_sense_ohm: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, dict.fromkeys(("r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm"), NON_NEGATIVE))

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
        validate_fields(self, {"t_read_s": POSITIVE, "t_adc_s": POSITIVE})


@dataclass(frozen=True)
class NeuronSection(SectionDictMixin):
    """Analog neuron node: resistance [ohm] and capacitance [F] (> 0); tau = r_ohm * c_F [s]
    for continuous-time settling."""

    r_ohm: float
    c_F: float

    def __post_init__(self) -> None:
        validate_fields(self, {"r_ohm": POSITIVE, "c_F": POSITIVE})

    @property
    def tau_s(self) -> float:
        """Time constant r * c [s]."""
        return self.r_ohm * self.c_F


@dataclass(frozen=True)
class CostSection(SectionDictMixin):
    """Energy per neuron update [J] and the converters' Walden figures of merit [J per
    conversion step], all >= 0. One conversion of a b-bit converter costs ``FOM * 2^b``
    (:func:`hardware_models.cost.conversion_energies_J`); the defaults, 0.39 fJ/step for the DAC
    (50 fJ at 7 bits) and 5 fJ/step for the ADC (2.56 pJ at 9 bits), and their sources:
    :mod:`hardware_models.cost`."""

    e_neuron_update_J: float
    dac_fom_J_per_step: float = DAC_FOM_DEFAULT_J_PER_STEP
    adc_fom_J_per_step: float = ADC_FOM_DEFAULT_J_PER_STEP

    def __post_init__(self) -> None:
        validate_fields(self, dict.fromkeys(("e_neuron_update_J", "dac_fom_J_per_step", "adc_fom_J_per_step"), NON_NEGATIVE))
