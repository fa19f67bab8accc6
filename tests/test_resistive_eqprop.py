"""EqProp on deep resistive networks (issue 18) against the implicit gradient and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from analogeq.train.resistive_eqprop import (
    ResistiveEqPropConfig,
    eqprop_gradients,
    implicit_gradients,
    targets_V,
    train_step,
)
from hardware_models.params import ParameterError
from hardware_models.resistive import IdealDiode, ResistiveNetwork, ShockleyDiode, settle

DIODES = {"ideal": IdealDiode(), "shockley": ShockleyDiode(i_s_A=1e-10, n=1.2)}


def _case(diode, sizes=(10, 16, 8, 4), batch=8, seed=0):
    rng = np.random.default_rng(seed)
    net = ResistiveNetwork.random(sizes, rng, diode=diode, input_gain=2.0)
    return net, rng.random((batch, sizes[0])), targets_V(rng.integers(0, sizes[-1], batch), sizes[-1], 0.3)


def _cosine(a, b):
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", sorted(DIODES))
def test_eqprop_matches_the_implicit_gradient_for_every_matrix(name):
    net, x, t = _case(DIODES[name])
    exact, exact_b, _ = implicit_gradients(net, x, t, tol_A=1e-18)
    ep, ep_b, _ = eqprop_gradients(net, x, t, 1e-6, tol_A=1e-18)
    cosines = [_cosine(a, b) for a, b in zip(exact + exact_b, ep + ep_b)]
    assert min(cosines) >= 0.99, cosines
    # and not by accident: the gradient for targets in another direction from the outputs disagrees
    free = settle(net, x, tol_A=1e-18).output_V
    other_t = free + np.random.default_rng(9).normal(0.0, 0.1, free.shape)
    other, _, _ = implicit_gradients(net, x, other_t, tol_A=1e-18)
    assert _cosine(other[-1], ep[-1]) < 0.9


@pytest.mark.parametrize("name", sorted(DIODES))
def test_implicit_gradient_matches_central_finite_differences(name):
    net, x, t = _case(DIODES[name], sizes=(3, 4, 2), batch=3, seed=1)
    exact, exact_b, _ = implicit_gradients(net, x, t, tol_A=1e-20)

    def loss(n):
        return 0.5 * ((settle(n, x, tol_A=1e-21).output_V - t) ** 2).sum()

    h = 1e-11
    for k, g in enumerate(net.conductances_S):
        fd = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            plus = [m.copy() for m in net.conductances_S]
            minus = [m.copy() for m in net.conductances_S]
            plus[k][idx] += h
            minus[k][idx] -= h
            fd[idx] = (loss(net.with_conductances(plus)) - loss(net.with_conductances(minus))) / (2 * h)
        np.testing.assert_allclose(exact[k], fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_a_step_projects_into_the_range_and_lowers_the_loss():
    net, x, t = _case(IdealDiode(), batch=16)
    labels = t.argmax(axis=1)
    config = ResistiveEqPropConfig(beta_S=1e-6, target_V=0.3, lr=0.5, tol_A=1e-14)
    first = None
    for _ in range(15):
        net, loss = train_step(net, x, labels, config)
        first = loss if first is None else first
        for g in net.conductances_S + net.bias_conductances_S:
            assert g.min() >= net.g_min_S and g.max() <= net.g_max_S
    assert loss < 0.9 * first, (first, loss)


def test_bad_config_is_named():
    with pytest.raises(ParameterError, match=r"^ResistiveEqPropConfig\.beta_S: must be a finite number > 0"):
        ResistiveEqPropConfig(beta_S=0.0)


@pytest.mark.parametrize("name", sorted(DIODES))
def test_a_linear_driver_layer_keeps_eqprop_equal_to_the_implicit_gradient(name):
    # the input drivers behind a series resistance are a hidden layer without diodes
    from hardware_models.resistive.wires import with_source_resistance

    net, x, t = _case(DIODES[name])
    wired = with_source_resistance(net, 5e3)
    assert (wired.signs()[:20] == 0).all() and (wired.signs()[20:36] != 0).all()
    exact, exact_b, _ = implicit_gradients(wired, x, t, tol_A=1e-18)
    ep, ep_b, _ = eqprop_gradients(wired, x, t, 1e-6, tol_A=1e-18)
    cosines = [_cosine(a, b) for a, b in zip(exact[1:] + exact_b[1:], ep[1:] + ep_b[1:])]
    assert min(cosines) >= 0.99, cosines
    wire = np.diag(exact[0])  # the driver resistances' own gradient (off the diagonal: absent wires)
    assert _cosine(wire, np.diag(ep[0])) >= 0.99
