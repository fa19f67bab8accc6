"""A feed-forward network (one pass, no settling) with its weight layers on emulated crossbars.

Every ``nn.Linear`` and ``nn.Conv2d`` of the network (:func:`analogeq.contract.weight_layers`)
is programmed onto arrays (see :mod:`.common`) and replaced in a copy of the network by its
forward read (:class:`~.reads.HardwareLinear`, :class:`~.reads.HardwareConv2d`: per-row abs-max
scaling into the DAC range, bias digital); everything else (activations, pooling, LayerNorm,
attention softmax) stays digital floating point. ``attack_logits`` differentiates the same
reads (straight-through DAC/ADC quantisation, reparameterised noise).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from analogeq.contract import GradientSpec, check_input, weight_layers
from analogeq.substrates.crossbar.common import CrossbarSubstrate
from analogeq.substrates.crossbar.programmed import read_index
from analogeq.substrates.crossbar.reads import HardwareConv2d, HardwareLinear

__all__ = ["CrossbarFeedForwardSubstrate"]


class CrossbarFeedForwardSubstrate(CrossbarSubstrate):
    """A one-pass network on crossbars (parameters of :class:`CrossbarSubstrate`).

    ``settle_mode`` must be ``"discrete"`` and ``backend`` ``"auto"`` or ``"torch"``: a
    feed-forward network does not settle.
    """

    def _check_path_options(self, model: Any, settle_mode: str, dt_over_tau: float, backend: str) -> None:
        if settle_mode != "discrete":
            raise ValueError("settle_mode: 'continuous' needs a layered EBM; a feed-forward network does not settle")
        if backend not in ("auto", "torch"):
            raise ValueError(
                f"backend: {backend!r} runs layered EBMs only; {type(model).__name__} needs backend='torch' or 'auto'"
            )

    def _bind_reads(self, backend: str) -> None:
        self.backend = "torch"
        hw = copy.deepcopy(self.model)
        for m, (name, layer) in enumerate(weight_layers(hw)):
            read = self.torch_reads[read_index(m, "forward")]
            new = HardwareConv2d(layer, read) if isinstance(layer, nn.Conv2d) else HardwareLinear(layer, read)
            parent_name, _, child = name.rpartition(".")
            setattr(hw.get_submodule(parent_name) if parent_name else hw, child, new)
        self.hardware_model = hw.eval()

    def _matrices(self) -> tuple[list[str], list[np.ndarray]]:
        layers = weight_layers(self.model)
        if not layers:
            raise ValueError(f"{type(self.model).__name__} has no nn.Linear or nn.Conv2d layer to program on a crossbar")
        names, weights = [], []
        with torch.no_grad():
            for name, layer in layers:
                if isinstance(layer, nn.Conv2d):
                    if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                        raise ValueError(
                            f"layer {name!r}: the crossbar substrate maps nn.Conv2d with groups=1, zero padding "
                            f"given as integers; got groups={layer.groups}, padding={layer.padding!r}, "
                            f"padding_mode={layer.padding_mode!r}"
                        )
                    w = layer.weight.reshape(layer.out_channels, -1)
                else:
                    w = layer.weight
                names.append(name)
                weights.append(w.detach().cpu().double().numpy())
        return names, weights

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_shape)
        x = x.to(self.device, torch.float32)
        meter = self._attach_meter()
        self.keys.new_phase(2)
        try:
            scores = self.hardware_model(x)
        finally:
            self._detach_meter()
        self._record(x.shape[0], meter.row_reads, meter.energy_units, steps=0.0, settle_time_s=None)
        return scores

    def attack_logits(self, x: torch.Tensor, gradient: GradientSpec = GradientSpec()) -> torch.Tensor:
        check_input(x, self.input_shape)
        if not isinstance(gradient, GradientSpec):
            raise TypeError(f"gradient must be a GradientSpec, got {type(gradient).__name__}")
        x = x.to(self.device, torch.float32)
        self.keys.new_phase(2)
        with torch.enable_grad():
            return self.hardware_model(x)

    def _nominal_reads(self) -> tuple[np.ndarray, float]:
        """One forward read of every layer, counted by one float pass of a zero input."""
        counts: list[int] = []

        def hook(module, inputs, output):
            counts.append(output.numel() // (output.shape[1] if isinstance(module, nn.Conv2d) else output.shape[-1]))

        handles = [layer.register_forward_hook(hook) for _, layer in weight_layers(self.model)]
        try:
            with torch.no_grad():
                self.model(torch.zeros(1, *self.input_shape, device=self.device))
        finally:
            for h in handles:
                h.remove()
        reads = np.zeros(self.programmed.n_reads)
        reads[0::2] = 1.0
        for m, c in enumerate(counts[: len(self.programmed)]):
            reads[2 * m] = c
        return reads, 0.0
