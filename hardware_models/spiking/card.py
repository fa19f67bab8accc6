"""The spiking card: every parameter of an emulated spiking (neuromorphic) substrate.

``card_type`` "spiking", ``schema_version`` "1.0"; JSON Schema in
``hardware_models/cards/schemas/spiking-card.v1.json``; presets ``spiking-*.json``.

The neuron the card describes is a (leaky) integrate-and-fire neuron on a clock of period
``timing.dt_s``, in units where the nominal threshold is 1 and currents are charges per step:

    I_syn <- I_syn + (spikes arriving) * w * (1 - d),        d = exp(-dt / tau_syn)
    v     <- clip(v (1 - dt/tau_mem_i) + I_syn + I_const + sigma * N(0, 1), 0, 2 theta_i)
    I_syn <- d * I_syn
    spike if v >= theta_i (and not refractory);  on a spike: v <- v - theta_i   (reset by subtraction)

With no leak, no noise and theta = 1 the firing rate (spikes per step) of a neuron driven by a
constant u is exactly clip(u, 0, 1): the hard sigmoid of the energy-based network. The rails
[0, 2 theta] are the supply limits of the membrane: they bound the memory of past input
(a neuron silenced by negative input restarts from 0, not from a deep negative charge) and
never act while u stays in [0, 1].

Sections (JSON keys and attributes alike):

* ``neuron``: ``tau_mem_s`` (membrane leak time constant [s], None = perfect integrator),
  ``refractory_s`` (after a spike the neuron cannot fire for this long [s], an integer multiple
  of ``dt_s``; the membrane keeps integrating up to its rail).
* ``synapse``: ``tau_syn_s`` (synaptic current time constant [s]), ``weight_bits`` (None =
  exact, else symmetric uniform quantisation to 2^(bits-1) - 1 levels per sign),
  ``w_max`` (quantiser full scale, None = max |W| of each matrix).
* ``mismatch``: per-neuron fixed-pattern spread drawn once at build from a seed: ``threshold_cv``
  and ``tau_mem_cv`` (coefficients of variation of log-normal draws with mean 1).
* ``noise``: ``membrane_std``: std of the Gaussian added to v at each step, in thresholds.
* ``timing``: ``dt_s`` (clock period, at most one spike per neuron per step), ``t_free_s``
  (simulated settling time of one inference = its latency), ``t_nudge_s`` (each nudged phase
  of EqProp training), ``decode_window_s`` (rates are spike counts over the last
  ``decode_window_s`` of a phase divided by its number of steps). All times are integer
  multiples of ``dt_s``.
* ``cost``: ``e_spike_J`` (one spike generated and routed), ``e_synaptic_event_J`` (one spike
  delivered to one synapse), ``e_neuron_step_J`` (one neuron updated for one clock step;
  static/leakage energy can be folded in here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from hardware_models.cards.errors import section_error
from hardware_models.cards.registry import card_to_dict, check_card_header, register_card_type, validate_with_schema
from hardware_models.devices._serial import SectionDictMixin
from hardware_models.params import NON_NEGATIVE, POSITIVE, Integer, NoneOr, ParameterError, validate_fields

MAX_WEIGHT_BITS = 32
#: synapse weight resolution: None (no quantisation) or an integer number of bits in [2, MAX_WEIGHT_BITS]
WEIGHT_BITS = NoneOr(Integer(2, MAX_WEIGHT_BITS, integral_float=True), "no quantisation")
#: relative tolerance for "an integer multiple of dt_s"
_MULTIPLE_RTOL = 1e-6


@dataclass(frozen=True)
class SpikingNeuronSection(SectionDictMixin):
    """Membrane leak time constant ``tau_mem_s`` [s] (> 0, or None for a perfect integrator)
    and refractory period ``refractory_s`` [s] (>= 0)."""

    tau_mem_s: float | None = None
    refractory_s: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, {"tau_mem_s": NoneOr(POSITIVE), "refractory_s": NON_NEGATIVE})


@dataclass(frozen=True)
class SpikingSynapseSection(SectionDictMixin):
    """Synaptic current time constant ``tau_syn_s`` [s] (> 0) and weight quantisation:
    ``weight_bits`` (None or an integer in [2, 32]) with full scale ``w_max`` (> 0 or None)."""

    tau_syn_s: float
    weight_bits: int | None = None
    w_max: float | None = None

    def __post_init__(self) -> None:
        validate_fields(self, {"tau_syn_s": POSITIVE, "weight_bits": WEIGHT_BITS, "w_max": NoneOr(POSITIVE)})


@dataclass(frozen=True)
class SpikingMismatchSection(SectionDictMixin):
    """Per-neuron fixed-pattern mismatch: coefficients of variation (>= 0) of the threshold and
    of the membrane time constant (log-normal, mean 1)."""

    threshold_cv: float = 0.0
    tau_mem_cv: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, {"threshold_cv": NON_NEGATIVE, "tau_mem_cv": NON_NEGATIVE})


@dataclass(frozen=True)
class SpikingNoiseSection(SectionDictMixin):
    """Membrane noise: std (>= 0, in thresholds) of the Gaussian added to v at every step."""

    membrane_std: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, {"membrane_std": NON_NEGATIVE})


@dataclass(frozen=True)
class SpikingTimingSection(SectionDictMixin):
    """Clock period ``dt_s``, free-phase and nudged-phase durations and the decoding window [s]."""

    dt_s: float
    t_free_s: float
    t_nudge_s: float
    decode_window_s: float

    def __post_init__(self) -> None:
        validate_fields(self, dict.fromkeys(("dt_s", "t_free_s", "t_nudge_s", "decode_window_s"), POSITIVE))

    def steps(self, duration_s: float) -> int:
        """``duration_s`` as a number of clock steps (the card guarantees an integer multiple)."""
        return int(round(duration_s / self.dt_s))

    @property
    def free_steps(self) -> int:
        return self.steps(self.t_free_s)

    @property
    def nudge_steps(self) -> int:
        return self.steps(self.t_nudge_s)

    @property
    def window_steps(self) -> int:
        return self.steps(self.decode_window_s)


@dataclass(frozen=True)
class SpikingCostSection(SectionDictMixin):
    """Energy [J] (>= 0) per spike, per synaptic event and per neuron per clock step."""

    e_spike_J: float = 0.0
    e_synaptic_event_J: float = 0.0
    e_neuron_step_J: float = 0.0

    def __post_init__(self) -> None:
        validate_fields(self, {f.name: NON_NEGATIVE for f in fields(self)})


_SECTION_TYPES: dict[str, type] = {
    "neuron": SpikingNeuronSection,
    "synapse": SpikingSynapseSection,
    "mismatch": SpikingMismatchSection,
    "noise": SpikingNoiseSection,
    "timing": SpikingTimingSection,
    "cost": SpikingCostSection,
}


def _is_multiple(value: float, dt: float) -> bool:
    ratio = value / dt
    return abs(ratio - round(ratio)) <= _MULTIPLE_RTOL * max(1.0, abs(ratio))


@dataclass(frozen=True)
class SpikingCard:
    """A spiking-substrate card (see the module docstring for every field and the neuron model)."""

    card_type: ClassVar[str] = "spiking"
    schema_version: ClassVar[str] = "1.0"

    name: str
    description: str
    references: tuple[str, ...]
    neuron: SpikingNeuronSection
    synapse: SpikingSynapseSection
    mismatch: SpikingMismatchSection
    noise: SpikingNoiseSection
    timing: SpikingTimingSection
    cost: SpikingCostSection

    def __post_init__(self) -> None:
        owner = "SpikingCard"
        check_card_header(self, _SECTION_TYPES)
        t = self.timing
        dt = t.dt_s
        for name in ("t_free_s", "t_nudge_s", "decode_window_s"):
            value = getattr(t, name)
            if value < dt or not _is_multiple(value, dt):
                raise ParameterError(owner, f"timing.{name}", f"{value!r} s must be an integer multiple (>= 1) of timing.dt_s = {dt!r} s")
        if t.decode_window_s > min(t.t_free_s, t.t_nudge_s) * (1 + _MULTIPLE_RTOL):
            raise ParameterError(
                owner,
                "timing.decode_window_s",
                f"{t.decode_window_s!r} s must not exceed t_free_s ({t.t_free_s!r} s) nor t_nudge_s ({t.t_nudge_s!r} s)",
            )
        if not _is_multiple(self.neuron.refractory_s, dt):
            raise ParameterError(
                owner, "neuron.refractory_s", f"{self.neuron.refractory_s!r} s must be an integer multiple of timing.dt_s = {dt!r} s"
            )
        if self.neuron.tau_mem_s is not None and not self.neuron.tau_mem_s > dt:
            raise ParameterError(
                owner, "neuron.tau_mem_s", f"{self.neuron.tau_mem_s!r} s must exceed timing.dt_s = {dt!r} s (Euler leak dt/tau < 1)"
            )
        if self.mismatch.tau_mem_cv > 0 and self.neuron.tau_mem_s is None:
            raise ParameterError(
                owner, "mismatch.tau_mem_cv", f"{self.mismatch.tau_mem_cv!r} > 0 needs a leak (neuron.tau_mem_s is null: no leak to mismatch)"
            )

    # ------------------------------------------------------------------ derived quantities
    @property
    def refractory_steps(self) -> int:
        return self.timing.steps(self.neuron.refractory_s)

    @property
    def syn_decay(self) -> float:
        """Per-step decay d = exp(-dt / tau_syn) of the synaptic current."""
        return math.exp(-self.timing.dt_s / self.synapse.tau_syn_s)

    @property
    def max_rate(self) -> float:
        """Highest firing rate in spikes per step: 1 / (1 + refractory steps)."""
        return 1.0 / (1.0 + self.refractory_steps)

    @property
    def stochastic(self) -> bool:
        return self.noise.membrane_std > 0.0

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-ready dict, in the canonical key order."""
        return card_to_dict(self)




def spiking_card_from_dict(data: dict[str, Any]) -> SpikingCard:
    """Validate ``data`` against ``spiking-card.v1.json`` and build the card; CardError (a
    ValueError with ``json_path``) on any fault, e.g. ``$.synapse.tau_syn_s: -0.001 is less than
    or equal to the minimum of 0``."""
    validate_with_schema(data, "spiking", data.get("schema_version", "1.0"))
    kwargs: dict[str, Any] = {
        "name": data["name"],
        "description": data["description"],
        "references": tuple(data["references"]),
    }
    for name, cls in _SECTION_TYPES.items():
        try:
            kwargs[name] = cls.from_dict(data[name])
        except ParameterError as exc:
            raise section_error(name, exc) from None
    try:
        return SpikingCard(**kwargs)
    except ParameterError as exc:
        raise section_error("", exc) from None


def as_spiking_card(card: Any) -> SpikingCard:
    """A SpikingCard from a card object, a card file path, a preset name (e.g. ``"spiking-ideal"``)
    or a card dict: :func:`hardware_models.cards.resolve_card` with kind ``"spiking"``."""
    if isinstance(card, SpikingCard):
        return card
    from hardware_models.cards.resolve import resolve_card

    return resolve_card(card, "spiking")


register_card_type("spiking", spiking_card_from_dict, versions=("1.0",))
