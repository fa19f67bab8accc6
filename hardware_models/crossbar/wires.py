"""The parasitic network of a crossbar: wire and terminal resistances, how each kind of line is
modelled for the IR-drop solvers of :mod:`hardware_models.crossbar.ir_drop`, and the checks of
their inputs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hardware_models.params import check_float

__all__ = ["LineModel", "WireResistances", "check_conductances", "check_wires", "line_model"]

_WIRE_FIELDS = ("r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm")


@dataclass(frozen=True)
class WireResistances:
    """Parasitic resistances of a crossbar, in ohm (the ``wires`` section of a device card).

    Attributes
    ----------
    r_row_segment_ohm:
        Resistance of the row wire between two adjacent cells (and between the driver and the
        first cell).
    r_col_segment_ohm:
        Resistance of the column wire between two adjacent cells (and between the last cell on
        the sense side and the sense amplifier).
    r_source_ohm:
        Output resistance of each line driver (DAC buffer).
    r_sense_ohm:
        Input resistance of each sense amplifier (TIA) in front of its virtual ground.

    All values must be finite and >= 0; all zero means no IR drop (``g_eff == g``).
    """

    r_row_segment_ohm: float = 0.0
    r_col_segment_ohm: float = 0.0
    r_source_ohm: float = 0.0
    r_sense_ohm: float = 0.0

    def __post_init__(self) -> None:
        for name in _WIRE_FIELDS:
            object.__setattr__(self, name, check_float(name, getattr(self, name), minimum=0.0, owner="wires"))

    @property
    def is_ideal(self) -> bool:
        """True when every resistance is zero (no IR drop)."""
        return all(getattr(self, name) == 0.0 for name in _WIRE_FIELDS)

    def transposed(self) -> "WireResistances":
        """The same wires seen from the transposed array (row and column segments swapped).

        The backward read drives the columns and senses the rows; it is the forward computation
        on ``g.T`` with these wires (the drivers and sense amplifiers keep their resistances).
        """
        return WireResistances(
            r_row_segment_ohm=self.r_col_segment_ohm,
            r_col_segment_ohm=self.r_row_segment_ohm,
            r_source_ohm=self.r_source_ohm,
            r_sense_ohm=self.r_sense_ohm,
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WireResistances":
        missing = [name for name in _WIRE_FIELDS if name not in data]
        if missing:
            raise ValueError(f"wires: missing field(s) {missing}; required: {list(_WIRE_FIELDS)}")
        return cls(**{name: data[name] for name in _WIRE_FIELDS})



@dataclass(frozen=True)
class LineModel:
    """How one kind of line (rows or columns) is modelled.

    mode: ``"chain"`` (one node per cell, segment conductance ``g_seg``), ``"node"`` (zero
    segment resistance: one node per line) or ``"fixed"`` (zero segment and terminal
    resistance: the line voltage is known). ``g_term`` is the conductance between the line's
    first node and its terminal (source or virtual ground), ``inf`` for ``"fixed"``.
    """

    mode: str
    g_seg: float
    g_term: float


def line_model(r_segment: float, r_terminal: float) -> LineModel:
    """How a line with this segment and terminal (source or sense) resistance [ohm] is modelled."""
    if r_segment > 0.0:
        return LineModel("chain", 1.0 / r_segment, 1.0 / (r_terminal + r_segment))
    if r_terminal > 0.0:
        return LineModel("node", math.inf, 1.0 / r_terminal)
    return LineModel("fixed", math.inf, math.inf)


def check_conductances(g: np.ndarray, name: str = "g") -> np.ndarray:
    """``g`` as a float64 (rows, cols) array of finite, non-negative conductances [S]."""
    g = np.asarray(g)
    if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (rows, cols) with rows, cols >= 1, got shape {g.shape}")
    if not np.issubdtype(g.dtype, np.number) or np.issubdtype(g.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real array of conductances [S], got dtype {g.dtype}")
    g = g.astype(np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} contains NaN or inf conductances")
    if np.any(g < 0.0):
        raise ValueError(f"{name} contains negative conductances (min {g.min()!r} S); conductances must be >= 0")
    return g


def check_wires(wires: WireResistances | None) -> WireResistances:
    """``wires``, or no resistances at all for None."""
    if wires is None:
        return WireResistances()
    if not isinstance(wires, WireResistances):
        raise TypeError(f"wires must be a WireResistances or None, got {type(wires).__name__}")
    return wires
