"""Pauli propagation at Clifford points, the LCE guarantee and the gate tables.

Every value here is exact (0 or +-1, or integer-weighted sums of them), so comparisons with the
statevector simulator use 1e-10 (its round-off after a few hundred gates is ~1e-13).
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.quantum import (
    ANSATZE,
    Circuit,
    Gate,
    PauliBatch,
    clifford_cost,
    clifford_gradient,
    gradient_support,
    linear_clifford_encoder,
    mhea,
    random_pauli,
)
from common.quantum import statevector as sv
from common.quantum.circuit import GATES, PAULI_MATRICES
from common.quantum.lce import diagonaliser, lce_for, phase_inducer
from common.quantum.pauli_propagation import propagate, zero_expectation
from common.quantum.paulis import PauliSum, commutes
from tests.quantum.test_statevector import _random_circuit


def _dense(pauli: str, sign: int = 1) -> np.ndarray:
    m = np.ones((1, 1), dtype=complex)
    for c in pauli:
        m = np.kron(m, PAULI_MATRICES[c])
    return sign * m


@pytest.mark.parametrize("name", sorted(GATES))
def test_image_tables_match_the_matrices(name):
    """G^† P G for every Pauli P on the gate's qubits, signed propagation vs dense algebra."""
    spec = GATES[name]
    n = spec.num_qubits
    circ = Circuit(n, (Gate(name, tuple(range(n))),))
    g = spec.matrix
    for idx in range(4 ** n):
        p = "".join("IXYZ"[(idx >> (2 * i)) & 3] for i in range(n))
        out = propagate(circ, PauliBatch.from_strings([p]))
        expected = g.conj().T @ _dense(p) @ g
        got = _dense(out.letters()[0], int(out.signs()[0]))
        assert np.allclose(got, expected, atol=1e-12), (name, p)


@pytest.mark.parametrize("builder", ["mhea", "fhea", "rpqc"])
def test_clifford_cost_matches_statevector_at_clifford_points(builder):
    for seed in range(6):
        rng = random.Random(seed)
        n = 2 + seed % 4
        circ = ANSATZE[builder](n, 2, rng)
        obs = PauliSum.from_terms([(0.5, random_pauli(n, rng)), (-1.5, random_pauli(n, rng))])
        shifts = np.random.default_rng(seed).integers(-4, 5, size=(8, circ.num_params))
        np.testing.assert_allclose(clifford_cost(circ, obs, shifts),
                                   sv.cost(circ, obs, shifts * np.pi / 2), atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 100_000))
def test_propagation_on_random_circuits_with_multiqubit_rotations(n, seed):
    rng = random.Random(seed)
    circ = _random_circuit(n, 30, rng)
    p = random_pauli(n, rng)
    shifts = np.random.default_rng(seed).integers(-3, 4, size=(4, circ.num_params))
    np.testing.assert_allclose(clifford_cost(circ, p, shifts),
                               sv.cost(circ, p, shifts * np.pi / 2), atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 100_000))
def test_sign_free_support_equals_gradient_magnitude_at_zero(n, seed):
    rng = random.Random(seed)
    circ = ANSATZE[rng.choice(["mhea", "fhea", "rpqc"] if n >= 2 else ["mhea"])](n, 2, rng)
    p = random_pauli(n, rng)
    grad = sv.gradient(circ, p, np.zeros(circ.num_params))
    np.testing.assert_allclose(gradient_support(circ, p), np.abs(grad), atol=1e-10)
    np.testing.assert_allclose(clifford_gradient(circ, p), grad, atol=1e-10)


def test_signs_and_commutation_basics():
    assert commutes("XX", "YY") and not commutes("XI", "ZI")
    pb = PauliBatch.from_strings(["ZIZ", "XII", "IZI"], signs=[1, 1, -1])
    np.testing.assert_array_equal(zero_expectation(pb), [1.0, 0.0, -1.0])
    with pytest.raises(ValueError, match="integers"):
        clifford_cost(mhea(2, 1), "ZZ", np.full((1, 8), 0.5))


@pytest.mark.parametrize("builder", ["mhea", "fhea", "rpqc"])
def test_lce_guarantee_every_branch(builder):
    """C_LCE(0) = 0 and |d_k C_LCE(0)| = 1 (statevector, adjoint) over 4 x 40 random cases."""
    branches = Counter()
    for n in (2, 3, 5, 8):
        for seed in range(40):
            rng = random.Random(1000 * n + seed)
            circ = ANSATZE[builder](n, 2 if n < 8 else 1, rng)
            p = random_pauli(n, rng)
            k = rng.randint(0, circ.num_params - 1)
            lce = linear_clifford_encoder(circ, p, k)
            branches[lce.branch] += 1
            value, grad = sv.cost_and_grad(lce.circuit, p, np.zeros(circ.num_params))
            assert abs(value) < 1e-10
            assert abs(abs(grad[k]) - 1) < 1e-10
            assert gradient_support(lce.circuit, p)[k] == 1.0
            # the original circuit is untouched and embedded: Q, U, Q~ in time order
            assert lce.circuit.ops == lce.q_in + circ.ops + lce.q_out
    assert set(branches) >= {"anticommutes", "P_j = V", "P_j = I"}, branches


def test_lce_w2_branch_and_its_order_matters():
    """P_j = I with (W1^† P W1)_j = V needs W2 *before* W1 (notes pitfall 8)."""
    hits = 0
    for seed in range(400):
        rng = random.Random(seed)
        circ = mhea(4, 1)
        p = random_pauli(4, rng)
        k = rng.randint(0, circ.num_params - 1)
        lce = linear_clifford_encoder(circ, p, k)
        if lce.branch != "P_j = I + W2":
            continue
        hits += 1
        w2, w1 = lce.q_out[-2], lce.q_out[-1]
        swapped = lce.q_out[:-2] + (w1, w2)
        circ_swapped = circ.then(*swapped)
        shift = np.zeros(circ.num_params, dtype=int)
        shift[k] = 1
        q_in = diagonaliser(propagate(circ_swapped, PauliBatch.from_strings([p]), shift[None],
                                      signed=False).letters()[0])
        grad = sv.gradient(circ_swapped.after(*q_in), p, np.zeros(circ.num_params))
        assert abs(grad[k]) < 1e-10
    assert hits >= 3


def test_lce_phase_inducer_cases():
    circ = mhea(2, 1)  # params: RY q0 (0), RY q1 (1), RZ q0 (2), RZ q1 (3), CX(0,1), ...
    assert phase_inducer(circ, 0, "ZI")[-1:] == (Gate("cx", (0, 1)),)  # undo only: Z anticommutes Y
    assert phase_inducer(circ, 4, "YI")[-1] == Gate("s", (0,))          # P_j = V = Y -> S
    assert phase_inducer(circ, 6, "ZI")[-1] == Gate("h", (0,))          # P_j = V = Z -> H
    assert phase_inducer(circ, 7, "XI")[-1] == Gate("cx", (0, 1))       # P_j = I, P_i = X
    with pytest.raises(ValueError, match="parameter index"):
        linear_clifford_encoder(circ, "XI", 8)
    with pytest.raises(ValueError, match="term"):
        lce_for(circ, "XI", 0, term=1)


def test_gradient_norm_at_zero_vanishes_without_lce_at_depth():
    """Without the LCE, deep mHEAs at N = 10 have grad C(0) = 0 for every seed (notes Exp III)."""
    zeros = 0
    for seed in range(10):
        rng = random.Random(seed)
        p = random_pauli(10, rng)
        zeros += gradient_support(mhea(10, 10), p).sum() == 0
    assert zeros >= 9
