"""Resistive device models: ideal, PCM, RRAM, measured tables; finite levels, stuck-at faults,
a pulsed update model; one entry point :func:`program_conductances`. numpy only.

Every device model follows :class:`DeviceModel` (``program``, ``conductance_at``,
``read_noise_std``, ``to_dict``/``from_dict``); :func:`device_from_dict` builds one from a card's
``device`` section by its ``kind``.
"""

from hardware_models.params import ParameterError

from .base import DeviceModel, ProgrammedConductances
from .faults import StuckAtFaults
from .ideal import IdealDevice
from .levels import ConductanceLevels, quantise_to_levels
from .pcm import PCMDevice
from .program import program_conductances
from .registry import device_from_dict, device_kinds, register_device_kind
from .rram import RRAMDevice
from .table import TableDevice
from .update import PulsedUpdate

#: the former name of a wrong-type parameter error; ParameterError is a TypeError and a ValueError
ParameterTypeError = ParameterError

for _cls in (IdealDevice, PCMDevice, RRAMDevice, TableDevice):
    register_device_kind(_cls)
del _cls

__all__ = [
    "DeviceModel",
    "ProgrammedConductances",
    "IdealDevice",
    "PCMDevice",
    "RRAMDevice",
    "TableDevice",
    "ConductanceLevels",
    "quantise_to_levels",
    "StuckAtFaults",
    "PulsedUpdate",
    "program_conductances",
    "ParameterError",
    "ParameterTypeError",
    "device_from_dict",
    "device_kinds",
    "register_device_kind",
]
