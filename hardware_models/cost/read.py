"""Energy [J] and latency [s] of reading a crossbar tile, from a card's numbers.

One read of a tile with inputs on its rows (forward, y = x W) costs::

    E_array = t_read_s * sum_b sum_i v_bi^2 * sum_j (G+_ij + G-_ij)     dissipation in both devices of every pair
    E_dac   = n_inputs * e_dac                                           one conversion per driven line and read
    E_adc   = n_outputs * e_adc                                          one conversion per output and read
    latency = t_read_s + t_adc_s                                          per read; B reads run one after the other

with the energy of one conversion a law of the converter's bits (Walden figure of merit,
:func:`conversion_energies_J`)::

    e_dac = cost.dac_fom_J_per_step * 2^dac.bits        e_adc = cost.adc_fom_J_per_step * 2^adc.bits

An ideal converter (``bits`` None) has no resolution to cost: its conversions count 0 J.

(for a transposed read, W^T, the inputs are on the columns and v_j^2 multiplies the column sums).
The array term assumes virtual-ground sensing, so the full input voltage drops across each cell,
and one ADC conversion per differential output (currents of G+ and G- subtracted before the
converter, as in aihwkit's model). Wire (IR-drop) losses, peripheral static power, the TIA and
digital accumulation of partial sums are not included. Sources and ranges of the per-conversion
energies: :mod:`hardware_models.cost`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Walden figure of merit of the ADC [J per conversion step]: 5 fJ/step, 2.56 pJ at 9 bits
#: (sources and range: :mod:`hardware_models.cost`).
ADC_FOM_DEFAULT_J_PER_STEP = 5e-15
#: figure of merit of the DAC [J per conversion step]: 50 fJ / 2^7, i.e. 50 fJ per row drive at
#: 7 bits (aihwkit's DAC), an order-of-magnitude assumption (:mod:`hardware_models.cost`).
DAC_FOM_DEFAULT_J_PER_STEP = 50e-15 / 2**7


@dataclass(frozen=True)
class ReadCost:
    """Cost of ``n_reads`` reads of one tile (totals; ``*_per_read`` properties divide)."""

    energy_J: float
    latency_s: float
    array_energy_J: float
    dac_energy_J: float
    adc_energy_J: float
    n_reads: int
    n_dac_conversions: int
    n_adc_conversions: int

    @property
    def energy_per_read_J(self) -> float:
        return self.energy_J / self.n_reads

    @property
    def latency_per_read_s(self) -> float:
        return self.latency_s / self.n_reads

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["energy_per_read_J"] = self.energy_per_read_J
        out["latency_per_read_s"] = self.latency_per_read_s
        return out


def _conductances(name: str, g: Any) -> np.ndarray:
    arr = np.asarray(g, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (rows, cols) array of conductances, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr.size and arr.min() < 0):
        raise ValueError(f"{name} must hold finite conductances >= 0 S")
    return arr


def tile_read_cost(
    card: Any,
    g_pos_S: np.ndarray,
    g_neg_S: np.ndarray | None,
    v_in_V: np.ndarray,
    *,
    transpose: bool = False,
) -> ReadCost:
    """Energy and latency of reading one programmed tile (see module docstring).

    ``card``: a crossbar card (uses ``dac.v_read_V``, ``timing`` and ``cost``); ``g_pos_S``,
    ``g_neg_S``: (rows, cols) conductances of the two sides of the differential pair [S]
    (``g_neg_S`` None for a single-device mapping); ``v_in_V``: input voltages [V], shape
    (n_in,) for one read or (B, n_in) for B reads, n_in = rows (forward) or cols
    (``transpose=True``), |v| <= v_read_V.
    """
    g = _conductances("g_pos_S", g_pos_S)
    if g_neg_S is not None:
        g_neg = _conductances("g_neg_S", g_neg_S)
        if g_neg.shape != g.shape:
            raise ValueError(f"g_neg_S has shape {g_neg.shape}, g_pos_S has {g.shape}; they must match")
        g = g + g_neg
    rows, cols = g.shape
    n_in, n_out = (cols, rows) if transpose else (rows, cols)
    v = np.asarray(v_in_V, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.shape[1] != n_in:
        raise ValueError(
            f"v_in_V must have shape ({n_in},) or (B, {n_in}) for a {'transposed ' if transpose else ''}read of a "
            f"{rows}x{cols} tile, got {np.shape(v_in_V)}"
        )
    if v.shape[0] == 0:
        raise ValueError("v_in_V holds no reads (B = 0)")
    if not np.all(np.isfinite(v)):
        raise ValueError("v_in_V contains NaN or infinite voltages")
    v_read = card.dac.v_read_V
    if np.abs(v).max() > v_read * (1 + 1e-9):
        raise ValueError(f"|v_in_V| reaches {np.abs(v).max()!r} V, above the card's v_read_V = {v_read!r} V")
    line_g = g.sum(axis=0) if transpose else g.sum(axis=1)  # conductance hanging on each driven line
    n_reads = v.shape[0]
    t_read, t_adc = card.timing.t_read_s, card.timing.t_adc_s
    array_J = float(t_read * np.sum((v * v) @ line_g))
    n_dac = n_reads * n_in
    n_adc = n_reads * n_out
    e_dac, e_adc = conversion_energies_J(card)
    dac_J = n_dac * e_dac
    adc_J = n_adc * e_adc
    return ReadCost(
        energy_J=array_J + dac_J + adc_J,
        latency_s=n_reads * (t_read + t_adc),
        array_energy_J=array_J,
        dac_energy_J=dac_J,
        adc_energy_J=adc_J,
        n_reads=n_reads,
        n_dac_conversions=n_dac,
        n_adc_conversions=n_adc,
    )


def tile_read_cost_bound(card: Any, rows: int, cols: int, *, transpose: bool = False) -> ReadCost:
    """Upper bound of one read of a rows x cols tile: every input at +-v_read_V and both devices
    of every pair at g_max_S (no programmed conductances needed)."""
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    g = np.full((rows, cols), card.device.g_max_S)
    n_in = cols if transpose else rows
    return tile_read_cost(card, g, g, np.full(n_in, card.dac.v_read_V), transpose=transpose)


def converter_energy_J(bits: int | None, fom_J_per_step: float) -> float:
    """Energy of one conversion from the Walden figure of merit: E = FOM * 2^bits [J].

    ``bits`` None (an ideal, unquantised converter) gives 0 J: the law has no resolution to
    cost. Uses the nominal bits in place of the effective number of bits (ENOB is typically
    0.5-1.5 bits lower), so it is an optimistic-to-typical figure.
    """
    if not np.isfinite(fom_J_per_step) or fom_J_per_step < 0:
        raise ValueError(f"fom_J_per_step must be finite and >= 0, got {fom_J_per_step!r}")
    if bits is None:
        return 0.0
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1 or None, got {bits!r}")
    return float(fom_J_per_step * 2.0 ** int(bits))


def conversion_energies_J(card: Any) -> tuple[float, float]:
    """(e_dac, e_adc): energy [J] of one DAC and one ADC conversion of a crossbar card,
    ``cost.dac_fom_J_per_step * 2^dac.bits`` and ``cost.adc_fom_J_per_step * 2^adc.bits``.
    The one place the converter energies of a card are computed."""
    return (converter_energy_J(card.dac.bits, card.cost.dac_fom_J_per_step),
            converter_energy_J(card.adc.bits, card.cost.adc_fom_J_per_step))


def converter_summary(card: Any) -> str:
    """The converters of a crossbar card as text that follows ``dac.bits``, ``adc.bits`` and the
    cost law, e.g. ``"7-bit DAC (0.05 pJ/conversion), 9-bit ADC (2.56 pJ/conversion, full scale
    +-12 units)"`` (a card's free-text ``description`` is not rewritten when its bits change)."""
    e_dac, e_adc = conversion_energies_J(card)

    def one(kind: str, bits: int | None, e_J: float) -> str:
        if bits is None:
            return f"ideal {kind} (no rounding, 0 pJ/conversion"
        return f"{bits}-bit {kind} ({e_J * 1e12:.3g} pJ/conversion"

    return (f"{one('DAC', card.dac.bits, e_dac)}), "
            f"{one('ADC', card.adc.bits, e_adc)}, full scale +-{card.adc.range_units:g} units)")


def adc_energy_walden_J(bits: int, fom_J_per_step: float = ADC_FOM_DEFAULT_J_PER_STEP) -> float:
    """:func:`converter_energy_J` with the default ADC figure of merit (5 fJ/conversion-step,
    within the ~1-10 fJ/step of state-of-the-art SAR ADCs at 10 MS/s-1 GS/s, B. Murmann, ADC
    Performance Survey, Stanford): 2.56 pJ at 9 bits."""
    if bits is None:
        raise ValueError("bits must be an integer >= 1, got None")
    return converter_energy_J(bits, fom_J_per_step)
