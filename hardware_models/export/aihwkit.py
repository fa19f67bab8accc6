"""A crossbar card to and from a plain dict in aihwkit's names and units (no aihwkit needed).

IBM aihwkit describes an inference crossbar with an ``InferenceRPUConfig`` holding I/O
parameters (``IOParameters``: DAC/ADC resolution and bounds, output noise), a tile size
(``MappingParameter``), a PCM noise model (``PCMLikeNoiseModel`` with a
``SinglePairConductanceConverter``) and a drift compensation. :func:`card_to_aihwkit` writes
those numbers as a JSON-ready dict, :func:`aihwkit_to_card` reads such a dict back into a card.
Someone with aihwkit installed builds the configuration from the dict by hand, e.g.::

    d = json.load(open("pcm.aihwkit.json"))
    nm = d["noise_model"]
    rpu = InferenceRPUConfig()
    for k, v in d["forward"].items():
        setattr(rpu.forward, k, v)
    rpu.mapping.max_input_size = d["mapping"]["max_input_size"]
    rpu.mapping.max_output_size = d["mapping"]["max_output_size"]
    rpu.noise_model = PCMLikeNoiseModel(
        prog_coeff=nm["prog_coeff"], prog_coeff_g_max_reference=nm["prog_coeff_g_max_reference"],
        g_converter=SinglePairConductanceConverter(**{k: v for k, v in nm["g_converter"].items() if k != "class"}),
        t_read=nm["t_read"], t_0=nm["t_0"], prog_noise_scale=nm["prog_noise_scale"],
        read_noise_scale=nm["read_noise_scale"], drift_scale=nm["drift_scale"])
    rpu.drift_compensation = GlobalDriftCompensation() if d["drift_compensation"] else None

Field-by-field mapping (card field -> dict key [unit], exact unless noted)
-------------------------------------------------------------------------
``forward`` (aihwkit ``IOParameters``; aihwkit's step is ``res * 2 * bound``, see below):

* ``dac.bits`` b -> ``inp_res = 1 / (2**b - 2)`` [fraction of the input range]; ``None`` -> ``-1``
  (aihwkit: <= 0 means no discretisation). Both quantisers are signed mid-tread: the card's DAC
  has ``L = 2**(b-1) - 1`` levels per side over [-1, 1], step ``1 / L``; aihwkit's step is
  ``inp_res * 2 * inp_bound = 2 / (2**b - 2) = 1 / L`` with ``inp_bound = 1``. 7 bits <-> 1/126.
  Reading back, ``b = log2(1 / inp_res + 2)`` must be an integer (``inp_res > 1`` is read as a
  number of steps, as aihwkit does).
* ``inp_bound = 1.0`` always: card inputs in [-1, 1] are +-``dac.v_read_V`` (aihwkit is unitless;
  ``v_read_V`` is not carried).
* ``adc.bits`` b -> ``out_res = 1 / (2**b - 2)``; ``adc.range_units`` -> ``out_bound``. Output
  units are the same on both sides: one full-scale weight (``g_max_S - g_min_S``) at full-scale
  input (``v_read_V``) is 1. Step ``range_units / L`` = aihwkit's ``out_res * 2 * out_bound``.
  9 bits, 12 <-> 1/510, 12. ``adc.bits = None`` -> ``out_res = -1`` (no rounding) but aihwkit
  still clips at ``out_bound`` where the card's ideal ADC does not clip (noted as a loss).
* ``tia.noise_units`` -> ``out_noise`` (std of the additive output noise, same unit).

``mapping`` (aihwkit ``MappingParameter``): ``tile.max_rows`` -> ``max_input_size`` (rows are
driven by the inputs), ``tile.max_cols`` -> ``max_output_size``.

``noise_model`` (aihwkit ``PCMLikeNoiseModel``; aihwkit works in uS):

* ``class``: ``"PCMLikeNoiseModel"``.
* ``g_converter``: ``{"class": "SinglePairConductanceConverter", "g_max": g_max_S * 1e6,
  "g_min": g_min_S * 1e6}`` [uS]. aihwkit maps each matrix's max |W| to ``g_max`` (card
  ``mapping.w_max = None``); a fixed ``w_max`` has no aihwkit equivalent (noted as a loss).
* ``prog_coeff`` [uS] and ``prog_coeff_g_max_reference`` [uS]: aihwkit's programming std is
  ``sum_k c_k x^k * g_max / ref`` uS with x = g / g_max. The card's ``prog_noise_coeffs`` p_k are
  fractions of g_max (``sigma = g_max_S * sum_k p_k x^k``), so ``c_k = p_k * ref`` with
  ``ref = g_max_S * 1e6``; reading back ``p_k = c_k / ref``. For the ``pcm`` preset this is
  aihwkit's default ``[0.26348, 1.9650, -1.1731]`` at 25 uS.
* ``t_read`` [s] <- ``device.t_read_s`` (the 1/f integration time, not ``timing.t_read_s``);
  ``t_0`` [s] <- ``device.t0_s``.
* ``prog_noise_scale``, ``read_noise_scale``, ``drift_scale`` <- the device's
  ``programming_noise_scale``, ``read_noise_scale``, ``drift_scale``.
* ``pcm_constants`` (not an aihwkit argument; aihwkit hard-codes these): the drift exponent
  ``nu_mean = clamp(slope * ln x + offset, min, max)`` and ``nu_std`` likewise, and the 1/f
  amplitude ``Q = min(q0 / max(x**exponent, 1e-3), q_max)``, with the card's
  ``nu_mean_log_coeffs``, ``nu_mean_range``, ``nu_std_log_coeffs``, ``nu_std_range``,
  ``read_noise_q0``, ``read_noise_q_exponent``, ``read_noise_q_max``. If they differ from
  aihwkit's built-in values (-0.0155, 0.0244, [0.049, 0.1]; -0.0125, -0.0059, [0.008, 0.045];
  0.0088, 0.65, 0.2) aihwkit cannot use them (noted as a loss); they still round-trip here.
  Time origin: aihwkit's ``t_inference`` counts from ``t_0``; the card's t counts from
  programming, so aihwkit's ``t_inference`` is our ``t_s = t_inference + t_0``.

``drift_compensation``: card ``"global"`` -> ``"GlobalDriftCompensation"``, ``"none"`` -> ``None``.

``device_kind``: ``"pcm"`` or ``"ideal"`` (an ideal card is written as a PCM noise model with
all three scales 0, which makes aihwkit's model noiseless, and read back as an ideal device).

Not carried (taken from the ``base`` card on import, default the ``pcm`` preset): ``name``
(kept as ``card_name``), ``description``, ``references``, ``dac.v_read_V``, ``tia.gain_ohm``,
``timing``, ``neuron``, ``cost``, ``update``. Lost with a change of behaviour (export refuses
unless ``allow_loss=True``; :func:`aihwkit_losses` lists them): device kinds other than pcm and
ideal, finite ``levels``, stuck-at ``faults``, wire resistances (aihwkit's IR-drop models are
different approximations), a fixed ``mapping.w_max``, non-aihwkit PCM constants, ``adc.bits = None``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from hardware_models.cards import CrossbarCard, card_from_dict, preset
from hardware_models.devices import IdealDevice, PCMDevice

logger = logging.getLogger(__name__)

FORMAT_NAME = "analogeq/aihwkit-inference"
FORMAT_VERSION = "1.0"

#: aihwkit's hard-coded PCMLikeNoiseModel constants, in the card's field names
AIHWKIT_PCM_CONSTANTS: dict[str, Any] = {
    "nu_mean_log_coeffs": (-0.0155, 0.0244),
    "nu_mean_range": (0.049, 0.1),
    "nu_std_log_coeffs": (-0.0125, -0.0059),
    "nu_std_range": (0.008, 0.045),
    "read_noise_q0": 0.0088,
    "read_noise_q_exponent": 0.65,
    "read_noise_q_max": 0.2,
}

_TOP_KEYS = ("format", "format_version", "card_name", "device_kind", "forward", "mapping", "noise_model", "drift_compensation")
_FORWARD_KEYS = ("inp_bound", "inp_res", "out_bound", "out_res", "out_noise")
_MAPPING_KEYS = ("max_input_size", "max_output_size")
_NOISE_KEYS = (
    "class", "g_converter", "prog_coeff", "prog_coeff_g_max_reference", "t_read", "t_0",
    "prog_noise_scale", "read_noise_scale", "drift_scale", "pcm_constants",
)
_PCM_CONSTANT_KEYS = ("nu_mean", "nu_std", "read_noise_q")
_DRIFT_COMPENSATION = {"global": "GlobalDriftCompensation", "none": None}
_uS = 1e6


# ---- converter resolution <-> bits ---------------------------------------------------------


def bits_to_res(bits: int | None, field: str = "bits") -> float:
    """aihwkit resolution ``1 / (2**bits - 2)`` of a signed mid-tread converter; ``-1.0`` (no
    discretisation) for ``None``. ``bits`` must be >= 2 (a 1-bit mid-tread has only 0)."""
    if bits is None:
        return -1.0
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"{field}: {bits!r} cannot be written as an aihwkit resolution; need None or an integer >= 2")
    return 1.0 / (2.0**bits - 2.0)


def res_to_bits(res: Any, field: str) -> int | None:
    """Inverse of :func:`bits_to_res`: ``res <= 0`` -> None; ``res > 1`` is a number of steps
    (aihwkit reads it as ``1 / res``); otherwise ``log2(1 / res + 2)`` must be an integer."""
    value = _real(res, field)
    if value <= 0.0:
        return None
    steps = value if value > 1.0 else 1.0 / value
    bits_float = math.log2(steps + 2.0)
    bits = int(round(bits_float))
    if bits < 2 or abs(bits_float - bits) > 1e-9 * max(1.0, bits_float):
        raise ValueError(
            f"{field}: {value!r} is not the resolution of a signed b-bit converter; a card holds only "
            f"1/(2**b - 2) for integer b >= 2 (e.g. 7 bits = 1/126, 9 bits = 1/510), or <= 0 for none"
        )
    return bits


# ---- export --------------------------------------------------------------------------------


def aihwkit_losses(card: CrossbarCard) -> list[str]:
    """What of ``card`` aihwkit's inference configuration cannot express (each a sentence)."""
    _check_card(card)
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
    for name in ("dac", "adc"):
        if getattr(card, name).bits == 1:
            losses.append(f"{name}.bits = 1: a 1-bit signed mid-tread converter has no aihwkit resolution")
    return losses


def card_to_aihwkit(card: CrossbarCard, *, allow_loss: bool = False) -> dict[str, Any]:
    """The aihwkit-style dict of ``card`` (module docstring). Raises ValueError listing every
    loss (:func:`aihwkit_losses`) unless ``allow_loss``, in which case they are logged and the
    representable part is written."""
    losses = aihwkit_losses(card)
    if losses and not allow_loss:
        raise ValueError(
            f"card {card.name!r} cannot be written as aihwkit parameters without loss: " + "; ".join(losses)
            + " (pass allow_loss=True, or --allow-loss on the command line, to write the rest)"
        )
    for loss in losses:
        logger.warning("aihwkit export of %r drops %s", card.name, loss)
    if not isinstance(card.device, (PCMDevice, IdealDevice)):
        raise ValueError(f"device.kind {card.device.kind!r} has no aihwkit noise model, even with allow_loss")
    device = card.device
    g_max_uS = device.g_max_S * _uS
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
                "g_min": device.g_min_S * _uS,
            },
            "prog_coeff": [p * g_max_uS for p in pcm.prog_noise_coeffs],
            "prog_coeff_g_max_reference": g_max_uS,
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
        "drift_compensation": _DRIFT_COMPENSATION[card.drift_compensation],
    }


# ---- import --------------------------------------------------------------------------------


def aihwkit_to_card(data: Any, *, base: CrossbarCard | None = None, name: str | None = None) -> CrossbarCard:
    """A card from an aihwkit-style dict (the layout of :func:`card_to_aihwkit`).

    Fields aihwkit does not describe come from ``base`` (default: the ``pcm`` preset). The
    ``pcm_constants`` block and ``device_kind`` are optional (default: aihwkit's constants, pcm).
    Raises ValueError/TypeError naming the key for a dict of the wrong kind or bad values.
    """
    _require_mapping(data, "$")
    if "format" in data and data["format"] != FORMAT_NAME:
        raise ValueError(f"$.format: {data['format']!r} is not {FORMAT_NAME!r}; this is not an aihwkit parameter dict")
    if "xbar" in data:
        raise ValueError("$: this looks like CrossSim parameters (xbar), not an aihwkit parameter dict")
    if "card_type" in data:
        raise ValueError("$: this is an analogeq device card (card_type), not an aihwkit parameter dict")
    _known_keys(data, _TOP_KEYS, "$")
    for key in ("forward", "mapping", "noise_model"):
        if key not in data:
            raise ValueError(f"$.{key}: missing; an aihwkit parameter dict has sections {list(_TOP_KEYS[3:])}")
    base = preset("pcm") if base is None else base
    _check_card(base)
    out = base.to_dict()
    if name is not None:
        out["name"] = name
    elif isinstance(data.get("card_name"), str) and data["card_name"]:
        out["name"] = data["card_name"]

    forward = _require_mapping(data["forward"], "$.forward")
    _known_keys(forward, _FORWARD_KEYS, "$.forward")
    for key in _FORWARD_KEYS:
        if key not in forward:
            raise ValueError(f"$.forward.{key}: missing (needed: {list(_FORWARD_KEYS)})")
    if _real(forward["inp_bound"], "$.forward.inp_bound") != 1.0:
        raise ValueError(
            f"$.forward.inp_bound: {forward['inp_bound']!r}; the card's inputs span [-1, 1] (+-v_read_V), so only 1.0 maps"
        )
    out["dac"]["bits"] = res_to_bits(forward["inp_res"], "$.forward.inp_res")
    out["adc"]["bits"] = res_to_bits(forward["out_res"], "$.forward.out_res")
    out["adc"]["range_units"] = _real(forward["out_bound"], "$.forward.out_bound")
    out["tia"]["noise_units"] = _real(forward["out_noise"], "$.forward.out_noise")

    mapping = _require_mapping(data["mapping"], "$.mapping")
    _known_keys(mapping, _MAPPING_KEYS, "$.mapping")
    for key in _MAPPING_KEYS:
        if key not in mapping:
            raise ValueError(f"$.mapping.{key}: missing (needed: {list(_MAPPING_KEYS)})")
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
    out["faults"] = {"stuck_at_gmin_rate": 0.0, "stuck_at_gmax_rate": 0.0}
    out["wires"] = {k: 0.0 for k in out["wires"]}
    return card_from_dict(out)


def _device_from_noise_model(nm: Any, kind: str) -> dict[str, Any]:
    nm = _require_mapping(nm, "$.noise_model")
    _known_keys(nm, _NOISE_KEYS, "$.noise_model")
    if nm.get("class", "PCMLikeNoiseModel") != "PCMLikeNoiseModel":
        raise ValueError(f"$.noise_model.class: {nm['class']!r}; only 'PCMLikeNoiseModel' maps to a card")
    conv = _require_mapping(nm.get("g_converter"), "$.noise_model.g_converter")
    _known_keys(conv, ("class", "g_max", "g_min"), "$.noise_model.g_converter")
    if conv.get("class", "SinglePairConductanceConverter") != "SinglePairConductanceConverter":
        raise ValueError(
            f"$.noise_model.g_converter.class: {conv['class']!r}; only 'SinglePairConductanceConverter' maps to a card"
        )
    if "g_max" not in conv:
        raise ValueError("$.noise_model.g_converter.g_max: missing (uS)")
    g_max_uS = _real(conv["g_max"], "$.noise_model.g_converter.g_max")
    g_min_uS = _real(conv.get("g_min", 0.0), "$.noise_model.g_converter.g_min")
    if kind == "ideal":
        return {"kind": "ideal", "g_min_S": g_min_uS / _uS, "g_max_S": g_max_uS / _uS,
                "programming_noise_scale": 1.0, "read_noise_scale": 1.0, "drift_scale": 1.0}
    for key in ("prog_coeff", "t_read", "t_0", "prog_noise_scale", "read_noise_scale", "drift_scale"):
        if key not in nm:
            raise ValueError(f"$.noise_model.{key}: missing")
    coeffs = nm["prog_coeff"]
    if not isinstance(coeffs, (list, tuple)) or not coeffs:
        raise TypeError(f"$.noise_model.prog_coeff: {coeffs!r} must be a non-empty list of numbers (uS)")
    ref = _real(nm.get("prog_coeff_g_max_reference", g_max_uS), "$.noise_model.prog_coeff_g_max_reference")
    if ref <= 0:
        raise ValueError(f"$.noise_model.prog_coeff_g_max_reference: {ref!r} must be > 0 (uS)")
    device: dict[str, Any] = {
        "kind": "pcm",
        "g_min_S": g_min_uS / _uS,
        "g_max_S": g_max_uS / _uS,
        "prog_noise_coeffs": [_real(c, f"$.noise_model.prog_coeff[{i}]") / ref for i, c in enumerate(coeffs)],
        "t0_s": _real(nm["t_0"], "$.noise_model.t_0"),
        "t_read_s": _real(nm["t_read"], "$.noise_model.t_read"),
        "programming_noise_scale": _real(nm["prog_noise_scale"], "$.noise_model.prog_noise_scale"),
        "read_noise_scale": _real(nm["read_noise_scale"], "$.noise_model.read_noise_scale"),
        "drift_scale": _real(nm["drift_scale"], "$.noise_model.drift_scale"),
    }
    constants = {k: list(v) if isinstance(v, tuple) else v for k, v in AIHWKIT_PCM_CONSTANTS.items()}
    if "pcm_constants" in nm:
        pc = _require_mapping(nm["pcm_constants"], "$.noise_model.pcm_constants")
        _known_keys(pc, _PCM_CONSTANT_KEYS, "$.noise_model.pcm_constants")
        for key, prefix in (("nu_mean", "nu_mean"), ("nu_std", "nu_std")):
            if key in pc:
                block = _require_mapping(pc[key], f"$.noise_model.pcm_constants.{key}")
                path = f"$.noise_model.pcm_constants.{key}"
                _known_keys(block, ("slope", "offset", "min", "max"), path)
                values = {k: _real(block[k], f"{path}.{k}") for k in ("slope", "offset", "min", "max") if k in block}
                if len(values) != 4:
                    raise ValueError(f"{path}: needs slope, offset, min and max")
                constants[f"{prefix}_log_coeffs"] = [values["slope"], values["offset"]]
                constants[f"{prefix}_range"] = [values["min"], values["max"]]
        if "read_noise_q" in pc:
            path = "$.noise_model.pcm_constants.read_noise_q"
            block = _require_mapping(pc["read_noise_q"], path)
            _known_keys(block, ("q0", "exponent", "q_max"), path)
            for key, field in (("q0", "read_noise_q0"), ("exponent", "read_noise_q_exponent"), ("q_max", "read_noise_q_max")):
                if key in block:
                    constants[field] = _real(block[key], f"{path}.{key}")
    device.update(constants)
    return device


# ---- small validation helpers --------------------------------------------------------------


def _check_card(card: Any) -> None:
    if not isinstance(card, CrossbarCard):
        raise TypeError(f"expected a crossbar card (CrossbarCard), got {type(card).__name__}")


def _require_mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _known_keys(section: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {list(allowed)}")


def _real(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{path}: {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{path}: {value!r} is not finite")
    return value
