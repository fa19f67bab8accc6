"""Map a layered EBM (dense or convolutional) onto spiking hardware, through the contract.

Each state unit becomes an integrate-and-fire neuron and each synapse the linear map it is
(:mod:`analogeq.substrates.spiking.conv_mapping`): a dense matrix, or a sparse one for a
convolution with average or no pooling; it is wired as synapses in both directions (M forward,
M^T feedback) by :func:`hardware_models.spiking.map_dense_network`, which quantises the stored
entries and draws the per-neuron mismatch. Biases become one constant current per unit.
"""

from __future__ import annotations

from typing import Any

import torch

from analogeq.substrates.spiking.conv_mapping import check_spiking_ebm, linear_maps, unit_biases
from hardware_models.spiking import MappedSpikingNetwork, map_dense_network

__all__ = ["check_dense_ebm", "check_spiking_ebm", "float_parameters", "map_model"]


def check_dense_ebm(model: Any) -> None:
    """Raise TypeError/ValueError unless the spiking substrate can run ``model`` (a layered EBM
    whose every synapse is a linear map: dense, or convolution with average or no pooling).
    Kept under its old name; :func:`check_spiking_ebm` is the same check."""
    check_spiking_ebm(model)


def float_parameters(model: Any) -> dict[str, Any]:
    """The float linear maps (dense arrays or CSR matrices), per-unit biases and readout of an
    EBM, float64."""
    maps = linear_maps(model)
    has_readout = model.readout is not None
    with torch.no_grad():
        return {
            "weights": maps,
            "biases": unit_biases(model),
            "readout_weight": model.readout.weight.detach().cpu().double().numpy() if has_readout else None,
            "readout_bias": model.readout_bias.detach().cpu().double().numpy() if has_readout else None,
        }


def map_model(model: Any, card: Any, seed: int) -> MappedSpikingNetwork:
    """Map an EBM onto ``card``'s hardware (quantised weights, mismatch draw ``seed``)."""
    p = float_parameters(model)
    return map_dense_network(
        p["weights"],
        p["biases"],
        input_shape=tuple(model.input_shape),
        num_classes=int(model.num_classes),
        readout=model.readout_kind,
        card=card,
        seed=seed,
        readout_weight=p["readout_weight"],
        readout_bias=p["readout_bias"],
    )
