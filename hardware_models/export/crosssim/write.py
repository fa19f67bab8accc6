"""A crossbar card to CrossSim's JSON parameters (the mapping is in the docstring of
:mod:`hardware_models.export.crosssim`)."""

from __future__ import annotations

import logging
import math
from typing import Any

from hardware_models.cards import CrossbarCard
from hardware_models.devices import IdealDevice, PCMDevice

from ..foreign import check_card, refuse_or_log_losses
from .fields import JOSHI_G_MAX_LIMIT_S, REL_TOL, joshi_coeffs_rel

logger = logging.getLogger(__name__)


def _programming_error(card: CrossbarCard) -> tuple[dict[str, Any], list[str]]:
    """CrossSim ``programming_error`` block of the card's device and the losses it implies."""
    device = card.device
    off = {"enable": False, "model": "IdealDevice", "magnitude": 0.0}
    if isinstance(device, IdealDevice):
        return off, []
    if not isinstance(device, PCMDevice):
        return off, [f"device.kind {device.kind!r}: CrossSim parameters express only ideal devices and "
                     "polynomial programming errors (PCMJoshi, normal independent/proportional)"]
    losses = []
    if device.drift_scale > 0:
        losses.append(f"device.drift_scale = {device.drift_scale!r}: CrossSim's PCM model has no drift")
    if device.read_noise_scale > 0:
        losses.append(f"device.read_noise_scale = {device.read_noise_scale!r}: CrossSim has no PCM 1/f read noise")
    p = device.prog_noise_coeffs
    scale = device.programming_noise_scale
    if scale == 0.0 or not any(p):
        return off, losses
    joshi = joshi_coeffs_rel(device.g_max_S)
    if len(p) == 3 and all(math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-15) for a, b in zip(p, joshi)):
        if scale != 1.0:
            losses.append(f"device.programming_noise_scale = {scale!r}: CrossSim's PCMJoshi model has no scale")
        elif device.g_max_S > JOSHI_G_MAX_LIMIT_S * (1 + REL_TOL):
            losses.append(f"device.g_max_S = {device.g_max_S!r}: CrossSim's PCMJoshi needs g_max <= 25 uS")
        else:
            return {"enable": True, "model": "PCMJoshi", "magnitude": 0.0}, losses
        return off, losses
    trailing = list(p)
    while len(trailing) > 1 and trailing[-1] == 0.0:
        trailing.pop()
    if len(trailing) == 1 and trailing[0] > 0:
        return {"enable": True, "model": "NormalIndependentDevice", "magnitude": scale * trailing[0]}, losses
    if len(trailing) == 2 and trailing[0] == 0.0 and trailing[1] > 0:
        return {"enable": True, "model": "NormalProportionalDevice", "magnitude": scale * trailing[1]}, losses
    losses.append(
        f"device.prog_noise_coeffs = {list(p)!r}: CrossSim expresses only the Joshi fit, a constant (p_0,) "
        "or a proportional (0, p_1) programming error"
    )
    return off, losses


def crosssim_losses(card: CrossbarCard) -> list[str]:
    """What of ``card`` CrossSim's parameters cannot express (each a sentence)."""
    check_card(card)
    _, losses = _programming_error(card)
    n = card.levels.n_levels
    if n is not None and (n & (n - 1)) != 0:
        losses.append(f"levels.n_levels = {n}: CrossSim programs 2**cell_bits levels")
    if card.faults.any:
        losses.append("faults: CrossSim parameters have no stuck-at cells")
    for name in ("r_source_ohm", "r_sense_ohm"):
        value = getattr(card.wires, name)
        if value > 0:
            losses.append(f"wires.{name} = {value!r}: CrossSim 3.0 parameters have no driver/sense resistance")
    if card.adc.range_calibration != "fixed":
        losses.append(f"adc.range_calibration = {card.adc.range_calibration!r}: CrossSim's calibrated_range is one "
                      "range for every array (written: range_units)")
    if card.tia.noise_units > 0:
        losses.append(f"tia.noise_units = {card.tia.noise_units!r}: CrossSim parameters have no additive output noise")
    for name in ("dac", "adc"):
        if getattr(card, name).bits == 1:
            losses.append(f"{name}.bits = 1: a 1-bit signed mid-tread converter has no level besides 0")
    return losses


def card_to_crosssim(card: CrossbarCard, *, allow_loss: bool = False, rp_normalized: bool = True) -> dict[str, Any]:
    """CrossSim parameter tree of ``card`` (package docstring). Raises ValueError listing every
    loss unless ``allow_loss``. ``rp_normalized``: write Rp_row/Rp_col divided by Rmin (CrossSim
    3.0's convention) or in ohms."""
    losses = crosssim_losses(card)
    refuse_or_log_losses(
        losses, allow_loss=allow_loss, rest="write the rest",
        refusal=f"card {card.name!r} cannot be written as CrossSim parameters without loss: ",
        log=lambda loss: logger.warning("CrossSim export of %r drops %s", card.name, loss),
    )
    device = card.device
    prog, _ = _programming_error(card)
    r_min = 1.0 / device.g_max_S
    ideal_error = {"enable": False, "model": "IdealDevice", "magnitude": 0.0}
    xdevice: dict[str, Any] = {
        "cell_bits": _cell_bits(card.levels.n_levels),
        "Rmin": r_min,
        "infinite_on_off_ratio": device.g_min_S == 0.0,
        "time": 0,
        "clip_conductance": False,
        "read_noise": dict(ideal_error),
        "programming_error": prog,
        "drift_error": dict(ideal_error),
    }
    if device.g_min_S > 0.0:
        xdevice["Rmax"] = 1.0 / device.g_min_S
    norm = r_min if rp_normalized else 1.0
    rp_row = card.wires.r_row_segment_ohm / norm
    rp_col = card.wires.r_col_segment_ohm / norm

    def converter(kind: str, bits: int | None, adc_range: float | None = None) -> dict[str, Any]:
        if bits is None or bits < 2:
            block: dict[str, Any] = {"model": f"Ideal{kind}", "bits": 0, "signed": True}
            if kind == "ADC":
                block.update({"calibrated_range": None, "adc_range_option": "CALIBRATED"})
            return block
        block = {"model": f"SignMagnitude{kind}", "bits": bits, "signed": True}
        if kind == "ADC":
            block.update({"calibrated_range": [-adc_range, adc_range], "adc_range_option": "CALIBRATED"})
        return block

    adc_range = card.adc.range_units * (device.g_max_S - device.g_min_S) / device.g_max_S
    adc = converter("ADC", card.adc.bits, adc_range)
    dac = converter("DAC", card.dac.bits)
    w_max = card.mapping.w_max
    weights = (
        {"clipping": True, "min": None, "max": None, "percentile": 1.0}
        if w_max is None
        else {"clipping": True, "min": -w_max, "max": w_max, "percentile": None}
    )
    inputs = {"clipping": True, "min": -1.0, "max": 1.0, "percentile": None}
    return {
        "core": {
            "style": "BALANCED",
            "rows_max": card.tile.max_cols,
            "cols_max": card.tile.max_rows,
            "weight_bits": 0,
            "balanced": {"style": "ONE_SIDED", "subtract_current_in_xbar": True},
            "mapping": {"weights": weights, "inputs": {"_match": True, "mvm": dict(inputs), "vmm": dict(inputs)}},
        },
        "xbar": {
            "device": xdevice,
            "array": {"Icol_max": 0, "parasitics": {"enable": bool(rp_row > 0 or rp_col > 0), "Rp_row": rp_row, "Rp_col": rp_col}},
            "adc": {"_match": True, "mvm": adc, "vmm": dict(adc)},
            "dac": {"_match": True, "mvm": dac, "vmm": dict(dac)},
        },
    }


def _cell_bits(n_levels: int | None) -> int:
    if n_levels is None:
        return 0
    if n_levels & (n_levels - 1):
        return 0  # not a power of two: a listed loss, written as continuous
    return n_levels.bit_length() - 1
