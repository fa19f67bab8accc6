"""The parts of one inference's energy, from any substrate's ``cost()`` dict.

A cost dict gives the total as ``energy_per_inference_J`` and its parts as ``<part>_energy_J``
(crossbar: array, dac, adc, neuron) or ``energy_<part>_J`` (spiking: spikes, synaptic_events,
neuron_steps). :func:`energy_breakdown` collects the parts in joules; :func:`energy_breakdown_text`
writes their shares, e.g. ``"array 3%, DAC 11%, ADC 78%, neurons 8%"`` (NeuroSim-style tables).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["energy_breakdown", "energy_breakdown_text"]

_PART = re.compile(r"^(?:energy_(?P<a>\w+)_J|(?P<b>\w+)_energy_J)$")
_NAMES = {"dac": "DAC", "adc": "ADC", "neuron": "neurons", "synaptic_events": "synaptic events",
          "neuron_steps": "neuron steps"}


def energy_breakdown(cost: dict[str, Any] | None) -> dict[str, float]:
    """``{part name: energy [J]}`` of one inference, in the cost dict's order ({} for None)."""
    parts: dict[str, float] = {}
    for key, value in (cost or {}).items():
        match = _PART.match(key)
        if match and key != "energy_per_inference_J" and value is not None:
            name = match.group("a") or match.group("b")
            parts[_NAMES.get(name, name)] = float(value)
    return parts


def energy_breakdown_text(cost: dict[str, Any] | None) -> str:
    """Each part's share of ``energy_per_inference_J``, rounded to whole percent."""
    total = float((cost or {}).get("energy_per_inference_J") or 0.0)
    parts = energy_breakdown(cost)
    if not total > 0.0 or not parts:
        return "no energy model"
    return ", ".join(f"{name} {100.0 * value / total:.0f}%" for name, value in parts.items())
