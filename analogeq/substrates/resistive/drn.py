"""A deep resistive network as a model kind (``"resistive_drn"``): built from a JSON config,
its conductances held as float64 buffers, so that checkpoints save and rebuild it.

    model = build_model({"kind": "resistive_drn", "input_shape": [1, 8, 8], "hidden_sizes": [100]})
    model.network                  # the ResistiveNetwork of the current buffers
    model.network = trained_net    # writes the buffers (layer sizes must match)

Buffers: ``g0`` ... ``g{L-1}`` the conductance matrices [S] (shapes of
:attr:`ResistiveNetwork.matrix_shapes`), ``b0`` ... the (2, n_k) bias conductances [S] when
``bias``. Initialisation: every conductance uniform in [g_min_S, init_g_max_S] from
``derive_rng(seed, "resistive_drn/init")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from analogeq.ebm.config_dict import CLASSIFIER_CONSTRAINTS, JSONConfig, check_fields, check_shape, check_sizes
from analogeq.models import register_model_kind
from analogeq.substrates.resistive.model import ResistiveClassifier
from hardware_models.params import Boolean, Integer, ParameterError, Real
from hardware_models.resistive import ResistiveNetwork
from hardware_models.resistive.network import check_diode
from hardware_models.seeds import derive_rng

__all__ = ["ResistiveDRN", "ResistiveDRNConfig"]

_POSITIVE = Real(0.0, exclusive_minimum=True)
_CONSTRAINTS = dict(CLASSIFIER_CONSTRAINTS, input_gain=_POSITIVE, bias=Boolean(), bias_V=_POSITIVE,
                    g_min_S=Real(0.0), g_max_S=_POSITIVE, init_g_max_S=_POSITIVE, tol_A=Real(0.0),
                    max_sweeps=Integer(minimum=1))


@dataclass(frozen=True)
class ResistiveDRNConfig(JSONConfig):
    """input_shape: shape of one input (flattened into n_in = prod(shape); the network has 2 n_in
    sources +x, -x); hidden_sizes: nodes of each hidden layer (>= 1 layer); num_classes: output
    nodes; input_gain [V per unit of input]; diode: ``{"kind": "ideal"}`` or ``{"kind":
    "shockley", "i_s_A": ..., "n": ...}``; bias: bias sources at +-bias_V [V]; g_min_S, g_max_S:
    the programmable range [S] (training projects into it); init_g_max_S: upper end of the uniform
    initialisation [S]; tol_A [A], max_sweeps: the settle of a prediction; seed: initialisation."""

    input_shape: tuple[int, ...] = (1, 8, 8)
    hidden_sizes: tuple[int, ...] = (100,)
    num_classes: int = 10
    input_gain: float = 4.0
    diode: dict = field(default_factory=lambda: {"kind": "ideal"})
    bias: bool = True
    bias_V: float = 1.0
    g_min_S: float = 1e-7
    g_max_S: float = 25e-6
    init_g_max_S: float = 5e-6
    tol_A: float = 1e-10
    max_sweeps: int = 500
    seed: int = 0
    kind: str = field(default="resistive_drn", init=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "input_shape", check_shape(owner, "input_shape", self.input_shape))
        object.__setattr__(self, "hidden_sizes", check_sizes(owner, "hidden_sizes", self.hidden_sizes, allow_empty=False))
        check_fields(self, _CONSTRAINTS)
        if not self.g_min_S < self.g_max_S:
            raise ParameterError(owner, "g_min_S", f"must be < g_max_S = {self.g_max_S!r}, got {self.g_min_S!r}")
        if not self.g_min_S < self.init_g_max_S <= self.g_max_S:
            raise ParameterError(owner, "init_g_max_S", f"must be in (g_min_S, g_max_S] = ({self.g_min_S!r}, "
                                 f"{self.g_max_S!r}], got {self.init_g_max_S!r}")
        object.__setattr__(self, "diode", check_diode(self.diode).to_dict())

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (math.prod(self.input_shape), *self.hidden_sizes, self.num_classes)

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The buffer shapes of the model this config builds, computed without building it
        (checkpoints compare them with a file's header before anything is allocated): ``g0``
        (2 n_0, n_1), ``gk`` (n_k, n_{k+1}), ``bk`` (2, n_{k+1}) (:attr:`ResistiveNetwork.matrix_shapes`)."""
        s = self.layer_sizes
        shapes = {"g0": (2 * s[0], s[1]), **{f"g{k}": (s[k], s[k + 1]) for k in range(1, len(s) - 1)}}
        if self.bias:
            shapes.update({f"b{k}": (2, s[k + 1]) for k in range(len(s) - 1)})
        return shapes


class ResistiveDRN(ResistiveClassifier):
    """A :class:`ResistiveClassifier` built from a :class:`ResistiveDRNConfig` (module docstring)."""

    def __init__(self, config: ResistiveDRNConfig):
        object.__setattr__(self, "config", config)  # the network setter below reads it
        c = config
        init = ResistiveNetwork.random(c.layer_sizes, derive_rng(c.seed, "resistive_drn/init"), g_min_S=c.g_min_S,
                                       g_max_S=c.init_g_max_S, bias=c.bias)
        net = ResistiveNetwork(c.layer_sizes, init.conductances_S, c.input_gain, check_diode(c.diode),
                               init.bias_conductances_S, c.bias_V, c.g_min_S, c.g_max_S)
        super().__init__(net, c.input_shape, tol_A=c.tol_A, max_sweeps=c.max_sweeps)

    @property
    def network(self) -> ResistiveNetwork:
        """The network of the current buffers (rebuilt when a buffer changed)."""
        key = tuple(b._version for b in self.buffers()) + tuple(b.data_ptr() for b in self.buffers())
        if self._cache is None or self._cache[0] != key:
            c = self.config
            gs = [self._buffers[f"g{k}"].detach().cpu().numpy() for k in range(len(c.layer_sizes) - 1)]
            bs = [self._buffers[f"b{k}"].detach().cpu().numpy() for k in range(len(c.layer_sizes) - 1)] if c.bias else None
            net = ResistiveNetwork(c.layer_sizes, tuple(gs), c.input_gain, check_diode(c.diode), bs, c.bias_V,
                                   c.g_min_S, c.g_max_S)
            object.__setattr__(self, "_cache", (key, net))
        return self._cache[1]

    @network.setter
    def network(self, net: ResistiveNetwork) -> None:
        if tuple(net.layer_sizes) != self.config.layer_sizes:
            raise ValueError(f"network layer sizes {net.layer_sizes} differ from the config's {self.config.layer_sizes}")
        if (net.bias_conductances_S is not None) != self.config.bias:
            raise ValueError(f"network {'has' if net.bias_conductances_S is not None else 'lacks'} bias conductances; "
                             f"the config says bias={self.config.bias}")
        object.__setattr__(self, "_cache", None)
        for k, g in enumerate(net.conductances_S):
            self._set_buffer(f"g{k}", g)
        for k, b in enumerate(net.bias_conductances_S or ()):
            self._set_buffer(f"b{k}", b)

    def _set_buffer(self, name: str, value: np.ndarray) -> None:
        t = torch.tensor(np.array(value, dtype=np.float64))
        if name in self._buffers:
            with torch.no_grad():
                self._buffers[name].copy_(t.to(self._buffers[name].device))
        else:
            self.register_buffer(name, t)

    def extra_repr(self) -> str:
        return f"layer_sizes={self.config.layer_sizes}, diode={self.config.diode['kind']}"


ResistiveDRN._cache = None  # class default: no network built yet


register_model_kind("resistive_drn", ResistiveDRNConfig, ResistiveDRN)
