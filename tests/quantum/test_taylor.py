"""The Taylor surrogate: shift rule, cache counts, error bound, truncation orders."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.quantum import (
    TaylorSurrogate,
    linear_clifford_encoder,
    mhea,
    naive_count,
    random_pauli,
    shift_count,
    truncation_order,
    truncation_order_official,
)
from common.quantum import statevector as sv
from common.quantum.taylor import multi_indices, shift_weights, truncation_bound


def test_counts_match_enumeration_and_the_notes():
    """Notes (section 5, pilot and errata): D = 12 needs 1, 24, 288, 2312 new evaluations."""
    for d in (1, 3, 12):
        for m in (1, 2, 3, 4):
            alphas = multi_indices(d, m)
            assert len(alphas) == math.comb(d + m - 1, m - 1)
            shifts = {s for a in alphas for s in shift_weights(a)}
            assert len(shifts) == shift_count(d, m)
            assert naive_count(d, m) == sum(int(np.prod(a + 1)) for a in alphas)
    assert [shift_count(12, m) - shift_count(12, m - 1) for m in (2, 3, 4)] == [24, 288, 2312]
    assert naive_count(4, 2) == 9 and naive_count(4, 3) == 45  # official Exp I, N = 1


def test_shift_rule_reproduces_derivatives_of_a_trig_polynomial():
    """f(x) = prod_k (a_k + b_k cos x_k + c_k sin x_k): derivatives in closed form."""
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 3))

    def f(s):
        x = np.asarray(s) * np.pi / 2
        return np.prod(a + b * np.cos(x) + c * np.sin(x))

    derivs = [lambda j: a[j] + b[j], lambda j: c[j], lambda j: -b[j], lambda j: -c[j]]
    for alpha in multi_indices(3, 4):
        got = sum(w * f(s) for s, w in shift_weights(alpha).items())
        want = np.prod([derivs[alpha[j] % 4](j) if alpha[j] else a[j] + b[j] for j in range(3)])
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("use_lce", [False, True])
def test_surrogate_error_obeys_the_bound(use_lce):
    n = 3
    circ = mhea(n, 1)
    d = circ.num_params
    for seed in range(4):
        rng = random.Random(seed)
        p = random_pauli(n, rng)
        c = linear_clifford_encoder(circ, p, rng.randint(0, d - 1)).circuit if use_lce else circ
        sur = TaylorSurrogate(c, p, order=4)
        assert sur.new_evaluations == [shift_count(d, 4)]
        theta = np.random.default_rng(seed).normal(0, d ** -0.5, size=(5, d))
        exact = sv.cost(c, p, theta)
        for m in (1, 2, 3, 4):
            err = np.abs(sur(theta, order=m) - exact)
            assert np.all(err <= sur.error_bound(theta, order=m) + 1e-12)


def test_surrogate_is_exact_on_monomials_and_caches_across_orders():
    circ = mhea(2, 1)
    p = "XZ"
    sur = TaylorSurrogate(circ, p)
    for m in (1, 2, 3):
        sur.extend(m)
    assert sur.new_evaluations == [1, 16, 128]
    assert sur.num_evaluations == shift_count(8, 3)
    # the first-order coefficients are the gradient at 0
    grad = sv.gradient(circ, p, np.zeros(8))
    np.testing.assert_allclose(sur.coeffs[1:9], grad, atol=1e-12)
    with pytest.raises(ValueError, match="build"):
        sur(np.zeros(8), order=5)


@settings(max_examples=200, deadline=None)
@given(l1=st.floats(0, 1e6), eps=st.sampled_from([1e-3, 1e-6, 1e-9]))
def test_truncation_order_is_the_smallest_m(l1, eps):
    m = truncation_order(l1, eps)
    assert m >= 1
    assert truncation_bound(l1, m) <= eps * (1 + 1e-9)
    if m > 1:
        assert truncation_bound(l1, m - 1) > eps * (1 - 1e-9)


def test_official_rule_agrees_with_the_exact_order():
    """Direct search (<= 30) is exact; the Lambert-W closed form stays within 1 of it."""
    for l1 in np.geomspace(1e-3, 1e8, 60):
        exact = truncation_order(float(l1), 1e-6)
        official = truncation_order_official(float(l1), 1e-6)
        assert abs(official - exact) <= (0 if exact < 30 else 1), (l1, exact, official)
    assert truncation_order_official(0.0, 1e-6) == 1
    with pytest.raises(ValueError, match="eps"):
        truncation_order(1.0, 0.0)
