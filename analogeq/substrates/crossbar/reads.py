"""Crossbar reads in torch: the hardware synapses a layered EBM (or a feed-forward network)
settles through, differentiable for white-box attacks.

:class:`TorchRead` does one read of a :class:`hardware_models.crossbar.LinearReadModel` on a
batch of row vectors, exactly as the read model's docstring specifies (DAC, per-tile mean and
variance products, output + TIA noise, ADC, digital sum over input tiles), with:

* **straight-through quantisation** (BPDA, Athalye et al. 2018): the DAC and ADC rounding is
  ``v + (q(v) - v).detach()``: the forward value is the quantised one, the backward pass sees
  the identity; saturation (clip) keeps its true derivative (0 beyond the rails);
* **reparameterised noise**: ``a = mean + sqrt(var + sigma_tia^2) * z`` with z drawn outside the
  graph, so a call is one differentiable noise draw;
* the **same noise indexing** as the read model and the Numba kernel: the n-th call of read r in
  a phase uses key ``keys.key(r)`` (row n of the phase's key table, :class:`KeyTable`) and the
  deviates of :func:`hardware_models.crossbar.kernels.counter_normals` at streams
  ``(ti * M + m) * n_out + j`` for row m of M.

A layered EBM settles through these reads by its own synapses
(:meth:`analogeq.contract.SettlingModel.synapses_with_reads`: W from the forward read, W^T from
the backward read of the same array); a feed-forward network through :class:`HardwareLinear` /
:class:`HardwareConv2d` (with per-row abs-max input scaling, since their inputs are not confined
to [0, 1]).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hardware_models.crossbar import LinearReadModel
from hardware_models.crossbar.kernels import counter_normals

__all__ = [
    "HardwareConv2d",
    "HardwareLinear",
    "KeySource",
    "KeyTable",
    "ReadMeter",
    "TorchRead",
]


class KeyTable:
    """Keys of the reads of one phase: the n-th call of read r gets ``table[n, r]``.

    The table is drawn from ``rng`` in blocks of ``rows`` rows (``rng.integers(0, 2**64,
    (rows, n_reads), dtype=uint64)``), a new block whenever a read runs past the rows drawn so
    far; the Numba kernel draws the first block the same way, so both see the same keys.
    """

    def __init__(self, rng: np.random.Generator, n_reads: int, rows: int):
        self.rng = rng
        self.n_reads = int(n_reads)
        self.rows = max(1, int(rows))
        self.table = draw_keys(rng, self.rows, self.n_reads)
        self.calls = np.zeros(self.n_reads, dtype=np.int64)

    def key(self, r: int) -> int:
        n = int(self.calls[r])
        while n >= self.table.shape[0]:
            self.table = np.concatenate([self.table, draw_keys(self.rng, self.rows, self.n_reads)])
        self.calls[r] += 1
        return int(self.table[n, r])


class KeySource:
    """The read-noise generator of a substrate and the key table of its current phase.

    ``new_phase(rows)`` starts a phase (a settling, an attack call) with a fresh
    :class:`KeyTable`; :meth:`key` serves the reads (starting a phase of ``default_rows`` rows if
    none was started). ``reseed(seed)`` restarts the generator.
    """

    def __init__(self, seed: int, n_reads: int, default_rows: int = 64):
        self.n_reads = int(n_reads)
        self.default_rows = int(default_rows)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.rng = np.random.default_rng([int(seed), 0x5EED])
        self.table: KeyTable | None = None

    def new_phase(self, rows: int) -> KeyTable:
        self.table = KeyTable(self.rng, self.n_reads, rows)
        return self.table

    def key(self, r: int) -> int:
        if self.table is None:
            self.new_phase(self.default_rows)
        return self.table.key(r)


def draw_keys(rng: np.random.Generator, rows: int, n_reads: int) -> np.ndarray:
    """A (rows, n_reads) table of uint64 read keys."""
    return rng.integers(0, 2**64, size=(rows, n_reads), dtype=np.uint64)


class ReadMeter:
    """Counts what the reads of a phase did, for the cost model: row reads per read index (one
    row = one input vector through every tile of that matrix direction) and the array energy
    sum of xq^2 * G_line [S] (times v_read^2 t_read gives joules)."""

    def __init__(self, n_reads: int):
        self.row_reads = np.zeros(n_reads, dtype=np.int64)
        self.energy_units = 0.0

    def add(self, r: int, rows: int, energy_units: float) -> None:
        self.row_reads[r] += rows
        self.energy_units += energy_units


def _ste(v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Forward q, backward identity (straight-through estimator)."""
    return v + (q - v).detach()


class TorchRead:
    """One direction of one programmed matrix, read in torch (see the module docstring).

    ``index`` is the read index r (:func:`analogeq.substrates.crossbar.programmed.read_index`); ``keys`` the
    substrate's :class:`KeySource` (or anything with ``key(r) -> int``);
    ``line_g`` the conductance on each driven line [S] (for :class:`ReadMeter`).
    """

    def __init__(self, model: LinearReadModel, index: int, keys: Any, line_g: np.ndarray | None = None,
                 device: torch.device | str = "cpu"):
        self.model = model
        self.index = int(index)
        self.keys = keys
        self.meter: ReadMeter | None = None
        dev = torch.device(device)
        self.n_in, self.n_out = model.n_in, model.n_out
        self.w_t = torch.from_numpy(np.array(model.w_eff.T, dtype=np.float32, order="C")).to(dev)
        self.s2_t = None
        if model.sigma2_eff is not None:
            self.s2_t = torch.from_numpy(np.array(model.sigma2_eff.T, dtype=np.float32, order="C")).to(dev)
        self.dac_step = float(model.dac.step)
        self.dac_clip = float(model.dac.clip)
        n_ti, _ = model.n_tiles
        widths = np.diff(model.out_edges)
        self.in_slices = [slice(int(model.in_edges[t]), int(model.in_edges[t + 1])) for t in range(n_ti)]

        def per_output(a: np.ndarray) -> torch.Tensor:  # (n_ti, n_to) -> (n_ti, 1, n_out)
            return torch.from_numpy(np.repeat(a, widths, axis=1).astype(np.float32)[:, None, :]).to(dev)

        self.adc_step = per_output(model.adc_step)
        self.adc_clip = per_output(model.adc_clip)
        self.noise_var = per_output(model.out_noise_std ** 2)
        self.adc_quantises = bool(np.all(model.adc_step > 0))
        self.adc_saturates = bool(np.all(np.isfinite(model.adc_clip)))
        self.noisy = [bool(self.s2_t is not None or np.any(model.out_noise_std[t] > 0)) for t in range(n_ti)]
        self.line_g = None if line_g is None else torch.from_numpy(np.asarray(line_g, dtype=np.float64)).to(dev)

    def dac(self, x: torch.Tensor) -> torch.Tensor:
        xc = x.clamp(-self.dac_clip, self.dac_clip)
        if self.dac_step > 0.0:
            xc = _ste(xc, torch.round(xc / self.dac_step) * self.dac_step)
        return xc

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Read the rows of ``x`` (M, n_in) -> (M, n_out), one draw of the noise."""
        if x.dim() != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"a read of a {self.n_out}x{self.n_in} matrix needs inputs (M, {self.n_in}), got {tuple(x.shape)}")
        rows = x.shape[0]
        xq = self.dac(x)
        xq2 = xq * xq
        z_all = None
        if any(self.noisy):
            key = self.keys.key(self.index)
            z = counter_normals(key, (len(self.in_slices) * rows, self.n_out))
            z_all = torch.from_numpy(z).to(x.device).view(len(self.in_slices), rows, self.n_out)
        y = None
        for ti, sl in enumerate(self.in_slices):
            single = len(self.in_slices) == 1
            xs = xq if single else xq[:, sl]
            w = self.w_t if single else self.w_t[sl]
            a = xs @ w
            if self.noisy[ti]:
                nv = self.noise_var[ti]
                if self.s2_t is not None:
                    s2 = self.s2_t if single else self.s2_t[sl]
                    var = (xq2 if single else xq2[:, sl]) @ s2 + nv
                else:
                    var = nv.expand(rows, self.n_out)
                # sqrt has an infinite slope at 0: clamp (its gradient is 0 there, as it should be)
                a = a + torch.sqrt(var.clamp_min(1e-30)) * z_all[ti]
            if self.adc_saturates:
                a = torch.maximum(torch.minimum(a, self.adc_clip[ti]), -self.adc_clip[ti])
            if self.adc_quantises:
                step = self.adc_step[ti]
                a = _ste(a, torch.round(a / step) * step)
            y = a if y is None else y + a
        if self.meter is not None and self.line_g is not None:
            with torch.no_grad():
                self.meter.add(self.index, rows, float((xq2.detach().double() @ self.line_g).sum()))
        return y


def _abs_max_read(read: TorchRead, rows: torch.Tensor) -> torch.Tensor:
    """Per-row abs-max scaling into the DAC range (aihwkit's noise management "abs_max"):
    read rows / m, then multiply by m digitally (m = max |row|, 1 for an all-zero row)."""
    m = rows.detach().abs().amax(dim=1, keepdim=True)
    m = torch.where(m > 0, m, torch.ones_like(m))
    return read(rows / m) * m


class HardwareLinear(nn.Module):
    """An ``nn.Linear`` whose product is a crossbar read (bias digital)."""

    def __init__(self, layer: nn.Linear, read: TorchRead):
        super().__init__()
        self.read = read
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone(), requires_grad=False)
        self.in_features, self.out_features = layer.in_features, layer.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = _abs_max_read(self.read, x.reshape(-1, self.in_features)).reshape(*lead, self.out_features)
        return y if self.bias is None else y + self.bias


class HardwareConv2d(nn.Module):
    """An ``nn.Conv2d`` (groups 1, zero padding) computed as crossbar reads of its kernel matrix
    (C_out, C_in kh kw) on unfolded patches, one row read per output position (bias digital)."""

    def __init__(self, layer: nn.Conv2d, read: TorchRead):
        super().__init__()
        self.read = read
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone(), requires_grad=False)
        self.out_channels = layer.out_channels
        self.kernel_size, self.stride = layer.kernel_size, layer.stride
        self.padding, self.dilation = layer.padding, layer.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        kh, kw = self.kernel_size
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        rows = cols.transpose(1, 2).reshape(-1, cols.shape[1])
        y = _abs_max_read(self.read, rows).reshape(b, h_out * w_out, self.out_channels).transpose(1, 2)
        y = y.reshape(b, self.out_channels, h_out, w_out)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)
