"""Statistical tests of the device models against their defining formulas.

References are written out here independently of the implementation (in the units of the
sources: uS for aihwkit's PCM model and for Wan et al.'s RRAM fits), then compared with the
sample mean / std over many cells within a few standard errors.
"""

import math

import numpy as np
import pytest
from scipy import stats

from hardware_models.devices import (
    ConductanceLevels,
    IdealDevice,
    PCMDevice,
    RRAMDevice,
    StuckAtFaults,
    TableDevice,
    program_conductances,
    quantise_to_levels,
)

N_CELLS = 100_000
Z = 4.5  # tolerance in standard errors (false-failure rate ~1e-5 per comparison)


def assert_mean_std(sample, mean_ref, std_ref, what):
    """Sample mean within Z standard errors, sample std within Z standard errors of a std
    (SE of a std of a normal sample ~ std / sqrt(2 (n - 1)))."""
    n = sample.size
    mean, std = float(sample.mean()), float(sample.std(ddof=1))
    se_mean = std_ref / math.sqrt(n)
    se_std = std_ref / math.sqrt(2 * (n - 1))
    assert abs(mean - mean_ref) <= Z * se_mean + 1e-18, f"{what}: mean {mean} vs {mean_ref} (SE {se_mean})"
    assert abs(std - std_ref) <= Z * se_std + 1e-18, f"{what}: std {std} vs {std_ref} (SE {se_std})"


# ---------------------------------------------------------------- PCM (aihwkit PCMLikeNoiseModel)


def aihwkit_prog_sigma_S(g_S, g_max_S):
    # ANCHORS.md: sigma = sum c_i (g/g_max)^i * g_max/25 uS, c = [0.26348, 1.9650, -1.1731], g in uS
    x = g_S / g_max_S
    g_max_uS = g_max_S * 1e6
    sigma_uS = (0.26348 + 1.9650 * x - 1.1731 * x**2) * g_max_uS / 25.0
    return sigma_uS * 1e-6


def aihwkit_nu_stats(x):
    # ANCHORS.md: nu mean = clamp(-0.0155 ln x + 0.0244, 0.049, 0.1); std = clamp(-0.0125 ln x - 0.0059, 0.008, 0.045)
    mu = min(max(-0.0155 * math.log(x) + 0.0244, 0.049), 0.1)
    sd = min(max(-0.0125 * math.log(x) - 0.0059, 0.008), 0.045)
    return mu, sd


@pytest.mark.parametrize("g_max_S", [25e-6, 50e-6])
@pytest.mark.parametrize("x", [0.2, 0.5, 0.95])
def test_pcm_programming_noise_matches_aihwkit_polynomial(x, g_max_S):
    device = PCMDevice(g_max_S=g_max_S, drift_scale=0.0)
    g = np.full(N_CELLS, x * g_max_S)
    p = device.program(g, np.random.default_rng(11))
    assert_mean_std(p.g_prog_S - g, 0.0, aihwkit_prog_sigma_S(x * g_max_S, g_max_S), f"PCM prog x={x}")


def test_pcm_programming_noise_scale_multiplies_sigma():
    g = np.full(N_CELLS, 12.5e-6)
    p = PCMDevice(programming_noise_scale=2.5).program(g, np.random.default_rng(3))
    assert_mean_std(p.g_prog_S - g, 0.0, 2.5 * aihwkit_prog_sigma_S(12.5e-6, 25e-6), "PCM prog x2.5")
    p0 = PCMDevice(programming_noise_scale=0.0).program(g, np.random.default_rng(3))
    np.testing.assert_array_equal(p0.g_prog_S, g)


@pytest.mark.parametrize("x", [1.0, 0.3, 0.05, 1e-3])
def test_pcm_drift_exponent_distribution(x):
    """nu recovered from g(t) = g_prog (t/t0)^-nu follows |N(mu(x), sd(x))| (folded normal,
    aihwkit takes the absolute value) with aihwkit's clamped formulas."""
    device = PCMDevice(programming_noise_scale=0.0)
    g = np.full(N_CELLS, x * 25e-6)
    p = device.program(g, np.random.default_rng(5))
    t = 86400.0
    nu_hat = -np.log(p.at_time(t) / p.g_prog_S) / math.log(t / 20.0)
    np.testing.assert_allclose(nu_hat, p.nu, rtol=1e-9)
    mu, sd = aihwkit_nu_stats(x)
    folded = stats.foldnorm(c=mu / sd, scale=sd)
    assert_mean_std(nu_hat, folded.mean(), folded.std(), f"PCM nu x={x}")


def test_pcm_drift_scale_and_reference_time():
    g = np.full(1000, 10e-6)
    p1 = PCMDevice(programming_noise_scale=0.0).program(g, np.random.default_rng(8))
    p2 = PCMDevice(programming_noise_scale=0.0, drift_scale=2.0).program(g, np.random.default_rng(8))
    np.testing.assert_allclose(p2.nu, 2.0 * p1.nu)
    # no drift up to t0 = 20 s (aihwkit applies drift only for t > t0)
    np.testing.assert_array_equal(p1.at_time(0.0), p1.g_prog_S)
    np.testing.assert_array_equal(p1.at_time(20.0), p1.g_prog_S)
    # one decade of time past t0 shrinks g by exactly 10^-nu
    np.testing.assert_allclose(p1.at_time(200.0), p1.g_prog_S * 10.0 ** (-p1.nu), rtol=1e-12)


def test_pcm_read_noise_formula():
    device = PCMDevice(read_noise_scale=1.5)
    g = np.array([0.0, 0.1e-6, 1e-6, 5e-6, 25e-6])
    for t in (1.0, 3600.0, 86400.0 * 365):
        expected = []
        for gi in g:
            x = gi / 25e-6
            q = min(0.0088 / max(x**0.65, 1e-3), 0.2)  # aihwkit: clamp(x^0.65, min=1e-3), then max 0.2
            expected.append(1.5 * gi * q * math.sqrt(math.log((t + 250e-9) / (2 * 250e-9))))
        np.testing.assert_allclose(device.read_noise_std(g, t), expected, rtol=1e-12, atol=0)
    # the logarithm is <= 0 up to t = t_read: no read noise then
    np.testing.assert_array_equal(device.read_noise_std(g, 0.0), 0.0)
    np.testing.assert_array_equal(device.read_noise_std(g, 250e-9), 0.0)


def test_pcm_programmed_read_sigma_q_at_programmed_conductance():
    """Per-cell read sigma of a programmed array: |g(t)| Q(g_prog/g_max) sqrt(ln((t + t_read)/(2 t_read))),
    Q at the programmed conductance as in aihwkit's PCMLikeNoiseModel, magnitude at the drifted one."""
    device = PCMDevice()
    p = device.program(np.linspace(0.5e-6, 25e-6, 50), np.random.default_rng(0))
    t = 86400.0
    g_t = p.at_time(t)
    q = np.minimum(0.0088 / np.maximum((p.g_prog_S / 25e-6) ** 0.65, 1e-3), 0.2)
    expected = g_t * q * math.sqrt(math.log((t + 250e-9) / (2 * 250e-9)))
    np.testing.assert_allclose(p.read_sigma(t), expected, rtol=1e-12)
    # drift lowered g, so Q at the drifted conductance (read_noise_std without g_ref) is larger
    assert np.all(device.read_noise_std(g_t, t) > p.read_sigma(t))


def test_pcm_crosssim_joshi_polynomial():
    device = PCMDevice.crosssim_joshi()
    assert device.drift_scale == 0.0 and device.read_noise_scale == 0.0
    for G_uS in (2.0, 12.0, 24.0):
        g = np.full(N_CELLS, G_uS * 1e-6)
        p = device.program(g, np.random.default_rng(int(G_uS)))
        # ANCHORS.md, CrossSim PCM (Joshi): sigma_G = -0.00178767 G^2 + 0.07585724 G + 0.28638599 uS
        sigma = (-0.00178767 * G_uS**2 + 0.07585724 * G_uS + 0.28638599) * 1e-6
        assert_mean_std(p.g_prog_S - g, 0.0, sigma, f"CrossSim PCM G={G_uS}")
        np.testing.assert_array_equal(p.at_time(1e6), p.g_prog_S)


# ---------------------------------------------------------------- RRAM (Wan et al. 2022)


def wan_poly_uS(x, coeffs):
    return sum(c * x**k for k, c in enumerate(coeffs))


# Wan et al., Nature 608 (2022), Extended Data Fig. 3, as fitted by aihwkit (uS, g_max = 40 uS)
WAN_1S = (0.348, 16.030, -43.853, 45.393, -16.815)
WAN_1D = (0.701, 22.086, -50.773, 47.095, -16.458)


@pytest.mark.parametrize("x", [0.3, 0.5, 0.9])  # >= 5 sigma above 0 S, where the clamp at 0 is negligible
def test_rram_programming_noise_matches_wan_1s(x):
    device = RRAMDevice(g_min_S=0.0)
    g = np.full(N_CELLS, x * 40e-6)
    p = device.program(g, np.random.default_rng(21))
    assert_mean_std(p.g_prog_S - g, 0.0, wan_poly_uS(x, WAN_1S) * 1e-6, f"RRAM prog x={x}")


@pytest.mark.parametrize("x", [0.5, 0.7, 0.9])  # >= 5 sigma above 0 S, where the clamp at 0 is negligible
def test_rram_one_day_spread_matches_wan_1d(x):
    """Programming spread plus one day of log-time relaxation reproduces the published 1-day
    spread (our relaxation polynomial fits it to 0.005 uS)."""
    device = RRAMDevice(g_min_S=0.0)
    g = np.full(N_CELLS, x * 40e-6)
    p = device.program(g, np.random.default_rng(22))
    dev = p.at_time(86400.0) - g
    sigma_1d = wan_poly_uS(x, WAN_1D) * 1e-6
    n = dev.size
    assert abs(dev.mean()) <= Z * sigma_1d / math.sqrt(n)
    assert abs(dev.std(ddof=1) - sigma_1d) <= Z * sigma_1d / math.sqrt(2 * (n - 1)) + 0.01e-6


def test_rram_relaxation_variance_grows_linearly_in_log_time():
    device = RRAMDevice(g_min_S=0.0, programming_noise_scale=0.0)
    g = np.full(N_CELLS, 20e-6)
    p = device.program(g, np.random.default_rng(23))
    sigma_relax = float(device.relaxation_std(np.array(20e-6)))
    for t in (1.0, 10.0, 1e3, 1e6):
        decades = max(math.log10(t), 0.0)
        dev = p.at_time(t) - g
        if decades == 0:
            np.testing.assert_array_equal(dev, 0.0)
        else:
            assert_mean_std(dev, 0.0, sigma_relax * math.sqrt(decades), f"RRAM relax t={t}")


def test_rram_mean_pull_toward_center():
    device = RRAMDevice(
        programming_noise_scale=0.0, relax_noise_coeffs=(0.0,), relax_rate_per_decade=0.1, relax_center_S=10e-6
    )
    g = np.array([2e-6, 10e-6, 30e-6])
    p = device.program(g, np.random.default_rng(0))
    # g(t) = g + (g_c - g) * min(1, rate * log10(t / 1 s))
    np.testing.assert_allclose(p.at_time(1000.0), g + (10e-6 - g) * 0.3, rtol=1e-12)
    np.testing.assert_allclose(p.at_time(1e12), np.full(3, 10e-6), rtol=1e-12)


def test_rram_read_noise_formula():
    device = RRAMDevice(read_noise_scale=2.0)
    g = np.array([0.0, 0.4e-6, 4e-6, 40e-6])
    expected = [2.0 * gi * min(0.01 * (gi / 40e-6) ** -0.5, 0.1) if gi > 0 else 0.0 for gi in g]
    np.testing.assert_allclose(device.read_noise_std(g, 5.0), expected, rtol=1e-12)


# ---------------------------------------------------------------- table device


def write_csv(path, rows, header="g_mean_S,g_std_S,read_std_S"):
    path.write_text("# measured levels\n" + header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def test_table_device_from_csv_nearest_level_and_spread(tmp_path):
    rows = [(20e-6, 0.5e-6, 0.2e-6), (2e-6, 0.1e-6, 0.05e-6), (10e-6, 0.3e-6, 0.1e-6)]  # unsorted on purpose
    device = TableDevice.from_csv(write_csv(tmp_path / "levels.csv", rows))
    assert device.level_mean_S == (2e-6, 10e-6, 20e-6)
    assert (device.g_min_S, device.g_max_S) == (2e-6, 20e-6)
    rng = np.random.default_rng(9)
    targets = rng.uniform(2e-6, 20e-6, 5000)
    brute = np.argmin(np.abs(targets[:, None] - np.array(device.level_mean_S)[None, :]), axis=1)
    np.testing.assert_array_equal(device.nearest_level(targets), brute)
    for mean, std, _ in rows:
        g = np.full(N_CELLS, mean)
        p = device.program(g, np.random.default_rng(int(mean * 1e7)))
        assert_mean_std(p.g_prog_S, mean, std, f"table level {mean}")
    # read noise interpolates linearly between levels: halfway between 2 and 10 uS
    np.testing.assert_allclose(device.read_noise_std(np.array([6e-6, 1e-6, 30e-6]), 1.0), [0.075e-6, 0.05e-6, 0.2e-6])


def test_table_device_without_read_column_has_no_read_noise(tmp_path):
    path = write_csv(tmp_path / "l.csv", [(1e-6, 0.0), (3e-6, 0.0)], header="g_mean_S,g_std_S")
    device = TableDevice.from_csv(path, g_min_S=0.0, g_max_S=4e-6)
    np.testing.assert_array_equal(device.read_noise_std(np.array([2e-6]), 1.0), 0.0)
    p = device.program(np.array([0.0, 1.9e-6, 2.1e-6, 4e-6]), np.random.default_rng(0))
    np.testing.assert_array_equal(p.g_prog_S, [1e-6, 1e-6, 3e-6, 3e-6])


@pytest.mark.parametrize(
    "content, match",
    [
        ("g_mean_S\n1e-6\n2e-6\n", "missing"),
        ("g_mean_S,g_std_S,colour\n1e-6,0,red\n2e-6,0,blue\n", "unknown"),
        ("g_mean_S,g_std_S\n1e-6,abc\n2e-6,0\n", "line 2"),
        ("g_mean_S,g_std_S\n1e-6,0\n", "at least 2"),
        ("# nothing\n", "no header"),
        ("g_mean_S,g_std_S\n1e-6,-1e-7\n2e-6,0\n", "negative"),
    ],
)
def test_table_device_bad_csv(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        TableDevice.from_csv(path)


# ---------------------------------------------------------------- levels and faults


@pytest.mark.parametrize("n_levels", [2, 3, 16, 255])
def test_level_quantisation_error_at_most_half_step(n_levels):
    g_min, g_max = 1e-6, 25e-6
    g = np.random.default_rng(n_levels).uniform(g_min, g_max, 50_000)
    q = quantise_to_levels(g, n_levels, g_min, g_max)
    step = (g_max - g_min) / (n_levels - 1)
    assert np.max(np.abs(q - g)) <= step / 2 * (1 + 1e-9)
    k = (q - g_min) / step
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)  # every value is on a level
    assert np.unique(np.round(k)).size <= n_levels
    assert q.min() >= g_min and q.max() <= g_max * (1 + 1e-12)


def test_levels_then_ideal_device_lands_on_levels():
    device = IdealDevice(g_min_S=0.0, g_max_S=1e-5)
    g = np.linspace(0, 1e-5, 101)
    p = program_conductances(device, g, np.random.default_rng(0), levels=ConductanceLevels(n_levels=5))
    assert set(np.round(p.g_prog_S / 2.5e-6, 9)) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_stuck_at_rates_within_binomial_error():
    r_min, r_max = 0.03, 0.07
    device = PCMDevice()
    card = type("Parts", (), {"device": device, "levels": ConductanceLevels(), "faults": StuckAtFaults(r_min, r_max)})
    g = np.full((400, 500), 12e-6)
    p = program_conductances(card, g, np.random.default_rng(31))
    n = g.size
    n_min = int(np.count_nonzero(p.stuck & (p.g_prog_S == device.g_min_S)))
    n_max = int(np.count_nonzero(p.stuck & (p.g_prog_S == device.g_max_S)))
    for count, rate in ((n_min, r_min), (n_max, r_max)):
        assert abs(count - n * rate) <= Z * math.sqrt(n * rate * (1 - rate)), (count, n * rate)
    assert n_min + n_max == int(p.stuck.sum())
    # stuck cells do not drift; healthy ones do
    t = 1e6
    g_t = p.at_time(t)
    np.testing.assert_array_equal(g_t[p.stuck], p.g_prog_S[p.stuck])
    assert np.all(g_t[~p.stuck] < p.g_prog_S[~p.stuck])


def test_stuck_cells_do_not_relax_rram():
    device = RRAMDevice(relax_rate_per_decade=0.05)
    p = program_conductances(
        device, np.full(20_000, 30e-6), np.random.default_rng(2), faults=StuckAtFaults(0.1, 0.1)
    )
    np.testing.assert_array_equal(p.at_time(1e5)[p.stuck], p.g_prog_S[p.stuck])
    assert np.all(p.relax_S[p.stuck] == 0.0)


def test_zero_fault_rates_draw_nothing():
    device = IdealDevice()
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    p = program_conductances(device, np.full(10, 1e-6), rng_a, faults=StuckAtFaults(0.0, 0.0))
    assert p.stuck is None
    assert rng_a.random() == rng_b.random()


def test_program_conductances_same_seed_same_numbers():
    card = type("Parts", (), {"device": PCMDevice(), "levels": ConductanceLevels(32), "faults": StuckAtFaults(0.01, 0.01)})
    g = np.random.default_rng(0).uniform(0, 25e-6, (64, 48))
    a = program_conductances(card, g, np.random.default_rng(123))
    b = program_conductances(card, g, np.random.default_rng(123))
    c = program_conductances(card, g, np.random.default_rng(124))
    for name in ("g_prog_S", "nu", "stuck"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.g_prog_S, c.g_prog_S)
    assert not a.g_prog_S.flags.writeable  # programmed states are immutable
