"""markdown_table: alignment, formatting, escaping, bad input."""

from __future__ import annotations

import math

import pytest

from analogeq.report import markdown_table


def test_table_layout_alignment_and_formats():
    rows = [
        {"name": "pcm", "acc": 0.91234, "n": 3, "note": None},
        {"name": "rram", "acc": 0.5, "n": 10, "note": "a|b\nc"},
    ]
    text = markdown_table(rows, ["name", ("acc", "accuracy", "{:.1%}"), ("n", "seeds"), "note"])
    assert text.splitlines() == [
        "| name | accuracy | seeds | note |",
        "| --- | ---: | ---: | --- |",
        "| pcm | 91.2% | 3 |  |",
        "| rram | 50.0% | 10 | a\\|b c |",
    ]
    assert text.endswith("\n")


def test_default_float_format_and_special_values():
    text = markdown_table([{"x": 1234.5678, "y": math.nan, "z": True}, {"x": 1e-7}], ["x", "y", "z"])
    lines = text.splitlines()
    assert lines[2] == "| 1235 | nan | true |"
    assert lines[3] == "| 1e-07 |  |  |"  # missing keys are empty cells
    assert lines[1] == "| ---: | ---: | --- |"  # booleans are not numbers


def test_empty_rows_give_a_header_only():
    assert markdown_table([], ["a", "b"]).splitlines() == ["| a | b |", "| --- | --- |"]


@pytest.mark.parametrize("columns", [[], "abc", [("a",)], [("a", 1)], [3]])
def test_bad_columns_are_refused(columns):
    with pytest.raises(ValueError, match="columns"):
        markdown_table([{"a": 1}], columns)


def test_non_mapping_rows_are_refused():
    with pytest.raises(TypeError, match=r"rows\[1\] must be a mapping"):
        markdown_table([{"a": 1}, [1]], ["a"])
