"""Durations as users write them (--drift-time 1h, 1d, 1y)."""

from __future__ import annotations

import pytest

from hardware_models.params import ParameterError
from hardware_models.units import parse_duration_s


@pytest.mark.parametrize("text, seconds", [
    ("3600", 3600.0), (0, 0.0), (2.5, 2.5), ("90s", 90.0), ("5min", 300.0), ("1h", 3600.0), (" 1 H ", 3600.0),
    ("1d", 86400.0), ("2w", 1209600.0), ("1y", 31557600.0), ("1e3s", 1000.0), (".5h", 1800.0),
])
def test_durations_in_seconds(text, seconds):
    assert parse_duration_s("--drift-time", text) == seconds


@pytest.mark.parametrize("bad", ["-1", "1 fortnight", "h", "", "nan", "inf", float("inf"), -3.0, True, "1e400"])
def test_bad_durations_name_the_field(bad):
    with pytest.raises(ParameterError, match=r"^--drift-time: must be a duration >= 0"):
        parse_duration_s("--drift-time", bad)
