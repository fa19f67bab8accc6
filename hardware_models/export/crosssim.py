"""A crossbar card to and from CrossSim-style JSON parameters (no CrossSim needed).

Sandia's CrossSim reads a ``CrossSimParameters`` tree from JSON (``CrossSimParameters.from_json``;
keys ``core``, ``xbar``, ``simulation``; a missing key keeps CrossSim's default, an unknown key
is an error there). :func:`card_to_crosssim` writes only keys of that tree, so the file can be
given to CrossSim as it is; :func:`crosssim_to_card` reads such a tree (written by us or by
CrossSim's ``to_json``) back into a card.

How sure we are of each name: the names below were read from CrossSim 3.x sources (parameter
dataclasses, device and converter models). Marked **exact** where CrossSim's code computes the
same thing as the card; **approx.** where CrossSim's normalisation or topology differs from the
card's or where its versions disagree.

Field-by-field mapping (card field -> CrossSim key [unit])
---------------------------------------------------------
Device (``xbar.device``):

* ``device.g_max_S`` -> ``Rmin = 1 / g_max_S`` [ohm] (exact; CrossSim normalises conductances
  by Gmax = 1/Rmin).
* ``device.g_min_S`` -> ``Rmax = 1 / g_min_S`` [ohm], or ``infinite_on_off_ratio = true`` (and no
  Rmax) when g_min_S = 0 (exact).
* ``levels.n_levels`` n -> ``cell_bits = log2(n)`` (CrossSim programs 2**cell_bits evenly spaced
  levels between Gmin and Gmax, as the card does); n must be a power of two; None -> 0 (exact).
* Programming error ``programming_error {enable, model, magnitude}``, from a PCM card whose
  drift and read noise are off (``drift_scale = read_noise_scale = 0``):

  - ``model "PCMJoshi"`` (no magnitude) when ``prog_noise_coeffs`` is CrossSim's Joshi fit
    sigma_uS = -0.00178767 G^2 + 0.07585724 G + 0.28638599 (G in uS) written relative to this
    card's g_max, i.e. p = (0.28638599 / gm, 0.07585724, -0.00178767 gm) with gm = g_max in uS,
    ``programming_noise_scale = 1`` and g_max <= 25 uS (CrossSim refuses more) (exact);
  - ``model "NormalIndependentDevice"``, ``magnitude = programming_noise_scale * p_0`` when
    p = (p_0,): sigma = magnitude * g_max (exact);
  - ``model "NormalProportionalDevice"``, ``magnitude = programming_noise_scale * p_1`` when
    p = (0, p_1): sigma = magnitude * g (exact);
  - an ideal card -> ``model "IdealDevice"``, ``enable false``.

  Reading back, these become a PCM card with that polynomial, ``programming_noise_scale = 1``
  (the scale is folded into ``magnitude``) and drift and read noise off; IdealDevice everywhere
  gives an ideal device.
* ``read_noise`` and ``drift_error``: always ``IdealDevice`` (disabled). CrossSim's generic read
  noise (a fixed fraction of Gmax or of G, redrawn per MVM) and its drift models are not the
  card's PCM 1/f noise and power-law drift, so a card with either on is a loss, and a CrossSim
  file with either on is refused on import (unless ``allow_loss``).

Array (``xbar.array.parasitics``):

* ``wires.r_row_segment_ohm`` -> ``Rp_row = r / Rmin``, ``wires.r_col_segment_ohm`` ->
  ``Rp_col = r / Rmin``, ``enable`` = any nonzero (approx.: CrossSim 3.0's
  ``applications/mvm_params.py`` stores the wire resistance divided by Rmin and its solvers work
  in units of Rmin, while its parameter readme calls the value ohms; ``rp_normalized=False``
  writes ohms instead. CrossSim solves the same resistive network iteratively with
  under-relaxation; the position of drivers and sense amplifiers may differ from the card's.)
  Rows are the input lines in both (CrossSim's MVM with ``row_in``). ``r_source_ohm`` and
  ``r_sense_ohm`` have no CrossSim 3.0 key (a loss when nonzero).

Converters (``xbar.dac`` / ``xbar.adc``, ``mvm`` and ``vmm`` identical, ``_match true``):

* ``dac.bits`` b -> ``{"model": "SignMagnitudeDAC", "bits": b, "signed": true}``: 2**b - 1 levels
  over [-1, 1], step 1 / (2**(b-1) - 1), the card's DAC (exact); None -> ``IdealDAC``, bits 0.
  Inputs map [-1, 1] (``core.mapping.inputs.mvm {min: -1, max: 1, clipping: true}``); the
  card's ``dac.v_read_V`` is not carried (CrossSim is unitless).
* ``adc.bits`` b -> ``{"model": "SignMagnitudeADC", "bits": b, "signed": true,
  "adc_range_option": "CALIBRATED", "calibrated_range": [-R, R]}`` with
  ``R = range_units * (g_max - g_min) / g_max`` (approx.: the card's unit is one full-scale weight
  (g_max - g_min) at full input; we take CrossSim's ADC unit to be one cell at Gmax at full
  input, as its ``MAX`` range option, +-number of inputs, implies; equal when g_min = 0).
  None -> ``IdealADC`` (bits 0, no clipping) (exact).

Core (``core``): ``style "BALANCED"``, ``balanced.style "ONE_SIDED"`` (one conductance of the
pair at Gmin, as the card's differential pair), ``subtract_current_in_xbar true``;
``tile.max_cols`` -> ``rows_max`` and ``tile.max_rows`` -> ``cols_max`` (approx.: CrossSim's
matrix is (outputs x inputs), so its rows are our columns); ``mapping.w_max`` w ->
``core.mapping.weights {min: -w, max: w, clipping: true, percentile: null}``; None ->
``{min: null, max: null, percentile: 1.0}`` (max |W| of each matrix).

Not carried (from the ``base`` card on import, default the ``pcm-crosssim`` preset): name,
description, references, ``dac.v_read_V``, ``tia.gain_ohm``, ``drift_compensation``,
``timing``, ``neuron``, ``cost``, ``update``. Lost with a change of behaviour (export refuses
unless ``allow_loss=True``; :func:`crosssim_losses` lists them): PCM drift and 1/f read noise,
programming-noise polynomials other than the three above, RRAM and table devices, stuck-at
faults, a number of levels that is not a power of two, driver/sense resistances, TIA output
noise (``tia.noise_units``), 1-bit converters.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from hardware_models.cards import CrossbarCard, card_from_dict, preset
from hardware_models.devices import IdealDevice, PCMDevice

logger = logging.getLogger(__name__)

#: CrossSim's PCM_Joshi programming-error fit, sigma_uS = A G^2 + B G + C with G in uS (G <= 25 uS)
JOSHI_A, JOSHI_B, JOSHI_C = -0.00178767, 0.07585724, 0.28638599
JOSHI_G_MAX_LIMIT_S = 25e-6
#: CrossSim defaults used for keys a file leaves out (CrossSim 3.0 parameter classes / default.json)
CROSSSIM_DEFAULTS = {"Rmin": 1000.0, "Rmax": 10000.0, "rows_max": 1024, "cols_max": 1024}
PROGRAMMING_MODELS = ("IdealDevice", "PCMJoshi", "NormalIndependentDevice", "NormalProportionalDevice")
_REL_TOL = 1e-9


def joshi_coeffs_rel(g_max_S: float) -> tuple[float, float, float]:
    """CrossSim's Joshi polynomial as the card's ``prog_noise_coeffs`` (fractions of g_max in
    powers of x = g / g_max) for a device with this g_max [S]: (C/gm, B, A gm), gm in uS."""
    gm = g_max_S * 1e6
    return (JOSHI_C / gm, JOSHI_B, JOSHI_A * gm)


# ---- export --------------------------------------------------------------------------------


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
    if len(p) == 3 and all(math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-15) for a, b in zip(p, joshi)):
        if scale != 1.0:
            losses.append(f"device.programming_noise_scale = {scale!r}: CrossSim's PCMJoshi model has no scale")
        elif device.g_max_S > JOSHI_G_MAX_LIMIT_S * (1 + _REL_TOL):
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
    _check_card(card)
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
    if card.tia.noise_units > 0:
        losses.append(f"tia.noise_units = {card.tia.noise_units!r}: CrossSim parameters have no additive output noise")
    for name in ("dac", "adc"):
        if getattr(card, name).bits == 1:
            losses.append(f"{name}.bits = 1: a 1-bit signed mid-tread converter has no level besides 0")
    return losses


def card_to_crosssim(card: CrossbarCard, *, allow_loss: bool = False, rp_normalized: bool = True) -> dict[str, Any]:
    """CrossSim parameter tree of ``card`` (module docstring). Raises ValueError listing every
    loss unless ``allow_loss``. ``rp_normalized``: write Rp_row/Rp_col divided by Rmin (CrossSim
    3.0's convention) or in ohms."""
    losses = crosssim_losses(card)
    if losses and not allow_loss:
        raise ValueError(
            f"card {card.name!r} cannot be written as CrossSim parameters without loss: " + "; ".join(losses)
            + " (pass allow_loss=True, or --allow-loss on the command line, to write the rest)"
        )
    for loss in losses:
        logger.warning("CrossSim export of %r drops %s", card.name, loss)
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


# ---- import --------------------------------------------------------------------------------


def crosssim_to_card(
    data: Any, *, base: CrossbarCard | None = None, name: str | None = None, allow_loss: bool = False,
    rp_normalized: bool = True,
) -> CrossbarCard:
    """A card from a CrossSim parameter tree (the layout of :func:`card_to_crosssim`, or
    CrossSim's own ``to_json``). Keys left out take CrossSim's defaults; fields CrossSim does not
    describe come from ``base`` (default: the ``pcm-crosssim`` preset). Settings the card
    cannot express (read noise, drift, other core styles or ADC models ...) raise ValueError
    naming the key unless ``allow_loss`` (then they are logged and ignored)."""
    _require_mapping(data, "$")
    unknown = sorted(set(data) - {"core", "xbar", "simulation"})
    if "noise_model" in data and "forward" in data:
        raise ValueError("$: this looks like an aihwkit parameter dict (forward, noise_model), not CrossSim parameters")
    if "card_type" in data:
        raise ValueError("$: this is an analogeq device card (card_type), not CrossSim parameters")
    if unknown:
        raise ValueError(f"$: unknown key(s) {unknown}; a CrossSim parameter file has 'core', 'xbar', 'simulation'")
    if "xbar" not in data:
        raise ValueError("$.xbar: missing; this is not a CrossSim parameter file (needs 'xbar' with 'device')")
    xbar = _require_mapping(data["xbar"], "$.xbar")
    if "device" not in xbar:
        raise ValueError("$.xbar.device: missing; this is not a CrossSim parameter file")
    base = preset("pcm-crosssim") if base is None else base
    _check_card(base)
    problems: list[str] = []
    out = base.to_dict()
    if name is not None:
        out["name"] = name

    dev = _require_mapping(xbar["device"], "$.xbar.device")
    r_min = _real(dev.get("Rmin", CROSSSIM_DEFAULTS["Rmin"]), "$.xbar.device.Rmin")
    if r_min <= 0:
        raise ValueError(f"$.xbar.device.Rmin: {r_min!r} must be > 0 ohm")
    g_max = 1.0 / r_min
    if _bool(dev.get("infinite_on_off_ratio", False), "$.xbar.device.infinite_on_off_ratio"):
        g_min = 0.0
    else:
        r_max = _real(dev.get("Rmax", CROSSSIM_DEFAULTS["Rmax"]), "$.xbar.device.Rmax")
        if r_max <= r_min:
            raise ValueError(f"$.xbar.device.Rmax: {r_max!r} must be > Rmin = {r_min!r} ohm")
        g_min = 1.0 / r_max
    cell_bits = dev.get("cell_bits", 0)
    if isinstance(cell_bits, bool) or not isinstance(cell_bits, int):
        raise TypeError(f"$.xbar.device.cell_bits: {cell_bits!r} is not an integer")
    out["levels"] = {"n_levels": (1 << cell_bits) if cell_bits > 0 else None}
    if _real(dev.get("time", 0), "$.xbar.device.time") != 0:
        problems.append(f"$.xbar.device.time = {dev['time']!r}: drift time of CrossSim's drift models")
    for key in ("read_noise", "drift_error"):
        block = _require_mapping(dev.get(key, {}), f"$.xbar.device.{key}")
        if _bool(block.get("enable", False), f"$.xbar.device.{key}.enable") and block.get("model", "IdealDevice") != "IdealDevice":
            problems.append(f"$.xbar.device.{key}.model = {block.get('model')!r}: CrossSim's {key.replace('_', ' ')} has no card equivalent")
    prog = _require_mapping(dev.get("programming_error", {}), "$.xbar.device.programming_error")
    model = prog.get("model", "IdealDevice") if _bool(prog.get("enable", False), "$.xbar.device.programming_error.enable") else "IdealDevice"
    if model not in PROGRAMMING_MODELS:
        raise ValueError(f"$.xbar.device.programming_error.model: {model!r}; supported: {list(PROGRAMMING_MODELS)}")
    if model == "IdealDevice":
        out["device"] = {"kind": "ideal", "g_min_S": g_min, "g_max_S": g_max,
                         "programming_noise_scale": 1.0, "read_noise_scale": 1.0, "drift_scale": 1.0}
    else:
        if model == "PCMJoshi":
            if g_max > JOSHI_G_MAX_LIMIT_S * (1 + _REL_TOL):
                raise ValueError(f"$.xbar.device.Rmin: {r_min!r} ohm gives Gmax > 25 uS, which CrossSim's PCMJoshi refuses")
            coeffs = list(joshi_coeffs_rel(g_max))
        else:
            magnitude = _real(prog.get("magnitude", 0.0), "$.xbar.device.programming_error.magnitude")
            if magnitude < 0:
                raise ValueError(f"$.xbar.device.programming_error.magnitude: {magnitude!r} must be >= 0")
            coeffs = [magnitude] if model == "NormalIndependentDevice" else [0.0, magnitude]
        pcm = PCMDevice(g_min_S=g_min, g_max_S=g_max, prog_noise_coeffs=tuple(coeffs), read_noise_scale=0.0, drift_scale=0.0)
        out["device"] = pcm.to_dict()

    array = _require_mapping(xbar.get("array", {}), "$.xbar.array")
    if _real(array.get("Icol_max", 0), "$.xbar.array.Icol_max") > 0:
        problems.append(f"$.xbar.array.Icol_max = {array['Icol_max']!r}: column current clipping")
    par = _require_mapping(array.get("parasitics", {}), "$.xbar.array.parasitics")
    wires = {"r_row_segment_ohm": 0.0, "r_col_segment_ohm": 0.0, "r_source_ohm": 0.0, "r_sense_ohm": 0.0}
    if _bool(par.get("enable", False), "$.xbar.array.parasitics.enable"):
        norm = r_min if rp_normalized else 1.0
        wires["r_row_segment_ohm"] = _real(par.get("Rp_row", 0.0), "$.xbar.array.parasitics.Rp_row") * norm
        wires["r_col_segment_ohm"] = _real(par.get("Rp_col", 0.0), "$.xbar.array.parasitics.Rp_col") * norm
        if _bool(par.get("gate_input", False), "$.xbar.array.parasitics.gate_input"):
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
        lo = _real(rng[0], "$.xbar.adc.mvm.calibrated_range[0]")
        hi = _real(rng[1], "$.xbar.adc.mvm.calibrated_range[1]")
        if hi <= 0 or not math.isclose(lo, -hi, rel_tol=_REL_TOL):
            raise ValueError(f"$.xbar.adc.mvm.calibrated_range: {[lo, hi]!r} must be symmetric, [-R, R] with R > 0")
        out["adc"]["range_units"] = hi * g_max / (g_max - g_min)
    out["tia"]["noise_units"] = 0.0

    core = _require_mapping(data.get("core", {}), "$.core")
    if core.get("style", "BALANCED") not in ("BALANCED", 1):
        problems.append(f"$.core.style = {core['style']!r}: only BALANCED (differential pairs) maps to the card")
    balanced = _require_mapping(core.get("balanced", {}), "$.core.balanced")
    if balanced.get("style", "ONE_SIDED") not in ("ONE_SIDED", 1):
        problems.append(f"$.core.balanced.style = {balanced['style']!r}: only ONE_SIDED maps to the card")
    if core.get("weight_bits", 0) not in (0, None):
        problems.append(f"$.core.weight_bits = {core['weight_bits']!r}: weight quantisation before mapping")
    out["tile"] = {
        "max_rows": core.get("cols_max", CROSSSIM_DEFAULTS["cols_max"]),
        "max_cols": core.get("rows_max", CROSSSIM_DEFAULTS["rows_max"]),
    }
    mapping = _require_mapping(core.get("mapping", {}), "$.core.mapping")
    weights = _require_mapping(mapping.get("weights", {}), "$.core.mapping.weights")
    w_min, w_max, pct = weights.get("min"), weights.get("max"), weights.get("percentile", 1.0)
    if w_max is not None:
        w_max = _real(w_max, "$.core.mapping.weights.max")
        if w_min is None or not math.isclose(_real(w_min, "$.core.mapping.weights.min"), -w_max, rel_tol=_REL_TOL):
            problems.append(f"$.core.mapping.weights min/max = {w_min!r}/{w_max!r}: only a symmetric range maps to w_max")
        out["mapping"] = {"w_max": w_max}
    else:
        if pct not in (None, 1.0, 1):
            problems.append(f"$.core.mapping.weights.percentile = {pct!r}: percentile clipping of weights")
        out["mapping"] = {"w_max": None}

    if problems and not allow_loss:
        raise ValueError(
            "CrossSim parameters the card cannot express: " + "; ".join(problems)
            + " (pass allow_loss=True, or --allow-loss on the command line, to import the rest)"
        )
    for problem in problems:
        logger.warning("CrossSim import ignores %s", problem)
    out["faults"] = {"stuck_at_gmin_rate": 0.0, "stuck_at_gmax_rate": 0.0}
    return card_from_dict(out)


def _converter_bits(section: Any, kind: str, path: str, problems: list[str]) -> tuple[int | None, dict[str, Any]]:
    section = _require_mapping(section, path)
    block = _require_mapping(section.get("mvm", {}), f"{path}.mvm")
    if "vmm" in section and section.get("_match", True) is False and section["vmm"] != block:
        problems.append(f"{path}.vmm differs from {path}.mvm: the card has one {kind} for both directions")
    model = block.get("model", f"Ideal{kind}")
    bits = block.get("bits", 0)
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f"{path}.mvm.bits: {bits!r} is not an integer")
    if model == f"Ideal{kind}" or bits <= 0:
        return None, block
    if model != f"SignMagnitude{kind}":
        problems.append(f"{path}.mvm.model = {model!r}: only SignMagnitude{kind} (signed mid-tread) maps to the card")
    if bits < 2:
        raise ValueError(f"{path}.mvm.bits: {bits} bit(s) has no level besides 0 in a signed mid-tread converter")
    return bits, block


# ---- small validation helpers --------------------------------------------------------------


def _check_card(card: Any) -> None:
    if not isinstance(card, CrossbarCard):
        raise TypeError(f"expected a crossbar card (CrossbarCard), got {type(card).__name__}")


def _require_mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _real(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{path}: {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{path}: {value!r} is not finite")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{path}: {value!r} is not true/false")
    return value
