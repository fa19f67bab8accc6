"""Deep resistive networks (issue 18): the exact settle against closed forms and circuit laws."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from scipy.special import lambertw

from hardware_models.params import ParameterError
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle
from hardware_models.resistive.reference import co_content, kcl_residual_A

from fixtures_threads import script_digest

TOL_A = 1e-15


def divider(g_plus, g_minus, g_out, diode, gain=1.0):
    """1 input, 1 hidden node (excitatory), 1 output: the hidden node is a voltage divider between
    +gain x and -gain x with a diode to ground; the output hangs on it and carries no current."""
    return ResistiveNetwork((1, 1, 1), (np.array([[g_plus], [g_minus]]), np.array([[g_out]])), input_gain=gain,
                            diode=diode)


@pytest.mark.parametrize("g_plus, g_minus", [(3e-6, 1e-6), (1e-6, 3e-6)])
def test_one_node_ideal_divider_is_the_clipped_weighted_average(g_plus, g_minus):
    net = divider(g_plus, g_minus, 2e-6, IdealDiode(), gain=2.0)
    x = np.array([[0.7]])
    r = settle(net, x, tol_A=1e-19)  # voltage error <= residual / G ~ 1e-13 V
    u = 2.0 * 0.7
    expected = max((g_plus * u - g_minus * u) / (g_plus + g_minus), 0.0)  # clip by the V >= 0 diode
    np.testing.assert_allclose(r.voltages_V[0], [expected, expected], rtol=0, atol=1e-12)
    assert r.converged.all()


@pytest.mark.parametrize("g_plus, g_minus", [(3e-6, 1e-6), (1e-6, 3e-6)])
def test_one_node_shockley_divider_is_the_lambert_w_solution(g_plus, g_minus):
    """KCL G V - N = I_s (exp(-V/a) - 1), a = n V_T, solves to V = c + a W(I_s/(G a) exp(-c/a)),
    c = (N - I_s)/G (excitatory diode: anode at ground)."""
    d = ShockleyDiode(i_s_A=1e-9, n=1.2)
    net = divider(g_plus, g_minus, 2e-6, d, gain=1.0)
    x = np.array([[0.4]])
    r = settle(net, x, tol_A=1e-18)
    G, N, a = g_plus + g_minus, (g_plus - g_minus) * 0.4, d.slope_V
    c = (N - d.i_s_A) / G
    expected = c + a * lambertw(d.i_s_A / (G * a) * np.exp(-c / a)).real
    np.testing.assert_allclose(r.voltages_V[0], [expected, expected], rtol=1e-10)


def _random_net(diode, sizes=(10, 14, 8, 4), seed=0):
    return ResistiveNetwork.random(sizes, np.random.default_rng(seed), diode=diode, input_gain=2.0)


DIODES = {"ideal": IdealDiode(), "shockley": ShockleyDiode(i_s_A=1e-10, n=1.5)}


@pytest.mark.parametrize("name", sorted(DIODES))
@pytest.mark.parametrize("beta", [0.0, 2e-6, -2e-6])
def test_kcl_holds_at_every_node(name, beta):
    net = _random_net(DIODES[name])
    rng = np.random.default_rng(1)
    x, y = rng.random((6, 10)), rng.uniform(-0.3, 0.3, (6, 4))
    r = settle(net, x, beta_S=beta, y=y, tol_A=TOL_A)
    assert r.converged.all() and (r.residual_A <= TOL_A).all()
    imbalance = kcl_residual_A(net, x, r.voltages_V, beta, y)
    assert imbalance.max() <= 2 * TOL_A, imbalance.max()
    # the same law, measured independently, far from the steady state is far from zero
    assert kcl_residual_A(net, x, settle(net, x, tol_A=0.0, max_sweeps=1).voltages_V).max() > 1e3 * TOL_A


@pytest.mark.parametrize("name", sorted(DIODES))
def test_co_content_decreases_at_every_sweep(name):
    net = _random_net(DIODES[name], sizes=(10, 14, 8, 6, 4))
    rng = np.random.default_rng(2)
    x, y = rng.random((5, 10)), rng.uniform(-0.3, 0.3, (5, 4))
    powers = [co_content(net, x, settle(net, x, beta_S=1e-6, y=y, tol_A=0.0, max_sweeps=k).voltages_V, 1e-6, y)
              for k in range(1, 25)]
    steps = np.diff(np.array(powers), axis=0)
    assert (steps <= 1e-12 * np.abs(powers[0])).all(), steps.max()
    assert steps[0].max() < 0.0


def test_shockley_tends_to_the_ideal_diode():
    net = _random_net(IdealDiode())
    x = np.random.default_rng(3).random((4, 10))
    ideal = settle(net, x, tol_A=TOL_A).voltages_V
    errors = [np.abs(settle(net.with_diode(ShockleyDiode(i_s_A=1e-9, n=n)), x, tol_A=TOL_A).voltages_V - ideal).max()
              for n in (1.0, 0.1, 0.01, 0.001)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-3, errors


SCRIPT = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from hardware_models.resistive import ResistiveNetwork, ShockleyDiode, IdealDiode, settle
    h = hashlib.sha256()
    for diode in (IdealDiode(), ShockleyDiode(i_s_A=1e-10)):
        net = ResistiveNetwork.random((30, 40, 20, 5), np.random.default_rng(0), diode=diode, input_gain=3.0)
        x = np.random.default_rng(1).random((37, 30))
        r = settle(net, x, tol_A=1e-14)
        for a in (r.voltages_V, r.residual_A, r.sweeps):
            h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest())
    """
)


def _digest(threads: int) -> str:
    return script_digest(SCRIPT, threads)


def test_same_numbers_at_one_and_two_threads():
    assert _digest(1) == _digest(2)


GOOD = dict(layer_sizes=(2, 2, 1), conductances_S=(np.full((4, 2), 1e-6), np.full((2, 1), 1e-6)))


@pytest.mark.parametrize("change, match", [
    (dict(conductances_S=(np.full((4, 2), -1e-6), np.full((2, 1), 1e-6))), r"conductances_S\[0\]: conductances must be >= 0"),
    (dict(g_min_S=2e-5, g_max_S=1e-5), r"g_min_S: must be < g_max_S"),
    (dict(g_min_S=1e-5, g_max_S=1e-5), r"g_min_S: must be < g_max_S"),
    (dict(diode=ShockleyDiode), None),
    (dict(input_gain=float("inf")), r"input_gain: must be a finite number > 0, got inf"),
    (dict(input_gain=float("nan")), r"input_gain: must be a finite number > 0, got nan"),
    (dict(layer_sizes=(2, 0, 1)), r"layer_sizes\[1\]: must be an integer >= 1, got 0"),
], ids=["negative-g", "gmin-above-gmax", "gmin-equals-gmax", "diode-class", "gain-inf", "gain-nan", "layer-0"])
def test_bad_network_fields_are_named(change, match):
    with pytest.raises(ParameterError, match=match or r"diode: must be IdealDiode\(\)"):
        ResistiveNetwork(**{**GOOD, **change})


@pytest.mark.parametrize("field, value", [("i_s_A", 0.0), ("i_s_A", -1e-12), ("n", 0.0), ("n", -1.0),
                                          ("v_t_V", float("nan"))])
def test_bad_diode_fields_are_named(field, value):
    with pytest.raises(ParameterError, match=rf"^ShockleyDiode\.{field}: must be a finite number > 0, got "):
        ShockleyDiode(**{field: value})


def test_bad_settle_arguments_are_named():
    net = ResistiveNetwork(**GOOD)
    with pytest.raises(ParameterError, match=r"x: must have shape \(B, 2\)"):
        settle(net, np.zeros((3, 5)))
    with pytest.raises(ParameterError, match=r"beta_S: .* total conductance <= 0"):
        settle(net, np.zeros((1, 2)), beta_S=-1.0, y=np.zeros((1, 1)))
    with pytest.raises(ParameterError, match=r"y: targets are needed"):
        settle(net, np.zeros((1, 2)), beta_S=1e-7)
