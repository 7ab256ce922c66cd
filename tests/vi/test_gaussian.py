"""The square-root Gaussian family against SciPy / NumPy references, and the tril½ map."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from common.vi import (
    SqrtGaussian,
    entropy,
    from_covariance,
    from_precision,
    gaussian_kl,
    log_density,
    sample,
    sqrt_gaussian,
    tril_half,
    unvech,
    vech,
)
from common.vi.gaussian import NotPositiveDefinite


def _random_q(d: int, seed: int) -> SqrtGaussian:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    return from_covariance(rng.standard_normal(d), A @ A.T + 0.5 * np.eye(d))


def _np(q):
    return q.mean.numpy(), (q.chol @ q.chol.T).numpy()


@pytest.mark.parametrize("d", [1, 3, 7])
def test_entropy_and_log_density_match_scipy(d):
    q = _random_q(d, d)
    m, S = _np(q)
    ref = stats.multivariate_normal(m, S)
    # float64 round-off on sums of d logs: 1e-12 is ~1e4 ulps of headroom
    assert float(entropy(q)) == pytest.approx(ref.entropy(), rel=1e-12, abs=1e-12)
    x = np.random.default_rng(1).standard_normal((5, d))
    np.testing.assert_allclose(log_density(q, x).numpy(), ref.logpdf(x), rtol=1e-11)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_kl_matches_numpy_formula(d):
    q, p = _random_q(d, 10 + d), _random_q(d, 20 + d)
    mq, Sq = _np(q)
    mp, Sp = _np(p)
    Pi = np.linalg.inv(Sp)
    ref = 0.5 * (np.trace(Pi @ Sq) + (mp - mq) @ Pi @ (mp - mq) - d
                 + np.linalg.slogdet(Sp)[1] - np.linalg.slogdet(Sq)[1])
    assert float(gaussian_kl(q, p)) == pytest.approx(ref, rel=1e-10)
    assert float(gaussian_kl(q, q)) == pytest.approx(0.0, abs=1e-12)


def test_sample_moments_and_antithetic():
    q = _random_q(3, 4)
    g = torch.Generator().manual_seed(0)
    x, u = sample(q, 200_000, g)
    m, S = _np(q)
    # mean: 5 standard errors of 200k draws
    se = np.sqrt(np.diag(S) / 200_000)
    assert np.all(np.abs(x.mean(0).numpy() - m) < 5 * se)
    np.testing.assert_allclose(np.cov(x.numpy().T), S, rtol=0.03, atol=0.03 * np.abs(S).max())
    x, u = sample(q, 10, g, antithetic=True)
    np.testing.assert_allclose(u.sum(0).numpy(), 0.0, atol=1e-15)
    np.testing.assert_allclose(x.mean(0).numpy(), m, atol=1e-12)


def test_from_precision_inverts():
    q = _random_q(4, 0)
    S = (q.chol @ q.chol.T)
    q2 = from_precision(q.mean, torch.linalg.inv(S))
    np.testing.assert_allclose((q2.chol @ q2.chol.T).numpy(), S.numpy(), rtol=1e-10)
    assert torch.all(torch.diagonal(q2.chol) > 0)
    with pytest.raises(NotPositiveDefinite, match="precision"):
        from_precision(np.zeros(2), -np.eye(2))


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="chol: expected shape"):
        sqrt_gaussian(np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="lower-triangular"):
        sqrt_gaussian(np.zeros(2), np.array([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="diagonal must be positive"):
        sqrt_gaussian(np.zeros(2), np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="mean: expected a vector"):
        sqrt_gaussian(np.zeros((2, 2)), np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        sqrt_gaussian([np.nan, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="num_samples"):
        sample(_random_q(2, 0), 0)
    with pytest.raises(ValueError, match="square"):
        tril_half(torch.zeros(2, 3))


_matrices = st.integers(1, 6).flatmap(
    lambda d: arrays(np.float64, (d, d), elements=st.floats(-1e3, 1e3, allow_nan=False)))


@settings(max_examples=25, deadline=None)
@given(_matrices)
def test_tril_half_splits_a_symmetric_matrix(A):
    """tril½(A) is lower-triangular, and tril½(A) + tril½(A)^T = A for symmetric A (Eq. (10))."""
    S = torch.as_tensor(A + A.T)
    T = tril_half(S)
    assert torch.equal(torch.triu(T, 1), torch.zeros_like(T))
    torch.testing.assert_close(T + T.T, S, rtol=0, atol=1e-12 * (1 + float(S.abs().max())))
    # against a loop-based NumPy reference
    d = A.shape[0]
    ref = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1):
            ref[i, j] = (0.5 if i == j else 1.0) * (A + A.T)[i, j]
    np.testing.assert_array_equal(T.numpy(), ref)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_vech_round_trip(d, seed):
    L = torch.tril(torch.randn(d, d, generator=torch.Generator().manual_seed(seed),
                               dtype=torch.float64))
    v = vech(L)
    assert v.shape == (d * (d + 1) // 2,)
    assert torch.equal(unvech(v, d), L)


def test_entropy_sign_flip_invariant():
    q = _random_q(3, 2)
    flipped = SqrtGaussian(q.mean, q.chol * torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64))
    assert float(entropy(flipped)) == pytest.approx(float(entropy(q)), abs=1e-14)
    assert math.isfinite(float(entropy(q)))
