"""Exact IR drop: effective conductance matrix against an independent dense MNA solve,
closed forms and circuit invariants."""

from __future__ import annotations

import numpy as np
import pytest

from hardware_models.crossbar import ir_drop
from hardware_models.crossbar.ir_drop import WireResistances, effective_conductance

METHODS = ["blocks", "sparse"]


def dense_mna_currents(g: np.ndarray, v: np.ndarray, w: WireResistances) -> np.ndarray:
    """Modified nodal analysis of the documented circuit, written independently of the
    library: every cell has its own row and column node, zero resistances are 0 V sources,
    the sense amplifiers are 0 V sources whose currents are returned (dense solve)."""
    rows, cols = g.shape
    nodes: dict[str, int] = {}

    def node(name: str) -> int:
        if name == "0":
            return -1
        return nodes.setdefault(name, len(nodes))

    resistors, sources = [], []  # (a, b, ohm), (a, b, volts)

    def branch(a: str, b: str, ohm: float) -> None:
        if ohm > 0:
            resistors.append((node(a), node(b), ohm))
        else:
            sources.append((node(a), node(b), 0.0))

    for i in range(rows):
        sources.append((node(f"in{i}"), -1, float(v[i])))
        branch(f"in{i}", f"rd{i}", w.r_source_ohm)
        branch(f"rd{i}", f"r{i},0", w.r_row_segment_ohm)
        for j in range(1, cols):
            branch(f"r{i},{j - 1}", f"r{i},{j}", w.r_row_segment_ohm)
        for j in range(cols):
            if g[i, j] > 0:
                resistors.append((node(f"r{i},{j}"), node(f"c{i},{j}"), 1.0 / g[i, j]))
    sense = []
    for j in range(cols):
        branch(f"c0,{j}", f"cs{j}", w.r_col_segment_ohm)
        for i in range(1, rows):
            branch(f"c{i - 1},{j}", f"c{i},{j}", w.r_col_segment_ohm)
        branch(f"cs{j}", f"vg{j}", w.r_sense_ohm)
        sense.append(len(sources))
        sources.append((node(f"vg{j}"), -1, 0.0))
    n, m = len(nodes), len(sources)
    A = np.zeros((n + m, n + m))
    rhs = np.zeros(n + m)
    for a, b, ohm in resistors:
        c = 1.0 / ohm
        for p, q in ((a, b), (b, a)):
            if p >= 0:
                A[p, p] += c
                if q >= 0:
                    A[p, q] -= c
    for k, (a, b, volts) in enumerate(sources):
        if a >= 0:
            A[a, n + k] += 1.0
            A[n + k, a] += 1.0
        if b >= 0:
            A[b, n + k] -= 1.0
            A[n + k, b] -= 1.0
        rhs[n + k] = volts
    sol = np.linalg.solve(A, rhs)
    return sol[n + np.array(sense)]


WIRE_CASES = [
    WireResistances(2.5, 3.0, 100.0, 50.0),
    WireResistances(2.5, 0.0, 100.0, 50.0),  # single-node columns
    WireResistances(0.0, 3.0, 100.0, 50.0),  # single-node rows
    WireResistances(0.0, 0.0, 100.0, 50.0),
    WireResistances(2.5, 3.0, 0.0, 0.0),  # ideal drivers and sense amplifiers
    WireResistances(0.0, 3.0, 0.0, 0.0),  # rows at the source voltage
    WireResistances(2.5, 0.0, 0.0, 0.0),  # columns at virtual ground
    WireResistances(0.0, 0.0, 0.0, 20.0),
    WireResistances(0.0, 0.0, 20.0, 0.0),
]


@pytest.mark.parametrize("shape", [(5, 7), (7, 4), (1, 6), (6, 1), (1, 1)])
@pytest.mark.parametrize("wires", WIRE_CASES, ids=lambda w: "-".join(f"{v:g}" for v in w.to_dict().values()))
def test_effective_conductance_matches_dense_mna(shape, wires):
    rng = np.random.default_rng(sum(shape))
    g = rng.uniform(1e-6, 25e-6, shape)
    g.flat[0] = 0.0  # an open (stuck at 0 S) cell
    v = rng.uniform(-0.2, 0.2, shape[0])
    want = dense_mna_currents(g, v, wires)
    scale = np.abs(want).max()
    for method in METHODS:
        got = v @ effective_conductance(g, wires, method=method)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(ir_drop.solve_column_currents(g, v, wires), want, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("method", METHODS)
def test_zero_wire_resistance_gives_g_exactly(method):
    g = np.random.default_rng(1).uniform(0, 25e-6, (9, 13))
    np.testing.assert_array_equal(effective_conductance(g, WireResistances(), method=method), g)
    np.testing.assert_array_equal(effective_conductance(g, None, method=method), g)


def test_single_cell_closed_form():
    # one cell: every element is in series
    w = WireResistances(1.5, 2.0, 30.0, 40.0)
    g = np.array([[1e-4]])
    expected = 1.0 / (w.r_source_ohm + w.r_row_segment_ohm + 1e4 + w.r_col_segment_ohm + w.r_sense_ohm)
    for method in METHODS:
        assert effective_conductance(g, w, method=method)[0, 0] == pytest.approx(expected, rel=1e-13)


def test_two_cells_on_one_row_closed_form():
    # 1 x 2, columns ideal (r_col = r_sense = 0): the row is a ladder
    r_s, r_w, g0, g1 = 10.0, 5.0, 1e-3, 2e-3
    w = WireResistances(r_w, 0.0, r_s, 0.0)
    # far cell: r_w in series with 1/g1; in parallel with 1/g0 at node 0; fed through r_s + r_w
    z_tail = r_w + 1.0 / g1
    z_node = 1.0 / (g0 + 1.0 / z_tail)
    v_node = z_node / (r_s + r_w + z_node)  # per volt of the source
    expected = np.array([[g0 * v_node, v_node / z_tail]])
    for method in METHODS:
        np.testing.assert_allclose(effective_conductance(np.array([[g0, g1]]), w, method=method), expected, rtol=1e-13)


def test_currents_decrease_monotonically_with_wire_resistance():
    rng = np.random.default_rng(2)
    g = rng.uniform(1e-6, 25e-6, (24, 16))
    v = rng.uniform(0.05, 0.2, 24)  # all positive: every column current is positive
    previous = v @ g
    for r in (0.5, 1.0, 2.0, 5.0, 20.0):
        current = v @ effective_conductance(g, WireResistances(r, r, 10 * r, 10 * r))
        assert np.all(current > 0) and np.all(current < previous)
        previous = current


@pytest.mark.parametrize("method", METHODS)
def test_reciprocity_backward_read_is_transpose(method):
    # With equal driver and sense resistances the port network is the same in both
    # directions, and a reciprocal network has a symmetric transfer admittance.
    g = np.random.default_rng(3).uniform(1e-6, 25e-6, (10, 6))
    w = WireResistances(2.0, 3.5, 40.0, 40.0)
    forward = effective_conductance(g, w, method=method)
    backward = effective_conductance(g.T, w.transposed(), method=method)
    np.testing.assert_allclose(backward, forward.T, rtol=1e-10)


def test_structured_and_sparse_agree_on_a_larger_tile():
    g = np.random.default_rng(4).uniform(1e-6, 25e-6, (64, 48))
    w = WireResistances(1.0, 1.0, 100.0, 100.0)
    a = ir_drop.effective_conductance_blocks(g, w)
    b = ir_drop.effective_conductance_sparse(g, w, chunk=20)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())
    # superposition: one operating point equals the matrix product
    v = np.random.default_rng(5).uniform(-0.2, 0.2, 64)
    np.testing.assert_allclose(ir_drop.solve_column_currents(g, v, w), v @ a, rtol=0, atol=1e-10 * np.abs(v @ a).max())


def test_nodal_system_is_symmetric_positive_definite():
    g = np.random.default_rng(6).uniform(1e-6, 25e-6, (4, 5))
    sys = ir_drop.nodal_system(g, WireResistances(1.0, 2.0, 10.0, 10.0))
    K = sys.K.toarray()
    assert K.shape == (2 * 4 * 5, 2 * 4 * 5)
    np.testing.assert_allclose(K, K.T)
    assert np.all(np.linalg.eigvalsh(K) > 0)


@pytest.mark.parametrize("field", ["r_row_segment_ohm", "r_col_segment_ohm", "r_source_ohm", "r_sense_ohm"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_wire_resistances(field, bad):
    with pytest.raises(ValueError, match=f"wires.{field}"):
        WireResistances(**{field: bad})


def test_bad_wire_types_and_conductances():
    with pytest.raises(TypeError, match="wires.r_source_ohm"):
        WireResistances(r_source_ohm="10")
    with pytest.raises(ValueError, match="missing"):
        WireResistances.from_dict({"r_row_segment_ohm": 1.0})
    with pytest.raises(TypeError, match="WireResistances"):
        effective_conductance(np.ones((2, 2)), {"r_source_ohm": 1.0})
    with pytest.raises(ValueError, match="negative"):
        effective_conductance(np.array([[1e-6, -1e-6]]), WireResistances(1, 1, 1, 1))
    with pytest.raises(ValueError, match="NaN or inf"):
        effective_conductance(np.array([[1e-6, np.nan]]), WireResistances(1, 1, 1, 1))
    with pytest.raises(ValueError, match="2-D"):
        effective_conductance(np.ones(3), WireResistances())
    with pytest.raises(ValueError, match="method"):
        effective_conductance(np.ones((2, 2)), WireResistances(), method="dense")
    with pytest.raises(ValueError, match="v_rows"):
        ir_drop.solve_column_currents(np.ones((2, 2)), np.ones(3), WireResistances())
    assert WireResistances.from_dict(WireResistances(1, 2, 3, 4).to_dict()) == WireResistances(1, 2, 3, 4)
