"""The parts of one inference's energy, from any substrate's ``cost()`` dict.

A cost dict gives the total as ``energy_per_inference_J`` and its parts in ``energy_breakdown_J``
(crossbar: array, DAC, ADC, neurons; spiking: spikes, synaptic events, neuron steps; resistive:
network, DAC, ADC); older results give them as ``<part>_energy_J`` or ``energy_<part>_J``. :func:`energy_breakdown` collects the parts in joules; :func:`energy_breakdown_text`
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
    """``{part name: energy [J]}`` of one inference: the cost dict's ``energy_breakdown_J`` (every
    substrate's ``cost()`` gives it), or for a cost written before it, its ``<part>_energy_J`` /
    ``energy_<part>_J`` entries in the dict's order ({} for None)."""
    if cost and isinstance(cost.get("energy_breakdown_J"), dict):
        return {name: float(value) for name, value in cost["energy_breakdown_J"].items()}
    parts: dict[str, float] = {}
    for key, value in (cost or {}).items():
        match = _PART.match(key)
        if match and key not in ("energy_per_inference_J", "energy_breakdown_J") and value is not None:
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
