"""A deep resistive network as a classifier, and its implicit gradient with respect to the input.

:class:`ResistiveClassifier` follows :class:`analogeq.contract.ClassifierModel`: images
(B, *input_shape) are flattened into the input sources ``gain [x, -x]``, the network settles
exactly (:func:`hardware_models.resistive.settle`) and the class scores are the output node
voltages [V]. ``forward_for_attack`` differentiates the steady state implicitly, active diodes
fixed (:mod:`hardware_models.resistive.implicit`): every :class:`GradientSpec` mode gets this
exact gradient, because the settle is an exact solve, not a sequence of steps.

:func:`from_settling_model` carries a layered dense EBM's weights onto a resistive network of
the same layer sizes (a weight transfer, not an equivalence: a DRN's nodes are conductance-
weighted averages, not sums): each weight W_ji becomes a conductance proportional to
max(s_i s_j W_ji, 0), s the sign of a node (+1 for the +x sources and excitatory nodes, -1 for
the -x sources and inhibitory nodes), scaled per matrix so its largest entry is g_max_S.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from analogeq.contract import GradientSpec, check_dense_settling
from hardware_models.resistive import ResistiveNetwork, settle
from hardware_models.resistive.network import diode_signs
from hardware_models.resistive.implicit import adjoint, source_gradients

__all__ = ["ResistiveClassifier", "ImplicitSteadyState", "from_settling_model"]


class ImplicitSteadyState(torch.autograd.Function):
    """Output voltages of a settle (forward) and dC/dx by the adjoint at that state (backward).

    ``settle_fn(x64) -> (output_V, voltages_V)`` does the (possibly noisy) settle; ``net`` is the
    network the adjoint is linearised on (its mean conductances for a noisy substrate)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, net: ResistiveNetwork, settle_fn: Any) -> torch.Tensor:
        flat = x.detach().reshape(x.shape[0], -1).to("cpu", torch.float64).numpy()
        out, voltages = settle_fn(flat)
        ctx.net, ctx.voltages, ctx.shape = net, voltages, x.shape
        return torch.as_tensor(out, dtype=torch.float32, device=x.device)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        net = ctx.net
        rhs = np.zeros_like(ctx.voltages)
        rhs[:, -net.layer_sizes[-1]:] = grad_out.detach().to("cpu", torch.float64).numpy()
        grad_u = source_gradients(net, adjoint(net, ctx.voltages, rhs))
        n = net.layer_sizes[0]
        grad_x = net.input_gain * (grad_u[:, :n] - grad_u[:, n:])
        return torch.as_tensor(grad_x, dtype=grad_out.dtype, device=grad_out.device).reshape(ctx.shape), None, None


class ResistiveClassifier(nn.Module):
    """A :class:`ResistiveNetwork` classifying images of ``input_shape`` (module docstring).

    tol_A: KCL tolerance of the settle [A]; max_sweeps: its budget. ``last_sweeps`` holds the
    sweeps of the last forward pass (one per sample)."""

    def __init__(self, network: ResistiveNetwork, input_shape: tuple[int, ...], *, tol_A: float = 1e-12,
                 max_sweeps: int = 10_000):
        super().__init__()
        if not isinstance(network, ResistiveNetwork):
            raise TypeError(f"network must be a ResistiveNetwork, got {type(network).__name__}")
        self.input_shape = tuple(int(d) for d in input_shape)
        if math.prod(self.input_shape) != network.layer_sizes[0]:
            raise ValueError(f"input_shape {self.input_shape} has {math.prod(self.input_shape)} values but the network "
                             f"has {network.layer_sizes[0]} inputs")
        self.network = network
        self.num_classes = network.layer_sizes[-1]
        self.tol_A = tol_A
        self.max_sweeps = max_sweeps
        self.last_sweeps: np.ndarray | None = None

    def _settle(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = settle(self.network, flat, tol_A=self.tol_A, max_sweeps=self.max_sweeps)
        self.last_sweeps = r.sweeps
        return r.output_V, r.voltages_V

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return ImplicitSteadyState.apply(x, self.network, self._settle)

    def forward_for_attack(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        return ImplicitSteadyState.apply(x, self.network, self._settle)


def from_settling_model(model: Any, *, g_max_S: float = 25e-6, input_gain: float = 1.0) -> ResistiveClassifier:
    """A resistive classifier of the same layer sizes carrying a dense EBM's weights (module docstring)."""
    check_dense_settling(model, "the resistive substrate")
    weights = [m.weight.detach().to("cpu", torch.float64).numpy() for m in model.crossbar_matrices()]
    sizes = (weights[0].shape[1], *(w.shape[0] for w in weights))
    signs = diode_signs(sizes)
    node_signs = np.split(np.where(signs == 0, 1, signs), np.cumsum(sizes[1:])[:-1])
    src = [np.concatenate([np.ones(sizes[0]), -np.ones(sizes[0])])] + node_signs[:-1]
    floor = 1e-3 * g_max_S  # every node keeps a positive total conductance
    gs = []
    for k, w in enumerate(weights):
        wt = (np.vstack([w.T, w.T]) if k == 0 else w.T) * src[k][:, None] * node_signs[k][None, :]
        g = np.maximum(wt, 0.0)
        gs.append(floor + (g_max_S - floor) * g / max(float(g.max()), 1e-300))
    net = ResistiveNetwork(sizes, tuple(gs), input_gain=input_gain, g_min_S=0.0, g_max_S=g_max_S)
    return ResistiveClassifier(net, tuple(model.input_shape))
