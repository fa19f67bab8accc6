"""The spiking substrate: a dense or convolutional EBM settling as spikes on emulated neuromorphic hardware (Brian2).

Pieces: :mod:`.mapping` (EBM -> mapped spiking network, through the contract), :mod:`.conv_mapping`
(a convolution with average or no pooling as its sparse linear map),
:mod:`.substrate` (the :class:`SpikingSubstrate`), :mod:`.network` (the stacked Brian2 network),
:mod:`.rate_model` (the differentiable mean field white-box attacks use), :mod:`.backend`
(Brian2 run mode and cache), :mod:`.standalone` (the network as a compiled cpp_standalone
project, cached per shape). Brian2 is imported only when a network is built.

    from analogeq.substrates import build_substrate
    sub = build_substrate("spiking", model, card="spiking-mixed-signal", seed=0, target="auto")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from analogeq.substrates.registry import SubstrateKind, device_option, register_substrate, validate_options
from analogeq.substrates.spiking.backend import TARGETS
from analogeq.substrates.spiking.mapping import check_dense_ebm, check_spiking_ebm, float_parameters, map_model
from analogeq.substrates.spiking.substrate import DEFAULT_CARD, SpikingSubstrate
from hardware_models.params import Integer, OneOf
from hardware_models.spiking import MappedSpikingNetwork, as_spiking_card

__all__ = [
    "DEFAULT_CARD",
    "SpikingOptions",
    "SpikingSubstrate",
    "check_dense_ebm",
    "check_spiking_ebm",
    "float_parameters",
    "map_model",
]


_CONSTRAINTS = {
    "card": lambda field, value: as_spiking_card(value),
    "seed": Integer(minimum=0),
    "batch_size": Integer(minimum=1),
    "target": OneOf(TARGETS),
    "cache_dir": lambda field, value: os.fspath(value),
    "threads": Integer(minimum=0),
    "device": device_option,
}


@dataclass(frozen=True)
class SpikingOptions:
    """Options of the spiking substrate (meanings in :class:`SpikingSubstrate`). ``card`` is
    resolved when the options are made (card object, file path, preset name or dict)."""

    card: Any = DEFAULT_CARD
    seed: int = 0
    batch_size: int = 256
    target: str = "auto"
    cache_dir: str | None = None
    threads: int | None = None
    device: Any = "cpu"

    def __post_init__(self) -> None:
        validate_options(self, _CONSTRAINTS)

    def to_dict(self) -> dict[str, Any]:
        return {"card": self.card.to_dict(), "seed": self.seed, "batch_size": self.batch_size,
                "target": self.target, "cache_dir": self.cache_dir, "threads": self.threads,
                "device": str(self.device)}


def _build(model: Any, o: SpikingOptions) -> SpikingSubstrate:
    options = {"batch_size": o.batch_size, "target": o.target, "cache_dir": o.cache_dir, "threads": o.threads,
               "device": o.device}
    if isinstance(model, MappedSpikingNetwork):
        return SpikingSubstrate(model, o.card, seed=o.seed, **options)
    return SpikingSubstrate.from_model(model, o.card, seed=o.seed, **options)


register_substrate(SubstrateKind("spiking", SpikingOptions, _build,
                                 "a dense or conv (avg-pool) EBM as integrate-and-fire neurons on an emulated spiking chip (Brian2)"))
