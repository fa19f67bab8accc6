"""Checks of the aihwkit export and recipes against aihwkit's constructor signatures.

The signatures (a dict) come from ``benchmarks/check_aihwkit_sdist.py``, which reads them from
the aihwkit sdist with ``ast``; ``tests/data/aihwkit_1.2.0_signatures.json`` is its output, so
``tests/test_interop_aihwkit_sdist.py`` runs offline. :func:`check_export_against` returns a list
of problems (empty = the export and the recipes fit aihwkit).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from hardware_models import preset
from hardware_models.export import aihwkit as aihwkit_export
from hardware_models.export.aihwkit import card_to_aihwkit

ROOT = Path(__file__).resolve().parent.parent
#: keys of the exported noise_model that are not PCMLikeNoiseModel arguments
NOT_ARGUMENTS = ("class", "pcm_constants")


def recipe_texts() -> dict[str, str]:
    """The two documented recipes: the package docstring and docs/interop.md."""
    return {
        "hardware_models.export.aihwkit docstring": aihwkit_export.__doc__ or "",
        "docs/interop.md": (ROOT / "docs" / "interop.md").read_text(encoding="utf8"),
    }


def call_keywords(text: str, callee: str) -> list[set[str]]:
    """The keyword names of every ``callee(...)`` call written in ``text`` (balanced parentheses)."""
    calls = []
    for m in re.finditer(re.escape(callee) + r"\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        args = text[m.end() : i - 1]
        # keywords at depth 0 of this call only
        flat, depth = [], 0
        for ch in args:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            flat.append(ch if depth == 0 else " ")
        calls.append(set(re.findall(r"(?<![\w.])(\w+)\s*=(?!=)", "".join(flat))))
    return calls


def _close(a, b) -> bool:
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return isinstance(b, (int, float)) and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)


def check_export_against(sig: dict) -> list[str]:
    """Problems of ``card_to_aihwkit(preset("pcm"))`` and of the recipes against ``sig``."""
    problems: list[str] = []
    d = card_to_aihwkit(preset("pcm"))
    pcm = sig["constructors"]["PCMLikeNoiseModel"]
    conv = sig["constructors"]["SinglePairConductanceConverter"]
    fields = sig["dataclass_fields"]
    stores_ref = sig["PCMLikeNoiseModel"]["stores_explicit_prog_coeff_g_max_reference"]
    for section, cls in (("forward", "IOParameters"), ("mapping", "MappingParameter")):
        for key, value in d[section].items():
            if key not in fields[cls]:
                problems.append(f"{section}.{key}: {cls} has no field {key!r}")
            elif not _close(value, fields[cls][key]):
                problems.append(f"{section}.{key} = {value!r} for the pcm preset, aihwkit's default is {fields[cls][key]!r}")
    for key in ("forward", "mapping", "noise_model", "drift_compensation"):
        if key not in fields["InferenceRPUConfig"]:
            problems.append(f"InferenceRPUConfig has no field {key!r}")
    nm = d["noise_model"]
    for key, value in nm.items():
        if key in NOT_ARGUMENTS:
            continue
        if key not in pcm["params"]:
            problems.append(f"noise_model.{key}: not a PCMLikeNoiseModel argument ({pcm['params']})")
        elif key == "prog_coeff_g_max_reference" and not stores_ref:
            problems.append(
                "noise_model.prog_coeff_g_max_reference: aihwkit stores it only when the argument is None, so passing "
                "it makes apply_programming_noise_to_conductance raise AttributeError"
            )
        elif pcm["defaults"].get(key) is not None and not _close(value, pcm["defaults"][key]):
            problems.append(f"noise_model.{key} = {value!r} for the pcm preset, aihwkit's default is {pcm['defaults'][key]!r}")
    if not _close(nm["prog_coeff"], sig["PCMLikeNoiseModel"]["default_prog_coeff"]):
        problems.append(f"noise_model.prog_coeff {nm['prog_coeff']} != aihwkit's default {sig['PCMLikeNoiseModel']['default_prog_coeff']}")
    for key in nm["g_converter"]:
        if key != "class" and key not in conv["params"]:
            problems.append(f"noise_model.g_converter.{key}: not a SinglePairConductanceConverter argument ({conv['params']})")
    for where, text in recipe_texts().items():
        calls = call_keywords(text, "PCMLikeNoiseModel")
        if not calls:
            problems.append(f"{where}: no PCMLikeNoiseModel(...) recipe found")
        for kws in calls:
            for kw in sorted(kws - set(pcm["params"])):
                problems.append(f"{where}: PCMLikeNoiseModel has no argument {kw!r}")
            if "prog_coeff_g_max_reference" in kws and not stores_ref:
                problems.append(f"{where}: the recipe passes prog_coeff_g_max_reference, which aihwkit 1.2.0 does not store (AttributeError)")
        for kws in call_keywords(text, "SinglePairConductanceConverter"):
            for kw in sorted(kws - set(conv["params"])):
                problems.append(f"{where}: SinglePairConductanceConverter has no argument {kw!r}")
    return problems
