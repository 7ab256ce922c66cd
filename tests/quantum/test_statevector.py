"""The NumPy statevector simulator against dense matrices and finite differences.

Tolerances: values against dense matrix products agree to round-off (1e-12 for N <= 5, where a
state has at most 32 amplitudes and a circuit ~100 gates); adjoint gradients against central
differences with h = 1e-5 agree to 1e-10 (truncation h^2/6 < 2e-11, round-off ~1e-11; see
``finite_difference_gradient``).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.quantum import (
    Circuit,
    Gate,
    PauliSum,
    Rotation,
    fhea,
    mhea,
    random_pauli,
    rpqc,
)
from common.quantum import statevector as sv
from common.quantum.circuit import GATES, PAULI_MATRICES, rotation_matrix


def _random_circuit(n: int, num_ops: int, rng: random.Random) -> Circuit:
    """Random gates, single- and two-qubit Pauli rotations (one parameter each)."""
    ops, k = [], 0
    for _ in range(num_ops):
        kind = rng.random()
        if kind < 0.35 and n >= 2:
            name = rng.choice(["cx", "cz", "swap"])
            ops.append(Gate(name, tuple(rng.sample(range(n), 2))))
        elif kind < 0.55:
            ops.append(Gate(rng.choice(["h", "s", "sdg", "x", "y", "z"]), (rng.randrange(n),)))
        elif kind < 0.9 or n < 2:
            ops.append(Rotation(rng.choice("XYZ"), (rng.randrange(n),), k))
            k += 1
        else:
            qs = tuple(rng.sample(range(n), 2))
            ops.append(Rotation(rng.choice("XYZ") + rng.choice("XYZ"), qs, k))
            k += 1
    return Circuit(n, tuple(ops))


def _observable(n: int, rng: random.Random) -> PauliSum:
    return PauliSum.from_terms([(rng.uniform(-1, 1), random_pauli(n, rng)) for _ in range(3)])


def test_gate_matrices_are_unitary_and_inverses_match():
    for name, spec in GATES.items():
        m = spec.matrix
        assert np.allclose(m.conj().T @ m, np.eye(len(m)), atol=1e-14), name
        inv = GATES[Gate(name, tuple(range(spec.num_qubits))).inverse().name].matrix
        assert np.allclose(inv @ m, np.eye(len(m)), atol=1e-14), name


def test_rotation_matrix_is_the_exponential():
    from scipy.linalg import expm

    for p in ["X", "Y", "Z", "XY", "ZZ"]:
        gen = np.ones((1, 1))
        for c in p:
            gen = np.kron(gen, PAULI_MATRICES[c])
        assert np.allclose(rotation_matrix(p, 0.7), expm(-0.35j * gen), atol=1e-14)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_state_and_cost_match_dense_matrices(n):
    rng = random.Random(n)
    circ = _random_circuit(n, 40, rng)
    obs = _observable(n, rng)
    theta = np.random.default_rng(n).normal(size=(3, circ.num_params))
    for th, value in zip(theta, sv.cost(circ, obs, theta)):
        psi = circ.matrix(th)[:, 0]
        assert np.allclose(sv.run(circ, th), psi, atol=1e-12)
        assert value == pytest.approx(np.real(psi.conj() @ obs.matrix() @ psi), abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_adjoint_gradient_matches_finite_differences(n):
    rng = random.Random(10 + n)
    circ = _random_circuit(n, 50, rng)
    obs = _observable(n, rng)
    theta = np.random.default_rng(n).normal(size=circ.num_params)
    value, grad = sv.cost_and_grad(circ, obs, theta)
    assert value == pytest.approx(sv.cost(circ, obs, theta), abs=1e-13)
    np.testing.assert_allclose(grad, sv.finite_difference_gradient(circ, obs, theta), atol=1e-10)


def test_batched_gradient_equals_one_by_one():
    circ = mhea(4, 2)
    obs = _observable(4, random.Random(3))
    theta = np.random.default_rng(0).normal(size=(5, circ.num_params))
    values, grads = sv.cost_and_grad(circ, obs, theta)
    for b in range(5):
        v, g = sv.cost_and_grad(circ, obs, theta[b])
        assert values[b] == pytest.approx(v, abs=1e-14)
        np.testing.assert_allclose(grads[b], g, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_norm_is_preserved_and_pauli_costs_are_bounded(n, seed):
    rng = random.Random(seed)
    circ = _random_circuit(n, 20, rng)
    theta = np.random.default_rng(seed).uniform(-np.pi, np.pi, size=(2, circ.num_params))
    psi = sv.run(circ, theta)
    np.testing.assert_allclose(np.linalg.norm(psi, axis=1), 1.0, atol=1e-12)
    p = random_pauli(n, rng)
    c, g = sv.cost_and_grad(circ, p, theta)
    assert np.all(np.abs(c) <= 1 + 1e-12)
    assert np.all(np.abs(g) <= 1 + 1e-12)  # |d_k C| <= ||P|| = 1 (shift rule)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(0, 11))
def test_parameter_shift_rule_is_exact(seed, k):
    circ = mhea(3, 1)
    p = random_pauli(3, random.Random(seed))
    theta = np.random.default_rng(seed).normal(size=circ.num_params)
    e = np.eye(circ.num_params)[k] * np.pi / 2
    shift = (sv.cost(circ, p, theta + e) - sv.cost(circ, p, theta - e)) / 2
    assert sv.gradient(circ, p, theta)[k] == pytest.approx(shift, abs=1e-12)


def test_ansatz_parameter_counts():
    assert mhea(5, 3).num_params == 2 * 5 * 4
    assert fhea(4, 2).num_params == 3 * 4 * 3
    assert rpqc(4, 5, random.Random(0)).num_params == 4 * 5
    assert mhea(5, 3).count("cx") == 5 * 3
    assert fhea(4, 2).count("cx") == 6 * 2
    assert mhea(2, 3).count("cx") == 3  # circular on 2 qubits is the single CX(0, 1)


@pytest.mark.parametrize("bad, match", [
    (lambda: Circuit(2, (Rotation("X", (0,), 1),)), "0..D-1"),
    (lambda: Circuit(2, (Gate("cx", (0, 2)),)), "outside"),
    (lambda: Gate("cnot", (0, 1)), "allowed"),
    (lambda: Gate("cx", (1, 1)), "distinct"),
    (lambda: Rotation("XI", (0, 1), 0), "no 'I'"),
    (lambda: sv.cost(mhea(2, 1), "XYZ", np.zeros(8)), "3 qubits"),
    (lambda: sv.cost(mhea(2, 1), "XA", np.zeros(8)), "not Pauli letters"),
    (lambda: sv.cost(mhea(2, 1), "XZ", np.zeros(7)), r"expected \(8,\)"),
    (lambda: sv.cost(mhea(2, 1), "XZ", np.full(8, np.nan)), "non-finite"),
])
def test_bad_input_names_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
