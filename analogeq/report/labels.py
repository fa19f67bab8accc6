"""How plots and reports name sweep axes and metrics: one registry of names, units and scales.

:data:`LABELS` maps a raw identifier (a card path such as ``adc.bits``, an evaluation parameter
such as ``drift_time_s``, a metric such as ``relative_error``) to a :class:`Label`:

* ``text``: the axis or colour-bar label, with the unit (``"ADC resolution (bits)"``);
* ``short``: the part of a file name (``"adc_bits"``);
* ``value``: how a legend names one value (``"{}-bit ADC"``; ``{}`` is the value);
* ``time``: the values are seconds, drawn on a log axis with ticks at 1 s, 1 min, 1 h, 1 d,
  30 d and 1 y (:data:`TIME_TICKS`) and written as such (``3600`` -> ``"1 h"``);
* ``bounds``: the metric's full range (accuracies: 0 to 1), used as a fixed colour scale;
* ``definition``: one sentence, with the equation, for captions and reports;
* ``none``: what a value of None (``"null"`` in a spec) means (``adc.bits``: ``"ideal"``).

Identifiers without an entry are shown as they are (:func:`label` returns the identifier), so a
plugin's axis still plots; :func:`register_label` adds one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["LABELS", "TIME_TICKS", "Label", "definition", "format_time", "format_value", "label", "register_label",
           "short_name", "value_text"]


@dataclass(frozen=True)
class Label:
    """Name and unit of one axis or metric (module docstring)."""

    text: str
    short: str
    value: str = "{}"
    time: bool = False
    bounds: tuple[float, float] | None = None
    definition: str = ""
    none: str = "none"


#: (seconds, text) of the ticks of a time axis: 1 s, 1 min, 1 h, 1 d, 30 d, 1 y (365 d)
TIME_TICKS: tuple[tuple[float, str], ...] = (
    (1.0, "1 s"), (60.0, "1 min"), (3600.0, "1 h"), (86400.0, "1 d"), (2.592e6, "30 d"), (3.1536e7, "1 y"))

_ACC = (0.0, 1.0)

LABELS: dict[str, Label] = {
    # card fields (sweep axes)
    "device.read_noise_scale": Label("read-noise scale (x card)", "read_noise", "read noise {}x"),
    "device.programming_noise_scale": Label("programming-noise scale (x card)", "prog_noise", "prog. noise {}x"),
    "device.drift_scale": Label("drift scale (x card)", "drift_scale", "drift {}x"),
    "adc.bits": Label("ADC resolution (bits)", "adc_bits", "{}-bit ADC", none="ideal"),
    "dac.bits": Label("DAC resolution (bits)", "dac_bits", "{}-bit DAC", none="ideal"),
    "adc.range_units": Label("ADC full scale (units of v_read x g_max)", "adc_range", "ADC range {}"),
    "levels.n_levels": Label("conductance levels per device", "levels", "{} levels", none="continuous"),
    "tia.noise_units": Label("TIA output noise (units of v_read x g_max)", "tia_noise", "TIA noise {}"),
    "tile.max_rows": Label("tile rows", "tile_rows", "{} rows"),
    "tile.max_cols": Label("tile columns", "tile_cols", "{} cols"),
    "faults.stuck_at_gmin_rate": Label("stuck-at-g_min rate (fraction of cells)", "stuck_gmin", "stuck g_min {}"),
    "faults.stuck_at_gmax_rate": Label("stuck-at-g_max rate (fraction of cells)", "stuck_gmax", "stuck g_max {}"),
    "drift_compensation": Label("drift compensation", "drift_comp", "{} compensation"),
    # evaluation parameters
    "drift_time_s": Label("time since programming", "drift", "t = {}", time=True),
    "n_test": Label("test images", "n_test", "{} images"),
    "eps_linf": Label("L_inf radius (pixels in [0, 1])", "eps_linf", "eps {}"),
    "eps_l2": Label("L2 radius (pixels in [0, 1])", "eps_l2", "eps {}"),
    # metrics
    "accuracy": Label("test accuracy", "acc", bounds=_ACC,
                      definition="fraction of the test images classified correctly, one draw of the substrate's "
                                 "noise per seed"),
    "clean": Label("clean accuracy", "clean", bounds=_ACC, definition="accuracy on the unperturbed test images"),
    "pgd_linf": Label("accuracy under PGD L_inf", "pgd_linf", bounds=_ACC,
                      definition="accuracy on PGD L_inf adversarial images at the headline radius"),
    "worst_case_linf": Label("worst-case L_inf accuracy", "worst_linf", bounds=_ACC,
                             definition="an image counts only if it survives every L_inf attack at the headline radius"),
    "relative_error": Label("relative read error", "rel_err",
                            definition="relative_error = ||y - y_ideal||_F / ||y_ideal||_F: the Frobenius norm of the "
                                       "difference between one crossbar read y of a random matrix W (entries uniform "
                                       "in [-1, 1], programmed with the card) and the exact product y_ideal = x W^T, "
                                       "divided by the norm of the exact product (0 = exact; dimensionless)"),
    "gain": Label("read gain <y, y_ideal> / <y_ideal, y_ideal>", "gain",
                  definition="gain = <y, y_ideal> / <y_ideal, y_ideal>: the systematic scale of a read (1 = none)"),
    "mean_abs_error_rel": Label("mean |g - g_target| / (g_max - g_min)", "g_err",
                                definition="mean_abs_error_rel = mean |g_read - g_target| / (g_max - g_min) over the "
                                           "programmed cells (dimensionless)"),
}


def register_label(name: str, entry: Label) -> None:
    """Add (or replace) the label of ``name``."""
    if not isinstance(entry, Label):
        raise TypeError(f"label of {name!r} must be a Label, got {type(entry).__name__}")
    LABELS[name] = entry


def label(name: str) -> str:
    """Axis label of ``name`` with its unit; the identifier itself when it has no entry."""
    entry = LABELS.get(name)
    return entry.text if entry else name


def definition(name: str) -> str:
    """The one-sentence definition of ``name`` ("" when it has none)."""
    entry = LABELS.get(name)
    return entry.definition if entry else ""


def short_name(name: str) -> str:
    """File-name part of ``name``: the registry's, else the last dotted segment made file-safe."""
    entry = LABELS.get(name)
    if entry:
        return entry.short
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit(".", 1)[-1]).strip("_")[:24] or "x"


def is_time(name: str) -> bool:
    entry = LABELS.get(name)
    return bool(entry and entry.time)


def format_time(seconds: float) -> str:
    """Seconds in the largest unit of s, min, h, d, y that keeps the number at least 1:
    3600 -> ``"1 h"``, 2.592e6 -> ``"30 d"``, 20 -> ``"20 s"``, 0 -> ``"0 s"``."""
    s = float(seconds)
    for size, unit in ((3.1536e7, "y"), (86400.0, "d"), (3600.0, "h"), (60.0, "min")):
        if abs(s) >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def format_value(name: str, value: Any) -> str:
    """One value of ``name`` as text: seconds in human units on a time axis, floats to 3 digits."""
    if value is None:
        entry = LABELS.get(name)
        return entry.none if entry else "none"
    if is_time(name) and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return format_time(value)
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def value_text(name: str, value: Any) -> str:
    """How a legend names ``name = value``: ``"4-bit ADC"``, ``"read noise 1x"``, ``"t = 1 h"``."""
    entry = LABELS.get(name)
    if entry is None:
        return f"{name}={format_value(name, value)}"
    if value is None:  # "ideal ADC", "continuous levels"
        return entry.value.format(entry.none).replace(f"{entry.none}-bit", entry.none)
    return entry.value.format(format_value(name, value))
