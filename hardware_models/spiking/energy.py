"""Energy and latency of one inference on a spiking substrate, from the card's cost section.

    E = N_spikes * e_spike_J + N_synaptic_events * e_synaptic_event_J + N_neuron_steps * e_neuron_step_J

N_spikes: spikes emitted by all neurons during the free phase; N_synaptic_events: those spikes
times the fan-out of the neuron that emitted them (each delivered spike is one synaptic
event); N_neuron_steps: neurons x clock steps of the free phase (the clocked update of a digital
core, or the static/leakage energy of an analog one expressed per step). The clamped input
enters as a constant current and is not counted. Latency is the simulated settling time
``timing.t_free_s`` (all copies and neurons run in parallel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SpikingInferenceCost:
    """Energy [J] and latency [s] of one inference with the counts it was computed from."""

    energy_per_inference_J: float
    latency_per_inference_s: float
    spikes_per_inference: float
    synaptic_events_per_inference: float
    neuron_steps_per_inference: float
    energy_spikes_J: float
    energy_synaptic_events_J: float
    energy_neuron_steps_J: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def spiking_inference_cost(card, spikes: float, synaptic_events: float, neuron_steps: float) -> SpikingInferenceCost:
    """Cost of one inference with the given mean counts (see module docstring)."""
    for name, value in (("spikes", spikes), ("synaptic_events", synaptic_events), ("neuron_steps", neuron_steps)):
        if not (value >= 0):
            raise ValueError(f"{name} must be a count >= 0, got {value!r}")
    c = card.cost
    e_sp = float(spikes) * c.e_spike_J
    e_syn = float(synaptic_events) * c.e_synaptic_event_J
    e_st = float(neuron_steps) * c.e_neuron_step_J
    return SpikingInferenceCost(
        energy_per_inference_J=e_sp + e_syn + e_st,
        latency_per_inference_s=card.timing.t_free_s,
        spikes_per_inference=float(spikes),
        synaptic_events_per_inference=float(synaptic_events),
        neuron_steps_per_inference=float(neuron_steps),
        energy_spikes_J=e_sp,
        energy_synaptic_events_J=e_syn,
        energy_neuron_steps_J=e_st,
    )


__all__ = ["SpikingInferenceCost", "spiking_inference_cost"]
