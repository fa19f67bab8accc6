"""Spiking hardware models (numpy only): the spiking card (``card_type`` "spiking", registered
with :mod:`hardware_models.cards` on import), the integrate-and-fire neuron's closed forms,
weight quantisation and per-neuron mismatch (:func:`map_dense_network`), and the energy model.

    from hardware_models import preset
    card = preset("spiking-mixed-signal")
"""

from .card import (
    SpikingCard,
    SpikingCostSection,
    SpikingMismatchSection,
    SpikingNeuronSection,
    SpikingNoiseSection,
    SpikingSynapseSection,
    SpikingTimingSection,
    as_spiking_card,
    spiking_card_from_dict,
)
from .energy import SpikingInferenceCost, spiking_inference_cost
from .mapped import MappedSpikingNetwork, lognormal_factors, map_dense_network, quantize_weights
from .neuron import if_spike_count, mean_field_rate, simulate_if

__all__ = [
    "MappedSpikingNetwork",
    "SpikingCard",
    "SpikingCostSection",
    "SpikingInferenceCost",
    "SpikingMismatchSection",
    "SpikingNeuronSection",
    "SpikingNoiseSection",
    "SpikingSynapseSection",
    "SpikingTimingSection",
    "as_spiking_card",
    "if_spike_count",
    "lognormal_factors",
    "map_dense_network",
    "mean_field_rate",
    "quantize_weights",
    "simulate_if",
    "spiking_card_from_dict",
    "spiking_inference_cost",
]
