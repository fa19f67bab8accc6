"""A dense energy-based network mapped onto spiking hardware (numpy only, no torch/brian2).

:class:`MappedSpikingNetwork` is the hardware instance of a trained dense EBM: the weights as
the synapses hold them (quantised by the card), the biases as constant currents, and the
per-neuron thresholds and leaks of one mismatch draw. The Brian2 substrate runs it, the NIR
exporter writes it, the NIR importer reads it back.

Layers: the input x (clamped, not neurons) and state layers 1..N of sizes n_1..n_N. Weight
``weights[k]`` of shape (n_{k+1}, n_k) (input = layer 0) joins layer k to layer k+1 and is read
in both directions (forward W, feedback W^T) from layer 2 on; the input enters layer 1 as the
constant current W_1 x + b_1. The fixed point of the rate dynamics is

    s_k = f_k(b_k + W_k s_{k-1} + W_{k+1}^T s_{k+1}),   f_k(u) = min(clip((u - leak_k theta_k / 2) / theta_k, 0, 1), r_max)

which for theta = 1, leak = 0, r_max = 1 is the dense EBM's s_k = clip(..., 0, 1).

A weight may be a dense array (a full connection) or a ``scipy.sparse`` matrix (e.g. a
convolution with average or no pooling written as the linear map it is): its stored entries
are the synapses, explicit zeros included, so the connectivity depends on the layer's
geometry only, never on the values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse

READOUTS = ("mse", "ce")


def quantize_weights(w: np.ndarray, bits: int | None, w_max: float | None = None) -> np.ndarray:
    """Symmetric uniform quantisation of ``w`` to 2^(bits-1) - 1 levels per sign.

    Step q = w_max / (2^(bits-1) - 1) with ``w_max`` the full scale (None: max |w|); values are
    rounded to the nearest multiple of q and saturate at +-w_max. ``bits=None`` returns a copy.
    """
    if scipy.sparse.issparse(w):  # the stored entries are the synapses: quantise those, keep the pattern
        out = scipy.sparse.csr_matrix(w, dtype=np.float64, copy=True)
        out.data = quantize_weights(out.data, bits, w_max)
        return out
    w = np.asarray(w, dtype=np.float64)
    if bits is None:
        return w.copy()
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 2:
        raise ValueError(f"bits must be None or an integer >= 2, got {bits!r}")
    full = float(np.max(np.abs(w))) if w_max is None else float(w_max)
    if not (full > 0 and math.isfinite(full)):
        if w_max is None:
            return np.zeros_like(w)  # an all-zero matrix stays zero
        raise ValueError(f"w_max must be a finite number > 0, got {w_max!r}")
    levels = 2 ** (int(bits) - 1) - 1
    q = full / levels
    return np.clip(np.round(w / q), -levels, levels) * q


def lognormal_factors(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """``n`` log-normal factors with mean 1 and coefficient of variation ``cv`` (exp(sigma z - sigma^2/2),
    sigma^2 = ln(1 + cv^2)); ones when cv = 0 (the generator is still advanced, so the draws of
    other quantities do not depend on whether this one is switched on)."""
    z = rng.standard_normal(n)
    if cv == 0:
        return np.ones(n)
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.exp(sigma * z - 0.5 * sigma * sigma)


def _as_weight(a: Any, name: str):
    """A weight as a read-only float64 dense array, or a private canonical CSR copy of a sparse one."""
    if not scipy.sparse.issparse(a):
        return _as_float_array(a, name, 2)
    w = scipy.sparse.csr_matrix(a, dtype=np.float64, copy=True)
    w.sum_duplicates()
    if not np.all(np.isfinite(w.data)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return w


def synapse_counts(w) -> tuple[np.ndarray, np.ndarray]:
    """Synapses of a weight (n_post, n_pre) per post row and per pre column (stored entries)."""
    if scipy.sparse.issparse(w):
        csr = scipy.sparse.csr_matrix(w)
        return np.diff(csr.indptr), np.bincount(csr.indices, minlength=w.shape[1])
    return np.full(w.shape[0], w.shape[1]), np.full(w.shape[1], w.shape[0])


def _as_float_array(a: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)  # a private copy
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class MappedSpikingNetwork:
    """A dense EBM as held by spiking hardware (see the module docstring).

    input_shape: shape of one input (flattened for W_1).
    weights: W_1..W_N, W_k of shape (n_k, n_{k-1}) (NIR and torch.nn.Linear layout); dense
        arrays or scipy.sparse matrices (kept as CSR).
    biases: b_1..b_N, constant currents (charge per step).
    theta: per-neuron thresholds of each layer (> 0; 1 = nominal).
    leak: per-neuron leak per step dt / tau_mem of each layer (in [0, 1); 0 = no leak).
    readout: "mse" (the last layer's rates are the class scores) or "ce" (scores
        W_out s_N + b_out computed off-chip from the decoded rates).
    readout_weight, readout_bias: W_out (num_classes, n_N) and b_out for "ce", else None.
    num_classes: number of classes.
    mismatch_seed: seed of the mismatch draw (provenance; None if unknown, e.g. imported).
    """

    input_shape: tuple[int, ...]
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    theta: tuple[np.ndarray, ...]
    leak: tuple[np.ndarray, ...]
    readout: str
    num_classes: int
    readout_weight: np.ndarray | None = None
    readout_bias: np.ndarray | None = None
    mismatch_seed: int | None = None

    def __post_init__(self) -> None:
        shape = tuple(int(d) for d in self.input_shape)
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"input_shape must be a non-empty tuple of positive sizes, got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        n_layers = len(self.weights)
        if n_layers < 1:
            raise ValueError("weights must hold at least one matrix (one state layer)")
        for name in ("biases", "theta", "leak"):
            if len(getattr(self, name)) != n_layers:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries but weights has {n_layers} (one per state layer)")
        weights = tuple(_as_weight(w, f"weights[{k}]") for k, w in enumerate(self.weights))
        n_prev = math.prod(shape)
        for k, w in enumerate(weights):
            if w.shape[1] != n_prev:
                raise ValueError(f"weights[{k}] has shape {w.shape}; expected ({w.shape[0]}, {n_prev}) to follow the previous layer")
            n_prev = w.shape[0]
        sizes = [w.shape[0] for w in weights]
        arrays = {}
        for name in ("biases", "theta", "leak"):
            arrs = tuple(_as_float_array(a, f"{name}[{k}]", 1) for k, a in enumerate(getattr(self, name)))
            for k, (a, n) in enumerate(zip(arrs, sizes)):
                if a.shape != (n,):
                    raise ValueError(f"{name}[{k}] must have shape ({n},), got {a.shape}")
            arrays[name] = arrs
        if any(np.any(t <= 0) for t in arrays["theta"]):
            raise ValueError("theta (thresholds) must all be > 0")
        if any(np.any((l < 0) | (l >= 1)) for l in arrays["leak"]):
            raise ValueError("leak (dt / tau_mem per neuron) must lie in [0, 1)")
        object.__setattr__(self, "weights", weights)
        for name, arrs in arrays.items():
            object.__setattr__(self, name, arrs)
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, (int, np.integer)) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        object.__setattr__(self, "num_classes", int(self.num_classes))
        if self.readout == "mse":
            if sizes[-1] != self.num_classes:
                raise ValueError(f"readout 'mse' needs the last layer to have num_classes = {self.num_classes} units, got {sizes[-1]}")
            if self.readout_weight is not None or self.readout_bias is not None:
                raise ValueError("readout 'mse' takes no readout_weight/readout_bias")
        else:
            if self.readout_weight is None or self.readout_bias is None:
                raise ValueError("readout 'ce' needs readout_weight and readout_bias")
            rw = _as_float_array(self.readout_weight, "readout_weight", 2)
            rb = _as_float_array(self.readout_bias, "readout_bias", 1)
            if rw.shape != (self.num_classes, sizes[-1]) or rb.shape != (self.num_classes,):
                raise ValueError(
                    f"readout_weight/readout_bias must have shapes ({self.num_classes}, {sizes[-1]}) and ({self.num_classes},), "
                    f"got {rw.shape} and {rb.shape}"
                )
            object.__setattr__(self, "readout_weight", rw)
            object.__setattr__(self, "readout_bias", rb)

    # ------------------------------------------------------------------ structure
    @property
    def n_input(self) -> int:
        return math.prod(self.input_shape)

    @property
    def layer_sizes(self) -> list[int]:
        """[n_input, n_1, ..., n_N]."""
        return [self.n_input] + [w.shape[0] for w in self.weights]

    @property
    def n_neurons(self) -> int:
        """Spiking neurons of one copy (all state layers; the clamped input is not neurons)."""
        return sum(w.shape[0] for w in self.weights)

    @property
    def layer_offsets(self) -> list[int]:
        """Index of the first neuron of each state layer within one copy."""
        out, acc = [], 0
        for w in self.weights:
            out.append(acc)
            acc += w.shape[0]
        return out

    @property
    def sparse(self) -> bool:
        """True if any weight is a sparse matrix (e.g. a convolution)."""
        return any(scipy.sparse.issparse(w) for w in self.weights)

    def fan_out(self) -> list[int]:
        """Synapses leaving one neuron of each state layer: forward to the next layer plus
        feedback to the previous state layer (none to the clamped input). Dense weights only
        (a sparse layer's fan-out varies by neuron: :meth:`fan_out_per_neuron`)."""
        if self.sparse:
            raise ValueError("fan_out() is per layer for dense weights only; use fan_out_per_neuron() for a sparse network")
        sizes = [w.shape[0] for w in self.weights]
        out = []
        for k in range(len(sizes)):
            n = sizes[k + 1] if k + 1 < len(sizes) else 0
            if k >= 1:
                n += sizes[k - 1]
            out.append(n)
        return out

    def fan_out_per_neuron(self) -> np.ndarray:
        """Synapses leaving each neuron (n_neurons,), in neuron order: forward (its column of
        W_{k+1}) plus feedback (its row of W_k, from the second state layer on)."""
        out = []
        for k, w in enumerate(self.weights):
            n = np.zeros(w.shape[0], dtype=np.int64)
            if k + 1 < len(self.weights):
                n += synapse_counts(self.weights[k + 1])[1]
            if k >= 1:
                n += synapse_counts(w)[0]
            out.append(n)
        return np.concatenate(out)

    @property
    def n_synapses(self) -> int:
        """Synapses of one copy (both directions of every matrix between state layers)."""
        return 2 * sum(int(w.nnz) if scipy.sparse.issparse(w) else w.size for w in self.weights[1:])

    def concat(self, name: str) -> np.ndarray:
        """Per-neuron ``theta``, ``leak`` or ``biases`` of all layers in neuron order."""
        return np.concatenate(getattr(self, name))


def map_dense_network(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    readout: str,
    card: Any,
    seed: int,
    readout_weight: np.ndarray | None = None,
    readout_bias: np.ndarray | None = None,
) -> MappedSpikingNetwork:
    """Map float weights and biases onto the hardware described by ``card`` (a SpikingCard):
    quantise every synaptic matrix (``synapse.weight_bits``, ``synapse.w_max``) and draw the
    per-neuron mismatch (``mismatch.threshold_cv``, ``mismatch.tau_mem_cv``) with
    ``numpy.random.default_rng(seed)``: first one standard normal per neuron for the thresholds
    (all layers in order), then one per neuron for the membrane time constants."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    syn = card.synapse
    q_weights = [quantize_weights(w, syn.weight_bits, syn.w_max) for w in weights]
    sizes = [w.shape[0] for w in q_weights]
    n_total = sum(sizes)
    rng = np.random.default_rng(int(seed))
    theta_all = lognormal_factors(rng, n_total, card.mismatch.threshold_cv)
    tau_factors = lognormal_factors(rng, n_total, card.mismatch.tau_mem_cv)
    if card.neuron.tau_mem_s is None:
        leak_all = np.zeros(n_total)
    else:
        leak_all = card.timing.dt_s / (card.neuron.tau_mem_s * tau_factors)
        if np.any(leak_all >= 1):
            raise ValueError(
                f"the mismatch draw gave membrane time constants below dt_s = {card.timing.dt_s} s "
                f"(mismatch.tau_mem_cv = {card.mismatch.tau_mem_cv} is too large for neuron.tau_mem_s = {card.neuron.tau_mem_s} s)"
            )
    bounds = np.cumsum([0] + sizes)
    split = lambda a: tuple(a[bounds[k] : bounds[k + 1]] for k in range(len(sizes)))  # noqa: E731
    return MappedSpikingNetwork(
        input_shape=tuple(input_shape),
        weights=tuple(q_weights),
        biases=tuple(np.asarray(b, dtype=np.float64) for b in biases),
        theta=split(theta_all),
        leak=split(leak_all),
        readout=readout,
        num_classes=num_classes,
        readout_weight=readout_weight,
        readout_bias=readout_bias,
        mismatch_seed=int(seed),
    )


__all__ = ["MappedSpikingNetwork", "READOUTS", "lognormal_factors", "map_dense_network", "quantize_weights", "synapse_counts"]
