"""The published CIFAR-10-C severity constants, loaded from ``cifar10c_constants.json``.

The table holds the constants of Hendrycks & Dietterich's CIFAR-10-C generator
(``make_cifar_c.py``; *not* the ImageNet-C ones, which are larger), one entry per
severity 1..5. They are facts, not tuning knobs: every corruption in this package reads its
parameters from here and nowhere else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hardware_models.params import check_int

SEVERITIES = (1, 2, 3, 4, 5)

_TABLE_PATH = Path(__file__).with_name("cifar10c_constants.json")

with _TABLE_PATH.open("r", encoding="utf-8") as _f:
    CIFAR10C_CONSTANTS: dict[str, Any] = json.load(_f)


def constant(key: str, severity: int) -> Any:
    """The constant ``key`` of the table at ``severity`` (1..5)."""
    if key not in CIFAR10C_CONSTANTS or not isinstance(CIFAR10C_CONSTANTS[key], list):
        raise KeyError(f"no CIFAR-10-C constant named {key!r} in {_TABLE_PATH.name}")
    check_severity(severity)
    return CIFAR10C_CONSTANTS[key][severity - 1]


def check_severity(severity: Any) -> int:
    """Return ``severity`` as an int if it is an integer in 1..5, else raise ParameterError
    (a ValueError and a TypeError)."""
    return check_int("severity", severity, minimum=min(SEVERITIES), maximum=max(SEVERITIES))
