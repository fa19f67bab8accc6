"""The crossbar substrate: a trained network computed on emulated resistive crossbars.

Pieces (one job each):

* :mod:`.common`: the card, the programmed matrices and their reads, the cost (both paths);
* :mod:`.ebm`: a layered EBM settling on the arrays (Numba fused settle or torch reads);
* :mod:`.feedforward`: a one-pass network's ``nn.Linear`` / ``nn.Conv2d`` layers on the arrays;
* :mod:`.programmed`, :mod:`.reads`, :mod:`.fused_settle`, :mod:`.cost`: the arrays of a
  network, the differentiable torch read, the Numba settling kernel, energy and latency;
* :mod:`.conv_pack`, :mod:`.conv_kernels`, :mod:`.conv_settle`: the same Numba settling for
  convolutional EBMs (kernels read on unfolded patches).

    from analogeq.substrates import build_substrate
    sub = build_substrate("crossbar", model, card="pcm", drift_time_s=3600.0, seed=0)
    scores = sub.logits(x)          # one draw of the read noise
    sub.cost()                      # energy and latency per inference (mean of the inferences run)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analogeq.substrates.crossbar.common import DEFAULT_CARD, CrossbarSubstrate, check_crossbar_card
from analogeq.substrates.crossbar.ebm import BACKENDS, SETTLE_MODES, CrossbarEBMSubstrate, CrossbarSettle
from analogeq.substrates.crossbar.feedforward import CrossbarFeedForwardSubstrate
from analogeq.substrates.registry import CardOptions, SubstrateKind, device_option, register_substrate, validate_options
from hardware_models.params import Integer, OneOf, Real

__all__ = [
    "BACKENDS",
    "CrossbarEBMSubstrate",
    "CrossbarFeedForwardSubstrate",
    "CrossbarOptions",
    "CrossbarSettle",
    "CrossbarSubstrate",
    "DEFAULT_CARD",
    "SETTLE_MODES",
]

_CONSTRAINTS = {
    "card": lambda field, value: check_crossbar_card(value),
    "drift_time_s": Real(minimum=0.0),
    "seed": Integer(minimum=0),
    "settle_mode": OneOf(SETTLE_MODES),
    "dt_over_tau": Real(minimum=0.0, maximum=2.0, exclusive_minimum=True),
    "backend": OneOf(BACKENDS),
    "max_tiles": Integer(minimum=1),
    "device": device_option,
}


@dataclass(frozen=True)
class CrossbarOptions(CardOptions):
    """Options of the crossbar substrate (meanings in :class:`CrossbarSubstrate` and
    :class:`CrossbarEBMSubstrate`). ``card`` is resolved when the options are made: a card
    object, a card file path (wins), a preset name, or a card dict."""

    card: Any = DEFAULT_CARD
    drift_time_s: float = 3600.0
    seed: int = 0
    settle_mode: str = "discrete"
    dt_over_tau: float = 0.25
    backend: str = "auto"
    max_tiles: int | None = None
    device: Any = "cpu"

    def __post_init__(self) -> None:
        validate_options(self, _CONSTRAINTS)


def _build(model: Any, o: CrossbarOptions) -> CrossbarSubstrate:
    return CrossbarSubstrate(model, o.card, drift_time_s=o.drift_time_s, seed=o.seed, settle_mode=o.settle_mode,
                             dt_over_tau=o.dt_over_tau, backend=o.backend, max_tiles=o.max_tiles, device=o.device)


register_substrate(SubstrateKind("crossbar", CrossbarOptions, _build,
                                 "weight matrices on emulated resistive crossbar arrays from a device card"))
