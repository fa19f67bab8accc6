"""aihwkit's inference parameters (the dict of :func:`~hardware_models.export.aihwkit.card_to_aihwkit`)
back into a crossbar card; fields aihwkit does not describe come from a base card."""

from __future__ import annotations

from typing import Any

from hardware_models.cards import CrossbarCard, card_from_dict
from hardware_models.params import check_float

from ..foreign import NO_FAULTS, base_card_dict, ideal_device_dict, known_keys, refuse_other_formats, require_mapping
from .fields import (
    AIHWKIT_PCM_CONSTANTS,
    FORMAT_NAME,
    FORWARD_KEYS,
    MAPPING_KEYS,
    NOISE_KEYS,
    PCM_CONSTANT_KEYS,
    TOP_KEYS,
    res_to_bits,
    uS,
)


def aihwkit_to_card(data: Any, *, base: CrossbarCard | None = None, name: str | None = None) -> CrossbarCard:
    """A card from an aihwkit-style dict (the layout of :func:`card_to_aihwkit`).

    Fields aihwkit does not describe come from ``base`` (default: the ``pcm`` preset). The
    ``pcm_constants`` block and ``device_kind`` are optional (default: aihwkit's constants, pcm).
    Raises ValueError/TypeError naming the key for a dict of the wrong kind or bad values.
    """
    require_mapping(data, "$")
    if "format" in data and data["format"] != FORMAT_NAME:
        raise ValueError(f"$.format: {data['format']!r} is not {FORMAT_NAME!r}; this is not an aihwkit parameter dict")
    refuse_other_formats(data, "aihwkit")
    known_keys(data, TOP_KEYS, "$")
    for key in ("forward", "mapping", "noise_model"):
        if key not in data:
            raise ValueError(f"$.{key}: missing; an aihwkit parameter dict has sections {list(TOP_KEYS[3:])}")
    out = base_card_dict(base, "pcm", name)
    if name is None and isinstance(data.get("card_name"), str) and data["card_name"]:
        out["name"] = data["card_name"]

    forward = require_mapping(data["forward"], "$.forward")
    known_keys(forward, FORWARD_KEYS, "$.forward")
    for key in FORWARD_KEYS:
        if key not in forward:
            raise ValueError(f"$.forward.{key}: missing (needed: {list(FORWARD_KEYS)})")
    if check_float("$.forward.inp_bound", forward["inp_bound"]) != 1.0:
        raise ValueError(
            f"$.forward.inp_bound: {forward['inp_bound']!r}; the card's inputs span [-1, 1] (+-v_read_V), so only 1.0 maps"
        )
    out["dac"]["bits"] = res_to_bits(forward["inp_res"], "$.forward.inp_res")
    out["adc"]["bits"] = res_to_bits(forward["out_res"], "$.forward.out_res")
    out["adc"]["range_units"] = check_float("$.forward.out_bound", forward["out_bound"])
    out["tia"]["noise_units"] = check_float("$.forward.out_noise", forward["out_noise"])

    mapping = require_mapping(data["mapping"], "$.mapping")
    known_keys(mapping, MAPPING_KEYS, "$.mapping")
    for key in MAPPING_KEYS:
        if key not in mapping:
            raise ValueError(f"$.mapping.{key}: missing (needed: {list(MAPPING_KEYS)})")
    out["tile"] = {"max_rows": mapping["max_input_size"], "max_cols": mapping["max_output_size"]}
    out["mapping"] = {"w_max": None}

    comp = data.get("drift_compensation", "GlobalDriftCompensation")
    if comp == "GlobalDriftCompensation":
        out["drift_compensation"] = "global"
    elif comp is None:
        out["drift_compensation"] = "none"
    else:
        raise ValueError(f"$.drift_compensation: {comp!r}; allowed: 'GlobalDriftCompensation' or null")

    kind = data.get("device_kind", "pcm")
    if kind not in ("pcm", "ideal"):
        raise ValueError(f"$.device_kind: {kind!r}; allowed: 'pcm', 'ideal'")
    out["device"] = _device_from_noise_model(data["noise_model"], kind)
    # aihwkit has neither finite levels, stuck cells nor wire resistance
    out["levels"] = {"n_levels": None}
    out["faults"] = dict(NO_FAULTS)
    out["wires"] = {k: 0.0 for k in out["wires"]}
    return card_from_dict(out)


def _device_from_noise_model(nm: Any, kind: str) -> dict[str, Any]:
    nm = require_mapping(nm, "$.noise_model")
    known_keys(nm, NOISE_KEYS, "$.noise_model")
    if nm.get("class", "PCMLikeNoiseModel") != "PCMLikeNoiseModel":
        raise ValueError(f"$.noise_model.class: {nm['class']!r}; only 'PCMLikeNoiseModel' maps to a card")
    conv = require_mapping(nm.get("g_converter"), "$.noise_model.g_converter")
    known_keys(conv, ("class", "g_max", "g_min"), "$.noise_model.g_converter")
    if conv.get("class", "SinglePairConductanceConverter") != "SinglePairConductanceConverter":
        raise ValueError(
            f"$.noise_model.g_converter.class: {conv['class']!r}; only 'SinglePairConductanceConverter' maps to a card"
        )
    if "g_max" not in conv:
        raise ValueError("$.noise_model.g_converter.g_max: missing (uS)")
    g_max_uS = check_float("$.noise_model.g_converter.g_max", conv["g_max"])
    g_min_uS = check_float("$.noise_model.g_converter.g_min", conv.get("g_min", 0.0))
    if kind == "ideal":
        return ideal_device_dict(g_min_uS / uS, g_max_uS / uS)
    for key in ("prog_coeff", "t_read", "t_0", "prog_noise_scale", "read_noise_scale", "drift_scale"):
        if key not in nm:
            raise ValueError(f"$.noise_model.{key}: missing")
    coeffs = nm["prog_coeff"]
    if not isinstance(coeffs, (list, tuple)) or not coeffs:
        raise TypeError(f"$.noise_model.prog_coeff: {coeffs!r} must be a non-empty list of numbers (uS)")
    if "prog_coeff_g_max_reference" in nm:  # older exports; aihwkit's default is g_max
        ref = check_float("$.noise_model.prog_coeff_g_max_reference", nm["prog_coeff_g_max_reference"])
        if ref <= 0:
            raise ValueError(f"$.noise_model.prog_coeff_g_max_reference: {ref!r} must be > 0 (uS)")
    else:  # a bad g_max is reported by the card's own check (g_max_S)
        ref = g_max_uS if g_max_uS > 0 else 1.0
    device: dict[str, Any] = {
        "kind": "pcm",
        "g_min_S": g_min_uS / uS,
        "g_max_S": g_max_uS / uS,
        "prog_noise_coeffs": [check_float(f"$.noise_model.prog_coeff[{i}]", c) / ref for i, c in enumerate(coeffs)],
        "t0_s": check_float("$.noise_model.t_0", nm["t_0"]),
        "t_read_s": check_float("$.noise_model.t_read", nm["t_read"]),
        "programming_noise_scale": check_float("$.noise_model.prog_noise_scale", nm["prog_noise_scale"]),
        "read_noise_scale": check_float("$.noise_model.read_noise_scale", nm["read_noise_scale"]),
        "drift_scale": check_float("$.noise_model.drift_scale", nm["drift_scale"]),
    }
    constants = {k: list(v) if isinstance(v, tuple) else v for k, v in AIHWKIT_PCM_CONSTANTS.items()}
    if "pcm_constants" in nm:
        pc = require_mapping(nm["pcm_constants"], "$.noise_model.pcm_constants")
        known_keys(pc, PCM_CONSTANT_KEYS, "$.noise_model.pcm_constants")
        for key, prefix in (("nu_mean", "nu_mean"), ("nu_std", "nu_std")):
            if key in pc:
                block = require_mapping(pc[key], f"$.noise_model.pcm_constants.{key}")
                path = f"$.noise_model.pcm_constants.{key}"
                known_keys(block, ("slope", "offset", "min", "max"), path)
                values = {k: check_float(f"{path}.{k}", block[k]) for k in ("slope", "offset", "min", "max") if k in block}
                if len(values) != 4:
                    raise ValueError(f"{path}: needs slope, offset, min and max")
                constants[f"{prefix}_log_coeffs"] = [values["slope"], values["offset"]]
                constants[f"{prefix}_range"] = [values["min"], values["max"]]
        if "read_noise_q" in pc:
            path = "$.noise_model.pcm_constants.read_noise_q"
            block = require_mapping(pc["read_noise_q"], path)
            known_keys(block, ("q0", "exponent", "q_max"), path)
            for key, field in (("q0", "read_noise_q0"), ("exponent", "read_noise_q_exponent"), ("q_max", "read_noise_q_max")):
                if key in block:
                    constants[field] = check_float(f"{path}.{key}", block[key])
    device.update(constants)
    return device
