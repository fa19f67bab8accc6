"""The resistive substrate: deep resistive networks with diodes, settled exactly (issue 18).

* :mod:`.model`: :class:`ResistiveClassifier` (a network as a ClassifierModel, implicit gradient)
  and the weight transfer from a dense EBM;
* :mod:`.substrate`: programming from a crossbar card's device, drift, read noise per settle,
  energy per inference.

    from analogeq.substrates import build_substrate
    sub = build_substrate("resistive", model, card="resistive-pcm", drift_time_s=86400.0, seed=0)

Presets made for it: ``resistive-ideal`` and ``resistive-pcm`` (any crossbar card works).

Wire resistance: the card's ``wires.r_source_ohm`` is solved exactly, in series with every input
source (:func:`hardware_models.resistive.wires.with_source_resistance`: one linear node per source,
checked against ngspice to 1e-6). Not modelled: the segment resistances along rows and columns
(``r_row_segment_ohm``, ``r_col_segment_ohm``: one node per cross point, which breaks the
layer-by-layer closed form); a card with them (e.g. ``rram``, 1 ohm segments) is accepted with one
warning. ``r_sense_ohm`` carries no current (the outputs are read as voltages).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from analogeq.substrates.registry import CardOptions, SubstrateKind, device_option, register_substrate, validate_options
from analogeq.substrates.resistive.model import ResistiveClassifier, from_settling_model
from analogeq.substrates.resistive.substrate import ResistiveSubstrate
from hardware_models.cards.resolve import resolve_card
from hardware_models.params import Integer, Real

__all__ = ["ResistiveClassifier", "ResistiveOptions", "ResistiveSubstrate", "from_settling_model"]

logger = logging.getLogger(__name__)

DEFAULT_CARD = "ideal"

_CONSTRAINTS = {
    "card": lambda field, value: resolve_card(value, "crossbar"),
    "drift_time_s": Real(minimum=0.0),
    "seed": Integer(minimum=0),
    "tol_A": Real(minimum=0.0),
    "max_sweeps": Integer(minimum=1),
    "batch_size": Integer(minimum=1),
    "device": device_option,
}


@dataclass(frozen=True)
class ResistiveOptions(CardOptions):
    """Options of the resistive substrate: ``card`` (a crossbar card whose device programs the
    conductances: object, file path, preset name or dict), ``drift_time_s`` [s], ``seed``
    (programming draw and default read-noise stream), ``tol_A`` (KCL tolerance [A]),
    ``max_sweeps``, ``batch_size`` (samples per settle call), ``device`` (of the returned scores)."""

    card: Any = DEFAULT_CARD
    drift_time_s: float = 3600.0
    seed: int = 0
    tol_A: float = 1e-12
    max_sweeps: int = 10_000
    batch_size: int = 64
    device: Any = "cpu"

    def __post_init__(self) -> None:
        validate_options(self, _CONSTRAINTS)


def _build(model: Any, o: ResistiveOptions) -> ResistiveSubstrate:
    w = o.card.wires
    if w.r_row_segment_ohm or w.r_col_segment_ohm:
        logger.warning("card %r has row/column wire segments; the resistive substrate does not model them "
                       "(only the driver resistance r_source_ohm)", o.card.name)
    return ResistiveSubstrate(model, o.card, drift_time_s=o.drift_time_s, seed=o.seed, tol_A=o.tol_A,
                              max_sweeps=o.max_sweeps, chunk=o.batch_size, device=o.device)


register_substrate(SubstrateKind("resistive", ResistiveOptions, _build,
                                 "a deep resistive network with diodes, its steady state solved exactly, "
                                 "conductances from a crossbar card's device"))
