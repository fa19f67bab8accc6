"""The crossbar card: every parameter of an emulated resistive crossbar in one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from hardware_models.devices import (
    ConductanceLevels,
    DeviceModel,
    PulsedUpdate,
    StuckAtFaults,
    device_from_dict,
)
from hardware_models.params import ParameterError

from hardware_models.cost import converter_summary

from .errors import CardError, section_error
from .registry import card_to_dict, check_card_header, register_card_type, validate_with_schema
from .sections import (
    ADCSection,
    CostSection,
    DACSection,
    MappingSection,
    NeuronSection,
    TIASection,
    TileSection,
    TimingSection,
    WiresSection,
)

DRIFT_COMPENSATION_MODES = ("global", "none")

# section name -> class (device is dispatched on its kind; update may be None)
_SECTION_TYPES: dict[str, type] = {
    "levels": ConductanceLevels,
    "faults": StuckAtFaults,
    "update": PulsedUpdate,
    "tile": TileSection,
    "mapping": MappingSection,
    "dac": DACSection,
    "adc": ADCSection,
    "tia": TIASection,
    "wires": WiresSection,
    "timing": TimingSection,
    "neuron": NeuronSection,
    "cost": CostSection,
}


@dataclass(frozen=True)
class CrossbarCard:
    """A resistive-crossbar device card (``card_type`` "crossbar", ``schema_version`` "1.0").

    Sections (JSON keys and attributes alike): ``name``, ``description``, ``references``
    (tuple of strings), ``device`` (a device model: IdealDevice, PCMDevice, RRAMDevice,
    TableDevice), ``levels`` (ConductanceLevels), ``faults`` (StuckAtFaults), ``update``
    (PulsedUpdate or None), ``tile`` (TileSection), ``mapping`` (MappingSection), ``dac``
    (DACSection), ``adc`` (ADCSection), ``tia`` (TIASection), ``wires`` (WiresSection),
    ``drift_compensation`` ("global" or "none"), ``timing`` (TimingSection), ``neuron``
    (NeuronSection), ``cost`` (CostSection).

    Derived quantities used across the substrate: ``i_unit_A`` = v_read_V * (g_max_S - g_min_S),
    the current of one full-scale weight at full-scale input [A]; the ADC full scale is
    ``adc.range_units * i_unit_A`` and the TIA noise std ``tia.noise_units * i_unit_A``.
    """

    card_type: ClassVar[str] = "crossbar"
    schema_version: ClassVar[str] = "1.0"

    name: str
    description: str
    references: tuple[str, ...]
    device: DeviceModel
    levels: ConductanceLevels
    faults: StuckAtFaults
    update: PulsedUpdate | None
    tile: TileSection
    mapping: MappingSection
    dac: DACSection
    adc: ADCSection
    tia: TIASection
    wires: WiresSection
    drift_compensation: str
    timing: TimingSection
    neuron: NeuronSection
    cost: CostSection

    def __post_init__(self) -> None:
        owner = "CrossbarCard"
        check_card_header(self, _SECTION_TYPES, optional=("update",))
        if not isinstance(self.device, DeviceModel):
            raise ParameterError(owner, "device", f"{type(self.device).__name__} is not a device model")
        if self.drift_compensation not in DRIFT_COMPENSATION_MODES:
            raise ParameterError(
                owner, "drift_compensation", f"{self.drift_compensation!r} is not one of {list(DRIFT_COMPENSATION_MODES)}"
            )
        span = self.device.g_max_S - self.device.g_min_S
        if self.update is not None:
            for name in ("dg_min_up_S", "dg_min_down_S"):
                step = getattr(self.update, name)
                if step > span:
                    raise ParameterError(
                        owner, f"update.{name}", f"{step!r} S exceeds the device range g_max_S - g_min_S = {span!r} S"
                    )

    @property
    def i_unit_A(self) -> float:
        """v_read_V * (g_max_S - g_min_S) [A]: the unit of ``adc.range_units`` and ``tia.noise_units``."""
        return self.dac.v_read_V * (self.device.g_max_S - self.device.g_min_S)

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-ready dict, in the canonical key order."""
        return card_to_dict(self)

    def converter_summary(self) -> str:
        """The converters as the card sets them (:func:`hardware_models.cost.converter_summary`)."""
        return converter_summary(self)




# fixed per-conversion energies of earlier cards -> figures of merit (E = FOM * 2^bits)
_LEGACY_COST = {"e_dac_per_conversion_J": ("dac", "dac_fom_J_per_step"),
                "e_adc_per_conversion_J": ("adc", "adc_fom_J_per_step")}


def _upgrade_legacy_cost(data: dict[str, Any]) -> dict[str, Any]:
    """A card written with fixed per-conversion energies (``cost.e_dac_per_conversion_J``,
    ``cost.e_adc_per_conversion_J``) read as the figures of merit that give those energies at
    the card's bits: ``FOM = E / 2^bits``. Same energies at the card's bits, and the law of
    :func:`hardware_models.cost.conversion_energies_J` for any other. Other dicts pass as they are."""
    cost = data.get("cost") if isinstance(data, dict) else None
    if not isinstance(cost, dict) or not any(k in cost for k in _LEGACY_COST):
        return data
    cost = dict(cost)
    for old, (section, new) in _LEGACY_COST.items():
        if old not in cost:
            continue
        if new in cost:
            raise CardError(f"$.cost.{old}", f"give cost.{new} (energy = FOM * 2^{section}.bits) or the older {old}, not both")
        bits = data.get(section, {}).get("bits") if isinstance(data.get(section), dict) else None
        energy = cost.pop(old)
        if not isinstance(bits, int) or isinstance(bits, bool) or not isinstance(energy, (int, float)):
            raise CardError(f"$.cost.{old}", f"replaced by cost.{new} (energy per conversion = FOM * 2^{section}.bits); "
                            f"{old} can be read only with an integer {section}.bits, got {bits!r}")
        cost[new] = energy / 2.0**bits
    return {**data, "cost": cost}


def crossbar_card_from_dict(data: dict[str, Any]) -> CrossbarCard:
    """Validate ``data`` against ``crossbar-card.v1.json`` and build the card; CardError on any
    fault. Cards with the older fixed converter energies are read as figures of merit
    (:func:`_upgrade_legacy_cost`)."""
    data = _upgrade_legacy_cost(data)
    validate_with_schema(data, "crossbar", data.get("schema_version", "1.0"))
    kwargs: dict[str, Any] = {
        "name": data["name"],
        "description": data["description"],
        "references": tuple(data["references"]),
        "drift_compensation": data["drift_compensation"],
    }
    try:
        kwargs["device"] = device_from_dict(data["device"])
    except ParameterError as exc:
        raise section_error("device", exc) from None
    for name, cls in _SECTION_TYPES.items():
        value = data[name]
        if name == "update" and value is None:
            kwargs[name] = None
            continue
        try:
            kwargs[name] = cls.from_dict(value)
        except ParameterError as exc:
            raise section_error(name, exc) from None
    try:
        return CrossbarCard(**kwargs)
    except ParameterError as exc:
        raise section_error("", exc) from None


register_card_type("crossbar", crossbar_card_from_dict, versions=("1.0",))
