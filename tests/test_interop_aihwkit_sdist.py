"""The aihwkit export and recipes against aihwkit 1.2.0's constructors (offline).

``tests/data/aihwkit_1.2.0_signatures.json`` was written by ``benchmarks/check_aihwkit_sdist.py``
from the aihwkit 1.2.0 sdist (its header names the sha256); the checks are in
``tests/aihwkit_signatures.py`` and run here without aihwkit."""

from __future__ import annotations

import json
from pathlib import Path

from aihwkit_signatures import call_keywords, check_export_against

SIGNATURES = Path(__file__).resolve().parent / "data" / "aihwkit_1.2.0_signatures.json"


def signatures() -> dict:
    return json.loads(SIGNATURES.read_text(encoding="utf8"))


def test_signatures_file_says_where_it_came_from():
    sig = signatures()
    assert sig["sdist"] == "aihwkit-1.2.0.tar.gz" and len(sig["sha256"]) == 64
    assert "check_aihwkit_sdist.py" in sig["_header"] and sig["sha256"] in sig["_header"]
    # the fact behind the recipe fix, as read from aihwkit's source
    assert sig["PCMLikeNoiseModel"]["stores_explicit_prog_coeff_g_max_reference"] is False


def test_export_and_recipes_fit_aihwkit_constructors():
    assert check_export_against(signatures()) == []


def test_checker_catches_an_unknown_keyword_and_the_crashing_reference():
    sig = signatures()
    sig["constructors"]["PCMLikeNoiseModel"]["params"].remove("t_read")
    problems = check_export_against(sig)
    assert any("noise_model.t_read: not a PCMLikeNoiseModel argument" in p for p in problems)
    assert any("PCMLikeNoiseModel has no argument 't_read'" in p for p in problems)
    assert call_keywords("PCMLikeNoiseModel(a=1, g=f(b=2), prog_coeff_g_max_reference=x)", "PCMLikeNoiseModel") == [
        {"a", "g", "prog_coeff_g_max_reference"}
    ]
