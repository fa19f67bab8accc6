"""A whole mapped layer (every tile, both arrays of each differential pair) as one ngspice
netlist, built on :mod:`hardware_models.export.spice`, and its currents read back.

A layer is a :class:`hardware_models.crossbar.array.CrossbarArray`: ``W`` (n_out, n_in) cut
into tiles of at most ``max_rows`` inputs x ``max_cols`` outputs, each tile a pair of physical
arrays ``G+`` and ``G-`` (rows = inputs, driven; columns = outputs, sensed). What is written is
one **variability instance**: the conductances of the array's programming draw (its seed) at
``t_s`` seconds after programming (drift applied), the card's wire, driver and sense
resistances, and one input vector ``x`` as DC driver voltages ``v_i = v_read_V * dac(x_i)``
(the card's DAC applied, as the substrate does).

Node and element names (see :mod:`hardware_models.export.spice` for the circuit of one array;
every name there gets the array's prefix, and ngspice lowercases names)::

    prefix of tile (rb, cb), plus array   tile{rb}_{cb}p_
    prefix of tile (rb, cb), minus array  tile{rb}_{cb}n_
    driver source of input row i          Vtile{rb}_{cb}p_in{i}   node tile{rb}_{cb}p_in{i}
    cell (i, j)                           Rtile{rb}_{cb}p_x{i}_{j} between tile{rb}_{cb}p_r{i}_{j} and tile{rb}_{cb}p_c{i}_{j}
    sense (virtual ground) of column j    Vtile{rb}_{cb}p_sense{j}: its current is I+[j]

``rb`` counts tiles along the inputs (layer inputs ``row_edges[rb]:row_edges[rb+1]``), ``cb``
along the outputs; ``i``/``j`` are local to the tile (layer input ``row_edges[rb] + i``, layer
output ``col_edges[cb] + j``). The G+ and G- arrays of a tile have separate but identical
drivers (same voltages). The layer output in weight units, before the ADC, is::

    y[o] = sum_rb  alpha[rb, cb] * w_max * (I+[o] - I-[o]) / (v_read_V * (g_max_S - g_min_S))

(alpha: the card's global drift compensation factor of the tile, 1 without it), i.e. the
substrate's ``read_model(t_s).ideal_output(x)``. :func:`write_layer_netlist` returns a JSON-ready
description (tiles, prefixes, index ranges, voltages, the substrate's own currents and the
scale factors); :func:`run_layer_netlist` runs ngspice and returns the currents per tile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..crossbar.ir_drop import solve_column_currents
from .spice import run_ngspice, write_netlist

__all__ = ["TileCircuit", "layer_tiles", "write_layer_netlist", "run_layer_netlist", "layer_output"]


@dataclass(frozen=True)
class TileCircuit:
    """One tile of a layer as written to the netlist.

    ``rows``/``cols``: the layer inputs/outputs of the tile (slices); ``g_plus_S``/``g_minus_S``:
    physical conductances (rows, cols) [S]; ``v_rows_V``: driver voltages [V]; ``prefix_plus``/
    ``prefix_minus``: name prefixes of the two arrays; ``alpha``: drift-compensation factor.
    """

    row_block: int
    col_block: int
    rows: slice
    cols: slice
    g_plus_S: np.ndarray
    g_minus_S: np.ndarray
    v_rows_V: np.ndarray
    prefix_plus: str
    prefix_minus: str
    alpha: float


def tile_prefix(row_block: int, col_block: int, polarity: str) -> str:
    """Name prefix of one array: ``tile{rb}_{cb}p_`` (G+) or ``tile{rb}_{cb}n_`` (G-)."""
    if polarity not in ("p", "n"):
        raise ValueError(f"polarity must be 'p' or 'n', got {polarity!r}")
    return f"tile{int(row_block)}_{int(col_block)}{polarity}_"


def layer_tiles(array: Any, x: np.ndarray, t_s: float) -> list[TileCircuit]:
    """Every tile of ``array`` (a CrossbarArray) at ``t_s`` with inputs ``x`` (n_in,) in [-1, 1]."""
    n_out, n_in = array.shape
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (n_in,):
        raise ValueError(f"x must have shape ({n_in},) (the layer's inputs), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or inf")
    model = array.read_model(t_s, "forward")
    v = array.v_read_V * model.dac(x)
    tiles = []
    for rb in range(array.n_tiles[0]):
        rows = slice(int(array.row_edges[rb]), int(array.row_edges[rb + 1]))
        for cb in range(array.n_tiles[1]):
            cols = slice(int(array.col_edges[cb]), int(array.col_edges[cb + 1]))
            g_plus, g_minus = array.tile_conductances(t_s, rb, cb)
            tiles.append(
                TileCircuit(
                    row_block=rb, col_block=cb, rows=rows, cols=cols, g_plus_S=g_plus, g_minus_S=g_minus,
                    v_rows_V=v[rows].copy(), prefix_plus=tile_prefix(rb, cb, "p"), prefix_minus=tile_prefix(rb, cb, "n"),
                    alpha=float(model.drift_alpha[rb, cb]),
                )
            )
    return tiles


def write_layer_netlist(array: Any, x: np.ndarray, path: str | os.PathLike, *, t_s: float, title: str = "analogeq layer") -> dict[str, Any]:
    """Write the layer (module docstring) to ``path`` (atomically) and return its description:
    tiles with prefixes, index ranges, driver voltages, the substrate's own sense currents
    (exact sparse nodal solve of each array, :func:`hardware_models.crossbar.ir_drop.solve_column_currents`),
    and the scale ``w_max / (v_read_V * (g_max_S - g_min_S))`` from currents to weight units."""
    tiles = layer_tiles(array, x, t_s)
    arrays = []
    description = []
    for tile in tiles:
        arrays.append((tile.prefix_plus, tile.g_plus_S, tile.v_rows_V))
        arrays.append((tile.prefix_minus, tile.g_minus_S, tile.v_rows_V))
        description.append({
            "row_block": tile.row_block,
            "col_block": tile.col_block,
            "inputs": [tile.rows.start, tile.rows.stop],
            "outputs": [tile.cols.start, tile.cols.stop],
            "prefix_plus": tile.prefix_plus,
            "prefix_minus": tile.prefix_minus,
            "drift_alpha": tile.alpha,
            "v_rows_V": tile.v_rows_V.tolist(),
            "substrate_i_plus_A": solve_column_currents(tile.g_plus_S, tile.v_rows_V, array.wires).tolist(),
            "substrate_i_minus_A": solve_column_currents(tile.g_minus_S, tile.v_rows_V, array.wires).tolist(),
        })
    n_out, n_in = array.shape
    header = (
        f"{title}: layer W {n_out}x{n_in}, {array.n_tiles[0]}x{array.n_tiles[1]} tiles, t = {t_s!r} s; "
        "node names: hardware_models/export/layer_spice.py"
    )
    write_netlist(path, arrays, array.wires, title=header)
    return {
        "format": "analogeq/layer-netlist",
        "netlist": os.fspath(path),
        "shape": [n_out, n_in],
        "n_tiles": list(array.n_tiles),
        "t_s": float(t_s),
        "x": np.asarray(x, dtype=np.float64).tolist(),
        "v_read_V": array.v_read_V,
        "w_max": array.w_max,
        "g_min_S": array.g_min_S,
        "g_max_S": array.g_max_S,
        "current_to_weight_units": array.w_max / (array.v_read_V * array.span_S),
        "wires": array.wires.to_dict(),
        "tiles": description,
        "substrate_output": layer_output_from_description(description, n_out, array.w_max / (array.v_read_V * array.span_S)).tolist(),
    }


def run_layer_netlist(path: str | os.PathLike, description: dict[str, Any], **ngspice_options: Any) -> list[dict[str, np.ndarray]]:
    """Run ngspice on a netlist written by :func:`write_layer_netlist` and return, per tile (in
    the description's order), ``{"i_plus_A": ..., "i_minus_A": ...}`` (sense currents [A])."""
    currents = run_ngspice(path, **ngspice_options)
    out = []
    offset = 0
    for tile in description["tiles"]:
        width = tile["outputs"][1] - tile["outputs"][0]
        i_plus = currents[offset:offset + width]
        i_minus = currents[offset + width:offset + 2 * width]
        offset += 2 * width
        out.append({"i_plus_A": i_plus, "i_minus_A": i_minus})
    if offset != currents.size:
        raise ValueError(f"{path}: ngspice printed {currents.size} currents, the description accounts for {offset}")
    return out


def layer_output_from_description(tiles: list[dict[str, Any]], n_out: int, scale: float,
                                  currents: list[dict[str, np.ndarray]] | None = None) -> np.ndarray:
    """Layer output in weight units from per-tile currents (ngspice's, or the substrate's
    recorded in the description when ``currents`` is None): module docstring formula."""
    y = np.zeros(n_out)
    for k, tile in enumerate(tiles):
        if currents is None:
            i_plus, i_minus = np.asarray(tile["substrate_i_plus_A"]), np.asarray(tile["substrate_i_minus_A"])
        else:
            i_plus, i_minus = currents[k]["i_plus_A"], currents[k]["i_minus_A"]
        lo, hi = tile["outputs"]
        y[lo:hi] += tile["drift_alpha"] * scale * (i_plus - i_minus)
    return y


def layer_output(description: dict[str, Any], currents: list[dict[str, np.ndarray]] | None = None) -> np.ndarray:
    """Layer output (n_out,) in weight units, before the ADC, from ngspice's ``currents``
    (:func:`run_layer_netlist`) or from the substrate's currents in ``description``."""
    return layer_output_from_description(
        description["tiles"], description["shape"][0], description["current_to_weight_units"], currents
    )
