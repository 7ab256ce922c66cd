"""GLM potentials against torch.autograd; Gaussian targets against SciPy's evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from common.vi import (
    LIKELIHOODS,
    GaussianLikelihood,
    GaussianPotential,
    GLMPotential,
    sqrt_gaussian,
)


def _data(likelihood: str, n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if likelihood in ("logistic", "probit"):
        y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    elif likelihood == "poisson":
        X = 0.3 * X
        y = rng.poisson(1.5, n).astype(float)
    else:
        y = rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("likelihood", sorted(LIKELIHOODS))
def test_grad_and_hess_match_autograd(likelihood):
    X, y = _data(likelihood)
    P = GLMPotential(X, y, likelihood, prior_precision=0.7, scale=1.3)
    theta = torch.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    V = P.value(theta)
    (g,) = torch.autograd.grad(V.sum(), theta)
    # analytic formulas vs reverse mode: identical up to float64 round-off in O(n) sums
    torch.testing.assert_close(P.grad(theta.detach()), g, rtol=1e-11, atol=1e-11)
    for k in range(3):
        H = torch.autograd.functional.hessian(lambda t: P.value(t), theta.detach()[k])
        torch.testing.assert_close(P.hess(theta.detach()[k]), H, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(P.mean_hess(theta.detach()), P.hess(theta.detach()).mean(0))


def test_probit_is_stable_in_the_tail():
    P = GLMPotential(np.ones((1, 1)), np.ones(1), "probit", prior_precision=1.0)
    t = torch.tensor([[-40.0]], dtype=torch.float64)
    assert torch.isfinite(P.value(t)).all() and torch.isfinite(P.hess(t)).all()
    # l(a) = -log Phi(a) has l''(a) -> 1 as a -> -inf (Mills ratio); plus the prior precision 1
    assert float(P.hess(t)[0, 0, 0]) == pytest.approx(1.0 + 1.0, rel=1e-3)


def test_linear_regression_posterior_matches_glm_and_evidence():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    noise_var, lam = 0.4, 2.0
    G = GaussianPotential.from_linear_regression(X, y, noise_var=noise_var, prior_precision=lam)
    glm = GLMPotential(X, y, GaussianLikelihood(noise_var=noise_var), prior_precision=lam)
    theta = rng.standard_normal((5, 3))
    np.testing.assert_allclose(G.value(theta).numpy(), glm.value(theta).numpy(), rtol=1e-12)
    np.testing.assert_allclose(G.grad(theta).numpy(), glm.grad(theta).numpy(), atol=1e-10)
    # log Z = log p(y) + (d/2) log(2 pi / lambda): the GLM prior term carries no normaliser
    evidence = stats.multivariate_normal(np.zeros(30), noise_var * np.eye(30)
                                         + X @ X.T / lam).logpdf(y)
    assert G.log_normalizer() == pytest.approx(evidence + 1.5 * math.log(2 * math.pi / lam),
                                               rel=1e-11)
    q = G.optimum()
    ex = G.expectations(q)
    assert float(ex.value) - float(sum(torch.log(torch.diagonal(q.chol)))) - 1.5 * (
        1 + math.log(2 * math.pi)) == pytest.approx(G.min_negative_elbo(), rel=1e-12)


def test_curvature_bound_dominates_the_hessian():
    X, y = _data("logistic")
    P = GLMPotential(X, y, "logistic")
    B = P.curvature_bound()
    for t in np.random.default_rng(0).standard_normal((5, 4)) * 3:
        assert float(torch.linalg.eigvalsh(B - P.hess(t)).min()) >= -1e-12
    q0 = P.bohning_init()
    np.testing.assert_allclose((q0.chol @ q0.chol.T).numpy(), np.linalg.inv(B.numpy()),
                               rtol=1e-10)
    with pytest.raises(ValueError, match="unbounded curvature"):
        GLMPotential(*_data("poisson"), "poisson").curvature_bound()


def test_minibatch_is_unbiased_over_a_partition():
    X, y = _data("logistic", n=12)
    P = GLMPotential(X, y, "logistic", prior_precision=0.5)
    theta = torch.tensor(np.random.default_rng(2).standard_normal(4))
    parts = [P.minibatch(idx) for idx in np.split(np.arange(12), 4)]
    assert parts[0].scale == pytest.approx(4.0)
    np.testing.assert_allclose(np.mean([float(p.value(theta)) for p in parts]),
                               float(P.value(theta)), rtol=1e-13)


def test_bad_input_is_named():
    X, y = _data("logistic")
    with pytest.raises(ValueError, match="likelihood='nope'"):
        GLMPotential(X, y, "nope")
    with pytest.raises(ValueError, match=r"labels in \{-1, \+1\}"):
        GLMPotential(X, (y > 0).astype(float), "logistic")
    with pytest.raises(ValueError, match="prior_precision"):
        GLMPotential(X, y, "logistic", prior_precision=0.0)
    with pytest.raises(ValueError, match="X must be"):
        GLMPotential(X, y[:-1], "logistic")
    with pytest.raises(ValueError, match="non-negative integer"):
        GLMPotential(X, np.full(len(y), 0.5), "poisson")
    with pytest.raises(ValueError, match="noise_var"):
        GaussianLikelihood(noise_var=-1.0)
    with pytest.raises(ValueError, match="positive definite"):
        GaussianPotential(-np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match="theta: last dimension"):
        GLMPotential(X, y).value(np.zeros(3))
    with pytest.raises(ValueError, match="dimension"):
        from common.vi import GLMQuadrature
        GLMQuadrature(GLMPotential(X, y))(sqrt_gaussian(np.zeros(2), np.eye(2)))
