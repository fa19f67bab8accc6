"""Map a dense layered EBM onto spiking hardware, knowing the network only through the contract.

The spiking substrate runs networks whose every matrix is a full connection (``"dense"`` reads
of :meth:`analogeq.contract.SettlingModel.crossbar_matrices`) and whose biases are one per unit:
each unit becomes an integrate-and-fire neuron and each matrix a set of synapses in both
directions (:func:`hardware_models.spiking.map_dense_network`).
"""

from __future__ import annotations

from typing import Any

import torch

from analogeq.contract import check_dense_settling
from hardware_models.spiking import MappedSpikingNetwork, map_dense_network

__all__ = ["check_dense_ebm", "float_parameters", "map_model"]


def check_dense_ebm(model: Any) -> None:
    """Raise TypeError/ValueError unless ``model`` is a layered EBM made of dense synapses only."""
    check_dense_settling(model, "the spiking substrate")


def float_parameters(model: Any) -> dict[str, Any]:
    """The float weights, biases and readout of a dense EBM as float64 numpy arrays."""
    with torch.no_grad():
        mats = [m.weight.detach().cpu().double().numpy() for m in model.crossbar_matrices()]
        has_readout = model.readout is not None
        return {
            "weights": mats[:-1] if has_readout else mats,
            "biases": [b.detach().cpu().double().numpy() for b in model.biases],
            "readout_weight": mats[-1] if has_readout else None,
            "readout_bias": model.readout_bias.detach().cpu().double().numpy() if has_readout else None,
        }


def map_model(model: Any, card: Any, seed: int) -> MappedSpikingNetwork:
    """Map a dense EBM onto ``card``'s hardware (quantised weights, mismatch draw ``seed``)."""
    check_dense_ebm(model)
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
