"""Crossbar tiles: weight mapping to differential pairs, DAC/TIA/ADC, tiling, reads in both
directions with drift compensation, exact IR drop, Numba kernels for the per-read work.

Main entry points: :class:`CrossbarArray` (a programmed matrix) and its
:meth:`~CrossbarArray.read_model` (a :class:`LinearReadModel`, the read in weight units that
other simulators reproduce); :func:`effective_conductance` (exact IR drop).
"""

from .array import DRIFT_COMPENSATIONS, CrossbarArray
from .converters import Quantizer, adc_quantizer, dac_quantizer
from .ir_drop import (
    WireResistances,
    effective_conductance,
    effective_conductance_blocks,
    effective_conductance_sparse,
    nodal_system,
    solve_column_currents,
)
from .mapping import differential_targets
from .read_model import DIRECTIONS, LinearReadModel

__all__ = [
    "CrossbarArray",
    "DIRECTIONS",
    "DRIFT_COMPENSATIONS",
    "LinearReadModel",
    "Quantizer",
    "WireResistances",
    "adc_quantizer",
    "dac_quantizer",
    "differential_targets",
    "effective_conductance",
    "effective_conductance_blocks",
    "effective_conductance_sparse",
    "nodal_system",
    "solve_column_currents",
]
