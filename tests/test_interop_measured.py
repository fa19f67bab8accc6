"""Measured-data import: recovery of known statistics from synthetic data within sampling
error, agreement of the least-squares helper with numpy.polyfit, CSV layouts and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.cards import preset, with_value
from hardware_models.devices import TableDevice
from hardware_models.measured import (
    csv_kind,
    fit_drift,
    fit_drift_csv,
    fit_programming,
    fit_programming_csv,
    weighted_least_squares,
)

G_MAX = 25e-6
# aihwkit's PCM programming polynomial as fractions of g_max (ANCHORS.md, c / 25)
PROG_COEFFS = np.array([0.26348, 1.9650, -1.1731]) / 25.0
# drift statistics used to generate data (mean as in aihwkit, without the clamps)
NU_MEAN = (-0.0155, 0.0244)
NU_STD = (-0.0125, 0.004)
TOL_SE = 4.0  # tolerance in standard errors


def _programming_data(seed=0, n_levels=20, per_level=300):
    rng = np.random.default_rng(seed)
    target = np.repeat(np.linspace(1e-6, G_MAX, n_levels), per_level)
    sigma = G_MAX * np.polynomial.polynomial.polyval(target / G_MAX, PROG_COEFFS)
    return target, target + sigma * rng.standard_normal(target.size), sigma


def _drift_data(seed=1, n_devices=600, noise=0.003):
    rng = np.random.default_rng(seed)
    x = np.exp(rng.uniform(np.log(0.05), 0.0, n_devices))
    lx = np.log(x)
    nu = NU_MEAN[0] * lx + NU_MEAN[1] + (NU_STD[0] * lx + NU_STD[1]) * rng.standard_normal(n_devices)
    times = 20.0 * 10 ** np.linspace(0.0, 4.0, 9)
    ids, t, g = [], [], []
    for i in range(n_devices):
        ids += [f"cell-{i}"] * times.size
        t.append(times)
        g.append(x[i] * G_MAX * (times / 20.0) ** (-nu[i]) * (1.0 + noise * rng.standard_normal(times.size)))
    return ids, np.concatenate(t), np.concatenate(g), nu, x


def _write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# synthetic test data\n" + ",".join(header) + "\n")
        for row in rows:
            fh.write(",".join(str(v) for v in row) + "\n")
    return path


# ---- least squares -------------------------------------------------------------------------


def test_weighted_least_squares_matches_numpy_polyfit():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 30)
    sigma = 0.05 + 0.1 * x
    y = 0.3 - 0.7 * x + 1.2 * x**2 + sigma * rng.standard_normal(x.size)
    X = np.vander(x, 3, increasing=True)
    fit = weighted_least_squares(X, y, 1 / sigma**2, absolute_sigma=True)
    coeffs, cov = np.polyfit(x, y, 2, w=1 / sigma, cov="unscaled")
    np.testing.assert_allclose(fit.coeffs, coeffs[::-1], rtol=1e-10)
    np.testing.assert_allclose(np.diag(fit.covariance), np.diag(cov)[::-1], rtol=1e-8)
    scaled = weighted_least_squares(X, y, 1 / sigma**2)
    _, cov_scaled = np.polyfit(x, y, 2, w=1 / sigma, cov=True)
    # both scale the unscaled covariance by chi2 / (n - p)
    np.testing.assert_allclose(np.diag(scaled.covariance), np.diag(cov_scaled)[::-1], rtol=1e-8)
    with pytest.raises(ValueError, match="rank deficient"):
        weighted_least_squares(np.ones((5, 2)), np.arange(5.0))


# ---- programming ---------------------------------------------------------------------------


def test_programming_fit_recovers_known_statistics():
    target, measured, sigma = _programming_data()
    fit = fit_programming(target, measured, g_max_S=G_MAX)
    assert not fit.binned and len(fit.levels) == 20 and fit.n_samples == target.size
    z = (np.asarray(fit.sigma_coeffs) - PROG_COEFFS) / np.asarray(fit.sigma_coeffs_se)
    assert np.all(np.abs(z) < TOL_SE), z
    lv = fit.levels
    true_sigma = G_MAX * np.polynomial.polynomial.polyval(lv.g_target_S / G_MAX, PROG_COEFFS)
    assert np.all(np.abs(lv.g_mean_S - lv.g_target_S) < TOL_SE * lv.g_mean_se_S)
    assert np.all(np.abs(lv.g_std_S - true_sigma) < TOL_SE * lv.g_std_se_S)
    assert 0.3 < fit.sigma_fit.chi2_reduced < 2.5 and fit.r_squared > 0.9
    np.testing.assert_allclose(fit.residuals_S, lv.g_std_S - fit.sigma_S(lv.g_target_S), rtol=1e-9, atol=1e-18)
    text = fit.summary()
    assert "sigma(g) / g_max" in text and "R^2" in text and "20 distinct-target levels" in text


def test_programming_standard_errors_are_honest():
    # over independent data sets the coefficient errors scatter with the reported SE
    z = []
    for seed in range(12):
        target, measured, _ = _programming_data(seed=100 + seed, n_levels=12, per_level=150)
        fit = fit_programming(target, measured, g_max_S=G_MAX)
        z.append((np.asarray(fit.sigma_coeffs) - PROG_COEFFS) / np.asarray(fit.sigma_coeffs_se))
    rms = float(np.sqrt(np.mean(np.square(z))))
    assert 0.6 < rms < 1.5, rms  # 36 values: chi-square spread around 1


def test_binned_levels_from_continuous_targets():
    rng = np.random.default_rng(5)
    target = rng.uniform(1e-6, G_MAX, 8000)
    sigma = G_MAX * np.polynomial.polynomial.polyval(target / G_MAX, PROG_COEFFS)
    fit = fit_programming(target, target + sigma * rng.standard_normal(target.size), n_bins=10, g_max_S=G_MAX)
    assert fit.binned and len(fit.levels) == 10
    z = (np.asarray(fit.sigma_coeffs) - PROG_COEFFS) / np.asarray(fit.sigma_coeffs_se)
    assert np.all(np.abs(z) < TOL_SE), z


def test_programming_fit_to_devices_and_cards(tmp_path):
    target, measured, _ = _programming_data(n_levels=8)
    fit = fit_programming(target, measured, g_max_S=G_MAX)
    table = fit.to_table_device()
    assert isinstance(table, TableDevice)
    np.testing.assert_array_equal(table.level_mean_S, fit.levels.g_mean_S)
    np.testing.assert_array_equal(table.level_std_S, fit.levels.g_std_S)
    card = fit.to_card(kind="table", name="measured")
    assert card.device.kind == "table" and card.name == "measured"
    pcm = fit.to_card(kind="pcm")
    g = np.linspace(0, G_MAX, 11)
    np.testing.assert_allclose(pcm.device.programming_noise_std(g), fit.sigma_S(g), rtol=1e-12)
    # the CSV route gives the same fit as the arrays
    path = _write_csv(tmp_path / "prog.csv", ["g_target_S", "g_measured_S"], zip(target.tolist(), measured.tolist()))
    assert csv_kind(path) == "programming"
    from_csv = fit_programming_csv(path, g_max_S=G_MAX)
    np.testing.assert_allclose(from_csv.sigma_coeffs, fit.sigma_coeffs, rtol=1e-12)
    assert from_csv.to_dict()["n_samples"] == target.size


def test_programming_bad_input(tmp_path):
    header = ["g_target_S", "g_measured_S"]
    rows = [(1e-6, 1.1e-6), (1e-6, 0.9e-6), (2e-6, 2.1e-6), (2e-6, 1.8e-6), (3e-6, 3.2e-6), (3e-6, 2.9e-6)]
    cases = [
        (rows[:3] + [(2e-6, "nan")] + rows[3:], header, r"line 6, column 'g_measured_S': NaN"),
        (rows[:1] + [("NaN", 1e-6)] + rows[1:], header, r"line 4, column 'g_target_S': NaN"),
        (rows[:2] + [(2e-6, "inf")], header, "infinite"),
        (rows[:2] + [(2e-6, "")], header, "empty value"),
        (rows[:2] + [(2e-6, "abc")], header, "not a number"),
        (rows[:2] + [(-2e-6, 1e-6)], header, ">= 0"),
        (rows, ["target", "measured"], "missing"),
        (rows, header + ["extra"], "unknown"),
        ([], header, "no data rows"),
    ]
    for i, (data, head, message) in enumerate(cases):
        path = _write_csv(tmp_path / f"bad{i}.csv", head, data)
        with pytest.raises(ValueError, match=message):
            fit_programming_csv(path, degree=1)
    with pytest.raises(ValueError, match="g_measured_S\\[1\\]"):
        fit_programming([1e-6, 2e-6], [1e-6, np.nan])
    with pytest.raises(ValueError, match="at least 4"):
        fit_programming([1e-6, 1e-6, 2e-6, 2e-6], [1e-6, 1.1e-6, 2e-6, 2.1e-6], degree=2)
    with pytest.raises(ValueError, match="levels"):
        fit_programming([1e-6, 2e-6], [1e-6, 2e-6], levels="all")


# ---- drift ---------------------------------------------------------------------------------


def test_drift_fit_recovers_known_statistics():
    ids, t, g, nu, x = _drift_data()
    fit = fit_drift(ids, t, g, g_max_S=G_MAX)
    assert len(fit.devices) == 600 and fit.t_ref_s == 20.0
    # per device: the true exponent is within 4 SE for nearly all devices (t with 7 dof)
    z_dev = (fit.devices.nu - nu) / fit.devices.nu_se
    assert np.mean(np.abs(z_dev) < TOL_SE) > 0.98
    np.testing.assert_allclose(fit.devices.g_ref_S, x * G_MAX, rtol=0.01)
    assert np.all(fit.devices.r_squared[np.abs(nu) > 0.02] > 0.99)  # R^2 means little where nu ~ 0
    for got, se, true in [(fit.nu_mean_coeffs, fit.nu_mean_coeffs_se, NU_MEAN), (fit.nu_std_coeffs, fit.nu_std_coeffs_se, NU_STD)]:
        z = (np.asarray(got) - np.asarray(true)) / np.asarray(se)
        assert np.all(np.abs(z) < TOL_SE), z
    text = fit.summary()
    assert "mu_nu" in text and "sigma_nu" in text and "600 devices" in text


def test_drift_fit_onto_a_pcm_card(tmp_path):
    ids, t, g, _, _ = _drift_data(n_devices=120)
    path = _write_csv(tmp_path / "drift.csv", ["device_id", "t_s", "g_S"], zip(ids, t.tolist(), g.tolist()))
    assert csv_kind(path) == "drift"
    fit = fit_drift_csv(path, g_max_S=G_MAX, n_bins=5)
    card = fit.apply_to_card(preset("pcm"), name="pcm-measured-drift")
    fields = fit.pcm_fields()
    assert list(card.device.nu_mean_log_coeffs) == fields["nu_mean_log_coeffs"]
    assert card.device.t0_s == 20.0 and card.name == "pcm-measured-drift"
    lo, hi = fields["nu_mean_range"]
    assert 0 <= lo <= hi
    mu, _ = card.device.drift_exponent_stats(np.array([G_MAX * np.exp(np.mean(fit.ln_x_range))]))
    assert mu[0] == pytest.approx(float(fit.nu_mean(G_MAX * np.exp(np.mean(fit.ln_x_range)))), rel=1e-9)
    with pytest.raises(ValueError, match="g_max_S"):
        fit.apply_to_card(with_value(preset("pcm"), "device.g_max_S", 10e-6))
    with pytest.raises(ValueError, match="pcm device"):
        fit.apply_to_card(preset("ideal"))


def test_drift_bad_input(tmp_path):
    header = ["device_id", "t_s", "g_S"]
    base = [("a", 20, 1e-5), ("a", 200, 0.9e-5), ("a", 2000, 0.8e-5)]
    cases = [
        (base + [("b", 20, "nan")], r"line 6, column 'g_S': NaN"),
        (base + [("b", 20, 0.0)], r"line 6, column 'g_S'.*> 0"),
        (base + [("b", -5, 1e-6)], r"column 't_s'.*> 0"),
        (base + [("b", 20, 1e-6), ("b", 200, 1e-6)], "device 'b' has 2 distinct"),
    ]
    for i, (rows, message) in enumerate(cases):
        path = _write_csv(tmp_path / f"bad{i}.csv", header, rows)
        with pytest.raises(ValueError, match=message):
            fit_drift_csv(path)
    path = _write_csv(tmp_path / "cols.csv", ["id", "time", "g"], base)
    with pytest.raises(ValueError, match="expected the columns"):
        csv_kind(path)
    with pytest.raises(ValueError, match="missing"):
        fit_drift_csv(path)
    with pytest.raises(ValueError, match="bin"):
        fit_drift(["a"] * 3 + ["b"] * 3, [1, 2, 3] * 2, [1e-5, 0.9e-5, 0.8e-5, 2e-5, 1.9e-5, 1.8e-5])
