"""Durations written as a user types them: ``3600``, ``90s``, ``5min``, ``1h``, ``1d``, ``1w``, ``1y``.

:func:`parse_duration_s` returns seconds (a float >= 0). Units: ``s``, ``min``, ``h``, ``d``,
``w``, ``y`` (365.25 days, the Julian year aihwkit and the PCM drift literature use); a bare
number is seconds. Used by every command-line option that takes a read time after programming
(``--drift-time``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from hardware_models.params import ParameterError

#: seconds per unit
DURATION_UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365.25 * 86400.0}

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]*)\s*$")


def parse_duration_s(field: str, value: Any) -> float:
    """``value`` (a number of seconds, or text such as ``"1h"``, ``"30 d"``, ``"1e3s"``) in seconds.

    Raises :class:`~hardware_models.params.ParameterError` naming ``field``, the value and the
    allowed forms for anything else (negative, non-finite, unknown unit)."""
    allowed = f"a duration >= 0: seconds, or a number with a unit {list(DURATION_UNITS_S)} (e.g. 1h, 1d, 1y)"

    def refuse(shown: Any) -> ParameterError:
        return ParameterError(None, field, f"must be {allowed}, got {shown!r}")

    if isinstance(value, bool):
        raise refuse(value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).lower())
        unit = match.group(2) if match else None
        if match is None or (unit and unit not in DURATION_UNITS_S):
            raise refuse(str(value)[:40])
        seconds = float(match.group(1)) * DURATION_UNITS_S[unit or "s"]
    if not math.isfinite(seconds) or seconds < 0.0:
        raise refuse(value)
    return seconds


__all__ = ["DURATION_UNITS_S", "parse_duration_s"]
