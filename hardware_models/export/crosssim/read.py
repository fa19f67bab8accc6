"""CrossSim's JSON parameters (the tree of :func:`~hardware_models.export.crosssim.card_to_crosssim`,
or CrossSim's own ``to_json``) back into a crossbar card; fields CrossSim does not describe come
from a base card."""

from __future__ import annotations

import logging
import math
from typing import Any

from hardware_models.cards import CrossbarCard, card_from_dict
from hardware_models.devices import PCMDevice
from hardware_models.params import check_bool, check_float, check_int

from ..foreign import NO_FAULTS, base_card_dict, ideal_device_dict, refuse_or_log_losses, refuse_other_formats, require_mapping
from .fields import CROSSSIM_DEFAULTS, JOSHI_G_MAX_LIMIT_S, PROGRAMMING_MODELS, REL_TOL, joshi_coeffs_rel

logger = logging.getLogger(__name__)


def crosssim_to_card(
    data: Any, *, base: CrossbarCard | None = None, name: str | None = None, allow_loss: bool = False,
    rp_normalized: bool = True,
) -> CrossbarCard:
    """A card from a CrossSim parameter tree (the layout of :func:`card_to_crosssim`, or
    CrossSim's own ``to_json``). Keys left out take CrossSim's defaults; fields CrossSim does not
    describe come from ``base`` (default: the ``pcm-crosssim`` preset). Settings the card
    cannot express (read noise, drift, other core styles or ADC models ...) raise ValueError
    naming the key unless ``allow_loss`` (then they are logged and ignored)."""
    require_mapping(data, "$")
    unknown = sorted(set(data) - {"core", "xbar", "simulation"})
    refuse_other_formats(data, "crosssim")
    if unknown:
        raise ValueError(f"$: unknown key(s) {unknown}; a CrossSim parameter file has 'core', 'xbar', 'simulation'")
    if "xbar" not in data:
        raise ValueError("$.xbar: missing; this is not a CrossSim parameter file (needs 'xbar' with 'device')")
    xbar = require_mapping(data["xbar"], "$.xbar")
    if "device" not in xbar:
        raise ValueError("$.xbar.device: missing; this is not a CrossSim parameter file")
    out = base_card_dict(base, "pcm-crosssim", name)
    problems: list[str] = []

    dev = require_mapping(xbar["device"], "$.xbar.device")
    r_min = check_float("$.xbar.device.Rmin", dev.get("Rmin", CROSSSIM_DEFAULTS["Rmin"]))
    if r_min <= 0:
        raise ValueError(f"$.xbar.device.Rmin: {r_min!r} must be > 0 ohm")
    g_max = 1.0 / r_min
    if check_bool("$.xbar.device.infinite_on_off_ratio", dev.get("infinite_on_off_ratio", False)):
        g_min = 0.0
    else:
        r_max = check_float("$.xbar.device.Rmax", dev.get("Rmax", CROSSSIM_DEFAULTS["Rmax"]))
        if r_max <= r_min:
            raise ValueError(f"$.xbar.device.Rmax: {r_max!r} must be > Rmin = {r_min!r} ohm")
        g_min = 1.0 / r_max
    cell_bits = check_int("$.xbar.device.cell_bits", dev.get("cell_bits", 0))
    out["levels"] = {"n_levels": (1 << cell_bits) if cell_bits > 0 else None}
    if check_float("$.xbar.device.time", dev.get("time", 0)) != 0:
        problems.append(f"$.xbar.device.time = {dev['time']!r}: drift time of CrossSim's drift models")
    for key in ("read_noise", "drift_error"):
        block = require_mapping(dev.get(key, {}), f"$.xbar.device.{key}")
        if check_bool(f"$.xbar.device.{key}.enable", block.get("enable", False)) and block.get("model", "IdealDevice") != "IdealDevice":
            problems.append(f"$.xbar.device.{key}.model = {block.get('model')!r}: CrossSim's {key.replace('_', ' ')} has no card equivalent")
    prog = require_mapping(dev.get("programming_error", {}), "$.xbar.device.programming_error")
    model = prog.get("model", "IdealDevice") if check_bool("$.xbar.device.programming_error.enable", prog.get("enable", False)) else "IdealDevice"
    if model not in PROGRAMMING_MODELS:
        raise ValueError(f"$.xbar.device.programming_error.model: {model!r}; supported: {list(PROGRAMMING_MODELS)}")
    if model == "IdealDevice":
        out["device"] = ideal_device_dict(g_min, g_max)
    else:
        if model == "PCMJoshi":
            if g_max > JOSHI_G_MAX_LIMIT_S * (1 + REL_TOL):
                raise ValueError(f"$.xbar.device.Rmin: {r_min!r} ohm gives Gmax > 25 uS, which CrossSim's PCMJoshi refuses")
            coeffs = list(joshi_coeffs_rel(g_max))
        else:
            magnitude = check_float("$.xbar.device.programming_error.magnitude", prog.get("magnitude", 0.0))
            if magnitude < 0:
                raise ValueError(f"$.xbar.device.programming_error.magnitude: {magnitude!r} must be >= 0")
            coeffs = [magnitude] if model == "NormalIndependentDevice" else [0.0, magnitude]
        pcm = PCMDevice(g_min_S=g_min, g_max_S=g_max, prog_noise_coeffs=tuple(coeffs), read_noise_scale=0.0, drift_scale=0.0)
        out["device"] = pcm.to_dict()

    array = require_mapping(xbar.get("array", {}), "$.xbar.array")
    if check_float("$.xbar.array.Icol_max", array.get("Icol_max", 0)) > 0:
        problems.append(f"$.xbar.array.Icol_max = {array['Icol_max']!r}: column current clipping")
    par = require_mapping(array.get("parasitics", {}), "$.xbar.array.parasitics")
    wires = {"r_row_segment_ohm": 0.0, "r_col_segment_ohm": 0.0, "r_source_ohm": 0.0, "r_sense_ohm": 0.0}
    if check_bool("$.xbar.array.parasitics.enable", par.get("enable", False)):
        norm = r_min if rp_normalized else 1.0
        wires["r_row_segment_ohm"] = check_float("$.xbar.array.parasitics.Rp_row", par.get("Rp_row", 0.0)) * norm
        wires["r_col_segment_ohm"] = check_float("$.xbar.array.parasitics.Rp_col", par.get("Rp_col", 0.0)) * norm
        if check_bool("$.xbar.array.parasitics.gate_input", par.get("gate_input", False)):
            problems.append("$.xbar.array.parasitics.gate_input = true: gated inputs")
    out["wires"] = wires

    out["dac"]["bits"] = _converter_bits(xbar.get("dac", {}), "DAC", "$.xbar.dac", problems)[0]
    adc_bits, adc_block = _converter_bits(xbar.get("adc", {}), "ADC", "$.xbar.adc", problems)
    out["adc"]["bits"] = adc_bits
    if adc_bits is not None:
        option = adc_block.get("adc_range_option", "CALIBRATED")
        if option not in ("CALIBRATED", 1):
            raise ValueError(f"$.xbar.adc.mvm.adc_range_option: {option!r}; only 'CALIBRATED' maps to a card's range_units")
        rng = adc_block.get("calibrated_range")
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise ValueError(f"$.xbar.adc.mvm.calibrated_range: {rng!r} must be [min, max]")
        lo = check_float("$.xbar.adc.mvm.calibrated_range[0]", rng[0])
        hi = check_float("$.xbar.adc.mvm.calibrated_range[1]", rng[1])
        if hi <= 0 or not math.isclose(lo, -hi, rel_tol=REL_TOL):
            raise ValueError(f"$.xbar.adc.mvm.calibrated_range: {[lo, hi]!r} must be symmetric, [-R, R] with R > 0")
        out["adc"]["range_units"] = hi * g_max / (g_max - g_min)
    out["tia"]["noise_units"] = 0.0

    core = require_mapping(data.get("core", {}), "$.core")
    if core.get("style", "BALANCED") not in ("BALANCED", 1):
        problems.append(f"$.core.style = {core['style']!r}: only BALANCED (differential pairs) maps to the card")
    balanced = require_mapping(core.get("balanced", {}), "$.core.balanced")
    if balanced.get("style", "ONE_SIDED") not in ("ONE_SIDED", 1):
        problems.append(f"$.core.balanced.style = {balanced['style']!r}: only ONE_SIDED maps to the card")
    if core.get("weight_bits", 0) not in (0, None):
        problems.append(f"$.core.weight_bits = {core['weight_bits']!r}: weight quantisation before mapping")
    out["tile"] = {
        "max_rows": core.get("cols_max", CROSSSIM_DEFAULTS["cols_max"]),
        "max_cols": core.get("rows_max", CROSSSIM_DEFAULTS["rows_max"]),
    }
    mapping = require_mapping(core.get("mapping", {}), "$.core.mapping")
    weights = require_mapping(mapping.get("weights", {}), "$.core.mapping.weights")
    w_min, w_max, pct = weights.get("min"), weights.get("max"), weights.get("percentile", 1.0)
    if w_max is not None:
        w_max = check_float("$.core.mapping.weights.max", w_max)
        if w_min is None or not math.isclose(check_float("$.core.mapping.weights.min", w_min), -w_max, rel_tol=REL_TOL):
            problems.append(f"$.core.mapping.weights min/max = {w_min!r}/{w_max!r}: only a symmetric range maps to w_max")
        out["mapping"] = {"w_max": w_max}
    else:
        if pct not in (None, 1.0, 1):
            problems.append(f"$.core.mapping.weights.percentile = {pct!r}: percentile clipping of weights")
        out["mapping"] = {"w_max": None}

    refuse_or_log_losses(
        problems, allow_loss=allow_loss, rest="import the rest",
        refusal="CrossSim parameters the card cannot express: ",
        log=lambda problem: logger.warning("CrossSim import ignores %s", problem),
    )
    out["faults"] = dict(NO_FAULTS)
    return card_from_dict(out)


def _converter_bits(section: Any, kind: str, path: str, problems: list[str]) -> tuple[int | None, dict[str, Any]]:
    section = require_mapping(section, path)
    block = require_mapping(section.get("mvm", {}), f"{path}.mvm")
    if "vmm" in section and section.get("_match", True) is False and section["vmm"] != block:
        problems.append(f"{path}.vmm differs from {path}.mvm: the card has one {kind} for both directions")
    model = block.get("model", f"Ideal{kind}")
    bits = check_int(f"{path}.mvm.bits", block.get("bits", 0))
    if model == f"Ideal{kind}" or bits <= 0:
        return None, block
    if model != f"SignMagnitude{kind}":
        problems.append(f"{path}.mvm.model = {model!r}: only SignMagnitude{kind} (signed mid-tread) maps to the card")
    if bits < 2:
        raise ValueError(f"{path}.mvm.bits: {bits} bit(s) has no level besides 0 in a signed mid-tread converter")
    return bits, block
