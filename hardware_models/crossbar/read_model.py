"""A crossbar read in weight units: the plain description other simulators reproduce.

A :class:`LinearReadModel` is everything one read of a programmed crossbar does, at one time
after programming and in one direction, expressed in **weight units** (the units of the
mapped matrix ``W``). Its arrays are in the *read layout*: ``n_out`` outputs of this read by
``n_in`` inputs of this read (forward: ``W``'s shape; backward: ``W.T``'s shape).

The read of a batch ``x`` (B, n_in), inputs nominally in [-1, 1] (units of ``v_read_V``)::

    xq  = dac(x)                        = dac_step * rint(clip(x, -1, 1) / dac_step)
                                          (float64, then rounded once to dtype; xq*xq likewise)
    for every tile (ti, to): inputs in_edges[ti]:in_edges[ti+1], outputs out_edges[to]:...
        mean = xq[:, I] @ w_eff[O, I].T                           (B, |O|)
        var  = (xq * xq)[:, I] @ sigma2_eff[O, I].T                (B, |O|)   (0 if None)
        a    = mean + sqrt(var + out_noise_std[ti, to]**2) * z     z ~ N(0, 1) per element
        y[:, O] += adc_step[ti, to] * rint(clip(a, +-adc_clip[ti, to]) / adc_step[ti, to])

* ``w_eff`` (n_out, n_in): the mean map. It includes the device state at ``t_s`` (programming
  noise, drift, stuck cells, finite levels), the exact IR drop of each physical array, the
  differential pair, and the drift-compensation factor of each tile.
* ``sigma2_eff`` (n_out, n_in) or None: variance of one read of each cell pair in weight units
  squared (``w_max^2 * alpha^2 * (sigma+^2 + sigma-^2) / (g_max - g_min)^2``). Independent
  Gaussian read noise per cell and per read is, exactly in distribution, an output noise of
  variance ``(x*x) @ sigma2_eff.T`` (DESIGN.md, "Noise"): one extra matrix product instead of
  ``n_in * n_out`` draws per read. (With IR drop this uses the nominal cell voltages, i.e. it
  neglects the attenuation of the noise by the wires, a first-order approximation.)
* ``out_noise_std`` (n_tiles_in, n_tiles_out): TIA output noise in weight units.
* ``dac`` (:class:`Quantizer`, input units): ``step`` (0 = ideal) and ``clip`` (always 1: the
  rails). ``adc_step``, ``adc_clip`` (n_tiles_in, n_tiles_out), weight units: every tile has its
  own ADC and partial sums are added digitally (0 / inf = ideal ADC).
* ``drift_alpha`` (n_tiles_in, n_tiles_out): the global drift-compensation factor already
  folded into ``w_eff``, ``sigma2_eff``, ``out_noise_std`` and the ADC (informational).

The ADC acts before the digital compensation in hardware; since ``alpha * q_{s,c}(a) =
q_{alpha s, alpha c}(alpha a)``, folding ``alpha`` into every term above is exact.

Noise realisation: a read with key ``k`` uses, for tile row ``ti``, batch row ``b`` and output
``j``, the deviate of stream ``(ti * B + b) * n_out + j`` of
:func:`hardware_models.crossbar.kernels.counter_normals` (float32). Each read draws ``k`` as one
``uint64`` from its ``numpy.random.Generator``. Arithmetic of ``a`` and of the ADC is done in
``w_eff.dtype`` (float32 by default). The products ``mean`` and ``var`` are sums in a fixed order
(:func:`hardware_models.crossbar.products.fixed_order_matmul`: over the tile's inputs in
increasing order, no fused multiply-add), not BLAS: a read gives the same bits at any BLAS or
Numba thread count (a float32 GEMM's rounding depends on how BLAS splits the work, which moved
one output in ~10^5-10^6 by one ADC step between OPENBLAS_NUM_THREADS=1 and 2). Cost, measured on
one core: 512 x 512 float32, batch 256, 3.4 ms per product against 1.6 ms for OpenBLAS sgemm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from . import kernels
from .converters import Quantizer
from .products import fixed_order_matmul, fixed_order_reference

__all__ = ["DIRECTIONS", "LinearReadModel", "check_read_input"]

DIRECTIONS = ("forward", "backward")
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_read_input(x: np.ndarray, n_in: int, field: str = "x") -> tuple[np.ndarray, bool]:
    """Validate a read input: (B, n_in) or (n_in,) real array. Returns (2-D array, was_1d)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{field} must be a numpy array of shape (batch, {n_in}), got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES and (
        x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer))
    ):
        raise TypeError(f"{field} must be a real array, got dtype {x.dtype}")
    was_1d = x.ndim == 1
    if was_1d:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"{field} must have shape (batch, {n_in}) or ({n_in},), got {tuple(x.shape if not was_1d else x.shape[1:])}")
    if x.dtype not in _FLOAT_DTYPES:
        x = x.astype(np.float64)
    return np.ascontiguousarray(x), was_1d


@dataclass(frozen=True, eq=False)
class LinearReadModel:
    """One read of a programmed crossbar in weight units (see the module docstring)."""

    direction: str
    t_s: float
    w_eff: np.ndarray
    sigma2_eff: np.ndarray | None
    dac: Quantizer
    adc_step: np.ndarray
    adc_clip: np.ndarray
    out_noise_std: np.ndarray
    in_edges: np.ndarray
    out_edges: np.ndarray
    drift_alpha: np.ndarray
    w_max: float
    _tiles: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.w_eff.ndim != 2 or self.w_eff.dtype not in (np.float32, np.float64):
            raise ValueError(f"w_eff must be a 2-D float32/float64 array, got {self.w_eff.dtype} {self.w_eff.shape}")
        if self.sigma2_eff is not None and (
            self.sigma2_eff.shape != self.w_eff.shape or self.sigma2_eff.dtype != self.w_eff.dtype
        ):
            raise ValueError("sigma2_eff must have the shape and dtype of w_eff")
        n_out, n_in = self.w_eff.shape
        for name, edges, size in (("in_edges", self.in_edges, n_in), ("out_edges", self.out_edges, n_out)):
            if edges[0] != 0 or edges[-1] != size or np.any(np.diff(edges) <= 0):
                raise ValueError(f"{name} must rise strictly from 0 to {size}, got {edges}")
        grid = (len(self.in_edges) - 1, len(self.out_edges) - 1)
        for name in ("adc_step", "adc_clip", "out_noise_std", "drift_alpha"):
            if getattr(self, name).shape != grid:
                raise ValueError(f"{name} must have shape (n_tiles_in, n_tiles_out) = {grid}")
        # contiguous transposed (n_in, n_out) blocks of every tile for the fixed-order products
        # ``xq @ block`` (the exact arrays both backends use)
        for ti in range(grid[0]):
            row = []
            for to in range(grid[1]):
                i_sl, o_sl = self._slices(ti, to)
                w_b = np.ascontiguousarray(self.w_eff[o_sl, i_sl].T)
                s_b = None if self.sigma2_eff is None else np.ascontiguousarray(self.sigma2_eff[o_sl, i_sl].T)
                row.append((w_b, s_b))
            self._tiles.append(row)
        for arr in (self.w_eff, self.sigma2_eff, self.adc_step, self.adc_clip, self.out_noise_std,
                    self.in_edges, self.out_edges, self.drift_alpha):
            if arr is not None:
                arr.setflags(write=False)

    # ---- shape -------------------------------------------------------------------------

    @property
    def n_in(self) -> int:
        return self.w_eff.shape[1]

    @property
    def n_out(self) -> int:
        return self.w_eff.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.w_eff.dtype

    @property
    def n_tiles(self) -> tuple[int, int]:
        """(tiles along the inputs, tiles along the outputs) of this read."""
        return len(self.in_edges) - 1, len(self.out_edges) - 1

    def _slices(self, ti: int, to: int) -> tuple[slice, slice]:
        return (slice(int(self.in_edges[ti]), int(self.in_edges[ti + 1])),
                slice(int(self.out_edges[to]), int(self.out_edges[to + 1])))

    def tiles(self) -> Iterator[tuple[int, int, slice, slice]]:
        """(ti, to, input slice, output slice) of every tile of this read."""
        for ti in range(self.n_tiles[0]):
            for to in range(self.n_tiles[1]):
                yield (ti, to, *self._slices(ti, to))

    # ---- reads ---------------------------------------------------------------------------

    def ideal_output(self, x: np.ndarray) -> np.ndarray:
        """Noise-free, ADC-free mean ``dac(x) @ w_eff.T`` in float64 (for surrogates and tests;
        a fixed-order product, like the reads)."""
        x2, was_1d = check_read_input(x, self.n_in)
        xq, _, bad = kernels.dac_reference(x2, self.dac.step, self.dac.clip, np.float64)
        self._raise_bad(bad)
        y = fixed_order_matmul(xq, np.ascontiguousarray(self.w_eff.T, dtype=np.float64))
        return y[0] if was_1d else y

    @staticmethod
    def _raise_bad(bad_rows: np.ndarray) -> None:
        if bad_rows.any():
            raise ValueError(f"x contains NaN or inf (rows {np.flatnonzero(bad_rows)[:5].tolist()})")

    def _has_noise(self, ti: int, to: int) -> bool:
        return self.sigma2_eff is not None or self.out_noise_std[ti, to] > 0.0

    def read(self, x: np.ndarray, rng: np.random.Generator | None = None, *, key: int | None = None,
             backend: str = "numba") -> np.ndarray:
        """One stochastic read of ``x`` (B, n_in) or (n_in,) -> (B, n_out) or (n_out,) in ``dtype``.

        Exactly one of ``rng`` (one uint64 key is drawn from it) or ``key`` is given.
        ``backend="numba"`` (fast, fused kernels) or ``"numpy"`` (the reference, bit-identical).
        """
        if (rng is None) == (key is None):
            raise ValueError("give exactly one of rng (a numpy Generator) or key (an int)")
        if rng is not None:
            if not isinstance(rng, np.random.Generator):
                raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
            key = int(rng.integers(0, 2**64, dtype=np.uint64))
        x2, was_1d = check_read_input(x, self.n_in)
        if backend == "numba":
            y = self._read_numba(x2, key)
        elif backend == "numpy":
            y = self._read_numpy(x2, key)
        else:
            raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        return y[0] if was_1d else y

    def _read_numba(self, x: np.ndarray, key: int) -> np.ndarray:
        xq, xq2, bad = kernels.dac_kernel(x, self.dac.step, self.dac.clip, self.dtype)
        self._raise_bad(bad)
        batch = x.shape[0]
        if self.n_tiles == (1, 1):  # one tile: the ADC writes its output over the product
            w_b, s_b = self._tiles[0][0]
            y = fixed_order_matmul(xq, w_b)
            var = None if s_b is None else fixed_order_matmul(xq2, s_b)
            kernels.adc_kernel(y, var, float(self.out_noise_std[0, 0]) ** 2, key, 0, self.n_out,
                               float(self.adc_step[0, 0]), float(self.adc_clip[0, 0]), y, accumulate=False)
            return y
        y = np.empty((batch, self.n_out), dtype=self.dtype)
        single_in = self.n_tiles[0] == 1
        for ti, to, i_sl, o_sl in self.tiles():
            w_b, s_b = self._tiles[ti][to]
            xs = xq if single_in else np.ascontiguousarray(xq[:, i_sl])
            mean = fixed_order_matmul(xs, w_b)
            var = None
            if s_b is not None:
                var = fixed_order_matmul(xq2 if single_in else np.ascontiguousarray(xq2[:, i_sl]), s_b)
            kernels.adc_kernel(
                mean, var, float(self.out_noise_std[ti, to]) ** 2, key,
                ti * batch * self.n_out + o_sl.start, self.n_out,
                float(self.adc_step[ti, to]), float(self.adc_clip[ti, to]),
                y[:, o_sl], accumulate=ti > 0,
            )
        return y

    def _read_numpy(self, x: np.ndarray, key: int) -> np.ndarray:
        xq, xq2, bad = kernels.dac_reference(x, self.dac.step, self.dac.clip, self.dtype)
        self._raise_bad(bad)
        batch = x.shape[0]
        y = np.empty((batch, self.n_out), dtype=self.dtype)
        for ti, to, i_sl, o_sl in self.tiles():
            w_b, s_b = self._tiles[ti][to]
            xs = xq if self.n_tiles[0] == 1 else xq[:, i_sl]
            mean = fixed_order_reference(xs, w_b)
            var = None if s_b is None else fixed_order_reference(xq2 if self.n_tiles[0] == 1 else xq2[:, i_sl], s_b)
            z = None
            if self._has_noise(ti, to):
                z = kernels.counter_normals(key, (batch, self.n_out), stream0=ti * batch * self.n_out)[:, o_sl]
            kernels.adc_reference(
                mean, var, float(self.out_noise_std[ti, to]) ** 2, z,
                float(self.adc_step[ti, to]), float(self.adc_clip[ti, to]), y[:, o_sl], accumulate=ti > 0,
            )
        return y

    def describe(self) -> dict:
        """Scalars and tile layout (JSON-serialisable; the matrices are not included)."""
        return {
            "direction": self.direction,
            "t_s": self.t_s,
            "shape": [self.n_out, self.n_in],
            "dtype": str(self.dtype),
            "w_max": self.w_max,
            "dac": {"step": self.dac.step, "clip": self.dac.clip},
            "in_edges": self.in_edges.tolist(),
            "out_edges": self.out_edges.tolist(),
            "adc_step": self.adc_step.tolist(),
            "adc_clip": [[c if math.isfinite(c) else None for c in row] for row in self.adc_clip.tolist()],
            "out_noise_std": self.out_noise_std.tolist(),
            "drift_alpha": self.drift_alpha.tolist(),
            "read_noise": self.sigma2_eff is not None,
        }
