"""Device cards: JSON descriptions of emulated hardware, validated against versioned JSON
Schemas shipped with the package (``schemas/<card_type>-card.v<major>.json``), presets in
``presets/<name>.json``.

    from hardware_models.cards import load_card, save_card, card_from_dict, preset, list_presets, with_value, CardError

    card = preset("pcm")
    card6 = with_value(card, "adc.bits", 6)   # a new, validated card
    save_card(card6, "pcm-6bit.json")          # atomic write
"""

from .crossbar import DRIFT_COMPENSATION_MODES, CrossbarCard, crossbar_card_from_dict
from .errors import CardError
from .io import card_from_dict, list_presets, load_card, parse_card_json, preset, save_card, with_value
from .resolve import resolve_card
from .registry import (
    PLUGIN_MODULES,
    card_types,
    load_schema,
    register_card_type,
    schema_filename,
    validate_with_schema,
)
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

__all__ = [
    "CardError",
    "CrossbarCard",
    "DRIFT_COMPENSATION_MODES",
    "ADCSection",
    "CostSection",
    "DACSection",
    "MappingSection",
    "NeuronSection",
    "TIASection",
    "TileSection",
    "TimingSection",
    "WiresSection",
    "card_from_dict",
    "resolve_card",
    "crossbar_card_from_dict",
    "load_card",
    "save_card",
    "preset",
    "list_presets",
    "with_value",
    "parse_card_json",
    "register_card_type",
    "card_types",
    "validate_with_schema",
    "load_schema",
    "schema_filename",
    "PLUGIN_MODULES",
]
