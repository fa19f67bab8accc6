"""hardware_models: device physics, crossbar tiles, spiking neuron parameter sets, cost models,
device cards and exporters. numpy, scipy and numba only: importing this package never imports
torch or brian2, so it can be used on its own or from another simulator.

    from hardware_models import preset, program_conductances
    card = preset("pcm")
    programmed = program_conductances(card, g_target, numpy.random.default_rng(0))
"""

# Importing this package changes nothing in the host process (no environment variables, no
# thread settings): analogeq's command line sets OMP_WAIT_POLICY itself (analogeq/threads.py).

__version__ = "0.1.0"

from .cards import (
    CardError,
    CrossbarCard,
    card_from_dict,
    list_presets,
    load_card,
    preset,
    register_card_type,
    save_card,
    with_value,
)
from .cost import ReadCost, SettleCost, settle_cost, tile_read_cost, tile_read_cost_bound
from .devices import (
    ConductanceLevels,
    DeviceModel,
    IdealDevice,
    PCMDevice,
    ProgrammedConductances,
    PulsedUpdate,
    RRAMDevice,
    StuckAtFaults,
    TableDevice,
    device_from_dict,
    program_conductances,
    quantise_to_levels,
)

__all__ = [
    "__version__",
    # devices
    "DeviceModel",
    "ProgrammedConductances",
    "IdealDevice",
    "PCMDevice",
    "RRAMDevice",
    "TableDevice",
    "ConductanceLevels",
    "StuckAtFaults",
    "PulsedUpdate",
    "program_conductances",
    "quantise_to_levels",
    "device_from_dict",
    # cards
    "CardError",
    "CrossbarCard",
    "card_from_dict",
    "load_card",
    "save_card",
    "preset",
    "list_presets",
    "with_value",
    "register_card_type",
    # cost
    "ReadCost",
    "SettleCost",
    "tile_read_cost",
    "tile_read_cost_bound",
    "settle_cost",
]
