"""aihwkit's names and constants for the card mapping (see :mod:`hardware_models.export.aihwkit`):
the layout of the parameter dict, aihwkit's hard-coded PCM constants, and a converter's
resolution ``1 / (2**bits - 2)`` to and from its number of bits."""

from __future__ import annotations

import math
from typing import Any

from hardware_models.params import check_float

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

TOP_KEYS = ("format", "format_version", "card_name", "device_kind", "forward", "mapping", "noise_model", "drift_compensation")
FORWARD_KEYS = ("inp_bound", "inp_res", "out_bound", "out_res", "out_noise")
MAPPING_KEYS = ("max_input_size", "max_output_size")
NOISE_KEYS = (
    "class", "g_converter", "prog_coeff", "prog_coeff_g_max_reference", "t_read", "t_0",
    "prog_noise_scale", "read_noise_scale", "drift_scale", "pcm_constants",
)
PCM_CONSTANT_KEYS = ("nu_mean", "nu_std", "read_noise_q")
DRIFT_COMPENSATION = {"global": "GlobalDriftCompensation", "none": None}
uS = 1e6  # microsiemens per siemens (aihwkit works in uS)


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
    value = check_float(field, res)
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

