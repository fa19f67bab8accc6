"""A crossbar card to aihwkit's inference parameters (the mapping is in the docstring of
:mod:`hardware_models.export.aihwkit`)."""

from __future__ import annotations

import logging
from typing import Any

from hardware_models.cards import CrossbarCard
from hardware_models.devices import IdealDevice, PCMDevice

from ..foreign import check_card, refuse_or_log_losses
from .fields import AIHWKIT_PCM_CONSTANTS, DRIFT_COMPENSATION, FORMAT_NAME, FORMAT_VERSION, bits_to_res, uS

logger = logging.getLogger(__name__)


def aihwkit_losses(card: CrossbarCard) -> list[str]:
    """What of ``card`` aihwkit's inference configuration cannot express (each a sentence)."""
    check_card(card)
    losses: list[str] = []
    device = card.device
    if not isinstance(device, (PCMDevice, IdealDevice)):
        losses.append(
            f"device.kind {device.kind!r}: aihwkit's PCMLikeNoiseModel describes pcm (or, with scales 0, ideal) devices only"
        )
    if isinstance(device, PCMDevice):
        if len(device.prog_noise_coeffs) < 1:
            losses.append("device.prog_noise_coeffs is empty")
        for name, value in AIHWKIT_PCM_CONSTANTS.items():
            if getattr(device, name) != value:
                losses.append(
                    f"device.{name} = {getattr(device, name)!r}: aihwkit hard-codes {value!r} (kept in noise_model.pcm_constants, unused by aihwkit)"
                )
    if card.levels.n_levels is not None:
        losses.append(f"levels.n_levels = {card.levels.n_levels}: aihwkit's inference tile has continuous conductances")
    if card.faults.any:
        losses.append("faults: aihwkit's inference noise model has no stuck-at cells")
    if not card.wires.ideal:
        losses.append("wires: aihwkit has no exact IR-drop model of wire segments and driver/sense resistances")
    if card.mapping.w_max is not None:
        losses.append(f"mapping.w_max = {card.mapping.w_max!r}: aihwkit maps each matrix's max |W| to g_max")
    if card.adc.bits is None:
        losses.append("adc.bits = None: the card's ideal ADC never clips; aihwkit clips at out_bound")
    if card.adc.range_calibration != "fixed":
        losses.append(f"adc.range_calibration = {card.adc.range_calibration!r}: aihwkit's out_bound is one fixed "
                      "range for every tile (written: range_units)")
    for name in ("dac", "adc"):
        if getattr(card, name).bits == 1:
            losses.append(f"{name}.bits = 1: a 1-bit signed mid-tread converter has no aihwkit resolution")
    return losses


def card_to_aihwkit(card: CrossbarCard, *, allow_loss: bool = False) -> dict[str, Any]:
    """The aihwkit-style dict of ``card`` (package docstring). Raises ValueError listing every
    loss (:func:`aihwkit_losses`) unless ``allow_loss``, in which case they are logged and the
    representable part is written."""
    losses = aihwkit_losses(card)
    refuse_or_log_losses(
        losses, allow_loss=allow_loss, rest="write the rest",
        refusal=f"card {card.name!r} cannot be written as aihwkit parameters without loss: ",
        log=lambda loss: logger.warning("aihwkit export of %r drops %s", card.name, loss),
    )
    if not isinstance(card.device, (PCMDevice, IdealDevice)):
        raise ValueError(f"device.kind {card.device.kind!r} has no aihwkit noise model, even with allow_loss")
    device = card.device
    g_max_uS = device.g_max_S * uS
    if isinstance(device, PCMDevice):
        pcm = device
        scales = (device.programming_noise_scale, device.read_noise_scale, device.drift_scale)
    else:  # ideal: aihwkit's model with every scale 0 is noiseless
        pcm = PCMDevice(g_min_S=device.g_min_S, g_max_S=device.g_max_S)
        scales = (0.0, 0.0, 0.0)
    dac_bits = card.dac.bits if card.dac.bits != 1 else None
    adc_bits = card.adc.bits if card.adc.bits != 1 else None
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "card_name": card.name,
        "device_kind": device.kind,
        "forward": {
            "inp_bound": 1.0,
            "inp_res": bits_to_res(dac_bits, "dac.bits"),
            "out_bound": card.adc.range_units,
            "out_res": bits_to_res(adc_bits, "adc.bits"),
            "out_noise": card.tia.noise_units,
        },
        "mapping": {"max_input_size": card.tile.max_rows, "max_output_size": card.tile.max_cols},
        "noise_model": {
            "class": "PCMLikeNoiseModel",
            "g_converter": {
                "class": "SinglePairConductanceConverter",
                "g_max": g_max_uS,
                "g_min": device.g_min_S * uS,
            },
            "prog_coeff": [p * g_max_uS for p in pcm.prog_noise_coeffs],
            "t_read": pcm.t_read_s,
            "t_0": pcm.t0_s,
            "prog_noise_scale": scales[0],
            "read_noise_scale": scales[1],
            "drift_scale": scales[2],
            "pcm_constants": {
                "nu_mean": {
                    "slope": pcm.nu_mean_log_coeffs[0],
                    "offset": pcm.nu_mean_log_coeffs[1],
                    "min": pcm.nu_mean_range[0],
                    "max": pcm.nu_mean_range[1],
                },
                "nu_std": {
                    "slope": pcm.nu_std_log_coeffs[0],
                    "offset": pcm.nu_std_log_coeffs[1],
                    "min": pcm.nu_std_range[0],
                    "max": pcm.nu_std_range[1],
                },
                "read_noise_q": {
                    "q0": pcm.read_noise_q0,
                    "exponent": pcm.read_noise_q_exponent,
                    "q_max": pcm.read_noise_q_max,
                },
            },
        },
        "drift_compensation": DRIFT_COMPENSATION[card.drift_compensation],
    }
