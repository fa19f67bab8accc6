"""One entry point for programming an array: finite levels -> device programming -> faults."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_rng, check_target_in_range
from .base import DeviceModel, ProgrammedConductances
from .faults import StuckAtFaults
from .levels import ConductanceLevels


def program_conductances(
    source: Any,
    g_target: np.ndarray,
    rng: np.random.Generator,
    *,
    levels: ConductanceLevels | None = None,
    faults: StuckAtFaults | None = None,
) -> ProgrammedConductances:
    """Program target conductances ``g_target`` [S] (any shape, values in [g_min_S, g_max_S]).

    ``source`` is either a card (any object with ``device``, ``levels`` and ``faults``
    attributes, e.g. :class:`hardware_models.cards.CrossbarCard`) or a bare device model, in
    which case ``levels`` and ``faults`` may be given as keywords (default: continuous, no
    faults). Steps, in this order:

    1. targets quantised to the finite levels (if ``levels.n_levels`` is set);
    2. ``device.program(g, rng)`` (programming noise, drift exponents, relaxation amplitudes);
    3. stuck-at faults drawn and applied (stuck cells at g_min/g_max, no drift, no updates).

    Same ``rng`` state, same result. Raises ValueError for NaN/inf or out-of-range targets.
    """
    if all(hasattr(source, name) for name in ("device", "levels", "faults")):
        if levels is not None or faults is not None:
            raise TypeError("program_conductances: pass levels/faults only with a bare device, not with a card")
        device, levels, faults = source.device, source.levels, source.faults
    elif isinstance(source, DeviceModel):
        device = source
    else:
        raise TypeError(
            "program_conductances: source must be a card (with device, levels, faults) or a device model, "
            f"got {type(source).__name__}"
        )
    check_rng(rng)
    g = check_target_in_range(g_target, device.g_min_S, device.g_max_S, f"program_conductances({device.kind})")
    if levels is not None:
        g = levels.quantise(g, device.g_min_S, device.g_max_S)
    programmed = device.program(g, rng)
    if faults is not None:
        programmed = faults.apply(programmed, rng)
    return programmed
