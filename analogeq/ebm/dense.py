"""The dense layered EBM (Scellier & Bengio 2017), any number of hidden layers.

Layers x -> h_1 -> ... -> h_L -> output, fully connected with symmetric weights (one matrix
per pair of adjacent layers, read forward and transposed), hard-sigmoid states in [0, 1].
See :mod:`analogeq.ebm.layered` for the energy, the nudged energy and the settling step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analogeq.ebm.config_dict import JSONConfig, check_fields, check_shape, check_sizes
from analogeq.ebm.layered import LAYERED_CONSTRAINTS, LayeredEBM, dense_sizes, dense_stack
from hardware_models.params import ParameterError


@dataclass(frozen=True)
class DenseEBMConfig(JSONConfig):
    """Configuration of a dense EBM (JSON-serialisable through ``to_dict``).

    input_shape: shape of one input (e.g. (1, 8, 8) for digits); flattened by the first synapse.
    hidden_sizes: units of each hidden layer (at least one for ``readout="ce"``).
    num_classes: number of classes, >= 2 (output units for mse, readout outputs for ce).
    readout: "mse" (output layer inside the energy, squared-error cost) or
        "ce" (softmax readout outside the energy, cross-entropy cost).
    free_steps: step budget T1 of a free phase (prediction), >= 1.
    nudge_steps: step budget T2 of each nudged phase, >= 1.
    tol: settling tolerance on max |s^{t+1} - s^t|, >= 0 (0 = always run the budget).
        Default budget: stop on the residual (tol 1e-5) with a large cap, 1000 free and 1000
        nudged steps, rather than a budget scaled with depth. Measured on the 64-37-23-19-10
        network at initialisation, a batch of 64 digits (``python benchmarks/bench_eqprop.py
        --json --part budget``): at Glorot gain 1 the phases need 626 free and up to 773 nudged
        steps; 60/20 steps (the old default) stop at residual 0.11 with EqProp-vs-BPTT cosine
        0.23, 60/20 steps per state layer (240/80) at residual 0.043 (cosine 0.94), the capped
        residual stop converges every phase (cosine 0.98); at gain 0.5 it needs 73 free and 107
        nudged steps, where the depth-scaled nudged budget (80) stops short. A phase that ends
        on the cap warns (training and every substrate). The recipes give their own budgets.
    step_size: eps of the settling step s <- (1 - eps) s + eps rho(h), in (0, 1]
        (1 = plain fixed-point iteration; 0.5 damps oscillations, see analogeq.ebm.layered).
    init_gain: scale of the Glorot-uniform initialisation, > 0.
    seed: seed of the initialisation, >= 0.
    """

    input_shape: tuple[int, ...] = (1, 8, 8)
    hidden_sizes: tuple[int, ...] = (256,)
    num_classes: int = 10
    readout: str = "mse"
    free_steps: int = 1000
    nudge_steps: int = 1000
    tol: float = 1e-5
    step_size: float = 0.5
    init_gain: float = 1.0
    seed: int = 0
    kind: str = field(default="dense_ebm", init=False)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "input_shape", check_shape(owner, "input_shape", self.input_shape))
        object.__setattr__(self, "hidden_sizes", check_sizes(owner, "hidden_sizes", self.hidden_sizes, allow_empty=True))
        check_fields(self, LAYERED_CONSTRAINTS)
        if self.readout == "ce" and not self.hidden_sizes:
            raise ParameterError(owner, "hidden_sizes", "readout='ce' needs at least one hidden layer, got []")


class DenseEBM(LayeredEBM):
    """Dense layered EBM; ``forward(x)`` settles the free phase and returns class scores."""

    def __init__(self, config: DenseEBMConfig):
        super().__init__()
        gen = self._init_from_config(config)
        self._set_layers(*dense_stack(config.input_shape, dense_sizes(config), config.init_gain, gen), gen)

    @property
    def layer_sizes(self) -> list[int]:
        """[n_input, n_1, ..., n_N] (state layers; the ce readout is not included)."""
        return [math.prod(self.input_shape)] + [s[0] for s in self.state_shapes]
