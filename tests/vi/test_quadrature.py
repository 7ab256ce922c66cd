"""Quadrature expectations against adaptive 1-D integration, closed forms and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import expit, log_expit, log_ndtr

from common.vi import (
    GaussHermite,
    GaussianLikelihood,
    GaussianPotential,
    GLMPotential,
    GLMQuadrature,
    Trapezoid,
    from_covariance,
    gaussian_expectation_1d,
)

# l, l', l'' of the logistic likelihood at y = +1, written with SciPy (independent of torch)
_LOGISTIC = (lambda a: -log_expit(a), lambda a: -expit(-a), lambda a: expit(a) * expit(-a))
_PROBIT_V = (lambda a: -log_ndtr(a),)


def _adaptive(f, mu, s):
    """E f(a), a ~ N(mu, s^2), by scipy.integrate.quad on [mu - 12 s, mu + 12 s] with the
    kink of the logistic (a = 0) and the mode as breakpoints."""
    def g(a):
        return f(a) * math.exp(-0.5 * ((a - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    lo, hi = mu - 12 * s, mu + 12 * s
    points = [p for p in (0.0, mu) if lo < p < hi]
    val, _ = integrate.quad(g, lo, hi, points=points or None, limit=400, epsabs=1e-15,
                            epsrel=1e-13)
    return val


@pytest.mark.parametrize("mu", [0.0, 3.0, -20.0])
@pytest.mark.parametrize("s", [0.05, 1.0, 3.0, 10.0, 30.0])
def test_trapezoid_matches_adaptive_quadrature(mu, s):
    """The default rule is exact to ~1e-14 over the predictor scales the notebooks meet (s up to
    ~25 at the prior); the tolerance 1e-12 leaves room for quad's own error (~1e-14)."""
    for f in _LOGISTIC + _PROBIT_V:
        got = float(gaussian_expectation_1d(lambda a, f=f: torch.as_tensor(f(a.numpy())), [mu],
                                            [s])[0])
        ref = _adaptive(f, mu, s)
        assert abs(got - ref) <= 1e-12 * max(1.0, abs(ref)), (f, got, ref)


def test_gauss_hermite_40_is_not_exact_at_large_scale():
    """The notes' K = 40 Gauss-Hermite plan loses accuracy when s is large (poles of the
    logistic at distance pi / s from the real axis): documented in common.vi.quadrature."""
    f = _LOGISTIC[2]
    ref = _adaptive(f, 0.0, 10.0)
    gh = float(gaussian_expectation_1d(lambda a: torch.as_tensor(f(a.numpy())), [0.0], [10.0],
                                       GaussHermite(40))[0])
    assert abs(gh - ref) > 1e-4
    small = float(gaussian_expectation_1d(lambda a: torch.as_tensor(f(a.numpy())), [0.0], [0.5],
                                          GaussHermite(40))[0])
    assert small == pytest.approx(_adaptive(f, 0.0, 0.5), abs=1e-13)


def test_trapezoid_levels():
    rule = Trapezoid()
    s = torch.tensor([0.01, 1.0, 1.2, 2.0, 9.0, 1e6], dtype=torch.float64)
    assert rule.levels(s).tolist() == [0, 1, 1, 2, 4, 7]  # s <= 0.952 * 2^b at eps = 1e-18
    with pytest.raises(ValueError, match="eps"):
        Trapezoid(eps=2.0)


def _q(d, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) * scale
    return from_covariance(rng.standard_normal(d) * 0.3, A @ A.T + scale ** 2 * np.eye(d))


def test_gaussian_glm_quadrature_equals_closed_form():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((25, 3)), rng.standard_normal(25)
    glm = GLMPotential(X, y, GaussianLikelihood(noise_var=0.3), prior_precision=1.5)
    closed = GaussianPotential.from_linear_regression(X, y, noise_var=0.3, prior_precision=1.5)
    q = _q(3, 1)
    for rule in (Trapezoid(), GaussHermite(10)):
        a, b = GLMQuadrature(glm, rule)(q), closed.expectations(q)
        # polynomial integrands: both rules are exact; round-off of sums of ~1e2 terms
        assert float(a.value) == pytest.approx(float(b.value), rel=1e-13)
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-11)
        torch.testing.assert_close(a.hess, b.hess, rtol=1e-12, atol=1e-11)


def test_poisson_quadrature_equals_closed_form():
    """E exp(a) = exp(mu + s^2/2) for a ~ N(mu, s^2): closed forms of all three expectations."""
    rng = np.random.default_rng(1)
    X = 0.4 * rng.standard_normal((30, 3))
    y = rng.poisson(2.0, 30).astype(float)
    P = GLMPotential(X, y, "poisson", prior_precision=1.0)
    q = _q(3, 2)
    ex = GLMQuadrature(P)(q)
    m, S = q.mean.numpy(), (q.chol @ q.chol.T).numpy()
    mu, s2 = X @ m, np.einsum("ni,ij,nj->n", X, S, X)
    e = np.exp(mu + s2 / 2)
    value = (e - y * mu + np.array([math.lgamma(v + 1) for v in y])).sum() + 0.5 * (
        m @ m + np.trace(S))
    assert float(ex.value) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(ex.grad.numpy(), X.T @ (e - y) + m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ex.hess.numpy(), (X.T * e) @ X + np.eye(3), rtol=1e-12)


@pytest.mark.parametrize("likelihood", ["logistic", "probit"])
def test_glm_quadrature_matches_high_sample_monte_carlo(likelihood):
    """Against 60k NumPy draws (an independent estimator): within 5 Monte Carlo standard
    errors per entry."""
    rng = np.random.default_rng(5)
    n, d = 40, 3
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    P = GLMPotential(X, y, likelihood, prior_precision=0.8)
    q = _q(d, 6, scale=0.8)
    ex = GLMQuadrature(P)(q)
    m, L = q.mean.numpy(), q.chol.numpy()
    S = 60_000
    theta = m + rng.standard_normal((S, d)) @ L.T
    a = theta @ X.T
    z = y * a
    if likelihood == "logistic":
        lv, d1, d2 = -log_expit(z), -y * expit(-z), expit(a) * expit(-a)
    else:
        r = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - log_ndtr(z))
        lv, d1, d2 = -log_ndtr(z), -y * r, r * (z + r)
    V = lv.sum(1) + 0.4 * (theta * theta).sum(1)
    G = d1 @ X + 0.8 * theta
    Hs = np.einsum("sn,ni,nj->sij", d2[:6_000], X, X) + 0.8 * np.eye(d)

    def close(est, samples):
        se = samples.std(0) / math.sqrt(len(samples))
        assert np.all(np.abs(np.asarray(est) - samples.mean(0)) <= 5 * se + 1e-12)

    close(float(ex.value), V)
    close(ex.grad.numpy(), G)
    close(ex.hess.numpy(), Hs)
