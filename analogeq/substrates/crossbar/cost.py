"""Energy [J] and latency [s] of one inference (one settling) on crossbars, from the card.

The equations are those of :mod:`hardware_models.cost` (``tile_read_cost`` and
``settle_cost``), applied to what the reads of a settling actually did. A *row read* is one
input vector through every tile of one matrix direction (a dense synapse read, or one patch
position of a convolution); a read r with n_ti x n_to tiles costs::

    E_array = t_read_s * v_read_V^2 * sum_i xq_i^2 * G_line_i     (xq: DAC output in [-1, 1],
                                                                  G_line_i = sum of G+ + G- on line i)
    E_dac   = n_in * n_to * e_dac                                 (every tile drives its rows)
    E_adc   = n_out * n_ti * e_adc                                (every tile converts its outputs)
    tile reads = n_ti * n_to

with e_dac = FOM_dac * 2^dac.bits and e_adc = FOM_adc * 2^adc.bits per conversion
(``hardware_models.cost.conversion_energies_J``: the card's figures of merit and bits), and one
inference adds ``steps * n_neurons * e_neuron_update_J`` for the neuron periphery. The four
parts are in ``energy_breakdown_J`` (``array``, ``DAC``, ``ADC``, ``neurons``; they sum to
``energy_per_inference_J``) and as ``<part>_energy_J``.
Latency, discrete mode: ``tile_reads * (t_read_s + t_adc_s)``, every tile read of the settling
one after the other (``settle_cost``'s convention: an upper bound); ``latency_parallel_s`` is the
lower figure where all matrices read at once and each matrix's tiles in parallel
(``max over matrices of its row reads * (t_read_s + t_adc_s)``). Continuous-time mode: the
settling time of the RC neurons, ``steps * dt`` (the physics), plus one ADC conversion of the
output. Not counted (as in :mod:`hardware_models.cost`): wire losses, static power, the TIA,
digital accumulation, data movement and control.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analogeq.substrates.base import with_energy_breakdown
from hardware_models.cost import conversion_energies_J
from hardware_models.crossbar import LinearReadModel

__all__ = ["inference_cost", "read_costs", "upper_bound_energy_units"]


def read_costs(reads: list[LinearReadModel]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per read index: (DAC conversions, ADC conversions, tile reads) of one row read."""
    n_dac = np.array([m.n_in * m.n_tiles[1] for m in reads], dtype=np.int64)
    n_adc = np.array([m.n_out * m.n_tiles[0] for m in reads], dtype=np.int64)
    n_tiles = np.array([m.n_tiles[0] * m.n_tiles[1] for m in reads], dtype=np.int64)
    return n_dac, n_adc, n_tiles


def upper_bound_energy_units(line_g: list[np.ndarray]) -> np.ndarray:
    """Per read: sum_i G_line_i, the array energy units of a row read with every input at full scale."""
    return np.array([float(np.sum(g)) for g in line_g])


def inference_cost(
    card: Any,
    reads: list[LinearReadModel],
    row_reads: np.ndarray,
    energy_units: float,
    steps: float,
    n_neurons: int,
    *,
    settle_time_s: float | None = None,
) -> dict[str, Any]:
    """Cost of one inference from its mean counts (see the module docstring).

    ``row_reads`` (R,): row reads of each read index per inference; ``energy_units``: sum of
    xq^2 G_line over them [S]; ``steps``: settling steps; ``n_neurons``: state units updated per
    step; ``settle_time_s``: the continuous-time settling time, or None in discrete mode.
    """
    row_reads = np.asarray(row_reads, dtype=np.float64)
    n_dac, n_adc, n_tiles = read_costs(reads)
    t_read, t_adc = card.timing.t_read_s, card.timing.t_adc_s
    v = card.dac.v_read_V
    array_J = float(t_read * v * v * energy_units)
    dac_conv = float(row_reads @ n_dac)
    adc_conv = float(row_reads @ n_adc)
    tile_reads = float(row_reads @ n_tiles)
    e_dac, e_adc = conversion_energies_J(card)
    dac_J = dac_conv * e_dac
    adc_J = adc_conv * e_adc
    neuron_updates = float(steps) * int(n_neurons)
    neuron_J = neuron_updates * card.cost.e_neuron_update_J
    per_matrix = row_reads.reshape(-1, 2).sum(axis=1)
    serial_s = tile_reads * (t_read + t_adc)
    parallel_s = float(per_matrix.max(initial=0.0)) * (t_read + t_adc)
    latency = serial_s if settle_time_s is None else float(settle_time_s) + t_adc
    out = {
        "energy_per_inference_J": array_J + dac_J + adc_J + neuron_J,
        "latency_per_inference_s": latency,
        "array_energy_J": array_J,
        "dac_energy_J": dac_J,
        "adc_energy_J": adc_J,
        "neuron_energy_J": neuron_J,
        "dac_conversions": dac_conv,
        "adc_conversions": adc_conv,
        "tile_reads": tile_reads,
        "row_reads": float(row_reads.sum()),
        "neuron_updates": neuron_updates,
        "steps": float(steps),
        "latency_serial_s": serial_s,
        "latency_parallel_s": parallel_s,
        "settle_time_s": None if settle_time_s is None else float(settle_time_s),
    }
    return with_energy_breakdown(out, {"array": array_J, "DAC": dac_J, "ADC": adc_J, "neurons": neuron_J})
