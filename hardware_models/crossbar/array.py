"""A weight matrix programmed into resistive crossbar tiles, read in both directions.

Physical orientation (documented once, used everywhere)
-------------------------------------------------------
``W`` has shape (n_out, n_in). Each physical array has its **rows = inputs of the forward
read** (word lines, driven by DACs) and its **columns = outputs of the forward read** (bit
lines, sensed by TIA + ADC): cell (row i, column j) holds ``W[j, i]``. The physical
conductance matrix of a tile is therefore a block of ``G.T``.

* Forward read ``y = x @ W.T``: ``x`` (B, n_in) drives the rows, the columns are sensed.
* Backward read ``x' = y @ W``: ``y`` (B, n_out) drives the columns (their own DACs), the rows are
  sensed (their own TIAs and ADCs). Same conductances, transposed read.
* Differential pairs: two physical arrays per tile with identical geometry, ``G+`` and ``G-``,
  driven by the same input voltages; the sensed currents are subtracted (I+ - I-) before the
  TIA, one ADC per output line per tile.
* Tiles: ``W`` is cut into blocks of at most ``max_rows`` inputs x ``max_cols`` outputs (rows
  x columns of the physical arrays); every tile has its own converters, and partial sums of the
  tiles along the inputs are accumulated digitally after their ADCs.
* Drivers sit on the column-0 side of each row line and sense amplifiers on the row-0 side of
  each column line (see :mod:`hardware_models.crossbar.ir_drop`); the backward read uses the
  same corner, so it is the forward computation on the transposed array.

Units: a read's mean output in weight units is ``w_max * I / (v_read_V * (g_max_S - g_min_S))``
with ``I`` the differential column current; the ADC full scale is
``adc_range_units * v_read_V * (g_max_S - g_min_S)`` amperes, the TIA noise std
``tia_noise_units * v_read_V * (g_max_S - g_min_S)`` amperes (BRIEF card layout).

Drift compensation (``"global"``, aihwkit's GlobalDriftCompensation): at programming time
(``t0_s`` of the programmed state) and at the read time ``t_s``, a reference read of every tile
with all inputs at +1 gives ``r(t) = mean_j |sum_i w_units[j, i]|``; outputs of that tile are
multiplied digitally by ``alpha = r(t0) / r(t_s)`` (one scalar per tile and direction; 1 where
either reference is 0). Our reference read is noise-free and unquantised (an average of many
reads); it includes IR drop.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from ..devices.base import DeviceModel, ProgrammedConductances
from ..params import check_float, check_int, check_one_of
from .converters import Quantizer, adc_quantizer, check_bits, dac_quantizer, levels_per_side
from .mapping import check_weights, differential_targets, resolve_w_max
from .read_model import DIRECTIONS, LinearReadModel
from .tiles import drift_alpha, tile_edges, unit_response
from .wires import WireResistances, check_wires

__all__ = ["CrossbarArray", "DRIFT_COMPENSATIONS"]

logger = logging.getLogger(__name__)

DRIFT_COMPENSATIONS = ("global", "none")
#: how a tile's ADC full scale is set (the card's ``adc.range_calibration``; the card schema's
#: copy is ``hardware_models.cards.sections.ADC_RANGE_CALIBRATIONS``)
ADC_RANGE_CALIBRATIONS = ("fixed", "tile")
_CACHE_SIZE = 4

ProgramFn = Callable[[np.ndarray, np.random.Generator], ProgrammedConductances]


class CrossbarArray:
    """``W`` (n_out, n_in) programmed into differential pairs of crossbar tiles.

    Parameters
    ----------
    weights:
        The matrix ``W`` (n_out, n_in), finite.
    device:
        A :class:`~hardware_models.devices.base.DeviceModel` (its ``g_min_S``/``g_max_S`` set
        the conductance range).
    w_max:
        Weight mapped to the full span ``g_max_S - g_min_S``; None = ``max |W|``.
    dac_bits, v_read_V:
        Input converter: None (ideal) or bits >= 2; inputs in [-1, 1] -> +-v_read_V [V].
    adc_bits, adc_range_units:
        Output converter of every tile: None (ideal: no rounding, no saturation) or bits >= 2;
        full scale +-adc_range_units * v_read_V * (g_max_S - g_min_S) [A].
    adc_range_calibration:
        ``"fixed"`` (every tile spans +-adc_range_units) or ``"tile"``: each tile's ADCs, per
        read direction, span +-R with R = min(adc_range_units, max_j sum_i |u_ji|), u the tile's
        differential response in units at programming time (``t0_s``, IR drop included), j its
        output lines, i its driven lines: the largest current a noise-free read with inputs in
        [-1, 1] can give (R = adc_range_units for an all-zero tile).
    tia_gain_ohm, tia_noise_units:
        TIA gain [ohm] (reported, it does not change digital outputs) and additive Gaussian
        output noise std in units of v_read_V * (g_max_S - g_min_S) [A].
    wires:
        :class:`WireResistances` (None = no IR drop).
    max_rows, max_cols:
        Largest tile: inputs x outputs of a physical array.
    drift_compensation:
        ``"global"`` or ``"none"``.
    program:
        ``program(g_target, rng) -> ProgrammedConductances`` (levels, device, faults); default
        :func:`hardware_models.devices.program_conductances` with the bare device.
    seed:
        int or :class:`numpy.random.SeedSequence`: one programming draw and the read-noise
        stream (:meth:`reseed` restarts the latter).
    dtype:
        ``np.float32`` (default) or ``np.float64``: arithmetic of the per-read work.
    ir_method:
        ``"blocks"`` (structured, default) or ``"sparse"`` (SuperLU), see
        :func:`~hardware_models.crossbar.ir_drop.effective_conductance`.
    """

    def __init__(
        self,
        weights: np.ndarray,
        device: DeviceModel,
        *,
        w_max: float | None = None,
        dac_bits: int | None = None,
        v_read_V: float = 0.2,
        adc_bits: int | None = None,
        adc_range_units: float = 12.0,
        adc_range_calibration: str = "fixed",
        tia_gain_ohm: float = 1e5,
        tia_noise_units: float = 0.0,
        wires: WireResistances | None = None,
        max_rows: int = 512,
        max_cols: int = 512,
        drift_compensation: str = "global",
        program: ProgramFn | None = None,
        seed: int | np.random.SeedSequence = 0,
        dtype: Any = np.float32,
        ir_method: str = "blocks",
    ) -> None:
        self._weights = check_weights(weights)
        if not isinstance(device, DeviceModel):
            raise TypeError(f"device must implement the DeviceModel protocol, got {type(device).__name__}")
        g_min = check_float("device.g_min_S", device.g_min_S, minimum=0.0)
        g_max = check_float("device.g_max_S", device.g_max_S, minimum=0.0, exclusive_minimum=True)
        if g_max <= g_min:
            raise ValueError(f"device.g_max_S ({g_max!r}) must be > device.g_min_S ({g_min!r})")
        self.device = device
        self.g_min_S, self.g_max_S = g_min, g_max
        self.w_max = resolve_w_max(self._weights, w_max)
        self.dac_bits = check_bits(dac_bits, "dac.bits")
        self.v_read_V = check_float("dac.v_read_V", v_read_V, minimum=0.0, exclusive_minimum=True)
        self.adc_bits = check_bits(adc_bits, "adc.bits")
        self.adc_range_units = check_float("adc.range_units", adc_range_units, minimum=0.0, exclusive_minimum=True)
        self.adc_range_calibration = check_one_of("adc.range_calibration", adc_range_calibration, ADC_RANGE_CALIBRATIONS)
        self.tia_gain_ohm = check_float("tia.gain_ohm", tia_gain_ohm, minimum=0.0, exclusive_minimum=True)
        self.tia_noise_units = check_float("tia.noise_units", tia_noise_units, minimum=0.0)
        self.wires = check_wires(wires)
        self.max_rows = check_int("tile.max_rows", max_rows, minimum=1)
        self.max_cols = check_int("tile.max_cols", max_cols, minimum=1)
        if drift_compensation not in DRIFT_COMPENSATIONS:
            raise ValueError(f"drift_compensation must be one of {DRIFT_COMPENSATIONS}, got {drift_compensation!r}")
        self.drift_compensation = drift_compensation
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        if ir_method not in ("blocks", "sparse"):
            raise ValueError(f"ir_method must be 'blocks' or 'sparse', got {ir_method!r}")
        self.ir_method = ir_method
        self._dac: Quantizer = dac_quantizer(self.dac_bits)
        self._adc_units: Quantizer = adc_quantizer(self.adc_bits, self.adc_range_units)

        n_out, n_in = self._weights.shape
        self.row_edges = tile_edges(n_in, self.max_rows)  # physical rows = inputs
        self.col_edges = tile_edges(n_out, self.max_cols)  # physical columns = outputs

        if isinstance(seed, np.random.SeedSequence):
            seq = seed
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seq = np.random.SeedSequence(int(seed))
        else:
            raise TypeError(f"seed must be an int or a numpy SeedSequence, got {seed!r}")
        self._seed_seq = seq
        prog_seq, read_seq = seq.spawn(2)
        self._read_rng = np.random.default_rng(read_seq)

        if program is None:
            from ..devices import program_conductances

            program = functools.partial(program_conductances, device)
        g_plus, g_minus = differential_targets(self._weights, g_min, g_max, self.w_max)
        programmed = program(np.stack([g_plus, g_minus]), np.random.default_rng(prog_seq))
        if not isinstance(programmed, ProgrammedConductances):
            raise TypeError(f"program must return ProgrammedConductances, got {type(programmed).__name__}")
        if np.shape(programmed.g_prog_S) != (2, n_out, n_in):
            raise ValueError(f"program returned shape {np.shape(programmed.g_prog_S)}, expected {(2, n_out, n_in)}")
        self.programmed = programmed
        self._unit_cache: OrderedDict = OrderedDict()
        self._model_cache: OrderedDict = OrderedDict()

    # ---- construction from a card ---------------------------------------------------------

    @classmethod
    def from_card(cls, weights: np.ndarray, card: Any, *, seed: int | np.random.SeedSequence = 0,
                  dtype: Any = np.float32, ir_method: str = "blocks", w_max: float | None = None,
                  program: Callable | None = None) -> "CrossbarArray":
        """Build from a crossbar card (reads ``device``, ``levels``, ``faults``, ``tile``,
        ``mapping``, ``dac``, ``adc``, ``tia``, ``wires``, ``drift_compensation``); programming
        goes through :func:`hardware_models.devices.program_conductances` with the card.

        Overrides: ``w_max`` replaces the card's ``mapping.w_max`` (e.g. a scale fixed before
        training on the array); ``program(g_target, rng) -> g`` replaces the card's programming
        (e.g. to re-read an array whose conductances were changed by pulses)."""
        from ..devices import program_conductances

        w = card.wires
        return cls(
            weights,
            card.device,
            w_max=card.mapping.w_max if w_max is None else w_max,
            dac_bits=card.dac.bits,
            v_read_V=card.dac.v_read_V,
            adc_bits=card.adc.bits,
            adc_range_units=card.adc.range_units,
            adc_range_calibration=getattr(card.adc, "range_calibration", "fixed"),
            tia_gain_ohm=card.tia.gain_ohm,
            tia_noise_units=card.tia.noise_units,
            wires=WireResistances(w.r_row_segment_ohm, w.r_col_segment_ohm, w.r_source_ohm, w.r_sense_ohm),
            max_rows=card.tile.max_rows,
            max_cols=card.tile.max_cols,
            drift_compensation=card.drift_compensation,
            program=program if program is not None else functools.partial(program_conductances, card),
            seed=seed,
            dtype=dtype,
            ir_method=ir_method,
        )

    # ---- description -------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """(n_out, n_in) of ``W``."""
        return self._weights.shape

    @property
    def weights(self) -> np.ndarray:
        """The mapped matrix ``W`` (a copy)."""
        return self._weights.copy()

    @property
    def span_S(self) -> float:
        return self.g_max_S - self.g_min_S

    @property
    def n_tiles(self) -> tuple[int, int]:
        """(tiles along the inputs / physical rows, tiles along the outputs / physical columns)."""
        return len(self.row_edges) - 1, len(self.col_edges) - 1

    def describe(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "device": self.device.to_dict(),
            "w_max": self.w_max,
            "dac": {"bits": self.dac_bits, "v_read_V": self.v_read_V},
            "adc": {"bits": self.adc_bits, "range_units": self.adc_range_units,
                    "range_calibration": self.adc_range_calibration},
            "tia": {"gain_ohm": self.tia_gain_ohm, "noise_units": self.tia_noise_units},
            "wires": self.wires.to_dict(),
            "tile": {"max_rows": self.max_rows, "max_cols": self.max_cols},
            "n_tiles": list(self.n_tiles),
            "drift_compensation": self.drift_compensation,
            "dtype": str(self.dtype),
        }

    # ---- conductances ----------------------------------------------------------------------

    def conductances(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean cell conductances ``(G+, G-)`` [S] at ``t_s``, each (n_out, n_in) like ``W``."""
        g = self.programmed.at_time(check_float("t_s", t_s, minimum=0.0))
        return g[0], g[1]

    def tile_conductances(self, t_s: float, row_block: int, col_block: int) -> tuple[np.ndarray, np.ndarray]:
        """Physical conductances ``(G+, G-)`` [S] of one tile, (rows, cols) = (inputs, outputs)."""
        rb, cb = int(row_block), int(col_block)
        if not (0 <= rb < self.n_tiles[0] and 0 <= cb < self.n_tiles[1]):
            raise ValueError(f"tile ({row_block}, {col_block}) outside the grid {self.n_tiles}")
        g_plus, g_minus = self.conductances(t_s)
        r_sl = slice(int(self.row_edges[rb]), int(self.row_edges[rb + 1]))
        c_sl = slice(int(self.col_edges[cb]), int(self.col_edges[cb + 1]))
        return np.ascontiguousarray(g_plus[c_sl, r_sl].T), np.ascontiguousarray(g_minus[c_sl, r_sl].T)

    def _adc_range_units(self, direction: str, in_edges: np.ndarray, out_edges: np.ndarray) -> tuple[Any, Any]:
        """(step, clip) of the ADC of every tile of a read, in units: the card's quantiser
        (``"fixed"``) or, per tile (``"tile"``), arrays (n_tiles_in, n_tiles_out) (class docstring)."""
        if self.adc_range_calibration == "fixed" or self.adc_bits is None:
            return self._adc_units.step, self._adc_units.clip
        t0 = float(self.programmed.t0_s)
        units = np.abs(self._unit_map(np.asarray(self.programmed.at_time(t0), dtype=np.float64), direction,
                                      ("t", t0, direction)))  # (n_out, n_in) of this read
        line_sums = np.add.reduceat(units, in_edges[:-1], axis=1)  # (n_out, n_tiles_in)
        peak = np.maximum.reduceat(line_sums, out_edges[:-1], axis=0).T  # (n_tiles_in, n_tiles_out)
        full_scale = np.where(peak > 0.0, np.minimum(peak, self.adc_range_units), self.adc_range_units)
        return full_scale / levels_per_side(self.adc_bits), full_scale

    def _grid(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(input edges, output edges) of a read in its own layout."""
        if direction == "forward":
            return self.row_edges, self.col_edges
        return self.col_edges, self.row_edges

    def _unit_map(self, g: np.ndarray, direction: str, key: tuple) -> np.ndarray:
        """Mean differential response in units of v_read*(g_max-g_min), read layout, float64."""
        if key in self._unit_cache:
            self._unit_cache.move_to_end(key)
            return self._unit_cache[key]
        units = unit_response(g, direction, self.wires, self.row_edges, self.col_edges, self.span_S, self.ir_method)
        self._unit_cache[key] = units
        while len(self._unit_cache) > 2 * _CACHE_SIZE:
            self._unit_cache.popitem(last=False)
        return units

    # ---- read models -----------------------------------------------------------------------

    def read_model(self, t_s: float, direction: str = "forward") -> LinearReadModel:
        """The read at ``t_s`` seconds after programming in ``direction`` (cached; see
        :class:`~hardware_models.crossbar.read_model.LinearReadModel`)."""
        t = check_float("t_s", t_s, minimum=0.0)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        cache_key = (t, direction)
        if cache_key in self._model_cache:
            self._model_cache.move_to_end(cache_key)
            return self._model_cache[cache_key]

        g_t = np.asarray(self.programmed.at_time(t), dtype=np.float64)
        units = self._unit_map(g_t, direction, ("t", t, direction))
        in_edges, out_edges = self._grid(direction)
        alpha = np.ones((len(in_edges) - 1, len(out_edges) - 1))
        if self.drift_compensation == "global":
            t_ref = float(self.programmed.t0_s)
            g_ref = np.asarray(self.programmed.at_time(t_ref), dtype=np.float64)
            if not np.array_equal(g_ref, g_t):
                units_ref = self._unit_map(g_ref, direction, ("t", t_ref, direction))
                alpha = drift_alpha(units, units_ref, in_edges, out_edges)
        alpha_full = np.repeat(np.repeat(alpha, np.diff(in_edges), axis=0), np.diff(out_edges), axis=1).T
        w_eff = (self.w_max * units * alpha_full).astype(self.dtype)

        # the device's read-noise law, through its one entry point (PCM: Q at the programmed
        # conductance, scaled by |g(t)|; the sweeps' read_sigma evaluations use the same call)
        sigma = np.asarray(self.programmed.read_sigma(t), dtype=np.float64)
        if sigma.shape != g_t.shape:
            raise ValueError(f"read_sigma returned shape {sigma.shape}, expected {g_t.shape}")
        sigma2_eff = None
        if np.any(sigma > 0.0):
            s2 = (sigma[0] ** 2 + sigma[1] ** 2) / self.span_S**2  # W layout, units^2
            if direction == "backward":
                s2 = s2.T
            sigma2_eff = (s2 * (self.w_max * alpha_full) ** 2).astype(self.dtype)

        scale = self.w_max * alpha
        adc_step, adc_clip = self._adc_range_units(direction, in_edges, out_edges)
        model = LinearReadModel(
            direction=direction,
            t_s=t,
            w_eff=w_eff,
            sigma2_eff=sigma2_eff,
            dac=self._dac,
            adc_step=adc_step * scale,
            adc_clip=adc_clip * scale,
            out_noise_std=self.tia_noise_units * scale,
            in_edges=in_edges.copy(),
            out_edges=out_edges.copy(),
            drift_alpha=alpha,
            w_max=self.w_max,
        )
        self._model_cache[cache_key] = model
        while len(self._model_cache) > _CACHE_SIZE:
            self._model_cache.popitem(last=False)
        return model

    # ---- reads ----------------------------------------------------------------------------

    def read(self, x: np.ndarray, t_s: float, direction: str = "forward", *,
             rng: np.random.Generator | None = None) -> np.ndarray:
        """One stochastic read: forward ``x`` (B, n_in) -> (B, n_out) ~ ``x @ W.T``; backward
        ``x`` (B, n_out) -> (B, n_in) ~ ``x @ W``. Noise from ``rng`` or the array's own stream."""
        return self.read_model(t_s, direction).read(x, rng if rng is not None else self._read_rng)

    def reseed(self, seed: int) -> None:
        """Restart the read-noise stream (programming is unchanged)."""
        seed = check_int("seed", seed)
        self._read_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
