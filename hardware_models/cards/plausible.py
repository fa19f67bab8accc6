"""Physical plausibility ranges of card fields: a value the schema allows but no device has.

The schema says what is meaningful (a conductance is > 0); this table says what is physical
(a conductance is at most 0.1 S, i.e. at least 10 ohm). Values outside the table are refused with
the field's JSON path and range, e.g. ``$.device.g_max_S: 1e+308 S is outside the plausible
range [0, 0.1] S``. The ranges are wide on purpose: one to three orders of magnitude beyond
today's devices on each side, so a what-if study fits inside them.

A card that means an implausible value says so explicitly, naming the fields::

    "allow_implausible": ["device.g_max_S", "timing.t_nudge_s"]

(a top-level list of dotted field paths; list fields are named without an index). The list is
kept with the card (``card.allow_implausible``) and written back by ``save_card``.

Derived limit (spiking cards): a settling phase is at most :data:`MAX_SPIKING_STEPS` clock steps
(``t_free_s / dt_s`` and ``t_nudge_s / dt_s``), since each step is simulated; also overridable
through ``allow_implausible`` on the time field.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import CardError

__all__ = ["MAX_SPIKING_STEPS", "PLAUSIBLE", "check_allow_list", "check_plausible"]

#: clock steps of one spiking settling phase beyond which a card is refused (10^7 steps of a
#: 784-500-10 network take hours)
MAX_SPIKING_STEPS = 10_000_000

_COEFF = (-100.0, 100.0, "")      # dimensionless polynomial coefficients of device statistics
_SCALE = (0.0, 100.0, "")         # multipliers of a device's noise or drift (1 = as measured)
_G = (0.0, 0.1, "S")              # conductances: at most 0.1 S (10 ohm)
_OHM = (0.0, 1e12, "ohm")
_ENERGY = (0.0, 1e-3, "J")        # energies per event: at most 1 mJ
_SHORT_TIME = (1e-12, 1.0, "s")   # read, conversion, simulation times of one operation
_SETTLE_TIME = (1e-9, 10.0, "s")  # spiking settling phases, time constants

#: card type -> dotted field (``[]``: every entry of a list) -> (lowest, highest, unit)
PLAUSIBLE: dict[str, dict[str, tuple[float, float, str]]] = {
    "crossbar": {
        "levels.n_levels": (2, 1_000_000, "levels"),
        "faults.stuck_at_gmin_rate": (0.0, 1.0, ""),
        "faults.stuck_at_gmax_rate": (0.0, 1.0, ""),
        "update.dg_min_up_S": _G,
        "update.dg_min_down_S": _G,
        "update.cycle_noise_rel": _SCALE,
        "tile.max_rows": (1, 65_536, "rows"),
        "tile.max_cols": (1, 65_536, "columns"),
        "mapping.w_max": (1e-6, 1e6, ""),
        "dac.bits": (2, 32, "bits"),
        "dac.v_read_V": (1e-4, 10.0, "V"),
        "adc.bits": (2, 32, "bits"),
        "adc.range_units": (1e-6, 1e6, "full-scale weight currents"),
        "tia.gain_ohm": (1e-3, 1e12, "ohm"),
        "tia.noise_units": (0.0, 100.0, "full-scale weight currents"),
        "wires.r_row_segment_ohm": _OHM,
        "wires.r_col_segment_ohm": _OHM,
        "wires.r_source_ohm": _OHM,
        "wires.r_sense_ohm": _OHM,
        "timing.t_read_s": _SHORT_TIME,
        "timing.t_adc_s": _SHORT_TIME,
        "neuron.r_ohm": (1e-3, 1e12, "ohm"),
        "neuron.c_F": (1e-21, 1e-3, "F"),
        "cost.e_neuron_update_J": _ENERGY,
        "cost.dac_fom_J_per_step": _ENERGY,
        "cost.adc_fom_J_per_step": _ENERGY,
        "device.g_min_S": _G,
        "device.g_max_S": _G,
        "device.programming_noise_scale": _SCALE,
        "device.read_noise_scale": _SCALE,
        "device.drift_scale": _SCALE,
        "device.prog_noise_coeffs[]": _COEFF,
        "device.nu_mean_log_coeffs[]": _COEFF,
        "device.nu_mean_range[]": (-10.0, 10.0, ""),
        "device.nu_std_log_coeffs[]": _COEFF,
        "device.nu_std_range[]": (0.0, 10.0, ""),
        "device.read_noise_q0": (0.0, 10.0, ""),
        "device.read_noise_q_exponent": (0.0, 10.0, ""),
        "device.read_noise_q_max": (0.0, 10.0, ""),
        "device.t0_s": (1e-12, 1e6, "s"),
        "device.t_read_s": (1e-12, 1e3, "s"),
        "device.relax_noise_coeffs[]": _COEFF,
        "device.relax_t0_s": (1e-12, 1e6, "s"),
        "device.relax_rate_per_decade": (0.0, 10.0, ""),
        "device.relax_center_S": _G,
        "device.level_mean_S[]": _G,
        "device.level_std_S[]": _G,
        "device.read_std_S[]": _G,
    },
    "spiking": {
        "neuron.tau_mem_s": _SETTLE_TIME,
        "neuron.refractory_s": (0.0, 1.0, "s"),
        "synapse.tau_syn_s": _SETTLE_TIME,
        "synapse.weight_bits": (2, 32, "bits"),
        "synapse.w_max": (1e-6, 1e6, ""),
        "mismatch.threshold_cv": (0.0, 10.0, ""),
        "mismatch.tau_mem_cv": (0.0, 10.0, ""),
        "noise.membrane_std": (0.0, 100.0, "thresholds"),
        "timing.dt_s": (1e-9, 1e-2, "s"),
        "timing.t_free_s": _SETTLE_TIME,
        "timing.t_nudge_s": _SETTLE_TIME,
        "timing.decode_window_s": _SETTLE_TIME,
        "cost.e_spike_J": _ENERGY,
        "cost.e_synaptic_event_J": _ENERGY,
        "cost.e_neuron_step_J": _ENERGY,
    },
}


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def check_allow_list(card_type: str, allow: Any) -> tuple[str, ...]:
    """``allow_implausible``: a list of the card type's plausibility fields (dotted, no index)."""
    if allow is None:
        return ()
    table = PLAUSIBLE.get(card_type, {})
    names = sorted(k.removesuffix("[]") for k in table)
    if not isinstance(allow, (list, tuple)) or not all(isinstance(a, str) for a in allow):
        raise CardError("$.allow_implausible", f"must be a list of dotted field names such as {names[:2]}")
    for i, name in enumerate(allow):
        if name not in names:
            raise CardError(f"$.allow_implausible[{i}]", f"{name[:60]!r} is not a field with a plausibility range; "
                                                         f"fields: {names}")
    return tuple(dict.fromkeys(allow))


def check_plausible(card_type: str, data: dict[str, Any], allow: tuple[str, ...] = ()) -> None:
    """Raise a CardError at the first field of ``data`` outside its plausible range (see module
    docstring); fields named in ``allow`` are not checked. Non-numbers are left to the schema."""
    for dotted, (lo, hi, unit) in PLAUSIBLE.get(card_type, {}).items():
        name = dotted.removesuffix("[]")
        if name in allow:
            continue
        value = _get(data, name)
        entries = list(enumerate(value)) if dotted.endswith("[]") and isinstance(value, list) else [(None, value)]
        for i, v in entries:
            if _is_number(v) and not lo <= v <= hi:
                path = f"$.{name}" + (f"[{i}]" if i is not None else "")
                raise CardError(path, f"{v!r}{' ' + unit if unit else ''} is outside the plausible range "
                                      f"[{lo:g}, {hi:g}]{' ' + unit if unit else ''}; to mean it, "
                                      f"add \"allow_implausible\": [\"{name}\"] to the card")
    if card_type == "spiking":
        _check_spiking_steps(data, allow)


def _check_spiking_steps(data: dict[str, Any], allow: tuple[str, ...]) -> None:
    dt = _get(data, "timing.dt_s")
    if not _is_number(dt) or dt <= 0:
        return
    for name in ("t_free_s", "t_nudge_s", "decode_window_s"):
        t = _get(data, f"timing.{name}")
        if f"timing.{name}" in allow or not _is_number(t):
            continue
        steps = t / dt
        if steps > MAX_SPIKING_STEPS:
            raise CardError(f"$.timing.{name}", f"{t!r} s at dt_s = {dt!r} s is {steps:.3g} clock steps; at most "
                                                f"{MAX_SPIKING_STEPS:,} are simulated; to mean it, add "
                                                f"\"allow_implausible\": [\"timing.{name}\"] to the card")
