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


def test_energy_breakdown_reads_crossbar_and_spiking_cost_dicts():
    from analogeq.report.energy import energy_breakdown, energy_breakdown_text

    crossbar = {"energy_per_inference_J": 10.0, "array_energy_J": 1.0, "dac_energy_J": 2.0, "adc_energy_J": 6.0,
                "neuron_energy_J": 1.0, "latency_per_inference_s": 3.0}
    assert energy_breakdown(crossbar) == {"array": 1.0, "DAC": 2.0, "ADC": 6.0, "neurons": 1.0}
    assert energy_breakdown_text(crossbar) == "array 10%, DAC 20%, ADC 60%, neurons 10%"
    spiking = {"energy_per_inference_J": 4.0, "energy_spikes_J": 1.0, "energy_synaptic_events_J": 3.0}
    assert energy_breakdown_text(spiking) == "spikes 25%, synaptic events 75%"
    assert energy_breakdown_text(None) == "no energy model"
