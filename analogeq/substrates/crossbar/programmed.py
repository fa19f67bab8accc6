"""The matrices of a network programmed onto crossbar arrays, and their packed form for Numba.

:class:`ProgrammedMatrices` holds one :class:`hardware_models.crossbar.CrossbarArray` per weight
matrix of a network (one programming draw for all of them, from one seed). Every matrix is read
in two directions from the same array: read ``r = 2 m`` is matrix m forward (``x @ W.T``) and
``r = 2 m + 1`` backward (``y @ W``), both from :meth:`CrossbarArray.read_model` at the same
time after programming.

:func:`pack_dense_network` lays the read models of a dense layered EBM out as flat arrays for
the fused settling kernel (:mod:`analogeq.substrates.crossbar.fused_settle`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hardware_models.crossbar import CrossbarArray, LinearReadModel

__all__ = ["ProgrammedMatrices", "PackedDenseNetwork", "PackedReads", "pack_dense_network", "pack_reads", "read_index"]


def read_index(matrix: int, direction: str) -> int:
    """Index of a read: 2 * matrix for ``"forward"``, 2 * matrix + 1 for ``"backward"``."""
    return 2 * matrix + (0 if direction == "forward" else 1)


def _tiles_of(shape: tuple[int, int], card: Any) -> int:
    n_out, n_in = shape
    return math.ceil(n_in / card.tile.max_rows) * math.ceil(n_out / card.tile.max_cols)


class ProgrammedMatrices:
    """Weight matrices ``W`` (n_out, n_in) of a network programmed on crossbar arrays.

    Parameters
    ----------
    names, weights:
        A name per matrix (e.g. ``"layer1"``, ``"readout"``) and the matrix (float64 numpy).
    card:
        A crossbar card (:func:`analogeq.substrates.crossbar.common.check_crossbar_card`).
    seed:
        Seed of the programming draw: matrix m is programmed with child m of
        ``numpy.random.SeedSequence(seed)`` (same seed, same conductances).
    max_tiles:
        Number of physical tiles (differential pairs of arrays of ``tile.max_rows`` x
        ``tile.max_cols``) available, or None for as many as needed. A network needing more is
        a ValueError naming each matrix and its tiles.
    """

    def __init__(self, names: list[str], weights: list[np.ndarray], card: Any, *, seed: int = 0,
                 max_tiles: int | None = None):
        if len(names) != len(weights):
            raise ValueError(f"{len(names)} names for {len(weights)} matrices")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        shapes = [tuple(np.shape(w)) for w in weights]
        needed = [_tiles_of(s, card) for s in shapes]
        if max_tiles is not None:
            if isinstance(max_tiles, bool) or not isinstance(max_tiles, (int, np.integer)) or max_tiles < 1:
                raise ValueError(f"max_tiles must be None (as many tiles as needed) or an integer >= 1, got {max_tiles!r}")
            if sum(needed) > max_tiles:
                detail = ", ".join(f"{n} {s[1]}x{s[0]} (inputs x outputs) -> {t} tile(s)"
                                   for n, s, t in zip(names, shapes, needed))
                raise ValueError(
                    f"the network needs {sum(needed)} tiles of {card.tile.max_rows}x{card.tile.max_cols} "
                    f"(tile.max_rows x tile.max_cols of card {card.name!r}) but max_tiles is {max_tiles}: {detail}; "
                    "use a card with larger tiles, more tiles, or a smaller network"
                )
        self.card = card
        self.seed = int(seed)
        self.names = list(names)
        self.max_tiles = max_tiles
        children = np.random.SeedSequence(self.seed).spawn(len(weights))
        self.arrays = [CrossbarArray.from_card(np.asarray(w, dtype=np.float64), card, seed=c)
                       for w, c in zip(weights, children)]
        self.tiles_per_matrix = needed

    @classmethod
    def from_arrays(cls, names: list[str], arrays: list[CrossbarArray], card: Any) -> "ProgrammedMatrices":
        """Wrap arrays that are already programmed (e.g. changed by in-situ pulses)."""
        if len(names) != len(arrays):
            raise ValueError(f"{len(names)} names for {len(arrays)} arrays")
        obj = cls.__new__(cls)
        obj.card = card
        obj.seed = -1
        obj.names = list(names)
        obj.max_tiles = None
        obj.arrays = list(arrays)
        obj.tiles_per_matrix = [_tiles_of(a.shape, card) for a in arrays]
        return obj

    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def n_reads(self) -> int:
        return 2 * len(self.arrays)

    def read_models(self, t_s: float) -> list[LinearReadModel]:
        """Every read (index :func:`read_index`) at ``t_s`` seconds after programming."""
        out = []
        for a in self.arrays:
            out += [a.read_model(t_s, "forward"), a.read_model(t_s, "backward")]
        return out

    def line_conductances(self, t_s: float) -> list[np.ndarray]:
        """Per read: conductance hanging on each driven line, sum of G+ + G- along it [S]."""
        out = []
        for a in self.arrays:
            g_plus, g_minus = a.conductances(t_s)
            total = g_plus + g_minus  # (n_out, n_in)
            out += [total.sum(axis=0), total.sum(axis=1)]
        return out

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": n, "shape": list(a.shape), "w_max": a.w_max, "n_tiles": list(a.n_tiles)}
                for n, a in zip(self.names, self.arrays)]


@dataclass(frozen=True, eq=False)
class PackedReads:
    """Flat arrays of a list of reads (layout in :mod:`~analogeq.substrates.crossbar.fused_settle`);
    ``wd_flat`` / ``s2d_flat`` (the matrices in (n_out, n_in) order, for dot-product reads) are
    a placeholder of one zero when packed without them."""

    meta: np.ndarray
    w_flat: np.ndarray
    s2_flat: np.ndarray
    wd_flat: np.ndarray
    s2d_flat: np.ndarray
    edges: np.ndarray
    tiles: np.ndarray
    line_g: np.ndarray
    dac_step: float
    dac_clip: float

    @property
    def n_reads(self) -> int:
        return self.meta.shape[0]


@dataclass(frozen=True, eq=False)
class PackedDenseNetwork(PackedReads):
    """Flat arrays of a dense layered EBM's reads for :func:`~analogeq.substrates.crossbar.fused_settle.settle_dense_kernel`
    (layout in the kernels module docstring): its :class:`PackedReads` and the network around them."""

    layer_off: np.ndarray
    fwd_read: np.ndarray
    bwd_read: np.ndarray
    ro_fwd: int
    ro_bwd: int
    bias: np.ndarray
    ro_bias: np.ndarray
    n_classes: int


def pack_reads(models: list[LinearReadModel], line_g: list[np.ndarray], *, dot_layout: bool = True) -> PackedReads:
    """Pack the read models (one DAC for all) and their line conductances; ``dot_layout`` also
    keeps each matrix in (n_out, n_in) order (the dense kernel's dot-product reads)."""
    meta = np.zeros((len(models), 10), dtype=np.int64)
    w_parts, s2_parts, wd_parts, s2d_parts, edge_parts, tile_parts, line_parts = [], [], [], [], [], [], []
    w_off = s2_off = e_off = t_off = l_off = 0
    dac = models[0].dac if models else None
    for r, m in enumerate(models):
        if m.dac != dac:
            raise ValueError("every read must use the same DAC")
        n_out, n_in = m.w_eff.shape
        n_ti, n_to = m.n_tiles
        w_parts.append(np.ascontiguousarray(m.w_eff.T, dtype=np.float32).ravel())
        if dot_layout:
            wd_parts.append(np.ascontiguousarray(m.w_eff, dtype=np.float32).ravel())
        has_s2 = m.sigma2_eff is not None
        if has_s2:
            s2_parts.append(np.ascontiguousarray(m.sigma2_eff.T, dtype=np.float32).ravel())
            if dot_layout:
                s2d_parts.append(np.ascontiguousarray(m.sigma2_eff, dtype=np.float32).ravel())
        edge_parts += [m.in_edges.astype(np.int64), m.out_edges.astype(np.int64)]
        tile = np.stack([m.adc_step.ravel(), m.adc_clip.ravel(), (m.out_noise_std ** 2).ravel()], axis=1)
        tile_parts.append(tile.astype(np.float32))
        line_parts.append(np.asarray(line_g[r], dtype=np.float64))
        meta[r] = (n_in, n_out, w_off, s2_off if has_s2 else -1, e_off, n_ti, e_off + n_ti + 1, n_to, t_off, l_off)
        w_off += n_in * n_out
        s2_off += n_in * n_out if has_s2 else 0
        e_off += n_ti + 1 + n_to + 1
        t_off += n_ti * n_to
        l_off += n_in

    def flat(parts, dtype):
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(1, dtype=dtype)

    return PackedReads(
        meta=meta, w_flat=flat(w_parts, np.float32), s2_flat=flat(s2_parts, np.float32),
        wd_flat=flat(wd_parts, np.float32), s2d_flat=flat(s2d_parts, np.float32),
        edges=flat(edge_parts, np.int64), tiles=(np.concatenate(tile_parts, axis=0) if tile_parts
                                                 else np.zeros((1, 3), dtype=np.float32)),
        line_g=flat(line_parts, np.float64),
        dac_step=float(dac.step) if dac is not None else 0.0, dac_clip=float(dac.clip) if dac is not None else 1.0,
    )


def pack_dense_network(models: list[LinearReadModel], line_g: list[np.ndarray], layer_sizes: list[int],
                       biases: list[np.ndarray], readout_bias: np.ndarray | None, n_classes: int) -> PackedDenseNetwork:
    """Pack the reads of a dense layered EBM: matrix k (k < N) is synapse k+1 (layer k-1 -> k,
    layer -1 = the input), matrix N (``ce`` only) the readout. ``layer_sizes`` are the state
    layers' sizes, ``biases`` one per state layer."""
    n_layers = len(layer_sizes)
    reads = pack_reads(models, line_g)
    meta = reads.meta
    layer_off = np.concatenate([[0], np.cumsum(layer_sizes)]).astype(np.int64)
    fwd = np.array([read_index(k, "forward") for k in range(n_layers)], dtype=np.int64)
    bwd = np.array([-1] + [read_index(k, "backward") for k in range(1, n_layers)], dtype=np.int64)
    ce = readout_bias is not None
    for k in range(n_layers):
        expect_in = meta[fwd[k], 0]
        if meta[fwd[k], 1] != layer_sizes[k] or (k > 0 and expect_in != layer_sizes[k - 1]):
            raise ValueError(f"matrix {k} has shape {meta[fwd[k], 1]}x{expect_in}, not matching the layer sizes {layer_sizes}")
    return PackedDenseNetwork(
        **{f.name: getattr(reads, f.name) for f in fields(PackedReads)},
        layer_off=layer_off,
        fwd_read=fwd,
        bwd_read=bwd,
        ro_fwd=read_index(n_layers, "forward") if ce else -1,
        ro_bwd=read_index(n_layers, "backward") if ce else -1,
        bias=np.concatenate([np.asarray(b, dtype=np.float32).ravel() for b in biases]),
        ro_bias=(np.asarray(readout_bias, dtype=np.float32).ravel() if ce else np.zeros(n_classes, dtype=np.float32)),
        n_classes=int(n_classes),
    )
