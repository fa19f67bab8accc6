"""Substrates: a trained network bound to the hardware that computes it (see ``base``).

``build_substrate(kind, model, **options)`` builds one by name from the registry
(:mod:`.registry`); every kind has one options dataclass, validated when it is made
(``substrate_options(kind, ...)``). Built-in kinds: ``float``, ``crossbar``, ``spiking``.
"""

from __future__ import annotations

from analogeq.contract import resolve_device
from analogeq.substrates.base import Substrate
from analogeq.substrates.registry import (
    SubstrateKind,
    build_substrate,
    register_substrate,
    substrate_kind,
    substrate_kinds,
    substrate_options,
)

# the built-in kinds register themselves on import (brian2 loads only when a network is built)
from analogeq.substrates import float as _float  # noqa: E402,F401
from analogeq.substrates import crossbar as _crossbar  # noqa: E402,F401
from analogeq.substrates import spiking as _spiking  # noqa: E402,F401
from analogeq.substrates import resistive as _resistive  # noqa: E402,F401

__all__ = [
    "Substrate",
    "SubstrateKind",
    "build_substrate",
    "register_substrate",
    "substrate_kind",
    "substrate_kinds",
    "substrate_options",
]
