"""Resistive device models: ideal, PCM, RRAM, measured tables; finite levels, stuck-at faults,
a pulsed update model; one entry point ``program_conductances``. numpy only."""

from ._checks import ParameterError, ParameterTypeError
from .base import DeviceModel, ProgrammedConductances
from .ideal import IdealDevice
from .pcm import PCMDevice
from .registry import device_from_dict, device_kinds, register_device_kind

register_device_kind(IdealDevice)
register_device_kind(PCMDevice)

__all__ = [
    "DeviceModel",
    "ProgrammedConductances",
    "IdealDevice",
    "PCMDevice",
    "ParameterError",
    "ParameterTypeError",
    "device_from_dict",
    "device_kinds",
    "register_device_kind",
]
