"""Monte Carlo estimators: unbiasedness against quadrature, symmetry, exactness on quadratics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from common.vi import (
    GaussianPotential,
    GLMPotential,
    GLMQuadrature,
    MonteCarlo,
    bonnet_hessian,
    from_covariance,
    price_hessian,
)


def _problem(seed=0, n=60, d=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    A = rng.standard_normal((d, d)) * 0.4
    q = from_covariance(rng.standard_normal(d) * 0.2, A @ A.T + 0.1 * np.eye(d))
    return GLMPotential(X, y, "logistic", prior_precision=1.0), q


@pytest.mark.parametrize("hessian", [price_hessian, bonnet_hessian])
def test_mean_of_many_estimates_matches_quadrature(hessian):
    """100 independent estimates of 40 draws: their mean is within 5 standard errors of the
    quadrature value (entrywise), i.e. no bias visible at this resolution."""
    P, q = _problem()
    exact = GLMQuadrature(P)(q)
    est = MonteCarlo(P, 40, hessian=hessian, seed=1)
    draws = [est(q) for _ in range(100)]
    for k, ref in enumerate(exact):
        vals = torch.stack([d[k] for d in draws]).numpy()
        se = vals.std(0) / math.sqrt(len(vals))
        assert np.all(np.abs(vals.mean(0) - ref.numpy()) <= 5 * se + 1e-12), k


def test_bonnet_is_symmetric_and_price_is_exact_on_a_quadratic():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((4, 4))
    G = GaussianPotential(B @ B.T + np.eye(4), rng.standard_normal(4))
    q = from_covariance(np.zeros(4), np.eye(4) * 0.5)
    ex = MonteCarlo(G, 1, hessian=price_hessian, seed=0)(q)
    torch.testing.assert_close(ex.hess, G.A)          # hess V is constant: one draw is exact
    H = MonteCarlo(G, 3, hessian=bonnet_hessian, seed=0)(q).hess
    torch.testing.assert_close(H, H.T, rtol=0, atol=0)
    # antithetic pairs make the gradient estimate exact for an affine gradient
    ga = MonteCarlo(G, 8, seed=3, antithetic=True)(q).grad
    torch.testing.assert_close(ga, G.expectations(q).grad, rtol=1e-12, atol=1e-12)


def test_same_seed_same_stream_and_minibatch_scaling():
    P, q = _problem()
    a = MonteCarlo(P, 4, batch_size=10, seed=7)
    b = MonteCarlo(P, 4, batch_size=10, seed=7)
    for _ in range(3):
        ea, eb = a(q), b(q)
        assert torch.equal(ea.grad, eb.grad) and torch.equal(ea.hess, eb.hess)
    c = MonteCarlo(P, 4, batch_size=10, seed=8)
    assert not torch.equal(c(q).grad, MonteCarlo(P, 4, batch_size=10, seed=7)(q).grad)


def test_bad_arguments_are_named():
    P, _ = _problem()
    with pytest.raises(ValueError, match="hessian='nope'"):
        MonteCarlo(P, 2, hessian="nope")
    with pytest.raises(ValueError, match="num_samples"):
        MonteCarlo(P, 0)
    with pytest.raises(ValueError, match="batch_size"):
        MonteCarlo(P, 2, batch_size=1000)
    G = GaussianPotential(np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match="no data rows"):
        MonteCarlo(G, 2, batch_size=1)
