"""A deep resistive network (Kendall et al. 2020; Scellier, ICML 2024): its description and diodes.

Layers of nodes ``x -> h_1 -> ... -> h_{L-1} -> o`` are joined by programmable conductances
(crossbars). The input layer is a row of voltage sources: each input ``x_i`` is duplicated and
inverted, ``u = input_gain * [x, -x]`` [V], so that non-negative conductances can carry signed
weights. Every hidden node has a diode to ground; the first half of each hidden layer is
*excitatory* (the diode keeps V >= 0, sign s = +1), the second half *inhibitory* (V <= 0, s = -1).
Output nodes have no diode; their voltages are the network's output. Optional bias sources at
``+bias_V`` and ``-bias_V`` reach every non-input node through ``bias_conductances_S[k]``
(shape (2, n_k): row 0 to +bias_V, row 1 to -bias_V).

Diodes, written for the current *leaving* a node of sign s at voltage V through its diode:

* :class:`IdealDiode`: no current while s V > 0; any current in the conducting direction at V = 0
  (the constraint s V >= 0, an exact clip);
* :class:`ShockleyDiode`: I_leave(V) = -s I_s (exp(-s V / (n V_T)) - 1) [A] (anode at ground for
  s = +1, at the node for s = -1); as n V_T -> 0 it tends to the ideal diode.

Conductances are in siemens: ``conductances_S[0]`` has shape (2 n_in, n_1) (rows: the sources
``+x`` then ``-x``), ``conductances_S[k]`` shape (n_k, n_{k+1}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from ..params import ParameterError, check_float, check_int

__all__ = ["diode_signs", "IdealDiode", "ShockleyDiode", "ResistiveNetwork", "THERMAL_VOLTAGE_300K_V", "check_diode"]

#: k T / q at 300.15 K (27 C, SPICE's nominal temperature) with CODATA 2014 constants [V]
THERMAL_VOLTAGE_300K_V = 1.38064852e-23 * 300.15 / 1.6021766208e-19


@dataclass(frozen=True)
class IdealDiode:
    """An ideal diode: the node's voltage is clipped to s V >= 0, no other effect."""

    kind: ClassVar[str] = "ideal"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class ShockleyDiode:
    """A Shockley diode I = i_s_A (exp(V_d / (n v_t_V)) - 1), V_d the anode-cathode voltage.

    i_s_A: saturation current [A] (> 0); n: ideality factor (> 0); v_t_V: thermal voltage [V] (> 0).
    """

    kind: ClassVar[str] = "shockley"

    i_s_A: float = 1e-12
    n: float = 1.0
    v_t_V: float = THERMAL_VOLTAGE_300K_V

    def __post_init__(self) -> None:
        for name in ("i_s_A", "n", "v_t_V"):
            object.__setattr__(self, name, check_float(name, getattr(self, name), minimum=0.0,
                                                       exclusive_minimum=True, owner="ShockleyDiode"))

    @property
    def slope_V(self) -> float:
        """n V_T [V], the voltage scale of the exponential."""
        return self.n * self.v_t_V

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "i_s_A": self.i_s_A, "n": self.n, "v_t_V": self.v_t_V}


def diode_signs(layer_sizes: tuple[int, ...], linear_layers: tuple[int, ...] = ()) -> np.ndarray:
    """Diode sign of every free node of a network of ``layer_sizes`` (flat, layer after layer):
    +1 for the first ceil(n/2) nodes of a hidden layer, -1 for the rest, 0 for the outputs and
    for the hidden layers listed in ``linear_layers`` (1-based; no diode). The array is read-only
    (one per shape, cached)."""
    return _diode_signs(tuple(int(n) for n in layer_sizes), tuple(int(k) for k in linear_layers))


@lru_cache(maxsize=64)
def _diode_signs(layer_sizes: tuple[int, ...], linear_layers: tuple[int, ...]) -> np.ndarray:
    out = [np.zeros(n) if k in linear_layers else np.concatenate([np.ones(math.ceil(n / 2)), -np.ones(n - math.ceil(n / 2))])
           for k, n in enumerate(layer_sizes[1:-1], start=1)]
    signs = np.concatenate(out + [np.zeros(layer_sizes[-1])]).astype(np.int64)
    signs.setflags(write=False)
    return signs


def check_diode(value: Any) -> IdealDiode | ShockleyDiode:
    """A diode object, or a dict ``{"kind": "ideal"}`` / ``{"kind": "shockley", ...}``."""
    if isinstance(value, (IdealDiode, ShockleyDiode)):
        return value
    if isinstance(value, dict):
        values = dict(value)
        kind = values.pop("kind", None)
        if kind == "ideal" and not values:
            return IdealDiode()
        if kind == "shockley":
            unknown = sorted(set(values) - {"i_s_A", "n", "v_t_V"})
            if unknown:
                raise ParameterError("ResistiveNetwork", "diode", f"unknown Shockley field(s) {unknown}; "
                                     "allowed: i_s_A, n, v_t_V")
            return ShockleyDiode(**values)
    raise ParameterError("ResistiveNetwork", "diode", f"must be IdealDiode(), ShockleyDiode(...) or a dict with "
                         f"kind 'ideal' or 'shockley', got {value!r}")


def _conductance_matrix(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    g = np.asarray(value, dtype=np.float64)
    if g.shape != shape:
        raise ParameterError("ResistiveNetwork", name, f"must have shape {shape}, got {g.shape}")
    if g.size and 0.0 <= g.min() and g.max() < np.inf:  # NaN fails both comparisons
        return _read_only(g)
    if not np.all(np.isfinite(g)):
        raise ParameterError("ResistiveNetwork", name, f"has {int((~np.isfinite(g)).sum())} NaN or infinite value(s)")
    if np.any(g < 0.0):
        where = tuple(int(i) for i in np.argwhere(g < 0.0)[0])
        raise ParameterError("ResistiveNetwork", name, f"conductances must be >= 0 S, got {g[where]!r} at {where} "
                             f"({int((g < 0.0).sum())} negative)")
    return _read_only(g)


def _read_only(g: np.ndarray) -> np.ndarray:
    if not (g.flags.c_contiguous and not g.flags.writeable):
        g = np.array(g, order="C")  # a private copy: the caller's array may change later
        g.setflags(write=False)
    return g


@dataclass(frozen=True)
class ResistiveNetwork:
    """A layered resistive network with diodes (module docstring for the circuit).

    Attributes
    ----------
    layer_sizes: (n_in, n_1, ..., n_out), every size >= 1, at least one hidden layer.
    conductances_S: one matrix per connection, shapes in the module docstring [S], >= 0.
    input_gain: volts per unit of input (finite, > 0): the sources are ``input_gain * [x, -x]``.
    diode: :class:`IdealDiode` or :class:`ShockleyDiode` (the hidden nodes' nonlinearity).
    bias_conductances_S: None (no bias sources) or one (2, n_k) matrix per non-input layer [S].
    bias_V: voltage of the bias sources (finite, > 0) [V].
    g_min_S, g_max_S: the programmable range the conductances come from (training projects
        into it); 0 <= g_min_S < g_max_S. Not enforced on ``conductances_S`` (a programmed,
        noisy array may leave it).
    linear_layers: hidden layers (1-based indices) whose nodes have no diode, e.g. the input
        drivers behind a series resistance (:func:`hardware_models.resistive.wires.with_source_resistance`).
    """

    layer_sizes: tuple[int, ...]
    conductances_S: tuple[np.ndarray, ...]
    input_gain: float = 1.0
    diode: Any = field(default_factory=IdealDiode)
    bias_conductances_S: tuple[np.ndarray, ...] | None = None
    bias_V: float = 1.0
    g_min_S: float = 0.0
    g_max_S: float = 25e-6
    linear_layers: tuple[int, ...] = ()

    owner: ClassVar[str] = "ResistiveNetwork"

    def __post_init__(self) -> None:
        o = self.owner
        if isinstance(self.layer_sizes, (str, bytes)) or not hasattr(self.layer_sizes, "__len__"):
            raise ParameterError(o, "layer_sizes", f"must be a sequence of layer sizes, got {self.layer_sizes!r}")
        sizes = tuple(check_int(f"layer_sizes[{k}]", n, minimum=1, owner=o) for k, n in enumerate(self.layer_sizes))
        if len(sizes) < 3:
            raise ParameterError(o, "layer_sizes", f"needs an input, at least one hidden and an output layer, got {sizes}")
        object.__setattr__(self, "layer_sizes", sizes)
        object.__setattr__(self, "input_gain", check_float("input_gain", self.input_gain, minimum=0.0,
                                                           exclusive_minimum=True, owner=o))
        object.__setattr__(self, "bias_V", check_float("bias_V", self.bias_V, minimum=0.0, exclusive_minimum=True,
                                                       owner=o))
        g_min = check_float("g_min_S", self.g_min_S, minimum=0.0, owner=o)
        g_max = check_float("g_max_S", self.g_max_S, minimum=0.0, owner=o)
        if not g_min < g_max:
            raise ParameterError(o, "g_min_S", f"must be < g_max_S = {g_max!r}, got {g_min!r}")
        object.__setattr__(self, "g_min_S", g_min)
        object.__setattr__(self, "g_max_S", g_max)
        object.__setattr__(self, "diode", check_diode(self.diode))
        linear = tuple(sorted({check_int(f"linear_layers[{i}]", k, minimum=1, maximum=len(sizes) - 2, owner=o)
                               for i, k in enumerate(self.linear_layers)}))
        object.__setattr__(self, "linear_layers", linear)
        shapes = self.matrix_shapes
        gs = tuple(self.conductances_S) if isinstance(self.conductances_S, (list, tuple)) else None
        if gs is None or len(gs) != len(shapes):
            raise ParameterError(o, "conductances_S", f"must hold {len(shapes)} matrices of shapes {shapes}")
        object.__setattr__(self, "conductances_S",
                           tuple(_conductance_matrix(f"conductances_S[{k}]", g, s) for k, (g, s) in enumerate(zip(gs, shapes))))
        if self.bias_conductances_S is not None:
            bs = tuple(self.bias_conductances_S)
            if len(bs) != len(sizes) - 1:
                raise ParameterError(o, "bias_conductances_S", f"must hold {len(sizes) - 1} matrices (2, n_k), got {len(bs)}")
            object.__setattr__(self, "bias_conductances_S", tuple(
                _conductance_matrix(f"bias_conductances_S[{k}]", b, (2, n)) for k, (b, n) in enumerate(zip(bs, sizes[1:]))))

    @property
    def matrix_shapes(self) -> list[tuple[int, int]]:
        s = self.layer_sizes
        return [(2 * s[0], s[1])] + [(s[k], s[k + 1]) for k in range(1, len(s) - 1)]

    @property
    def node_sizes(self) -> tuple[int, ...]:
        """Sizes of the layers of free nodes (hidden layers, then the output)."""
        return self.layer_sizes[1:]

    @property
    def n_nodes(self) -> int:
        return int(sum(self.node_sizes))

    def signs(self) -> np.ndarray:
        """Diode sign of every free node (:func:`diode_signs`)."""
        return diode_signs(self.layer_sizes, self.linear_layers)

    def sources_V(self, x: np.ndarray) -> np.ndarray:
        """The input sources ``input_gain * [x, -x]`` (B, 2 n_in) [V] of inputs ``x`` (B, n_in)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.layer_sizes[0]:
            raise ParameterError(self.owner, "x", f"must have shape (B, {self.layer_sizes[0]}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ParameterError(self.owner, "x", "contains NaN or infinite values")
        return self.input_gain * np.concatenate([x, -x], axis=1)

    def with_conductances(self, conductances_S: Any, bias_conductances_S: Any = None) -> "ResistiveNetwork":
        """The same network with other conductances (e.g. a programmed, drifted draw)."""
        return ResistiveNetwork(self.layer_sizes, tuple(conductances_S), self.input_gain, self.diode,
                                self.bias_conductances_S if bias_conductances_S is None else tuple(bias_conductances_S),
                                self.bias_V, self.g_min_S, self.g_max_S, self.linear_layers)

    def with_diode(self, diode: Any) -> "ResistiveNetwork":
        return ResistiveNetwork(self.layer_sizes, self.conductances_S, self.input_gain, diode,
                                self.bias_conductances_S, self.bias_V, self.g_min_S, self.g_max_S, self.linear_layers)

    def to_dict(self) -> dict[str, Any]:
        """The scalar description (no matrices), JSON-serialisable."""
        return {"layer_sizes": list(self.layer_sizes), "input_gain": self.input_gain, "diode": self.diode.to_dict(),
                "bias": self.bias_conductances_S is not None, "bias_V": self.bias_V,
                "g_min_S": self.g_min_S, "g_max_S": self.g_max_S, "linear_layers": list(self.linear_layers)}

    @classmethod
    def random(cls, layer_sizes: tuple[int, ...], rng: np.random.Generator, *, g_min_S: float = 1e-7,
               g_max_S: float = 25e-6, bias: bool = True, **kwargs: Any) -> "ResistiveNetwork":
        """Conductances drawn uniformly in [g_min_S, g_max_S] (tests, benchmarks, initial weights)."""
        s = tuple(check_int(f"layer_sizes[{k}]", n, minimum=1, owner=cls.owner) for k, n in enumerate(layer_sizes))
        shapes = [(2 * s[0], s[1])] + [(s[k], s[k + 1]) for k in range(1, len(s) - 1)]
        gs = tuple(rng.uniform(g_min_S, g_max_S, shape) for shape in shapes)
        bs = tuple(rng.uniform(g_min_S, g_max_S, (2, n)) for n in s[1:]) if bias else None
        return cls(s, gs, bias_conductances_S=bs, g_min_S=g_min_S, g_max_S=g_max_S, **kwargs)
