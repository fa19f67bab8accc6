"""The ``resistive_network`` sweep evaluation (issue 18): a sweep over a deep resistive network's
own parameters runs, converges, and follows the circuit's scaling laws."""

from __future__ import annotations

import pytest
from fixtures_sweeps import spec_error, spec_toml, sweep_rows

from analogeq.sweeps import get_evaluation


def test_gain_axis_scales_an_ideal_network_without_bias_linearly(tmp_path):
    # no bias sources, ideal diodes: the steady state is positively homogeneous in the sources,
    # V(k u) = k V(u), so the output spread scales by k and the power by k^2 (same draw: same seed)
    text = spec_toml("drn-gain", card="ideal", axes='"input_gain" = [0.5, 2.0]',
                     evaluations="[evaluations.resistive_network]\ndiode = \"ideal\"\nbias = false\ntol_A = 1e-16")
    rows = sweep_rows(tmp_path, text)
    assert len(rows) == 2
    lo, hi = sorted(rows, key=lambda r: r["metrics"]["output_std_V"])
    lo, hi = lo["metrics"], hi["metrics"]
    assert hi["output_std_V"] == pytest.approx(4.0 * lo["output_std_V"], rel=1e-9)
    assert hi["power_W"] == pytest.approx(16.0 * lo["power_W"], rel=1e-9)
    assert lo["conducting_fraction"] == hi["conducting_fraction"]
    for metrics in (lo, hi):
        assert metrics["converged_fraction"] == 1.0 and metrics["max_kcl_residual_A"] <= 1e-15


def test_ideality_axis_approaches_the_ideal_diode(tmp_path):
    text = spec_toml("drn-n", card="ideal", axes='"diode_n" = [1.0, 0.01]',
                     evaluations="[evaluations.resistive_network]\ninput_gain = 2.0\ntol_A = 1e-15")
    rows = sweep_rows(tmp_path, text)
    errors = sorted(r["metrics"]["max_abs_from_ideal_V"] for r in rows)
    assert 0.0 < errors[0] < 0.05 * errors[1]  # n V_T 100x smaller: much closer to the clip
    assert all(r["metrics"]["max_kcl_residual_A"] <= 1e-14 for r in rows)


def test_bad_parameters_name_the_field(tmp_path):
    assert get_evaluation("resistive_network").metrics[0] == "mean_sweeps"
    message = spec_error(tmp_path, spec_toml("bad", card="ideal",
                                             evaluations="[evaluations.resistive_network]\ni_s_A = 0"))
    assert "evaluations.resistive_network.i_s_A" in message and "\n" not in message
    message = spec_error(tmp_path, spec_toml("bad", card="ideal",
                                             evaluations="[evaluations.resistive_network]\ndiode = \"zener\""))
    assert "evaluations.resistive_network.diode" in message
