"""The dense layered EBM (Scellier & Bengio 2017), any number of hidden layers.

Layers x -> h_1 -> ... -> h_L -> output, fully connected with symmetric weights (one matrix
per pair of adjacent layers, read forward and transposed), hard-sigmoid states in [0, 1].
See :mod:`analogeq.ebm.layered` for the energy, the nudged energy and the settling step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from analogeq.ebm.config_dict import config_from_dict
from analogeq.ebm.layered import READOUTS, LayeredEBM
from analogeq.ebm.synapses import DenseSynapse


@dataclass(frozen=True)
class DenseEBMConfig:
    """Configuration of a dense EBM (JSON-serialisable through ``to_dict``).

    input_shape: shape of one input (e.g. (1, 8, 8) for digits); flattened by the first synapse.
    hidden_sizes: units of each hidden layer (at least one for ``readout="ce"``).
    num_classes: number of classes (output units for mse, readout outputs for ce).
    readout: "mse" (output layer inside the energy, squared-error cost) or
        "ce" (softmax readout outside the energy, cross-entropy cost).
    free_steps: step budget T1 of a free phase (prediction).
    nudge_steps: step budget T2 of each nudged phase.
    tol: settling tolerance on max |s^{t+1} - s^t| (0 = always run the budget).
    step_size: eps of the settling step s <- (1 - eps) s + eps rho(h), in (0, 1]
        (1 = plain fixed-point iteration; 0.5 damps oscillations, see analogeq.ebm.layered).
    init_gain: scale of the Glorot-uniform initialisation.
    seed: seed of the initialisation.
    """

    input_shape: tuple[int, ...] = (1, 8, 8)
    hidden_sizes: tuple[int, ...] = (256,)
    num_classes: int = 10
    readout: str = "mse"
    free_steps: int = 60
    nudge_steps: int = 20
    tol: float = 1e-5
    step_size: float = 0.5
    init_gain: float = 1.0
    seed: int = 0
    kind: str = field(default="dense_ebm", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        object.__setattr__(self, "hidden_sizes", tuple(int(d) for d in self.hidden_sizes))
        if not self.input_shape or any(d < 1 for d in self.input_shape):
            raise ValueError(f"input_shape must be a non-empty tuple of positive sizes, got {self.input_shape}")
        if any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must all be >= 1, got {self.hidden_sizes}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if self.readout == "ce" and not self.hidden_sizes:
            raise ValueError("readout='ce' needs at least one hidden layer (hidden_sizes is empty)")
        for name in ("free_steps", "nudge_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} (step budget) must be an integer >= 1, got {v!r}")
        if not (0.0 < self.step_size <= 1.0):
            raise ValueError(f"step_size must be in (0, 1], got {self.step_size}")
        if not (self.tol >= 0.0):
            raise ValueError(f"tol must be >= 0, got {self.tol}")
        if not (self.init_gain > 0.0 and math.isfinite(self.init_gain)):
            raise ValueError(f"init_gain must be a finite number > 0, got {self.init_gain}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DenseEBMConfig":
        return config_from_dict(cls, d, "dense_ebm")


class DenseEBM(LayeredEBM):
    """Dense layered EBM; ``forward(x)`` settles the free phase and returns class scores."""

    def __init__(self, config: DenseEBMConfig):
        super().__init__()
        self.config = config
        self.input_shape = config.input_shape
        self.num_classes = config.num_classes
        self.readout_kind = config.readout
        self.step_size = float(config.step_size)
        gen = torch.Generator().manual_seed(config.seed)
        sizes = list(config.hidden_sizes)
        if config.readout == "mse":
            sizes.append(config.num_classes)
        pre_shapes = [config.input_shape] + [(n,) for n in sizes[:-1]]
        self.synapses = nn.ModuleList(
            DenseSynapse(pre, n, gain=config.init_gain, generator=gen) for pre, n in zip(pre_shapes, sizes)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in sizes)
        self.state_shapes = [(n,) for n in sizes]
        if config.readout == "ce":
            self.readout = DenseSynapse((sizes[-1],), config.num_classes, gain=config.init_gain, generator=gen)
            self.readout_bias = nn.Parameter(torch.zeros(config.num_classes))
        else:
            self.readout = None
            self.readout_bias = None

    @property
    def layer_sizes(self) -> list[int]:
        """[n_input, n_1, ..., n_N] (state layers; the ce readout is not included)."""
        return [math.prod(self.input_shape)] + [s[0] for s in self.state_shapes]
